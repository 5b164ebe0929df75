"""The docs notebook runs end to end, and every report in it displays as HTML."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbconvert = pytest.importorskip("nbconvert.preprocessors")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "notebook.ipynb"


@pytest.fixture(scope="module")
def executed():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    runner = nbconvert.ExecutePreprocessor(timeout=120, kernel_name="python3")
    runner.preprocess(nb, {"metadata": {"path": str(NOTEBOOK.parent)}})
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def _html(cell) -> str:
    outputs = [o for o in cell.outputs if o.output_type == "execute_result"]
    assert outputs, cell.source
    data = outputs[0]["data"]
    assert "text/plain" in data
    return data["text/html"]


def test_claims_render_with_latex_and_a_counterexample(executed):
    proven = _html(executed[1])
    assert "PROVEN" in proven and "$" in proven  # LaTeX for MathJax
    refuted = _html(executed[2])
    assert "REFUTED" in refuted and "counterexample" in refuted


def test_a_chain_shows_its_steps(executed):
    chain = _html(executed[3])
    assert "step" in chain and "refuted" in chain.lower()


def test_a_failed_layer_shows_table_diagnosis_and_heatmap(executed):
    layer = _html(executed[4])
    assert "FAILED" in layer and "dbiases" in layer and "batch size" in layer
    assert "<svg" in layer
    assert "OK" in _html(executed[5])


def test_a_model_names_its_first_wrong_layer(executed):
    model = _html(executed[6])
    assert "first layer whose own backward is wrong" in model and "layer 1" in model


def test_text_display_is_the_text_report(executed):
    plain = next(o for o in executed[4].outputs if o.output_type == "execute_result")["data"]
    assert plain["text/plain"].startswith("Dense_MeanInsteadOfSum: FAILED")
