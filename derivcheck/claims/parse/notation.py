"""Human notation to claim syntax: maths as people type it, read as they mean it.

This pass runs before the scanner and only rewrites text; the scanner and the
AST whitelist still decide what is allowed, so nothing it writes can run.  It
reads:

- implicit products with spaces and after brackets: ``x e^x``, ``2x cos(x)``,
  ``(x+1)(x-1)``, ``|x| y``; ``x(x + 1)`` is a product when ``x`` is a variable
  of the claim (``f(x)`` stays a call of a placeholder);
- function application without brackets, with the usual reach: ``sin x``,
  ``ln x``, ``sin 2x`` (= ``sin(2x)``), ``sin x^2`` (= ``sin(x^2)``),
  ``sin x cos x`` (a product of two functions);
- powers and inverses of functions: ``sin^2(x)``, ``sin²x`` (= ``sin(x)^2``),
  ``sin⁻¹(x)``, ``tan^-1 x`` (= ``atan(x)``);
- other spellings (``arctan``, ``arsinh``, ``cosec``, ``σ(x)`` for sigmoid),
  logarithms with a base (``log_2(x)``, ``log_{10} x``, ``lg x``, ``log10(x)``),
  ``√x``, ``∛x``, ``|x|``, ``[...]`` and ``{...}`` as brackets, ``π`` and ``τ``;
- run-together letters: ``xy`` is ``x*y`` when both letters are variables of
  the claim and ``xy`` is not a name the parser knows.

Every character written keeps the offset of the user's character it came from.
Where the text is ambiguous the common reading is taken and a note says so
(``1/2x`` is read as ``(1/2)*x``).

>>> rewrite("x e^x").text
'x* e^x'
>>> rewrite("sin^2 x + arctan(x)").text
'(sin(x))^(2) + atan(x)'
>>> rewrite("ln|x|").text
'ln(Abs(x))'
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Collection
from dataclasses import dataclass, field

from derivcheck.claims.parse.scanner import IDENT, SUPERSCRIPTS
from derivcheck.claims.parse.vocabulary import (
    ALIASES,
    INVERSES,
    KNOWN_CONSTANTS,
    KNOWN_FUNCTIONS,
    LOG_BASES,
)

__all__ = ["Rewritten", "rewrite", "variables_of"]

_DIGITS = "0123456789"
_PRIMES = "'′″‴"
_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {")", "]", "}"}
_LOG_BASE = re.compile(r"log_(\d+|e)$")
_KEYWORDS = frozenset(keyword.kwlist)
# what may not be split into letters or read as a product with what follows
_RESERVED = frozenset(KNOWN_FUNCTIONS) | frozenset(KNOWN_CONSTANTS) | frozenset(ALIASES)


@dataclass
class _Token:
    kind: str  # name number space sup op open close bar root
    text: str
    start: int


@dataclass
class Rewritten:
    """Claim-syntax text, the user's offset of each of its characters, and notes."""

    text: str
    origin: list[int]
    notes: list[str] = field(default_factory=list)


def _tokens(src: str) -> list[_Token]:
    out: list[_Token] = []
    i = 0
    while i < len(src):
        char = src[i]
        if char.isspace():
            j = i
            while j < len(src) and src[j].isspace():
                j += 1
            out.append(_Token("space", src[i:j], i))
            i = j
            continue
        match = IDENT.match(src, i)
        if match is not None:
            out.append(_Token("name", match.group(), i))
            i = match.end()
            continue
        if char in SUPERSCRIPTS:
            j = i
            while j < len(src) and src[j] in SUPERSCRIPTS:
                j += 1
            out.append(_Token("sup", src[i:j], i))
            i = j
            continue
        if char in _DIGITS or (char == "." and src[i + 1 : i + 2] in tuple(_DIGITS)):
            j = i
            while j < len(src) and (src[j] in _DIGITS or src[j] == "."):
                j += 1
            if j < len(src) and src[j] in "eE" and re.match(r"[eE][+-]?\d", src[j:]):
                j += 1
                if src[j] in "+-":
                    j += 1
                while j < len(src) and src[j] in _DIGITS:
                    j += 1
            out.append(_Token("number", src[i:j], i))
            i = j
            continue
        if char == "*" and src[i + 1 : i + 2] == "*":
            out.append(_Token("op", "^", i))  # ** and ^ read alike here
            i += 2
            continue
        kind = (
            "open" if char in _OPEN else "close" if char in _CLOSE else "bar" if char == "|"
            else "root" if char in "√∛" else "op"
        )  # fmt: skip
        out.append(_Token(kind, char, i))
        i += 1
    return out


