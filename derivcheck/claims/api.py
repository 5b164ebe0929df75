"""Check hand-derived derivative claims: SymPy decides, central differences witness.

:func:`check_derivative`, :func:`check_gradient` and :func:`check_claim`
return a :class:`~derivcheck.claims.report.ClaimReport` whose verdict is one of
(DESIGN.md, "Verdicts"):

- PROVEN: SymPy's derivative minus the claim is symbolically zero (or zero
  except at kinks);
- CONFIRMED: no proof within the budget, but the claim equals SymPy's
  derivative to 30 digits at many sampled points and central differences of
  the function agree with SymPy there;
- REFUTED: a point where the claim differs from SymPy's derivative;
- INCONCLUSIVE: no valid point, or SymPy and central differences disagree.

A claim with placeholders (``f(x)``, ``g(x)``) is a rule: it is proved
symbolically where SymPy can, and checked on several concrete choices of the
functions either way.

>>> check_derivative("3*(2*x**2)**5", "960*x**9", wrt="x").verdict
<Verdict.PROVEN: 'proven'>
>>> check_claim("d/dx x^x = x*x^(x - 1)").verdict
<Verdict.REFUTED: 'refuted'>
"""

from __future__ import annotations

import math
import numbers
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import mpmath
import sympy as sp

from derivcheck.claims import report, sampling, symbolic
from derivcheck.claims.parse import expression as parse
from derivcheck.claims.report import ClaimReport, Verdict
from derivcheck.errors import InputError
from derivcheck.fd import scalar as numeric

__all__ = ["check_claim", "check_derivative", "check_gradient"]

#: seconds a claim may take before slow symbolic steps are skipped
DEFAULT_BUDGET = 3.0
#: concrete instantiations of a rule's placeholders (unproven / proven rule)
N_INSTANTIATIONS = 4
N_INSTANTIATIONS_PROVEN = 2
#: further instantiations tried when some have no valid point
N_EXTRA_INSTANTIATIONS = 4
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


# --------------------------------------------------------------------- validation


def _validate_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InputError(report.MSG_SEED.format(got=repr(seed)))
    return int(seed)


def _validate_budget(budget: Any) -> float:
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not (
        math.isfinite(budget) and budget > 0
    ):
        raise InputError("`budget` must be a positive finite number of seconds.")
    return float(budget)


def _resolve_wrt(expr: sp.Expr, wrt: Any) -> sp.Symbol:
    if wrt is None:
        free = sorted(expr.free_symbols, key=lambda s: s.name)
        if len(free) == 1:
            return free[0]
        if not free:
            raise InputError(report.MSG_WRT_NO_SYMBOLS)
        raise InputError(
            report.MSG_WRT_MISSING.format(count=len(free), names=", ".join(s.name for s in free))
        )
    if not isinstance(wrt, (str, sp.Symbol)):
        raise InputError(report.MSG_WRT_NOT_SYMBOL.format(got=repr(wrt)))
    return parse.parse_symbol(wrt, what="wrt")


def _symbols(wrt: sp.Symbol, *exprs: sp.Expr) -> list[sp.Symbol]:
    """`wrt` first, then the other free symbols by name (the counterexample's order)."""
    others = {s for e in exprs for s in e.free_symbols if s != wrt}
    return [wrt, *sorted(others, key=lambda s: s.name)]


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
class _Judgement:
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


def _float(v: Any) -> float:
    return float(mpmath.mpf(v))


