"""Scalar finite differences with an honest error estimate.

:func:`derivative` estimates ``f'(x)`` for a black-box ``f: float -> float``
by central differences at four steps ``h, 2h, 4h, 8h`` combined by
Richardson extrapolation (eliminating the ``h**2`` and ``h**4`` terms), with
an error estimate from two overlapping extrapolations plus a rounding bound.
If the estimate is poor at the first step scale (the function curves hard
there, or is undefined a step away), a small step-size search walks the
ladder of steps down or up by factors of 2 and keeps the estimate with the
smallest error.  A one-sided slope test, reusing the same evaluations, flags
kinks (``|x|`` or ``max(x, 0)`` at 0).

The hot path is plain Python floats and :mod:`math`: no numpy arrays, about
nine evaluations of ``f`` for a smooth function.

The step helpers :func:`_relative_step` and :func:`_representable_step` are
shared with the array engine (:mod:`derivcheck.gradients`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from derivcheck.errors import InputError

__all__ = ["EPS_FLOAT32", "EPS_FLOAT64", "Estimate", "derivative"]

EPS_FLOAT64 = 2.220446049250313e-16
EPS_FLOAT32 = 1.1920928955078125e-07

MSG_F_NOT_CALLABLE = "`f` must be callable."
MSG_X_NOT_FINITE = "`x` must be a finite real number."
MSG_STEP_INVALID = "`step` must be a positive finite float."
MSG_EPS_INVALID = "`eps` must be a finite float with 0 < eps < 1."
MSG_COMPLEX_STEP_INVALID = "`complex_step` must be True or False."

# Status values of an Estimate.
STATUS_OK = "ok"  # smooth at x; the error estimate is small relative to the value
STATUS_KINK = "kink"  # left and right slopes differ: value is their average
STATUS_INACCURATE = "inaccurate"  # an estimate exists but its error is large (> sqrt(eps)·|value|)
STATUS_FAILED = "failed"  # f is not finite at x, or nowhere near x on both sides

# The ladder's base step is eps**_BASE_POWER * max(1, |x|): the optimum for an
# extrapolation with an O(h**6) truncation error (measured in bench/numeric.py).
_BASE_POWER = 1.0 / 7.0
# Rounding: each evaluation of f is taken to be off by up to this many ulps.
_ROUNDING_ULPS = 2.0
# Truncation: |R(h) - R(2h)| / 63 is the asymptotic error of R(h); this factor
# keeps the estimate honest when the next term is not yet negligible.
_TRUNCATION_SAFETY = 4.0
# The step search walks at most this many levels below / above the base step.
_MAX_LEVELS_DOWN = 40
_MAX_LEVELS_UP = 6
# Search down while the truncation part exceeds _TARGET * eps * |slope| (and the
# rounding part); search up while rounding dominates and the error exceeds
# _UP_TRIGGER * eps * |slope|.
_TARGET = 64.0
# The search stops past the optimum only once some window has this relative
# accuracy; before that the step is far too large and the errors are garbage.
_SOME_DIGITS = 1e-3
_UP_TRIGGER = 1e4
# Kink: the extrapolated jump must exceed its own uncertainty by this factor.
_KINK_FACTOR = 8.0


@dataclass(frozen=True)
class Estimate:
    """A derivative estimate and how far it can be trusted.

    Attributes
    ----------
    value : float
        The estimate of ``f'(x)`` (at a kink: the average of the one-sided slopes).
    error : float
        Absolute error estimate (truncation plus rounding); ``inf`` on failure.
    nfev : int
        Number of evaluations of ``f``.
    kink : bool
        True when the one-sided slopes disagree by far more than their error and
        the disagreement does not shrink with the step: ``f`` has a kink at ``x``.
    step : float
        The exactly representable base step of the estimate kept (``(x + h) - x``).
    left, right : float or None
        Extrapolated one-sided slopes, or None when ``f(x)`` was not available.
    status : str
        ``"ok"``, ``"kink"``, ``"inaccurate"`` or ``"failed"``.
    method : str
        ``"central"`` or ``"complex"``.
    """

    value: float
    error: float
    nfev: int
    kink: bool
    step: float
    left: float | None = None
    right: float | None = None
    status: str = STATUS_OK
    method: str = "central"


def derivative(
    f: Callable[[Any], Any],
    x: float,
    *,
    step: float | None = None,
    complex_step: bool = False,
    eps: float | None = None,
) -> Estimate:
    """Estimate ``f'(x)`` with an honest error estimate.

    Parameters
    ----------
    f : callable
        ``f(t) -> float`` for a real ``t``.  It may raise ``ArithmeticError`` or
        ``ValueError`` (``math domain error``) or return nan/inf for some
        inputs: the step then shrinks towards ``x``.  Other exceptions are bugs
        in ``f`` and propagate.
    x : float
        A finite real point.
    step : float, optional
        Base step (absolute).  Default ``eps**(1/7) * max(1, |x|)``.  It is made
        exactly representable, and the step search may still move away from it
        when the error estimate there is large.
    complex_step : bool, optional
        Use the complex step ``Im f(x + i h) / h`` (``f`` must be analytic and
        accept complex input).  Falls back to central differences when ``f``
        raises ``TypeError``/``ValueError``/``ArithmeticError`` on complex input
        or returns a real number.
    eps : float, optional
        Working precision of ``f``: float64 machine epsilon by default; pass
        ``EPS_FLOAT32`` (1.19e-7) when ``f`` computes in float32.  Steps and
        error bounds scale with it.

    Returns
    -------
    Estimate
        ``value``, ``error``, ``nfev``, ``kink``, ``step``, ``left``, ``right``,
        ``status``, ``method``.  When no finite estimate can be formed, ``value``
        is nan and ``error`` is inf (no exception).

    Raises
    ------
    InputError
        ``f`` not callable, ``x`` not a finite real, ``step`` or ``eps`` invalid.

    Examples
    --------
    >>> import math
    >>> est = derivative(math.sin, 1.0)
    >>> abs(est.value - math.cos(1.0)) < 1e-12, est.error < 1e-11, est.kink
    (True, True, False)
    >>> derivative(abs, 0.0).kink
    True
    >>> est = derivative(lambda t: t * t, 3.0, complex_step=True)
    >>> print(est.value, est.method)
    6.0 complex
    """
    x, h, eps = _validate(f, x, step, complex_step, eps)
    nfev = 0
    if complex_step:
        est, nfev = _complex_step(f, x, eps)
        if est is not None:
            return est
    return _central(f, x, h, eps, nfev)


def _validate(
    f: Any, x: Any, step: Any, complex_step: Any, eps: Any
) -> tuple[float, float, float]:
    """Check every argument up front; return ``(x, base_step, eps)`` as floats."""
    if not callable(f):
        raise InputError(MSG_F_NOT_CALLABLE)
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise InputError(MSG_X_NOT_FINITE)
    x = float(x)
    if not math.isfinite(x):
        raise InputError(MSG_X_NOT_FINITE)
    if not isinstance(complex_step, bool):
        raise InputError(MSG_COMPLEX_STEP_INVALID)
    if eps is None:
        eps = EPS_FLOAT64
    else:
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
            raise InputError(MSG_EPS_INVALID)
        eps = float(eps)
        if not (math.isfinite(eps) and 0.0 < eps < 1.0):
            raise InputError(MSG_EPS_INVALID)
    if step is None:
        h = _relative_step(x, eps, _BASE_POWER)
    else:
        if isinstance(step, bool) or not isinstance(step, numbers.Real):
            raise InputError(MSG_STEP_INVALID)
        h = float(step)
        if not (math.isfinite(h) and h > 0.0):
            raise InputError(MSG_STEP_INVALID)
    return x, _representable_step(x, h), eps


def _relative_step(x: float, eps: float, power: float) -> float:
    """The relative step ``eps**power * max(1, |x|)`` (not yet representable).

    ``power`` 1/2 suits forward differences, 1/3 plain central differences,
    1/5 one Richardson level, 1/7 two levels (the default here).

    >>> print(_relative_step(1000.0, 2.0**-52, 1 / 4) / 1000.0)
    0.0001220703125
    """
    return eps**power * max(1.0, abs(x))


def _representable_step(x: float, h: float) -> float:
    """Return the step actually taken from ``x``: ``(x + h) - x``, at least one ulp.

    With this step, ``x + step`` is exact and ``x - step`` is exact whenever
    the step is below ``|x|``, so the difference quotient divides by the true
    distance between the points.

    >>> print(_representable_step(1.0, 0.1))
    0.10000000000000009
    >>> _representable_step(1e16, 0.1) == math.ulp(1e16)
    True
    """
    s = (x + h) - x
    if s <= 0.0 or not math.isfinite(s):
        s = math.ulp(x) if x != 0.0 else h
    return s


def _call(f: Callable[[Any], Any], t: float) -> float:
    """``float(f(t))``, or nan when ``f`` is undefined there.

    Undefined: ``f`` raises ``ArithmeticError``/``ValueError``, returns nan/inf,
    or returns a complex number (``(-2.0) ** 0.5`` in Python).
    """
    try:
        r = f(t)
        y = float(r)
    except (ArithmeticError, ValueError):
        return math.nan
    except TypeError:
        if isinstance(r, complex):
            return math.nan
        raise
    return y if math.isfinite(y) else math.nan


def _complex_step(
    f: Callable[[Any], Any], x: float, eps: float
) -> tuple[Estimate | None, int]:
    """``Im f(x + i h) / h`` with a tiny ``h``; ``(None, nfev)`` when ``f`` cannot take it."""
    # h**2 (the truncation) is far below eps, and h itself far above underflow.
    h = eps * eps * max(1.0, abs(x))
    try:
        y = f(complex(x, h))
    except (TypeError, ValueError, ArithmeticError):
        return None, 1
    # A real result means f dropped the imaginary part (abs, float()): not analytic.
    if not isinstance(y, numbers.Complex) or isinstance(y, numbers.Real):
        return None, 1
    y = complex(y)
    value = y.imag / h
    if not (math.isfinite(value) and math.isfinite(y.real)):
        return None, 1
    error = 4.0 * eps * abs(value)
    return Estimate(value, error, 1, False, h, method="complex"), 1


class _Ladder:
    """Central differences at steps ``h0 * 2**k``, evaluated lazily and cached."""

    __slots__ = ("cache", "eps", "f", "f0", "h0", "nfev", "x")

    def __init__(
        self, f: Callable[[Any], Any], x: float, f0: float, h0: float, eps: float
    ) -> None:
        self.f = f
        self.x = x
        self.f0 = f0
        self.h0 = h0
        self.eps = eps
        self.nfev = 0
        # level -> (hp, hm, fp, fm, D, noise) or None when f failed there
        self.cache: dict[int, tuple[float, float, float, float, float, float] | None] = {}

    def level(self, k: int) -> tuple[float, float, float, float, float, float] | None:
        if k in self.cache:
            return self.cache[k]
        x = self.x
        s = math.ldexp(self.h0, k)
        xp = x + s
        xm = x - s
        hp = xp - x
        hm = x - xm
        entry = None
        if hp > 0.0 and hm > 0.0:
            fp = _call(self.f, xp)
            self.nfev += 1
            if fp == fp:  # not nan: only then is the other side worth a call
                fm = _call(self.f, xm)
                self.nfev += 1
                if fm == fm:
                    width = hp + hm
                    d = (fp - fm) / width
                    noise = self.eps * (abs(fp) + abs(fm)) / width
                    if math.isfinite(d):
                        entry = (hp, hm, fp, fm, d, noise)
        self.cache[k] = entry
        return entry


def _richardson(lo: tuple[float, ...], hi: tuple[float, ...]) -> tuple[float, float, float]:
    """Eliminate the h**2 term between two levels: (value, weight of lo, weight of hi)."""
    t1 = (0.5 * (lo[0] + lo[1])) ** 2
    t2 = (0.5 * (hi[0] + hi[1])) ** 2
    p = t1 / (t2 - t1)  # 1/3 when the steps double exactly
    return lo[4] + (lo[4] - hi[4]) * p, 1.0 + p, p


def _window(ladder: _Ladder, k: int) -> tuple[float, float, float, float, float] | None:
    """Estimate from levels k..k+3: (value, error, truncation, rounding, scale).

    ``scale`` is the size of the slopes seen (|value| or the one-sided slopes at
    the smallest step, whichever is larger): the yardstick for "large error"
    when the derivative itself is 0.

    ``value`` extrapolates levels k..k+2 (h**2 and h**4 terms removed, O(h**6)
    left); levels k+1..k+3 give a second such value at twice the step, whose
    error is 64 times larger in the asymptotic regime, so their difference / 63
    estimates the error of ``value``.  The regime is checked on the first
    extrapolation level (errors there shrink 16-fold per level); outside it the
    full difference is taken.
    """
    a = ladder.level(k)
    b = ladder.level(k + 1)
    c = ladder.level(k + 2)
    d = ladder.level(k + 3)
    if a is None or b is None or c is None or d is None:
        return None
    r_ab, wa, wb = _richardson(a, b)
    r_bc, _, _ = _richardson(b, c)
    r_cd, _, _ = _richardson(c, d)
    # Second level: the steps of r_ab and r_bc differ by 2, so h**4 falls with 1/15.
    value = r_ab + (r_ab - r_bc) / 15.0
    value2 = r_bc + (r_bc - r_cd) / 15.0
    diff = abs(value - value2)
    first, second = abs(r_ab - r_bc), abs(r_bc - r_cd)
    asymptotic = second >= 8.0 * first
    truncation = _TRUNCATION_SAFETY * diff / 63.0 if asymptotic else diff
    # |coefficients| of value in D(h), D(2h), D(4h): 64/45, 20/45, 1/45 for exact doubling.
    noise = (wa * a[5] * 16.0 + (wb * 16.0 + wa) * b[5] + wb * c[5] * 1.0) / 15.0
    rounding = _ROUNDING_ULPS * noise + ladder.eps * abs(value)
    f0 = ladder.f0
    scale = max(abs(value), abs(a[2] - f0) / a[0], abs(f0 - a[3]) / a[1])
    return value, truncation + rounding, truncation, rounding, scale


def _central(
    f: Callable[[Any], Any], x: float, h0: float, eps: float, nfev0: int
) -> Estimate:
    f0 = _call(f, x)
    if f0 != f0:
        return Estimate(math.nan, math.inf, nfev0 + 1, False, h0, status=STATUS_FAILED)
    ladder = _Ladder(f, x, f0, h0, eps)
    ladder.nfev = nfev0 + 1

    # First window: levels 0..3, moved down below any level where f fails.
    k = 0
    first = None
    while k >= -_MAX_LEVELS_DOWN:
        bad = next((j for j in range(k, k + 4) if ladder.level(j) is None), None)
        if bad is None:
            first = _window(ladder, k)
            break
        k = bad - 4
    if first is None:
        return Estimate(
            math.nan, math.inf, ladder.nfev, False, h0, status=STATUS_FAILED
        )

    _, error, truncation, rounding, scale = first
    windows = {k: first}
    if truncation > max(rounding, _TARGET * eps * scale):
        _search(ladder, windows, k, -1)
    elif error > _UP_TRIGGER * eps * scale:
        # rounding dominates and is large: a larger step lowers it
        _search(ladder, windows, k, +1)
    best_k, best = _select(windows)
    return _finish(ladder, f0, best_k, best)


_WindowEstimate = tuple[float, float, float, float, float]


def _search(
    ladder: _Ladder, windows: dict[int, _WindowEstimate], k: int, direction: int
) -> None:
    """Walk the ladder one level at a time from window ``k``, adding to ``windows``.

    Stops when the truncation part drops under the rounding part or under
    ``_TARGET * eps * scale`` (going down), when the error has not improved
    for three levels down (one level up) once some digits are right, or at
    the ladder's end.
    """
    eps = ladder.eps
    limit = -_MAX_LEVELS_DOWN if direction < 0 else _MAX_LEVELS_UP
    patience = 3 if direction < 0 else 1
    best = windows[k][1]
    worse = 0
    while (k > limit) if direction < 0 else (k < limit):
        k += direction
        est = _window(ladder, k)
        if est is None:
            if direction > 0:
                break  # f undefined further out: stay below
            continue  # a failing level further in: keep shrinking past it
        windows[k] = est
        if est[1] < best:
            best, worse = est[1], 0
        elif best <= _SOME_DIGITS * est[4]:
            # Past the optimum (rounding noise grows as the step shrinks).  While
            # no window has any digit right (the step is far too large), keep going.
            worse += 1
        if direction < 0 and est[2] <= max(est[3], _TARGET * eps * est[4]):
            break
        if worse >= patience:
            break


def _select(windows: dict[int, _WindowEstimate]) -> tuple[int, _WindowEstimate]:
    """The window with the smallest error, judged with its smaller-step neighbour.

    In the rounding-noise regime a window's own error estimate is itself noisy,
    and the minimum over many windows would pick a lucky one.  The noise of
    window k is about half that of window k - 1, so ``max(err[k], err[k-1]/2)``
    is a noise-robust error (in the truncation regime err[k-1] ~ err[k]/64 and
    changes nothing).
    """
    best_k, best, best_err = 0, None, math.inf
    for k, est in windows.items():
        below = windows.get(k - 1)
        err = est[1] if below is None else max(est[1], 0.5 * below[1])
        if err < best_err:
            best_k, best, best_err = k, est, err
    assert best is not None
    return best_k, (best[0], best_err, best[2], best[3], best[4])


def _one_sided(ladder: _Ladder, f0: float, k: int) -> tuple[float, float, float, float, float]:
    """Right and left slopes extrapolated to h = 0 (linear terms removed).

    Returns ``(right, left, right_err, left_err, jump_noise)`` from levels k, k+1, k+2.
    """
    a, b, c = ladder.cache[k], ladder.cache[k + 1], ladder.cache[k + 2]
    assert a is not None and b is not None and c is not None
    r1, r2, r3 = (a[2] - f0) / a[0], (b[2] - f0) / b[0], (c[2] - f0) / c[0]
    l1, l2, l3 = (f0 - a[3]) / a[1], (f0 - b[3]) / b[1], (f0 - c[3]) / c[1]
    # Steps double exactly along the ladder, so Richardson in h: 2R(h) - R(2h) etc.
    r_lin, l_lin = 2.0 * r1 - r2, 2.0 * l1 - l2
    right = (8.0 * r1 - 6.0 * r2 + r3) / 3.0
    left = (8.0 * l1 - 6.0 * l2 + l3) / 3.0
    eps = ladder.eps
    noise = eps * _ROUNDING_ULPS * (
        (abs(a[2]) + abs(a[3]) + 2.0 * abs(f0)) / a[0] * (8.0 / 3.0)
        + (abs(b[2]) + abs(b[3]) + 2.0 * abs(f0)) / b[0] * 2.0
        + (abs(c[2]) + abs(c[3]) + 2.0 * abs(f0)) / c[0] / 3.0
    )
    return right, left, abs(right - r_lin), abs(left - l_lin), noise


def _finish(ladder: _Ladder, f0: float, k: int, best: _WindowEstimate) -> Estimate:
    """Run the kink test on the kept window and build the Estimate."""
    value, error, scale = best[0], best[1], best[4]
    right, left, right_err, left_err, noise = _one_sided(ladder, f0, k)
    a, b, c = ladder.cache[k], ladder.cache[k + 1], ladder.cache[k + 2]
    assert a is not None and b is not None and c is not None
    # gap(h) = right(h) - left(h) = J + alpha*h (+ O(h**2) at a kink; only odd
    # powers of h for a smooth f).  J = 2 g(h) - g(2h) is the jump at h = 0; the
    # residual checks that g(4h) fits the same line, so a smooth f (J ~ -f''''h³/2,
    # residual ~ 3.5 f''''h³) never passes.
    g1 = (a[2] - f0) / a[0] - (f0 - a[3]) / a[1]
    g2 = (b[2] - f0) / b[0] - (f0 - b[3]) / b[1]
    g3 = (c[2] - f0) / c[0] - (f0 - c[3]) / c[1]
    jump = 2.0 * g1 - g2
    residual = g3 - 3.0 * g2 + 2.0 * g1
    kink = abs(jump) > _KINK_FACTOR * (noise + abs(residual) + error)
    status = STATUS_OK
    if kink:
        value = 0.5 * (right + left)
        error = 0.5 * abs(right - left) + 0.5 * (right_err + left_err) + noise
        status = STATUS_KINK
    elif not error <= math.sqrt(ladder.eps) * scale:
        status = STATUS_INACCURATE
    return Estimate(
        value,
        error,
        ladder.nfev,
        kink,
        a[0],
        left=left,
        right=right,
        status=status,
    )
