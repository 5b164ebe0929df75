"""Heatmaps of failed layer checks."""

import sys

import numpy as np
import pytest

from derivcheck.cli import main as cli
from derivcheck.errors import InputError
from derivcheck.examples import broken
from derivcheck.layers.check import check_layer
from derivcheck.layers.plot import INSTALL_HINT, plot_report, relative_error_map


def test_relative_error_map_values_and_shapes():
    analytic = np.array([[1.0, 2.0, 0.0], [3.0, -1.0, 5.0]])
    numeric = np.array([[1.0, 4.0, 0.0], [3.0, 1.0, np.nan]])
    rel = relative_error_map(analytic, numeric)
    assert rel[0, 0] == 0.0 and rel[0, 2] == 0.0  # exact agreement, including at zero
    assert rel[0, 1] == pytest.approx(0.5)
    assert rel[1, 1] == pytest.approx(2.0)  # a sign flip
    assert np.isnan(rel[1, 2])  # not estimated
    assert relative_error_map(np.ones(4), np.ones(4)).shape == (1, 4)
    assert relative_error_map(np.ones((2, 3, 4)), np.ones((2, 3, 4))).shape == (2, 12)
    assert np.isnan(relative_error_map(None, np.ones((2, 2)))).all()
    assert np.isnan(relative_error_map(np.ones((3, 2)), np.ones((2, 3)))).all()


def _transposed_report():
    x = np.random.default_rng(3).normal(size=(6, 4))
    report = check_layer(broken.Dense_TransposedWeightsReshaped(4, 4), x)
    assert not report.ok
    return report


def test_plot_report_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = plot_report(_transposed_report(), tmp_path / "t.png")
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 5_000


def test_transposed_gradient_is_visible_in_the_map():
    # the diagonal of a transposed square gradient is right, the rest wrong
    t = _transposed_report().heatmap_data()["dweights"]
    rel = relative_error_map(t["analytic"], t["numeric"])
    off_diagonal = ~np.eye(4, dtype=bool)
    assert np.all(np.diag(rel) < 1e-8)
    assert np.median(rel[off_diagonal]) > 1e-2


def test_missing_matplotlib_gives_an_install_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(InputError) as info:
        plot_report(_transposed_report(), tmp_path / "t.png")
    assert str(info.value) == INSTALL_HINT
    assert 'pip install "derivcheck[plot]"' in INSTALL_HINT


def test_unwritable_path(tmp_path):
    pytest.importorskip("matplotlib")
    with pytest.raises(InputError, match="cannot write plot"):
        plot_report(_transposed_report(), tmp_path / "no" / "such" / "dir" / "t.png")


def test_cli_plot_option(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    target = tmp_path / "mean.png"
    argv = ["layer", "derivcheck.examples.broken:Dense_MeanInsteadOfSum", "--args", "3,2"]
    assert cli.main([*argv, "--plot", str(target)]) == 1
    assert target.read_bytes().startswith(b"\x89PNG")
    assert f"plot written to {target}" in capsys.readouterr().out


def test_tolerance_mark_lies_between_right_and_wrong_entries():
    from derivcheck.examples.broken import Dense_MeanInsteadOfSum
    from derivcheck.layers.plot import relative_error_map, relative_tolerance

    np.random.seed(0)
    rep = check_layer(Dense_MeanInsteadOfSum(5, 4), np.random.randn(6, 5))
    data = rep.heatmap_data()
    for d in data.values():
        mark = relative_tolerance(d["analytic"], d["numeric"], d["tol"])
        assert mark is not None and 0 < mark < 1e-3
        rel = relative_error_map(d["analytic"], d["numeric"])
        wrong = np.asarray(d["mismatch"]).reshape(rel.shape)
        if wrong.any():
            assert rel[wrong].min() > mark  # every wrong entry is above the line
        else:
            assert np.median(rel) < mark  # the right ones mostly below it
    assert relative_tolerance(None, np.zeros(3), np.zeros(3)) is None


def test_step_curve_of_a_bug_has_a_floor_and_of_a_right_entry_a_valley():
    from derivcheck.examples.book import Layer_Dense
    from derivcheck.examples.broken import Dense_MeanInsteadOfSum
    from derivcheck.layers.stepcurve import MULTIPLIERS, step_curve, verdict_text

    np.random.seed(0)
    x = np.random.randn(6, 5)
    rep = check_layer(Dense_MeanInsteadOfSum(5, 4), x)
    curve = rep.step_curve
    assert curve is not None and curve["tensor"] == "dbiases"
    assert len(curve["steps"]) == len(MULTIPLIERS)
    gaps = np.abs(np.array(curve["estimates"]) - curve["backward"])
    assert gaps.min() > 100 * curve["tol"]  # no step agrees: a bug
    assert verdict_text(curve) == "no step's estimate is within the tolerance of BACKWARD"
    assert rep.to_dict()["step_curve"]["index"] == curve["index"]

    # the same entry of the right layer: the probe is linear in the bias, whose exact
    # derivative is the column sum of G; the estimates agree with it around the chosen step
    np.random.seed(0)
    good = Layer_Dense(5, 4)
    G = np.random.default_rng(1).normal(size=(6, 4))

    def probe():
        good.forward(x, True)
        return float(np.vdot(good.output, G))

    before = good.biases.copy()
    steps, estimates, chosen = step_curve(probe, good.biases, (0, 2), 2.0**-52)
    assert np.array_equal(good.biases, before)  # put back bit for bit
    exact = G[:, 2].sum()
    errors = np.abs(np.array(estimates) - exact)
    at_chosen = errors[MULTIPLIERS.index(1.0)]
    assert steps[MULTIPLIERS.index(1.0)] == pytest.approx(chosen, rel=1e-6)
    assert at_chosen < 1e-9  # the valley: the check's own step agrees
    assert errors[0] > 10 * at_chosen  # rounding grows as the step shrinks


def test_a_passing_check_has_no_step_curve():
    from derivcheck.examples.book import Layer_Dense

    np.random.seed(0)
    rep = check_layer(Layer_Dense(3, 2), np.random.randn(4, 3))
    assert rep.ok and rep.step_curve is None
