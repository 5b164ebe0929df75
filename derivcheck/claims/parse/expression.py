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
>>> from derivcheck.claims.parse import parse_expression, parse_claim
>>> parse_expression("3(2x^2)^5")
96*x**10
>>> claim = parse_claim("d/dx max(x, y) = 1(x > y)")
>>> claim.claimed
Piecewise((1, x > y), (0, True))
"""


from __future__ import annotations

import ast
import keyword
import unicodedata
import warnings
from typing import Any, NoReturn

import sympy
from sympy.core.function import AppliedUndef

from derivcheck.claims.parse import notation
from derivcheck.claims.parse.converter import Converter
from derivcheck.claims.parse.messages import (
    MAX_TEXT_LENGTH,
    MAX_TREE_DEPTH,
    MSG_EMPTY,
    MSG_ENDS_EARLY,
    MSG_MISSING_OPERATOR,
    MSG_NOT_IDENTIFIER,
    MSG_RESERVED_NAME,
    MSG_SYNTAX,
    MSG_SYNTAX_PLAIN,
    MSG_TOO_COMPLEX,
    MSG_TOO_LONG,
    MSG_TREE_DEPTH,
    MSG_TYPE,
)
from derivcheck.claims.parse.scanner import TERM_END, TERM_START, Normalized, Scanner
from derivcheck.claims.parse.vocabulary import KNOWN_CONSTANTS, KNOWN_FUNCTIONS
from derivcheck.errors import InputError, ParseError

__all__ = ["Parser", "argument_label", "parse_expression", "parse_symbol"]


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
    label = argument_label(what)
    if isinstance(text, sympy.Expr):
        return realify(text)
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise InputError(MSG_TYPE.format(what=label, type=type(text).__name__))
    if isinstance(text, (int, float)):
        text = repr(text)
    return Parser(text, label).expression(text, 0)


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
    label = argument_label(what)
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



def argument_label(what: str) -> str:
    if what == "expression" or not what.isidentifier():
        return what
    return f"`{what}`"


def realify(expr: sympy.Expr) -> sympy.Expr:
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



def deeper_than(expr: sympy.Basic, limit: int) -> bool:
    """Is the expression tree deeper than `limit`?  Iterative: no recursion."""
    stack: list[tuple[sympy.Basic, int]] = [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((arg, depth + 1) for arg in node.args)
    return False



class Parser(Scanner, Converter):
    """Parses one expression, or both sides of a claim with shared names."""

    def __init__(self, full_text: str, label: str) -> None:
        self.full_text = full_text
        self.label = label
        self.names: dict[str, str] = {}  # name -> "function" | "variable"
        self.number_bits = 0
        self.normal = Normalized()
        self.char_of_byte: list[int] | None = None
        self.variables: set[str] = set()  # the claim's variables (wrt, ...)
        self.notes: list[str] = []  # readings of ambiguous text, said in the report
        self.remap: list[int] | None = None  # rewritten text -> the user's offsets

    # errors ---------------------------------------------------------------

    def fail(self, cls: type[InputError], template: str, position: int, **kw: Any) -> NoReturn:
        if self.remap is not None:
            position = self.remap[min(max(position, 0), len(self.remap) - 1)]
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
        try:
            rewritten = notation.rewrite(text, self.variables)
        except RecursionError:  # bars nested past reason: parse the text as typed
            rewritten = notation.Rewritten(text, list(range(len(text))))
        for note in rewritten.notes:
            if note not in self.notes:
                self.notes.append(note)
        self.remap = [base + o for o in rewritten.origin] + [base + len(text)]
        canonical = rewritten.text
        self.normal = Normalized()
        self.scan(canonical, 0)
        normal = self.normal
        normal.text = "".join(normal.pieces)
        normal.origin.append(len(canonical))
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
            self.fail(InputError, MSG_TOO_COMPLEX, 0)
        try:
            result = self.value(tree.body, 0)
        except RecursionError:  # pragma: no cover - the depth limit comes first
            self.fail(InputError, MSG_TOO_COMPLEX, 0)
        if deeper_than(result, MAX_TREE_DEPTH):
            self.fail(InputError, MSG_TREE_DEPTH, 0, limit=MAX_TREE_DEPTH)
        self.remap = None
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
            and TERM_END.search(text[:offset].rstrip())
            and TERM_START.match(text, offset)
        ):
            reason = MSG_MISSING_OPERATOR
        template = MSG_SYNTAX_PLAIN if reason == "invalid syntax" else MSG_SYNTAX
        self.fail(ParseError, template, self.normal.origin[offset], reason=reason)
