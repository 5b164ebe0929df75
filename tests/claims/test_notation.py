"""Human notation: each reading asserted on the parsed SymPy expression, built here
with SymPy directly (not through derivcheck's parser), and claims as they are typed
in derivative tables and answer keys checked for the right verdict."""

from __future__ import annotations

import contextlib

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import derivcheck as dc
from derivcheck import strategies as dcst
from derivcheck.claims.parse import parse_claim, parse_expression
from derivcheck.claims.parse.notation import rewrite, variables_of
from derivcheck.errors import InputError
from derivcheck.examples import tables

x, y, p, n, theta = sp.symbols("x y p n θ", real=True)
f = sp.Function("f", real=True)
sigma = sp.Symbol("σ", real=True)

READINGS = [
    # implicit products
    ("x e^x", x * sp.exp(x)),
    ("2x cos(x)", 2 * x * sp.cos(x)),
    ("(x+1)(x-1)", (x + 1) * (x - 1)),
    ("x y", x * y),
    ("|x| y", sp.Abs(x) * y),
    ("n x^(n-1)", n * x ** (n - 1)),
    # functions without brackets, with the usual reach
    ("sin x", sp.sin(x)),
    ("ln x", sp.log(x)),
    ("sin 2x", sp.sin(2 * x)),
    ("sin x^2", sp.sin(x**2)),
    ("sin x cos x", sp.sin(x) * sp.cos(x)),
    ("2 sin x cos x", 2 * sp.sin(x) * sp.cos(x)),
    ("-sin x", -sp.sin(x)),
    ("e^(2x) sin x", sp.exp(2 * x) * sp.sin(x)),
    ("exp x", sp.exp(x)),
    # powers and inverses of functions
    ("sin^2(x)", sp.sin(x) ** 2),
    ("sin^2 x", sp.sin(x) ** 2),
    ("sin²x", sp.sin(x) ** 2),
    ("sec^2(x)", sp.sec(x) ** 2),
    ("cosh^2 x - sinh^2 x", sp.cosh(x) ** 2 - sp.sinh(x) ** 2),
    ("sin⁻¹(x)", sp.asin(x)),
    ("tan^-1(x)", sp.atan(x)),
    ("tan^-1 x", sp.atan(x)),
    # spellings
    ("arcsin(x)", sp.asin(x)),
    ("arccos(x)", sp.acos(x)),
    ("arctan(x)", sp.atan(x)),
    ("arcsec(x)", sp.asec(x)),
    ("arccsc(x)", sp.acsc(x)),
    ("arccot(x)", sp.acot(x)),
    ("arsinh(x)", sp.asinh(x)),
    ("arcsinh(x)", sp.asinh(x)),
    ("artanh(x)", sp.atanh(x)),
    ("sec(x) + csc(x) + cot(x)", sp.sec(x) + sp.csc(x) + sp.cot(x)),
    ("sech(x) + csch(x) + coth(x)", sp.sech(x) + sp.csch(x) + sp.coth(x)),
    ("asinh(x) + acosh(x) + atanh(x) + acoth(x)",
     sp.asinh(x) + sp.acosh(x) + sp.atanh(x) + sp.acoth(x)),
    ("σ(x)", 1 / (1 + sp.exp(-x))),
    # logarithms
    ("log_2(x)", sp.log(x, 2)),
    ("log_2 x", sp.log(x, 2)),
    ("log_{10} x", sp.log(x, 10)),
    ("log10(x)", sp.log(x, 10)),
    ("lg x", sp.log(x, 10)),
    ("ln|x|", sp.log(sp.Abs(x))),
    # roots, bars, brackets, constants
    ("√x", sp.sqrt(x)),
    ("1/√(1 - x²)", 1 / sp.sqrt(1 - x**2)),
    ("∛x", sp.real_root(x, 3)),
    ("|x|", sp.Abs(x)),
    ("||x| - 1|", sp.Abs(sp.Abs(x) - 1)),
    ("[x^2 + 1]", x**2 + 1),
    ("{x + 1}^2", (x + 1) ** 2),
    ("π x", sp.pi * x),
    ("τ x", 2 * sp.pi * x),
    ("θ^2", theta**2),
    # unchanged: the claim syntax itself
    ("f(x)*x", f(x) * x),
    ("1((x > 0) | (y > 0))", sp.Piecewise((1, (x > 0) | (y > 0)), (0, True))),
    ("max(x, y)", sp.Max(x, y)),
    ("3(2x^2)^5", 3 * (2 * x**2) ** 5),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), READINGS, ids=[r[0] for r in READINGS])
