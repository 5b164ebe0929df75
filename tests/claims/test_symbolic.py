"""symbolic: derivatives, kink sets, proofs, evaluation, equality decisions."""

from __future__ import annotations

import math

import mpmath
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from derivcheck.claims import decide, symbolic
from derivcheck.claims.decide import decide_equal
from derivcheck.claims.symbolic import (
    derivative,
    float_function,
    instantiate,
    kink_set,
    mp_function,
    placeholders,
    prove_zero,
)

x, y, z, n = sp.symbols("x y z n", real=True)
f = sp.Function("f", real=True)
g = sp.Function("g", real=True)


def indicator(cond: sp.Basic) -> sp.Expr:
    return sp.Piecewise((1, cond), (0, True))


# -------------------------------------------------------------------- derivative


def test_derivative_uses_real_symbols() -> None:
    assert derivative(sp.Abs(x), x) == sp.sign(x)
    assert derivative(sp.Max(x, y), x) == sp.Heaviside(x - y)
    assert derivative(3 * (2 * x**2) ** 5, x) == 960 * x**9


# ---------------------------------------------------------------------- kink_set


def test_kink_set_of_each_kink_function() -> None:
    assert kink_set(sp.Max(x, y)) == [x - y]
    assert kink_set(sp.Min(x, 0)) == [x]
    assert kink_set(sp.Abs(y - x)) == [x - y]  # sign and content normalised
    assert kink_set(sp.sign(2 * x - 2)) == [x - 1]
    assert kink_set(sp.Heaviside(x - y)) == [x - y]
    assert kink_set(sp.DiracDelta(x)) == [x]
    assert kink_set(indicator(sp.And(x > 0, y < 1))) == [x, y - 1]
    assert kink_set(sp.exp(x) + x**2) == []


def test_ties_among_three_max_arguments_are_kinks() -> None:
    assert kink_set(sp.Max(x, y, z)) == [x - y, x - z, y - z]


def test_kink_set_finds_nested_kinks() -> None:
    ks = kink_set(sp.exp(sp.Max(sp.Abs(x), y)))
    assert x in ks and any(k.has(sp.Abs) for k in ks)


# -------------------------------------------------------------------- prove_zero


@pytest.mark.parametrize(
    ("difference", "kind", "method"),
    [
        (sp.diff((x + 1) ** 3, x) - 3 * x**2 - 6 * x - 3, "equal", "expand"),
        (sp.Heaviside(x - y) - indicator(x > y), "equal_except_at_kinks",
         "expand after rewriting kinks"),
        (sp.Heaviside(x) - indicator(x >= 0), "equal_except_at_kinks",
         "expand after rewriting kinks"),
        (sp.sign(x) - (indicator(x > 0) - indicator(x < 0)), "equal_except_at_kinks",
         "expand after rewriting kinks"),
        (sp.Heaviside(x - sp.Max(y, z)) - indicator(x > y) * indicator(x > z),
         "equal_except_at_kinks", "expand after rewriting kinks"),
        (sp.Min(x, y) - (y + (x - y) * indicator(x < y)), "equal_except_at_kinks",
         "expand after rewriting kinks"),
        (n * x**n / x - n * x ** (n - 1), "equal", "powsimp"),
        (sp.diff(1 / (1 + sp.exp(-x)), x)
         - 1 / (1 + sp.exp(-x)) * (1 - 1 / (1 + sp.exp(-x))), "equal", "cancel"),
        (sp.diff(sp.sin(x) ** 2, x) - sp.sin(2 * x), "equal", "simplify"),
    ],
)
def test_prove_zero_methods(difference: sp.Expr, kind: str, method: str) -> None:
    assert prove_zero(difference) == (kind, method)


@pytest.mark.parametrize(
    "difference",
    [
        x,
        sp.Heaviside(x) - sp.Heaviside(-x),  # differs on a half-line, not only at a kink
        sp.Max(x, y) - x,
        indicator(x > 5) * 1,
        sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1 + sp.Rational(1, 10**9),
    ],
)
def test_prove_zero_never_proves_a_nonzero(difference: sp.Expr) -> None:
    assert prove_zero(difference) is None


