"""The scalar face's step ladder: central differences at steps ``h0 * sqrt(2)**j``,
windows of four levels with Richardson extrapolation and an error estimate, the
step search, and the one-sided kink test.  Plain floats and :mod:`math` only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

from derivcheck.errors import InputError
from derivcheck.fd.steps import extrapolate_linear

MSG_F_NOT_SCALAR = "`f` must return a real number, not {}."

# The ladder's base step is eps**BASE_POWER * max(1, |x|): the optimum for an
# extrapolation with an O(h**6) truncation error (measured in bench/numeric.py).
BASE_POWER = 1.0 / 7.0
# Rounding: each evaluation of f is taken to be off by up to this many ulps.
ROUNDING_ULPS = 2.0
# Truncation: |value - value2| / 7 is the asymptotic error of value; this factor
# keeps the estimate honest when the next term is not yet negligible.
TRUNCATION_SAFETY = 2.0
# The step search walks at most this many sqrt(2)-levels below / above the base.
MAX_LEVELS_DOWN = 80
MAX_LEVELS_UP = 8
# Search down while the truncation part exceeds TARGET * eps * |slope| (and the
# rounding part); search up while rounding dominates and the error exceeds
# UP_TRIGGER * eps * |slope|.
TARGET = 64.0
# The search stops past the optimum only once some window has this relative
# accuracy; before that the step is far too large and the errors are garbage.
SOME_DIGITS = 1e-3
# Windows with a relative error above this are garbage: jump this many levels.
NO_DIGITS = 0.1
JUMP = 8
UP_TRIGGER = 1e4
# Kink: the extrapolated jump must exceed its own uncertainty by this factor.
KINK_FACTOR = 8.0

SQRT2 = math.sqrt(2.0)


# One level of the ladder: (right step, left step, f(x + right), f(x - left),
# central difference D, rounding noise of D).
Level = tuple[float, float, float, float, float, float]


class Window(NamedTuple):
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


class Ladder:
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
        self.cache: dict[int, Level | None] = {}

    def step(self, j: int) -> float:
        """The nominal step of level j (before it is made representable)."""
        return math.ldexp(self.h0 * SQRT2 if j & 1 else self.h0, j >> 1)

    def level(self, j: int) -> Level | None:
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
            fp = call_f(self.f, xp)
            self.nfev += 1
            if fp == fp:  # not nan: only then is the other side worth a call
                fm = call_f(self.f, xm)
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

    def window(self, j: int) -> Window | None:
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
        truncation = TRUNCATION_SAFETY * diff / 7.0 if asymptotic else diff
        noise = abs(la) * a[5] + abs(lb) * b[5] + abs(lc) * c[5]
        rounding = ROUNDING_ULPS * noise + self.eps * abs(value)
        error = truncation + rounding
        f0 = self.f0
        scale = max(abs(value), abs(a[2] - f0) / a[0], abs(f0 - a[3]) / a[1])
        # Sane (the steps resolve f): some digits of the value right, relative to
        # the value itself (not to the one-sided slopes, which straddling a pole
        # makes huge), or the truncation already under the rounding noise ...
        sane = error <= SOME_DIGITS * abs(value) or truncation <= rounding
        # ... and the one-sided slopes look smooth too: their gap extrapolates to
        # ~0 (|J| < |J - J2| for a smooth f, see jumps).  A kink inside the
        # window but not at x (|x - c| < h) averages out of D and leaves D
        # smooth, yet its one-sided slopes jump.  The central error enters (4x)
        # as an empirical measure of f's noise.
        jump, jump2, noise = jumps(f0, a, b, c, d, self.eps)
        jumpy = sane and abs(jump) > 2.0 * (abs(jump - jump2) + noise) + 4.0 * error
        flat = f0 == a[2] == a[3] == b[2] == b[3] == c[2] == c[3] == d[2] == d[3]
        varied = f0 != a[2] and f0 != a[3] and f0 != d[2] and f0 != d[3]
        sane = sane and not jumpy
        return Window(
            value, error, truncation, rounding, scale, sane, jumpy, jump, jump2, flat, varied
        )


def search(
    ladder: Ladder, windows: dict[int, Window], j: int, direction: int
) -> int | None:
    """Walk the ladder one level at a time from window ``j``, adding to ``windows``.

    Stops when the truncation part drops under the rounding part or under
    ``TARGET * eps * scale`` (going down), when the relative error has not
    improved for four levels down (two up) since the first sane window, or at
    the ladder's end.  While the windows are not sane (the step is far too
    large for f), it jumps down 8 levels (a factor 16) at a time.  Going
    down, a window that fails the smoothness of its one-sided slopes is
    tested for a kink (a small jump hides behind curvature at large steps);
    the window where a kink is confirmed is returned, else None.
    """
    eps = ladder.eps
    limit = -MAX_LEVELS_DOWN if direction < 0 else MAX_LEVELS_UP
    patience = 4 if direction < 0 else 2
    current = windows[j]
    best = math.inf
    worse = 0
    confirmed = direction > 0  # going up, we start from a sane window
    while (j > limit) if direction < 0 else (j < limit):
        jumped = direction < 0 and not current.sane and not current.relative <= NO_DIGITS
        j = max(j - JUMP, limit) if jumped else j + direction
        est = ladder.window(j)
        if est is None:
            if direction > 0:
                break  # f undefined further out: stay below
            continue  # a failing level further in: keep shrinking past it
        previous = None if jumped else windows.get(j - direction)
        windows[j] = current = est
        if direction < 0 and not est.sane and is_kink(ladder, j, est):
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
            and est.truncation <= max(est.rounding, TARGET * eps * est.scale)
        ):
            # One window more, below: its error floors this one's in select, in
            # case f is noisier than the rounding model knows (log(1 + t) rounds
            # 1 + t) and this window's small truncation was luck.
            below = ladder.window(j - 1)
            if below is not None:
                windows[j - 1] = below
            break
        if worse >= patience:
            break
    return None


def select(windows: dict[int, Window]) -> tuple[int, Window]:
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
            w.error * SQRT2 ** (i - j) for i, w in windows.items() if i < j
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


def levels(ladder: Ladder, j: int) -> tuple[Level, Level, Level, Level]:
    """The four (already evaluated, finite) levels of window j."""
    cache = ladder.cache
    a, b, c, d = cache[j], cache[j + 1], cache[j + 2], cache[j + 3]
    assert a is not None and b is not None and c is not None and d is not None
    return a, b, c, d


def is_kink(ladder: Ladder, j: int, est: Window) -> bool:
    """A kink at x: the jump test passes on window j and on window j - 1, alike.

    Confirming at the next smaller step (two more evaluations, only when the
    first test passes) makes a chance pass on unresolved steps (sin at 1e5
    with h ~ 1000: random slopes that happen to line up) vanishingly rare.
    """
    if not jump_test(ladder, j, est):
        return False
    below = ladder.window(j - 1)
    if below is None:
        return True  # f undefined at the smaller step: the test above stands
    return jump_test(ladder, j - 1, below) and (
        abs(est.jump - below.jump) * KINK_FACTOR < abs(est.jump)
    )


def jumps(
    f0: float, a: Level, b: Level, c: Level, d: Level, eps: float
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
        * ROUNDING_ULPS
        * (2.0 * (abs(a[2]) + abs(a[3]) + 2.0 * f0) / sa + (abs(c[2]) + abs(c[3]) + 2.0 * f0) / sc)
    )
    return jump, jump2, noise


def jump_test(ladder: Ladder, j: int, est: Window) -> bool:
    """The one-sided slope test on window j (levels j..j+3).

    A kink: the jump J (see :func:`jumps`) is consistent across the window
    and far exceeds the central estimate's error and the one-sided slopes'
    error (which includes their rounding noise).  A smooth f never passes.
    """
    jump, spread, error = abs(est.jump), abs(est.jump - est.jump2), est.error
    if not jump > KINK_FACTOR * (spread + error):
        return False
    # Both one-sided slopes must be resolved too (a step far too large for f
    # gives random slopes, and now and then a random "jump").
    _, _, sided_error, _ = one_sided(ladder, j)
    return jump > KINK_FACTOR * (sided_error + spread + error)


def one_sided(ladder: Ladder, j: int) -> tuple[float, float, float, float]:
    """Right and left slopes at h = 0 (linear term removed), and two errors.

    The first error (for the kink test) is the difference between the
    extrapolations from levels (j, j+2) and (j+1, j+3), twice its asymptotic
    share, plus rounding.  The second (reported at a kink, where the slopes
    must be covered, not just estimated) adds a quarter of the linear
    correction itself: the extrapolation may not be asymptotic yet at the
    steps of a kink found early.
    """
    f0 = ladder.f0
    a, b, c, d = levels(ladder, j)
    r_a, l_a = (a[2] - f0) / a[0], (f0 - a[3]) / a[1]
    right = extrapolate_linear(a[0], r_a, c[0], (c[2] - f0) / c[0])
    right2 = extrapolate_linear(b[0], (b[2] - f0) / b[0], d[0], (d[2] - f0) / d[0])
    left = extrapolate_linear(a[1], l_a, c[1], (f0 - c[3]) / c[1])
    left2 = extrapolate_linear(b[1], (f0 - b[3]) / b[1], d[1], (f0 - d[3]) / d[1])
    noise = ladder.eps * ROUNDING_ULPS * (
        2.0 * (abs(a[2]) + abs(a[3]) + 2.0 * abs(f0)) / a[0]
        + (abs(c[2]) + abs(c[3]) + 2.0 * abs(f0)) / c[0]
    )
    error = abs(right - right2) + abs(left - left2) + noise
    cautious = error + 0.25 * (abs(right - r_a) + abs(left - l_a))
    return right, left, error, cautious


def call_f(f: Callable[[Any], Any], t: float) -> float:
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
