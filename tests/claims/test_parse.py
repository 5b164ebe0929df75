"""Tests for derivcheck.claims.parse: text → SymPy without running the text."""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import re

import pytest
import sympy
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from derivcheck.claims.parse import (
    KNOWN_CONSTANTS,
    KNOWN_FUNCTIONS,
    MAX_EXPONENT,
    MAX_INT_DIGITS,
    MAX_NESTING,
    MAX_TEXT_LENGTH,
    Claim,
    parse_claim,
    parse_expression,
    parse_symbol,
)
from derivcheck.errors import InputError, ParseError, UnsafeInputError

x, y, z, u, b, m = sympy.symbols("x y z u b m", real=True)
f, g = sympy.Function("f", real=True), sympy.Function("g", real=True)


def P(text: str) -> sympy.Expr:
    return parse_expression(text)


def same(a: sympy.Expr, b: sympy.Expr) -> bool:
    """Structurally equal, or equal after expansion (no simplify)."""
    return a == b or sympy.expand(a - b) == 0


# ---------------------------------------------------------------------------
# numbers, names, operators


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x", x),
        ("x + y", x + y),
        ("x - y - z", x - y - z),
        ("x - (y - z)", x - y + z),
        ("x*y/z", x * y / z),
        ("x/y/z", x / (y * z)),
        ("x**3", x**3),
        ("x^3", x**3),
        ("x**-1", 1 / x),
        ("2**3**2", sympy.Integer(2**9)),  # right-associative, like Python
        ("-x**2", -(x**2)),
        ("+x", x),
        ("--x", x),
        ("1/3", sympy.Rational(1, 3)),
        ("7", sympy.Integer(7)),
        ("0.5*x", x / 2),
        ("0.1", sympy.Rational(1, 10)),
        (".5", sympy.Rational(1, 2)),
        ("2.", sympy.Integer(2)),
        ("1.5e2", sympy.Integer(150)),
        ("1e-3", sympy.Rational(1, 1000)),
        ("2.5E+1", sympy.Integer(25)),
        ("pi", sympy.pi),
        ("E", sympy.E),
        ("E^x", sympy.exp(x)),
        ("θ + w1", sympy.Symbol("θ", real=True) + sympy.Symbol("w1", real=True)),
        ("m*x + b", m * x + b),
    ],
)
def test_arithmetic(text: str, expected: sympy.Expr) -> None:
    assert P(text) == expected


def test_decimals_are_exact_rationals() -> None:
    # 0.1 as a binary float is not 1/10; the decimal text is
    assert P("0.1") != sympy.Rational(0.1)
    assert P("0.1") == sympy.Rational(1, 10)
    assert P("0.5*x") - P("x/2") == 0
    assert isinstance(P("0.25"), sympy.Rational)


def test_e_is_eulers_number() -> None:
    # the book writes e^x for the exponential; a variable named e would refute d/dx e^x = e^x
    assert P("e") == sympy.E
    assert P("e^x") == sympy.exp(x)
    assert P("E^x") == P("exp(x)")
    with pytest.raises(InputError, match="constant"):
        parse_symbol("e")


def test_symbols_are_real_and_shared() -> None:
    a = P("x")
    assert a.is_real is True
    assert a is P("x + 0")  # cached: the same object everywhere
    assert sympy.diff(P("Abs(x)"), a) == sympy.sign(x)
    assert P("n*c").free_symbols == {sympy.Symbol("n", real=True), sympy.Symbol("c", real=True)}


def test_whitespace_and_newlines() -> None:
    assert P("  x\n +\t1 ") == x + 1


# ---------------------------------------------------------------------------
# text normalisation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2x", 2 * x),
        ("2 x", 2 * x),
        ("3(2x^2)^5", 3 * (2 * x**2) ** 5),
        ("2(x+1)", 2 * x + 2),
        ("(x+1)(x-1)", (x + 1) * (x - 1)),
        ("(x+1) (x-1)", (x + 1) * (x - 1)),
        ("(x+1)x", x * (x + 1)),
        ("2sin(x)", 2 * sympy.sin(x)),
        ("2e", 2 * sympy.E),
        ("2exp(x)", 2 * sympy.exp(x)),
        ("1.5x", sympy.Rational(3, 2) * x),
        ("x²", x**2),
        ("x⁵", x**5),
        ("x⁻¹", 1 / x),
        ("x¹²", x**12),
        ("2x²y", 2 * x**2 * y),
        ("(x+1)²", (x + 1) ** 2),
        ("−x", -x),
        ("x − y", x - y),
        ("2·x", 2 * x),
        ("2×x", 2 * x),
        ("2⋅x", 2 * x),
        ("x ÷ y", x / y),
        ("5x⁵ + 4x³ − 5", 5 * x**5 + 4 * x**3 - 5),
    ],
)
def test_normalisation(text: str, expected: sympy.Expr) -> None:
    assert P(text) == expected


