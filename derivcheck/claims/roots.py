"""Switch points of conditions: where a kink expression is zero along one variable.

Sampling puts points between and beyond them, so that every branch of a
``Piecewise``, an indicator ``1(abs(x) < 1000)`` or a ``max`` is visited, however
far from the default scales its switch lies.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import sympy as sp

from derivcheck.claims.symbolic import float_function, linear_root

__all__ = ["switch_roots"]


#: the scan for switch points of a non-polynomial condition: |t| from 1e-8 to 1e308
#: at this many points per decade, both signs
_SCAN_PER_DECADE = 4
_SCAN_DECADES = (-8, 308)
#: a polynomial condition of at most this degree is solved from its coefficients
_MAX_POLY_DEGREE = 12


def switch_roots(kink: sp.Expr, var: sp.Symbol, values: Mapping[sp.Symbol, float]) -> list[float]:
    """The real values of `var` where ``kink == 0``, the other variables at `values`.

    Linear kinks are solved exactly (:func:`linear_root`); polynomials of low
    degree from their coefficients; anything else (``abs(x) - 1000``,
    ``tanh(x) - 0.5``) by a scan for sign changes over every scale from 1e-8
    to 1e308, each refined by bisection -- no solver that may hang.  The
    roots place sample points between and beyond the switches of a condition,
    however far from the default scales they are.

    >>> x, y = sp.symbols("x y", real=True)
    >>> switch_roots(x - 2 * y, x, {y: 3.0})
    [6.0]
    >>> [round(r, 6) for r in switch_roots(x**2 - 4e6, x, {})]
    [-2000.0, 2000.0]
    >>> [round(r, 6) for r in switch_roots(sp.Abs(x) - 1000, x, {})]
    [-1000.0, 1000.0]
    """
    if var not in kink.free_symbols:
        return []
    fixed = kink.subs({s: sp.Float(v) for s, v in values.items() if s != var})
    if fixed.free_symbols - {var}:
        return []
    root = linear_root(fixed, var)
    if root is not None:
        try:
            at = float(root)
        except (TypeError, ValueError):
            return []
        return [at] if math.isfinite(at) else []
    try:
        poly = sp.Poly(fixed, var)
        degree = poly.degree()
    except (sp.PolynomialError, sp.GeneratorsNeeded):
        poly, degree = None, 0
    if poly is not None and 1 <= degree <= _MAX_POLY_DEGREE:
        import numpy as np

        try:
            coeffs = [float(c) for c in poly.all_coeffs()]
        except (TypeError, ValueError):
            coeffs = []
        if coeffs and all(math.isfinite(c) for c in coeffs):
            found = np.roots(coeffs)
            reals = {float(r.real) for r in found if abs(r.imag) <= 1e-9 * max(1.0, abs(r))}
            return sorted(r for r in reals if math.isfinite(r))
    return _limit(_scan_roots(fixed, var))


def _limit(roots: list[float], most: int = 16) -> list[float]:
    """At most `most` roots, those nearest 0 (a periodic condition has countless)."""
    if len(roots) <= most:
        return roots
    return sorted(sorted(roots, key=abs)[:most])


def _scan_roots(expr: sp.Expr, var: sp.Symbol) -> list[float]:
    """Sign changes of `expr` along `var` on a log grid of both signs (and 0), bisected.

    The grid is evaluated in one vectorised numpy call; bisection in float64.
    """
    import numpy as np

    try:
        vector = sp.lambdify(var, expr, modules="numpy")
    except Exception:  # a printer gap: no scan, the default points stand
        return []
    scalar = float_function([expr], [var])

    def at(t: float) -> float:
        try:
            v = float(scalar(t)[0])
        except (ValueError, ArithmeticError, TypeError):
            return math.nan
        return v

    lo10, hi10 = _SCAN_DECADES
    steps = (hi10 - lo10) * _SCAN_PER_DECADE
    positive = [10.0 ** (lo10 + k / _SCAN_PER_DECADE) for k in range(steps + 1)]
    grid = [-t for t in reversed(positive)] + [0.0] + positive
    try:
        with np.errstate(all="ignore"):
            raw = np.broadcast_to(np.asarray(vector(np.array(grid)), dtype=float), (len(grid),))
        values = [float(v) for v in raw]
    except Exception:  # not vectorisable (a Piecewise numpy cannot broadcast): one by one
        values = [at(t) for t in grid]
    roots: list[float] = []
    for (a, fa), (b, fb) in itertools.pairwise(zip(grid, values, strict=True)):
        if not (math.isfinite(fa) and math.isfinite(fb)):
            continue
        if fa == 0.0:
            roots.append(a)
            continue
        if (fa < 0.0) == (fb < 0.0):
            continue
        for _ in range(80):
            mid = 0.5 * (a + b)
            fm = at(mid)
            if not math.isfinite(fm) or mid in (a, b):
                break
            if (fm < 0.0) == (fa < 0.0):
                a, fa = mid, fm
            else:
                b = mid
        roots.append(0.5 * (a + b))
    return sorted(set(roots))
