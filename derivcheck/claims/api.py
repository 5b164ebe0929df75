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

import dataclasses
import difflib
import functools
import itertools
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

import sympy as sp
from sympy.core.function import AppliedUndef

from derivcheck import _validate
from derivcheck._deadline import DeadlineExceeded, deadline
from derivcheck.claims import decide, parse, report, sampling, symbolic
from derivcheck.claims.report import ClaimReport, Verdict
from derivcheck.errors import InputError

__all__ = ["check_claim", "check_derivative", "check_gradient"]

_F = TypeVar("_F", bound=Callable[..., Any])

#: seconds a claim may take before slow symbolic steps are skipped
DEFAULT_BUDGET = 3.0
#: concrete instantiations of a rule's placeholders (unproven / proven rule)
N_INSTANTIATIONS = 4
N_INSTANTIATIONS_PROVEN = 2
#: further instantiations tried when some have no valid point
N_EXTRA_INSTANTIATIONS = 4


# --------------------------------------------------------------------- validation


def _resolve_wrt(expr: sp.Expr, wrt: Any) -> sp.Symbol:
    if wrt is None:
        free = sorted(expr.free_symbols, key=lambda s: s.name)
        if len(free) == 1:
            return free[0]
        if not free:
            raise InputError(report.msg_wrt_no_symbols())
        raise InputError(
            report.msg_wrt_missing(count=len(free), names=", ".join(s.name for s in free))
        )
    if not isinstance(wrt, (str, sp.Symbol)):
        raise InputError(report.msg_wrt_not_symbol(got=repr(wrt)))
    return parse.parse_symbol(wrt, what="wrt")


def _symbols(wrt: sp.Symbol, *exprs: sp.Expr) -> list[sp.Symbol]:
    """`wrt` first, then the other free symbols by name (the counterexample's order)."""
    others = {s for e in exprs for s in e.free_symbols if s != wrt}
    return [wrt, *sorted(others, key=lambda s: s.name)]


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
    # Long on purpose: one claim's whole life (prove the rule, instantiate it, judge each
    # instance, merge the verdicts): the steps share the partial results, and the order is the
    # contract.
    deadline = time.perf_counter() + budget
    symbols = _symbols(wrt, expr, claimed)
    sampling.validate_domain(domain, symbols)
    expected = symbolic.derivative(expr, wrt)
    funcs = symbolic.placeholders(expr) + [
        fn for fn in symbolic.placeholders(claimed) if fn not in symbolic.placeholders(expr)
    ]
    funcs = sorted(set(funcs), key=str)

    def build(j: decide.Judgement, notes: list[str]) -> ClaimReport:
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
        j = decide.judge(expr, expected, claimed, wrt, symbols, domain=domain, seed=seed,
                   deadline=deadline, proven=None)
        refuted = j.verdict is Verdict.REFUTED
        notes = [] if refuted else decide.kink_notes(expr, expected, claimed, wrt)
        return build(j, notes)

    # a rule: prove it for every f, g, ... if SymPy can; test concrete choices either way
    proof = symbolic.prove_zero(expected - claimed, deadline=deadline)
    rng = random.Random(f"derivcheck-instantiations:{seed}")
    n_inst = N_INSTANTIATIONS_PROVEN if proof else N_INSTANTIATIONS
    total = decide.Judgement(verdict=Verdict.PROVEN if proof else Verdict.CONFIRMED)
    used: list[str] = []
    skipped: decide.Judgement | None = None
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
        j = decide.judge(i_expr, i_expected, i_claimed, wrt, symbols, domain=domain,
                   seed=seed + n, deadline=deadline, proven=proof, inst_text=inst_text)
        j.instantiation = names
        total.points += j.points
        total.witnessed += j.witnessed
        total.informative += j.informative
        total.rtol = max(total.rtol, j.rtol)
        if j.verdict is Verdict.INCONCLUSIVE and j.point is None:
            skipped = j
            continue
        if j.verdict in (Verdict.REFUTED, Verdict.INCONCLUSIVE):
            j.points, j.witnessed = total.points, total.witnessed
            return build(j, [])
        used.append(report.format_instantiation(names))
    if not used:
        assert skipped is not None
        skipped.reason = report.msg_no_instantiation(reason=skipped.reason)
        return build(skipped, [])
    if proof:
        proven_msg = (
            report.msg_proven_kinks if proof[0] == "equal_except_at_kinks" else report.msg_proven
        )
        total.method = proof[1]
        total.reason = proven_msg(method=proof[1]) + report.msg_proven_rule(
            names=", ".join(str(fn) for fn in funcs)
        )
    else:
        total.method = f"{symbolic.DPS}-digit evaluation"
        total.reason = report.msg_confirmed(
            dps=symbolic.DPS, points=total.informative, kinks="", witnessed=total.witnessed,
            rtol=total.rtol, total=total.points,
        ) + report.msg_confirmed_rule(choices="; ".join(used))
    return build(total, [])


