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
from typing import Any, NamedTuple

from derivcheck import _validate
from derivcheck.errors import InputError
from derivcheck.fd.steps import (
    EPS_FLOAT32,
    EPS_FLOAT64,
    extrapolate_linear,
    relative_step,
    representable_step,
)

__all__ = ["EPS_FLOAT32", "EPS_FLOAT64", "Estimate", "derivative"]


MSG_F_NOT_SCALAR = "`f` must return a real number, not {}."

# Status values of an Estimate.
STATUS_OK = "ok"  # smooth at x; the error estimate is small relative to the value
STATUS_KINK = "kink"  # left and right slopes differ: value is their average
# an estimate exists but its error is large (> sqrt(eps) times the slopes seen), or
# no step resolved f at all (then error is inf)
STATUS_INACCURATE = "inaccurate"
STATUS_FAILED = "failed"  # f is not finite at x, or nowhere near x on both sides

# The ladder's base step is eps**_BASE_POWER * max(1, |x|): the optimum for an
# extrapolation with an O(h**6) truncation error (measured in bench/numeric.py).
_BASE_POWER = 1.0 / 7.0
# Rounding: each evaluation of f is taken to be off by up to this many ulps.
_ROUNDING_ULPS = 2.0
# Truncation: |value - value2| / 7 is the asymptotic error of value; this factor
# keeps the estimate honest when the next term is not yet negligible.
_TRUNCATION_SAFETY = 2.0
# The step search walks at most this many sqrt(2)-levels below / above the base.
_MAX_LEVELS_DOWN = 80
_MAX_LEVELS_UP = 8
# Search down while the truncation part exceeds _TARGET * eps * |slope| (and the
# rounding part); search up while rounding dominates and the error exceeds
# _UP_TRIGGER * eps * |slope|.
_TARGET = 64.0
# The search stops past the optimum only once some window has this relative
# accuracy; before that the step is far too large and the errors are garbage.
_SOME_DIGITS = 1e-3
# Windows with a relative error above this are garbage: jump this many levels.
_NO_DIGITS = 0.1
_JUMP = 8
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
    h = relative_step(x, eps, _BASE_POWER) if step is None else _validate.positive_float(
        step, "step"
    )
    return x, representable_step(x, h), eps


def _call(f: Callable[[Any], Any], t: float) -> float:
    """``float(f(t))``, or nan when ``f`` is undefined there.

    Undefined: ``f`` raises ``ArithmeticError``/``ValueError``, returns nan/inf,
    or returns a complex number (``(-2.0) ** 0.5`` in Python).
    """
    try:
        r = f(t)
    except (ArithmeticError, ValueError):
        return math.nan
    if type(r) is not float and getattr(r, "size", None) == 1:
        r = r.item()  # numpy scalar, 0-d or 1-element array: no deprecated float(array)
    try:
        y = float(r)
    except (ArithmeticError, ValueError):
        return math.nan
    except TypeError as err:
        if isinstance(r, complex):
            return math.nan
        raise InputError(MSG_F_NOT_SCALAR.format(type(r).__name__)) from err
    return y if math.isfinite(y) else math.nan


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


_SQRT2 = math.sqrt(2.0)

# One level of the ladder: (right step, left step, f(x + right), f(x - left),
# central difference D, rounding noise of D).
_Level = tuple[float, float, float, float, float, float]


class _Window(NamedTuple):
    """The estimate from one window of four consecutive levels."""

    value: float
    error: float  # truncation + rounding
    truncation: float
    rounding: float
    scale: float  # size of the slopes seen: the yardstick when f'(x) = 0
    sane: bool  # the steps resolve f: some digits right, one-sided slopes consistent
    jumpy: bool  # D looks resolved but the one-sided slopes jump (a kink near)
    jump: float  # the jump of the one-sided slopes at x, from two pairs of levels
    jump2: float
    flat: bool  # f took one value at all nine points: nothing resolved below its rounding
    varied: bool  # f differed from f(x) at all eight points (both sides, every level)

    @property
    def relative(self) -> float:
        return self.error / self.scale if self.scale > 0.0 else self.error * math.inf


