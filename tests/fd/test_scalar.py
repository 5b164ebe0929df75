"""Tests for derivcheck.numeric: the scalar finite-difference engine.

The oracle is SymPy: exact derivatives evaluated at 50 digits at the binary
value of each point, never the engine's own arithmetic.
"""

from __future__ import annotations

import cmath
import dataclasses
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from derivcheck.errors import InputError
from derivcheck.fd import scalar as numeric
from derivcheck.fd import steps
from derivcheck.numeric import EPS_FLOAT32, Estimate, derivative

x = sp.Symbol("x", real=True)
POLE = sp.Rational(1025, 1024)  # exactly representable, so f and the oracle agree


def exact(expr: sp.Expr, point: float) -> float:
    """f'(point) from SymPy at 50 digits (the oracle)."""
    return float(sp.diff(expr, x).evalf(50, subs={x: sp.Float(point, 60)}))


def slope_scale(f: Callable[[float], float], point: float, d: float) -> float:
    """The yardstick for 'small error' where f'(x) may be 0 or tiny."""
    scale = max(abs(d), abs(f(point)) / max(1.0, abs(point)))
    return scale if scale > 0.0 else 1e-6  # f = f' = 0 at x: an absolute yardstick


def assert_honest(est: Estimate, truth: float, rel: float, scale: float) -> None:
    """The estimate covers the true error (at 10x) and claims an error <= rel * scale."""
    assert abs(est.value - truth) <= max(10.0 * est.error, 1e-300), (est, truth)
    assert est.error <= rel * scale, (est, truth)


class Counted:
    """Count evaluations of f."""

    def __init__(self, f: Callable[[Any], Any]) -> None:
        self.f = f
        self.calls = 0

    def __call__(self, t: Any) -> Any:
        self.calls += 1
        return self.f(t)


# (expression, points): smooth functions, including hard scales.
SMOOTH_CASES = [
    (x**2, [1.3, -2.7, 10.0]),
    (5 * x**5 + 4 * x**3 - 5, [0.7, -1.9, 3.0]),
    (x**3, [0.0, 2.0]),
    (sp.exp(x), [1e-3, 2.5, -20.0, 30.0]),
    (sp.log(x), [1e-3, 0.5, 7.0, 1e-8]),
    (sp.sin(x), [0.5, 100.0, 1e4]),
    (sp.cos(x), [0.0, 1.0, 1e4]),
    (1 / (1 + sp.exp(-x)), [-30.0, 0.3, 5.0]),
    (x**x, [0.5, 2.0, 3.0]),
    (sp.sqrt(x), [1e-4, 2.0, 1e6]),
    (1 / (x - POLE), [1.0, 0.99, 1.002]),
    ((x**2 + 1) / (x**2 - 4), [1.99, 2.01, 0.5]),
    (sp.sin(sp.exp(x)), [0.5, 2.0]),
    (sp.exp(sp.sin(x)) * sp.log(1 + x**2), [0.7, -1.2]),
    (sp.tanh(x), [0.5, 3.0, -8.0]),
    (sp.atan(x), [1e3, 1.0, -50.0]),
    (x * sp.sin(1 / x), [0.1, 0.5]),
    (sp.sin(100 * x), [0.3, -2.1]),
    (sp.asin(x), [0.999, 0.5]),
    (sp.log(1 + sp.exp(x)), [0.0, 20.0]),
    (sp.tan(x), [1.5, 0.3]),
]


@pytest.mark.parametrize(
    ("expr", "point"),
    [(e, p) for e, points in SMOOTH_CASES for p in points],
    ids=lambda v: str(v),
)
def test_matches_sympy_on_smooth_functions(expr: sp.Expr, point: float) -> None:
    f = sp.lambdify(x, expr, modules="math")
    truth = exact(expr, point)
    est = derivative(f, point)
    assert_honest(est, truth, 1e-8, slope_scale(f, point, truth))
    assert not est.kink
    assert est.status in ("ok", "inaccurate")  # inaccurate: tanh(-8), f' ~ 1e-7 |f|
    assert est.method == "central"
    assert (point + est.step) - point == est.step  # representable


