"""check_derivative / check_gradient / check_claim: verdicts, counterexamples, errors."""

from __future__ import annotations

import json

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import derivcheck as dc
from derivcheck.claims import decide, symbolic
from derivcheck.claims.report import ClaimReport, Verdict
from derivcheck.errors import DomainError, InputError

x, y, z = sp.symbols("x y z", real=True)

# ------------------------------------------------------------------ the book's rules

CHAPTER_7 = [
    ("1", "0"),
    ("x", "1"),
    ("2*x", "2"),
    ("m*x + b", "m"),
    ("3*x**2", "6*x"),
    ("3*x**2 + 5*x", "6*x + 5"),
    ("5*x**5 + 4*x**3 - 5", "25*x**4 + 12*x**2"),
    ("x**3 + 2*x**2 - 5*x + 7", "3*x**2 + 4*x - 5"),
]

CHAPTER_8 = [
    ("x + y", "x", "1"),
    ("x + y", "y", "1"),
    ("2*x + 3*y**2", "x", "2"),
    ("2*x + 3*y**2", "y", "6*y"),
    ("3*x**3 - y**2 + 5*x + 2", "x", "9*x**2 + 5"),
    ("3*x**3 - y**2 + 5*x + 2", "y", "-2*y"),
    ("x*y", "x", "y"),
    ("x*y", "y", "x"),
    ("x*y*z", "x", "y*z"),
    ("x*y*z", "y", "x*z"),
    ("x*y*z", "z", "x*y"),
    ("3*x**3*z - y**2 + 5*z + 2*y*z", "x", "9*x**2*z"),
    ("3*x**3*z - y**2 + 5*z + 2*y*z", "y", "-2*y + 2*z"),
    ("3*x**3*z - y**2 + 5*z + 2*y*z", "z", "3*x**3 + 5 + 2*y"),
    ("max(x, y)", "x", "1(x > y)"),
    ("max(x, 0)", "x", "1(x > 0)"),
]

RULES = [
    "d/dx c*f(x) = c*f'(x)",
    "d/dx f(x) + g(x) = f'(x) + g'(x)",
    "d/dx f(x) - g(x) = f'(x) - g'(x)",
    "d/dx x^n = n*x^(n - 1)",
    "d/dx f(x)*g(x) = f'(x)*g(x) + f(x)*g'(x)",
    "d/dx f(x)/g(x) = (f'(x)*g(x) - f(x)*g'(x))/g(x)^2",
    "d/dx f(g(x)) = f'(g(x))*g'(x)",
    "d/dx 3(2x^2)^5 = 15(2x^2)^4*4x",
    "d/dx 3(2x^2)^5 = 960x^9",
]


@pytest.mark.parametrize(("expr", "claimed"), CHAPTER_7)
def test_chapter_7_table_is_proven(expr: str, claimed: str) -> None:
    wrt = "x"
    r = dc.check_derivative(expr, claimed, wrt=wrt)
    assert r.verdict is Verdict.PROVEN, str(r)
    assert r.ok and r.counterexample is None


@pytest.mark.parametrize(("expr", "wrt", "claimed"), CHAPTER_8)
def test_chapter_8_table_is_proven(expr: str, wrt: str, claimed: str) -> None:
    r = dc.check_derivative(expr, claimed, wrt=wrt)
    assert r.verdict is Verdict.PROVEN, str(r)


@pytest.mark.parametrize("text", RULES)
def test_book_rules_are_proven(text: str) -> None:
    r = dc.check_claim(text)
    assert r.verdict is Verdict.PROVEN, str(r)
    assert r.text == text


def test_chapter_8_gradients() -> None:
    g = dc.check_gradient(
        "3*x**3*z - y**2 + 5*z + 2*y*z", ["9*x**2*z", "-2*y + 2*z", "3*x**3 + 5 + 2*y"],
        ["x", "y", "z"],
    )
    assert g.verdict is Verdict.PROVEN
    assert [str(c.wrt) for c in g.components] == ["x", "y", "z"]
    assert all(c.verdict is Verdict.PROVEN for c in g.components)


# ------------------------------------------------------------------ classic mistakes