def test_prove_zero_skips_huge_expansions() -> None:
    big = (x + y + z + 1) ** 60  # 39,711 terms expanded: not attempted
    assert symbolic.expand_bounded(big) is None
    assert prove_zero(big - (x + y + z + 2) ** 60) is None
    assert symbolic.expand_bounded((x + 1) ** 5) == sp.expand((x + 1) ** 5)


def test_prove_zero_respects_the_deadline() -> None:
    # a deadline in the past stops everything after the cheap expand
    assert prove_zero(sp.diff(sp.sin(x) ** 2, x) - sp.sin(2 * x), deadline=0.0) is None


_KINKY = [
    sp.Max(x, y), sp.Min(x, 2 * y - 1), sp.Abs(x - y), sp.sign(x) * y, sp.Heaviside(x - 1),
    sp.Max(x, y, 0), sp.Piecewise((x, x < y), (y**2, x < 2), (1, True)),
    indicator(sp.Or(x > 1, y < 0)), indicator(sp.Not(x > y)), sp.Heaviside(y - sp.Min(x, 1)),
    sp.Abs(sp.Max(x, 0) - y),
]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(_KINKY),
    st.floats(-10, 10, allow_nan=False),
    st.floats(-10, 10, allow_nan=False),
)
def test_kink_rewrite_changes_values_only_at_kinks(e: sp.Expr, xv: float, yv: float) -> None:
    # independent oracle: the original expression, evaluated by SymPy itself
    point = {x: sp.Float(xv), y: sp.Float(yv)}
    if any(abs(float(k.subs(point))) < 1e-9 for k in kink_set(e)):
        return
    normal = symbolic.normalise_kinks(e)
    assert float(normal.subs(point)) == pytest.approx(float(e.subs(point)), abs=1e-12)


# ---------------------------------------------------------------- placeholders


def test_placeholders_and_instantiation() -> None:
    rule = sp.diff(f(g(x)), x)
    assert [str(p) for p in placeholders(rule)] == ["f", "g"]
    sin_index = [name for name, _ in symbolic.INSTANTIATIONS].index("sin")
    exp_index = [name for name, _ in symbolic.INSTANTIATIONS].index("exp")
    assert instantiate(rule, {f: sin_index, g: exp_index}) == sp.exp(x) * sp.cos(sp.exp(x))
    # f'(g(x)) as the parser writes it: Derivative(f(g(x)), g(x))
    assert instantiate(sp.Derivative(f(g(x)), g(x)), {f: sin_index, g: exp_index}) == sp.cos(
        sp.exp(x)
    )


def test_instantiating_two_argument_placeholders() -> None:
    h = sp.Function("h", real=True)
    out = instantiate(h(x, y), {h: 0})
    assert out == sp.sin(x + 2 * y)


# ------------------------------------------------------------------- evaluation


def test_mp_function_handles_kink_functions() -> None:
    fn = mp_function(
        [sp.Heaviside(x), sp.DiracDelta(x - 1), sp.sign(x), sp.Max(x, y), indicator(x > y)],
        [x, y],
    )
    with mpmath.workdps(30):
        vals = fn(mpmath.mpf(0), mpmath.mpf(2))
        assert [float(v) for v in vals] == [0.5, 0.0, 0.0, 2.0, 0.0]
        vals = fn(mpmath.mpf(3), mpmath.mpf(2))
        assert [float(v) for v in vals] == [1.0, 0.0, 1.0, 3.0, 1.0]


def test_mp_function_is_high_precision() -> None:
    fn = mp_function([sp.exp(x) - 1 - x], [x])
    with mpmath.workdps(30):
        v = fn(mpmath.mpf("1e-10"))[0]
    assert v == pytest.approx(5e-21, rel=1e-9)  # float64 would give about 0 or 8e-17


def test_mp_function_off_the_real_domain() -> None:
    fn = mp_function([sp.log(x)], [x])
    with mpmath.workdps(30):
        assert symbolic.to_real(fn(mpmath.mpf(-1))[0]) is None
        assert symbolic.to_real(fn(mpmath.mpf(1))[0]) == 0