def test_names_are_not_split_into_products() -> None:
    # multi-letter names stay names: implicit products only follow numbers and ')'
    assert P("xy") == sympy.Symbol("xy", real=True)
    assert P("2xy") == 2 * sympy.Symbol("xy", real=True)
    assert P("x1") == sympy.Symbol("x1", real=True)


# ---------------------------------------------------------------------------
# functions, constants, indicators, Piecewise


@pytest.mark.parametrize("name", sorted(set(KNOWN_FUNCTIONS) - {"Piecewise"}))
def test_every_known_function_parses_to_its_builder(name: str) -> None:
    args = "x, y" if name in {"Max", "max", "Min", "min"} else "x"
    expected = KNOWN_FUNCTIONS[name](*([x, y] if "," in args else [x]))
    assert P(f"{name}({args})") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("exp(x)", sympy.exp(x)),
        ("ln(x)", sympy.log(x)),
        ("log(x, 2)", sympy.log(x) / sympy.log(2)),
        ("abs(x)", sympy.Abs(x)),
        ("max(x, y)", sympy.Max(x, y)),
        ("max(x, y, z)", sympy.Max(x, y, z)),
        ("min(x, 0)", sympy.Min(x, 0)),
        ("relu(x)", sympy.Max(x, 0)),
        ("sigmoid(x)", 1 / (1 + sympy.exp(-x))),
        ("softplus(x)", sympy.log(1 + sympy.exp(x))),
        ("Heaviside(x, 0)", sympy.Heaviside(x, 0)),
        ("sqrt(x)", sympy.sqrt(x)),
    ],
)
def test_functions(text: str, expected: sympy.Expr) -> None:
    assert P(text) == expected


def test_known_constants() -> None:
    assert dict(KNOWN_CONSTANTS) == {"pi": sympy.pi, "E": sympy.E, "e": sympy.E}
    with pytest.raises(TypeError):
        KNOWN_FUNCTIONS["evil"] = print  # type: ignore[index]


def indicator(condition: sympy.Basic) -> sympy.Expr:
    return sympy.Piecewise((1, condition), (0, True))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1(x > y)", indicator(x > y)),
        ("1 (x > y)", indicator(x > y)),
        ("1(x >= 0)", indicator(x >= 0)),
        ("1(x ≥ 0)", indicator(x >= 0)),
        ("1(x <= 0)", indicator(x <= 0)),
        ("1(x == y)", indicator(sympy.Eq(x, y))),
        ("1(x != y)", indicator(sympy.Ne(x, y))),
        ("1(0 < x < 1)", indicator(sympy.And(x > 0, x < 1))),
        ("1(x > 0 and y > 0)", indicator(sympy.And(x > 0, y > 0))),
        ("1((x > 0) & (y > 0))", indicator(sympy.And(x > 0, y > 0))),
        ("1((x > 0) | (y > 0))", indicator(sympy.Or(x > 0, y > 0))),
        ("1(x > 0 or y > 0)", indicator(sympy.Or(x > 0, y > 0))),
        ("1(not x > 0)", indicator(x <= 0)),
        ("1(~(x > 0))", indicator(x <= 0)),
        ("1(True)", sympy.Integer(1)),
        ("2*1(x > 0)", 2 * indicator(x > 0)),
        # not a condition: 1(...) is then just a product by 1
        ("1(x + 1)", x + 1),
        ("21(x)", 21 * x),
    ],
)
def test_indicator(text: str, expected: sympy.Expr) -> None:
    assert P(text) == expected


def test_piecewise() -> None:
    assert P("Piecewise((x, x > 0), (0, True))") == sympy.Piecewise((x, x > 0), (0, True))
    assert P("Piecewise((1, x > 0), (-1, x < 0), (0, True))") == sympy.Piecewise(
        (1, x > 0), (-1, x < 0), (0, True)
    )


# ---------------------------------------------------------------------------
# placeholders and primes


def test_placeholders_are_real_undefined_functions() -> None:
    assert P("f(x)") == f(x)
    assert P("f(x)").is_real is True
    assert P("f(g(x))") == f(g(x))
    assert P("h(u)") == sympy.Function("h", real=True)(u)
    assert P("f(x, y)") == f(x, y)
    # single letters and names SymPy does not define are placeholders too
    assert P("N(x)") == sympy.Function("N", real=True)(x)
    assert P("loss(x)") == sympy.Function("loss", real=True)(x)


