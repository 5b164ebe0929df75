"""The demo: every book rule ok, every mistake refuted, every broken layer caught."""

import json

from derivcheck.claims.api import check_claim
from derivcheck.demo import BOOK_RULES, CLASSIC_MISTAKES, run_demo


def test_every_book_rule_is_proven():
    # "proven wherever SymPy can prove it": all of chapters 7-8 can be
    for text in BOOK_RULES:
        assert check_claim(text).verdict.value == "proven", text


def test_every_classic_mistake_is_refuted_with_a_counterexample():
    for text in CLASSIC_MISTAKES:
        report = check_claim(text)
        assert report.verdict.value == "refuted", text
        assert report.counterexample, text


def test_demo_text(capsys):
    assert run_demo() is True
    out = capsys.readouterr().out
    assert f"{len(BOOK_RULES)} claims: {len(BOOK_RULES)} ok, 0 refuted, 0 inconclusive" in out
    assert out.count("CAUGHT") == 3 and "MISSED" not in out
    assert "(SYMBOLIC)" in out  # the broken layers are shown against both engines
    assert "Diagnosis: BACKWARD is exactly -NUMERIC everywhere: the sign is flipped." in out
    assert "(the batch size)" in out
    assert out.rstrip().endswith("demo: every verdict as expected")


def test_demo_json(capsys):
    assert run_demo(seed=1, as_json=True) is True
    payload = json.loads(capsys.readouterr().out)
    assert payload["as_expected"] is True and payload["seed"] == 1
    assert all(r["ok"] for r in payload["rules"])
    assert not any(r["ok"] for r in payload["mistakes"])
    assert all(r["ok"] for r in payload["layers"].values())
    assert not any(r["ok"] for r in payload["broken_layers"].values())


def test_the_book_chains_hold_and_the_wrong_steps_are_named():
    import derivcheck as dc
    from derivcheck.demo import BOOK_CHAINS, CHAIN_MISTAKES

    for text in BOOK_CHAINS:
        report = dc.check_claim(text)
        assert report.ok and len(report.steps) >= 2 and report.failed_step is None, str(report)
    assert [dc.check_claim(text).failed_step for text in CHAIN_MISTAKES] == [1, 1]