#: the hard wall-clock bound of a check, after its soft `budget` (the engines check
#: the budget between steps; the bound stops what runs inside SymPy past it)
HARD_BOUND_FACTOR = 1.0
HARD_BOUND_GRACE = 0.5
# what SymPy and mpmath raise on inputs they cannot handle (huge numbers, deep
# nesting, AccumulationBounds, a derivative with respect to a Subs)
_ENGINE_ERRORS = (ArithmeticError, ValueError, TypeError, RecursionError, MemoryError)


def _bounded(check: _F) -> _F:
    """Run a public check within a hard wall-clock bound; what the engines cannot finish
    becomes an inconclusive report that says where it stopped (InputError passes)."""

    @functools.wraps(check)
    def run(*args: Any, **kwargs: Any) -> ClaimReport:
        budget = kwargs.get("budget", DEFAULT_BUDGET)
        bound = HARD_BOUND_FACTOR * _validate.positive_float(budget, "budget") + HARD_BOUND_GRACE
        seed = _validate.seed(kwargs.get("seed", 0))
        texts = [a for a in (*args, *kwargs.values()) if isinstance(a, str)]
        if any(parse.latex.is_latex(t) for t in texts):
            parse.latex.load_parser()  # a one-time import, outside the claim's bound
        try:
            with deadline(bound):
                return check(*args, **kwargs)
        except InputError:
            raise
        except DeadlineExceeded as exc:
            reason = report.msg_stopped(seconds=bound, where=_where(exc))
        except _ENGINE_ERRORS as exc:
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:120]}" if str(
                exc
            ).strip() else type(exc).__name__
            reason = report.msg_cannot_finish(error=error, where=_where(exc))
        return _stopped_report(check.__name__, args, kwargs, reason, seed)

    return cast(_F, run)


def _where(exc: BaseException) -> str:
    """The innermost derivcheck function the exception passed through."""
    import traceback

    frames = [
        f for f in traceback.extract_tb(exc.__traceback__)
        if "derivcheck" in f.filename and "_deadline" not in f.filename
    ]
    if not frames:
        return "SymPy"
    frame = frames[-1]
    module = frame.filename.replace("\\", "/").rsplit("derivcheck/", 1)[-1].removesuffix(".py")
    return f"derivcheck.{module.replace('/', '.')}.{frame.name}"


def _stopped_report(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any], reason: str, seed: int
) -> ClaimReport:
    names = {"check_claim": ("text",), "check_derivative": ("expr", "claimed", "wrt"),
             "check_gradient": ("expr", "claimed", "wrt")}[name]  # fmt: skip
    given = dict(zip(names, args, strict=False)) | {k: v for k, v in kwargs.items() if k in names}
    return ClaimReport(
        verdict=Verdict.INCONCLUSIVE, expr=given.get("expr"), claimed=given.get("claimed"),
        wrt=given.get("wrt"), expected=None, reason=reason, seed=seed, text=given.get("text"),
    )