def test_prime_is_the_derivative_at_the_argument() -> None:
    assert P("f'(x)") == sympy.Derivative(f(x), x)
    assert P("f''(x)") == sympy.Derivative(f(x), (x, 2))
    assert P("f″(x)") == P("f''(x)")
    assert P("f′(x)") == P("f'(x)")
    assert P("sin'(x)") == sympy.cos(x)
    assert P("exp''(x)") == sympy.exp(x)


@pytest.mark.parametrize("point", ["x", "g(x)", "2x", "x + y", "x^2", "0", "sin(x)", "pi"])
@pytest.mark.parametrize("order", [1, 2])
def test_prime_equals_subs_of_derivative(point: str, order: int) -> None:
    u_ = P(point)
    d = sympy.Dummy("d", real=True)
    expected = sympy.Subs(sympy.Derivative(f(d), (d, order)), d, u_).doit()
    assert P("f" + "'" * order + f"({point})") == expected


def test_chain_rule_outer_factor_matches_sympy() -> None:
    chain = sympy.diff(f(g(x)), x)
    claimed = P("f'(g(x))*g'(x)")
    assert chain == claimed  # structurally, dummy variables and all
    assert sympy.expand(chain - claimed) == 0
    # and at a concrete instantiation the placeholders evaluate correctly
    concrete = {f: sympy.Lambda(u, sympy.sin(u)), g: sympy.Lambda(u, u**3)}
    assert sympy.expand(claimed.subs(concrete).doit() - 3 * x**2 * sympy.cos(x**3)) == 0


def test_prime_with_unicode_primes_and_middle_dot() -> None:
    assert P("f′(g(x))·g′(x)") == sympy.diff(f(g(x)), x)


# ---------------------------------------------------------------------------
# the book's expressions (book/vectors.md, chapters 7-8)

CHAPTER_7 = [
    ("1", "0"),
    ("x", "1"),
    ("2x", "2"),
    ("m·x + b", "m"),
    ("3x²", "6x"),
    ("3x² + 5x", "6x + 5"),
    ("5x⁵ + 4x³ − 5", "25x⁴ + 12x²"),
    ("x³ + 2x² − 5x + 7", "3x² + 4x − 5"),
    ("3(2x²)⁵", "960x⁹"),
]


@pytest.mark.parametrize(("function", "derivative"), CHAPTER_7)
def test_book_chapter_7(function: str, derivative: str) -> None:
    assert sympy.expand(sympy.diff(P(function), x) - P(derivative)) == 0


CHAPTER_8 = [
    ("x + y", ["1", "1"]),
    ("2x + 3y²", ["2", "6y"]),
    ("3x³ − y² + 5x + 2", ["9x² + 5", "−2y"]),
    ("x·y", ["y", "x"]),
    ("x·y·z", ["y·z", "x·z", "x·y"]),
    ("3x^3*z - y^2 + 5z + 2y*z", ["9x²z", "−2y + 2z", "3x³ + 5 + 2y"]),
]


@pytest.mark.parametrize(("function", "partials"), CHAPTER_8)
def test_book_chapter_8_partials(function: str, partials: list[str]) -> None:
    expr = P(function)
    for variable, partial in zip((x, y, z), partials, strict=False):
        assert sympy.expand(sympy.diff(expr, variable) - P(partial)) == 0


@pytest.mark.parametrize(
    ("function", "claim"), [("max(x, y)", "1(x > y)"), ("max(x, 0)", "1(x > 0)")]
)
def test_book_chapter_8_max_partials_agree_off_the_kink(function: str, claim: str) -> None:
    # SymPy gives Heaviside(x - y); the book's indicator differs only on the kink x == y
    derivative, claimed = sympy.diff(P(function), x), P(claim)
    for xv, yv in [(2.0, 1.0), (-1.0, 0.5), (0.3, -4.0), (-2.0, -1.0)]:
        point = {x: xv, y: yv}
        assert float(derivative.subs(point)) == float(claimed.subs(point))


def test_book_chain_rule_example() -> None:
    claim = parse_claim("d/dx 3(2x²)⁵ = 15(2x²)⁴·4x")
    assert sympy.expand(sympy.diff(claim.expr, claim.wrt) - claim.claimed) == 0
    assert claim.claimed == P("960x⁹")


def test_book_chain_rule_with_placeholders() -> None:
    claim = parse_claim("d/dx f(g(x)) = f′(g(x))·g′(x)")
    assert sympy.diff(claim.expr, claim.wrt) == claim.claimed


# ---------------------------------------------------------------------------
# claims