def variables_of(text: str, wrt: Collection[str] = ()) -> set[str]:
    """The names that are variables of a claim: `wrt`, and single letters used only
    other than as the name of a call (``x`` in ``x + f(x)``, not ``f``; not ``f`` in
    ``f(x) + f`` either, which the parser reports as a name used two ways)."""
    found: set[str] = set()
    called_names: set[str] = set()
    tokens = [t for t in _tokens(text) if t.kind != "space"]
    for k, token in enumerate(tokens):
        if token.kind != "name" or len(token.text) != 1 or token.text in _RESERVED:
            continue
        following = tokens[k + 1] if k + 1 < len(tokens) else None
        called = following is not None and (
            following.kind == "open" or (following.kind == "op" and following.text in _PRIMES)
        )
        (called_names if called else found).add(token.text)
    # a letter used both alone and as a call is left for the parser to report
    return set(wrt) | (found - called_names)


class _Writer:
    def __init__(self, tokens: list[_Token], variables: Collection[str], end: int) -> None:
        self.tokens = tokens
        self.variables = set(variables)
        self.pieces: list[str] = []
        self.origin: list[int] = []
        self.notes: list[str] = []
        self.end = end

    # output ------------------------------------------------------------------------------

    def emit(self, text: str, at: int) -> None:
        self.pieces.append(text)
        self.origin.extend([at] * len(text))

    def at(self, k: int) -> int:
        return self.tokens[k].start if k < len(self.tokens) else self.end

    # navigation --------------------------------------------------------------------------

    def next_solid(self, k: int) -> int:
        while k < len(self.tokens) and self.tokens[k].kind == "space":
            k += 1
        return k

    def kind(self, k: int) -> str:
        return self.tokens[k].kind if k < len(self.tokens) else "end"

    def matching(self, k: int) -> int:
        """Index of the bracket closing the one at `k` (or len(tokens))."""
        depth = 0
        for j in range(k, len(self.tokens)):
            token = self.tokens[j]
            if token.kind == "open":
                depth += 1
            elif token.kind == "close":
                depth -= 1
                if depth == 0:
                    return j
        return len(self.tokens)

    def closing_bar(self, k: int) -> int:
        """Index of the bar closing the one at `k`: the next bar at the same depth that
        follows the end of a term (``|x - 1|``, ``||x| - 1|``)."""
        depth = 0
        j = k + 1
        while j < len(self.tokens):
            token = self.tokens[j]
            if token.kind == "open":
                depth += 1
            elif token.kind == "close":
                depth -= 1
            elif token.kind == "bar" and depth == 0:
                prev = self.tokens[j - 1] if j - 1 > k else None
                if prev is not None and prev.kind in ("name", "number", "close", "sup", "bar"):
                    return j
                j = self.closing_bar(j) + 1  # an inner |...| opens here
                continue
            j += 1
        return len(self.tokens)

    # the argument of a function written without brackets -------------------------------

    def bare_argument(self, k: int) -> int:
        """End (exclusive) of the tight term starting at `k`: ``2x``, ``x^2``, ``e^-x``."""
        j = k
        if self.kind(j) == "op" and self.tokens[j].text in "+-":
            j += 1
        start = j
        while j < len(self.tokens):
            kind = self.kind(j)
            if kind in ("name", "number", "sup") or kind == "root":
                j += 1
            elif kind == "op" and self.tokens[j].text == "^" and j > start:
                j += 1
                if self.kind(j) == "op" and self.tokens[j].text in "+-":
                    j += 1
                if self.kind(j) == "open":
                    j = self.matching(j) + 1
                elif self.kind(j) in ("name", "number"):
                    j += 1
            elif kind == "open" and j > start and self.kind(j - 1) == "name":
                j = self.matching(j) + 1  # a nested call: sin 2cos(x) is rare, cos(x) not
            else:
                break
        return j

    # the pass ------------------------------------------------------------------------------

    def run(self, lo: int, hi: int) -> None:
        k = lo
        while k < hi:
            token = self.tokens[k]
            kind = token.kind
            if kind == "name":
                k = self.name(k, hi)
            elif kind == "open":
                close = min(self.matching(k), hi)
                self.emit("(", token.start)
                self.run(k + 1, close)
                if close < hi:
                    self.emit(")", self.tokens[close].start)
                k = close + 1
                self.product_after(k, hi)
            elif kind == "close":
                self.emit(")", token.start)
                k += 1
            elif kind == "bar" and self._after_term(k, lo):
                self.emit(token.text, token.start)  # (x > 0) | (y > 0): a condition's "or"
                k += 1
            elif kind == "bar":
                close = min(self.closing_bar(k), hi)
                self.emit("Abs(", token.start)
                self.run(k + 1, close)
                self.emit(")", self.at(close))
                k = close + 1
                self.product_after(k, hi)
            elif kind == "root":
                k = self.apply("sqrt" if token.text == "√" else "cbrt", k, k + 1, hi)
            elif kind == "op" and token.text == "/" and self._ambiguous_division(k, hi):
                self.emit("/", token.start)
                k += 1
            else:
                self.emit(token.text, token.start)
                k += 1

    def _after_term(self, k: int, lo: int) -> bool:
        j = k - 1
        while j >= lo and self.tokens[j].kind == "space":
            j -= 1
        return j >= lo and self.tokens[j].kind in ("name", "number", "close", "sup")

    def _ambiguous_division(self, k: int, hi: int) -> bool:
        """``1/2x``: read as ``(1/2)*x``, and say so."""
        if k + 2 < hi and self.kind(k + 1) == "number" and self.kind(k + 2) == "name":
            left = self.tokens[k - 1].text if k > 0 else ""
            number, name = self.tokens[k + 1].text, self.tokens[k + 2].text
            note = (
                f"read `{left}/{number}{name}` as ({left}/{number})*{name}; "
                f"write {left}/({number}{name}) for the other reading"
            )
            if note not in self.notes:
                self.notes.append(note)
            return True
        return False

    def product_after(self, k: int, hi: int) -> None:
        """A term just ended: juxtaposition with what follows is a product."""
        j = self.next_solid(k)
        if j >= hi:
            return
        following = self.tokens[j]
        if (following.kind in ("name", "number", "root", "open") and not (
            following.kind == "name" and following.text in _KEYWORDS
        )) or (following.kind == "bar" and self.closing_bar(j) < hi):
            self.emit("*", following.start)

    def name(self, k: int, hi: int) -> int:
        token = self.tokens[k]
        text = token.text
        if text in _KEYWORDS:  # and / or / not in a condition
            self.emit(text, token.start)
            return k + 1
        function, base = self.function_name(text)
        j = self.next_solid(k + 1)
        followed_by_argument = j < hi and self.kind(j) in ("open", "bar", "name", "number", "root")
        power_follows = j < hi and (
            self.kind(j) == "sup" or (self.kind(j) == "op" and self.tokens[j].text == "^")
        )
        is_variable = text in self.variables
        if function is not None and (followed_by_argument or power_follows) and not (
            is_variable and text not in KNOWN_FUNCTIONS
        ):
            return self.apply(function, k, k + 1, hi, base=base, shown=text)
        if text in ("π",):
            self.emit("pi", token.start)
        elif text == "τ":
            self.emit("(2*pi)", token.start)
        elif self.splittable(text):
            self.emit("*".join(text), token.start)
        else:
            self.emit(text, token.start)
        k += 1
        # x(x + 1) with x a variable: a product; f(x): a call
        if j < hi and self.kind(j) == "open" and (is_variable or self.splittable(text)):
            self.emit("*", self.tokens[j].start)
            return k
        if j > k or self.kind(k) in ("bar", "root"):  # a space, or |x| / √x right after
            self.product_after(k, hi)
        return k

    def function_name(self, text: str) -> tuple[str | None, int | None]:
        """The known function `text` names (with a log base), or (None, None)."""
        if text in LOG_BASES:
            return "log", LOG_BASES[text]
        match = _LOG_BASE.match(text)
        if match is not None:
            return "log", (None if match.group(1) == "e" else int(match.group(1)))
        if text == "log_" :
            return "log", -1  # the base follows in braces: log_{10}
        name = ALIASES.get(text, text)
        if name == "sigmoid" and text == "σ" and "σ" in self.variables:
            return None, None
        return (name, None) if name in KNOWN_FUNCTIONS else (None, None)

    def splittable(self, text: str) -> bool:
        return (
            len(text) > 1
            and text not in _RESERVED
            and text.isalpha()
            and all(c in self.variables for c in text)
        )

    def apply(
        self, function: str, k: int, j: int, hi: int, *, base: int | None = None, shown: str = ""
    ) -> int:
        """Write ``function(ARG)`` for the name (or root sign) at `k`, its power or inverse
        and its argument starting at token `j`; return the index after the argument."""
        at = self.tokens[k].start
        j = self.next_solid(j)
        if base == -1:  # log_{b}: the base in braces
            if self.kind(j) == "open":
                close = self.matching(j)
                base_text = "".join(t.text for t in self.tokens[j + 1 : close])
                base = int(base_text) if base_text.isdigit() else None
                j = self.next_solid(close + 1)
            else:
                base = None
        power: str | None = None
        if self.kind(j) == "sup":
            power = "".join(SUPERSCRIPTS[c] for c in self.tokens[j].text)
            if not re.fullmatch(r"[+-]?\d+", power):
                self.emit(self.tokens[k].text, at)  # the scanner says what is wrong
                return k + 1
            j = self.next_solid(j + 1)
        elif self.kind(j) == "op" and self.tokens[j].text == "^":
            e = j + 1
            if self.kind(e) == "open":
                close = self.matching(e)
                power = "".join(t.text for t in self.tokens[e + 1 : close]).replace(" ", "")
                e = close + 1
            else:
                sign = ""
                if self.kind(e) == "op" and self.tokens[e].text in "+-":
                    sign, e = self.tokens[e].text, e + 1
                if self.kind(e) == "number":
                    power, e = sign + self.tokens[e].text, e + 1
            if power is None or not re.fullmatch(r"[+-]?\d+", power):
                self.emit(self.tokens[k].text, at)  # not a function power: leave it as typed
                return k + 1
            j = self.next_solid(e)
        if power is not None and int(power) == -1 and function in INVERSES:
            function, power = INVERSES[function], None
        if self.kind(j) == "open":
            arg_lo, arg_hi = j + 1, min(self.matching(j), hi)
            after = arg_hi + 1
        elif self.kind(j) == "bar":
            arg_lo, arg_hi = j, min(self.closing_bar(j) + 1, hi)
            after = arg_hi
        else:
            arg_lo, arg_hi = j, min(self.bare_argument(j), hi)
            after = arg_hi
        if arg_hi <= arg_lo:  # nothing to apply it to: leave the name for the parser to judge
            self.emit(self.tokens[k].text, at)
            return k + 1
        if power is not None:
            self.emit("(", at)
        self.emit(function + "(", at)
        self.run(arg_lo, arg_hi)
        self.emit(")" if base is None else f", {base})", self.at(arg_hi))
        if power is not None:
            self.emit(f")^({power})", at)
        self.product_after(after, hi)
        return after


