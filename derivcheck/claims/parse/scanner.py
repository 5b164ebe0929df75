"""The scanner: the conveniences people type rewritten into Python syntax.

``^``, ``2x``, ``x²``, ``−``, ``f'(u)`` and ``1(x > y)`` become ``**``, ``2*x``,
``x**(2)``, ``-``, a reserved call name and an indicator call; every character
written keeps the offset of the user's character it came from, so that error
carets point into the user's own text.  Strings, comments and characters
outside the grammar are refused here, before :func:`ast.parse` sees anything.
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, NoReturn

from derivcheck.claims.parse.messages import (
    MAX_INT_DIGITS,
    MAX_NESTING,
    MSG_CHARACTER,
    MSG_COMMENT,
    MSG_DIGIT_SEPARATOR,
    MSG_EQUALS,
    MSG_FLOAT_RANGE,
    MSG_INT_DIGITS,
    MSG_NESTING,
    MSG_PRIME,
    MSG_SUPERSCRIPT,
    MSG_UNDERSCORE,
    MSG_UNSAFE,
)
from derivcheck.errors import InputError, ParseError, UnsafeInputError

# Reserved internal names the scanner writes; users cannot write them because
# identifiers starting with '_' are rejected before parsing.
INDICATOR = "_dc_one"
PRIME_PREFIX = "_dc_prime"
PRIME_NAME = re.compile(r"_dc_prime(\d+)_(.+)")

SUPERSCRIPTS = {
    "⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4",
    "⁵": "5", "⁶": "6", "⁷": "7", "⁸": "8", "⁹": "9",
    "⁻": "-", "⁺": "+",
}  # fmt: skip
SUPERSCRIPT_CLASS = "".join(SUPERSCRIPTS)
# identifiers, stopping before superscripts (``\w`` matches ``²``)
IDENT = re.compile(rf"(?:(?![{SUPERSCRIPT_CLASS}])[^\W\d])(?:(?![{SUPERSCRIPT_CLASS}])\w)*")
NUMBER = re.compile(r"(?:(\d*)\.(\d+)|(\d+)\.?(\d*))(?:[eE]([+-]?\d+))?", re.ASCII)
TERM_END = re.compile(r"[\w)]$")  # the end of a term: a name, a number or ')'
TERM_START = re.compile(r"[\w(]")
SUPERSCRIPT_NUMBER = re.compile(r"[+-]?\d+")
REPLACEMENTS = {
    "^": "**", "−": "-", "–": "-", "·": "*", "×": "*", "⋅": "*", "∙": "*",
    "÷": "/", "≤": "<=", "≥": ">=", "≠": "!=",
}  # fmt: skip
PRIMES = {"'": 1, "′": 1, "″": 2, "‴": 3}
STRING_PREFIXES = {"f", "r", "b", "u", "rb", "br", "fr", "rf"}
DIGITS = "0123456789"
BAD_ASCII = {"$", "?", "`"}


@dataclass
class Normalized:
    """Python-syntax text and, for each of its characters, the user's offset."""

    text: str = ""
    origin: list[int] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)

    def emit(self, piece: str, position: int) -> None:
        self.pieces.append(piece)
        self.origin.extend([position] * len(piece))



class Scanner:
    """The scanning half of the parser: a mixin of
    :class:`~derivcheck.claims.parse.expression.Parser`, which provides `fail`."""

    normal: Normalized

    def fail(self, cls: type[InputError], template: str, position: int, **kw: Any) -> NoReturn:
        raise NotImplementedError

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
            elif char in DIGITS or (char == "." and src[i + 1 : i + 2] in DIGITS and i + 1 < n):
                i = self.scan_number(src, i, base)
            elif IDENT.match(src, i):
                i = self.scan_name(src, i, base)
            elif char in SUPERSCRIPTS:
                j = i
                while j < n and src[j] in SUPERSCRIPTS:
                    j += 1
                run = "".join(SUPERSCRIPTS[c] for c in src[i:j])
                if not SUPERSCRIPT_NUMBER.fullmatch(run):
                    self.fail(ParseError, MSG_SUPERSCRIPT, at, text=src[i:j])
                emit(f"**({run})", at)
                i = j
                self.implicit_product(src, i, base)
            elif char in REPLACEMENTS:
                emit(REPLACEMENTS[char], at)
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
            elif char.isascii() and char.isprintable() and char not in BAD_ASCII:
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
        match = IDENT.match(src, i)
        if match is not None and not keyword.iskeyword(match.group()):
            return i, "name"
        return i, "other"

    def implicit_product(self, src: str, i: int, base: int) -> None:
        """After a number, ')' or superscript: ``2x``, ``2 x``, ``3(``, ``)(``, ``)x``."""
        j, kind = self.next_token(src, i)
        if kind in ("(", "name"):
            self.normal.emit("*", base + j)

    def scan_number(self, src: str, i: int, base: int) -> int:
        match = NUMBER.match(src, i)
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
            self.normal.emit(INDICATOR, base + i)  # 1(cond) is an indicator
        else:
            self.normal.emit(literal, base + i)
            if kind in ("(", "name"):
                self.normal.emit("*", base + j)
        return end

    def scan_name(self, src: str, i: int, base: int) -> int:
        match = IDENT.match(src, i)
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
        while k < len(src) and src[k] in PRIMES:
            primes += PRIMES[src[k]]
            k += 1
        if primes == 0:
            if end < len(src) and src[end] == '"':
                self.fail(UnsafeInputError, MSG_UNSAFE, base + end, construct="a string literal")
            self.normal.emit(name, base + i)
            return end
        _, kind = self.next_token(src, k)
        if kind != "(":
            if name.lower() in STRING_PREFIXES and src[end] == "'":
                construct = "an f-string" if "f" in name.lower() else "a string literal"
                self.fail(UnsafeInputError, MSG_UNSAFE, base + end, construct=construct)
            self.fail(ParseError, MSG_PRIME, base + end)
        self.normal.emit(f"{PRIME_PREFIX}{primes}_{name}", base + i)
        return k