MISTAKES = [
    "d/dx 3*(2*x**2)**5 = 15*(2*x**2)**4",  # forgot the inner derivative
    "d/dx x**x = x*x**(x-1)",  # power rule on x^x
    "d/dx f(x)/g(x) = (f'(x)*g(x) + f(x)*g'(x))/g(x)**2",  # quotient-rule sign
    "d/dx max(x, y) = 1",  # max passes the gradient to one argument only
    "d/dx f(g(x)) = f'(g(x))",  # chain rule without g'
    "d/dx f(x)*g(x) = f'(x)*g'(x)",  # product rule as a product
    "d/dx sigmoid(x) = sigmoid(x)*(1 + sigmoid(x))",
    "d/dx log(x) = 1/x**2",
]


@pytest.mark.parametrize("text", MISTAKES)
def test_classic_mistakes_are_refuted_with_a_counterexample(text: str) -> None:
    r = dc.check_claim(text)
    assert r.verdict is Verdict.REFUTED, str(r)
    assert not r.ok
    assert r.counterexample is not None
    assert set(r.counterexample) >= {"x"}
    assert r.claimed_value is not None and r.expected_value is not None
    assert r.claimed_value != r.expected_value
    # the independent witness agrees with SymPy, not with the claim
    assert r.numeric_value is not None and r.numeric_error is not None
    assert abs(r.numeric_value - r.expected_value) <= 10 * r.numeric_error + 1e-12 * abs(
        r.expected_value
    )


def test_counterexample_values_are_the_claim_and_sympy_at_that_point() -> None:
    r = dc.check_claim("d/dx 3*(2*x**2)**5 = 15*(2*x**2)**4")
    assert r.counterexample is not None
    xv = r.counterexample["x"]
    assert r.claimed_value == pytest.approx(15 * (2 * xv**2) ** 4, rel=1e-14)
    assert r.expected_value == pytest.approx(960 * xv**9, rel=1e-14)


def test_rule_counterexample_names_the_instantiation() -> None:
    r = dc.check_claim("d/dx f(x)/g(x) = (f'(x)*g(x) + f(x)*g'(x))/g(x)^2")
    assert r.verdict is Verdict.REFUTED
    assert r.instantiation is not None and sorted(r.instantiation) == ["f", "g"]
    names = [name for name, _ in symbolic.INSTANTIATIONS]
    assert all(v in names for v in r.instantiation.values())
    assert "with f = " in str(r)


def test_free_constants_are_sampled_and_reported() -> None:
    r = dc.check_claim("d/dx x^n = x^(n - 1)")
    assert r.verdict is Verdict.REFUTED
    assert r.counterexample is not None and set(r.counterexample) == {"x", "n"}


def test_near_miss_of_1e_9_is_refuted() -> None:
    r = dc.check_derivative("x**2", "2*x + 1e-9")
    assert r.verdict is Verdict.REFUTED
    assert r.claimed_value is not None and r.expected_value is not None
    assert r.claimed_value - r.expected_value == pytest.approx(1e-9, rel=1e-3)


def test_sympy_float_near_miss_is_refuted() -> None:
    r = dc.check_derivative(x**2, 2 * x + sp.Float("1e-9"), wrt=x)
    assert r.verdict is Verdict.REFUTED


def test_claim_wrong_only_for_large_x_is_caught() -> None:
    wrong_above_5 = sp.Piecewise((2 * x, x < 5), (2 * x + 1, True))
    assert dc.check_derivative(x**2, wrong_above_5, wrt=x).verdict is Verdict.REFUTED
    wrong_below_m20 = sp.Piecewise((2 * x + 1, x < -20), (2 * x, True))
    assert dc.check_derivative(x**2, wrong_below_m20, wrt=x).verdict is Verdict.REFUTED


@pytest.mark.parametrize("seed", range(5))
def test_regional_errors_are_caught_for_every_seed(seed: int) -> None:
    claim = "Piecewise((2*x, x < 5), (2*x + 1, True))"
    assert dc.check_derivative("x**2", claim, seed=seed).verdict is Verdict.REFUTED
    claim = "Piecewise((2*x + 1, x < -20), (2*x, True))"
    assert dc.check_derivative("x**2", claim, seed=seed).verdict is Verdict.REFUTED


# --------------------------------------------------------------------------- kinks


def test_max_indicator_is_proven_with_kink_note() -> None:
    r = dc.check_claim("∂/∂x max(x, y) = 1(x > y)")
    assert r.verdict is Verdict.PROVEN
    assert r.kink_notes == [
        "at x = y (a kink) the claim takes 0; SymPy's convention gives 1/2"
    ]
    assert "kinks" in r.reason


