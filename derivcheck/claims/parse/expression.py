"""Text → SymPy without running the text: an AST whitelist, and the claim syntax.

User text is never given to ``eval``, ``exec`` or ``sympify``.  It goes through
three steps:

1. a small scanner rewrites the conveniences people type (``^``, ``2x``,
   ``x²``, ``−``, ``f'(u)``, ``1(x > y)``) into Python syntax, keeping for
   every character the offset it came from so that error carets point into the
   user's own text;
2. :func:`ast.parse` in ``mode="eval"`` turns it into a syntax tree (parsing
   runs nothing);
3. a converter walks the tree and builds SymPy objects itself, accepting only a
   whitelist of node types.  Anything else raises
   :class:`~derivcheck.errors.UnsafeInputError` naming the construct.

All symbols are real (``sympy.Symbol(name, real=True)``), so the same name is
the same symbol in every expression, and ``diff(Abs(x), x)`` is ``sign(x)``.

The claim syntax (``d/dx EXPR = CLAIM``) is described in ``docs/claim-syntax.md``.

Examples
--------
>>> from derivcheck.claims.parse.expression import parse_expression, parse_claim
>>> parse_expression("3(2x^2)^5")
96*x**10
>>> claim = parse_claim("d/dx max(x, y) = 1(x > y)")
>>> claim.claimed
Piecewise((1, x > y), (0, True))
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
import unicodedata
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NoReturn

import sympy
from sympy.core.function import AppliedUndef

from derivcheck.errors import InputError, ParseError, UnsafeInputError

__all__ = [
    "KNOWN_CONSTANTS",
    "KNOWN_FUNCTIONS",
    "MAX_EXPONENT",
    "MAX_INT_DIGITS",
    "MAX_NESTING",
    "MAX_TEXT_LENGTH",
    "Claim",
    "parse_claim",
    "parse_expression",
    "parse_symbol",
]

# Message templates.  The project keeps message strings in report.py, but these
# are raised while parsing, before any report exists, and report.py must stay free
# of SymPy; keeping them here, together and at the top, serves the same purpose.
# ``{what}`` is the argument's label ("expression", "`claimed`", ...).
MSG_TYPE = "{what} must be a string or a SymPy expression, not {type}"
MSG_EMPTY = "{what} is empty"
MSG_TOO_LONG = "{what} is {length} characters long; the limit is {limit}"
MSG_SYNTAX = "{what}: invalid syntax ({reason})"
MSG_SYNTAX_PLAIN = "{what}: invalid syntax"
MSG_ENDS_EARLY = "the text ends too early"
MSG_MISSING_OPERATOR = "two terms side by side need an operator between them (write x*y)"
MSG_CHARACTER = "{what}: unexpected character {char!r} ({name})"
MSG_COMMENT = "{what}: '#' starts a comment; comments are not part of an expression"
MSG_EQUALS = (
    "{what}: '=' is not allowed in an expression; "
    "it separates the two sides of a claim, as in d/dx x^2 = 2*x"
)
MSG_UNDERSCORE = "{what}: names starting with '_' are not allowed ({name!r}); nothing was run"
MSG_DIGIT_SEPARATOR = "{what}: '_' inside a number is not supported; write the digits alone"
MSG_UNSAFE = "{what}: {construct} is not allowed in an expression; nothing was run"
MSG_PRIME = "{what}: a prime (') must be followed by an argument list, as in f'(x)"
MSG_SUPERSCRIPT = "{what}: superscript {text!r} is not an integer exponent (write x^(...))"
MSG_NESTING = "{what} is nested more than {limit} levels deep"
MSG_TREE_DEPTH = (
    "{what} builds a SymPy expression nested more than {limit} levels deep, "
    "too deep for SymPy to handle reliably"
)
MSG_TOO_COMPLEX = "{what} is too deeply nested, or too long a chain, for Python or SymPy"
MSG_INT_DIGITS = "{what}: an integer literal has {digits} digits; the limit is {limit}"
MSG_FLOAT_RANGE = "{what}: the number {literal} is outside the float64 range"
MSG_EXPONENT = "{what}: the exponent {exponent} is too large (|exponent| > {limit})"
MSG_NUMBER_SIZE = "{what}: numbers grow too large (more than about {digits} digits)"
MSG_ARITY = "{what}: {name}() takes {expected}, got {got}"
MSG_FUNCTION_AS_SYMBOL = "{what}: '{name}' is a function, not a variable; call it, as in {name}(x)"
MSG_CALL_CONSTANT = "{what}: '{name}' is a constant and cannot be called"
MSG_CALL_BUILTIN = "{what}: '{name}' is a Python builtin, not a supported function; nothing was run"
MSG_SYMPY_FUNCTION = (
    "{what}: {name}() is a SymPy function that derivcheck does not support; "
    "rewrite it with the supported functions, or use another name for an unknown function"
)
MSG_NO_ARGUMENTS = "{what}: {name}() needs at least one argument"
MSG_NAME_CLASH = "{what}: '{name}' is used both as a function and as a variable"
MSG_CONDITION_AS_VALUE = (
    "{what}: the condition {condition} is not a number; write 1({condition}) for its indicator"
)
MSG_BITWISE = (
    "{what}: & and | combine conditions, and bind tighter than comparisons; "
    "put each comparison in parentheses, as in 1((x > 0) & (y > 0))"
)
MSG_VALUE_AS_CONDITION = (
    "{what}: {value} is not a condition; expected a comparison such as x > 0, or True"
)
MSG_PIECEWISE_ARGUMENT = (
    "{what}: Piecewise takes (value, condition) pairs, as in Piecewise((x, x > 0), (0, True))"
)
MSG_SYMPY_REJECTED = "{what}: SymPy cannot build this: {reason}"
MSG_NOT_IDENTIFIER = "{what} must be a variable name such as x or w1, not {name!r}"
MSG_RESERVED_NAME = "{what} must be a variable name; {name!r} is {kind}"
MSG_CLAIM_TYPE = "a claim must be a string, not {type}"
MSG_CLAIM_NO_EQUALS = (
    "a claim needs '=' between the expression and its claimed derivative, as in d/dx x^2 = 2*x"
)
MSG_CLAIM_DOUBLE_EQUALS = "a claim uses a single '=', not '==', as in d/dx x^2 = 2*x"
MSG_CLAIM_UNCLOSED = "a claim's '=' must be outside brackets; this bracket is never closed"
MSG_CLAIM_MANY_EQUALS = "a claim has exactly one '='; found {count}"
MSG_CLAIM_NO_PREFIX = (
    "a claim starts with d/dx (or ∂/∂x) naming the variable, as in d/dx x^2 = 2*x "
    "or d(x^2)/dx = 2*x"
)
MSG_CLAIM_BAD_VARIABLE = "d/d must be followed by a variable name, as in d/dx or d/dw1"
MSG_CLAIM_EMPTY_SIDE = "the {side} of the claim is empty"

MAX_TEXT_LENGTH = 10_000
"""Longest text accepted, in characters."""
MAX_NESTING = 100
"""Deepest bracket nesting accepted."""
MAX_INT_DIGITS = 1000
"""Most digits in one number literal."""
MAX_EXPONENT = 1000
"""Largest ``|n|`` accepted in ``a**n`` when ``n`` is a number."""
# operators and calls nested inside each other (-(-(-x)), x**x**x, 1+2*(1+2*(...))):
# bounds the converter's recursion and SymPy's constructors, whose cost grows with
# the square of the depth (about 1 s at this limit for the worst patterns)
_MAX_OPERATOR_DEPTH = 100
# SymPy's printer, sort keys, diff and lambdify recurse about 5 frames per level
# and hit Python's recursion limit near depth 200-300: refuse deeper results.
_MAX_TREE_DEPTH = 150
# Bits that evaluating numeric powers may create in one parse (about 30,000
# digits): bounds the work SymPy does on ``(10**999)**999`` and friends.
_MAX_NUMBER_BITS = 100_000

# Reserved internal names the scanner writes; users cannot write them because
# identifiers starting with '_' are rejected before parsing.
_INDICATOR = "_dc_one"
_PRIME_PREFIX = "_dc_prime"
_PRIME_NAME = re.compile(r"_dc_prime(\d+)_(.+)")

_SUPERSCRIPTS = {
    "⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4",
    "⁵": "5", "⁶": "6", "⁷": "7", "⁸": "8", "⁹": "9",
    "⁻": "-", "⁺": "+",
}  # fmt: skip
_SUPERSCRIPT_CLASS = "".join(_SUPERSCRIPTS)
# identifiers, stopping before superscripts (``\w`` matches ``²``)
_IDENT = re.compile(rf"(?:(?![{_SUPERSCRIPT_CLASS}])[^\W\d])(?:(?![{_SUPERSCRIPT_CLASS}])\w)*")
_NUMBER = re.compile(r"(?:(\d*)\.(\d+)|(\d+)\.?(\d*))(?:[eE]([+-]?\d+))?", re.ASCII)
_TERM_END = re.compile(r"[\w)]$")  # the end of a term: a name, a number or ')'
_TERM_START = re.compile(r"[\w(]")
_SUPERSCRIPT_NUMBER = re.compile(r"[+-]?\d+")
_REPLACEMENTS = {
    "^": "**", "−": "-", "–": "-", "·": "*", "×": "*", "⋅": "*", "∙": "*",
    "÷": "/", "≤": "<=", "≥": ">=", "≠": "!=",
}  # fmt: skip
_PRIMES = {"'": 1, "′": 1, "″": 2, "‴": 3}
_STRING_PREFIXES = {"f", "r", "b", "u", "rb", "br", "fr", "rf"}
_DIGITS = "0123456789"
_BAD_ASCII = {"$", "?", "`"}

# Node types named in "not allowed" messages.
_CONSTRUCT_NAMES: dict[type, str] = {
    ast.Attribute: "attribute access (.name)",
    ast.Subscript: "subscript [...]",
    ast.Slice: "slice",
    ast.Lambda: "lambda",
    ast.ListComp: "list comprehension",
    ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension",
    ast.GeneratorExp: "generator expression",
    ast.List: "list [...]",
    ast.Set: "set {...}",
    ast.Dict: "dict {...}",
    ast.Tuple: "a tuple (tuples are only Piecewise arguments)",
    ast.JoinedStr: "f-string",
    ast.FormattedValue: "f-string",
    ast.NamedExpr: "assignment expression (:=)",
    ast.Starred: "starred argument (*)",
    ast.IfExp: "conditional expression (if/else)",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}
_OPERATOR_NAMES: dict[type, str] = {
    ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<",
    ast.RShift: ">>", ast.BitXor: "xor", ast.BitAnd: "&", ast.BitOr: "|",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
    ast.Invert: "~", ast.Not: "not",
}  # fmt: skip


# --------------------------------------------------------------------------
# known functions and constants


def _relu(x: sympy.Expr) -> sympy.Expr:
    return sympy.Max(x, 0)


def _sigmoid(x: sympy.Expr) -> sympy.Expr:
    return 1 / (1 + sympy.exp(-x))


def _softplus(x: sympy.Expr) -> sympy.Expr:
    return sympy.log(1 + sympy.exp(x))


def _piecewise(*pairs: tuple[sympy.Expr, Any]) -> sympy.Expr:
    return sympy.Piecewise(*pairs)


KNOWN_FUNCTIONS: Mapping[str, Callable[..., sympy.Expr]] = MappingProxyType(
    {
        "exp": sympy.exp,
        "log": sympy.log,
        "ln": sympy.log,
        "sqrt": sympy.sqrt,
        "sin": sympy.sin,
        "cos": sympy.cos,
        "tan": sympy.tan,
        "tanh": sympy.tanh,
        "sinh": sympy.sinh,
        "cosh": sympy.cosh,
        "asin": sympy.asin,
        "acos": sympy.acos,
        "atan": sympy.atan,
        "erf": sympy.erf,
        "Abs": sympy.Abs,
        "abs": sympy.Abs,
        "sign": sympy.sign,
        "Heaviside": sympy.Heaviside,
        "Max": sympy.Max,
        "max": sympy.Max,
        "Min": sympy.Min,
        "min": sympy.Min,
        "Piecewise": _piecewise,
        "relu": _relu,
        "sigmoid": _sigmoid,
        "softplus": _softplus,
    }
)
"""Function names the parser knows, each mapped to a builder of SymPy arguments."""

# (fewest, most) arguments; None = no upper bound
_ARITY: dict[str, tuple[int, int | None]] = {name: (1, 1) for name in KNOWN_FUNCTIONS}
_ARITY.update(
    {
        "log": (1, 2),
        "Heaviside": (1, 2),
        "Max": (2, None),
        "max": (2, None),
        "Min": (2, None),
        "min": (2, None),
        "Piecewise": (1, None),
    }
)

KNOWN_CONSTANTS: Mapping[str, sympy.Expr] = MappingProxyType(
    {"pi": sympy.pi, "E": sympy.E, "e": sympy.E}
)
"""Names that are constants.  ``e`` is Euler's number, as in the book's ``e^x``."""


# --------------------------------------------------------------------------
# public API


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


def parse_expression(text: str | sympy.Expr, *, what: str = "expression") -> sympy.Expr:
    """Parse text into a SymPy expression without running it.

    Parameters
    ----------
    text : str or sympy.Expr
        The expression, in the syntax of ``docs/claim-syntax.md``: ``^`` or
        ``**`` for powers, implicit multiplication after numbers (``2x``,
        ``3(x+1)``), the known functions, ``1(cond)`` indicators and
        placeholders ``f(x)``, ``f'(x)``.  A SymPy expression is passed
        through with its free symbols made real (and its undefined functions
        made real-valued), so it shares symbols with parsed text.  A Python
        ``int`` or ``float`` is taken as the exact number it prints as.
    what : str, optional
        Names the argument in error messages.  A bare name such as
        ``"claimed"`` is shown in backticks; ``"expression"`` is shown as is.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    UnsafeInputError
        The text uses a construct outside the grammar (attribute access,
        ``_`` names, lambdas, strings, ...).  Nothing was run.
    ParseError
        Invalid syntax, a wrong number of arguments, a condition where a
        number belongs.  The message points at the position.
    InputError
        Too long, too deeply nested, or numbers too large.

    Examples
    --------
    >>> parse_expression("3x^3*z - y^2 + 5z + 2y*z")
    3*x**3*z - y**2 + 2*y*z + 5*z
    >>> parse_expression("0.5*x") == parse_expression("x/2")
    True
    >>> parse_expression("f'(g(x))*g'(x)")
    Derivative(f(g(x)), g(x))*Derivative(g(x), x)
    >>> parse_expression("x.real")
    Traceback (most recent call last):
    ...
    derivcheck.errors.UnsafeInputError: expression: attribute access (.name) is not allowed ...
    """
    label = _label(what)
    if isinstance(text, sympy.Expr):
        return _realify(text)
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise InputError(MSG_TYPE.format(what=label, type=type(text).__name__))
    if isinstance(text, (int, float)):
        text = repr(text)
    return _Parser(text, label).expression(text, 0)


def parse_symbol(name: str | sympy.Symbol, *, what: str = "wrt") -> sympy.Symbol:
    """Return the real SymPy symbol for a variable name.

    Parameters
    ----------
    name : str or sympy.Symbol
        An identifier (``x``, ``w1``, ``θ``).  A Symbol gives the real symbol
        of the same name.
    what : str, optional
        Names the argument in error messages (default ``wrt``, shown as
        ```wrt```).

    Returns
    -------
    sympy.Symbol
        ``sympy.Symbol(name, real=True)``.

    Raises
    ------
    InputError
        `name` is not an identifier, starts with ``_``, or is a known
        function or constant.

    Examples
    --------
    >>> x = parse_symbol("x")
    >>> x.is_real, x == parse_expression("x")
    (True, True)
    >>> parse_symbol("2x")
    Traceback (most recent call last):
    ...
    derivcheck.errors.InputError: `wrt` must be a variable name such as x or w1, not '2x'
    """
    label = _label(what)
    if isinstance(name, sympy.Symbol):
        return sympy.Symbol(name.name, real=True)
    if not isinstance(name, str):
        raise InputError(MSG_NOT_IDENTIFIER.format(what=label, name=name))
    normal = unicodedata.normalize("NFKC", name.strip())
    if not normal.isidentifier() or keyword.iskeyword(normal):
        raise InputError(MSG_NOT_IDENTIFIER.format(what=label, name=name))
    kind = None
    if normal.startswith("_"):
        kind = "reserved (names starting with '_' are not allowed)"
    elif normal in KNOWN_FUNCTIONS:
        kind = "a function"
    elif normal in KNOWN_CONSTANTS:
        kind = "a constant"
    if kind is not None:
        raise InputError(MSG_RESERVED_NAME.format(what=label, name=name, kind=kind))
    return sympy.Symbol(normal, real=True)


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
    parser = _Parser(text, "expression")
    try:
        wrt = parse_symbol(variable, what="d/dx")
    except InputError as error:
        raise ParseError(error.message, text=text, position=expr_start - len(variable)) from None
    parser.names[wrt.name] = "variable"
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


# --------------------------------------------------------------------------
# helpers


def _label(what: str) -> str:
    if what == "expression" or not what.isidentifier():
        return what
    return f"`{what}`"


def _realify(expr: sympy.Expr) -> sympy.Expr:
    """Make free symbols real and undefined functions real-valued, by name."""
    mapping = {}
    for symbol in expr.free_symbols:
        if type(symbol) is sympy.Symbol:  # not Dummy or Wild
            real = sympy.Symbol(symbol.name, real=True)
            if symbol != real:  # other assumptions (or none): make it the parser's symbol
                mapping[symbol] = real
    if mapping:
        expr = expr.xreplace(mapping)
    if expr.atoms(AppliedUndef):
        expr = expr.replace(
            lambda e: (
                isinstance(e, AppliedUndef) and e.func != sympy.Function(e.func.__name__, real=True)
            ),
            lambda e: sympy.Function(e.func.__name__, real=True)(*e.args),
        )
    return expr


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
    match = _IDENT.match(text, start)
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


def _is_sympy_function(name: str) -> bool:
    """Is `name` (longer than one letter) a SymPy function or class, like cot or Derivative?"""
    if len(name) == 1:  # f, g, N, O: placeholder names people use
        return False
    obj = getattr(sympy, name, None)
    if isinstance(obj, type):
        return issubclass(obj, sympy.Basic)
    return callable(obj)


def _deeper_than(expr: sympy.Basic, limit: int) -> bool:
    """Is the expression tree deeper than `limit`?  Iterative: no recursion."""
    stack: list[tuple[sympy.Basic, int]] = [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((arg, depth + 1) for arg in node.args)
    return False


def _is_condition(node: ast.AST) -> bool:
    """Does this node read as a condition (comparison, and/or/not, True/False)?"""
    if isinstance(node, (ast.Compare, ast.BoolOp)):
        return True
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, (ast.Not, ast.Invert))
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, (ast.BitAnd, ast.BitOr))
    return isinstance(node, ast.Constant) and isinstance(node.value, bool)


def _decimal(digits: str, exponent: int) -> sympy.Rational:
    """The exact value of a decimal literal: digits * 10**exponent."""
    if exponent >= 0:
        return sympy.Rational(int(digits) * 10**exponent)
    return sympy.Rational(int(digits), 10**-exponent)


# --------------------------------------------------------------------------
# the parser


@dataclass
class _Normalized:
    """Python-syntax text and, for each of its characters, the user's offset."""

    text: str = ""
    origin: list[int] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)

    def emit(self, piece: str, position: int) -> None:
        self.pieces.append(piece)
        self.origin.extend([position] * len(piece))


