"""The claim syntax: ``d/dx EXPR = CLAIM`` and its spellings."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy

from derivcheck.claims.parse import notation
from derivcheck.claims.parse.expression import Parser, parse_symbol
from derivcheck.claims.parse.messages import (
    MAX_TEXT_LENGTH,
    MSG_CLAIM_BAD_VARIABLE,
    MSG_CLAIM_DOUBLE_EQUALS,
    MSG_CLAIM_EMPTY_SIDE,
    MSG_CLAIM_MANY_EQUALS,
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
    """

    expr: sympy.Expr
    claimed: sympy.Expr
    wrt: sympy.Symbol
    text: str


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
    equals = _claim_equals(text)
    left, right = text[:equals], text[equals + 1 :]
    variable, expr_start, expr_end = _claim_prefix(text, left)
    parser = Parser(text, "expression")
    try:
        wrt = parse_symbol(variable, what="d/dx")
    except InputError as error:
        raise ParseError(error.message, text=text, position=expr_start - len(variable)) from None
    parser.names[wrt.name] = "variable"
    parser.variables = notation.variables_of(text[expr_start:expr_end] + " " + right, {wrt.name})
    if not text[expr_start:expr_end].strip():
        raise ParseError(
            MSG_CLAIM_EMPTY_SIDE.format(side="left side"), text=text, position=expr_start
        )
    if not right.strip():
        raise ParseError(MSG_CLAIM_EMPTY_SIDE.format(side="right side"), text=text, position=equals)
    expr = parser.expression(text[expr_start:expr_end], expr_start)
    parser.label = "claimed derivative"
    claimed = parser.expression(right, equals + 1)
    return Claim(expr=expr, claimed=claimed, wrt=wrt, text=text)



def _claim_equals(text: str) -> int:
    """Offset of the single top-level '=' of a claim."""
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
    if len(found) > 1:
        raise ParseError(
            MSG_CLAIM_MANY_EQUALS.format(count=len(found)), text=text, position=found[1]
        )
    return found[0]


_D = r"[d∂]"
_PREFIX = re.compile(rf"\s*{_D}\s*/\s*{_D}\s*")
_QUOTIENT_TAIL = re.compile(rf"\s*/\s*{_D}\s*")


def _claim_variable(text: str, start: int) -> tuple[str, int]:
    match = IDENT.match(text, start)
    if match is None or not match.group().isidentifier():
        raise ParseError(MSG_CLAIM_BAD_VARIABLE, text=text, position=start)
    return match.group(), match.end()


def _claim_prefix(text: str, left: str) -> tuple[str, int, int]:
    """Variable name and the span of EXPR in ``text`` (left of the '=')."""
    prefix = _PREFIX.match(left)
    if prefix is not None:
        variable, end = _claim_variable(text, prefix.end())
        return variable, end, len(left)
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
                    return variable, opening.end() - 1, i + 1
    raise InputError(MSG_CLAIM_NO_PREFIX, text=text, position=len(left) - len(left.lstrip()))


