"""sampling: seeded points in the real domain, clear of kinks, across scales."""

from __future__ import annotations

import math

import pytest
import sympy as sp

from derivcheck.claims import sampling
from derivcheck.claims.sampling import draw, validate_domain
from derivcheck.errors import DomainError

x, y = sp.symbols("x y", real=True)


def sample_points(exprs, symbols, *, n, seed=0, domain=None):
    """The points of a draw: ``{name: float}`` each, where every expression is real."""
    return draw(exprs, symbols, n=n, seed=seed, domain=domain).points


def test_same_seed_same_points_other_seed_other_points() -> None:
    a = sample_points([sp.sin(x) * y], [x, y], n=10, seed=4)
    b = sample_points([sp.sin(x) * y], [x, y], n=10, seed=4)
    c = sample_points([sp.sin(x) * y], [x, y], n=10, seed=5)
    assert a == b and a != c
    assert all(set(p) == {"x", "y"} for p in a)


def test_points_cover_every_scale_and_sign() -> None:
    pts = [p["x"] for p in sample_points([x], [x], n=24, seed=0)]
    for lo, hi in [(1e-2, 1e-1), (1e-1, 1), (1, 10), (10, 100)]:
        assert any(lo <= v <= hi for v in pts), (lo, hi)
        assert any(-hi <= v <= -lo for v in pts), (-hi, -lo)


@pytest.mark.parametrize("seed", range(10))
def test_large_positive_and_negative_regions_are_reached(seed: int) -> None:
    pts = [p["x"] for p in sample_points([x], [x], n=24, seed=seed)]
    assert any(v > 5 for v in pts)
    assert any(v < -20 for v in pts)


def test_points_are_short_decimals() -> None:
    for p in sample_points([x], [x], n=24, seed=0):
        assert float(f"{p['x']:.3g}") == p["x"]


def test_points_are_in_the_real_domain_of_every_expression() -> None:
    pts = sample_points([sp.log(x), sp.sqrt(1 - x**2)], [x], n=12, seed=0)
    assert len(pts) == 12
    assert all(0 < p["x"] < 1 for p in pts)


def test_points_are_clear_of_kinks() -> None:
    pts = sample_points([sp.Max(x, y), sp.Abs(x - 1)], [x, y], n=30, seed=2)
    for p in pts:
        scale = max(1.0, abs(p["x"]), abs(p["y"]))
        assert abs(p["x"] - p["y"]) / math.sqrt(2) >= sampling.KINK_CLEARANCE * scale
        assert abs(p["x"] - 1) >= sampling.KINK_CLEARANCE * scale


def test_poles_are_rejected() -> None:
    # 0.5 is a three-digit value in this domain: the pole itself must never be kept
    pts = sample_points([1 / (x - sp.Rational(1, 2))], [x], n=40, seed=0,
                        domain={"x": (0.45, 0.55)})
    assert pts and all(p["x"] != 0.5 for p in pts)


def test_narrow_domains_keep_enough_digits() -> None:
    pts = sample_points([x], [x], n=20, seed=0, domain={"x": (1.0001, 1.0002)})
    assert len(pts) == 20 and len({p["x"] for p in pts}) == 20
    assert all(1.0001 < p["x"] < 1.0002 for p in pts)


def test_user_domain_spanning_decades_is_log_sampled() -> None:
    pts = [p["x"] for p in sample_points([x], [x], n=24, seed=0, domain={"x": (1e-3, 1e3)})]
    assert any(v < 1e-1 for v in pts) and any(v > 1e2 for v in pts)


def test_wider_scales_when_the_default_has_no_valid_point() -> None:
    pts = sample_points([sp.sqrt(x - 200)], [x], n=5, seed=0)
    assert len(pts) == 5 and all(p["x"] > 200 for p in pts)


def test_empty_domain_gives_no_points_and_a_reason() -> None:
    out = draw([sp.log(x)], [x], n=5, seed=0, domain={"x": (-2, -1)})
    assert out.points == [] and out.tried > 0
    assert out.reason.startswith("no valid point in")
    assert "x in (-2, -1)" in out.reason and "not real" in out.reason


def test_draw_returns_the_values() -> None:
    out = draw([x**2, sp.exp(x)], [x], n=3, seed=0)
    for p, (sq, ex) in zip(out.points, out.values, strict=True):
        assert float(sq) == pytest.approx(p["x"] ** 2, rel=1e-15)
        assert float(ex) == pytest.approx(math.exp(p["x"]), rel=1e-15)


def test_validate_domain_messages() -> None:
    assert validate_domain(None, [x]) == {}
    assert validate_domain({x: (0, 2)}, [x]) == {"x": (0.0, 2.0)}
    with pytest.raises(DomainError, match=r"`domain` must be a dict \{name: \(lo, hi\)\}"):
        validate_domain([0, 1], [x])  # type: ignore[arg-type]
    with pytest.raises(DomainError, match="`domain` names 'y', which is not a variable"):
        validate_domain({"y": (0, 1)}, [x])
    with pytest.raises(DomainError, match=r"`domain\['x'\]` must be a pair .* got \(1, 0\)"):
        validate_domain({"x": (1, 0)}, [x])
    with pytest.raises(DomainError, match=r"got \(0, nan\)"):
        validate_domain({"x": (0, float("nan"))}, [x])
    with pytest.raises(DomainError, match="got 3"):
        validate_domain({"x": 3}, [x])
    with pytest.raises(DomainError, match=r"got \('a', 'b'\)"):
        validate_domain({"x": ("a", "b")}, [x])
