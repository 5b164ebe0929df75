"""LayerReport formatting: the numpy.testing-style text pinned exactly, JSON, plot data.

Reports are built by hand here, so the text does not depend on the numeric engine.
"""

import json

import numpy as np
import pytest

from derivcheck.layers import diagnose as dg
from derivcheck.layers import report as lr
from derivcheck.layers.check import check_layer
from derivcheck.layers.report import Failure, LayerReport, TensorCheck


def _dweights_check(**kwargs):
    analytic = np.array([[0.209, 1.0], [2.0, -3.0], [0.5, 0.25]])
    numeric = np.array([[0.418, 1.0], [2.0, -3.0], [1.0, 0.25]])
    mismatch = np.array([[True, False], [False, False], [True, False]])
    return TensorCheck.build(
        "dweights",
        "weights",
        analytic=analytic,
        numeric=numeric,
        error=np.full(analytic.shape, 3e-11),
        mismatch=mismatch,
        tol=np.full(analytic.shape, 1e-9),
        **kwargs,
    )


def _failing_report(**kwargs):
    check = _dweights_check(**kwargs)
    failures = [
        Failure(
            "dweights",
            idx,
            float(check.analytic[idx]),
            float(check.numeric[idx]),
            None,
            3e-11,
            "mismatch",
        )
        for idx in check.worst()
    ]
    ok_check = TensorCheck.build(
        "dinputs",
        "inputs",
        analytic=np.zeros((2, 3)),
        numeric=np.zeros((2, 3)),
        error=np.zeros((2, 3)),
    )
    return LayerReport(
        subject="Layer_Dense",
        failures=failures,
        tensors={"dinputs": ok_check, "dweights": check},
    )


def test_failing_text_is_pinned():
    rep = _failing_report(diagnosis=dg.diag_factor(0.5))
    assert str(rep) == (
        "Layer_Dense: FAILED (float64, seed=0)\n"
        "\n"
        "dweights: not equal to the numeric gradient (tolerance from error estimate, "
        "float64, seed=0)\n"
        "\n"
        "Mismatched elements: 2 / 6 (33.3%)\n"
        "Worst 2 of 2:\n"
        " dweights[2, 0]: 0.5000 (BACKWARD), 1.000 (NUMERIC ±3e-11)\n"
        " dweights[0, 0]: 0.2090 (BACKWARD), 0.4180 (NUMERIC ±3e-11)\n"
        "Max absolute difference among violations: 0.5\n"
        "Max relative difference among violations: 0.5\n"
        "Diagnosis: BACKWARD is exactly NUMERIC / 2 everywhere: a factor of 2 is missing.\n"
        "\n"
        "Passed: dinputs (6 entries).\n"
        "Checked 12 entries (dinputs 6, dweights 6): every entry (mode=full).\n"
        "Compared with the numeric gradient; tolerance from error estimate."
    )
    assert not rep.ok and not bool(rep)
    assert rep.checked == {"dinputs": 6, "dweights": 6}


def test_symbolic_column_only_when_present():
    check = _dweights_check(
        symbolic=np.array([[0.418, 1.0], [2.0, -3.0], [1.0, 0.25]]), reference="both"
    )
    lines = check.mismatch_lines("float64", 7)
    assert lines[0] == (
        "dweights: not equal to the numeric and symbolic gradients "
        "(tolerance from error estimate, float64, seed=7)"
    )
    assert (
        lines[5] == " dweights[0, 0]: 0.2090 (BACKWARD), 0.4180 (NUMERIC ±3e-11), 0.4180 (SYMBOLIC)"
    )
    assert "SYMBOLIC" not in "\n".join(_dweights_check().mismatch_lines("float64", 0))


