r"""LaTeX claims, read by SymPy's LaTeX parser on its Lark backend (never by eval).

``\frac{d}{dx} \sin^2 x = 2\sin x \cos x``, ``\frac{\partial}{\partial x}``,
``\frac{d^2}{dx^2}``, ``\left| x \right|``, ``\sqrt{}``, ``\cdot``: the prefix is
read here, each side by :func:`sympy.parsing.latex.parse_latex`, whose result
goes through the same whitelist of SymPy types as every other claim (no
``Integral``, ``Limit`` or ``Sum``), with real symbols and ``e`` as Euler's number.
Where the grammar is ambiguous (``2\sin x \cos x``) the reading whose function
arguments are smallest is taken: ``2 sin(x) cos(x)``, not ``2 sin(x cos(x))``.
The parser is imported only for LaTeX input.
"""

from __future__ import annotations

import re
from typing import Any

import sympy
from sympy.core.function import AppliedUndef

from derivcheck.errors import InputError, ParseError

__all__ = ["is_latex", "parse_latex_claim"]

_PREFIX = re.compile(
    r"^\s*\\frac\s*\{\s*(?P<d>d|\\partial)\s*(?:\^\s*\{?\s*(?P<n>\d+)\s*\}?)?\s*\}\s*"
    r"\{(?P<den>[^{}]*)\}\s*"
)
_VARIABLE = re.compile(
    r"(?:d|\\partial)\s*(?P<v>[A-Za-z](?:_\{?\w+\}?)?)\s*(?:\^\s*\{?(?P<n>\d+)\}?)?"
)
_ALLOWED = (
    sympy.Add, sympy.Mul, sympy.Pow, sympy.Symbol, sympy.Number, sympy.NumberSymbol,
    sympy.Abs, sympy.Max, sympy.Min, sympy.exp, sympy.log, sympy.sign,
    sympy.functions.elementary.trigonometric.TrigonometricFunction,
    sympy.functions.elementary.trigonometric.InverseTrigonometricFunction,
    sympy.functions.elementary.hyperbolic.HyperbolicFunction,
    sympy.functions.elementary.hyperbolic.InverseHyperbolicFunction,
    AppliedUndef,
)  # fmt: skip


def is_latex(text: str) -> bool:
    r"""Text with a backslash command (``\frac``, ``\sin``) is LaTeX."""
    return bool(re.search(r"\\[A-Za-z]", text))


def load_parser() -> None:
    """Import SymPy's LaTeX parser and read one formula with it: the first reading imports
    its grammar and transformer (sympy.physics among them: 0.4 s here, seconds on a
    loaded machine), a cost of the process, not of the claim, so a check's wall-clock
    bound starts after it.  Does nothing when the parser is missing (the claim's own
    parse says so)."""
    try:
        from sympy.parsing.latex import parse_latex
    except ImportError:  # pragma: no cover - lark is a dependency
        return
    if not _loaded:
        parse_latex("x", backend="lark")
        _loaded.append(True)


_loaded: list[bool] = []


def _parse_side(text: str, full: str, at: int) -> sympy.Expr:
    try:
        from sympy.parsing.latex import parse_latex
    except ImportError as exc:  # pragma: no cover - lark is a dependency
        raise InputError("LaTeX claims need the lark package: pip install lark") from exc
    try:
        result: Any = parse_latex(text, backend="lark")
    except Exception as exc:  # lark's errors: a syntax error in the user's LaTeX
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ParseError(f"LaTeX: {first}", text=full, position=at) from None
    if not isinstance(result, sympy.Basic):  # an ambiguity: a lark Tree of readings
        readings = [r for r in getattr(result, "children", []) if isinstance(r, sympy.Basic)]
        if not readings:
            raise ParseError("LaTeX: the text has no reading", text=full, position=at)
        result = min(readings, key=_argument_size)
    return _whitelisted(result, full, at)


def _argument_size(expr: sympy.Basic) -> int:
    """The size of every function's arguments: the common reading keeps them small."""
    return sum(
        sympy.count_ops(arg) + 1
        for f in expr.atoms(sympy.Function)
        for arg in f.args
    )


def _whitelisted(expr: sympy.Basic, full: str, at: int) -> sympy.Expr:
    for node in sympy.preorder_traversal(expr):
        if not isinstance(node, _ALLOWED):
            raise ParseError(
                f"LaTeX: {type(node).__name__} is not supported in a claim", text=full, position=at
            )
    mapping: dict[Any, Any] = {}
    for symbol in expr.free_symbols:
        if symbol.name == "e":
            mapping[symbol] = sympy.E
        elif not symbol.is_real:
            mapping[symbol] = sympy.Symbol(symbol.name, real=True)
    return sympy.sympify(expr).xreplace(mapping) if mapping else sympy.sympify(expr)


def _top_level_equals(text: str) -> list[int]:
    depth = 0
    found = []
    for i, char in enumerate(text):
        if char in "{([":
            depth += 1
        elif char in "})]":
            depth -= 1
        elif char == "=" and depth == 0:
            found.append(i)
    return found


def parse_latex_claim(text: str) -> tuple[list[sympy.Symbol], sympy.Expr, list[sympy.Expr]]:
    r"""``(variables, expr, steps)`` of a LaTeX claim ``\frac{d}{dx} EXPR = STEP = ...``.

    >>> variables, expr, steps = parse_latex_claim(r"\frac{d}{dx} \sin^2 x = 2\sin x \cos x")
    >>> variables, expr, steps
    ([x], sin(x)**2, [2*sin(x)*cos(x)])
    """
    prefix = _PREFIX.match(text)
    if prefix is None:
        raise InputError(
            r"a LaTeX claim starts with \frac{d}{dx} or \frac{\partial}{\partial x}",
            text=text, position=0,
        )
    order = int(prefix.group("n") or 1)
    variables: list[sympy.Symbol] = []
    for match in _VARIABLE.finditer(prefix.group("den")):
        name = re.sub(r"[{}]", "", match.group("v"))
        variables += [sympy.Symbol(name, real=True)] * int(match.group("n") or 1)
    if len(variables) != order:
        raise ParseError(
            "LaTeX: the variables below the fraction do not match its order",
            text=text, position=prefix.start("den"),
        )
    equals = _top_level_equals(text)
    if not equals:
        raise InputError("a claim needs '=' between the expression and its claimed derivative")
    bounds = [prefix.end(), *equals, len(text)]
    sides = [(bounds[i] + (i > 0), bounds[i + 1]) for i in range(len(bounds) - 1)]
    parsed = [_parse_side(text[a:b], text, a) for a, b in sides]
    return variables, parsed[0], parsed[1:]