@pytest.mark.parametrize(
    "claimed", ["1(x > 0)", "1(x >= 0)", "Heaviside(x)", "Piecewise((1, x > 0), (0, True))"]
)
def test_relu_conventions_are_all_proven(claimed: str) -> None:
    r = dc.check_derivative("relu(x)", claimed)
    assert r.verdict is Verdict.PROVEN, str(r)
    assert len(r.kink_notes) == 1 and r.kink_notes[0].startswith("at x = 0 (a kink)")


def test_kink_note_reports_the_convention_the_claim_picks() -> None:
    r = dc.check_derivative("max(x, 0)", "1(x >= 0)")
    assert r.kink_notes == ["at x = 0 (a kink) the claim takes 1; SymPy's convention gives 1/2"]


def test_abs_and_three_way_max() -> None:
    assert dc.check_derivative("abs(x)", "sign(x)").verdict is Verdict.PROVEN
    assert dc.check_derivative("abs(x)", "x/abs(x)").ok
    r = dc.check_derivative("max(x, y, z)", "1(x > y)*1(x > z)", wrt="x")
    assert r.verdict is Verdict.PROVEN, str(r)
    assert dc.check_derivative("max(x, y, z)", "1(x > y)", wrt="x").verdict is Verdict.REFUTED


def test_min_and_piecewise() -> None:
    assert dc.check_derivative("min(x, y)", "1(x < y)", wrt="x").verdict is Verdict.PROVEN
    r = dc.check_derivative("Piecewise((x**2, x < 1), (2*x - 1, True))", "2*min(x, 1)")
    assert r.ok, str(r)
    r = dc.check_derivative("Piecewise((x**2, x < 1), (2*x - 1, True))", "2*x")
    assert r.verdict is Verdict.REFUTED
    assert r.counterexample is not None and r.counterexample["x"] > 1


# --------------------------------------------------------------------- confirmed


def test_unprovable_but_true_claim_is_confirmed_or_proven() -> None:
    # x/|x| = sign(x) off the kink; the kink rewrite cannot divide, so numerics decide
    r = dc.check_derivative("sqrt(x**2)", "x/sqrt(x**2)")
    assert r.ok
    assert r.points_checked >= decide.MIN_POINTS_CONFIRM
    if r.verdict is Verdict.CONFIRMED:
        assert r.witness_points > 0
        assert "30 digits" in r.reason


def test_confirmed_when_proof_steps_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(symbolic, "prove_zero", lambda *a, **k: None)
    r = dc.check_derivative("sin(x)**2", "sin(2*x)")
    assert r.verdict is Verdict.CONFIRMED
    assert r.points_checked == decide.N_POINTS
    assert r.witness_points >= decide.MIN_POINTS_CONFIRM


def test_rule_without_proof_is_confirmed_on_instantiations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(symbolic, "prove_zero", lambda *a, **k: None)
    r = dc.check_claim("d/dx f(x)*g(x) = f'(x)*g(x) + f(x)*g'(x)")
    assert r.verdict is Verdict.CONFIRMED
    assert "instantiated" in r.reason


# ------------------------------------------------------------------ inconclusive


def test_engines_disagree_is_inconclusive_never_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    # a broken SymPy: its "derivative" of x**3 is 3*x**2 + 1; the claim agrees with it
    real = symbolic.derivative
    monkeypatch.setattr(symbolic, "derivative", lambda e, w: real(e, w) + 1)
    r = dc.check_derivative("x**3", "3*x**2 + 1")
    assert r.verdict is Verdict.INCONCLUSIVE
    assert "disagree" in r.reason
    assert r.numeric_value is not None and r.expected_value is not None
    assert abs(r.numeric_value - (r.expected_value - 1)) < 1e-6


def test_engines_disagree_at_the_counterexample(monkeypatch: pytest.MonkeyPatch) -> None:
    # SymPy "says" 3*x**2 + 1; the claim is the truth 3*x**2: not refuted, inconclusive
    real = symbolic.derivative
    monkeypatch.setattr(symbolic, "derivative", lambda e, w: real(e, w) + 1)
    r = dc.check_derivative("x**3", "3*x**2")
    assert r.verdict is Verdict.INCONCLUSIVE
    assert "disagree" in r.reason


