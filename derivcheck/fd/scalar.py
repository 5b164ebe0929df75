"""Scalar finite differences with an honest error estimate.

:func:`derivative` estimates ``f'(x)`` for a black-box ``f: float -> float``
by central differences at four steps ``h, √2h, 2h, 2√2h`` (a *window* of a
ladder of steps ``h0·√2**j``).  Richardson extrapolation through the first
three (in powers of ``h**2``, removing the ``h**2`` and ``h**4`` terms) gives
the value; the same through the last three, whose error is 8 times larger,
gives the truncation estimate; a rounding bound from ``eps`` and the sizes of
``f`` is added.  If the window does not resolve ``f`` (the function curves
hard at that scale, like sin at 1e4 or a pole nearby; or ``f`` is undefined
a step away) a small step-size search walks the ladder down (or up, when
rounding dominates) and keeps the window with the smallest error, judged
robustly against its neighbours.  A one-sided slope test on the same
evaluations flags kinks (``|x|`` or ``max(x, 0)`` at 0).

The ratio √2 rather than 2 keeps a periodic ``f`` from aliasing: with
doubling steps near a multiple of the period, D(h), D(2h), D(4h) can agree
perfectly on a wrong value.

The hot path is plain Python floats and :mod:`math`: no numpy arrays, nine
evaluations of ``f`` for a smooth function at a well-scaled point (11 at a
kink), more when the search has to move.  ``bench/numeric.py`` measures it.

The step rule, the representable step and the linear extrapolation are shared
with the array face (:mod:`derivcheck.fd.steps`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from derivcheck import _validate
from derivcheck.fd.ladder import (
    BASE_POWER,
    MAX_LEVELS_DOWN,
    TARGET,
    UP_TRIGGER,
    Ladder,
    Window,
    call_f,
    is_kink,
    levels,
    one_sided,
    search,
    select,
)
from derivcheck.fd.steps import (
    EPS_FLOAT32,
    EPS_FLOAT64,
    relative_step,
    representable_step,
)

__all__ = ["EPS_FLOAT32", "EPS_FLOAT64", "Estimate", "derivative"]



# Status values of an Estimate.
STATUS_OK = "ok"  # smooth at x; the error estimate is small relative to the value
STATUS_KINK = "kink"  # left and right slopes differ: value is their average
# an estimate exists but its error is large (> sqrt(eps) times the slopes seen), or
# no step resolved f at all (then error is inf)
STATUS_INACCURATE = "inaccurate"
STATUS_FAILED = "failed"  # f is not finite at x, or nowhere near x on both sides



@dataclass(frozen=True)
class Estimate:
    """A derivative estimate and how far it can be trusted.

    Attributes
    ----------
    value : float
        The estimate of ``f'(x)`` (at a kink: the average of the one-sided slopes).
    error : float
        Absolute error estimate (truncation plus rounding); at a kink, half the
        gap between the one-sided slopes plus their own error, so it covers
        both; ``inf`` on failure or when no step resolved ``f``.
    nfev : int
        Number of evaluations of ``f``.
    kink : bool
        True when the one-sided slopes disagree by far more than their error and
        the disagreement does not shrink with the step: ``f`` has a kink at ``x``.
    step : float
        The smallest step of the window kept, exactly representable
        (``(x + h) - x``); for the complex step, its ``h``.
    left, right : float or None
        One-sided slopes extrapolated to ``h = 0`` (first order), or None
        (complex step, or ``f`` undefined at ``x``).
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

    Notes
    -----
    Measured in ``bench/numeric.py`` (75 cases, exact derivatives from SymPy):
    median relative error 6e-14, the error estimate covers the true error at
    10x in all cases, 9 evaluations for a smooth function at a well-scaled
    point.  Known limit: a kink whose jump is below what the curvature of
    ``f`` hides at the chosen step (about ``|f''''| h**3``; e.g. a jump of
    1e-6 relative on ``exp`` at 12) can go unnoticed; the value is then the
    average of the one-sided slopes with the error of the smooth part.

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
    x, h, eps = _check_arguments(f, x, step, complex_step, eps)
    nfev = 0
    if complex_step:
        est, nfev = _complex_step(f, x, eps)
        if est is not None:
            return est
    return _central(f, x, h, eps, nfev)


def _check_arguments(
    f: Any, x: Any, step: Any, complex_step: Any, eps: Any
) -> tuple[float, float, float]:
    """Check every argument up front; return ``(x, base_step, eps)`` as floats."""
    _validate.callable_arg(f, "f")
    x = _validate.finite_float(x, "x")
    if not isinstance(complex_step, bool):
        _validate.fail("complex_step", "True or False", complex_step)
    eps = EPS_FLOAT64 if eps is None else _validate.unit_float(eps, "eps")
    h = relative_step(x, eps, BASE_POWER) if step is None else _validate.positive_float(
        step, "step"
    )
    return x, representable_step(x, h), eps


def _complex_step(
    f: Callable[[Any], Any], x: float, eps: float
) -> tuple[Estimate | None, int]:
    """``Im f(x + i h) / h`` with a tiny ``h``; ``(None, nfev)`` when ``f`` cannot take it.

    A second evaluation at ``2h`` measures the truncation (``-f3(x) h**2 / 6``
    with f3 the third derivative, which matters only when ``f'(x)`` is 0 or
    tiny): the difference of the two quotients is 3 times the truncation of
    the first.
    """
    # h**2 (the truncation) is far below eps, and h itself far above underflow.
    h = eps * eps * max(1.0, abs(x))
    values: list[float] = []
    for k in (1.0, 2.0):
        try:
            y = f(complex(x, k * h))
        except (TypeError, ValueError, ArithmeticError):
            return None, len(values) + 1
        # A real result means f dropped the imaginary part (abs, float()): not analytic.
        if not isinstance(y, numbers.Complex) or isinstance(y, numbers.Real):
            return None, len(values) + 1
        y = complex(y)
        v = y.imag / (k * h)
        if not (math.isfinite(v) and math.isfinite(y.real)):
            return None, len(values) + 1
        values.append(v)
    value = values[0]
    error = 2.0 * abs(values[0] - values[1]) / 3.0 + 4.0 * eps * abs(value)
    return Estimate(value, error, 2, False, h, method="complex"), 2


def _central(
    f: Callable[[Any], Any], x: float, h0: float, eps: float, nfev0: int
) -> Estimate:
    f0 = call_f(f, x)
    if f0 != f0:
        return Estimate(math.nan, math.inf, nfev0 + 1, False, h0, status=STATUS_FAILED)
    ladder = Ladder(f, x, f0, h0, eps)
    ladder.nfev = nfev0 + 1

    # First window: levels 0..3, moved below any level where f fails.
    j = 0
    first = None
    while j >= -MAX_LEVELS_DOWN:
        first = ladder.window(j)
        if first is not None:
            break
        j = next(i for i in range(j, j + 4) if ladder.cache.get(i, 0) is None) - 4
    if first is None:
        return Estimate(math.nan, math.inf, ladder.nfev, False, h0, status=STATUS_FAILED)

    # A kink already plain at the first steps needs no step search: the central
    # difference there is no derivative anyway.
    if is_kink(ladder, j, first):
        return _finish(ladder, j, first, kink=True)
    windows = {j: first}
    kink_at = None
    default = representable_step(x, relative_step(x, eps, BASE_POWER))
    if first.flat and h0 < default:
        # f took one value at all nine points of a step given smaller than the
        # default: constant to its rounding there (log(1 + exp(t)) at t = -20
        # and step 1e-9), or constant.  Start again from the default step.
        return _central(f, x, default, eps, ladder.nfev)
    if not first.sane or first.truncation > max(
        first.rounding, TARGET * eps * first.scale
    ):
        kink_at = search(ladder, windows, j, -1)
    elif first.scale > 0.0 and first.error > UP_TRIGGER * eps * first.scale:
        # rounding dominates and is large: a larger step lowers it
        search(ladder, windows, j, +1)
    if kink_at is not None:
        return _finish(ladder, kink_at, windows[kink_at], kink=True)
    best_j, best = select(windows)
    # The first window was tested for a kink already (no need to repeat).
    return _finish(ladder, best_j, best, kink=False if best_j == j else None)


def _finish(ladder: Ladder, j: int, best: Window, kink: bool | None = None) -> Estimate:
    """Run the kink test on the kept window (unless done) and build the Estimate."""
    value, error = best.value, best.error
    if kink is None:
        kink = is_kink(ladder, j, best)
    right, left, _, sided_error = one_sided(ladder, j)
    status = STATUS_OK
    if kink:
        value = 0.5 * (right + left)
        error = 0.5 * abs(right - left) + sided_error
        status = STATUS_KINK
    elif not best.sane:
        # No step resolved f (sin at 1e20, where the spacing of floats exceeds
        # its period): the value is a guess, and nothing bounds its error.
        error = math.inf
        status = STATUS_INACCURATE
    elif best.scale > 0.0 and not error <= math.sqrt(ladder.eps) * best.scale:
        status = STATUS_INACCURATE
    step = levels(ladder, j)[0][0]
    return Estimate(
        value, error, ladder.nfev, kink, step, left=left, right=right, status=status
    )