def test_reading(text, expected):
    assert parse_expression(text) == expected


CLAIM_READINGS = [
    ("d/dx x(x + 1)^3 = (x + 1)^3 + 3x(x + 1)^2", x * (x + 1) ** 3),
    ("d/dp p(1 - p) = 1 - 2p", p * (1 - p)),
    ("∂/∂x xy = y", x * y),
    ("d/dx f(x)x = f'(x)x + f(x)", f(x) * x),
]


@pytest.mark.parametrize(("text", "expr"), CLAIM_READINGS, ids=[r[0] for r in CLAIM_READINGS])
def test_claim_reading(text, expr):
    assert parse_claim(text).expr == expr


# claims as typed in derivative tables and answer keys; each is true (SymPy's own
# diff of the expression built above says so in test_reading)
TABLE = [
    "d/dx x e^x = e^x + x e^x",
    "d/dx x^2 sin x = 2x sin x + x^2 cos x",
    "d/dx sin x = cos x",
    "d/dx ln x = 1/x",
    "d/dx √x = 1/(2√x)",
    "d/dx arcsin(x) = 1/√(1 - x²)",
    "d/dx sin⁻¹(x) = 1/√(1 - x²)",
    "d/dx arctan(x) = 1/(1 + x^2)",
    "d/dx tan^-1(x) = 1/(1 + x²)",
    "d/dx tan x = sec^2(x)",
    "d/dx sec x = sec x tan x",
    "d/dx cot x = -csc^2 x",
    "d/dx csc x = -csc x cot x",
    "d/dx sin^2(x) = 2 sin x cos x",
    "d/dx ln|x| = 1/x",
    "d/dx |x| = sign(x)",
    "d/dx log_2(x) = 1/(x ln 2)",
    "d/dx σ(x) = σ(x)(1 - σ(x))",
    "d/dx sinh x = cosh x",
    "d/dx tanh x = sech^2 x",
    "d/dx coth x = -csch^2 x",
    "d/dx asinh(x) = 1/√(x^2 + 1)",
    "d/dx atanh(x) = 1/(1 - x^2)",
    "d/dp p(1 - p) = 1 - 2p",
    "d/dx x(x + 1)^3 = (x + 1)^3 + 3x(x + 1)^2",
    "d/dx [x^2 + 1]^3 = 6x[x^2 + 1]^2",
    "d/dx π x^2 = 2π x",
    "∂/∂x xy = y",
    "d/dx e^(2x) sin x = 2e^(2x) sin x + e^(2x) cos x",
]


@pytest.mark.parametrize("text", TABLE)
def test_table_claims_as_typed_are_ok_for_every_seed(text):
    for seed in range(10):
        report = dc.check_claim(text, seed=seed)
        assert report.ok, (seed, str(report))


# the same, each with a classic slip: never ok
SLIPS = [
    "d/dx x e^x = e^x",
    "d/dx sin x = -cos x",
    "d/dx arcsin(x) = 1/√(1 + x²)",
    "d/dx tan x = sec(x)",
    "d/dx sin^2(x) = 2 sin x",
    "d/dx log_2(x) = 1/x",
    "d/dx σ(x) = σ(x)",
    "d/dp p(1 - p) = 1 - p",
    "∂/∂x xy = x",
]


@pytest.mark.parametrize("text", SLIPS)
def test_slips_are_refuted(text):
    assert dc.check_claim(text).verdict is dc.Verdict.REFUTED


def test_ambiguous_division_is_read_one_way_and_said():
    claim = parse_claim("d/dx 1/2x = 1/2")
    assert claim.expr == x / 2
    assert any("1/2x" in note and "1/(2x)" in note for note in claim.notes)


def test_text_that_reads_as_code_is_left_as_typed():
    for code in ("[x for x in y]", "x[0]", "[x, y]", "{x: y}", "f'{x}'", "lambda: 0"):
        assert rewrite(code).text == code
        with pytest.raises(InputError):
            parse_expression(code)


