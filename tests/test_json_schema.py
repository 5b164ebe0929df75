"""Every JSON document derivcheck writes validates against derivcheck/schema.json."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

jsonschema = pytest.importorskip("jsonschema")

import derivcheck as dc  # noqa: E402
from derivcheck.examples import book, broken  # noqa: E402
from derivcheck.examples.book_model import book_classifier  # noqa: E402

SCHEMA = json.loads(resources.files("derivcheck").joinpath("schema.json").read_text())


def _valid(document: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft202012Validator)
    _no_empty_strings(document)


def _no_empty_strings(value, path="$"):
    if isinstance(value, str):
        assert value != "", f"empty string at {path}: absent values are null"
    elif isinstance(value, dict):
        for k, v in value.items():
            _no_empty_strings(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _no_empty_strings(v, f"{path}[{i}]")


def _cli(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "derivcheck", *args, "--json"], capture_output=True, text=True
    )
    assert done.returncode in (0, 1, 2), done.stderr
    text = done.stdout
    assert text.startswith("{\n  "), "indented by 2 like every document"
    return json.loads(text)


@pytest.mark.parametrize(
    "claim",
    [
        "d/dx x^2 = 2x",
        "d/dx x^2 = 3x",
        "d/dx 3(2x²)⁵ = 15(2x²)⁴ = 960x⁹",
        "∂/∂x max(x, y) = 1(x > y)",
    ],
)
def test_claims(claim):
    _valid(json.loads(dc.check_claim(claim).to_json()))
    _valid(_cli("claim", claim))


def test_gradient():
    _valid(json.loads(dc.check_gradient("x**2 * y", ["2*x*y", "x**2"], wrt=["x", "y"]).to_json()))


def test_claim_file_with_an_unreadable_row(tmp_path: Path):
    rules = tmp_path / "rules.txt"
    rules.write_text("d/dx x^2 = 2x\nd/dx x^3 = 3x +\n# comment\nd/dx sin(x) = cos(x)\n")
    document = _cli("check", str(rules))
    _valid(document)
    assert [row["verdict"] for row in document["claims"]][1] is None


def test_layers_and_jacobian():
    x = np.random.default_rng(0).normal(size=(4, 3))
    _valid(json.loads(dc.check_layer(book.Layer_Dense(3, 2), x).to_json()))
    _valid(json.loads(dc.check_layer(broken.Dense_MeanInsteadOfSum(3, 2), x).to_json()))
    _valid(json.loads(dc.check_layer(broken.Dense_ForgetsBiasGrad(3, 2), x).to_json()))
    jac = dc.check_jacobian(np.sin, lambda v: np.diag(np.cos(v)), np.array([0.1, 0.2]))
    _valid(json.loads(jac.to_json()))
    _valid(_cli("layer", "derivcheck.examples.broken:Sigmoid_MissingOutputFactor"))


def test_models():
    X = np.random.default_rng(0).normal(size=(8, 4))
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    _valid(json.loads(dc.check_model(book_classifier(n_inputs=4, hidden=4), X, y).to_json()))
    bad = book_classifier(n_inputs=4, hidden=4, relu=broken.ReLU_MaskFromDvalues)
    document = json.loads(dc.check_model(bad, X, y).to_json())
    _valid(document)
    assert document["first_wrong"] == 1 and document["components"]


def test_demo():
    _valid(_cli("demo"))