def test_empty_domain_is_inconclusive_with_reason() -> None:
    r = dc.check_derivative("log(x)", "1/x", domain={"x": (-2, -1)})
    assert r.verdict is Verdict.INCONCLUSIVE
    assert "no valid point" in r.reason and "not real" in r.reason
    assert r.points_checked == 0


def test_nowhere_real_expression_is_inconclusive() -> None:
    r = dc.check_derivative("sqrt(-1 - x**2)", "-x/sqrt(-1 - x**2)")
    assert r.verdict is Verdict.INCONCLUSIVE


def test_user_domain_is_respected() -> None:
    r = dc.check_derivative("x**2", "Piecewise((2*x, x < 5), (0, True))", domain={"x": (0, 4)})
    assert r.ok
    r = dc.check_derivative("x**2", "Piecewise((2*x, x < 5), (0, True))", domain={"x": (6, 7)})
    assert r.verdict is Verdict.REFUTED
    assert r.counterexample is not None and 6 < r.counterexample["x"] < 7


def test_domain_reaches_wider_scales_when_needed() -> None:
    r = dc.check_derivative("sqrt(x - 200)", "1/(2*sqrt(x - 200))")
    assert r.ok, str(r)


# ------------------------------------------------------------------------ errors


def test_wrt_may_be_omitted_with_one_free_symbol() -> None:
    assert dc.check_derivative("x**2", "2*x").ok


def test_wrt_missing_names_the_candidates() -> None:
    with pytest.raises(InputError, match=r"`wrt` must be given.*2 free symbols \(x, y\)"):
        dc.check_derivative("x*y", "y")


def test_wrt_missing_without_symbols() -> None:
    with pytest.raises(InputError, match="no free symbols"):
        dc.check_derivative("5", "0")


def test_wrt_not_a_symbol() -> None:
    with pytest.raises(InputError, match="`wrt` must be a variable name or a sympy Symbol"):
        dc.check_derivative("x**2", "2*x", wrt=3)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="`wrt`"):
        dc.check_derivative("x**2", "2*x", wrt="2x")


def test_seed_must_be_a_non_negative_int() -> None:
    with pytest.raises(InputError, match="`seed` must be a non-negative integer, got -1"):
        dc.check_derivative("x**2", "2*x", seed=-1)
    with pytest.raises(InputError, match="`seed`"):
        dc.check_claim("d/dx x = 1", seed=1.5)  # type: ignore[arg-type]


def test_budget_must_be_positive() -> None:
    with pytest.raises(InputError, match="`budget` must be a positive finite float, got 0"):
        dc.check_derivative("x**2", "2*x", budget=0)


def test_domain_errors() -> None:
    with pytest.raises(DomainError, match=r"`domain\['x'\]` must be a pair"):
        dc.check_derivative("x**2", "2*x", domain={"x": (1, 0)})
    with pytest.raises(DomainError, match=r"`domain` names 'q'.*the variables are x"):
        dc.check_derivative("x**2", "2*x", domain={"q": (0, 1)})
    with pytest.raises(DomainError, match="`domain` must be a dict"):
        dc.check_derivative("x**2", "2*x", domain=[(0, 1)])  # type: ignore[arg-type]
    with pytest.raises(DomainError, match="finite"):
        dc.check_derivative("x**2", "2*x", domain={"x": (0, float("inf"))})


def test_gradient_errors() -> None:
    with pytest.raises(InputError, match=r"`claimed` has 1 components but `wrt` has 2"):
        dc.check_gradient("x*y", ["y"], ["x", "y"])
    with pytest.raises(InputError, match="`claimed` names 'z', which is not in `wrt`"):
        dc.check_gradient("x*y", {"x": "y", "z": "x"}, ["x", "y"])
    with pytest.raises(InputError, match="`claimed` has no component for 'y'"):
        dc.check_gradient("x*y", {"x": "y"}, ["x", "y"])
    with pytest.raises(InputError, match="`claimed` must be a list"):
        dc.check_gradient("x*y", "y, x", ["x", "y"])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="`wrt` must be a list"):
        dc.check_gradient("x*y", ["y", "x"], "x")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="`wrt` must name at least one"):
        dc.check_gradient("x*y", [], [])
    with pytest.raises(InputError, match="`wrt` names 'x' twice"):
        dc.check_gradient("x*y", ["y", "y"], ["x", "x"])