def test_median_accuracy_on_the_smooth_cases() -> None:
    # Not just "covered": typically accurate to ~1e-13 (bench/numeric.py measures it).
    errors = []
    for expr, points in SMOOTH_CASES:
        f = sp.lambdify(x, expr, modules="math")
        for p in points:
            truth = exact(expr, p)
            if truth != 0.0:
                errors.append(abs(derivative(f, p).value - truth) / abs(truth))
    assert float(np.median(errors)) <= 1e-12


def _sigmoid(t: float) -> float:
    return 1.0 / (1.0 + math.exp(-t))


# name -> (math function, sympy expression, range of points)
RANDOM_CASES: dict[str, tuple[Callable[[float], float], sp.Expr, tuple[float, float]]] = {
    "sin": (math.sin, sp.sin(x), (-50.0, 50.0)),
    "exp": (math.exp, sp.exp(x), (-30.0, 30.0)),
    "log": (math.log, sp.log(x), (1e-3, 1e3)),
    "sigmoid": (_sigmoid, 1 / (1 + sp.exp(-x)), (-30.0, 8.0)),
    "x^x": (lambda t: t**t, x**x, (0.05, 5.0)),
    "tanh": (math.tanh, sp.tanh(x), (-5.0, 5.0)),
    "atan": (math.atan, sp.atan(x), (-1e3, 1e3)),
    "rational": (lambda t: (t * t + 1) / (t * t - 4), (x**2 + 1) / (x**2 - 4), (-1.9, 1.9)),
}
_MPMATH_DERIVATIVES: dict[str, Callable[..., Any]] = {}


def _exact_fast(name: str, point: float) -> float:
    import mpmath

    if name not in _MPMATH_DERIVATIVES:
        _MPMATH_DERIVATIVES[name] = sp.lambdify(x, sp.diff(RANDOM_CASES[name][1], x), "mpmath")
    with mpmath.workdps(50):
        return float(_MPMATH_DERIVATIVES[name](mpmath.mpf(point)))


@st.composite
def case_and_point(draw: st.DrawFn) -> tuple[str, float]:
    name = draw(st.sampled_from(sorted(RANDOM_CASES)))
    lo, hi = RANDOM_CASES[name][2]
    return name, draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(case_and_point())
def test_random_points_against_sympy(case: tuple[str, float]) -> None:
    name, point = case
    f = RANDOM_CASES[name][0]
    truth = _exact_fast(name, point)
    est = derivative(f, point)
    assert_honest(est, truth, 1e-8, slope_scale(f, point, truth))
    assert not est.kink


# ---------------------------------------------------------------- kinks


@pytest.mark.parametrize(
    ("f", "point", "left", "right"),
    [
        (abs, 0.0, -1.0, 1.0),
        (lambda t: max(t, 0.0), 0.0, 0.0, 1.0),
        (lambda t: max(t, 1.0), 1.0, 0.0, 1.0),
        (lambda t: abs(t - 0.1), 0.1, -1.0, 1.0),
        (lambda t: max(t * t, t), 1.0, 1.0, 2.0),  # curvature differs on the sides
        (lambda t: abs(t**3 - 1.0), 1.0, -3.0, 3.0),
        (lambda t: max(math.sin(t), 0.0), 0.0, 0.0, 1.0),
    ],
    ids=["abs", "relu", "max(x,1)", "abs(x-0.1)", "max(x^2,x)", "abs(x^3-1)", "relu(sin)"],
)
def test_kinks_are_detected(
    f: Callable[[float], float], point: float, left: float, right: float
) -> None:
    est = derivative(f, point)
    assert est.kink
    assert est.status == "kink"
    assert est.left == pytest.approx(left, abs=1e-4)
    assert est.right == pytest.approx(right, abs=1e-4)
    assert est.value == pytest.approx(0.5 * (left + right), abs=1e-4)
    # The error covers both one-sided slopes: whichever convention is right.
    assert abs(est.value - left) <= est.error
    assert abs(est.value - right) <= est.error
    assert est.nfev <= 11