class _Ladder:
    """Central differences at steps ``h0 * sqrt(2)**j``, evaluated lazily and cached.

    The ratio sqrt(2) (not 2) matters: with doubling steps only, a function
    whose period is close to a step (``sin`` at 1e5 with a step near 2*pi)
    aliases into a smooth-looking sequence D(h), D(2h), D(4h), ... that
    extrapolates consistently to a wrong value.  Interleaving the two
    incommensurate sub-ladders breaks that.
    """

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
        self.cache: dict[int, _Level | None] = {}

    def step(self, j: int) -> float:
        """The nominal step of level j (before it is made representable)."""
        return math.ldexp(self.h0 * _SQRT2 if j & 1 else self.h0, j >> 1)

    def level(self, j: int) -> _Level | None:
        """Level j, or None when f is undefined at x +- its step."""
        if j in self.cache:
            return self.cache[j]
        x = self.x
        s = self.step(j)
        xp = x + s
        xm = x - s
        hp = xp - x
        hm = x - xm
        entry = None
        if 0.0 < hp < math.inf and 0.0 < hm < math.inf:
            fp = _call(self.f, xp)
            self.nfev += 1
            if fp == fp:  # not nan: only then is the other side worth a call
                fm = _call(self.f, xm)
                self.nfev += 1
                if fm == fm:
                    width = hp + hm
                    d = (fp - fm) / width
                    # f off by eps*|f| at each point, plus eps*|t|*|f'| for its
                    # argument rounded on entry (float32 f) or inside f (sin(100*t)).
                    # Each term is scaled on its own: no overflow for |f| near 1e308.
                    eps = self.eps
                    noise = eps * (abs(fp) / width + abs(fm) / width) + eps * abs(d) * (
                        (abs(x) + s) / width
                    )
                    if math.isfinite(d):
                        entry = (hp, hm, fp, fm, d, noise)
        self.cache[j] = entry
        return entry

    def window(self, j: int) -> _Window | None:
        """The estimate from levels j..j+3, or None when f fails at one of them.

        ``value`` extrapolates D through levels j, j+1, j+2 to h = 0 in powers
        of h**2 (the h**2 and h**4 terms removed; error ~ c*t_j*t_j+1*t_j+2 with
        t = h**2); ``value2`` does the same through j+1..j+3, with an error 8
        times larger in the asymptotic regime, so |value - value2| / 7
        estimates the error of ``value``.  The regime is checked one order
        lower (pairwise extrapolations, whose errors shrink 4-fold per level);
        outside it the full difference is taken.  ``scale`` is the size of the
        slopes seen (|value| or the one-sided slopes at the smallest step): the
        yardstick for "large" when the derivative itself is 0.
        """
        # smallest step first, stopping at the first failure (f undefined further out)
        a = self.level(j)
        if a is None:
            return None
        b = self.level(j + 1)
        if b is None:
            return None
        c = self.level(j + 2)
        if c is None:
            return None
        d = self.level(j + 3)
        if d is None:
            return None
        # t = (h / h0)**2: scaled so that it cannot overflow for |x| near 1e308
        u = 0.5 / self.h0
        ta = (u * (a[0] + a[1])) ** 2
        tb = (u * (b[0] + b[1])) ** 2
        tc = (u * (c[0] + c[1])) ** 2
        td = (u * (d[0] + d[1])) ** 2
        da, db, dc, dd = a[4], b[4], c[4], d[4]
        # Lagrange weights at t = 0 (8/3, -2, 1/3 for t doubling per level).
        la = tb * tc / ((ta - tb) * (ta - tc))
        lb = ta * tc / ((tb - ta) * (tb - tc))
        lc = ta * tb / ((tc - ta) * (tc - tb))
        value = la * da + lb * db + lc * dc
        mb = tc * td / ((tb - tc) * (tb - td))
        mc = tb * td / ((tc - tb) * (tc - td))
        md = tb * tc / ((td - tb) * (td - tc))
        value2 = mb * db + mc * dc + md * dd
        r_ab = (tb * da - ta * db) / (tb - ta)
        r_bc = (tc * db - tb * dc) / (tc - tb)
        r_cd = (td * dc - tc * dd) / (td - tc)
        diff = abs(value - value2)
        asymptotic = abs(r_bc - r_cd) >= 2.0 * abs(r_ab - r_bc)
        truncation = _TRUNCATION_SAFETY * diff / 7.0 if asymptotic else diff
        noise = abs(la) * a[5] + abs(lb) * b[5] + abs(lc) * c[5]
        rounding = _ROUNDING_ULPS * noise + self.eps * abs(value)
        error = truncation + rounding
        f0 = self.f0
        scale = max(abs(value), abs(a[2] - f0) / a[0], abs(f0 - a[3]) / a[1])
        # Sane (the steps resolve f): some digits of the value right, relative to
        # the value itself (not to the one-sided slopes, which straddling a pole
        # makes huge), or the truncation already under the rounding noise ...
        sane = error <= _SOME_DIGITS * abs(value) or truncation <= rounding
        # ... and the one-sided slopes look smooth too: their gap extrapolates to
        # ~0 (|J| < |J - J2| for a smooth f, see _jumps).  A kink inside the
        # window but not at x (|x - c| < h) averages out of D and leaves D
        # smooth, yet its one-sided slopes jump.  The central error enters (4x)
        # as an empirical measure of f's noise.
        jump, jump2, noise = _jumps(f0, a, b, c, d, self.eps)
        jumpy = sane and abs(jump) > 2.0 * (abs(jump - jump2) + noise) + 4.0 * error
        flat = f0 == a[2] == a[3] == b[2] == b[3] == c[2] == c[3] == d[2] == d[3]
        varied = f0 != a[2] and f0 != a[3] and f0 != d[2] and f0 != d[3]
        sane = sane and not jumpy
        return _Window(
            value, error, truncation, rounding, scale, sane, jumpy, jump, jump2, flat, varied
        )


