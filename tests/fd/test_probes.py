"""The second probe direction, a quarter turn of the first (``fd.probes.quarter_turn``).

Two probes along ``d`` and ``R d`` must miss a wrong gradient exactly as often as two
probes along independent Gaussian directions.  Checked here on the turn itself (a
signed permutation without fixed points, so ``R d`` is standard Gaussian) and on the
probe statistics ``e.d`` and ``e.Rd`` by simulation, beside a derived direction that
fails the same test (random sign flips keep every ``|d_i|``, so a single wrong entry
hidden by a small ``|d_i|`` stays hidden).
"""

from __future__ import annotations

import numpy as np
import pytest

from derivcheck import _scratch as scratch
from derivcheck.fd.probes import quarter_turn


def turned(d: np.ndarray, seed: int = 0) -> np.ndarray:
    out = d.copy()
    quarter_turn(out, np.random.default_rng(seed))
    return out


@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, scratch.CHUNK + 3, 2 * scratch.CHUNK])
def test_the_turn_is_a_signed_permutation_without_fixed_points(n):
    d = np.arange(1.0, n + 1.0)  # distinct entries: where each went is readable
    r = turned(d)
    m = n // 2 * 2
    np.testing.assert_array_equal(r[0:m:2], d[1:m:2])
    np.testing.assert_array_equal(r[1:m:2], -d[0:m:2])
    if n % 2:  # the odd last entry is drawn afresh, not kept
        assert r[-1] != d[-1]
        assert np.isfinite(r[-1])


def test_turning_twice_flips_the_sign():
    d = np.random.default_rng(1).standard_normal(1001)
    r2 = turned(turned(d))
    np.testing.assert_array_equal(r2[:1000], -d[:1000])


def test_the_turned_direction_is_orthogonal_to_the_first():
    d = np.random.default_rng(2).standard_normal(100_000)
    r = turned(d)
    assert abs(float(np.dot(d, r))) <= 1e-12 * float(np.dot(d, d))
    assert float(np.dot(r, r)) == pytest.approx(float(np.dot(d, d)), rel=1e-15)


def _both_miss(e: np.ndarray, second, trials: int = 20_000, c: float = 0.385):
    """How often |e.d| and |e.d2| are both below c |e| (each alone: about 0.3)."""
    rng = np.random.default_rng(3)
    norm = float(np.linalg.norm(e))
    both = 0
    s1, s2 = np.empty(trials), np.empty(trials)
    for k in range(trials):
        d = rng.standard_normal(e.size)
        d2 = second(d, rng)
        s1[k], s2[k] = e @ d / norm, e @ d2 / norm
        both += abs(s1[k]) < c and abs(s2[k]) < c
    return both / trials, float(np.corrcoef(np.abs(s1), np.abs(s2))[0, 1])


def _signs(d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return d * rng.choice([-1.0, 1.0], size=d.size)


def _turn(d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = d.copy()
    quarter_turn(out, rng)
    return out


def _fresh(d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(d.size)


ERRORS = {  # a wrong gradient minus the right one
    "one entry": np.eye(1, 9, 4)[0],
    "the two entries of a pair": np.array([0, 0, 0, 0, 1.0, -2.0, 0, 0, 0]),
    "the odd last entry": np.eye(1, 9, 8)[0],
    "every entry": np.linspace(-1.0, 2.0, 9),
}


@pytest.mark.parametrize("name", ERRORS)
def test_two_probes_along_d_and_its_turn_miss_as_often_as_two_fresh_ones(name):
    e = ERRORS[name]
    p_fresh, _ = _both_miss(e, _fresh)
    p_turn, corr = _both_miss(e, _turn)
    # P(|Z| < 0.385)^2 = 0.09; the binomial spread over 20,000 trials is 0.002
    assert p_fresh == pytest.approx(0.09, abs=0.01)
    assert p_turn == pytest.approx(0.09, abs=0.01)
    assert abs(corr) < 0.03  # the magnitudes, not only the signs, are unrelated


def test_a_direction_derived_by_sign_flips_fails_the_same_test():
    p_signs, corr = _both_miss(ERRORS["one entry"], _signs)
    assert p_signs == pytest.approx(0.3, abs=0.02)  # one miss is both misses
    assert corr > 0.99