@pytest.mark.parametrize(
    ("f", "point"),
    [
        (lambda t: t**3, 0.0),
        (math.sin, 0.0),
        (math.sin, 1e4),
        (math.exp, 30.0),
        (math.exp, 700.0),
        (_sigmoid, 30.0),
        (_sigmoid, -30.0),
        (math.cos, 0.0),
        (lambda t: t * abs(t), 0.0),  # C1 at 0: no kink
        (lambda t: max(t, 0.0), 1e-3),  # near, but not at, the kink
        (lambda t: max(t, 0.0), -1e-3),
    ],
)
def test_no_kink_for_smooth_functions(f: Callable[[float], float], point: float) -> None:
    assert not derivative(f, point).kink


def test_near_kink_value_is_the_one_sided_slope() -> None:
    assert derivative(lambda t: max(t, 0.0), 1e-3).value == pytest.approx(1.0, abs=1e-12)
    assert derivative(lambda t: max(t, 0.0), -1e-3).value == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.floats(-3.0, 3.0), st.integers(0, 3))
def test_no_false_kinks_on_smooth_functions(point: float, which: int) -> None:
    f = [math.sin, math.exp, lambda t: math.sin(100.0 * t), lambda t: t**5 - 3.0 * t][which]
    assert not derivative(f, point).kink


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    st.floats(0.1, 10.0),
    st.sampled_from([-1.0, 1.0]),
    st.floats(-3.0, 3.0),
    st.floats(-12.0, -1.0),
    st.sampled_from([-1.0, 1.0]),
)
def test_near_a_kink_the_error_stays_honest(
    size: float, sign: float, kink: float, log_distance: float, side: float
) -> None:
    # f = a|t - c| + sin t at x = c + d: differentiable, but a kink lies within
    # reach of the first steps.  Either the steps shrink past it, or the kink is
    # reported with an error that covers the true slope.
    a = sign * size
    point = kink + side * 10.0**log_distance
    if point == kink:
        return
    truth = (a if point > kink else -a) + math.cos(point)
    est = derivative(lambda t: a * abs(t - kink) + math.sin(t), point)
    assert abs(est.value - truth) <= 10.0 * est.error, (est, truth)


# ------------------------------------------------- undefined on one side


@pytest.mark.parametrize(
    ("f", "expr", "point"),
    [
        (math.log, sp.log(x), 1e-3),  # math domain error left of 0
        (math.log, sp.log(x), 1e-10),
        (math.sqrt, sp.sqrt(x), 1e-4),
        (math.sqrt, sp.sqrt(x), 1e-12),
        (lambda t: t**0.5, sp.sqrt(x), 1e-4),  # complex result left of 0
        (lambda t: float(np.log(t)), sp.log(x), 1e-3),  # nan (with a warning) left of 0
        (lambda t: math.sqrt(1.0 - t * t), sp.sqrt(1 - x**2), 0.9999),
    ],
)
def test_shrinks_the_step_where_f_is_undefined(
    f: Callable[[float], float], expr: sp.Expr, point: float
) -> None:
    truth = exact(expr, point)
    with np.errstate(all="ignore"):
        est = derivative(f, point)
    assert_honest(est, truth, 1e-8, abs(truth))


@pytest.mark.parametrize(
    "f",
    [
        lambda t: math.nan,
        lambda t: math.inf,
        lambda t: 1.0 / t,  # ZeroDivisionError at x = 0
        lambda t: math.log(t),  # defined only right of x = 0, and not at 0
        math.sqrt,  # defined at 0 but only on one side
    ],
)
def test_nothing_works_gives_nan_and_inf(f: Callable[[float], float]) -> None:
    est = derivative(f, 0.0)
    assert math.isnan(est.value)
    assert est.error == math.inf
    assert est.status == "failed"
    assert not est.kink


def test_bugs_in_f_propagate() -> None:
    def broken(t: float) -> float:
        raise KeyError("a bug, not a domain error")

    with pytest.raises(KeyError):
        derivative(broken, 1.0)
    with pytest.raises(TypeError):
        derivative(lambda t: t + "1", 1.0)