def _judge(
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
) -> _Judgement:
    """Compare one placeholder-free claim with SymPy's derivative and the numeric witness."""
    remaining = max(deadline - time.perf_counter(), 0.05)
    undefined = [e for e in (expr, expected, claimed) if e.has(sp.zoo, sp.nan)]
    if undefined:
        return _Judgement(
            verdict=Verdict.INCONCLUSIVE,
            reason=report.MSG_UNDEFINED.format(expr=report.format_expr(undefined[0])),
        )
    try:
        eq = symbolic.decide_equal(
            expected, claimed, symbols, seed=seed, domain=domain, budget=remaining,
            also=[expr], n_points=N_POINTS, n_points_proven=N_POINTS_PROVEN,
        )
    except (NotImplementedError, NameError) as exc:  # no printer / no numeric function
        error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return _Judgement(
            verdict=Verdict.INCONCLUSIVE, reason=report.MSG_CANNOT_EVALUATE.format(error=error)
        )
    if proven is None and eq.proven:
        proven = (eq.kind, eq.method)
    f = _Function(expr, symbols) if eq.points else None
    j = _Judgement(verdict=Verdict.INCONCLUSIVE, points=len(eq.points))

    if eq.kind == "different" and eq.witness is not None and eq.witness_values is not None:
        i = eq.witness_index if eq.witness_index is not None else 0
        exp_v, claim_v = (_float(v) for v in eq.witness_values)
        near = eq.near_kink[i] if i < len(eq.near_kink) else False
        w = _witness(None if near else f, eq.witness, wrt, symbols, exp_v)
        j.point, j.expected_value, j.claimed_value = eq.witness, exp_v, claim_v
        j.numeric_value, j.numeric_error = w.value, w.error
        j.points, j.failed = len(eq.points), max(eq.differing, 1)
        j.witnessed = int(w.usable)
        if w.disagrees:
            j.reason = report.MSG_ENGINES_DISAGREE.format(
                point=report.format_point(eq.witness), inst=inst_text,
                exact=report.format_number(exp_v), numeric=report.format_number(w.value),
                error=f"{w.error:.1g}",
            )
            return j
        j.verdict = Verdict.REFUTED
        j.reason = report.MSG_REFUTED.format(point=report.format_point(eq.witness), inst=inst_text)
        return j

    near_kink = eq.near_kink or [False] * len(eq.points)
    for point, (exp_mp, claim_mp), near in zip(eq.points, eq.values, near_kink, strict=True):
        exp_v = _float(exp_mp)
        w = _witness(None if near else f, point, wrt, symbols, exp_v)
        if w.disagrees:
            j.point, j.expected_value, j.claimed_value = point, exp_v, _float(claim_mp)
            j.numeric_value, j.numeric_error = w.value, w.error
            j.reason = report.MSG_ENGINES_DISAGREE.format(
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
            j.reason = report.MSG_REFUTED.format(point=report.format_point(point), inst=inst_text)
            return j
    if proven is not None:
        j.verdict = Verdict.PROVEN
        j.method = proven[1]
        template = report.MSG_PROVEN_KINKS if proven[0] == "equal_except_at_kinks" else (
            report.MSG_PROVEN
        )
        j.reason = template.format(method=proven[1])
        return j
    if len(eq.points) < MIN_POINTS_CONFIRM:
        j.reason = report.MSG_TOO_FEW_POINTS.format(found=len(eq.points), wanted=MIN_POINTS_CONFIRM)
        return j
    if j.witnessed == 0:
        j.reason = report.MSG_NO_WITNESS.format(points=len(eq.points))
        return j
    j.verdict = Verdict.CONFIRMED
    j.method = eq.method
    j.reason = report.MSG_CONFIRMED.format(
        dps=symbolic.DPS, points=len(eq.points), kinks=" clear of kinks" if eq.kinks else "",
        witnessed=j.witnessed,
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



def _kink_notes(expr: sp.Expr, expected: sp.Expr, claimed: sp.Expr, wrt: sp.Symbol) -> list[str]:
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


# ---------------------------------------------------------------------- the checks


def _check_one(
    expr: sp.Expr,
    claimed: sp.Expr,
    wrt: sp.Symbol,
    *,
    domain: Mapping[Any, Any] | None,
    seed: int,
    budget: float,
    text: str | None,
) -> ClaimReport:
    deadline = time.perf_counter() + budget
    symbols = _symbols(wrt, expr, claimed)
    sampling.validate_domain(domain, symbols)
    expected = symbolic.derivative(expr, wrt)
    funcs = symbolic.placeholders(expr) + [
        fn for fn in symbolic.placeholders(claimed) if fn not in symbolic.placeholders(expr)
    ]
    funcs = sorted(set(funcs), key=str)

    def build(j: _Judgement, notes: list[str]) -> ClaimReport:
        return ClaimReport(
            verdict=j.verdict, expr=expr, claimed=claimed, wrt=wrt, expected=expected,
            counterexample=j.point if j.verdict is not Verdict.PROVEN else None,
            instantiation=j.instantiation if j.point is not None else None,
            claimed_value=j.claimed_value, expected_value=j.expected_value,
            numeric_value=j.numeric_value, numeric_error=j.numeric_error,
            points_checked=j.points, points_failed=j.failed, kink_notes=notes,
            reason=j.reason, seed=seed,
            text=text, method=j.method, witness_points=j.witnessed,
        )

    if not funcs:
        j = _judge(expr, expected, claimed, wrt, symbols, domain=domain, seed=seed,
                   deadline=deadline, proven=None)
        refuted = j.verdict is Verdict.REFUTED
        notes = [] if refuted else _kink_notes(expr, expected, claimed, wrt)
        return build(j, notes)

    # a rule: prove it for every f, g, ... if SymPy can; test concrete choices either way
    proof = symbolic.prove_zero(expected - claimed, deadline=deadline)
    rng = random.Random(f"derivcheck-instantiations:{seed}")
    n_inst = N_INSTANTIATIONS_PROVEN if proof else N_INSTANTIATIONS
    total = _Judgement(verdict=Verdict.PROVEN if proof else Verdict.CONFIRMED)
    used: list[str] = []
    skipped: _Judgement | None = None
    # an instantiation with no valid point (sqrt(f(x)) with f = -...) says nothing
    # about the rule: try another, a few times
    for n in range(n_inst + N_EXTRA_INSTANTIATIONS):
        if len(used) >= n_inst or (n > 0 and time.perf_counter() > deadline):
            break
        order = list(range(len(symbolic.INSTANTIATIONS)))
        rng.shuffle(order)
        choice = {fn: order[i % len(order)] for i, fn in enumerate(funcs)}
        names = {str(fn): symbolic.INSTANTIATIONS[c][0] for fn, c in choice.items()}
        inst_text = " with " + report.format_instantiation(names)
        i_expr = symbolic.instantiate(expr, choice)
        i_expected = symbolic.instantiate(expected, choice)
        i_claimed = symbolic.instantiate(claimed, choice)
        j = _judge(i_expr, i_expected, i_claimed, wrt, symbols, domain=domain,
                   seed=seed + n, deadline=deadline, proven=proof, inst_text=inst_text)
        j.instantiation = names
        total.points += j.points
        total.witnessed += j.witnessed
        if j.verdict is Verdict.INCONCLUSIVE and j.point is None:
            skipped = j
            continue
        if j.verdict in (Verdict.REFUTED, Verdict.INCONCLUSIVE):
            j.points, j.witnessed = total.points, total.witnessed
            return build(j, [])
        used.append(report.format_instantiation(names))
    if not used:
        assert skipped is not None
        skipped.reason = report.MSG_NO_INSTANTIATION.format(reason=skipped.reason)
        return build(skipped, [])
    if proof:
        template = report.MSG_PROVEN_KINKS if proof[0] == "equal_except_at_kinks" else (
            report.MSG_PROVEN
        )
        total.method = proof[1]
        total.reason = template.format(method=proof[1]) + report.MSG_PROVEN_RULE.format(
            names=", ".join(str(fn) for fn in funcs)
        )
    else:
        total.method = f"{symbolic.DPS}-digit evaluation"
        total.reason = report.MSG_CONFIRMED.format(
            dps=symbolic.DPS, points=total.points, kinks="", witnessed=total.witnessed
        ) + report.MSG_CONFIRMED_RULE.format(choices="; ".join(used))
    return build(total, [])


def check_derivative(
    expr: str | sp.Expr,
    claimed: str | sp.Expr,
    wrt: str | sp.Symbol | None = None,
    *,
    domain: Mapping[Any, tuple[float, float]] | None = None,
    seed: int = 0,
    budget: float = DEFAULT_BUDGET,
    text: str | None = None,
) -> ClaimReport:
    """Check that `claimed` is the derivative of `expr` with respect to `wrt`.

    Parameters
    ----------
    expr, claimed : str or sympy.Expr
        The function and its claimed derivative, in the claim syntax
        (``docs/claim-syntax.md``) or as SymPy expressions.  Names called like
        functions that are not known functions are placeholders (a rule).
    wrt : str or sympy.Symbol, optional
        The variable; may be omitted only when `expr` has one free symbol.
    domain : dict, optional
        ``{name: (lo, hi)}`` boxes to sample from instead of the default
        mix of scales (|x| from 1e-2 to 1e2, both signs).
    seed : int
        Seed of the sample points (printed in the report).
    budget : float
        Seconds after which slow symbolic steps are skipped.
    text : str, optional
        The claim's text, shown in the report.

    Returns
    -------
    ClaimReport
        ``.ok``, ``.verdict``, ``.counterexample``, ``.expected``; ``print()`` it.

    Raises
    ------
    InputError
        Unparseable text, a missing or ambiguous `wrt`, a bad `seed`.
    DomainError
        A malformed `domain`.

    Examples
    --------
    >>> r = check_derivative("x**2", "2*x + 1e-9", wrt="x")
    >>> r.verdict, r.ok
    (<Verdict.REFUTED: 'refuted'>, False)
    >>> check_derivative("max(x, y)", "1(x > y)", wrt="x").kink_notes
    ["at x = y (a kink) the claim takes 0; SymPy's convention gives 1/2"]
    >>> check_derivative("log(x)", "1/x", domain={"x": (-2, -1)}).verdict
    <Verdict.INCONCLUSIVE: 'inconclusive'>
    """
    seed = _validate_seed(seed)
    budget = _validate_budget(budget)
    e = parse.parse_expression(expr, what="expression")
    c = parse.parse_expression(claimed, what="claimed")
    w = _resolve_wrt(e, wrt)
    return _check_one(e, c, w, domain=domain, seed=seed, budget=budget, text=text)


def check_gradient(
    expr: str | sp.Expr,
    claimed: Sequence[str | sp.Expr] | Mapping[Any, str | sp.Expr],
    wrt: Sequence[str | sp.Symbol],
    *,
    domain: Mapping[Any, tuple[float, float]] | None = None,
    seed: int = 0,
    budget: float = DEFAULT_BUDGET,
) -> ClaimReport:
    """Check every partial derivative of `expr` at once.

    Parameters
    ----------
    expr : str or sympy.Expr
        The function.
    claimed : list or dict
        The claimed partial derivatives, in the order of `wrt`, or a dict
        ``{variable: component}``.
    wrt : list of str or sympy.Symbol
        The variables.
    domain, seed, budget
        As in :func:`check_derivative`.

    Returns
    -------
    ClaimReport
        ``components`` holds one report per variable; the verdict is the worst
        of theirs (REFUTED, then INCONCLUSIVE, CONFIRMED, PROVEN), and the
        counterexample is the first worst component's.

    Raises
    ------
    InputError
        `claimed` and `wrt` of different lengths, unknown or missing names.

    Examples
    --------
    >>> g = check_gradient("2*x + 3*y**2", ["2", "6*y"], ["x", "y"])
    >>> g.verdict, [c.verdict.value for c in g.components]
    (<Verdict.PROVEN: 'proven'>, ['proven', 'proven'])
    >>> check_gradient("x*y", {"x": "y", "y": "y"}, ["x", "y"]).counterexample is not None
    True
    """
    seed = _validate_seed(seed)
    budget = _validate_budget(budget)
    e = parse.parse_expression(expr, what="expression")
    if isinstance(wrt, (str, sp.Symbol)) or not isinstance(wrt, Sequence):
        raise InputError(report.MSG_WRT_LIST.format(got=repr(wrt)))
    if len(wrt) == 0:
        raise InputError(report.MSG_WRT_EMPTY)
    variables = [_resolve_wrt(e, w) for w in wrt]
    names = [v.name for v in variables]
    for name in names:
        if names.count(name) > 1:
            raise InputError(report.MSG_WRT_DUPLICATE.format(name=name))
    if isinstance(claimed, Mapping):
        by_name = {}
        for key, comp in claimed.items():
            key_name = key.name if isinstance(key, sp.Symbol) else str(key)
            if key_name not in names:
                raise InputError(
                    report.MSG_CLAIMED_UNKNOWN.format(name=key_name, names=", ".join(names))
                )
            by_name[key_name] = comp
        for name in names:
            if name not in by_name:
                raise InputError(report.MSG_CLAIMED_MISSING.format(name=name))
        components_in = [by_name[n] for n in names]
    elif isinstance(claimed, (list, tuple)):
        if len(claimed) != len(variables):
            raise InputError(
                report.MSG_CLAIMED_LENGTH.format(
                    got=len(claimed), want=len(variables), names=", ".join(names)
                )
            )
        components_in = list(claimed)
    else:
        raise InputError(report.MSG_CLAIMED_TYPE.format(got=repr(claimed)))
    parsed = [parse.parse_expression(c, what="claimed") for c in components_in]
    per_budget = budget / len(variables)
    comps = [
        _check_one(e, c, v, domain=domain, seed=seed, budget=per_budget, text=None)
        for c, v in zip(parsed, variables, strict=True)
    ]
    worst = max(comps, key=lambda r: report.VERDICT_RANK[r.verdict])
    return ClaimReport(
        verdict=worst.verdict, expr=e, claimed=parsed, wrt=tuple(variables),
        expected=[c.expected for c in comps], counterexample=worst.counterexample,
        instantiation=worst.instantiation, claimed_value=worst.claimed_value,
        expected_value=worst.expected_value, numeric_value=worst.numeric_value,
        numeric_error=worst.numeric_error,
        points_checked=sum(c.points_checked for c in comps),
        points_failed=sum(c.points_failed for c in comps),
        kink_notes=[n for c in comps for n in c.kink_notes],
        reason=f"d/d{worst.wrt}: {worst.reason}", seed=seed, components=comps,
        method=worst.method, witness_points=sum(c.witness_points for c in comps),
    )


def check_claim(
    text: str,
    *,
    domain: Mapping[Any, tuple[float, float]] | None = None,
    seed: int = 0,
    budget: float = DEFAULT_BUDGET,
) -> ClaimReport:
    """Check a claim written ``d/dx EXPR = CLAIM`` (or ``∂/∂x EXPR = CLAIM``).

    Parameters
    ----------
    text : str
        The claim (syntax in ``docs/claim-syntax.md``).
    domain, seed, budget
        As in :func:`check_derivative`.

    Returns
    -------
    ClaimReport

    Raises
    ------
    InputError
        Text that is not a claim; nothing in it is ever run.

    Examples
    --------
    >>> check_claim("d/dx f(x)*g(x) = f'(x)*g(x) + f(x)*g'(x)").verdict
    <Verdict.PROVEN: 'proven'>
    >>> r = check_claim("d/dx f(x)/g(x) = (f'(x)*g(x) + f(x)*g'(x))/g(x)^2")
    >>> r.verdict, sorted(r.instantiation)
    (<Verdict.REFUTED: 'refuted'>, ['f', 'g'])
    """
    seed = _validate_seed(seed)
    budget = _validate_budget(budget)
    claim = parse.parse_claim(text)
    return _check_one(
        claim.expr, claim.claimed, claim.wrt, domain=domain, seed=seed, budget=budget,
        text=claim.text,
    )