def test_a_letter_used_as_call_and_alone_is_not_a_product_variable():
    assert variables_of("f(x) + f") == {"x"}
    assert variables_of("x + y", {"w"}) == {"w", "x", "y"}


def test_carets_point_into_the_text_as_typed():
    with pytest.raises(InputError) as info:
        parse_expression("sin x + $")
    assert info.value.position == 8


@settings(max_examples=60, deadline=None, database=None, derandomize=True)
@given(st.text(alphabet="xy sinlogarctan^2()|[]{}√²⁻¹+-*/=,.0123456789eπσ'", max_size=30))
def test_any_text_parses_or_raises_input_error(text):
    # anything but an InputError (a crash inside the rewriting) fails the test
    with contextlib.suppress(InputError):
        parse_expression(text)


# --------------------------------------------------------------------- forms of a claim

HIGHER = [
    ("d^2/dx^2 x^3 = 6x", True),
    ("d²/dx² x^3 = 6x", True),
    ("d²/dx² sin x = -sin x", True),
    ("d^2/dx^2 x^3 = 3x^2", False),
    ("∂²/∂x∂y x^2 y = 2x", True),
    ("∂^2/∂x∂y x^2 y^3 = 6x y^2", True),
    ("∂²/∂x∂y x^2 y = 2y", False),
    ("d³/dx³ x^4 = 24x", True),
]


@pytest.mark.parametrize(("text", "true"), HIGHER)
def test_higher_and_mixed_derivatives(text, true):
    # the oracle: SymPy's own diff of expressions built here
    report = dc.check_claim(text)
    assert report.ok is true, str(report)


def test_mixed_derivative_order_and_reading():
    claim = parse_claim("∂²/∂x∂y x^2 y = 2x")
    assert claim.order == (x, y) and claim.wrt == y
    assert dc.check_claim("∂²/∂x∂y x^2 y = 2x").read_as == "∂^2/∂x∂y x**2*y = 2*x"


NAMED = [
    ("y = x^2, dy/dx = 2x", True),
    ("y = x^2; dy/dx = x", False),
    ("f(x) = x^3; f'(x) = 3x^2", True),
    ("g(t) = sin t, g'(t) = cos t", True),
]


@pytest.mark.parametrize(("text", "true"), NAMED)
def test_named_forms(text, true):
    assert dc.check_claim(text).ok is true


def test_a_worked_chain_names_its_first_wrong_step():
    good = dc.check_claim("d/dx 3(2x^2)^5 = 15(2x^2)^4 * 4x = 960x^9")
    assert good.ok and good.failed_step is None and len(good.steps) == 2
    assert all(step.ok for step in good.steps)
    bad = dc.check_claim("d/dx 3(2x^2)^5 = 15(2x^2)^4 = 960x^9")
    assert not bad and bad.failed_step == 1
    assert bad.steps[0].verdict is dc.Verdict.REFUTED and bad.steps[1].ok
    (point,) = bad.counterexample.values()
    assert 15 * (2 * point**2) ** 4 != pytest.approx(960 * point**9)
    late = dc.check_claim("d/dx x^2 sin x = 2x sin x + x^2 cos x = 2x sin x")
    assert late.failed_step == 2
    assert "step 2" in str(late) and "The first wrong step is step 2" in str(late)
    assert late.to_dict()["failed_step"] == 2


def test_every_report_shows_how_the_text_was_read():
    report = dc.check_claim("d/dx x e^x = e^x + x e^x")
    assert report.read_as == "d/dx x*exp(x) = x*exp(x) + exp(x)"
    assert "Read as: d/dx x*exp(x)" in str(report)


def test_likely_typos_are_said():
    missing = dc.check_claim("d/dy 3x^2 = 0")
    assert any("y does not appear in the expression" in n for n in missing.notes)
    misspelt = dc.check_claim("d/dx arctn(x) = 1/(1 + x^2)")
    assert any("did you mean arctan" in n for n in misspelt.notes)
    assert "did you mean arctan" in str(misspelt)


# ------------------------------------------------------------------------------ LaTeX