@_bounded
def check_derivative(
    expr: str | sp.Expr,
    claimed: str | sp.Expr,
    wrt: str | sp.Symbol | None = None,
    *,
    domain: Mapping[Any, tuple[float, float]] | None = None,
    seed: int = 0,
    budget: float = DEFAULT_BUDGET,
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
    seed = _validate.seed(seed)
    budget = _validate.positive_float(budget, "budget")
    e = parse.parse_expression(expr, what="expression")
    c = parse.parse_expression(claimed, what="claimed")
    w = _resolve_wrt(e, wrt)
    return _check_one(e, c, w, domain=domain, seed=seed, budget=budget, text=None)


@_bounded
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
    seed = _validate.seed(seed)
    budget = _validate.positive_float(budget, "budget")
    e = parse.parse_expression(expr, what="expression")
    if isinstance(wrt, (str, sp.Symbol)) or not isinstance(wrt, Sequence):
        raise InputError(report.msg_wrt_list(got=repr(wrt)))
    if len(wrt) == 0:
        raise InputError(report.msg_wrt_empty())
    variables = [_resolve_wrt(e, w) for w in wrt]
    names = [v.name for v in variables]
    for name in names:
        if names.count(name) > 1:
            raise InputError(report.msg_wrt_duplicate(name=name))
    if isinstance(claimed, Mapping):
        by_name = {}
        for key, comp in claimed.items():
            key_name = key.name if isinstance(key, sp.Symbol) else str(key)
            if key_name not in names:
                raise InputError(
                    report.msg_claimed_unknown(name=key_name, names=", ".join(names))
                )
            by_name[key_name] = comp
        for name in names:
            if name not in by_name:
                raise InputError(report.msg_claimed_missing(name=name))
        components_in = [by_name[n] for n in names]
    elif isinstance(claimed, (list, tuple)):
        if len(claimed) != len(variables):
            raise InputError(
                report.msg_claimed_length(
                    got=len(claimed), want=len(variables), names=", ".join(names)
                )
            )
        components_in = list(claimed)
    else:
        raise InputError(report.msg_claimed_type(got=repr(claimed)))
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


@_bounded
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
    seed = _validate.seed(seed)
    budget = _validate.positive_float(budget, "budget")
    claim = parse.parse_claim(text)
    expr = claim.expr
    if claim.order:  # d²/dx² f: d/dx of SymPy's first derivative
        expr = sp.diff(claim.expr, *claim.order[:-1])
    notes = [*claim.notes, *_typo_notes(claim)]
    if not claim.steps:
        report = _check_one(
            expr, claim.claimed, claim.wrt, domain=domain, seed=seed, budget=budget,
            text=claim.text,
        )
    else:
        report = _check_chain(expr, claim, domain=domain, seed=seed, budget=budget)
    report.read_as = _read_as(claim)
    report.notes = notes
    return report


def _check_chain(
    expr: sp.Expr, claim: parse.Claim, *, domain: Any, seed: int, budget: float
) -> ClaimReport:
    """A worked derivation: each step against SymPy's derivative; the first wrong one named."""
    per_step = budget / len(claim.steps)
    steps = [
        _check_one(expr, step, claim.wrt, domain=domain, seed=seed, budget=per_step, text=None)
        for step in claim.steps
    ]
    failed = next((i for i, step in enumerate(steps, start=1) if not step.ok), None)
    shown = steps[-1] if failed is None else steps[failed - 1]
    report = dataclasses.replace(shown, text=claim.text, steps=steps, failed_step=failed)
    if failed is None and any(step.verdict is Verdict.CONFIRMED for step in steps):
        report.verdict = Verdict.CONFIRMED
    if failed is not None:
        report.reason = f"Step {failed} is wrong. " + shown.reason
    return report


def _read_as(claim: parse.Claim) -> str:
    """The claim in claim syntax, as derivcheck read it."""
    order = claim.order or (claim.wrt,)
    partial = claim.text.lstrip().startswith("∂") or "\\partial" in claim.text
    d = "∂" if len(set(order)) > 1 or partial else "d"
    if len(order) == 1:
        prefix = f"{d}/{d}{order[0]}"
    else:
        parts = []
        for v, group in itertools.groupby(order):
            times = len(list(group))
            parts.append(f"{d}{v}" + (f"^{times}" if times > 1 else ""))
        prefix = f"{d}^{len(order)}/" + "".join(parts)
    sides = [report.format_expr(e) for e in (claim.expr, *(claim.steps or [claim.claimed]))]
    return f"{prefix} " + " = ".join(sides)


def _typo_notes(claim: parse.Claim) -> list[str]:
    """Likely typos behind a verdict: a variable the expression does not contain, an
    unknown function spelt like a known one."""
    notes = []
    variables = claim.order or (claim.wrt,)
    for v in dict.fromkeys(variables):
        if v not in claim.expr.free_symbols:
            others = ", ".join(sorted(s.name for s in claim.expr.free_symbols)) or "none"
            notes.append(
                f"{v} does not appear in the expression, so its derivative is 0 "
                f"(the expression's variables: {others})"
            )
    known = [*parse.KNOWN_FUNCTIONS, *parse.vocabulary.ALIASES]
    for fn in sorted({type(a).__name__ for e in (claim.expr, *claim.steps, claim.claimed)
                      for a in e.atoms(AppliedUndef)}):
        close = difflib.get_close_matches(fn, known, n=1, cutoff=0.75) if len(fn) > 2 else []
        if close:
            notes.append(
                f"{fn} is read as an unknown function (a placeholder); did you mean {close[0]}?"
            )
    return notes