def _central(
    f: Callable[[Any], Any], x: float, h0: float, eps: float, nfev0: int
) -> Estimate:
    f0 = _call(f, x)
    if f0 != f0:
        return Estimate(math.nan, math.inf, nfev0 + 1, False, h0, status=STATUS_FAILED)
    ladder = _Ladder(f, x, f0, h0, eps)
    ladder.nfev = nfev0 + 1

    # First window: levels 0..3, moved below any level where f fails.
    j = 0
    first = None
    while j >= -_MAX_LEVELS_DOWN:
        first = ladder.window(j)
        if first is not None:
            break
        j = next(i for i in range(j, j + 4) if ladder.cache.get(i, 0) is None) - 4
    if first is None:
        return Estimate(math.nan, math.inf, ladder.nfev, False, h0, status=STATUS_FAILED)

    # A kink already plain at the first steps needs no step search: the central
    # difference there is no derivative anyway.
    if _is_kink(ladder, j, first):
        return _finish(ladder, j, first, kink=True)
    windows = {j: first}
    kink_at = None
    default = representable_step(x, relative_step(x, eps, _BASE_POWER))
    if first.flat and h0 < default:
        # f took one value at all nine points of a step given smaller than the
        # default: constant to its rounding there (log(1 + exp(t)) at t = -20
        # and step 1e-9), or constant.  Start again from the default step.
        return _central(f, x, default, eps, ladder.nfev)
    if not first.sane or first.truncation > max(
        first.rounding, _TARGET * eps * first.scale
    ):
        kink_at = _search(ladder, windows, j, -1)
    elif first.scale > 0.0 and first.error > _UP_TRIGGER * eps * first.scale:
        # rounding dominates and is large: a larger step lowers it
        _search(ladder, windows, j, +1)
    if kink_at is not None:
        return _finish(ladder, kink_at, windows[kink_at], kink=True)
    best_j, best = _select(windows)
    # The first window was tested for a kink already (no need to repeat).
    return _finish(ladder, best_j, best, kink=False if best_j == j else None)


def _search(
    ladder: _Ladder, windows: dict[int, _Window], j: int, direction: int
) -> int | None:
    """Walk the ladder one level at a time from window ``j``, adding to ``windows``.

    Stops when the truncation part drops under the rounding part or under
    ``_TARGET * eps * scale`` (going down), when the relative error has not
    improved for four levels down (two up) since the first sane window, or at
    the ladder's end.  While the windows are not sane (the step is far too
    large for f), it jumps down 8 levels (a factor 16) at a time.  Going
    down, a window that fails the smoothness of its one-sided slopes is
    tested for a kink (a small jump hides behind curvature at large steps);
    the window where a kink is confirmed is returned, else None.
    """
    eps = ladder.eps
    limit = -_MAX_LEVELS_DOWN if direction < 0 else _MAX_LEVELS_UP
    patience = 4 if direction < 0 else 2
    current = windows[j]
    best = math.inf
    worse = 0
    confirmed = direction > 0  # going up, we start from a sane window
    while (j > limit) if direction < 0 else (j < limit):
        jumped = direction < 0 and not current.sane and not current.relative <= _NO_DIGITS
        j = max(j - _JUMP, limit) if jumped else j + direction
        est = ladder.window(j)
        if est is None:
            if direction > 0:
                break  # f undefined further out: stay below
            continue  # a failing level further in: keep shrinking past it
        previous = None if jumped else windows.get(j - direction)
        windows[j] = current = est
        if direction < 0 and not est.sane and _is_kink(ladder, j, est):
            return j
        if direction < 0 and est.flat:
            break  # f is constant to its rounding here: smaller steps see even less
        # Two adjacent sane windows: the steps resolve f (one alone may be luck).
        if est.sane and previous is not None and previous.sane:
            confirmed = True
        if not confirmed:
            if est.truncation <= est.rounding:
                worse += 1  # noise floor without a sane window: f is too noisy
        elif est.sane and est.relative < best:
            best, worse = est.relative, 0
        elif not est.jumpy:
            worse += 1  # past the optimum: rounding noise grows as the step shrinks
        # (jumpy windows do not count: smaller steps will show the kink, or pass it)
        if (
            direction < 0
            and confirmed
            and not est.jumpy
            and est.truncation <= max(est.rounding, _TARGET * eps * est.scale)
        ):
            # One window more, below: its error floors this one's in _select, in
            # case f is noisier than the rounding model knows (log(1 + t) rounds
            # 1 + t) and this window's small truncation was luck.
            below = ladder.window(j - 1)
            if below is not None:
                windows[j - 1] = below
            break
        if worse >= patience:
            break
    return None


