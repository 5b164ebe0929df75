"""The public surface: exactly ``__all__``, sorted, and a light import."""

import subprocess
import sys

import derivcheck


def test_all_is_sorted_and_unique():
    assert list(derivcheck.__all__) == sorted(set(derivcheck.__all__))


def test_every_public_name_resolves():
    for name in derivcheck.__all__:
        assert getattr(derivcheck, name) is not None, name


def test_public_names_are_exactly_all():
    public = {name for name in dir(derivcheck) if not name.startswith("_")}
    submodules = {
        name
        for name in public
        if type(getattr(derivcheck, name)).__name__ == "module"
    }
    assert public - submodules - {"annotations", "importlib", "TYPE_CHECKING", "Any"} == set(
        derivcheck.__all__
    )


def test_unknown_attribute_raises_attribute_error():
    try:
        derivcheck.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_import_is_light():
    # a fresh interpreter: nothing heavy may load with the package or the CLI module
    code = (
        "import sys, derivcheck, derivcheck.cli.main, derivcheck.numeric, derivcheck.testing; "
        "print(sorted(m for m in ('sympy', 'hypothesis', 'pytest', 'mpmath', 'matplotlib') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_verdict_values():
    assert [v.value for v in derivcheck.Verdict] == [
        "proven",
        "confirmed",
        "refuted",
        "inconclusive",
    ]
    assert derivcheck.Verdict("refuted") is derivcheck.Verdict.REFUTED


def test_input_error_is_value_error():
    assert issubclass(derivcheck.InputError, ValueError)


def test_every_report_is_truthy_exactly_when_ok():
    import numpy as np

    import derivcheck as dc
    from derivcheck.examples import book, broken

    reports = [
        dc.check_claim("d/dx x^2 = 2x"),
        dc.check_claim("d/dx x^2 = 3x"),
        dc.check_derivative("log(x)", "1/x", domain={"x": (-2, -1)}),  # inconclusive
        dc.check_gradient("x*y", ["y", "x"], ["x", "y"]),
        dc.check_gradient("x*y", ["y", "y"], ["x", "y"]),
        dc.check_layer(book.Activation_Sigmoid(), np.array([[0.5, -1.0]])),
        dc.check_layer(broken.Sigmoid_MissingOutputFactor(), np.array([[0.5, -1.0]])),
        dc.check_jacobian(np.sin, lambda v: np.diag(np.cos(v)), np.array([0.3, 1.0])),
        dc.check_jacobian(np.sin, lambda v: np.diag(np.sin(v)), np.array([0.3, 1.0])),
    ]
    assert {r.ok for r in reports} == {True, False}
    for report in reports:
        assert bool(report) is report.ok


def test_every_json_document_shares_one_schema(tmp_path, capsys):
    import json

    import numpy as np

    import derivcheck as dc
    from derivcheck.cli import main as cli
    from derivcheck.examples import book

    documents = [
        json.loads(dc.check_claim("d/dx x^2 = 3x").to_json()),
        json.loads(dc.check_gradient("x*y", ["y", "x"], ["x", "y"]).to_json()),
        json.loads(dc.check_layer(book.Activation_Sigmoid(), np.array([[0.5]])).to_json()),
    ]
    rules = tmp_path / "rules.txt"
    rules.write_text("d/dx x^2 = 2x\n", encoding="utf-8")
    cli.main(["check", str(rules), "--json"])
    documents.append(json.loads(capsys.readouterr().out))
    cli.main(["claim", "d/dx x = 1", "--json"])
    documents.append(json.loads(capsys.readouterr().out))
    kinds = [d["kind"] for d in documents]
    assert kinds == ["claim", "gradient", "layer", "claim_file", "claim"]
    for document in documents:
        assert document["schema_version"] == 1
        assert isinstance(document["ok"], bool)
    for single in documents[:3] + documents[4:]:
        verdicts = {"proven", "confirmed", "refuted", "inconclusive", "ok", "failed"}
        assert single["verdict"] in verdicts