@pytest.mark.parametrize(
    "text",
    [
        "d/dx x^2 = 2x",
        "∂/∂x x^2 = 2x",
        "d/dx (x^2) = 2x",
        "d/dx(x^2)=2x",
        "d(x^2)/dx = 2x",
        "d (x^2) / dx = 2x",
        " d / dx  x^2 = 2*x ",
    ],
)
def test_claim_forms(text: str) -> None:
    claim = parse_claim(text)
    assert (claim.expr, claim.claimed, claim.wrt, claim.text) == (x**2, 2 * x, x, text)


def test_claim_multi_letter_variable_and_shared_symbols() -> None:
    claim = parse_claim("d/dw1 w1*x + b = x")
    w1 = sympy.Symbol("w1", real=True)
    assert claim.wrt == w1 and claim.expr == w1 * x + b and claim.claimed == x
    assert sympy.diff(claim.expr, claim.wrt) == claim.claimed  # same symbols on both sides


def test_claim_comparisons_are_not_the_equals_sign() -> None:
    claim = parse_claim("d/dx relu(x) = 1(x >= 0)")
    assert claim.claimed == indicator(x >= 0)
    assert parse_claim("d/dx 1(x <= y) = 0").expr == indicator(x <= y)
    assert parse_claim("d/dx 1(x == y) = 0").expr == indicator(sympy.Eq(x, y))


def test_claim_is_frozen() -> None:
    claim = parse_claim("d/dx x = 1")
    assert isinstance(claim, Claim)
    with pytest.raises(dataclasses.FrozenInstanceError):
        claim.text = "other"  # type: ignore[misc]


# ---------------------------------------------------------------------------
# sympy objects and other inputs


def test_sympy_input_is_made_real() -> None:
    plain_x, positive_y = sympy.Symbol("x"), sympy.Symbol("y", positive=True)
    plain_f = sympy.Function("f")
    result = parse_expression(plain_f(plain_x) ** 2 + sympy.Abs(plain_x) + positive_y)
    assert result == f(x) ** 2 + sympy.Abs(x) + y
    assert result == P("f(x)^2 + abs(x) + y")
    assert sympy.diff(result, x) == 2 * f(x) * sympy.Derivative(f(x), x) + sympy.sign(x)


def test_sympy_input_already_real_is_unchanged() -> None:
    expr = x**2 + sympy.sin(y)
    assert parse_expression(expr) is expr


def test_python_numbers() -> None:
    assert parse_expression(3) == 3
    assert parse_expression(0.1) == sympy.Rational(1, 10)


@pytest.mark.parametrize("bad", [None, True, [1], x > 0, b"x"])
def test_wrong_type(bad: object) -> None:
    with pytest.raises(InputError, match="must be a string or a SymPy expression, not"):
        parse_expression(bad)