def _select(windows: dict[int, _Window]) -> tuple[int, _Window]:
    """The sane window with the smallest relative error, judged with its neighbour.

    In the rounding-noise regime a window's own error estimate is itself noisy,
    and the minimum over many windows would pick a lucky one.  The noise of
    window j is sqrt(2)**(i - j) times that of window i, so the median of
    ``err[i] * sqrt(2)**(i - j)`` over the smaller-step windows i < j is a
    noise-robust floor (in the truncation regime err[i] is far below err[j]
    and changes nothing).  Likewise ``err[j+1] / 8`` is a floor from the
    truncation side.  Without
    any sane window, the least bad one is kept (its status says inaccurate).
    """
    if len(windows) == 1:
        return next(iter(windows.items()))
    best_j, best, best_key = 0, None, (3, math.inf)
    # A flat window below windows where f varied on both sides is f quantized
    # coarser than its own ulp (log(1 + exp(t)) at t = -20 rounds 1 + exp(t)): it
    # says 0 with no basis.  (Next to a kink, max(t, 0) at -1e-3, the windows
    # reaching across it vary on one side only, and flat is right.)
    varied = any(w.varied for w in windows.values())
    for j, est in windows.items():
        if not est.sane or (est.flat and varied):
            rank = 2
        elif len(windows) == 1 or any(
            w is not None and w.sane for w in (windows.get(j - 1), windows.get(j + 1))
        ):
            rank = 0  # sane, and so is a neighbour (or nothing else was needed)
        else:
            rank = 1  # an isolated sane window may be luck
        # The noise each smaller-step window implies at this step (noise ~ 1/h);
        # their median is a robust floor under this window's own estimate.
        implied = sorted(
            w.error * _SQRT2 ** (i - j) for i, w in windows.items() if i < j
        )
        floor = implied[len(implied) // 2] if implied else 0.0
        # Truncation shrinks at most 8-fold per level: a window far better than
        # its larger-step neighbour allows is lucky, not accurate.
        above = windows.get(j + 1)
        if above is not None:
            floor = max(floor, above.error / 8.0)
        if floor > est.error:
            est = est._replace(error=floor)
        key = (rank, est.relative)
        if key < best_key or best is None:
            best_j, best, best_key = j, est, key
    assert best is not None
    return best_j, best


def _levels(ladder: _Ladder, j: int) -> tuple[_Level, _Level, _Level, _Level]:
    """The four (already evaluated, finite) levels of window j."""
    cache = ladder.cache
    a, b, c, d = cache[j], cache[j + 1], cache[j + 2], cache[j + 3]
    assert a is not None and b is not None and c is not None and d is not None
    return a, b, c, d


def _is_kink(ladder: _Ladder, j: int, est: _Window) -> bool:
    """A kink at x: the jump test passes on window j and on window j - 1, alike.

    Confirming at the next smaller step (two more evaluations, only when the
    first test passes) makes a chance pass on unresolved steps (sin at 1e5
    with h ~ 1000: random slopes that happen to line up) vanishingly rare.
    """
    if not _jump_test(ladder, j, est):
        return False
    below = ladder.window(j - 1)
    if below is None:
        return True  # f undefined at the smaller step: the test above stands
    return _jump_test(ladder, j - 1, below) and (
        abs(est.jump - below.jump) * _KINK_FACTOR < abs(est.jump)
    )


def _jumps(
    f0: float, a: _Level, b: _Level, c: _Level, d: _Level, eps: float
) -> tuple[float, float, float]:
    """The jump of the one-sided slopes at x, extrapolated twice, and its noise.

    gap(h) = right slope - left slope = J + alpha*h + O(h**2) at a kink, but
    has only odd powers of h (f2*h + f4*h**3/12, fk the k-th derivative) for
    a smooth f.  The jump J is extrapolated to h = 0 twice, from levels
    (a, c) and from (b, d) (steps doubling): at a kink both give J (they
    differ by O(h**2)); for a smooth f they are -6b*h**3 and -17b*h**3
    (b = f4/12), which differ by more than either, whatever the step.
    """
    ga = (a[2] - f0) / a[0] - (f0 - a[3]) / a[1]
    gb = (b[2] - f0) / b[0] - (f0 - b[3]) / b[1]
    gc = (c[2] - f0) / c[0] - (f0 - c[3]) / c[1]
    gd = (d[2] - f0) / d[0] - (f0 - d[3]) / d[1]
    sa, sb = 0.5 * (a[0] + a[1]), 0.5 * (b[0] + b[1])
    sc, sd = 0.5 * (c[0] + c[1]), 0.5 * (d[0] + d[1])
    jump = extrapolate_linear(sa, ga, sc, gc)
    jump2 = extrapolate_linear(sb, gb, sd, gd)
    f0 = abs(f0)
    noise = (
        eps
        * _ROUNDING_ULPS
        * (2.0 * (abs(a[2]) + abs(a[3]) + 2.0 * f0) / sa + (abs(c[2]) + abs(c[3]) + 2.0 * f0) / sc)
    )
    return jump, jump2, noise


def _jump_test(ladder: _Ladder, j: int, est: _Window) -> bool:
    """The one-sided slope test on window j (levels j..j+3).

    A kink: the jump J (see :func:`_jumps`) is consistent across the window
    and far exceeds the central estimate's error and the one-sided slopes'
    error (which includes their rounding noise).  A smooth f never passes.
    """
    jump, spread, error = abs(est.jump), abs(est.jump - est.jump2), est.error
    if not jump > _KINK_FACTOR * (spread + error):
        return False
    # Both one-sided slopes must be resolved too (a step far too large for f
    # gives random slopes, and now and then a random "jump").
    _, _, sided_error, _ = _one_sided(ladder, j)
    return jump > _KINK_FACTOR * (sided_error + spread + error)


def _one_sided(ladder: _Ladder, j: int) -> tuple[float, float, float, float]:
    """Right and left slopes at h = 0 (linear term removed), and two errors.

    The first error (for the kink test) is the difference between the
    extrapolations from levels (j, j+2) and (j+1, j+3), twice its asymptotic
    share, plus rounding.  The second (reported at a kink, where the slopes
    must be covered, not just estimated) adds a quarter of the linear
    correction itself: the extrapolation may not be asymptotic yet at the
    steps of a kink found early.
    """
    f0 = ladder.f0
    a, b, c, d = _levels(ladder, j)
    r_a, l_a = (a[2] - f0) / a[0], (f0 - a[3]) / a[1]
    right = extrapolate_linear(a[0], r_a, c[0], (c[2] - f0) / c[0])
    right2 = extrapolate_linear(b[0], (b[2] - f0) / b[0], d[0], (d[2] - f0) / d[0])
    left = extrapolate_linear(a[1], l_a, c[1], (f0 - c[3]) / c[1])
    left2 = extrapolate_linear(b[1], (f0 - b[3]) / b[1], d[1], (f0 - d[3]) / d[1])
    noise = ladder.eps * _ROUNDING_ULPS * (
        2.0 * (abs(a[2]) + abs(a[3]) + 2.0 * abs(f0)) / a[0]
        + (abs(c[2]) + abs(c[3]) + 2.0 * abs(f0)) / c[0]
    )
    error = abs(right - right2) + abs(left - left2) + noise
    cautious = error + 0.25 * (abs(right - r_a) + abs(left - l_a))
    return right, left, error, cautious


def _finish(ladder: _Ladder, j: int, best: _Window, kink: bool | None = None) -> Estimate:
    """Run the kink test on the kept window (unless done) and build the Estimate."""
    value, error = best.value, best.error
    if kink is None:
        kink = _is_kink(ladder, j, best)
    right, left, _, sided_error = _one_sided(ladder, j)
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
    step = _levels(ladder, j)[0][0]
    return Estimate(
        value, error, ladder.nfev, kink, step, left=left, right=right, status=status
    )
