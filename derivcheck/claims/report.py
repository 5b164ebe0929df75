"""Report objects and every message string derivcheck prints.

Kept free of top-level SymPy imports: ``import derivcheck`` imports this module.
Expressions are stored as SymPy objects but only ever turned into text here
with ``str()``, which needs no import.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

from derivcheck._json import SCHEMA_VERSION, dumps

__all__ = ["ClaimReport", "Verdict", "summary_table"]


class Verdict(str, enum.Enum):
    """The outcome of checking a claim.

    >>> Verdict("proven") is Verdict.PROVEN
    True
    """

    PROVEN = "proven"
    CONFIRMED = "confirmed"
    REFUTED = "refuted"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return self.value


#: badness order used to combine components: the worst verdict wins
VERDICT_RANK = {
    Verdict.PROVEN: 0,
    Verdict.CONFIRMED: 1,
    Verdict.INCONCLUSIVE: 2,
    Verdict.REFUTED: 3,
}

# ----------------------------------------------------------------- messages: input

def msg_wrt_missing(*, count: Any, names: Any) -> str:
    return (
        f"`wrt` must be given: the expression has {count} free symbols ({names}); name the "
        f"variable to differentiate by."
    )


def msg_wrt_no_symbols() -> str:
    return "`wrt` must be given: the expression has no free symbols."


def msg_wrt_not_symbol(*, got: Any) -> str:
    return f"`wrt` must be a variable name or a sympy Symbol; got {got}."


def msg_wrt_list(*, got: Any) -> str:
    return f"`wrt` must be a list of variable names or Symbols; got {got}."


def msg_wrt_empty() -> str:
    return "`wrt` must name at least one variable."


def msg_wrt_duplicate(*, name: Any) -> str:
    return f"`wrt` names {name!r} twice."


def msg_claimed_length(*, got: Any, want: Any, names: Any) -> str:
    return f"`claimed` has {got} components but `wrt` has {want} variables ({names})."


def msg_claimed_type(*, got: Any) -> str:
    return (
        f"`claimed` must be a list (in the order of `wrt`) or a dict {{variable: component}}; "
        f"got {got}."
    )


def msg_claimed_unknown(*, name: Any, names: Any) -> str:
    return f"`claimed` names {name!r}, which is not in `wrt` ({names})."


def msg_claimed_missing(*, name: Any) -> str:
    return f"`claimed` has no component for {name!r}."


def msg_domain_not_mapping(*, got: Any) -> str:
    return f"`domain` must be a dict {{name: (lo, hi)}}; got {got}."


def msg_domain_unknown(*, name: Any, names: Any) -> str:
    return (
        f"`domain` names {name!r}, which is not a variable of the claim; the variables are "
        f"{names}."
    )


def msg_domain_bounds(*, name: Any, got: Any) -> str:
    return f"`domain[{name!r}]` must be a pair (lo, hi) of finite numbers with lo < hi; got {got}."



# ---------------------------------------------------------------- messages: reasons

def msg_proven(*, method: Any) -> str:
    return f"SymPy's derivative minus the claim is 0 ({method})."


def msg_proven_kinks(*, method: Any) -> str:
    return (
        f"SymPy's derivative minus the claim is 0 wherever the function is differentiable "
        f"({method}); they may differ only at kinks."
    )


def msg_proven_rule(*, names: Any) -> str:
    return f" The rule holds for every differentiable {names}."


def msg_confirmed(
    *, dps: Any, points: Any, kinks: Any, witnessed: Any, rtol: Any = 1e-20, total: Any = None
) -> str:
    of = f" of the {total} points" if total is not None and total != points else " of them"
    return (
        f"No proof within the time budget, but at {points} points{kinks} the claim and "
        f"SymPy's derivative, evaluated to {dps} digits and again to 60, agree to a relative "
        f"{rtol:g}, and central differences agree with SymPy at {witnessed}{of}."
    )


def msg_uninformative(*, points: Any, informative: Any, wanted: Any) -> str:
    return (
        f"Only {informative} of the {points} points could show a difference (at the others "
        "both sides are 0 at 30 digits, or cancel down to their rounding); at least "
        f"{wanted} are needed to confirm without a proof."
    )


def msg_confirmed_rule(*, choices: Any) -> str:
    return f" Placeholders were instantiated as {choices}."


def msg_refuted(*, point: Any, inst: Any) -> str:
    return f"The claim differs from SymPy's derivative at {point}{inst}."


def msg_engines_disagree(*, point: Any, inst: Any, exact: Any, numeric: Any, error: Any) -> str:
    return (
        f"SymPy's derivative and central differences disagree at {point}{inst} (SymPy "
        f"{exact}, numeric {numeric} ± {error}): a SymPy or parsing problem, so the claim is "
        f"not judged."
    )


def msg_no_witness(*, points: Any) -> str:
    return (
        f"The claim equals SymPy's derivative at {points} points, but central differences "
        f"could not be evaluated at any of them, so nothing independent confirms SymPy."
    )


def msg_stopped(*, seconds: Any, where: Any) -> str:
    return (
        f"Nothing could be decided within the time bound ({seconds:g} s): the check was "
        f"stopped in {where}. Pass a larger `budget` to try longer."
    )


def msg_cannot_finish(*, error: Any, where: Any) -> str:
    return (
        f"SymPy or mpmath could not finish the check ({error}, in {where}), so nothing "
        "was decided."
    )


def msg_cannot_evaluate(*, error: Any) -> str:
    return (
        f"The expressions cannot be evaluated numerically ({error}), so nothing can be "
        f"checked at sample points."
    )


def msg_no_instantiation(*, reason: Any) -> str:
    return f"No instantiation of the placeholders could be evaluated ({reason})."


def msg_no_numeric() -> str:
    return (
        "no central difference here: too close to a kink, off the real domain, "
        "or beyond float64's range"
    )


def msg_undefined(*, expr: Any) -> str:
    return f"{expr} contains an undefined value (zoo or nan), so it cannot be evaluated."


def msg_too_few_points(*, found: Any, wanted: Any) -> str:
    return (
        f"Only {found} valid point(s) found; at least {wanted} are needed to confirm without "
        f"a proof."
    )




def no_points_reason(
    *, found: int, wanted: int, tried: int, rejected_domain: int, rejected_kink: int, where: str
) -> str:
    """Why sampling found fewer points than wanted (one line).

    >>> no_points_reason(found=0, wanted=24, tried=500, rejected_domain=500,
    ...                  rejected_kink=0, where="x in (-2, -1)")
    'no valid point in 500 tries (x in (-2, -1)): 500 where a side is not real or not finite'
    """
    parts = []
    if rejected_domain:
        parts.append(f"{rejected_domain} where a side is not real or not finite")
    if rejected_kink:
        parts.append(f"{rejected_kink} too close to a kink")
    head = "no valid point" if found == 0 else f"only {found} of {wanted} points"
    scope = f" ({where})" if where else ""
    return f"{head} in {tried} tries{scope}: " + ", ".join(parts or ["time budget exhausted"])


def kink_note(where: str, claimed: Any, sympy_value: Any) -> str:
    """The note shown for the value a claim takes at a kink.

    >>> kink_note("x = 0", 0, "1/2")
    "at x = 0 (a kink) the claim takes 0; SymPy's convention gives 1/2"
    >>> kink_note("x = 0", 1, 1)
    "at x = 0 (a kink) the claim and SymPy's convention both give 1"
    >>> kink_note("x = y**2", None, None)
    "at x = y**2 (a kink: the derivative may not exist) the claim's value is not judged"
    """
    if claimed is None or sympy_value is None:
        return f"at {where} (a kink: the derivative may not exist) the claim's value is not judged"
    if str(claimed) == str(sympy_value):
        return f"at {where} (a kink) the claim and SymPy's convention both give {claimed}"
    return f"at {where} (a kink) the claim takes {claimed}; SymPy's convention gives {sympy_value}"


# ------------------------------------------------------------------- formatting


def format_number(value: float | None) -> str:
    """A float shown with enough digits to tell near misses apart.

    The shortest text that reads back as the same float (so two different
    floats never print alike).

    A value beyond float64's range (an mpmath number, say ``exp(1200)``) is shown
    in mpmath's own notation.

    >>> format_number(0.1 + 0.2), format_number(None), format_number(2.0)
    ('0.30000000000000004', '-', '2.0')
    """
    if value is None:
        return "-"
    if isinstance(value, int | float):
        return repr(float(value))
    return str(value)


def format_point(point: dict[str, float] | None) -> str:
    """``x = 0.37, y = -2.5``.

    >>> format_point({"x": 0.37, "n": 2.5})
    'x = 0.37, n = 2.5'
    """
    if not point:
        return "-"
    return ", ".join(f"{k} = {v!r}" for k, v in point.items())


def format_instantiation(inst: dict[str, str] | None) -> str:
    """``f = sin, g = exp`` (placeholders are functions of ``t``).

    >>> format_instantiation({"f": "sin", "g": "t**3 + t"})
    'f = sin, g = t**3 + t'
    """
    if not inst:
        return ""
    return ", ".join(f"{k} = {v}" for k, v in inst.items())


def format_expr(expr: Any) -> str:
    """An expression in the claim syntax: placeholder derivatives print as ``f'(u)``.

    SymPy prints them as ``Derivative(f(x), x)`` or
    ``Subs(Derivative(f(_xi), _xi), _xi, 2*x)``; everything else prints as
    ``str()`` does.  Lists print as ``(a, b)``.

    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> f = sp.Function("f")
    >>> print(format_expr(sp.diff(f(2 * x), x) + sp.diff(f(x), x, 2)))
    f''(x) + 2*f'(2*x)
    """
    if isinstance(expr, (list, tuple)):
        return "(" + ", ".join(format_expr(e) for e in expr) + ")"
    if not hasattr(expr, "atoms"):
        return str(expr)
    from sympy.core.function import AppliedUndef
    from sympy.printing.str import StrPrinter

    class _ClaimPrinter(StrPrinter):
        def _print_Derivative(self, e: Any) -> str:
            inner = e.expr
            if (
                isinstance(inner, AppliedUndef)
                and len(inner.args) == 1
                and len(e.variable_count) == 1
                and e.variable_count[0][0] == inner.args[0]
            ):
                primes = "'" * int(e.variable_count[0][1])
                return f"{inner.func}{primes}({self._print(inner.args[0])})"
            return str(super()._print_Derivative(e))

        def _print_Subs(self, e: Any) -> str:
            deriv, (var,), (point,) = e.args
            if (
                type(deriv).__name__ == "Derivative"
                and isinstance(deriv.expr, AppliedUndef)
                and deriv.expr.args == (var,)
                and len(deriv.variable_count) == 1
                and deriv.variable_count[0][0] == var
            ):
                primes = "'" * int(deriv.variable_count[0][1])
                return f"{deriv.expr.func}{primes}({self._print(point)})"
            return str(super()._print_Subs(e))

    return str(_ClaimPrinter().doprint(expr))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _json_number(value: float | None) -> float | str | None:
    if value is None or (isinstance(value, int | float) and math.isfinite(value)):
        return value
    return str(value)


@dataclass
class ClaimReport:
    """The result of checking one derivative claim (or a gradient).

    Attributes
    ----------
    verdict : Verdict
        PROVEN, CONFIRMED, REFUTED or INCONCLUSIVE.
    expr, claimed, expected : sympy.Expr (lists of them for a gradient)
        The function, the claimed derivative, SymPy's derivative.
    wrt : sympy.Symbol or tuple of Symbol
        The variable(s).
    counterexample : dict or None
        ``{name: float}`` where the claim fails, free constants included.
    instantiation : dict or None
        Which concrete function replaced each placeholder at the counterexample
        (``{"f": "sin"}``); functions of ``t``.
    claimed_value, expected_value, numeric_value, numeric_error : float or None
        At the counterexample (or, for engine disagreement, at the point where
        SymPy and central differences disagree).
    points_checked : int
        Points where the claim was compared with SymPy at high precision.
    points_failed : int
        Of those, the points where the claim is wrong (refuted claims).
    kink_notes : list of str
        The values the claim and SymPy take at kinks (never used to refute).
    reason : str
        One line: why proven / confirmed / refuted / inconclusive.
    seed : int
        The seed of the sample points.
    components : list of ClaimReport
        Per-variable reports of a gradient check (empty otherwise).
    text : str or None
        The claim's text when it came from text.
    read_as : str or None
        How the text was read, in claim syntax (``d/dx x*exp(x) = ...``).
    notes : list of str
        Readings of ambiguous text, and likely typos behind the verdict.
    steps : list of ClaimReport
        A worked derivation: one report per step after the expression, each
        step checked against SymPy's derivative (so against the step before,
        once that one holds); empty for a single claim.
    failed_step : int or None
        The 1-based index of the first wrong step of a derivation, or None.

    Examples
    --------
    >>> r = ClaimReport(verdict=Verdict.CONFIRMED, expr="x**2", claimed="2*x",
    ...                 wrt="x", expected="2*x", points_checked=24, reason="...")
    >>> r.ok
    True
    >>> r.to_dict()["verdict"]
    'confirmed'
    """

    verdict: Verdict
    expr: Any
    claimed: Any
    wrt: Any
    expected: Any
    counterexample: dict[str, float] | None = None
    instantiation: dict[str, str] | None = None
    claimed_value: float | None = None
    expected_value: float | None = None
    numeric_value: float | None = None
    numeric_error: float | None = None
    points_checked: int = 0
    points_failed: int = 0
    kink_notes: list[str] = field(default_factory=list)
    reason: str = ""
    seed: int = 0
    components: list[ClaimReport] = field(default_factory=list)
    text: str | None = None
    method: str = ""
    witness_points: int = 0
    read_as: str | None = None
    notes: list[str] = field(default_factory=list)
    steps: list[ClaimReport] = field(default_factory=list)
    failed_step: int | None = None

    @property
    def ok(self) -> bool:
        """True when the verdict is PROVEN or CONFIRMED."""
        return self.verdict in (Verdict.PROVEN, Verdict.CONFIRMED)

    def __bool__(self) -> bool:
        """A report is truthy exactly when it is ok: ``assert check_claim(...)`` works."""
        return self.ok

    def claim_text(self) -> str:
        """The claim as one line: its text, or ``d/dx EXPR = CLAIM``."""
        if self.text:
            return self.text
        if self.components:
            names = ", ".join(str(c.wrt) for c in self.components)
            claimed = ", ".join(format_expr(c.claimed) for c in self.components)
            return f"grad_({names}) {format_expr(self.expr)} = ({claimed})"
        return f"d/d{self.wrt} {format_expr(self.expr)} = {format_expr(self.claimed)}"

    def __str__(self) -> str:
        # a failure names its verdict on the first line, as numpy's assert messages do
        # (that line is what pytest shows next to AssertionError)
        head = "Claim" if self.ok else f"Claim {self.verdict.value}"
        lines = [f"{head}: {self.claim_text()}"]
        if self.read_as and self.read_as != self.text:
            lines.append(f"Read as: {self.read_as}")
        lines.extend(f"Note: {note}" for note in self.notes)
        if self.steps:
            for i, step in enumerate(self.steps, start=1):
                mark = "ok" if step.ok else step.verdict.value
                lines.append(f"  step {i}: {format_expr(step.claimed)}  [{mark}]")
            if self.failed_step is not None:
                lines.append(f"The first wrong step is step {self.failed_step}:")
        if self.components:
            lines.append(f"Verdict: {self.verdict.value} (seed={self.seed})")
            for comp in self.components:
                sub = str(comp).splitlines()
                lines.append(f"  d/d{comp.wrt}:")
                lines.extend("    " + s for s in sub[1:])
            return "\n".join(lines)
        lines.append(f"SymPy's derivative: {format_expr(self.expected)}")
        lines.append(f"Verdict: {self.verdict.value} (seed={self.seed})")
        if self.reason:
            lines.append(f"  {self.reason}")
        if self.counterexample is not None:
            label = "Counterexample" if self.verdict is Verdict.REFUTED else "At"
            lines.append(f"{label}: {format_point(self.counterexample)}")
            if self.instantiation:
                lines.append(f"  with {format_instantiation(self.instantiation)}")
            lines.append(f"  claimed: {format_number(self.claimed_value)}")
            lines.append(f"  exact:   {format_number(self.expected_value)} (SymPy, 30 digits)")
            if self.numeric_value is not None:
                lines.append(
                    f"  numeric: {format_number(self.numeric_value)} "
                    f"± {self.numeric_error:.1g} (central differences)"
                )
            else:
                lines.append(f"  numeric: - ({msg_no_numeric()})")
        if self.kink_notes:
            lines.append("Kinks:")
            lines.extend(f"  {note}" for note in self.kink_notes)
        if self.points_failed:
            lines.append(
                f"Checked at {_plural(self.points_checked, 'point')}: the claim is wrong at "
                f"{self.points_failed}; central differences agreed at the counterexample."
                if self.witness_points
                else f"Checked at {_plural(self.points_checked, 'point')}: the claim is wrong "
                f"at {self.points_failed}."
            )
        else:
            lines.append(
                f"Checked at {_plural(self.points_checked, 'point')}; "
                f"central differences agreed at {self.witness_points}."
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (expressions as strings).

        >>> r = ClaimReport(verdict=Verdict.REFUTED, expr="x**2", claimed="x",
        ...                 wrt="x", expected="2*x", counterexample={"x": 0.5})
        >>> r.to_dict()["counterexample"], r.to_dict()["ok"]
        ({'x': 0.5}, False)
        """

        def text(e: Any) -> Any:
            if e is None:
                return None
            if isinstance(e, (list, tuple)):
                return [format_expr(v) for v in e]
            return format_expr(e)

        return {
            "kind": "gradient" if self.components else "claim",
            "schema_version": SCHEMA_VERSION,
            "verdict": self.verdict.value,
            "ok": self.ok,
            "text": self.text or None,
            "claim": self.claim_text() or None,
            "expr": text(self.expr),
            "claimed": text(self.claimed),
            "wrt": text(self.wrt),
            "expected": text(self.expected),
            "counterexample": dict(self.counterexample) if self.counterexample else None,
            "instantiation": dict(self.instantiation) if self.instantiation else None,
            "claimed_value": _json_number(self.claimed_value),
            "expected_value": _json_number(self.expected_value),
            "numeric_value": _json_number(self.numeric_value),
            "numeric_error": _json_number(self.numeric_error),
            "points_checked": self.points_checked,
            "points_failed": self.points_failed,
            "witness_points": self.witness_points,
            "kink_notes": list(self.kink_notes),
            "reason": self.reason,
            "method": self.method or None,
            "seed": self.seed,
            "components": [c.to_dict() for c in self.components],
            "read_as": self.read_as or None,
            "notes": list(self.notes),
            "steps": [step.to_dict() for step in self.steps],
            "failed_step": self.failed_step,
        }

    def _repr_html_(self) -> str:  # Jupyter
        from derivcheck import _display

        return _display.claim_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython: the text report
        p.text(repr(self) if cycle else str(self))

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as JSON, in the schema every derivcheck document shares
        (keyword arguments go to :func:`json.dumps`)."""
        return dumps(self.to_dict(), **kwargs)


def _short_number(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, int | float) else str(value)


def _short_detail(rep: ClaimReport) -> str:
    if rep.verdict is Verdict.REFUTED and rep.counterexample is not None:
        inst = f" with {format_instantiation(rep.instantiation)}" if rep.instantiation else ""
        return (
            f"fails at {format_point(rep.counterexample)}{inst}: claimed "
            f"{_short_number(rep.claimed_value)}, exact {_short_number(rep.expected_value)}"
            if rep.claimed_value is not None and rep.expected_value is not None
            else f"fails at {format_point(rep.counterexample)}{inst}"
        )
    if rep.verdict is Verdict.PROVEN:
        return rep.method or "proven"
    if rep.verdict is Verdict.CONFIRMED:
        return f"agrees at {rep.points_checked} points"
    return rep.reason


def summary_table(rows: list[tuple[str, Any]]) -> str:
    """One line per claim (verdict, claim text, short detail) and a totals line.

    A row whose second item is an exception (a line that cannot be read) is shown
    as ``unreadable`` with the problem.

    Examples
    --------
    >>> ok = ClaimReport(verdict=Verdict.PROVEN, expr="x**2", claimed="2*x", wrt="x",
    ...                  expected="2*x", method="expand")
    >>> bad = ClaimReport(verdict=Verdict.REFUTED, expr="x**2", claimed="x", wrt="x",
    ...                   expected="2*x", counterexample={"x": 0.5},
    ...                   claimed_value=0.5, expected_value=1.0)
    >>> print(summary_table([("d/dx x**2 = 2*x", ok), ("d/dx x**2 = x", bad),
    ...                      ("d/dx x +", ValueError("the text ends too early"))]))
    proven        d/dx x**2 = 2*x  (expand)
    refuted       d/dx x**2 = x  (fails at x = 0.5: claimed 0.5, exact 1)
    unreadable    d/dx x +  (the text ends too early)
    3 claims: 1 ok, 1 refuted, 0 inconclusive, 1 unreadable
    """
    lines = []
    counts = {v: 0 for v in Verdict}
    unreadable = 0
    for text, rep in rows:
        if isinstance(rep, Exception):
            unreadable += 1
            problem = str(rep).splitlines()[0] if str(rep) else type(rep).__name__
            lines.append(f"{'unreadable':<13} {text}  ({problem})")
            continue
        counts[rep.verdict] += 1
        detail = _short_detail(rep)
        suffix = f"  ({detail})" if detail else ""
        lines.append(f"{rep.verdict.value:<13} {text}{suffix}")
    ok = counts[Verdict.PROVEN] + counts[Verdict.CONFIRMED]
    total = (
        f"{len(rows)} claims: {ok} ok, {counts[Verdict.REFUTED]} refuted, "
        f"{counts[Verdict.INCONCLUSIVE]} inconclusive"
    )
    lines.append(total + (f", {unreadable} unreadable" if unreadable else ""))
    return "\n".join(lines)