def test_bad_text_is_an_input_error() -> None:
    with pytest.raises(InputError):
        dc.check_claim("d/dx __import__('os').system('echo hi') = 0")
    with pytest.raises(InputError):
        dc.check_derivative("x**", "2*x")


# -------------------------------------------------------------------- gradients


def test_gradient_verdict_is_the_worst_component() -> None:
    g = dc.check_gradient("x*y", {"x": "y", "y": "y"}, ["x", "y"])
    assert g.verdict is Verdict.REFUTED
    assert [c.verdict for c in g.components] == [Verdict.PROVEN, Verdict.REFUTED]
    assert g.counterexample == g.components[1].counterexample
    assert g.expected == [y, x]
    assert "d/dy" in str(g)


def test_gradient_accepts_symbols_and_sympy() -> None:
    g = dc.check_gradient(x * y, {x: y, y: x}, [x, y])
    assert g.ok and len(g.components) == 2


# ------------------------------------------------------------------ report objects


def test_report_is_deterministic_and_serialisable() -> None:
    a = dc.check_claim("d/dx x^3 = 3x^2 + 1", seed=3)
    b = dc.check_claim("d/dx x^3 = 3x^2 + 1", seed=3)
    assert str(a) == str(b)
    assert a.seed == 3 and "seed=3" in str(a)
    data = json.loads(a.to_json())
    assert data["verdict"] == "refuted" and data["counterexample"] == a.counterexample
    assert isinstance(a, ClaimReport)


def test_sympy_objects_are_made_real() -> None:
    xc = sp.Symbol("x")  # no assumptions: d|x|/dx is not sign(x) for complex x
    r = dc.check_derivative(sp.Abs(xc), sp.sign(xc), wrt=xc)
    assert r.verdict is Verdict.PROVEN


# ------------------------------------------------------------ property-based tests

_LEAVES = [x, sp.Integer(2), sp.Rational(1, 3), sp.Integer(-1)]
_UNARY = [sp.sin, sp.cos, sp.exp, sp.tanh, sp.atan,
          lambda e: sp.log(1 + e**2), lambda e: sp.sqrt(1 + e**2)]


def _expressions() -> st.SearchStrategy[sp.Expr]:
    leaves = st.sampled_from(_LEAVES)

    def extend(children: st.SearchStrategy[sp.Expr]) -> st.SearchStrategy[sp.Expr]:
        unary = st.builds(lambda f, e: f(e), st.sampled_from(_UNARY), children)
        binary = st.builds(
            lambda op, a, b: op(a, b),
            st.sampled_from([sp.Add, sp.Mul, lambda a, b: a - b, lambda a, b: a / (2 + b**2)]),
            children, children,
        )
        power = st.builds(lambda e, n: e**n, children, st.integers(2, 3))
        return unary | binary | power

    return st.recursive(leaves, extend, max_leaves=5).filter(lambda e: e.has(x))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_expressions())
def test_property_true_derivative_is_ok(e: sp.Expr) -> None:
    r = dc.check_derivative(e, sp.diff(e, x), wrt=x)
    assert r.ok, str(r)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _expressions(),
    st.sampled_from(
        [sp.Rational(1, 10**6) * x, sp.Rational(1, 10**9), -sp.Rational(1, 10**9) * x**2]
    ),
)
def test_property_perturbed_derivative_is_refuted(e: sp.Expr, perturbation: sp.Expr) -> None:
    r = dc.check_derivative(e, sp.diff(e, x) + perturbation, wrt=x)
    assert r.verdict is Verdict.REFUTED, str(r)


def test_kink_note_when_sympy_has_a_delta_at_the_kink() -> None:
    r = dc.check_claim("d/dx sign(x) = 0")
    assert r.verdict is Verdict.PROVEN
    assert r.kink_notes == [
        "at x = 0 (a kink: the derivative may not exist) the claim's value is not judged"
    ]


def test_functions_outside_the_math_module_are_still_witnessed() -> None:
    r = dc.check_derivative(sp.besselj(0, x), -sp.besselj(1, x), wrt=x)
    assert r.verdict is Verdict.PROVEN and r.witness_points > 0
    r = dc.check_derivative(sp.besselj(0, x), sp.besselj(1, x), wrt=x)
    assert r.verdict is Verdict.REFUTED and r.numeric_value is not None


