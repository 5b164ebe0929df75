"""The claim syntax: ``d/dx EXPR = CLAIM`` and its spellings."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import sympy

from derivcheck.claims.parse import latex, notation
from derivcheck.claims.parse.expression import Parser, parse_symbol
from derivcheck.claims.parse.messages import (
    MAX_TEXT_LENGTH,
    MSG_CLAIM_BAD_VARIABLE,
    MSG_CLAIM_DOUBLE_EQUALS,
    MSG_CLAIM_EMPTY_SIDE,
    MSG_CLAIM_NO_EQUALS,
    MSG_CLAIM_NO_PREFIX,
    MSG_CLAIM_TYPE,
    MSG_CLAIM_UNCLOSED,
    MSG_TOO_LONG,
)
from derivcheck.claims.parse.scanner import IDENT
from derivcheck.errors import InputError, ParseError

__all__ = ["Claim", "parse_claim"]


@dataclass(frozen=True)
class Claim:
    """A parsed claim ``d/dx EXPR = CLAIM``.

    Attributes
    ----------
    expr : sympy.Expr
        The expression being differentiated.
    claimed : sympy.Expr
        The claimed derivative.
    wrt : sympy.Symbol
        The variable (real).
    text : str
        The claim as the user wrote it.
    steps : tuple of sympy.Expr
        A worked derivation ``d/dx EXPR = STEP_1 = ... = CLAIM``: every expression
        after the first '=', in order (``claimed`` is the last); empty otherwise.
    order : tuple of sympy.Symbol
        For a higher or mixed derivative (``d²/dx²``, ``∂²/∂x∂y``) the variables
        in the order they differentiate (``wrt`` is the last); empty otherwise.
    notes : tuple of str
        How ambiguous text was read (``1/2x`` as ``(1/2)*x``).
    """

    expr: sympy.Expr
    claimed: sympy.Expr
    wrt: sympy.Symbol
    text: str
    steps: tuple[sympy.Expr, ...] = ()
    order: tuple[sympy.Symbol, ...] = ()
    notes: tuple[str, ...] = ()


def parse_claim(text: str) -> Claim:
    """Parse a claim ``d/dx EXPR = CLAIM``.

    Accepted forms: ``d/dx EXPR = CLAIM``, ``∂/∂x EXPR = CLAIM``,
    ``d/dx (EXPR) = CLAIM`` and ``d(EXPR)/dx = CLAIM``.  The variable may be
    any identifier (``d/dw1``).  Both sides use the syntax of
    :func:`parse_expression` and share their symbols.

    Parameters
    ----------
    text : str
        The claim.

    Returns
    -------
    Claim

    Raises
    ------
    InputError
        No ``=``, more than one, no ``d/dx`` prefix, or a side that does not
        parse (then a :class:`ParseError` or :class:`UnsafeInputError` whose
        caret points into `text`).

    Examples
    --------
    >>> c = parse_claim("d/dx 3(2x²)⁵ = 960x⁹")
    >>> c.expr, c.claimed, c.wrt
    (96*x**10, 960*x**9, x)
    >>> parse_claim("∂/∂x max(x, y) = 1(x > y)").claimed
    Piecewise((1, x > y), (0, True))
    >>> parse_claim("d/dx x^2")
    Traceback (most recent call last):
    ...
    derivcheck.errors.InputError: a claim needs '=' between the expression and its claimed ...
    """
    if not isinstance(text, str):
        raise InputError(MSG_CLAIM_TYPE.format(type=type(text).__name__))
    if len(text) > MAX_TEXT_LENGTH:
        raise InputError(
            MSG_TOO_LONG.format(what="the claim", length=len(text), limit=MAX_TEXT_LENGTH)
        )
    if latex.is_latex(text):
        latex_order, latex_expr, latex_steps = latex.parse_latex_claim(text)
        return Claim(
            expr=latex_expr, claimed=latex_steps[-1], wrt=latex_order[-1], text=text,
            steps=tuple(latex_steps) if len(latex_steps) > 1 else (),
            order=tuple(latex_order) if len(latex_order) > 1 else (),
        )
    named = _named_form(text)
    if named is not None:
        return named
    equals = _claim_equals(text)
    left = text[: equals[0]]
    variables, expr_start, expr_end = _claim_prefix(text, left)
    parser = Parser(text, "expression")
    order = []
    for variable, at in variables:
        try:
            order.append(parse_symbol(variable, what="d/dx"))
        except InputError as error:
            raise ParseError(error.message, text=text, position=at) from None
    wrt = order[-1]
    for symbol in order:
        parser.names[symbol.name] = "variable"
    bounds = [*equals, len(text)]
    sides = [text[a + 1 : b] for a, b in itertools.pairwise(bounds)]
    parser.variables = notation.variables_of(
        " ".join([text[expr_start:expr_end], *sides]), {s.name for s in order}
    )
    if not text[expr_start:expr_end].strip():
        raise ParseError(
            MSG_CLAIM_EMPTY_SIDE.format(side="left side"), text=text, position=expr_start
        )
    for at, side in zip(equals, sides, strict=True):
        if not side.strip():
            raise ParseError(MSG_CLAIM_EMPTY_SIDE.format(side="right side"), text=text, position=at)
    expr = parser.expression(text[expr_start:expr_end], expr_start)
    parser.label = "claimed derivative"
    steps = tuple(parser.expression(side, at + 1) for at, side in zip(equals, sides, strict=True))
    return Claim(
        expr=expr, claimed=steps[-1], wrt=wrt, text=text,
        steps=steps if len(steps) > 1 else (), order=tuple(order) if len(order) > 1 else (),
        notes=tuple(parser.notes),
    )


# y = EXPR, dy/dx = CLAIM   and   f(x) = EXPR; f'(x) = CLAIM
_NAMED_Y = re.compile(
    r"^\s*(?P<y>[^\W\d]\w*)\s*=(?P<expr>[^=]+?)[,;]\s*d(?P=y)\s*/\s*d(?P<x>[^\W\d]\w*)\s*="
)
_NAMED_F = re.compile(
    r"^\s*(?P<f>[^\W\d]\w*)\s*\(\s*(?P<x>[^\W\d]\w*)\s*\)\s*=(?P<expr>[^=]+?)[,;]"
    r"\s*(?P=f)\s*['′]\s*\(\s*(?P=x)\s*\)\s*="
)


def _named_form(text: str) -> Claim | None:
    """``y = x^2, dy/dx = 2x`` and ``f(x) = x^2; f'(x) = 2x``, read as ``d/dx x^2 = 2x``."""
    match = _NAMED_Y.match(text) or _NAMED_F.match(text)
    if match is None:
        return None
    variable = match.group("x")
    parser = Parser(text, "expression")
    wrt = parse_symbol(variable, what="d/dx")
    parser.names[wrt.name] = "variable"
    rest = text[match.end() :]
    parser.variables = notation.variables_of(match.group("expr") + " " + rest, {wrt.name})
    if not rest.strip():
        raise ParseError(
            MSG_CLAIM_EMPTY_SIDE.format(side="right side"), text=text, position=match.end() - 1
        )
    expr = parser.expression(match.group("expr"), match.start("expr"))
    parser.label = "claimed derivative"
    claimed = parser.expression(rest, match.end())
    return Claim(expr=expr, claimed=claimed, wrt=wrt, text=text, notes=tuple(parser.notes))


