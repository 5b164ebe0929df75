"""Every claim ends: within the time bound, in a report or an InputError.

The inputs are those a 10,000-input fuzz found ending in a raw exception, running
for minutes or eating all memory.  `budget=1` keeps the suite quick; what is
asserted is the outcome and its reason, never a time.
"""

from __future__ import annotations

import signal

import pytest

import derivcheck as dc
from derivcheck._deadline import DeadlineExceeded, deadline

MAX_21 = "d/dx max(" + ", ".join(f"x*{i}" for i in range(1, 22)) + ") = 1"
MAX_41 = "d/dx max(" + ", ".join(f"x*{i}" for i in range(1, 42)) + ") = 1"

CLAIMS = [
    "d/dy y = softplus(cosh(1e300))^2",
    "d/dx f'(f'(f'(x))) = 1",
    "d/dx x + sin(1e-300^32) = 1",
    "d/dx sign(atan((-1e-300⁻¹)/(tan(pi)))^x) = 0",
    "d/dθ g'(g'(1e300/w1^x))^-2 = n",
    "d/dx -g'(g'(-n^x))^x = n",
    MAX_21,
    MAX_41,
    "d/dw1 softplus(1000) = (softplus((softplus(cos(1000)))/(-1e-3²)))*(++n²²)",
]


@pytest.mark.parametrize("text", CLAIMS, ids=range(len(CLAIMS)))
def test_hostile_claim_ends_in_a_report_that_says_why(text):
    report = dc.check_claim(text, budget=1.0)
    assert isinstance(report, dc.ClaimReport)
    if not report.ok:
        assert report.reason  # what stopped it, or where it fails
    if report.verdict is dc.Verdict.INCONCLUSIVE:
        assert any(
            phrase in report.reason
            for phrase in ("time bound", "could not finish", "central differences", "point")
        ), report.reason
    str(report)  # prints without raising
    report.to_json()


def test_a_huge_constant_is_a_report_not_an_overflow():
    report = dc.check_derivative("10**1000", "x", wrt="x", budget=1.0)
    assert not report.ok
    assert report.reason


def test_the_report_names_where_it_stopped():
    report = dc.check_claim(MAX_41, budget=0.5)
    assert report.verdict is dc.Verdict.INCONCLUSIVE
    assert "time bound (1 s)" in report.reason and "derivcheck." in report.reason


def test_bad_input_is_still_an_input_error():
    with pytest.raises(dc.InputError):
        dc.check_claim("d/dx __import__('os') = 0", budget=1.0)
    with pytest.raises(dc.InputError):
        dc.check_claim("d/dx x = 1", budget=-1)


def test_the_deadline_interrupts_python_code_and_restores_the_handler():
    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(DeadlineExceeded), deadline(0.01):
        while True:
            pass
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_another_timer_is_left_alone():
    signal.setitimer(signal.ITIMER_REAL, 100.0)
    try:
        with deadline(0.01) as bound:
            assert not bound.active
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 50.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)


def test_loading_the_latex_parser_does_not_count_against_a_claims_bound():
    """The first LaTeX claim in a process imports SymPy's LaTeX grammar and transformer
    (0.4 s here, seconds on a loaded machine): a cost of the process, paid before the
    claim's wall-clock bound starts.  Here that first reading is made to take 1.5 s, with
    a bound of 1 s (budget 0.5): the claim is still proven, in a fresh process."""
    from tests.first_use import run_with_slow_first_call

    out = run_with_slow_first_call(
        "sympy.parsing.latex", "parse_latex", 1.5,
        "import derivcheck as dc\n"
        "r = dc.check_claim(r'\\frac{d}{dx} x^{3} = 3x^{2}', budget=0.5)\n"
        "print(r.verdict.value)\n",
    )
    assert out.split()[:1] == ["proven"], out
