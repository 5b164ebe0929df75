"""Seeded sample points in the real domain of expressions, clear of kinks and poles.

Each variable is drawn by stratified rejection: |x| log-uniform over
[1e-2, 1e2] with both signs (24 strata of a third of a decade each, visited
in a seeded random order, so every 24 candidates cover every scale and sign),
rounded to three significant digits so counterexamples read well.  A point is
kept only when every expression is real and finite there (float64 first, to
reject overflow cheaply, then mpmath at 30 digits) and the point is clear of
every kink by 1e-3 relative to its size.  When too few points are found,
wider scales (1e-4 to 1e6) are tried.  A user ``domain`` ``{"x": (lo, hi)}``
replaces the default for that variable.  :func:`draw` can add *switch
points* between and beyond the places where kinks switch, so that narrow
branches are visited too.

>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> points = draw([sp.log(x)], [x], n=5, seed=0).points
>>> len(points), all(p["x"] > 0 for p in points)
(5, True)
>>> draw([sp.log(x)], [x], n=5, seed=0, domain={"x": (-2, -1)}).points
[]
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath
import sympy as sp

from derivcheck.claims import report, roots, symbolic
from derivcheck.errors import DomainError

__all__ = ["Draw", "draw", "validate_domain"]

_STRATA = 24
_DEFAULT_LOG10 = (-2.0, 2.0)
_WIDE_LOG10 = (-4.0, 6.0)
# candidates drawn from the default scales before wider scales are tried
_DEFAULT_CYCLES = 2
# a point must be this far from a kink, relative to max(1, |point|): well beyond
# the central-difference steps (about 6e-6 relative) of the numeric witness
KINK_CLEARANCE = 1e-3


@dataclass
class Draw:
    """Sampled points and the expressions' values there.

    Attributes
    ----------
    points : list of dict
        name -> float, one dict per point.
    values : list of tuple
        The expressions' values (real ``mpf`` at 30 digits) at each point.
    tried : int
        Candidates drawn.
    reason : str
        Why fewer points than asked for were found ("" when all were found).
    near_kink : list of bool
        Per point: closer to a kink than central differences may go (only
        switch points, see :func:`draw`); compare values there, do not
        differentiate numerically.
    """

    points: list[dict[str, float]] = field(default_factory=list)
    values: list[tuple[Any, ...]] = field(default_factory=list)
    tried: int = 0
    reason: str = ""
    near_kink: list[bool] = field(default_factory=list)


def validate_domain(
    domain: Mapping[Any, Any] | None, symbols: Sequence[sp.Symbol]
) -> dict[str, tuple[float, float]]:
    """Check a user domain and return it as ``{name: (lo, hi)}`` with float bounds.

    Raises
    ------
    DomainError
        When `domain` is not a mapping, names an unknown variable, or a bound
        pair is not ``(lo, hi)`` with finite ``lo < hi``.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> validate_domain({"x": (0, 1)}, [x])
    {'x': (0.0, 1.0)}
    >>> validate_domain({"x": (1, 0)}, [x])
    Traceback (most recent call last):
    ...
    derivcheck.errors.DomainError: `domain['x']` must be a pair (lo, hi) of finite numbers ...
    """
    if domain is None:
        return {}
    if not isinstance(domain, Mapping):
        raise DomainError(report.msg_domain_not_mapping(got=repr(domain)))
    names = [str(s) for s in symbols]
    result: dict[str, tuple[float, float]] = {}
    for key, bounds in domain.items():
        name = str(key)
        if name not in names:
            raise DomainError(
                report.msg_domain_unknown(name=name, names=", ".join(names) or "(none)")
            )
        try:
            lo, hi = bounds
            lo_f, hi_f = float(lo), float(hi)
        except (TypeError, ValueError):
            message = report.msg_domain_bounds(name=name, got=repr(bounds))
            raise DomainError(message) from None
        if not (math.isfinite(lo_f) and math.isfinite(hi_f) and lo_f < hi_f):
            raise DomainError(report.msg_domain_bounds(name=name, got=repr(bounds)))
        result[name] = (lo_f, hi_f)
    return result


class _Axis:
    """Stratified candidate values for one variable."""

    def __init__(self, rng: random.Random, bounds: tuple[float, float] | None) -> None:
        self.rng = rng
        self.bounds = bounds
        self.order: list[int] = []

    def _stratum(self) -> int:
        if not self.order:
            self.order = list(range(_STRATA))
            self.rng.shuffle(self.order)
        return self.order.pop()

    def value(self, cycle: int) -> float:
        stratum = self._stratum()
        jitter = self.rng.uniform(0.05, 0.95)
        if self.bounds is None:
            lo10, hi10 = _DEFAULT_LOG10 if cycle < _DEFAULT_CYCLES else _WIDE_LOG10
            half = _STRATA // 2
            sign = 1.0 if stratum < half else -1.0
            w = ((stratum % half) + jitter) / half
            return _round3(sign * 10.0 ** (lo10 + (hi10 - lo10) * w), None)
        lo, hi = self.bounds
        u = (stratum + jitter) / _STRATA
        if lo * hi > 0 and max(abs(lo), abs(hi)) / min(abs(lo), abs(hi)) >= 100:
            a, b = sorted((math.log10(abs(lo)), math.log10(abs(hi))))
            v = math.copysign(10.0 ** (a + (b - a) * u), lo)
        else:
            v = lo + (hi - lo) * u
        return _round3(v, self.bounds)


def _round3(v: float, bounds: tuple[float, float] | None) -> float:
    """`v` with three significant digits (more inside a narrow domain), for readable reports."""
    # default scales: 3 digits; a user interval: fine enough for ~10^4 distinct values
    tolerance = 1e-2 * abs(v) if bounds is None else 1e-4 * (bounds[1] - bounds[0])
    for digits in range(3, 17):
        r = float(f"{v:.{digits}g}")
        if r != 0.0 and abs(r - v) <= tolerance and (
            bounds is None or bounds[0] < r < bounds[1]
        ):
            return r
    return v


class _KinkGuard:
    """Rejects points within KINK_CLEARANCE of a kink (distance ~ |k| / |grad k|)."""

    def __init__(self, kinks: Sequence[sp.Expr], symbols: Sequence[sp.Symbol]) -> None:
        self.n = len(kinks)
        self.fn = None
        self.single: list[Any] = []
        if not kinks:
            return
        grads = [sp.diff(k, s) for k in kinks for s in symbols]
        self.nsym = len(symbols)
        self.fn = symbolic.float_function([*kinks, *grads], symbols)
        self.kinks = list(kinks)
        self.symbols = list(symbols)

    def clear(self, args: Sequence[float], threshold: float) -> bool:
        if self.fn is None:
            return True
        try:
            flat = [float(v) for v in self.fn(*args)]
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            return self._clear_one_by_one(args, threshold)
        return self._check(flat, threshold)

    def _check(self, flat: Sequence[float], threshold: float) -> bool:
        for j in range(self.n):
            k = flat[j]
            g = flat[self.n + j * self.nsym : self.n + (j + 1) * self.nsym]
            if not math.isfinite(k):
                continue
            norm = math.sqrt(sum(x * x for x in g if math.isfinite(x)))
            if abs(k) <= 1e-12 * max(1.0, norm):
                return False
            if norm > 0 and abs(k) / norm < threshold:
                return False
        return True

    def _clear_one_by_one(self, args: Sequence[float], threshold: float) -> bool:
        if not self.single:
            self.single = [
                symbolic.float_function([k, *[sp.diff(k, s) for s in self.symbols]], self.symbols)
                for k in self.kinks
            ]
        for fn in self.single:
            try:
                flat = [float(v) for v in fn(*args)]
            except (ValueError, ZeroDivisionError, OverflowError, TypeError):
                continue  # this kink is off the real domain here
            k, g = flat[0], flat[1:]
            norm = math.sqrt(sum(x * x for x in g if math.isfinite(x)))
            if abs(k) <= 1e-12 * max(1.0, norm) or (norm > 0 and abs(k) / norm < threshold):
                return False
        return True


def _switch_candidates(
    kinks: Sequence[sp.Expr],
    symbols: Sequence[sp.Symbol],
    base: tuple[float, ...],
    bounds: Mapping[str, tuple[float, float]],
) -> list[tuple[float, ...]]:
    """Points that differ from `base` in one variable: between consecutive switch
    values of that variable (solved by :func:`~derivcheck.claims.roots.switch_roots`,
    linear or not), and beyond the first and the last."""
    values = dict(zip(symbols, base, strict=True))
    out: list[tuple[float, ...]] = []
    for i, v in enumerate(symbols):
        switches: set[float] = set()
        for k in kinks:
            switches.update(roots.switch_roots(k, v, values))
        if not switches:
            continue
        ordered = sorted(switches)
        lo_hi = bounds.get(str(v))
        targets: list[tuple[float, tuple[float, float] | None]] = [
            (ordered[0] - max(1.0, abs(ordered[0])) / 2, None),
            (ordered[-1] + max(1.0, abs(ordered[-1])) / 2, None),
        ]
        targets += [((a + b) / 2, (a, b)) for a, b in itertools.pairwise(ordered)]
        for target, between in targets:
            if lo_hi is not None and not lo_hi[0] < target < lo_hi[1]:
                continue
            value = _round3(target, between if between is not None else lo_hi)
            out.append(tuple(value if j == i else base[j] for j in range(len(base))))
    return out


def _float_status(fn: Any, args: Sequence[float]) -> str:
    """``"ok"``; ``"overflow"`` when float64 overflows (the point is evaluated in mpmath
    alone: ``exp(x)`` at x = 850 is a real number); ``"bad"`` when it divides by zero,
    leaves the real domain or is not finite for another reason.

    A complex intermediate (``exp(I*x)``, which :mod:`math` rejects with a
    ``TypeError``) is left for mpmath to judge.
    """
    try:
        values = fn(*args)
    except OverflowError:
        return "overflow"
    except (ValueError, ArithmeticError):
        return "bad"
    except TypeError:
        return "ok"
    for v in values:
        if isinstance(v, (int, float)) and not math.isfinite(v):
            return "overflow" if math.isinf(v) else "bad"
    return "ok"


def draw(
    exprs: Sequence[sp.Expr],
    symbols: Sequence[sp.Symbol],
    *,
    n: int,
    seed: int = 0,
    domain: Mapping[Any, Any] | None = None,
    kinks: Sequence[sp.Expr] | None = None,
    deadline: float | None = None,
    max_tries: int | None = None,
    switch_points: bool = False,
    soft_kinks: Sequence[sp.Expr] = (),
) -> Draw:
    """Draw up to `n` points where every expression is real, finite and clear of kinks.

    Returns the seeded points, the expressions' 30-digit values at the
    points (so callers need not evaluate again), the number of
    candidates tried and, when fewer than `n` points were found, the reason.
    `kinks` defaults to the kink sets of `exprs`; `deadline` is a
    ``time.perf_counter()`` value after which drawing stops.  With
    `switch_points`, a few points are added beyond `n`: between and beyond the
    places where the kinks switch along each variable (solved where a kink is
    linear in it, the other variables as at the first point), so that every
    branch of a ``Piecewise`` or ``max`` is visited, however narrow.
    `soft_kinks` are switches that only need to be missed exactly (those of a
    claim, evaluated exactly at 30 digits), not kept clear of like `kinks`
    (those of the function, where central differences must not straddle).

    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> d = draw([sp.sqrt(x), sp.Abs(x - 1)], [x], n=4, seed=1)
    >>> len(d.points), all(p["x"] > 0 and abs(p["x"] - 1) > 1e-3 for p in d.points)
    (4, True)
    """
    # Long on purpose: one rejection-sampling loop; its counters (tried, rejected at kinks, per-
    # stratum state) are shared by every rejection reason.
    symbols = list(symbols)
    bounds = validate_domain(domain, symbols)
    if kinks is None:
        kinks = sorted({k for e in exprs for k in symbolic.kink_set(e)}, key=sp.default_sort_key)
    evaluate = symbolic.mp_function(list(exprs), symbols)
    evaluate_float = symbolic.float_function(list(exprs), symbols)
    guard = _KinkGuard(kinks, symbols)
    soft_guard = _KinkGuard(soft_kinks, symbols)
    names = [str(s) for s in symbols]
    # one independent stream per variable (string seeds hash the same in every process)
    axes = [
        _Axis(random.Random(f"derivcheck:{seed}:{i}"), bounds.get(name))
        for i, name in enumerate(names)
    ]
    widths = [hi - lo for lo, hi in bounds.values()]
    min_width = min(widths) if widths else math.inf
    if max_tries is None:
        max_tries = 20 * n + 4 * _STRATA * _DEFAULT_CYCLES
    out = Draw()
    rejected_domain = rejected_kink = 0
    seen: set[tuple[float, ...]] = set()
    counts = {"domain": 0, "kink": 0}

    def accept(args: tuple[float, ...], *, near_ok: bool = False) -> tuple[Any, ...] | None:
        scale = max(1.0, *map(abs, args))
        threshold = min(KINK_CLEARANCE * scale, 1e-2 * min_width)
        if near_ok:  # a switch point: only exactly on a kink is out
            threshold = 1e-12 * scale
        if not guard.clear(args, threshold) or not soft_guard.clear(args, 1e-12 * scale):
            counts["kink"] += 1
            return None
        # float64 first: cheap, and it rejects what is off the real domain; where float64
        # only overflows, mpmath decides (it refuses exp(exp(exp(100))) at once)
        if _float_status(evaluate_float, args) == "bad":
            counts["domain"] += 1
            return None
        with mpmath.workdps(symbolic.DPS):
            try:
                raw = evaluate(*[mpmath.mpf(a) for a in args])
            except (ValueError, ArithmeticError, TypeError, MemoryError):
                counts["domain"] += 1
                return None
            vals = tuple(symbolic.to_real(v) for v in raw)
        if any(v is None for v in vals):
            counts["domain"] += 1
            return None
        return vals

    attempts = 0
    while len(out.points) < n and out.tried < max_tries and attempts < 4 * max_tries:
        if deadline is not None and time.perf_counter() > deadline and out.points:
            break
        cycle = attempts // _STRATA
        attempts += 1
        args = tuple(axis.value(cycle) for axis in axes)
        if args in seen:  # rounding can repeat a point; repeats are not tries
            continue
        seen.add(args)
        out.tried += 1
        vals = accept(args)
        if vals is not None:
            out.points.append(dict(zip(names, args, strict=True)))
            out.values.append(vals)
            out.near_kink.append(False)
    if switch_points and out.points and (kinks or soft_kinks):
        base = tuple(out.points[0][name] for name in names)
        for args in _switch_candidates([*kinks, *soft_kinks], symbols, base, bounds):
            if args in seen:
                continue
            seen.add(args)
            vals = accept(args, near_ok=True)
            if vals is not None:
                threshold = min(KINK_CLEARANCE * max(1.0, *map(abs, args)), 1e-2 * min_width)
                out.points.append(dict(zip(names, args, strict=True)))
                out.values.append(vals)
                out.near_kink.append(not guard.clear(args, threshold))
    rejected_domain, rejected_kink = counts["domain"], counts["kink"]
    if len(out.points) < n:
        where = ", ".join(f"{k} in ({lo:g}, {hi:g})" for k, (lo, hi) in bounds.items())
        out.reason = report.no_points_reason(
            found=len(out.points),
            wanted=n,
            tried=out.tried,
            rejected_domain=rejected_domain,
            rejected_kink=rejected_kink,
            where=where,
        )
    return out