def test_placeholders_cannot_be_evaluated() -> None:
    with pytest.raises(ValueError, match="placeholders"):
        mp_function([f(x)], [x])


def test_cse_is_not_used_on_piecewise() -> None:
    # SymPy's cse rebuilds this as the constant 1; the value at x < 0 must be 0
    e = sp.Heaviside(sp.Piecewise((sp.pi, x > 0), (sp.pi * x, True)))
    assert float_function(e, [x])(-0.5) == 0
    with mpmath.workdps(30):
        assert mp_function([e], [x])(mpmath.mpf(-0.5))[0] == 0


@settings(max_examples=30, deadline=None)
@given(st.floats(0.01, 50), st.floats(-5, 5))
def test_float_and_mp_functions_agree(xv: float, yv: float) -> None:
    e = sp.log(x) * sp.Max(y, 0) + sp.atan(x * y) / (1 + x**2)
    fl = float_function(e, [x, y])(xv, yv)
    with mpmath.workdps(30):
        mp = float(mp_function([e], [x, y])(mpmath.mpf(xv), mpmath.mpf(yv))[0])
    assert math.isclose(fl, mp, rel_tol=1e-13, abs_tol=1e-13)


# ------------------------------------------------------------------ decide_equal


def test_decide_equal_outcomes() -> None:
    assert decide_equal(2 * x, 2 * x, [x]).kind == "equal"
    out = decide_equal(sp.Heaviside(x - y), indicator(x > y), [x, y])
    assert out.kind == "equal_except_at_kinks" and out.proven
    out = decide_equal(sp.Heaviside(x), sp.Integer(1), [x])
    assert out.kind == "different" and out.witness is not None and out.witness["x"] < 0
    assert out.witness_values is not None
    assert float(out.witness_values[0]) == 0.0 and float(out.witness_values[1]) == 1.0


def test_decide_equal_without_proof_samples_many_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(symbolic, "prove_zero", lambda *a, **k: None)
    out = decide_equal(sp.sin(2 * x), 2 * sp.sin(x) * sp.cos(x), [x], n_points=20)
    assert out.kind == "equal" and not out.proven
    assert len(out.points) == 20 and len(out.values) == 20


def test_decide_equal_refutes_near_misses() -> None:
    assert decide_equal(2 * x, 2 * x + sp.Rational(1, 10**9), [x]).kind == "different"
    assert decide_equal(2 * x, 2 * x + sp.Float("1e-9"), [x]).kind == "different"
    assert decide_equal(sp.exp(x), sp.exp(x) * (1 + sp.Rational(1, 10**15)), [x]).kind == (
        "different"
    )


def test_decide_equal_undecided_without_points() -> None:
    out = decide_equal(sp.log(x), 2 * sp.log(x), [x], domain={"x": (-2, -1)})
    assert out.kind == "undecided"
    assert "no valid point" in out.reason


def test_decide_equal_catches_cancellation_free_differences_at_large_scale() -> None:
    # differ only where x > 50: the stratified sampler reaches that scale
    claim = sp.Piecewise((x, x < 50), (x + 1, True))
    assert decide_equal(x, claim, [x]).kind == "different"


def test_values_differ_tolerances() -> None:
    with mpmath.workdps(30):
        a = mpmath.mpf(2)
        assert not decide.values_differ(a, a + mpmath.mpf("1e-25"), inexact=False)
        assert decide.values_differ(a, a + mpmath.mpf("1e-15"), inexact=False)
        assert not decide.values_differ(a, a + mpmath.mpf("1e-15"), inexact=True)
        assert decide.values_differ(a, a + mpmath.mpf("1e-9"), inexact=True)


def test_sampled_values_outrank_a_wrong_proof(monkeypatch: pytest.MonkeyPatch) -> None:
    # a (hypothetical) bug that "proves" 2*x == 2*x + 1 must not survive the sampled values
    monkeypatch.setattr(symbolic, "prove_zero", lambda *a, **k: ("equal", "expand"))
    out = decide_equal(2 * x, 2 * x + 1, [x])
    assert out.kind == "different" and not out.proven