@pytest.mark.parametrize("step", [None, 1e-3, 1e-7, 1e-12])
@pytest.mark.parametrize(
    ("f", "point", "truth"),
    [
        # f rounds an internal quantity coarser than its own ulp
        (lambda t: math.log(1.0 + math.exp(t)), -20.0, 1.0 / (1.0 + math.exp(20.0))),
        (lambda t: (t + 1000.0) - 1000.0, 0.3, 1.0),
        (lambda t: math.log(1.0 + t), 1e-3, 1.0 / (1.0 + 1e-3)),
        (lambda t: math.exp(t) - 1.0, 1e-8, math.exp(1e-8)),
        (lambda t: math.sin(100.0 * t), 2.5, 100.0 * math.cos(250.0)),
    ],
    ids=["softplus(-20)", "(t+1e3)-1e3", "log(1+t)", "expm1 by hand", "sin(100t)"],
)
def test_internal_rounding_stays_honest(
    f: Callable[[float], float], point: float, truth: float, step: float | None
) -> None:
    est = derivative(f, point, step=step)
    assert abs(est.value - truth) <= 10.0 * est.error, est


def test_flat_at_a_tiny_given_step_falls_back_to_the_default() -> None:
    # 1 + exp(-20) varies by 2e-18 over 1e-9: below its ulp, f looks constant
    est = derivative(lambda t: math.log(1.0 + math.exp(t)), -20.0, step=1e-9)
    assert est.value == pytest.approx(1.0 / (1.0 + math.exp(20.0)), rel=1e-5)
    # a truly constant f is still 0, with a small error
    est = derivative(lambda t: 5.0, 1.0, step=1e-9)
    assert est.value == 0.0 and est.error < 1e-10


def test_constant_on_a_tiny_domain() -> None:
    # defined (and constant) only within 1e-6 of x: the steps shrink into it
    def f(t: float) -> float:
        return 1.0 if abs(t) < 1e-6 else math.nan

    for step in (None, 1e-9):
        est = derivative(f, 0.0, step=step)
        assert est.value == 0.0 and est.error < 1e-7 and est.status == "ok"


def test_unresolvable_function_has_infinite_error() -> None:
    # Above 2**53 * 2*pi the floats are farther apart than sin's period.
    est = derivative(math.sin, 1e20)
    assert est.error == math.inf
    assert est.status == "inaccurate"


def test_status() -> None:
    assert derivative(math.sin, 1.0).status == "ok"
    assert derivative(abs, 0.0).status == "kink"
    assert derivative(math.log, 0.0).status == "failed"
    # f = 1 - 9.4e-14: f' is resolved to a few digits only, and says so
    est = derivative(_sigmoid, 30.0)
    assert est.status == "inaccurate" and est.error > 1e-6 * abs(est.value)


def test_zero_derivative() -> None:
    est = derivative(lambda t: 5.0, 1.0)
    assert est.value == 0.0 and est.status == "ok" and est.error < 1e-10
    est = derivative(math.cos, 0.0)
    assert abs(est.value) <= 10.0 * est.error < 1e-10


# ------------------------------------------------------------- float32


F32 = np.float32
FLOAT32_CASES = [
    (lambda t: F32(np.sin(F32(t))), sp.sin(x), (-5.0, 5.0)),
    (lambda t: F32(np.exp(F32(t))), sp.exp(x), (-5.0, 5.0)),
    (lambda t: F32(np.tanh(F32(t))), sp.tanh(x), (-3.0, 3.0)),
    (lambda t: F32(np.log(F32(t))), sp.log(x), (0.05, 50.0)),
    (lambda t: F32(F32(t) ** 3 - F32(2) * F32(t)), x**3 - 2 * x, (-3.0, 3.0)),
    (lambda t: F32(1) / (F32(1) + np.exp(-F32(t))), 1 / (1 + sp.exp(-x)), (-8.0, 8.0)),
]


@pytest.mark.parametrize("case", range(len(FLOAT32_CASES)))
def test_float32_functions(case: int) -> None:
    f, expr, (lo, hi) = FLOAT32_CASES[case]
    derivative_of = sp.lambdify(x, sp.diff(expr, x), "math")
    rng = np.random.default_rng(0)
    for point in rng.uniform(lo, hi, 40):
        point = float(point)
        truth = derivative_of(point)
        with np.errstate(all="ignore"):
            est = derivative(f, point, eps=EPS_FLOAT32)
        scale = max(abs(truth), abs(float(f(point))) / max(1.0, abs(point)))
        assert abs(est.value - truth) <= 10.0 * est.error, (point, est, truth)
        assert abs(est.value - truth) <= 1e-3 * scale, (point, est, truth)
        assert est.error <= 1e-2 * scale, (point, est, truth)
        assert not est.kink


