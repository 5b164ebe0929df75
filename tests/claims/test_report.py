"""report: ClaimReport text and JSON, summary_table, message helpers, light import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import derivcheck as dc
from derivcheck.claims import report
from derivcheck.claims.report import ClaimReport, Verdict, summary_table


def _refuted() -> ClaimReport:
    return ClaimReport(
        verdict=Verdict.REFUTED, expr="3*(2*x**2)**5", claimed="15*(2*x**2)**4", wrt="x",
        expected="960*x**9", counterexample={"x": 0.37}, claimed_value=0.527,
        expected_value=0.12437, numeric_value=0.12437000000001, numeric_error=2e-14,
        points_checked=1, reason="The claim differs from SymPy's derivative at x = 0.37.",
        seed=0, witness_points=1,
    )


def test_verdicts_and_ok() -> None:
    assert [v.value for v in Verdict] == ["proven", "confirmed", "refuted", "inconclusive"]
    assert str(Verdict.REFUTED) == "refuted"
    for verdict, ok in [(Verdict.PROVEN, True), (Verdict.CONFIRMED, True),
                        (Verdict.REFUTED, False), (Verdict.INCONCLUSIVE, False)]:
        r = ClaimReport(verdict=verdict, expr="x", claimed="1", wrt="x", expected="1")
        assert r.ok is ok


def test_refuted_text_pins_the_layout() -> None:
    assert str(_refuted()) == (
        "Claim refuted: d/dx 3*(2*x**2)**5 = 15*(2*x**2)**4\n"
        "SymPy's derivative: 960*x**9\n"
        "Verdict: refuted (seed=0)\n"
        "  The claim differs from SymPy's derivative at x = 0.37.\n"
        "Counterexample: x = 0.37\n"
        "  claimed: 0.527\n"
        "  exact:   0.12437 (SymPy, 30 digits)\n"
        "  numeric: 0.12437000000001 ± 2e-14 (central differences)\n"
        "Checked at 1 point; central differences agreed at 1."
    )


def test_text_of_a_real_report_shows_values_and_instantiation() -> None:
    r = dc.check_claim("d/dx f(x)/g(x) = (f'(x)*g(x) + f(x)*g'(x))/g(x)^2")
    text = str(r)
    assert text.startswith("Claim refuted: d/dx f(x)/g(x) = ")
    assert "Verdict: refuted (seed=0)" in text
    assert "Counterexample: x = " in text and "  with f = " in text
    for label in ("claimed:", "exact:", "numeric:"):
        assert label in text


def test_proven_text_has_kink_notes() -> None:
    text = str(dc.check_claim("∂/∂x max(x, y) = 1(x > y)"))
    assert text.startswith(
        "Claim: ∂/∂x max(x, y) = 1(x > y)\n"
        "Read as: ∂/∂x Max(x, y) = Piecewise((1, x > y), (0, True))\n"
        "SymPy's derivative: "
    )
    assert "Verdict: proven (seed=0)" in text
    assert "Kinks:\n  at x = y (a kink) the claim takes 0; SymPy's convention gives 1/2" in text
    assert "Counterexample" not in text


def test_to_dict_is_json_with_strings_for_expressions() -> None:
    r = dc.check_claim("d/dx x^3 = 3x^2 + 1")
    data = json.loads(r.to_json())
    assert data["verdict"] == "refuted" and data["ok"] is False
    assert data["expr"] == "x**3" and data["expected"] == "3*x**2"
    assert data["claim"] == "d/dx x^3 = 3x^2 + 1"
    assert data["counterexample"] == r.counterexample
    assert data["seed"] == 0 and data["components"] == []


def test_to_json_handles_non_finite_numbers() -> None:
    r = _refuted()
    r.numeric_value = float("nan")
    r.numeric_error = float("inf")
    text = r.to_json(allow_nan=False)  # strict JSON: non-finite values become strings
    assert json.loads(text)["numeric_error"] == "inf"


def test_gradient_report_text_and_dict() -> None:
    g = dc.check_gradient("x*y", {"x": "y", "y": "y"}, ["x", "y"])
    text = str(g)
    assert text.splitlines()[0] == "Claim refuted: grad_(x, y) x*y = (y, y)"
    assert "  d/dx:" in text and "  d/dy:" in text
    data = g.to_dict()
    assert [c["verdict"] for c in data["components"]] == ["proven", "refuted"]
    assert data["wrt"] == ["x", "y"] and data["expected"] == ["y", "x"]
    json.dumps(data)


def test_summary_table() -> None:
    proven = ClaimReport(verdict=Verdict.PROVEN, expr="x", claimed="1", wrt="x",
                         expected="1", method="expand")
    confirmed = ClaimReport(verdict=Verdict.CONFIRMED, expr="x", claimed="1", wrt="x",
                            expected="1", points_checked=24)
    inconclusive = ClaimReport(verdict=Verdict.INCONCLUSIVE, expr="log(x)", claimed="1/x",
                               wrt="x", expected="1/x", reason="no valid point in 500 tries")
    table = summary_table([("a", proven), ("b", confirmed), ("c", _refuted()),
                           ("d", inconclusive)])
    assert table.splitlines() == [
        "proven        a  (expand)",
        "confirmed     b  (agrees at 24 points)",
        "refuted       c  (fails at x = 0.37: claimed 0.527, exact 0.12437)",
        "inconclusive  d  (no valid point in 500 tries)",
        "4 claims: 2 ok, 1 refuted, 1 inconclusive",
    ]
    assert summary_table([]) == "0 claims: 0 ok, 0 refuted, 0 inconclusive"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("x = 0", 0, "1/2"), "at x = 0 (a kink) the claim takes 0; SymPy's convention gives 1/2"),
        (("x = y", 1, 1), "at x = y (a kink) the claim and SymPy's convention both give 1"),
        (("x = 0", None, "1/2"),
         "at x = 0 (a kink: the derivative may not exist) the claim's value is not judged"),
    ],
)
def test_kink_note(args: tuple[str, object, object], expected: str) -> None:
    assert report.kink_note(*args) == expected


def test_no_points_reason() -> None:
    assert report.no_points_reason(
        found=3, wanted=24, tried=500, rejected_domain=0, rejected_kink=497, where=""
    ) == "only 3 of 24 points in 500 tries: 497 too close to a kink"


def test_formatting_helpers() -> None:
    assert report.format_point({"x": 0.37, "n": 2.5}) == "x = 0.37, n = 2.5"
    assert report.format_point(None) == "-"
    assert report.format_number(2.0 + 1e-9) == "2.000000001"
    assert report.format_instantiation({"f": "sin"}) == "f = sin"


def test_report_module_does_not_import_sympy() -> None:
    code = (
        "import sys, derivcheck.claims.report, derivcheck\n"
        "assert 'sympy' not in sys.modules, 'sympy imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_placeholder_derivatives_print_in_claim_syntax() -> None:
    r = dc.check_claim("d/dx f(g(x)) = f'(g(x))")
    assert str(r.expected) == "Derivative(f(g(x)), g(x))*Derivative(g(x), x)"
    assert "SymPy's derivative: f'(g(x))*g'(x)" in str(r)
    assert r.to_dict()["expected"] == "f'(g(x))*g'(x)"
    assert report.format_expr([1, "x"]) == "(1, x)"