class _Parser:
    """Parses one expression, or both sides of a claim with shared names."""

    def __init__(self, full_text: str, label: str) -> None:
        self.full_text = full_text
        self.label = label
        self.names: dict[str, str] = {}  # name -> "function" | "variable"
        self.number_bits = 0
        self.normal = _Normalized()
        self.char_of_byte: list[int] | None = None

    # errors ---------------------------------------------------------------

    def fail(self, cls: type[InputError], template: str, position: int, **kw: Any) -> NoReturn:
        raise cls(template.format(what=self.label, **kw), text=self.full_text, position=position)

    def position(self, node: ast.AST) -> int:
        column = getattr(node, "col_offset", 0)
        if self.char_of_byte is not None:
            column = self.char_of_byte[min(column, len(self.char_of_byte) - 1)]
        origin = self.normal.origin
        return origin[min(column, len(origin) - 1)] if origin else 0

    def fail_at(self, cls: type[InputError], template: str, node: ast.AST, **kw: Any) -> NoReturn:
        self.fail(cls, template, self.position(node), **kw)

    def source(self, node: ast.AST) -> str:
        """The normalised text of a node (for messages and number literals)."""
        segment = ast.get_source_segment(self.normal.text, node)
        return segment if segment is not None else type(node).__name__

    # entry ----------------------------------------------------------------

    def expression(self, text: str, base: int) -> sympy.Expr:
        if len(text) > MAX_TEXT_LENGTH:
            raise InputError(
                MSG_TOO_LONG.format(what=self.label, length=len(text), limit=MAX_TEXT_LENGTH)
            )
        if not text.strip():
            self.fail(ParseError, MSG_EMPTY, base)
        self.normal = _Normalized()
        self.scan(text, base)
        normal = self.normal
        normal.text = "".join(normal.pieces)
        normal.origin.append(base + len(text))
        encoded = normal.text.encode("utf-8")
        self.char_of_byte = None
        if len(encoded) != len(normal.text):
            self.char_of_byte = [
                i for i, char in enumerate(normal.text) for _ in char.encode("utf-8")
            ] + [len(normal.text)]
        try:
            with warnings.catch_warnings():  # "invalid decimal literal" for 1and: say it once
                warnings.simplefilter("ignore", SyntaxWarning)
                tree = ast.parse(normal.text, mode="eval")
        except SyntaxError as error:
            self.syntax_error(error)
        except (RecursionError, MemoryError):
            self.fail(InputError, MSG_TOO_COMPLEX, base)
        try:
            result = self.value(tree.body, 0)
        except RecursionError:  # pragma: no cover - the depth limit comes first
            self.fail(InputError, MSG_TOO_COMPLEX, base)
        if _deeper_than(result, _MAX_TREE_DEPTH):
            self.fail(InputError, MSG_TREE_DEPTH, base, limit=_MAX_TREE_DEPTH)
        return result

    def syntax_error(self, error: SyntaxError) -> NoReturn:
        """Re-raise Python's SyntaxError as a ParseError pointing into the user's text."""
        text = self.normal.text
        offset = (error.offset or 0) - 1  # 1-based characters; 0 means "at the end"
        if offset < 0 or (error.lineno or 1) > 1:
            offset = len(text)
        reason = error.msg
        if offset >= len(text.rstrip()):
            reason = MSG_ENDS_EARLY
        elif "forgot a comma" in reason or (
            reason == "invalid syntax"
            and _TERM_END.search(text[:offset].rstrip())
            and _TERM_START.match(text, offset)
        ):
            reason = MSG_MISSING_OPERATOR
        template = MSG_SYNTAX_PLAIN if reason == "invalid syntax" else MSG_SYNTAX
        self.fail(ParseError, template, self.normal.origin[offset], reason=reason)

    # scanner ----------------------------------------------------------------

    def scan(self, src: str, base: int) -> None:
        emit = self.normal.emit
        depth = 0
        i, n = 0, len(src)
        while i < n:
            char = src[i]
            at = base + i
            if char.isspace():
                if self.normal.pieces:  # leading spaces are an IndentationError
                    emit(" ", at)
                i += 1
            elif char in _DIGITS or (char == "." and src[i + 1 : i + 2] in _DIGITS and i + 1 < n):
                i = self.scan_number(src, i, base)
            elif _IDENT.match(src, i):
                i = self.scan_name(src, i, base)
            elif char in _SUPERSCRIPTS:
                j = i
                while j < n and src[j] in _SUPERSCRIPTS:
                    j += 1
                run = "".join(_SUPERSCRIPTS[c] for c in src[i:j])
                if not _SUPERSCRIPT_NUMBER.fullmatch(run):
                    self.fail(ParseError, MSG_SUPERSCRIPT, at, text=src[i:j])
                emit(f"**({run})", at)
                i = j
                self.implicit_product(src, i, base)
            elif char in _REPLACEMENTS:
                emit(_REPLACEMENTS[char], at)
                i += 1
            elif char in "'\"":
                self.fail(UnsafeInputError, MSG_UNSAFE, at, construct="a string literal")
            elif char == "#":
                self.fail(ParseError, MSG_COMMENT, at)
            elif char == "=":
                before = src[i - 1] if i else ""
                after = src[i + 1] if i + 1 < n else ""
                if depth == 0 and "=" not in (before, after) and before not in ("<", ">", "!", ":"):
                    self.fail(ParseError, MSG_EQUALS, at)
                emit(char, at)
                i += 1
            elif char in "([{":
                depth += 1
                if depth > MAX_NESTING:
                    self.fail(InputError, MSG_NESTING, at, limit=MAX_NESTING)
                emit(char, at)
                i += 1
            elif char in ")]}":
                depth = max(depth - 1, 0)
                emit(char, at)
                i += 1
                if char == ")":
                    self.implicit_product(src, i, base)
            elif char.isascii() and char.isprintable() and char not in _BAD_ASCII:
                emit(char, at)
                i += 1
            else:
                name = unicodedata.name(char, f"U+{ord(char):04X}")
                self.fail(ParseError, MSG_CHARACTER, at, char=char, name=name)

    def next_token(self, src: str, i: int) -> tuple[int, str]:
        """Skip spaces; return the offset and the kind of what follows."""
        while i < len(src) and src[i].isspace():
            i += 1
        if i >= len(src):
            return i, "end"
        if src[i] == "(":
            return i, "("
        match = _IDENT.match(src, i)
        if match is not None and not keyword.iskeyword(match.group()):
            return i, "name"
        return i, "other"

    def implicit_product(self, src: str, i: int, base: int) -> None:
        """After a number, ')' or superscript: ``2x``, ``2 x``, ``3(``, ``)(``, ``)x``."""
        j, kind = self.next_token(src, i)
        if kind in ("(", "name"):
            self.normal.emit("*", base + j)

    def scan_number(self, src: str, i: int, base: int) -> int:
        match = _NUMBER.match(src, i)
        assert match is not None  # the caller saw a digit
        literal = match.group()
        digits = "".join(g or "" for g in match.groups()[:4])
        if len(digits) > MAX_INT_DIGITS:
            self.fail(
                InputError, MSG_INT_DIGITS, base + i, digits=len(digits), limit=MAX_INT_DIGITS
            )
        end = match.end()
        if end < len(src) and src[end] == "_":
            self.fail(ParseError, MSG_DIGIT_SEPARATOR, base + end)
        if match.group(5) is not None or "." in literal:
            # a decimal: check its float64 range now, convert exactly later
            try:
                value = float(literal)
            except OverflowError:  # pragma: no cover - float() returns inf instead
                value = float("inf")
            if value in (float("inf"), 0.0) and (value != 0.0 or digits.strip("0")):
                self.fail(InputError, MSG_FLOAT_RANGE, base + i, literal=literal)
        j, kind = self.next_token(src, end)
        if literal == "1" and kind == "(":
            self.normal.emit(_INDICATOR, base + i)  # 1(cond) is an indicator
        else:
            self.normal.emit(literal, base + i)
            if kind in ("(", "name"):
                self.normal.emit("*", base + j)
        return end

    def scan_name(self, src: str, i: int, base: int) -> int:
        match = _IDENT.match(src, i)
        assert match is not None
        name, end = match.group(), match.end()
        if not name.isidentifier():
            bad = next(k for k in range(len(name)) if not name[: k + 1].isidentifier())
            char = name[bad]
            self.fail(
                ParseError,
                MSG_CHARACTER,
                base + i + bad,
                char=char,
                name=unicodedata.name(char, f"U+{ord(char):04X}"),
            )
        if name.startswith("_"):
            self.fail(UnsafeInputError, MSG_UNDERSCORE, base + i, name=name)
        primes, k = 0, end
        while k < len(src) and src[k] in _PRIMES:
            primes += _PRIMES[src[k]]
            k += 1
        if primes == 0:
            if end < len(src) and src[end] == '"':
                self.fail(UnsafeInputError, MSG_UNSAFE, base + end, construct="a string literal")
            self.normal.emit(name, base + i)
            return end
        _, kind = self.next_token(src, k)
        if kind != "(":
            if name.lower() in _STRING_PREFIXES and src[end] == "'":
                construct = "an f-string" if "f" in name.lower() else "a string literal"
                self.fail(UnsafeInputError, MSG_UNSAFE, base + end, construct=construct)
            self.fail(ParseError, MSG_PRIME, base + end)
        self.normal.emit(f"{_PRIME_PREFIX}{primes}_{name}", base + i)
        return k

    # converter --------------------------------------------------------------

    def value(self, node: ast.AST, depth: int) -> sympy.Expr:
        """Convert a node that must be a number-valued expression."""
        if depth > _MAX_OPERATOR_DEPTH:
            self.fail_at(InputError, MSG_NESTING, node, limit=_MAX_OPERATOR_DEPTH)
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp):
            return self.binop(node, depth)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -self.value(node.operand, depth + 1)
            if isinstance(node.op, ast.UAdd):
                return self.value(node.operand, depth + 1)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        if _is_condition(node):
            condition = self.source(node)
            self.fail_at(UnsafeInputError, MSG_CONDITION_AS_VALUE, node, condition=condition)
        self.unsupported(node)

    def unsupported(self, node: ast.AST) -> NoReturn:
        construct = _CONSTRUCT_NAMES.get(type(node))
        if construct is None:
            operator = getattr(node, "op", None)
            if operator is not None and type(operator) in _OPERATOR_NAMES:
                construct = f"the operator {_OPERATOR_NAMES[type(operator)]}"
            else:
                construct = type(node).__name__
        self.fail_at(UnsafeInputError, MSG_UNSAFE, node, construct=construct)

    def constant(self, node: ast.Constant) -> sympy.Expr:
        value = node.value
        if isinstance(value, bool):
            self.fail_at(UnsafeInputError, MSG_CONDITION_AS_VALUE, node, condition=repr(value))
        if isinstance(value, int):
            return sympy.Integer(value)
        if isinstance(value, float):
            match = _NUMBER.fullmatch(self.source(node))
            if match is None:  # pragma: no cover - the scanner wrote the literal
                self.unsupported(node)
            whole = (match.group(1) or "") + (match.group(3) or "")
            fraction = (match.group(2) or "") + (match.group(4) or "")
            exponent = int(match.group(5) or 0) - len(fraction)
            return _decimal(whole + fraction, exponent)
        kinds = {str: "a string literal", bytes: "a bytes literal", type(None): "None",
                 type(...): "Ellipsis (...)", complex: "a complex literal"}  # fmt: skip
        self.fail_at(
            UnsafeInputError,
            MSG_UNSAFE,
            node,
            construct=kinds.get(type(value), type(value).__name__),
        )

    def use(self, name: str, kind: str, node: ast.AST) -> None:
        previous = self.names.setdefault(name, kind)
        if previous != kind:
            self.fail_at(ParseError, MSG_NAME_CLASH, node, name=name)

    def name(self, node: ast.Name) -> sympy.Expr:
        name = node.id
        if name.startswith("_"):  # internal names are only written before '('
            self.fail_at(UnsafeInputError, MSG_UNDERSCORE, node, name=name)
        if name in KNOWN_CONSTANTS:
            return KNOWN_CONSTANTS[name]
        if name in KNOWN_FUNCTIONS:
            self.fail_at(ParseError, MSG_FUNCTION_AS_SYMBOL, node, name=name)
        self.use(name, "variable", node)
        return sympy.Symbol(name, real=True)

    def binop(self, node: ast.BinOp, depth: int) -> sympy.Expr:
        operator = type(node.op)
        if operator in (ast.Add, ast.Sub):
            terms = []
            for negate, operand in self.chain(node, (ast.Add, ast.Sub), ast.Sub):
                term = self.value(operand, depth + 1)
                terms.append(-term if negate else term)
            return self.build(sympy.Add, node, *terms)
        if operator in (ast.Mult, ast.Div):
            factors = []
            for divide, operand in self.chain(node, (ast.Mult, ast.Div), ast.Div):
                factor = self.value(operand, depth + 1)
                factors.append(self.power(factor, sympy.S.NegativeOne, node) if divide else factor)
            return self.build(sympy.Mul, node, *factors)
        if operator is ast.Pow:
            base = self.value(node.left, depth + 1)
            exponent = self.value(node.right, depth + 1)
            return self.power(base, exponent, node)
        if _is_condition(node):
            self.fail_at(UnsafeInputError, MSG_BITWISE, node, condition=self.source(node))
        self.unsupported(node)

    @staticmethod
    def chain(
        node: ast.BinOp, operators: tuple[type, ...], inverse: type
    ) -> list[tuple[bool, ast.AST]]:
        """Flatten a left-nested chain ``a - b + c`` into [(False, a), (True, b), (False, c)];
        iterative, so long sums do not recurse."""
        items: list[tuple[bool, ast.AST]] = []
        current: ast.AST = node
        while isinstance(current, ast.BinOp) and isinstance(current.op, operators):
            items.append((isinstance(current.op, inverse), current.right))
            current = current.left
        items.append((False, current))
        items.reverse()
        return items

    def power(self, base: sympy.Expr, exponent: sympy.Expr, node: ast.AST) -> sympy.Expr:
        if exponent.is_Rational:
            if abs(exponent) > MAX_EXPONENT:
                self.fail_at(InputError, MSG_EXPONENT, node, exponent=exponent, limit=MAX_EXPONENT)
            if base.is_Rational or not base.is_Atom:
                # SymPy evaluates powers of numbers (also inside products), making
                # them longer: budget the bits so (10**999)**999... cannot hang
                rationals = [base] if base.is_Rational else base.atoms(sympy.Rational)
                bits = sum(int(r.p).bit_length() + int(r.q).bit_length() for r in rationals)
                self.number_bits += int(bits * abs(exponent))
                if self.number_bits > _MAX_NUMBER_BITS:
                    self.fail_at(
                        InputError, MSG_NUMBER_SIZE, node, digits=int(_MAX_NUMBER_BITS * 0.30103)
                    )
        return self.build(sympy.Pow, node, base, exponent)

    def build(self, builder: Callable[..., Any], node: ast.AST, *args: Any) -> Any:
        """Call a SymPy constructor; its complaints become ParseErrors at `node`."""
        try:
            return builder(*args)
        except (TypeError, ValueError, ZeroDivisionError) as error:
            self.fail_at(ParseError, MSG_SYMPY_REJECTED, node, reason=error)

    def call(self, node: ast.Call, depth: int) -> sympy.Expr:
        if not isinstance(node.func, ast.Name):
            self.fail_at(
                UnsafeInputError,
                MSG_UNSAFE,
                node,
                construct="a call of something that is not a name",
            )
        for keyword_node in node.keywords:
            self.fail_at(
                UnsafeInputError,
                MSG_UNSAFE,
                keyword_node,
                construct="a keyword argument (name=...)",
            )
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                self.unsupported(argument)
        name = node.func.id
        args = node.args
        if name == _INDICATOR:
            if len(args) != 1:
                self.fail_at(
                    ParseError, MSG_ARITY, node, name="1", expected="1 argument", got=len(args)
                )
            if _is_condition(args[0]):
                condition = self.condition(args[0], depth + 1)
                return self.build(sympy.Piecewise, node, (1, condition), (0, True))
            return self.value(args[0], depth + 1)
        prime = _PRIME_NAME.fullmatch(name)
        if prime is not None:
            return self.derivative_call(node, prime.group(2), int(prime.group(1)), depth)
        if name.startswith("_"):
            self.fail_at(UnsafeInputError, MSG_UNDERSCORE, node, name=name)
        if name in KNOWN_CONSTANTS:
            self.fail_at(ParseError, MSG_CALL_CONSTANT, node, name=name)
        if name in KNOWN_FUNCTIONS:
            self.check_arity(node, name)
            if name == "Piecewise":
                pairs = [self.piecewise_pair(arg, depth + 1) for arg in args]
                return self.build(sympy.Piecewise, node, *pairs)
            values = [self.value(arg, depth + 1) for arg in args]
            return self.build(KNOWN_FUNCTIONS[name], node, *values)
        function = self.placeholder(node, name)
        if not args:
            self.fail_at(ParseError, MSG_NO_ARGUMENTS, node, name=name)
        values = [self.value(arg, depth + 1) for arg in args]
        return self.build(function, node, *values)

    def placeholder(self, node: ast.Call, name: str) -> Any:
        if hasattr(builtins, name):
            self.fail_at(UnsafeInputError, MSG_CALL_BUILTIN, node, name=name)
        if _is_sympy_function(name):
            # cot(x) as an arbitrary function would turn a true claim into a refuted rule
            self.fail_at(ParseError, MSG_SYMPY_FUNCTION, node, name=name)
        self.use(name, "function", node)
        return sympy.Function(name, real=True)

    def check_arity(self, node: ast.Call, name: str, got: int | None = None) -> None:
        fewest, most = _ARITY[name]
        got = len(node.args) if got is None else got
        if got < fewest or (most is not None and got > most):
            if most == fewest:
                expected = f"{fewest} argument" + ("s" if fewest != 1 else "")
            elif most is None:
                expected = f"at least {fewest} argument" + ("s" if fewest != 1 else "")
            else:
                expected = f"{fewest} to {most} arguments"
            self.fail_at(ParseError, MSG_ARITY, node, name=name, expected=expected, got=got)

    def derivative_call(self, node: ast.Call, name: str, order: int, depth: int) -> sympy.Expr:
        """``f'(u)``: the derivative of f evaluated at u."""
        shown = name + "'" * order
        if name in KNOWN_CONSTANTS:
            self.fail_at(ParseError, MSG_CALL_CONSTANT, node, name=name)
        if len(node.args) != 1:
            self.fail_at(
                ParseError, MSG_ARITY, node, name=shown, expected="1 argument", got=len(node.args)
            )
        if name in KNOWN_FUNCTIONS:
            self.check_arity(node, name, got=1)
            if name == "Piecewise":
                self.fail_at(ParseError, MSG_PIECEWISE_ARGUMENT, node)
            function: Callable[..., Any] = KNOWN_FUNCTIONS[name]
        else:
            function = self.placeholder(node, name)
        point = self.value(node.args[0], depth + 1)
        dummy = sympy.Dummy("d", real=True)
        if name in KNOWN_FUNCTIONS:
            derivative = self.build(sympy.diff, node, function(dummy), dummy, order)
            return derivative.xreplace({dummy: point})
        # What Subs(Derivative(f(d), (d, n)), d, point).doit() gives, and what
        # sympy.diff(f(g(x)), x) builds, without doit's milliseconds: a derivative
        # with respect to the point where SymPy allows that (x, g(x)), else the Subs.
        if point._diff_wrt:
            return sympy.Derivative(function(point), (point, order))
        return sympy.Subs(sympy.Derivative(function(dummy), (dummy, order)), dummy, point)

    def piecewise_pair(self, node: ast.AST, depth: int) -> tuple[sympy.Expr, Any]:
        if not isinstance(node, ast.Tuple) or len(node.elts) != 2:
            self.fail_at(ParseError, MSG_PIECEWISE_ARGUMENT, node)
        value_node, condition_node = node.elts
        return self.value(value_node, depth + 1), self.condition(condition_node, depth + 1)

    def condition(self, node: ast.AST, depth: int) -> Any:
        """Convert a node that must be a condition (a SymPy Boolean)."""
        if depth > _MAX_OPERATOR_DEPTH:
            self.fail_at(InputError, MSG_NESTING, node, limit=_MAX_OPERATOR_DEPTH)
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return sympy.true if node.value else sympy.false
        if isinstance(node, ast.Compare):
            relations = {ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt,
                         ast.GtE: sympy.Ge, ast.Eq: sympy.Eq, ast.NotEq: sympy.Ne}  # fmt: skip
            left = self.value(node.left, depth + 1)
            parts = []
            for operator, right_node in zip(node.ops, node.comparators, strict=True):
                relation = relations.get(type(operator))
                if relation is None:
                    self.fail_at(
                        UnsafeInputError,
                        MSG_UNSAFE,
                        right_node,
                        construct=f"the operator {_OPERATOR_NAMES[type(operator)]}",
                    )
                right = self.value(right_node, depth + 1)
                parts.append(self.build(relation, node, left, right))
                left = right
            return parts[0] if len(parts) == 1 else self.build(sympy.And, node, *parts)
        if isinstance(node, ast.BoolOp):
            combine = sympy.And if isinstance(node.op, ast.And) else sympy.Or
            values = [self.condition(v, depth + 1) for v in node.values]
            return self.build(combine, node, *values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
            combine = sympy.And if isinstance(node.op, ast.BitAnd) else sympy.Or
            left = self.condition(node.left, depth + 1)
            right = self.condition(node.right, depth + 1)
            return self.build(combine, node, left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert)):
            return self.build(sympy.Not, node, self.condition(node.operand, depth + 1))
        if isinstance(node, (ast.Constant, ast.Name, ast.BinOp, ast.UnaryOp, ast.Call)):
            self.fail_at(ParseError, MSG_VALUE_AS_CONDITION, node, value=self.source(node))
        self.unsupported(node)
