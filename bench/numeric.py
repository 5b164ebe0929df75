"""Benchmark the scalar numeric engine against numdifftools and scipy.differentiate.

Exact derivatives come from SymPy (``diff`` then ``evalf(50)`` at the binary
value of each point).  Prints one table: median / p90 / worst relative error,
mean evaluations of f, microseconds per derivative, how often the error
estimate covers the true error at 10x, and how often a method is "confidently
wrong" (relative error > 1e-6 while its relative error estimate is < 1e-8).

Run:  python bench/numeric.py [-v]       (needs the bench extra for the
comparison columns: pip install -e ".[bench]"; -v lists the misses)

derivcheck is given the function lambdified with ``math`` (scalar calls, as
the engine is meant for); numdifftools and scipy get the numpy version,
which they need (they evaluate on arrays).
"""

from __future__ import annotations

import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp

from derivcheck import numeric
from derivcheck.fd import ladder

x = sp.Symbol("x", real=True)

# (name, expression, points).  Constants are exactly representable so the float
# function and the SymPy expression are the same function.
POLE = sp.Rational(1025, 1024)
CASES: list[tuple[str, sp.Expr, list[float]]] = [
    ("x^2", x**2, [1.3, -2.7, 10.0]),
    ("5x^5+4x^3-5", 5 * x**5 + 4 * x**3 - 5, [0.7, -1.9, 3.0]),
    ("x^10", x**10, [1.5, -0.8]),
    ("exp", sp.exp(x), [1e-3, 2.5, -20.0, 30.0]),
    ("log", sp.log(x), [1e-3, 0.5, 7.0]),
    ("log(1+x)", sp.log(1 + x), [1e-3, 3.0]),
    ("sin", sp.sin(x), [0.5, 100.0, 1e4]),
    ("cos", sp.cos(x), [1.0, 1e4]),
    ("sigmoid", 1 / (1 + sp.exp(-x)), [-30.0, 30.0, 0.3, 5.0]),
    ("x^x", x**x, [0.5, 2.0, 3.0]),
    ("sqrt", sp.sqrt(x), [1e-4, 2.0, 1e6]),
    ("1/(x-p)", 1 / (x - POLE), [1.0, 0.99, 1.002]),
    ("(x^2+1)/(x^2-4)", (x**2 + 1) / (x**2 - 4), [1.99, 2.01, 0.5]),
    ("sin(exp(x))", sp.sin(sp.exp(x)), [0.5, 2.0]),
    ("exp(sin x)log(1+x^2)", sp.exp(sp.sin(x)) * sp.log(1 + x**2), [0.7, -1.2]),
    ("tanh", sp.tanh(x), [0.5, 3.0, -8.0]),
    ("atan", sp.atan(x), [1e3, 1.0, -50.0]),
    ("x sin(1/x)", x * sp.sin(1 / x), [0.1, 0.5]),
    ("exp(-x^2)", sp.exp(-(x**2)), [0.3, 3.0]),
    ("log(cosh x)", sp.log(sp.cosh(x)), [2.0, -10.0]),
    ("runge", 1 / (1 + 25 * x**2), [0.2, -0.7]),
    ("sin(x)/x", sp.sin(x) / x, [0.5, 3.0]),
    ("cbrt", x ** sp.Rational(1, 3), [8.0, 1e-3]),
    ("erf", sp.erf(x), [0.5, 2.0]),
    ("asin", sp.asin(x), [0.999, 0.5]),
    ("softplus", sp.log(1 + sp.exp(x)), [-20.0, 0.0, 20.0]),
    ("tan", sp.tan(x), [1.5, 0.3]),
    ("exp(x)cos(x)", sp.exp(x) * sp.cos(x), [10.0, -3.0]),
    ("sqrt(1+x^2)", sp.sqrt(1 + x**2), [1e3, 0.1]),
    ("cosh", sp.cosh(x), [1e-3, 5.0]),
]

VERBOSE = "-v" in sys.argv  # list every case that is off by > 1e-8 or not covered
COVER = 10.0  # the estimate covers the true error when |value - exact| <= COVER * error
WRONG, CONFIDENT = 1e-6, 1e-8  # "confidently wrong": rel. error > WRONG, rel. estimate < CONFIDENT


def _exact(expr: sp.Expr, point: float) -> float:
    d = sp.diff(expr, x)
    return float(d.evalf(50, subs={x: sp.Float(point, 60)}))


class _Counted:
    """Wrap f to count evaluations (scalar calls and array elements)."""

    def __init__(self, f: Callable[[Any], Any]) -> None:
        self.f = f
        self.n = 0

    def __call__(self, t: Any) -> Any:
        self.n += int(np.size(t))
        return self.f(t)


def _ours(f_math: Callable[[float], float], f_np: Callable[[Any], Any], p: float) -> Any:
    est = numeric.derivative(f_math, p)
    return est.value, est.error


def _numdifftools(nd: Any) -> Callable[..., Any]:
    def run(f_math: Callable[[float], float], f_np: Callable[[Any], Any], p: float) -> Any:
        out = nd.Derivative(f_np, full_output=True)(p)
        return float(out.estimate), float(out.error_estimate)

    return run


def _scipy(derivative: Callable[..., Any]) -> Callable[..., Any]:
    def run(f_math: Callable[[float], float], f_np: Callable[[Any], Any], p: float) -> Any:
        res = derivative(f_np, p)
        return float(res.df), float(res.error)

    return run


def _methods() -> dict[str, Callable[..., Any]]:
    methods: dict[str, Callable[..., Any]] = {"derivcheck": _ours}
    missing = []
    try:
        import numdifftools as nd

        methods["numdifftools"] = _numdifftools(nd)
    except ImportError:
        missing.append("numdifftools")
    try:
        from scipy.differentiate import derivative

        methods["scipy.differentiate"] = _scipy(derivative)
    except ImportError:
        missing.append("scipy>=1.15")
    if missing:
        print(
            f"(skipping {', '.join(missing)}: install with  pip install -e \".[bench]\")",
            file=sys.stderr,
        )
    return methods