def test_unevaluable_derivative_is_inconclusive_not_a_crash() -> None:
    # SymPy leaves Derivative(floor(x), x) unevaluated: nothing can be sampled
    r = dc.check_derivative(x * sp.floor(x), sp.floor(x), wrt=x)
    assert r.verdict is Verdict.INCONCLUSIVE
    assert "cannot be evaluated numerically" in r.reason


def test_undefined_values_are_inconclusive() -> None:
    r = dc.check_derivative(sp.zoo * x, sp.zoo, wrt=x)
    assert r.verdict is Verdict.INCONCLUSIVE
    assert "undefined value" in r.reason


def test_narrow_branches_of_a_claim_are_visited() -> None:
    # wrong only on (3, 3.001): switch points put a sample between 3 and 3.001
    r = dc.check_derivative("x**2", "Piecewise((2*x, x <= 3), (2*x + 1, x < 3.001), (2*x, True))")
    assert r.verdict is Verdict.REFUTED
    assert r.counterexample is not None and 3 < r.counterexample["x"] < 3.001
    # wrong only within 1e-6 of the function's kink, off the kink itself
    r = dc.check_derivative("max(x, y)", "1(x > y + 1e-6)", wrt="x")
    assert r.verdict is Verdict.REFUTED
    assert r.counterexample is not None
    assert 0 < r.counterexample["x"] - r.counterexample["y"] < 1e-6


def test_a_claim_wrong_at_one_point_off_the_kinks_is_refuted_exactly() -> None:
    r = dc.check_derivative("x**2", "Piecewise((2*x, x != 3), (7, True))")
    assert r.verdict is Verdict.REFUTED
    assert r.counterexample == {"x": 3.0}
    assert (r.claimed_value, r.expected_value) == (7.0, 6.0)


def test_rules_skip_instantiations_without_valid_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(symbolic, "prove_zero", lambda *a, **k: None)
    r = dc.check_claim("d/dx log(f(x)) = f'(x)/f(x)")  # log(sin(x)) has valid points; fine
    assert r.verdict is Verdict.CONFIRMED
    r = dc.check_claim("d/dx log(-f(x)^2 - 1) = 1")  # never real, whatever f is
    assert r.verdict is Verdict.INCONCLUSIVE
    assert r.reason.startswith("No instantiation of the placeholders could be evaluated")


_F = sp.Function("f", real=True)
_G = sp.Function("g", real=True)


def _rules() -> st.SearchStrategy[sp.Expr]:
    leaves = st.sampled_from([x, _F(x), _G(x), sp.Integer(3)])

    def extend(children: st.SearchStrategy[sp.Expr]) -> st.SearchStrategy[sp.Expr]:
        apply = st.builds(lambda h, e: h(e), st.sampled_from([_F, _G, sp.sin, sp.exp]), children)
        binary = st.builds(
            lambda op, a, b: op(a, b),
            st.sampled_from([sp.Add, sp.Mul, lambda a, b: a / (1 + b**2)]),
            children, children,
        )
        return apply | binary

    return st.recursive(leaves, extend, max_leaves=4).filter(
        lambda e: e.has(x) and bool(symbolic.placeholders(e))
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_rules())
def test_property_rules_true_and_perturbed(e: sp.Expr) -> None:
    d = sp.diff(e, x)
    assert dc.check_derivative(e, d, wrt=x).ok
    r = dc.check_derivative(e, d + sp.Rational(1, 10**9), wrt=x)
    assert r.verdict is Verdict.REFUTED, str(r)
    assert r.instantiation is not None


def test_refuted_report_counts_the_failing_points():
    everywhere = dc.check_derivative("x**3", "3*x", "x")
    assert everywhere.points_failed >= 1
    only_large = dc.check_derivative("x**2", "Piecewise((2*x, x < 5), (2*x + 1, True))", "x")
    assert only_large.verdict is Verdict.REFUTED
    assert 1 <= only_large.points_failed < only_large.points_checked
    assert only_large.counterexample["x"] > 5
    text = str(only_large)
    assert f"the claim is wrong at {only_large.points_failed};" in text
    assert dc.check_derivative("x**2", "2*x", "x").points_failed == 0
