"""check_function and check_value_and_grad on CS231n-style code, used without glue.

The expected verdicts (each example right, each broken variant wrong in the
named gradients) are established independently in test_oracle_torch.py.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import derivcheck as dc
from derivcheck.examples import cs231n as c
from derivcheck.examples import cs231n_broken as cb
from tests.layers.cs231n_cases import BROKEN_AT, cases

CASES = cases()

#: the gradients each broken variant gets wrong (checked against torch in test_oracle_torch)
WRONG = {
    "affine_transposed_dw": {"dw"},
    "affine_mean_db": {"db"},
    "relu_no_dout": {"dx"},
    "batchnorm_no_mean_term": {"dx"},
    "layernorm_batch_axis": {"dx"},
    "dropout_unscaled": {"dx"},
    "conv_stride_one": {"dx", "dw"},
    "max_pool_spread": {"dx"},
    "rnn_prev_h": {"dx", "dprev_h", "dWx", "dWh", "db"},
    "lstm_no_h_path": {"dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"},
    "word_embedding_fancy": {"dW"},
}


def _snapshot(args):
    return copy.deepcopy(args)


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_example_passes_and_args_are_left_as_found(name):
    forward, backward, args = CASES[name]
    before = _snapshot(args)
    rep = dc.check_function(forward, backward, *args)
    assert rep.ok, str(rep)
    assert bool(rep) is True
    assert _same(args, before)  # bn_param's running mean included: no key added
    assert all(key.startswith("d") for key in rep.checked)
    assert all(n > 0 for n in rep.checked.values())


@pytest.mark.parametrize("name", ["affine", "batchnorm", "layernorm", "relu", "max_pool", "rnn"])
def test_symbolic_reference_agrees_on_examples(name):
    forward, backward, args = CASES[name]
    rep = dc.check_function(forward, backward, *args, reference="both")
    assert rep.ok, str(rep)
    assert rep.reference == "both"
    assert all(t.symbolic is not None for t in rep.tensors.values())


def test_gradients_named_by_the_signature():
    forward, backward, args = CASES["lstm"]
    rep = dc.check_function(forward, backward, *args)
    assert list(rep.checked) == ["dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"]
    assert rep.subject == "lstm_step_forward/lstm_step_backward"


@pytest.mark.parametrize("bug", sorted(BROKEN_AT))
def test_every_broken_variant_fails_in_the_gradients_it_breaks(bug):
    forward, backward, _ = cb.BROKEN[bug]
    args = CASES[BROKEN_AT[bug]][2]
    rep = dc.check_function(forward, backward, *args)
    assert not rep.ok
    wrong = {f.tensor for f in rep.failures}
    assert wrong == WRONG[bug], str(rep)


@pytest.mark.parametrize(
    ("bug", "words"),
    [
        ("affine_transposed_dw", "transpose"),
        ("affine_mean_db", "batch size"),
        ("batchnorm_no_mean_term", "same for every sample"),
        ("dropout_unscaled", "0.6"),
        ("max_pool_spread", "numeric gradient is 0"),
        ("word_embedding_fancy", "np.add.at"),
    ],
)
def test_planted_bugs_get_their_diagnosis(bug, words):
    forward, backward, _ = cb.BROKEN[bug]
    rep = dc.check_function(forward, backward, *CASES[BROKEN_AT[bug]][2])
    assert words in str(rep)


def test_no_diagnosis_sentence_on_a_bug_it_does_not_fit():
    # layernorm over the wrong axis: no verified pattern, so no cause is named
    forward, backward, _ = cb.BROKEN["layernorm_batch_axis"]
    rep = dc.check_function(forward, backward, *CASES["layernorm"][2])
    assert "Diagnosis" not in str(rep)


def test_wrt_by_name_position_and_subset():
    forward, backward, args = CASES["affine"]
    assert list(dc.check_function(forward, backward, *args, wrt="w").checked) == ["dw"]
    assert list(dc.check_function(forward, backward, *args, wrt=[2, 0]).checked) == ["db", "dx"]
    # a broken dx is not judged when only dw is asked for
    f, b, _ = cb.BROKEN["affine_mean_db"]
    assert dc.check_function(f, b, *args, wrt=["x", "w"]).ok
    assert not dc.check_function(f, b, *args, wrt=["b"]).ok


def test_arguments_that_are_not_arrays_pass_through():
    # conv_param and pool_param dicts, the integer ids, a mask
    x = np.random.default_rng(0).normal(size=(2, 3, 5))
    y = np.array([[0, 1, 2], [2, 2, 1]])
    mask = np.array([[True, True, False], [True, False, True]])

    def temporal_loss(x, y, mask):
        N, T, V = x.shape
        flat = x.reshape(N * T, V)
        shifted = flat - flat.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        m = mask.ravel()
        loss = -np.sum(m * logp[np.arange(N * T), y.ravel()]) / N
        d = np.exp(logp)
        d[np.arange(N * T), y.ravel()] -= 1
        d *= m[:, None] / N
        return loss, d.reshape(N, T, V)

    rep = dc.check_value_and_grad(temporal_loss, x, y, mask)
    assert rep.ok and list(rep.checked) == ["dx"]


@pytest.mark.parametrize("fun", [c.softmax_loss, c.svm_loss])
def test_losses_returning_value_and_grad(fun):
    x = np.random.default_rng(1).normal(size=(6, 4))
    y = np.array([0, 3, 1, 1, 2, 0])
    assert dc.check_value_and_grad(fun, x, y).ok
    assert dc.check_value_and_grad(fun, x, y, reference="both").ok


def test_broken_losses_fail_with_their_diagnosis():
    x = np.random.default_rng(1).normal(size=(6, 4))
    y = np.array([0, 3, 1, 1, 2, 0])
    rep = dc.check_value_and_grad(cb.softmax_loss_no_mean, x, y)
    assert not rep.ok and "the batch size" in str(rep)
    rep = dc.check_value_and_grad(cb.svm_loss_no_correct, x, y)
    assert not rep.ok and "true class" in str(rep)


def test_model_with_params_dict_restored_bit_for_bit():
    model = c.TwoLayerNet(input_dim=4, hidden_dim=5, num_classes=3, reg=0.1)
    X = np.random.default_rng(2).normal(size=(5, 4))
    y = np.array([0, 1, 2, 1, 0])
    params = model.params
    before = {k: v.copy() for k, v in params.items()}
    ids = {k: id(v) for k, v in params.items()}
    for reference in ("numeric", "both"):
        rep = dc.check_value_and_grad(model.loss, X, y, params=model.params, reference=reference)
        assert rep.ok, str(rep)
    assert model.params is params and {k: id(v) for k, v in params.items()} == ids
    assert all(before[k].tobytes() == params[k].tobytes() for k in params)


def test_model_missing_regularisation_gradient_is_named():
    model = cb.TwoLayerNet_NoRegGrad(input_dim=4, hidden_dim=5, num_classes=3, reg=0.1)
    X = np.random.default_rng(2).normal(size=(5, 4))
    rep = dc.check_value_and_grad(model.loss, X, np.array([0, 1, 2, 1, 0]), params=model.params)
    assert {f.tensor for f in rep.failures} == {"dW1", "dW2"}
    assert "L2 regularisation" in str(rep)


# --- bad input: a failed report naming what came back, or an InputError -------------------


def test_forward_returning_something_else_is_a_failed_report():
    x = np.ones((2, 3))
    rep = dc.check_function(lambda x: ("not an array", None), lambda d, cache: d, x)
    assert not rep.ok
    assert "returned a str as output 1; an array was expected" in str(rep)


def test_backward_returning_the_wrong_number_is_a_failed_report():
    forward, _, args = CASES["affine"]

    def two(dout, cache):
        dx, dw, _ = c.affine_backward(dout, cache)
        return dx, dw

    rep = dc.check_function(forward, two, *args)
    assert not rep.ok
    assert "returned 2 gradient(s); expected 3 (dx, dw, db)" in str(rep)


def test_forward_returning_too_many_items_is_a_failed_report():
    rep = dc.check_function(lambda x: (x, x, x), lambda dout, cache: dout, np.ones((2, 2)))
    assert not rep.ok and "2 items were expected" in str(rep)


def test_value_and_grad_returning_only_a_value():
    rep = dc.check_value_and_grad(lambda x: float(np.sum(x**2)), np.ones(3))
    assert not rep.ok and "expected (value, grad)" in str(rep)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"wrt": "q"}, "no argument 'q'"),
        ({"wrt": 7}, "out of range"),
        ({"wrt": ["x", "x"]}, "twice"),
        ({"mode": "fast"}, "`mode`"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments_raise_input_error(kwargs, words):
    forward, backward, args = CASES["affine"]
    with pytest.raises(dc.InputError, match=words):
        dc.check_function(forward, backward, *args, **kwargs)


def test_integer_argument_cannot_be_differentiated():
    forward, backward, args = CASES["word_embedding"]
    with pytest.raises(dc.InputError, match="only non-empty floating-point"):
        dc.check_function(forward, backward, *args, wrt="x")
    with pytest.raises(dc.InputError, match="must be callable"):
        dc.check_function(forward, "backward", *args)
    with pytest.raises(dc.InputError, match="params"):
        dc.check_value_and_grad(c.softmax_loss, np.ones((2, 2)), np.array([0, 1]), params=[1])