def test_claim_wrong_type() -> None:
    with pytest.raises(InputError, match="a claim must be a string, not int"):
        parse_claim(3)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# parse_symbol


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("x", x),
        (" w1 ", sympy.Symbol("w1", real=True)),
        ("θ", sympy.Symbol("θ", real=True)),
        (sympy.Symbol("x"), x),
        (sympy.Symbol("x", positive=True), x),
    ],
)
def test_parse_symbol(name: str | sympy.Symbol, expected: sympy.Symbol) -> None:
    symbol = parse_symbol(name)
    assert symbol == expected and symbol.is_real is True


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("2x", "`wrt` must be a variable name such as x or w1, not '2x'"),
        ("x y", "`wrt` must be a variable name such as x or w1, not 'x y'"),
        ("", "`wrt` must be a variable name such as x or w1, not ''"),
        ("x.real", "`wrt` must be a variable name such as x or w1, not 'x.real'"),
        ("lambda", "`wrt` must be a variable name such as x or w1, not 'lambda'"),
        (3, "`wrt` must be a variable name such as x or w1, not 3"),
        ("_x", "`wrt` must be a variable name; '_x' is reserved"),
        ("exp", "`wrt` must be a variable name; 'exp' is a function"),
        ("pi", "`wrt` must be a variable name; 'pi' is a constant"),
    ],
)
def test_parse_symbol_errors(name: object, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        parse_symbol(name)


def test_parse_symbol_label() -> None:
    with pytest.raises(InputError, match=r"^`variable` must be"):
        parse_symbol("1", what="variable")


# ---------------------------------------------------------------------------
# hostile input: nothing runs


HOSTILE = [
    ("__import__('os').system('touch {marker}')", "names starting with '_'"),
    ("().__class__", "names starting with '_'"),
    ("().__class__.__bases__[0].__subclasses__()", "names starting with '_'"),
    ("(lambda: 1)()", "lambda"),
    ("[x for x in y]", "list comprehension"),
    ("{x for x in y}", "set comprehension"),
    ("{x: 1 for x in y}", "dict comprehension"),
    ("(x for x in y)", "generator expression"),
    ("x.real", "attribute access"),
    ("x . real", "attribute access"),
    ("2 .real", "attribute access"),
    ("x[0]", "subscript"),
    ("open('{marker}', 'w')", "string literal"),
    ("open(x)", "'open' is a Python builtin"),
    ("exec(x)", "'exec' is a Python builtin"),
    ("eval(x)", "'eval' is a Python builtin"),
    ("getattr(x, y)", "'getattr' is a Python builtin"),
    ("globals()", "'globals' is a Python builtin"),
    ("'x'", "string literal"),
    ('"x"', "string literal"),
    ("b'x'", "string literal"),
    ("f'{x}'", "f-string"),
    ('f"{x}"', "string literal"),
    ("(y := 2)", "assignment expression"),
    ("x if y else z", "conditional expression"),
    ("[x, y]", "list"),
    ("{x, y}", "set"),
    ("{x: y}", "dict"),
    ("(x, y)", "tuple"),
    ("f(*x)", "starred argument"),
    ("f(x=1)", "keyword argument"),
    ("Heaviside(x, H0=1)", "keyword argument"),
    ("x == y", "the condition x == y is not a number"),
    ("x > 0", "the condition x > 0 is not a number"),
    ("x % 2", "the operator %"),
    ("x // 2", "the operator //"),
    ("x @ y", "the operator @"),
    ("x << 2", "the operator <<"),
    ("x & y", "& and | combine conditions"),
    ("None", "None"),
    ("...", "Ellipsis"),
    ("await x", "await"),
    ("_x", "names starting with '_'"),
    ("x + _", "names starting with '_'"),
    ("_dc_one(x > 0)", "names starting with '_'"),
    ("_dc_prime1_f(x)", "names starting with '_'"),
    ("1(x in y)", "the operator in"),
    ("1(x is y)", "the operator is"),
]


@pytest.mark.parametrize(("template", "construct"), HOSTILE)
def test_hostile_input_is_refused_and_nothing_runs(
    template: str, construct: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "pwned"  # type: ignore[operator]
    text = template.replace("{marker}", str(marker))

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("user text reached eval/exec/sympify")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr("sympy.parsing.sympy_parser.parse_expr", forbidden)
    with pytest.raises(UnsafeInputError, match=re.escape(construct)) as info:
        parse_expression(text)
    assert (
        "nothing was run" in str(info.value)
        or "not a number" in str(info.value)
        or ("combine conditions" in str(info.value))
    )
    assert info.value.position is not None
    assert not marker.exists()


def test_valid_text_never_reaches_eval_or_sympify(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("user text reached eval/exec/sympify")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr("sympy.parsing.sympy_parser.parse_expr", forbidden)
    for text in ["3(2x^2)^5", "Piecewise((x, x > 0), (0, True))", "f'(g(x))", "1(x > y)"]:
        parse_expression(text)
    parse_claim("d/dx sigmoid(x) = sigmoid(x)(1 - sigmoid(x))")


def test_unsafe_error_position_points_into_user_text() -> None:
    with pytest.raises(UnsafeInputError) as info:
        parse_expression("θ² + x.real")
    assert info.value.position == 5  # the 'x' of x.real, counted in characters
    assert str(info.value).splitlines()[-1] == "    " + " " * 5 + "^"
    with pytest.raises(UnsafeInputError) as info:
        parse_claim("d/dx x^2 = x.real")
    assert info.value.position == 11
    assert info.value.text == "d/dx x^2 = x.real"


def test_unsafe_is_a_parse_error_and_an_input_error() -> None:
    with pytest.raises(ParseError):
        P("x.real")
    with pytest.raises(ValueError):
        P("x.real")


# ---------------------------------------------------------------------------
# every other error message


ERRORS = [
    # (text, exception, message fragment, position)
    ("", ParseError, "expression is empty", 0),
    ("   ", ParseError, "expression is empty", 0),
    ("2 3", ParseError, "two terms side by side need an operator", 2),
    ("f(x) 2 3", ParseError, "two terms side by side need an operator", 7),
    ("2*x +", ParseError, "invalid syntax (the text ends too early)", 5),
    ("x + * y", ParseError, "expression: invalid syntax", 4),
    ("(x + 1", ParseError, "'(' was never closed", 0),
    ("x)", ParseError, "unmatched ')'", 1),
    ("$x", ParseError, "unexpected character '$' (DOLLAR SIGN)", 0),
    ("x ∂ y", ParseError, "unexpected character '∂' (PARTIAL DIFFERENTIAL)", 2),
    ("x # note", ParseError, "'#' starts a comment", 2),
    ("x = 1", ParseError, "'=' is not allowed in an expression", 2),
    ("1_000", ParseError, "'_' inside a number is not supported", 1),
    ("x'", ParseError, "a prime (') must be followed by an argument list", 1),
    ("x' + 1", ParseError, "a prime (') must be followed by an argument list", 1),
    ("x²⁻", ParseError, "superscript '²⁻' is not an integer exponent", 1),
    ("exp + 1", ParseError, "'exp' is a function, not a variable; call it, as in exp(x)", 0),
    ("2*max", ParseError, "'max' is a function, not a variable", 2),
    ("pi(x)", ParseError, "'pi' is a constant and cannot be called", 0),
    ("E(x)", ParseError, "'E' is a constant and cannot be called", 0),
    ("pi'(x)", ParseError, "'pi' is a constant and cannot be called", 0),
    ("exp(x, y)", ParseError, "exp() takes 1 argument, got 2", 0),
    ("sin()", ParseError, "sin() takes 1 argument, got 0", 0),
    ("log(x, 2, 3)", ParseError, "log() takes 1 to 2 arguments, got 3", 0),
    ("max(x)", ParseError, "max() takes at least 2 arguments, got 1", 0),
    ("relu(x, y)", ParseError, "relu() takes 1 argument, got 2", 0),
    ("Piecewise()", ParseError, "Piecewise() takes at least 1 argument, got 0", 0),
    ("1(x, y)", ParseError, "1() takes 1 argument, got 2", 0),
    ("f'(x, y)", ParseError, "f'() takes 1 argument, got 2", 0),
    ("max'(x)", ParseError, "max() takes at least 2 arguments, got 1", 0),
    ("f()", ParseError, "f() needs at least one argument", 0),
    ("gamma(x)", ParseError, "gamma() is a SymPy function that derivcheck does not support", 0),
    ("2*floor(x)", ParseError, "floor() is a SymPy function that derivcheck does not", 2),
    ("Derivative(f(x), x)", ParseError, "Derivative() is a SymPy function that", 0),
    ("gamma'(x)", ParseError, "gamma() is a SymPy function that derivcheck does not support", 0),
    ("f(x) + f", ParseError, "'f' is used both as a function and as a variable", 7),
    ("x*x(1)", ParseError, "'x' is used both as a function and as a variable", 2),
    ("Piecewise(x, y)", ParseError, "Piecewise takes (value, condition) pairs", 10),
    ("Piecewise((x, x > 0, 1))", ParseError, "Piecewise takes (value, condition) pairs", 10),
    ("Piecewise((x, y))", ParseError, "y is not a condition; expected a comparison", 14),
    ("1(x > 0 & y > 0)", UnsafeInputError, "& and | combine conditions", 6),
    ("2(x > 0)", UnsafeInputError, "the condition x > 0 is not a number; write 1(x > 0)", 2),
    ("sin(x > 0)", UnsafeInputError, "the condition x > 0 is not a number", 4),
    ("True + 1", UnsafeInputError, "the condition True is not a number", 0),
    ("not x", UnsafeInputError, "the condition not x is not a number", 0),
    ("1(sqrt(-1) > 0)", ParseError, "SymPy cannot build this: Invalid comparison", 2),
]


@pytest.mark.parametrize(("text", "error", "message", "position"), ERRORS)
def test_error_messages(text: str, error: type[InputError], message: str, position: int) -> None:
    with pytest.raises(error, match=re.escape(message)) as info:
        parse_expression(text)
    assert info.value.position == position
    assert info.value.text == text
    assert f"at position {position}\n    {text}\n    {' ' * position}^" in str(info.value)


def test_label_names_the_argument() -> None:
    with pytest.raises(ParseError, match=r"^`claimed`: 'exp' is a function"):
        parse_expression("exp", what="claimed")
    with pytest.raises(ParseError, match=r"^expression: 'exp' is a function"):
        parse_expression("exp")
    with pytest.raises(ParseError, match=r"^the derivative: 'exp' is a function"):
        parse_expression("exp", what="the derivative")


CLAIM_ERRORS = [
    ("d/dx x^2", InputError, "a claim needs '=' between the expression and its claimed", None),
    ("d/dx x^2 == 2x", ParseError, "a claim uses a single '=', not '=='", 9),
    ("d/dx (x^2 = 2x", ParseError, "'=' must be outside brackets; this bracket is never", 5),
    ("x^2 = 2x", InputError, "a claim starts with d/dx (or ∂/∂x) naming the variable", 0),
    ("  dx/dx = 1", InputError, "a claim starts with d/dx", 2),
    ("d/d2 x = 1", ParseError, "d/d must be followed by a variable name", 3),
    ("d/d(x) x = 1", ParseError, "d/d must be followed by a variable name", 3),
    ("d(x^2)/d = 1", ParseError, "d/d must be followed by a variable name", 8),
    ("d(x^2)/dx y = 1", ParseError, "d/d must be followed by a variable name", 8),
    ("d/dexp exp(x) = 1", ParseError, "d/dx must be a variable name; 'exp' is a function", 3),
    ("d/dpi x = 1", ParseError, "d/dx must be a variable name; 'pi' is a constant", 3),
    ("d/dx = 1", ParseError, "the left side of the claim is empty", 4),
    ("d/dx x =  ", ParseError, "the right side of the claim is empty", 7),
    ("d/dy f(y) = f + 1", ParseError, "'f' is used both as a function and as a variable", 12),
    ("d/dx f(x) + f = 1", ParseError, "'f' is used both as a function and as a variable", 12),
    ("d/dx x^2 = 2x + $", ParseError, "claimed derivative: unexpected character '$'", 16),
    ("d/dx x.real = 1", UnsafeInputError, "expression: attribute access", 5),
    ("d/dx x = (y := 1)", UnsafeInputError, "claimed derivative: assignment expression", 10),
]


@pytest.mark.parametrize(("text", "error", "message", "position"), CLAIM_ERRORS)
def test_claim_error_messages(
    text: str, error: type[InputError], message: str, position: int | None
) -> None:
    with pytest.raises(error, match=re.escape(message)) as info:
        parse_claim(text)
    assert info.value.position == position
    if position is not None:
        assert info.value.text == text


# ---------------------------------------------------------------------------
# limits: refused quickly, never hang


def test_length_limit() -> None:
    text = "x+" * (MAX_TEXT_LENGTH // 2) + "x"
    with pytest.raises(InputError, match=f"is {len(text)} characters long; the limit is 10000"):
        parse_expression(text)
    with pytest.raises(InputError, match=r"the claim is \d+ characters long; the limit is 10000"):
        parse_claim("d/dx " + text + " = 1")


def test_long_sums_within_the_length_limit() -> None:
    assert P("+".join(["x"] * 500)) == 500 * x
    with pytest.raises(InputError, match="too deeply nested, or too long a chain"):
        P("+".join(["x"] * 4000))


def test_bracket_nesting_limit() -> None:
    assert P("(" * MAX_NESTING + "x" + ")" * MAX_NESTING) == x
    deep = "(" * (MAX_NESTING + 1) + "x" + ")" * (MAX_NESTING + 1)
    with pytest.raises(InputError, match="nested more than 100 levels deep") as info:
        P(deep)
    assert info.value.position == MAX_NESTING
    with pytest.raises(InputError, match="nested more than 100 levels deep"):
        P("sin(" * 101 + "x" + ")" * 101)


def test_operator_nesting_limits() -> None:
    assert P("-" * 100 + "x") == x
    with pytest.raises(InputError, match="nested more than 100 levels deep") as info:
        P("-" * 101 + "x")
    assert info.value.position == 101  # the operand that is one level too deep
    with pytest.raises(InputError, match="nested more than 100 levels deep"):
        P("x" + "**x" * 101)
    with pytest.raises(InputError, match="nested more than 100 levels deep"):
        P("1+2*3**(" * 40 + "x" + ")" * 40)


def test_sympy_tree_depth_limit() -> None:
    # each sigmoid is four SymPy levels: deep enough to break SymPy's recursive printer
    with pytest.raises(InputError, match="builds a SymPy expression nested more than 150"):
        P("sigmoid(" * 38 + "x" + ")" * 38)


def test_integer_literal_limit() -> None:
    assert P("9" * MAX_INT_DIGITS) == sympy.Integer("9" * MAX_INT_DIGITS)
    with pytest.raises(InputError, match="an integer literal has 1001 digits; the limit is 1000"):
        P("9" * (MAX_INT_DIGITS + 1))
    with pytest.raises(InputError, match="has 1002 digits"):
        P("0." + "1" * 1001)


@pytest.mark.parametrize("text", ["1e999999", "1e-999999", "1.5e400", "0.1e-400"])
def test_float_range(text: str) -> None:
    with pytest.raises(InputError, match=f"the number {text} is outside the float64 range"):
        P(text)


def test_zero_float_is_fine() -> None:
    assert P("0.0") == 0 and P("0e5") == 0


@pytest.mark.parametrize(
    ("text", "exponent"),
    [
        ("x**100000", "100000"),
        ("x^-1001", "-1001"),
        ("2**10**10", "10000000000"),
        ("x**1e5", "100000"),
        ("E**(10**4)", "10000"),
    ],
)
def test_exponent_limit(text: str, exponent: str) -> None:
    with pytest.raises(InputError, match=f"the exponent {exponent} is too large"):
        P(text)


def test_exponent_at_the_limit_is_fine() -> None:
    assert P(f"x**{MAX_EXPONENT}") == x**MAX_EXPONENT
    assert P("2**1000") == sympy.Integer(2) ** 1000


@pytest.mark.parametrize(
    "text",
    [
        "(10**999)**999",
        "((10**100)**100)*((10**100)**100)*((10**100)**100)*((10**100)**100)",
        "(sqrt(3)*2**500)**1000",
        "((9**999)**(1/2))**999",
    ],
)
def test_numbers_growing_too_large(text: str) -> None:
    with pytest.raises(InputError, match="numbers grow too large"):
        P(text)


# ---------------------------------------------------------------------------
# properties


def _leaves() -> st.SearchStrategy[sympy.Expr]:
    return st.one_of(
        st.sampled_from([x, y, z]),
        st.integers(-9, 9).map(sympy.Integer),
        st.tuples(st.integers(-9, 9), st.integers(1, 9)).map(lambda t: sympy.Rational(*t)),
        st.sampled_from([sympy.pi, sympy.E]),
    )


UNARY = [
    sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tanh, sympy.atan, sympy.erf,
    sympy.sqrt, sympy.Abs, sympy.sign, sympy.Heaviside, lambda a: -a, f,
]  # fmt: skip
BINARY = [
    lambda a, c: a + c, lambda a, c: a - c, lambda a, c: a * c, lambda a, c: a / c,
    sympy.Max, sympy.Min, lambda a, c: sympy.Piecewise((a, x > 1), (c, True)),
    lambda a, c: sympy.Piecewise((a, (x > 0) & (y < 2)), (c, True)),
]  # fmt: skip


def _apply(op: object, *args: sympy.Expr) -> sympy.Expr | None:
    try:
        return op(*args)  # type: ignore[operator]
    except (TypeError, ValueError):  # e.g. Max(zoo, x): not comparable
        return None


def _extend(children: st.SearchStrategy[sympy.Expr]) -> st.SearchStrategy[sympy.Expr]:
    exponents = st.sampled_from([2, 3, -1, -2, sympy.Rational(1, 2)])
    return st.one_of(
        st.builds(_apply, st.sampled_from(UNARY), children),
        st.builds(_apply, st.sampled_from(BINARY), children, children),
        st.builds(_apply, st.just(lambda a, n: a**n), children, exponents),
    ).filter(lambda e: e is not None)


expressions = st.recursive(_leaves(), _extend, max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions)
def test_round_trip_through_sympy_printer(expr: sympy.Expr) -> None:
    # The oracle is SymPy's own reading of its printed text (a trusted string here,
    # not user input): building the printed form again may evaluate further than the
    # object it was printed from (Abs(1/x) becomes 1/Abs(x), Abs(Abs(x)) becomes
    # Abs(x)), which is SymPy's doing, not the parser's.
    assume(not expr.has(sympy.zoo, sympy.oo, -sympy.oo, sympy.nan, sympy.I))
    assume(not expr.atoms(sympy.AccumBounds))  # atan(zoo): not an expression of the syntax
    text = str(expr)
    parsed = parse_expression(text)
    names = {"x": x, "y": y, "z": z, "f": f, "g": g, "E": sympy.E, "pi": sympy.pi}
    rebuilt = sympy.sympify(text, locals=names)
    assert same(parsed, rebuilt), (text, parsed, rebuilt)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *"xy() +-*/^.,<>=&|~'_[]{}:0129²⁻−·",
                *["exp", "max", "1(", "Piecewise((", "True", "**", "pi", "f'(", "and", "lambda"],
            ]
        ),
        max_size=12,
    ).map("".join)
)
def test_arbitrary_text_parses_or_raises_input_error(text: str) -> None:
    try:
        result = parse_expression(text)
    except InputError:
        return
    assert isinstance(result, sympy.Expr)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=30))
def test_arbitrary_unicode_parses_or_raises_input_error(text: str) -> None:
    for parse in (parse_expression, parse_claim):
        with contextlib.suppress(InputError):
            parse(text)