def _run(
    name: str,
    method: Callable[..., Any],
    cases: list[tuple[str, float, float, Callable[..., Any], Callable[..., Any]]],
) -> dict[str, Any]:
    rels, covered, wrong, worst = [], 0, 0, ("", 0.0, 0.0)
    times: list[float] = []
    nfevs: list[int] = []
    repeat = 20 if name == "derivcheck" else 3
    for label, p, exact, f_math, f_np in cases:
        cm, cn = _Counted(f_math), _Counted(f_np)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                value, error = method(cm, cn, p)
            except Exception:  # a method that crashes scores as nan
                value, error = math.nan, math.nan
            # time without the counting wrapper; best of `repeat`
            best = math.inf
            for _ in range(repeat):
                t0 = time.perf_counter()
                method(f_math, f_np, p)
                best = min(best, time.perf_counter() - t0)
        times.append(best)
        nfevs.append(cm.n + cn.n)
        rel = abs(value - exact) / abs(exact) if math.isfinite(value) else math.inf
        rel_err = error / abs(exact) if math.isfinite(error) else math.inf
        rels.append(rel)
        if abs(value - exact) <= COVER * error:  # nan compares False
            covered += 1
        if rel > WRONG and rel_err < CONFIDENT:
            wrong += 1
        if rel >= worst[1]:
            worst = (f"{label} at {p:g}", rel, rel_err)
        if VERBOSE and not (rel <= 1e-8 and abs(value - exact) <= COVER * error):
            print(
                f"  {name}: {label} at {p:g}: value {value:.17g}, exact {exact:.17g}, "
                f"rel. error {rel:.1e}, rel. estimate {rel_err:.1e}"
            )
    n = len(cases)
    rels.sort()
    return {
        "median": statistics.median(rels),
        "p90": rels[min(n - 1, math.ceil(0.9 * n) - 1)],
        "worst": rels[-1],
        "worst_case": worst,
        "nfev": statistics.mean(nfevs),
        "nfev_median": statistics.median(nfevs),
        "us": statistics.mean(times) * 1e6,
        "us_median": statistics.median(times) * 1e6,
        "cover": 100.0 * covered / n,
        "wrong": wrong,
    }


def main() -> None:
    start = time.perf_counter()
    cases = []
    for label, expr, points in CASES:
        f_math = sp.lambdify(x, expr, modules="math")
        f_np = sp.lambdify(x, expr, modules=["scipy", "numpy"])
        for p in points:
            cases.append((label, p, _exact(expr, p), f_math, f_np))
    methods = _methods()
    results = {name: _run(name, m, cases) for name, m in methods.items()}

    print(
        f"{len(CASES)} functions, {len(cases)} (function, point) cases; "
        "exact derivatives from SymPy at 50 digits"
    )
    names = list(results)
    width = 22
    print(f"{'':28}" + "".join(f"{n:>{width}}" for n in names))
    rows = [
        ("median rel. error", "median", "{:.1e}"),
        ("p90 rel. error", "p90", "{:.1e}"),
        ("worst rel. error", "worst", "{:.1e}"),
        ("evaluations of f: mean", "nfev", "{:.1f}"),
        ("evaluations of f: median", "nfev_median", "{:.0f}"),
        ("us per derivative: mean", "us", "{:.0f}"),
        ("us per derivative: median", "us_median", "{:.0f}"),
        (f"estimate covers at {COVER:g}x (%)", "cover", "{:.1f}"),
        ("confidently wrong (count)", "wrong", "{:d}"),
    ]
    for title, key, fmt in rows:
        print(f"{title:28}" + "".join(f"{fmt.format(results[n][key]):>{width}}" for n in names))
    print()
    print(
        "(derivcheck times a math-based f; the others a numpy-based f, as they need. "
        "Timing: best of 20 / 3 runs per case.)"
    )
    for n in names:
        label, rel, rel_err = results[n]["worst_case"]
        print(f"worst for {n}: {label} (rel. error {rel:.1e}, rel. estimate {rel_err:.1e})")
    print()
    _base_step_sweep(cases)
    print(f"bench time {time.perf_counter() - start:.1f} s")


def _base_step_sweep(
    cases: list[tuple[str, float, float, Callable[..., Any], Callable[..., Any]]],
) -> None:
    """Why the base step is eps**(1/7): the same cases with other powers."""
    print("base step eps**p * max(1, |x|), derivcheck only:")
    print(f"{'p':>8}{'median rel':>12}{'p90 rel':>10}{'mean nfev':>11}{'covered %':>11}")
    default = ladder.BASE_POWER
    try:
        for power in (1 / 3, 1 / 5, 1 / 6, 1 / 7, 1 / 8):
            ladder.BASE_POWER = power
            rels, nfevs, covered = [], [], 0
            for _, p, exact, f_math, _ in cases:
                est = numeric.derivative(f_math, p)
                rels.append(abs(est.value - exact) / abs(exact))
                nfevs.append(est.nfev)
                covered += abs(est.value - exact) <= COVER * est.error
            rels.sort()
            print(
                f"{'1/' + str(round(1 / power)):>8}{statistics.median(rels):>12.1e}"
                f"{rels[math.ceil(0.9 * len(rels)) - 1]:>10.1e}"
                f"{statistics.mean(nfevs):>11.1f}{100.0 * covered / len(cases):>11.1f}"
            )
    finally:
        ladder.BASE_POWER = default


if __name__ == "__main__":
    main()
