"""Equality and verdicts: is SymPy's derivative the claim, and what may be said?

:func:`decide_equal` compares two placeholder-free expressions: ``expand`` and a
bounded ``simplify`` may prove them equal; otherwise both are evaluated at
seeded points (:mod:`~derivcheck.claims.sampling`) at 30 digits, and a
difference is confirmed at 60.  :func:`judge` turns that outcome and the
numeric witness (central differences of the function, :mod:`derivcheck.fd`)
into a verdict with its reason.  Depends on symbolic and sampling, never the
other way round.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath
import sympy as sp

from derivcheck.claims import report, sampling, symbolic
from derivcheck.claims.report import Verdict
from derivcheck.fd import scalar as numeric

__all__ = ["Equality", "Judgement", "decide_equal", "judge", "kink_notes", "values_differ"]

#: points compared without / with a proof (the latter feed the numeric witness only)
N_POINTS = 24
N_POINTS_PROVEN = 6
#: fewest points that may confirm a claim without a proof
MIN_POINTS_CONFIRM = 3
#: the numeric witness disagrees when off by more than this many error estimates
WITNESS_ERROR_FACTOR = 10.0
WITNESS_ULPS = 4.0
#: ... and is confirmed by mpmath's differences at 30 digits off by more than this
WITNESS_MP_RTOL = 1e-12
MAX_KINK_NOTES = 4


# -------------------------------------------------------------------- equality

#: relative difference that makes two 30-digit values a candidate difference: exact
#: inputs (every decimal the parser reads is exact) / inputs holding binary floats
RTOL_EXACT = mpmath.mpf("1e-20")
RTOL_INEXACT = mpmath.mpf("1e-13")
#: a confirmed difference must exceed the measured rounding of the 30-digit values by this
ROUNDING_MARGIN = 100
#: a point is informative when it could have shown a relative difference this small
INFORMATIVE_RTOL = mpmath.mpf("1e-12")


@dataclass
class Equality:
    """The outcome of :func:`decide_equal`.

    Attributes
    ----------
    kind : str
        ``"equal"``, ``"equal_except_at_kinks"``, ``"different"`` or ``"undecided"``.
    proven : bool
        True when a symbolic step showed it; False when only sampled points agree.
    method : str
        The step that decided (``"expand"``, ``"simplify"``, ``"30-digit sampling"``, ...).
    points : list of dict
        The sampled points (name -> float) where both sides were compared.
    values : list of tuple
        ``(a, b)`` at each point, as mpmath numbers.
    witness : dict or None
        A point where the sides differ (for ``"different"``).
    witness_values : tuple or None
        ``(a, b)`` at the witness, as mpmath numbers at 60 digits.
    reason : str
        For ``"undecided"``: why no decision was possible.
    kinks : list
        The kink set of both sides.
    witness_index : int or None
        The index of the witness in `points`.
    differing : int
        How many of `points` the sides differ at (at 30 digits).
    tried : int
        Candidate points drawn.
    near_kink : list of bool
        Per point: a switch point too close to a kink for central differences.
    informative : int
        Points where the comparison could have seen a relative difference (not
        two exact zeros, not a cancellation down to the rounding).
    """

    kind: str
    proven: bool = False
    method: str = ""
    points: list[dict[str, float]] = field(default_factory=list)
    values: list[tuple[Any, Any]] = field(default_factory=list)
    witness: dict[str, float] | None = None
    witness_values: tuple[Any, Any] | None = None
    reason: str = ""
    kinks: list[sp.Expr] = field(default_factory=list)
    differing: int = 0
    witness_index: int | None = None
    tried: int = 0
    near_kink: list[bool] = field(default_factory=list)
    informative: int = 0
    rtol: float = 1e-20


def _has_float(exprs: Iterable[sp.Expr]) -> bool:
    return any(e.has(sp.Float) for e in exprs)


def values_differ(a: Any, b: Any, *, inexact: bool) -> bool:
    """Do two 30-digit values differ, relative to their own size?

    Purely relative: a derivative of size 1e-23 is compared as carefully as one
    of size 1 (no absolute floor that would let tiny values always agree).
    Exact inputs use 1e-20 relative; inputs that carry binary floats use 1e-13
    (SymPy's float arithmetic rounds at about 1e-16), still tight enough to
    refute a 1e-9 near miss.  Two exact zeros never differ.  A candidate
    difference is confirmed (or dismissed as rounding) by
    :func:`_confirm_difference` at 60 digits.

    >>> import mpmath
    >>> values_differ(mpmath.mpf("2e-23"), mpmath.mpf("1.38e-23"), inexact=False)
    True
    >>> values_differ(mpmath.mpf(1), mpmath.mpf(1) + mpmath.mpf("1e-25"), inexact=False)
    False
    """
    rtol = RTOL_INEXACT if inexact else RTOL_EXACT
    return bool(abs(a - b) > rtol * max(abs(a), abs(b)))


def decide_equal(
    a: sp.Expr,
    b: sp.Expr,
    symbols: Sequence[sp.Symbol],
    *,
    seed: int = 0,
    domain: Mapping[Any, Any] | None = None,
    budget: float = 3.0,
    also: Sequence[sp.Expr] = (),
    n_points: int = 24,
    n_points_proven: int = 6,
) -> Equality:
    """Decide whether `a` and `b` are equal as real functions of `symbols`.

    Parameters
    ----------
    a, b : sympy.Expr
        Expressions without placeholders (instantiate rules first).
    symbols : sequence of sympy.Symbol
        Every free symbol of both sides, in a fixed order.
    seed : int
        Seed for the sample points.
    domain : dict, optional
        ``{name: (lo, hi)}`` boxes overriding the default mix of scales.
    budget : float
        Seconds after which slow symbolic steps are skipped.
    also : sequence of sympy.Expr
        Further expressions that must be real and finite (and clear of
        kinks) at every sampled point, e.g. the function being differentiated.
    n_points, n_points_proven : int
        Points to compare when no proof was found / after a proof.

    Returns
    -------
    Equality

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> decide_equal(sp.sin(2 * x), 2 * sp.sin(x) * sp.cos(x), [x]).kind
    'equal'
    >>> outcome = decide_equal(2 * x, 2 * x + sp.Float("1e-9"), [x])
    >>> outcome.kind, sorted(outcome.witness)
    ('different', ['x'])
    >>> decide_equal(sp.log(x), 2 * sp.log(x), [x], domain={"x": (-2, -1)}).kind
    'undecided'
    """
    start = time.perf_counter()
    deadline = start + budget
    symbols = list(symbols)
    kinks_of = symbolic.kink_set
    own = {k for e in also for k in kinks_of(e)} if also else set(kinks_of(a) + kinks_of(b))
    switches = sorted((set(kinks_of(a)) | set(kinks_of(b))) - own, key=sp.default_sort_key)
    hard = sorted(own, key=sp.default_sort_key)
    kinks = sorted(own | set(switches), key=sp.default_sort_key)
    proof = symbolic.prove_zero(a - b, deadline=deadline, allow_simplify=False)
    exprs = [a, b, *also]
    n = n_points_proven if proof else n_points
    # the function's kinks are kept clear of (central differences must not straddle
    # them); switches only the two sides have are merely missed exactly
    draw = sampling.draw(
        exprs, symbols, n=n, seed=seed, domain=domain, kinks=hard, deadline=deadline,
        switch_points=True, soft_kinks=switches,
    )
    outcome = Equality(kind="undecided", kinks=kinks, tried=draw.tried, reason=draw.reason)
    outcome.points = draw.points
    outcome.values = [(v[0], v[1]) for v in draw.values]
    outcome.near_kink = list(draw.near_kink)
    if not draw.points:
        if proof:
            outcome.kind, outcome.method = proof
            outcome.proven = True
        return outcome
    # the sampled values are compared even after a proof: a point where they differ
    # (at 30 and at 60 digits) outranks a proof, which could only come from a bug
    inexact = _has_float([a, b])
    outcome.rtol = float(RTOL_INEXACT if inexact else RTOL_EXACT)
    differing = [
        i for i, (va, vb) in enumerate(outcome.values) if values_differ(va, vb, inexact=inexact)
    ]
    # two exact zeros at 30 digits are re-evaluated too: a genuine zero stays 0 at 60
    # digits (and counts), a cancellation or an underflow does not (and shows nothing)
    zeros = [i for i, (va, vb) in enumerate(outcome.values) if va == 0 and vb == 0]
    informative = set(range(len(outcome.values)))
    # of the points where the claim fails, show the easiest to read: coordinates
    # closest to magnitude 1 (x = 1.3 rather than x = 32.2 or x = -0.0395)
    differing.sort(key=lambda i: _readability(draw.points[i]))
    confirmed_count = 0
    # without a proof the verdict rests on the points: every one is re-evaluated, so
    # that only points able to show a relative difference of 1e-12 confirm the claim
    others = [] if proof else [i for i in range(len(outcome.values)) if i not in set(differing)]
    fn60 = symbolic.mp_function([a, b, symbolic.term_scale(a), symbolic.term_scale(b)], symbols)
    for i in differing + (others if not proof else zeros):
        confirmed, seen = _confirm_difference(
            fn60, symbols, draw.points[i], outcome.values[i], inexact=inexact
        )
        if confirmed is not None:
            confirmed_count += 1
            if outcome.witness is None:
                outcome.kind = "different"
                outcome.method = f"{symbolic.DPS}-digit evaluation"
                outcome.witness = draw.points[i]
                outcome.witness_values = confirmed
                outcome.witness_index = i
        elif not seen:
            informative.discard(i)
    outcome.informative = len(informative)
    if outcome.witness is not None:
        outcome.differing = confirmed_count
        return outcome
    if proof:
        outcome.kind, outcome.method = proof
        outcome.proven = True
        return outcome
    outcome.kind = "equal"
    outcome.method = f"{symbolic.DPS}-digit evaluation"
    if time.perf_counter() < deadline:
        late = symbolic.prove_zero(a - b, deadline=deadline, allow_simplify=True)
        if late:
            outcome.kind, outcome.method = late
            outcome.proven = True
    return outcome


def _readability(point: dict[str, float]) -> float:
    """How far the point's coordinates are from magnitude 1 (smaller reads better)."""
    return max((abs(math.log10(abs(v))) for v in point.values() if v), default=0.0)


def _confirm_difference(
    fn: Callable[..., tuple[Any, ...]],
    symbols: Sequence[sp.Symbol],
    point: dict[str, float],
    first: tuple[Any, Any],
    *,
    inexact: bool,
) -> tuple[tuple[Any, Any] | None, bool]:
    """Re-evaluate ``fn`` (both sides) at 60 digits: ``(both values, True)`` when they differ,
    beyond the rounding of the 30-digit values measured against the 60-digit ones;
    otherwise ``(None, informative)``, where `informative` says whether the comparison
    at this point could have seen a relative difference of 1e-12 (it cannot where
    both sides cancel down to their rounding)."""
    with mpmath.workdps(symbolic.DPS_CONFIRM):
        try:
            args = [mpmath.mpf(point[str(s)]) for s in symbols]
            va, vb, sa, sb = (symbolic.to_real(v) for v in fn(*args))
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            return None, False
        if va is None or vb is None:
            return None, False
        rounding = abs(first[0] - va) + abs(first[1] - vb)
        size = max(abs(va), abs(vb))
        # what cancels below 60 digits is invisible at both precisions (and may look like
        # an exact zero twice): the values must stand clear of their terms' rounding
        terms = max(abs(sa or 0), abs(sb or 0))
        noise = mpmath.mpf(10) ** (10 - symbolic.DPS_CONFIRM) * terms
        floor = (RTOL_INEXACT if inexact else mpmath.mpf(10) ** -40) * size
        if abs(va - vb) > max(floor, ROUNDING_MARGIN * rounding, noise):
            return (va, vb), True
        visible = size > noise or (size == 0 and terms == 0)
        return None, bool(visible and ROUNDING_MARGIN * rounding <= INFORMATIVE_RTOL * size) or (
            size == 0 and terms == 0
        )


# ------------------------------------------------------------------ numeric witness


@dataclass
class _Witness:
    value: float | None = None
    error: float | None = None
    usable: bool = False  # a smooth estimate that counts as a confirmation
    disagrees: bool = False


class _Function:
    """The function being differentiated, as float64 and (built on demand) mpmath code."""

    def __init__(self, expr: sp.Expr, symbols: Sequence[sp.Symbol]) -> None:
        self.expr = expr
        self.symbols = list(symbols)
        self.float = symbolic.float_function(expr, symbols)
        self._mp: Any = None

    def mp_derivative(self, args: Sequence[float], k: int) -> Any:
        """``d/dt f`` along argument `k` by mpmath's own differences at 30 digits, or None."""
        if self._mp is None:
            self._mp = symbolic.mp_function([self.expr], self.symbols)
        mp_args = [mpmath.mpf(a) for a in args]

        def along(t: Any) -> Any:
            vals = list(mp_args)
            vals[k] = t
            return self._mp(*vals)[0]

        with mpmath.workdps(symbolic.DPS):
            try:
                return symbolic.to_real(mpmath.diff(along, mp_args[k]))
            except (ValueError, ArithmeticError, TypeError):
                return None


def _witness(
    fn: _Function | None, point: Mapping[str, float], wrt: sp.Symbol, symbols: Sequence[sp.Symbol],
    expected: float,
) -> _Witness:
    """Central differences of the function along `wrt` at `point`, against SymPy's `expected`.

    A float estimate off by more than its error estimate (x10, plus a few ulps)
    is re-checked by mpmath's own finite differences at 30 digits: float
    rounding inside the function (cancelling terms) can exceed what the
    estimate knows about, and must not be reported as SymPy being wrong.
    """
    if fn is None:
        return _Witness()
    names = [s.name for s in symbols]
    k = names.index(wrt.name)
    args = [point[n] for n in names]
    f = fn.float

    def along(t: float) -> float:
        args_t = list(args)
        args_t[k] = t
        value = f(*args_t)
        if isinstance(value, complex):  # (-2.0) ** 0.5 in Python: off the real domain
            return math.nan
        return float(value)

    try:
        est = numeric.derivative(along, args[k])
        if est.kink:
            # the default steps reach a kink that sampling kept clear of: step well inside
            est = numeric.derivative(along, args[k], step=est.step / 64)
    except (ValueError, ArithmeticError, TypeError):
        return _Witness()
    if est.kink or not math.isfinite(est.value) or not math.isfinite(est.error):
        return _Witness()
    out = _Witness(value=est.value, error=est.error, usable=est.status == "ok")
    tol = WITNESS_ERROR_FACTOR * est.error + WITNESS_ULPS * numeric.EPS_FLOAT64 * max(
        abs(expected), abs(est.value)
    )
    if abs(est.value - expected) <= tol:
        return out
    out.usable = False
    precise = fn.mp_derivative(args, k)
    if precise is not None and abs(precise - mpmath.mpf(expected)) > WITNESS_MP_RTOL * max(
        1, abs(expected)
    ):
        out.disagrees = True
    return out


# ------------------------------------------------------------------------- judging


@dataclass
class Judgement:
    verdict: Verdict
    reason: str = ""
    method: str = ""
    point: dict[str, float] | None = None
    claimed_value: float | None = None
    expected_value: float | None = None
    numeric_value: float | None = None
    numeric_error: float | None = None
    points: int = 0
    failed: int = 0
    witnessed: int = 0
    instantiation: dict[str, str] | None = None
    informative: int = 0  # points that could show a relative difference (see Equality)
    rtol: float = 1e-20  # the relative tolerance the points agree to


def _float(v: Any) -> Any:
    """``v`` as a float, or as the mpmath number itself where float64 cannot hold it
    (``exp(1200)``): a report must not show ``inf`` for a finite value."""
    value = mpmath.mpf(v)
    as_float = float(value)
    if math.isinf(as_float) and mpmath.isfinite(value):
        return value
    return as_float


def judge(
    expr: sp.Expr,
    expected: sp.Expr,
    claimed: sp.Expr,
    wrt: sp.Symbol,
    symbols: Sequence[sp.Symbol],
    *,
    domain: Mapping[Any, Any] | None,
    seed: int,
    deadline: float,
    proven: tuple[str, str] | None,
    inst_text: str = "",
) -> Judgement:
    """Compare one placeholder-free claim with SymPy's derivative and the numeric witness."""
    remaining = max(deadline - time.perf_counter(), 0.05)
    undefined = [e for e in (expr, expected, claimed) if e.has(sp.zoo, sp.nan)]
    if undefined:
        return Judgement(
            verdict=Verdict.INCONCLUSIVE,
            reason=report.msg_undefined(expr=report.format_expr(undefined[0])),
        )
    try:
        eq = decide_equal(
            expected, claimed, symbols, seed=seed, domain=domain, budget=remaining,
            also=[expr], n_points=N_POINTS, n_points_proven=N_POINTS_PROVEN,
        )
    except (NotImplementedError, NameError) as exc:  # no printer / no numeric function
        error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Judgement(
            verdict=Verdict.INCONCLUSIVE, reason=report.msg_cannot_evaluate(error=error)
        )
    if proven is None and eq.proven:
        proven = (eq.kind, eq.method)
    f = _Function(expr, symbols) if eq.points else None
    j = Judgement(verdict=Verdict.INCONCLUSIVE, points=len(eq.points))
    if eq.kind == "different" and eq.witness is not None and eq.witness_values is not None:
        return _judge_difference(j, eq, f, wrt, symbols, inst_text)
    return _judge_agreement(j, eq, f, expr, expected, claimed, wrt, symbols, proven, inst_text)


def _judge_difference(
    j: Judgement,
    eq: Equality,
    f: _Function | None,
    wrt: sp.Symbol,
    symbols: Sequence[sp.Symbol],
    inst_text: str,
) -> Judgement:
    """SymPy's derivative and the claim differ at a witness: refuted, unless the
    numeric witness disagrees with SymPy there (then the engines disagree)."""
    assert eq.witness is not None and eq.witness_values is not None
    i = eq.witness_index if eq.witness_index is not None else 0
    exp_v, claim_v = (_float(v) for v in eq.witness_values)
    near = eq.near_kink[i] if i < len(eq.near_kink) else False
    w = _witness(None if near else f, eq.witness, wrt, symbols, exp_v)
    j.point, j.expected_value, j.claimed_value = eq.witness, exp_v, claim_v
    j.numeric_value, j.numeric_error = w.value, w.error
    j.points, j.failed = len(eq.points), max(eq.differing, 1)
    j.witnessed = int(w.usable)
    if w.disagrees:
        j.reason = report.msg_engines_disagree(
            point=report.format_point(eq.witness), inst=inst_text,
            exact=report.format_number(exp_v), numeric=report.format_number(w.value),
            error=f"{w.error:.1g}",
        )
        return j
    j.verdict = Verdict.REFUTED
    j.reason = report.msg_refuted(point=report.format_point(eq.witness), inst=inst_text)
    return j


def _judge_agreement(
    j: Judgement,
    eq: Equality,
    f: _Function | None,
    expr: sp.Expr,
    expected: sp.Expr,
    claimed: sp.Expr,
    wrt: sp.Symbol,
    symbols: Sequence[sp.Symbol],
    proven: tuple[str, str] | None,
    inst_text: str,
) -> Judgement:
    """SymPy's derivative and the claim agree at every sampled point: proven,
    confirmed, or inconclusive (too few points, no numeric witness, engines disagree)."""
    j.informative, j.rtol = eq.informative, eq.rtol
    near_kink = eq.near_kink or [False] * len(eq.points)
    for point, (exp_mp, claim_mp), near in zip(eq.points, eq.values, near_kink, strict=True):
        exp_v = _float(exp_mp)
        w = _witness(None if near else f, point, wrt, symbols, exp_v)
        if w.disagrees:
            j.point, j.expected_value, j.claimed_value = point, exp_v, _float(claim_mp)
            j.numeric_value, j.numeric_error = w.value, w.error
            j.reason = report.msg_engines_disagree(
                point=report.format_point(point), inst=inst_text,
                exact=report.format_number(exp_v), numeric=report.format_number(w.value),
                error=f"{w.error:.1g}",
            )
            return j
        j.witnessed += int(w.usable)

    if not eq.points:
        j.reason = eq.reason
        return j
    if proven is not None and proven[0] == "equal_except_at_kinks":
        # the rewrite may only move values on kinks of the function itself; a switch
        # that only the claim (or SymPy's form) has is a point where the function is
        # differentiable, so the claim's value there is judged, exactly
        bad = _off_kink_switch(expr, expected, claimed, symbols, eq.points)
        if bad is not None:
            point, exp_v, claim_v = bad
            w = _witness(f, point, wrt, symbols, exp_v)
            j.point, j.expected_value, j.claimed_value = point, exp_v, claim_v
            j.numeric_value, j.numeric_error = w.value, w.error
            j.verdict = Verdict.REFUTED
            j.reason = report.msg_refuted(point=report.format_point(point), inst=inst_text)
            return j
    if proven is not None:
        j.verdict = Verdict.PROVEN
        j.method = proven[1]
        proven_msg = (
            report.msg_proven_kinks if proven[0] == "equal_except_at_kinks" else report.msg_proven
        )
        j.reason = proven_msg(method=proven[1])
        return j
    if eq.informative < MIN_POINTS_CONFIRM:
        if eq.informative < len(eq.points):
            j.reason = report.msg_uninformative(
                points=len(eq.points), informative=eq.informative, wanted=MIN_POINTS_CONFIRM
            )
        else:
            j.reason = report.msg_too_few_points(found=len(eq.points), wanted=MIN_POINTS_CONFIRM)
        return j
    if j.witnessed == 0:
        j.reason = report.msg_no_witness(points=len(eq.points))
        return j
    j.verdict = Verdict.CONFIRMED
    j.method = eq.method
    j.reason = report.msg_confirmed(
        dps=symbolic.DPS, points=eq.informative, kinks=" clear of kinks" if eq.kinks else "",
        witnessed=j.witnessed, rtol=float(eq.rtol), total=len(eq.points),
    )
    return j


# -------------------------------------------------------------------------- kinks


def _off_kink_switch(
    expr: sp.Expr,
    expected: sp.Expr,
    claimed: sp.Expr,
    symbols: Sequence[sp.Symbol],
    points: Sequence[Mapping[str, float]],
) -> tuple[dict[str, float], float, float] | None:
    """A point on a switch of the claim (or of SymPy's derivative) that is not a kink
    of the function, where the two differ exactly; None if there is none.

    Only switches linear in one variable are examined, at up to two sampled points
    (the other variables' values are exact three-digit decimals).
    """
    own = set(symbolic.kink_set(expr))
    extra = [k for k in {*symbolic.kink_set(claimed), *symbolic.kink_set(expected)}
             if k not in own]
    for k in sorted(extra, key=sp.default_sort_key)[:MAX_KINK_NOTES]:
        for v in sorted(k.free_symbols, key=lambda s: s.name):
            root = symbolic.linear_root(k, v)
            if root is None:
                continue
            for point in points[:2]:
                exact = {s: sp.Rational(repr(point[s.name])) for s in symbols if s != v}
                try:
                    at = root.subs(exact)
                    full = {**exact, v: at}
                    a, b = expected.subs(full), claimed.subs(full)
                except (TypeError, ValueError, ZeroDivisionError):
                    continue
                if not all(
                    val.is_number and val.is_finite and not val.has(sp.DiracDelta, sp.nan)
                    for val in (a, b, at)
                ):
                    continue
                # x = max(y, z) is a switch of SymPy's form, and where it meets y = z or
                # x = z it is a kink of the function: never judged there
                if any(sp.N(k.subs(full), 40) == 0 for k in own):
                    continue
                diff = sp.N(a - b, 40)
                if diff.is_number and abs(diff) > sp.Float("1e-25", 40) * max(1, abs(sp.N(a))):
                    where = {s.name: float(full[s]) for s in symbols}
                    return where, float(a), float(b)
            break
    return None



def kink_notes(expr: sp.Expr, expected: sp.Expr, claimed: sp.Expr, wrt: sp.Symbol) -> list[str]:
    """What the claim and SymPy's derivative give on each kink of `expr` along `wrt`."""
    notes: list[str] = []
    for k in symbolic.kink_set(expr):
        if wrt not in k.free_symbols or len(notes) >= MAX_KINK_NOTES:
            continue
        root = symbolic.linear_root(k, wrt)
        if root is None:
            notes.append(report.kink_note(f"{k} = 0", None, None))
            continue
        at = sp.simplify(root) if sp.count_ops(root) < 20 else root
        where = f"{wrt} = {at}"
        try:
            claim_at = claimed.subs(wrt, at)
            exp_at = expected.subs(wrt, at)
        except (TypeError, ValueError):
            claim_at = exp_at = None
        ok = all(
            v is not None
            and v.is_number
            and v.is_finite
            and not v.has(sp.nan, sp.zoo, sp.oo, sp.DiracDelta)
            for v in (claim_at, exp_at)
        )
        notes.append(report.kink_note(where, claim_at if ok else None, exp_at if ok else None))
    return notes