def test_passing_text_is_pinned_with_kinks_and_notes():
    kink = np.array([False, True, False, True, True])
    check = TensorCheck.build(
        "dinputs", "inputs", analytic=np.ones(5), numeric=np.ones(5), error=np.zeros(5), kink=kink
    )
    rep = LayerReport(
        subject="Activation_ReLU",
        failures=[],
        tensors={"dinputs": check},
        seed=3,
        notes=["Note: something."],
    )
    assert str(rep) == (
        "Activation_ReLU: OK (float64, seed=3)\n"
        "Checked 5 entries (dinputs 5): every entry (mode=full).\n"
        "Compared with the numeric gradient; tolerance from error estimate.\n"
        "Skipped 3 entries at a kink (left and right slopes differ): dinputs[1], dinputs[3], "
        "dinputs[4]\n"
        "Note: something."
    )
    assert rep.n_kinks == 3


def test_checked_line_totals_several_tensors():
    rep = _failing_report()
    rep.failures.clear()
    rep.tensors["dweights"].mismatch[...] = False
    text = str(rep)
    assert "Checked 12 entries (dinputs 6, dweights 6): every entry (mode=full)." in text


def test_problem_messages_come_before_mismatch_blocks():
    rep = _failing_report()
    rep.failures.insert(
        0,
        Failure(
            "dbiases",
            (),
            None,
            None,
            None,
            None,
            "missing",
            lr.msg_missing("dbiases", "biases", (1, 2)),
        ),
    )
    text = str(rep)
    assert text.index("dbiases: missing") < text.index("dweights: not equal")
    assert (
        "dbiases: missing: backward did not set `dbiases` (the gradient of `biases`, shape (1, 2))"
        in text
    )


def test_worst_orders_by_difference_over_tolerance():
    check = _dweights_check()
    check.tol[0, 0] = 1e-12  # the smaller difference, but far more tolerances off
    assert check.worst() == [(0, 0), (2, 0)]
    assert check.worst(1) == [(0, 0)]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (0.209, 0.418, ("0.2090", "0.4180")),
        (1.00001, 1.00002, ("1.00001", "1.00002")),
        (20.485, 20.485, ("20.48", "20.48")),
        (1e-5, 2e-5, ("1.000e-05", "2.000e-05")),
        (0.0, 1.5, ("0", "1.500")),
        (1234.0, 1234.5, ("1234.0", "1234.5")),
    ],
)
def test_number_pairs_get_just_enough_digits(a, b, expected):
    assert lr._fmt_pair(a, b) == expected


def test_to_dict_and_json_are_plain_data():
    rep = _failing_report(diagnosis="Diagnosis: x.")
    data = json.loads(rep.to_json())
    assert data["ok"] is False
    assert data["checked"] == {"dinputs": 6, "dweights": 6}
    assert data["failures"][0] == {
        "tensor": "dweights",
        "index": [2, 0],
        "analytic": 0.5,
        "numeric": 1.0,
        "symbolic": None,
        "error": 3e-11,
        "kind": "mismatch",
        "message": None,
    }
    assert data["tensors"]["dweights"]["mismatched"] == 2
    assert data["tensors"]["dweights"]["diagnosis"] == "Diagnosis: x."
    full = json.loads(rep.to_json(arrays=True))
    assert full["tensors"]["dweights"]["numeric"][0] == [0.418, 1.0]
    assert full["tensors"]["dweights"]["mismatch"][2] == [True, False]


def test_nan_becomes_null_in_json():
    check = TensorCheck.build(
        "dinputs", "inputs", analytic=np.ones(2), numeric=np.array([1.0, np.nan]), error=np.zeros(2)
    )
    rep = LayerReport(subject="L", failures=[], tensors={"dinputs": check})
    assert json.loads(rep.to_json(arrays=True))["tensors"]["dinputs"]["numeric"] == [1.0, None]