def test_float32_relu_kink() -> None:
    est = derivative(lambda t: np.maximum(F32(t), F32(0)), 0.0, eps=EPS_FLOAT32)
    assert est.kink
    assert est.left == pytest.approx(0.0, abs=1e-3)
    assert est.right == pytest.approx(1.0, abs=1e-3)


def test_float32_eps_widens_the_step() -> None:
    f = math.sin
    assert derivative(f, 0.5, eps=EPS_FLOAT32).step > 10 * derivative(f, 0.5).step


# -------------------------------------------------------- complex step


@pytest.mark.parametrize(
    ("f", "expr", "point"),
    [
        (cmath.sin, sp.sin(x), 0.7),
        (np.exp, sp.exp(x), 3.0),
        (lambda z: z**3 - 2 * z, x**3 - 2 * x, 1.5),
        (lambda z: 1 / (1 + cmath.exp(-z)), 1 / (1 + sp.exp(-x)), -4.0),
        (lambda z: z**3, x**3, 0.0),  # f'(0) = 0: the truncation check covers it
    ],
)
def test_complex_step(f: Callable[[Any], Any], expr: sp.Expr, point: float) -> None:
    truth = exact(expr, point)
    est = derivative(f, point, complex_step=True)
    assert est.method == "complex"
    assert est.nfev == 2
    assert abs(est.value - truth) <= max(10.0 * est.error, 1e-300)
    assert abs(est.value - truth) <= 4 * numeric.EPS_FLOAT64 * max(abs(truth), 1e-40)


def test_complex_step_falls_back_when_f_rejects_complex() -> None:
    est = derivative(math.sin, 0.7, complex_step=True)  # TypeError on complex input
    assert est.method == "central"
    assert abs(est.value - math.cos(0.7)) <= 10 * est.error
    # abs() of a complex number is real: not analytic, so central differences
    est = derivative(abs, 0.0, complex_step=True)
    assert est.method == "central" and est.kink


def test_complex_step_float32() -> None:
    f = lambda z: np.complex64(np.sin(np.complex64(z)))  # noqa: E731
    est = derivative(f, 0.7, complex_step=True, eps=EPS_FLOAT32)
    assert est.method == "complex"
    assert abs(est.value - math.cos(0.7)) <= min(10 * est.error, 1e-6)


# ------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"f": 3}, "`f` must be callable, got int."),
        ({"x": math.nan}, "`x` must be a finite float"),
        ({"x": -math.inf}, "`x` must be a finite float"),
        ({"x": "1.0"}, "`x` must be a finite float"),
        ({"x": True}, "`x` must be a finite float"),
        ({"x": 1 + 2j}, "`x` must be a finite float"),
        ({"x": np.array([1.0, 2.0])}, "`x` must be a finite float"),
        ({"step": 0.0}, "`step` must be a positive finite float"),
        ({"step": -1e-3}, "`step` must be a positive finite float"),
        ({"step": math.inf}, "`step` must be a positive finite float"),
        ({"step": math.nan}, "`step` must be a positive finite float"),
        ({"step": "1e-3"}, "`step` must be a positive finite float"),
        ({"eps": 0.0}, "`eps` must be a finite float with 0 < eps < 1"),
        ({"eps": 1.0}, "`eps` must be a finite float with 0 < eps < 1"),
        ({"eps": math.nan}, "`eps` must be a finite float with 0 < eps < 1"),
        ({"eps": "float32"}, "`eps` must be a finite float with 0 < eps < 1"),
        ({"complex_step": "yes"}, "`complex_step` must be True or False"),
        ({"complex_step": 1}, "`complex_step` must be True or False"),
    ],
)
def test_validation_messages(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"f": math.sin, "x": 1.0, **kwargs}
    f, point = args.pop("f"), args.pop("x")
    with pytest.raises(InputError, match=f"^{re.escape(message)}"):
        derivative(f, point, **args)


