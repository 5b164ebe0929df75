"""No false claim is ever ok: claims from physics tables, ML cheat sheets and answer
keys that earlier versions confirmed, each checked against an independent oracle.

The oracle is mpmath at 50 digits on functions written here by hand (not parsed by
derivcheck): it shows that each claim is false at the counterexample derivcheck
reports, and true claims beside them stay ok.
"""

from __future__ import annotations

import mpmath
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import derivcheck as dc
from derivcheck import strategies as dcst
from derivcheck.claims import symbolic

SEEDS = range(10)


def step(condition: bool) -> int:
    return 1 if condition else 0


# text, the function f, the claimed derivative, both as mpmath code written by hand
FALSE_CLAIMS = [
    # the 3/2 forgotten: a derivative of size 1e-23 is compared as carefully as one of size 1
    ("d/dT (3/2)*1.380649e-23*T = 1.380649e-23",
     lambda t: mpmath.mpf(3) / 2 * mpmath.mpf("1.380649e-23") * t,
     lambda t: mpmath.mpf("1.380649e-23")),
    # a sign lost on a tiny value
    ("d/dλ 6.62607015e-34*299792458/λ = 6.62607015e-34*299792458/λ^2",
     lambda t: mpmath.mpf("6.62607015e-34") * 299792458 / t,
     lambda t: mpmath.mpf("6.62607015e-34") * 299792458 / t**2),
    # conditions whose switch lies far outside the default scales
    ("d/dx x^2 = 2x*1(abs(x) < 1000)",
     lambda t: t**2, lambda t: 2 * t * step(abs(t) < 1000)),
    ("d/dx e^x = e^x*1(x < 800)",
     mpmath.exp, lambda t: mpmath.exp(t) * step(t < 800)),
    ("d/dx softplus(x) = Piecewise((sigmoid(x), x < 710), (0, True))",
     lambda t: mpmath.log(1 + mpmath.exp(t)),
     lambda t: 1 / (1 + mpmath.exp(-t)) if t < 710 else mpmath.mpf(0)),
    ("d/dx tanh(x) = (1 - tanh(x)^2)*1(abs(x) < 20)",
     mpmath.tanh, lambda t: (1 - mpmath.tanh(t) ** 2) * step(abs(t) < 20)),
    ("d/dx x^3 = 3x^2*1(x^2 < 4e6)",
     lambda t: t**3, lambda t: 3 * t**2 * step(t**2 < 4_000_000)),
    # false only for 1/sqrt(2) < |x| < 1
    ("d/dx asin(2x*sqrt(1 - x^2)) = 2/sqrt(1 - x^2)",
     lambda t: mpmath.asin(2 * t * mpmath.sqrt(1 - t**2)),
     lambda t: 2 / mpmath.sqrt(1 - t**2)),
]  # fmt: skip


def _oracle_says_false(f, claim, point: float) -> bool:
    with mpmath.workdps(50):
        t = mpmath.mpf(point)
        truth = mpmath.diff(f, t)
        claimed = claim(t)
        return abs(truth - claimed) > mpmath.mpf("1e-30") * max(abs(truth), abs(claimed))


@pytest.mark.parametrize(("text", "f", "claim"), FALSE_CLAIMS, ids=[c[0] for c in FALSE_CLAIMS])
def test_false_claim_is_refuted_for_every_seed_at_a_true_counterexample(text, f, claim):
    for seed in SEEDS:
        report = dc.check_claim(text, seed=seed)
        assert report.verdict is dc.Verdict.REFUTED, (seed, str(report))
        assert not report
        (point,) = report.counterexample.values()
        assert _oracle_says_false(f, claim, point), (seed, point)


TRUE_TWINS = [
    "d/dT (3/2)*1.380649e-23*T = 2.0709735e-23",
    "d/dλ 6.62607015e-34*299792458/λ = -6.62607015e-34*299792458/λ^2",
    "d/dx e^x*1(x < 800) = e^x*1(x < 800)",
    "d/dx tanh(x) = 1 - tanh(x)^2",
    "d/dx softplus(x) = sigmoid(x)",
]


@pytest.mark.parametrize("text", TRUE_TWINS)
def test_the_true_twins_stay_ok(text):
    for seed in SEEDS:
        report = dc.check_claim(text, seed=seed)
        assert report.ok, (seed, str(report))


@pytest.fixture
def no_proofs(monkeypatch):
    """Force the sampling path: the verdict then rests on the point comparison alone."""
    monkeypatch.setattr(symbolic, "prove_zero", lambda *a, **k: None)


@pytest.mark.parametrize("scale", ["1e-23", "1e-300", "1", "1e40"])
def test_tiny_and_huge_derivatives_are_compared_relatively(no_proofs, scale):
    true = dc.check_derivative(f"{scale}*sin(x)^2", f"{scale}*sin(2x)", "x")
    assert true.verdict is dc.Verdict.CONFIRMED, str(true)
    near_miss = dc.check_derivative(f"{scale}*sin(x)^2", f"{scale}*sin(2x)*(1 + 1e-9)", "x")
    assert near_miss.verdict is dc.Verdict.REFUTED, str(near_miss)


def test_cancellation_to_zero_is_not_a_difference(no_proofs):
    # SymPy's derivative of sin^2 + cos^2 is 2 sin cos - 2 sin cos: 0 up to rounding
    report = dc.check_derivative("sin(x)^2 + cos(x)^2", "0", "x")
    assert report.ok, str(report)


def test_points_that_cannot_show_a_difference_do_not_confirm(no_proofs):
    # 1 - tanh(x)^2 cancels below 30 digits for x > 36: nothing is seen there, for the
    # true claim as for one off by 1e-9
    for claimed in ("1 - tanh(x)^2", "(1 - tanh(x)^2)*(1 + 1e-9)"):
        report = dc.check_derivative("tanh(x)", claimed, "x", domain={"x": (60, 100)})
        assert report.verdict is dc.Verdict.INCONCLUSIVE, str(report)
        assert "could show a difference" in str(report)


def test_confirmed_says_what_was_compared(no_proofs):
    report = dc.check_derivative("sin(x)^2", "sin(2x)", "x")
    assert report.verdict is dc.Verdict.CONFIRMED
    text = str(report)
    assert "evaluated to 30 digits and again to 60, agree to a relative 1e-20" in text
    assert f"at {report.points_checked} points" in text or "points" in text


def test_a_value_beyond_float64_is_shown_not_inf():
    report = dc.check_claim("d/dx e^x = e^x*1(x < 800)")
    assert "inf" not in str(report)
    assert "e+" in report.to_dict()["expected_value"]


@settings(max_examples=30, deadline=None, database=None, derandomize=True)
@given(dcst.derivative_pairs(("x",), max_leaves=5), st.sampled_from(["1e-23", "1", "1e12"]))
def test_random_true_claims_stay_ok_and_perturbed_ones_are_never_ok(pair, scale):
    expr, derivative, var = pair
    factor = sympy.Rational(scale)
    good = dc.check_derivative(factor * expr, factor * derivative, var)
    assert good.verdict is not dc.Verdict.REFUTED, str(good)
    bad = dc.check_derivative(
        factor * expr, factor * derivative * (1 + sympy.Rational(1, 10**9)), var
    )
    if derivative != 0:
        assert not bad.ok, str(bad)
    beyond = dc.check_derivative(
        factor * expr,
        factor * derivative + sympy.Piecewise((factor / 10**9, var > 1000), (0, True)),
        var,
    )
    assert not beyond.ok, str(beyond)