def test_heatmap_data_has_every_tensor_array():
    rep = _failing_report()
    data = rep.heatmap_data()
    assert set(data) == {"dinputs", "dweights"}
    assert set(data["dweights"]) >= {"analytic", "numeric", "error", "mismatch"}
    assert data["dweights"]["mismatch"].sum() == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            lr.msg_exception("forward", ValueError("boom\nmore lines")),
            "forward raised ValueError: boom",
        ),
        (lr.msg_exception("backward", KeyError()), "backward raised KeyError"),
        (
            lr.msg_shape("dbiases", "biases", (3,), (1, 3)),
            "dbiases: wrong shape: backward gave shape (3,), but `biases` has shape (1, 3)",
        ),
        (lr.msg_nonfinite("dinputs", 2, 1, 6), "dinputs: not finite: 2 NaN and 1 inf of 6 entries"),
        (
            lr.msg_mutation("backward", "its dvalues argument", 3, 4),
            "backward modified its dvalues argument in place (3 of 4 entries changed)",
        ),
        (
            lr.msg_nonlinear("dinputs", 1.0, False),
            "dinputs: backward is not linear in dvalues: backward(2·G) differs from "
            "2·backward(G) by up to 1",
        ),
        (
            dg.diag_batch_times(32),
            "Diagnosis: BACKWARD is exactly NUMERIC × 32 (the batch size) everywhere: a sum where "
            "a mean is meant, or a missing division by the number of samples.",
        ),
        (
            dg.diag_factor(2.0),
            "Diagnosis: BACKWARD is exactly NUMERIC × 2 everywhere: an extra factor of 2.",
        ),
        (
            dg.diag_factor(1.7),
            "Diagnosis: BACKWARD is NUMERIC × 1.7 everywhere: a constant factor is wrong.",
        ),
        (
            dg.diag_one_entry("dweights", (2, 1)),
            "Diagnosis: only dweights[2, 1] is wrong; every other entry matches.",
        ),
        (lr.rule_text(1e-5, None), "rtol=1e-05, atol=0"),
    ],
)
def test_message_strings(text, expected):
    assert text == expected


def test_jacobian_report_calls_the_hand_written_values_jac():
    import derivcheck as dc

    a = np.random.default_rng(1).normal(size=(3, 4))
    x = np.random.default_rng(2).normal(size=4)
    text = str(dc.check_jacobian(lambda v: a @ v, lambda v: -a, x))
    assert "(JAC), " in text
    assert "BACKWARD" not in text
    assert "Diagnosis: JAC is exactly -NUMERIC everywhere: the sign is flipped." in text


def test_large_counts_have_thousands_separators():
    from derivcheck.examples.book import Layer_Dense

    np.random.seed(0)
    rep = check_layer(Layer_Dense(60, 40), np.random.default_rng(0).normal(size=(20, 60)),
                      mode="full")
    assert rep.ok, str(rep)
    assert "Checked 3,640 entries (dinputs 1,200, dweights 2,400, dbiases 40)" in str(rep)


@pytest.mark.parametrize("compared", [1, 3])
def test_a_constant_factor_needs_two_entries_compared_unless_one_is_all(compared):
    """A directional check compares a sample: one wrong entry fits any ratio, so no factor
    is diagnosed from it; three entries that share a factor are."""
    from derivcheck.layers.diagnose import diagnose

    numeric = np.linspace(1.0, 2.0, 20).reshape(4, 5)
    analytic = 2.0 * numeric
    checked = np.zeros((4, 5), dtype=bool)
    checked.reshape(-1)[:compared] = True
    check = TensorCheck.build(
        "dweights", "weights", analytic=analytic, numeric=np.where(checked, numeric, np.nan),
        error=np.where(checked, 1e-10, np.nan), checked=checked, mismatch=checked.copy(),
        tol=np.where(checked, 1e-8, np.nan),
    )
    found = diagnose(check, batch=4, inputs=None)
    if compared == 1:
        assert found is None
    else:
        assert found == (
            "Diagnosis: BACKWARD is exactly NUMERIC × 2 at all 3 entries compared: an extra "
            "factor of 2."
        )
    scalar = TensorCheck.build(
        "dslope", "slope", analytic=np.array(3.0), numeric=np.array(1.5), error=np.array(1e-10),
        mismatch=np.array(True), tol=np.array(1e-8),
    )
    assert diagnose(scalar, batch=4, inputs=None) == (
        "Diagnosis: BACKWARD is exactly NUMERIC × 2 everywhere: an extra factor of 2."
    )