def _claim_equals(text: str) -> list[int]:
    """Offsets of the top-level '=' of a claim (more than one: a worked derivation)."""
    opened: list[int] = []  # offsets of brackets still open
    found: list[int] = []
    double: int | None = None
    for i, char in enumerate(text):
        if char in "([{":
            opened.append(i)
        elif char in ")]}":
            if opened:
                opened.pop()
        elif char == "=" and not opened:
            before = text[i - 1] if i else ""
            after = text[i + 1] if i + 1 < len(text) else ""
            if after == "=" or before == "=":
                if double is None:
                    double = i
            elif before not in ("<", ">", "!", ":"):
                found.append(i)
    if not found:
        if double is not None:
            raise ParseError(MSG_CLAIM_DOUBLE_EQUALS, text=text, position=double)
        if opened and "=" in text[opened[0] :]:  # the '=' hides inside an unclosed bracket
            raise ParseError(MSG_CLAIM_UNCLOSED, text=text, position=opened[0])
        raise InputError(MSG_CLAIM_NO_EQUALS)
    return found


_D = r"[d∂]"
_PREFIX = re.compile(rf"\s*{_D}\s*/\s*{_D}\s*")
_QUOTIENT_TAIL = re.compile(rf"\s*/\s*{_D}\s*")
# d^2/dx^2, d²/dx², ∂²/∂x∂y, ∂^2/(∂x ∂y): the order after the first d
_HIGHER = re.compile(rf"\s*{_D}\s*(?:\^\s*\{{?\s*(?P<n>\d+)\s*\}}?|(?P<sup>[²³⁴⁵⁶⁷⁸⁹]))\s*/\s*\(?")
_SUPERSCRIPT_DIGITS = {"²": 2, "³": 3, "⁴": 4, "⁵": 5, "⁶": 6, "⁷": 7, "⁸": 8, "⁹": 9}
_POWER_TAIL = re.compile(r"\s*(?:\^\s*\{?\s*(?P<n>\d+)\s*\}?|(?P<sup>[²³⁴⁵⁶⁷⁸⁹]))")