LATEX = [
    (r"\frac{d}{dx} \sin^2 x = 2\sin x \cos x", True),
    (r"\frac{d}{dx} x e^{x} = e^{x} + x e^{x}", True),
    (r"\frac{\partial}{\partial x} x y = y", True),
    (r"\frac{d}{dx} \sqrt{x} = \frac{1}{2\sqrt{x}}", True),
    (r"\frac{d}{dx} \ln\left| x \right| = \frac{1}{x}", True),
    (r"\frac{d}{dx} \arctan(x) = \frac{1}{1+x^2}", True),
    (r"\frac{d}{dx} x \cdot x = 2x", True),
    (r"\frac{d^2}{dx^2} x^3 = 6x", True),
    (r"\frac{d}{dx} x^2 = 3x", False),
    (r"\frac{d}{dx} \sin^2 x = 2\sin x", False),
    # (SymPy's grammar cannot read "\cdot 4x": a number then a letter after \cdot)
    (r"\frac{d}{dx} 3(2x^2)^5 = 15(2x^2)^4 \cdot 4 \cdot x = 960x^9", True),
]


@pytest.mark.parametrize(("text", "true"), LATEX, ids=[t for t, _ in LATEX])
def test_latex_claims(text, true):
    report = dc.check_claim(text)
    assert report.ok is true, str(report)
    assert report.read_as and report.read_as.startswith(("d/dx", "∂/∂x", "d^2/dx^2"))


def test_latex_reads_the_common_reading_of_an_ambiguous_product():
    claim = parse_claim(r"\frac{d}{dx} x = 2\sin x \cos x")
    assert claim.claimed == 2 * sp.sin(x) * sp.cos(x)
    assert claim.expr == x and claim.wrt.is_real


def test_latex_outside_the_whitelist_is_an_input_error():
    cases = (r"\frac{d}{dx} \int x dx = x", r"\frac{d}{dx} \lim_{x \to 0} x = 0", r"\sin x = 1")
    for text in cases:
        with pytest.raises(InputError):
            parse_claim(text)


def test_latex_symbols_are_real_and_e_is_eulers_number():
    claim = parse_claim(r"\frac{d}{dx} e^{x} = e^{x}")
    assert claim.expr == sp.exp(x)
    assert all(s.is_real for s in claim.expr.free_symbols)


# ------------------------------------------------- a derivative table, as people type it




@pytest.mark.parametrize("text", tables.RIGHT)
def test_every_entry_of_the_table_is_ok(text):
    for seed in (0, 1, 2):
        report = dc.check_claim(text, seed=seed)
        assert report.ok, (seed, str(report))


@pytest.mark.parametrize("text", tables.SLIPPED)
def test_no_slipped_entry_is_ok(text):
    for seed in (0, 1, 2):
        report = dc.check_claim(text, seed=seed)
        assert not report.ok, (seed, str(report))


# ------------------------------------- printed in human notation, read back the same

def _human(text: str, style: int) -> str:
    """SymPy's printed text in one of several human spellings (a test oracle: every
    rewrite here preserves the meaning by construction)."""
    text = text.replace("**", "^")
    if style >= 1:
        text = text.replace("atan(", "arctan(").replace("log(", "ln(")
    if style >= 2:
        text = text.replace("*", " ")  # juxtaposition for every product
    if style >= 3:
        text = text.replace("(", "[").replace(")", "]")
        # a call keeps its round brackets: f[...] would read as a subscript
        for name in ("sin", "cos", "exp", "tanh", "arctan", "ln"):
            text = text.replace(name + "[", name + "(")
        text = _balance(text)
    return text


def _balance(text: str) -> str:
    """Close every bracket with its own kind after the call fix-up above."""
    out, stack = [], []
    for char in text:
        if char in "([":
            stack.append(char)
            out.append(char)
        elif char in ")]":
            opener = stack.pop()
            out.append(")" if opener == "(" else "]")
        else:
            out.append(char)
    return "".join(out)


@settings(max_examples=60, deadline=None, database=None, derandomize=True)
@given(dcst.expressions(("x", "y"), max_leaves=6), st.integers(0, 3))
def test_expressions_printed_in_human_notation_read_back_the_same(expr, style):
    text = _human(str(expr), style)
    parsed = parse_expression(text)
    assert sp.expand(parsed - expr) == 0 or sp.simplify(parsed - expr) == 0, (text, parsed)