_CONDITION_WORDS = frozenset({"and", "or", "not", "True", "False"})
_PRIME_CALL = re.compile(r"['′″‴]+\s*\(")


def _reads_as_code(text: str, tokens: list[_Token]) -> bool:
    """Python keywords (other than a condition's), quotes, or a prime that is not
    ``f'(u)``: left exactly as typed, so the parser names the construct it refuses."""
    if '"' in text or any(
        t.kind == "name" and t.text in _KEYWORDS and t.text not in _CONDITION_WORDS
        for t in tokens
    ):
        return True
    if any(
        t.kind == "op" and t.text in _PRIMES and not _PRIME_CALL.match(text, t.start)
        and not (t.start > 0 and text[t.start - 1] in _PRIMES)
        for t in tokens
    ):
        return True
    # x[0] (a subscript), [x, y] and {x: y} (a list, a dict): code, not brackets
    for k, t in enumerate(tokens):
        if t.kind == "open" and t.text in "[{":
            after_term = k > 0 and tokens[k - 1].kind in ("name", "close", "number")
            if after_term and tokens[k - 1].text == "log_":
                continue  # log_{10}: a base
            if after_term and k + 2 < len(tokens) and tokens[k + 1].kind == "number" and (
                tokens[k + 2].kind == "close"
            ):
                return True  # x[0]: a subscript
            depth = 0
            for u in tokens[k:]:
                depth += (u.kind == "open") - (u.kind == "close")
                if depth == 0:
                    break
                if depth == 1 and u.kind == "op" and u.text in ",:":
                    return True
    return False


def rewrite(text: str, variables: Collection[str] = ()) -> Rewritten:
    """Rewrite human notation in `text` into claim syntax (see the module docstring).

    `variables` are the claim's variables (``variables_of`` finds them); a name
    among them followed by a bracket is a product, not a call.  Text that reads
    as code (Python keywords, quotes) is returned as it is.
    """
    tokens = _tokens(text)
    if _reads_as_code(text, tokens):
        return Rewritten(text, list(range(len(text))))
    writer = _Writer(tokens, variables_of(text, variables), len(text))
    writer.run(0, len(tokens))
    return Rewritten("".join(writer.pieces), writer.origin, writer.notes)