def _claim_variable(text: str, start: int) -> tuple[str, int]:
    match = IDENT.match(text, start)
    if match is None or not match.group().isidentifier():
        raise ParseError(MSG_CLAIM_BAD_VARIABLE, text=text, position=start)
    return match.group(), match.end()


def _higher_prefix(text: str, left: str) -> tuple[list[tuple[str, int]], int] | None:
    """``d^n/dx^n`` or ``∂^n/∂x∂y...``: the variables (with offsets) and where EXPR starts."""
    head = _HIGHER.match(left)
    if head is None:
        return None
    order = int(head.group("n")) if head.group("n") else _SUPERSCRIPT_DIGITS[head.group("sup")]
    variables: list[tuple[str, int]] = []
    i = head.end()
    while len(variables) < order:
        d = re.compile(rf"\s*{_D}\s*").match(text, i)
        if d is None or (d.end() == i and not text[i : i + 1]):
            break
        if d is None:
            break
        name, end = _claim_variable(text, d.end())
        power = _POWER_TAIL.match(text, end)
        times = 1
        if power is not None:
            times = int(power.group("n")) if power.group("n") else _SUPERSCRIPT_DIGITS[
                power.group("sup")
            ]
            end = power.end()
        variables += [(name, d.end())] * times
        i = end
    if len(variables) != order:
        raise ParseError(MSG_CLAIM_BAD_VARIABLE, text=text, position=i)
    close = re.compile(r"\s*\)").match(text, i) if "(" in text[head.start() : head.end()] else None
    return variables, close.end() if close else i


def _claim_prefix(text: str, left: str) -> tuple[list[tuple[str, int]], int, int]:
    """The variables (with offsets) and the span of EXPR in ``text`` (left of the '=')."""
    higher = _higher_prefix(text, left)
    if higher is not None:
        variables, start = higher
        return variables, start, len(left)
    prefix = _PREFIX.match(left)
    if prefix is not None:
        variable, end = _claim_variable(text, prefix.end())
        return [(variable, prefix.end())], end, len(left)
    # d(EXPR)/dx
    stripped = left.rstrip()
    opening = re.match(rf"\s*{_D}\s*\(", left)
    if opening is not None:
        depth = 0
        for i in range(opening.end() - 1, len(stripped)):
            if stripped[i] == "(":
                depth += 1
            elif stripped[i] == ")":
                depth -= 1
                if depth == 0:
                    tail = _QUOTIENT_TAIL.match(stripped, i + 1)
                    if tail is None:
                        break
                    variable, end = _claim_variable(text, tail.end())
                    if end != len(stripped):
                        raise ParseError(MSG_CLAIM_BAD_VARIABLE, text=text, position=tail.end())
                    return [(variable, tail.end())], opening.end() - 1, i + 1
    raise InputError(MSG_CLAIM_NO_PREFIX, text=text, position=len(left) - len(left.lstrip()))