def test_f_must_return_a_scalar() -> None:
    with pytest.raises(InputError, match=re.escape("`f` must return a real number, not ndarray.")):
        derivative(lambda t: np.array([t, t]), 0.7)
    with pytest.raises(InputError, match="not NoneType"):
        derivative(lambda t: None, 0.7)
    # one-element arrays and numpy scalars are fine
    est = derivative(lambda t: np.array([np.sin(t)]), 0.7)
    assert abs(est.value - math.cos(0.7)) <= 10 * est.error < 1e-10


def test_messages_are_scipy_style() -> None:
    with pytest.raises(InputError) as info:
        derivative(math.sin, 1.0, step=-1.0)
    assert str(info.value) == "`step` must be a positive finite float, got -1.0."
    with pytest.raises(InputError) as info:
        derivative(3, 1.0)
    assert str(info.value) == "`f` must be callable, got int."


def test_accepts_numpy_and_int_points() -> None:
    for point in (np.float64(0.5), np.float32(0.5), 1, np.int64(1)):
        est = derivative(math.sin, point)
        assert abs(est.value - math.cos(float(point))) <= 10 * est.error


# ------------------------------------------------------- the result object


def test_determinism_and_frozen_result() -> None:
    first = derivative(math.sin, 1e4)
    assert derivative(math.sin, 1e4) == first
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.value = 0.0  # type: ignore[misc]


def test_nfev_counts_every_call() -> None:
    cases: list[tuple[Callable[[Any], Any], float]] = [
        (math.sin, 0.7),
        (abs, 0.0),
        (math.log, 1e-3),
        (math.sin, 1e4),
    ]
    for f, point in cases:
        counted = Counted(f)
        assert derivative(counted, point).nfev == counted.calls


def test_smooth_functions_need_few_evaluations() -> None:
    for f, point in [(math.sin, 0.7), (math.exp, 1e-3), (_sigmoid, 0.3), (math.atan, 1.0)]:
        assert derivative(f, point).nfev == 9


def test_user_step_is_honoured_and_representable() -> None:
    est = derivative(math.exp, 1.0, step=0.1)
    assert abs(est.value - math.e) <= 10 * est.error < 1e-9
    assert (1.0 + est.step) - 1.0 == est.step


def test_step_helpers() -> None:
    h = steps.representable_step(1.0, 1e-3)
    assert (1.0 + h) - 1.0 == h and abs(h - 1e-3) < 1e-15
    assert steps.representable_step(1e16, 1e-3) == math.ulp(1e16)
    assert steps.relative_step(-100.0, 1e-14, 0.5) == pytest.approx(1e-5)
    assert steps.relative_step(0.01, 1e-14, 0.5) == pytest.approx(1e-7)


def test_extreme_magnitudes() -> None:
    est = derivative(lambda t: t, 1.7e308)
    assert est.value == pytest.approx(1.0) and est.error < 1e-10
    est = derivative(lambda t: 1e300 * t * t, 1.0)
    assert est.value == pytest.approx(2e300, rel=1e-12)
    est = derivative(math.sin, 5e-324)
    assert est.value == pytest.approx(1.0, rel=1e-12)


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, derivcheck.numeric; "
        "print(any(m in sys.modules for m in ('sympy', 'hypothesis', 'pytest', 'numpy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# The book's chapter 7 table: a forward difference of f(x) = 2x² with delta = 0.0001
# prints these slopes (truncation error 2·delta); the engine must remove that error.
BOOK_FORWARD_SLOPES = {
    0: 0.00019999999999999998,
    1: 4.0001999999987845,
    2: 8.000199999998785,
    3: 12.000199999998785,
    4: 16.000200000016548,
}


@pytest.mark.parametrize(("x", "printed"), sorted(BOOK_FORWARD_SLOPES.items()))
def test_book_forward_difference_table_and_the_engine_removes_its_error(x, printed):
    def f(t):
        return 2 * t**2

    x2 = x + 0.0001  # the book divides by x2 - x1, not by delta
    assert (f(x2) - f(x)) / (x2 - x) == printed  # the book's own numbers, to the bit
    est = numeric.derivative(f, float(x))
    assert abs(est.value - 4 * x) <= max(10 * est.error, 1e-12)
    assert abs(est.value - 4 * x) < 1e-9  # far below the forward difference's 2e-4
