"""Tests for derivcheck.examples: the book's numbers, a central-difference oracle, and the bugs.

The oracle here is a plain numpy loop (derivcheck's own checker is tested
elsewhere): central differences of each example's *own forward*, against its
backward, on small inputs from ``make_case``.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from derivcheck.errors import InputError
from derivcheck.examples import (
    BROKEN,
    CORRECT,
    KINK_CONVENTION,
    Case,
    book,
    broken,
    chapters,
    kind_of,
    kinks,
    make_case,
    twin_of,
)
from derivcheck.examples.book import regularization_penalty
from derivcheck.examples.cases import REGULARIZER_STRENGTH
from derivcheck.examples.network import book_network, spiral_data

DROPOUT_SEED = 1234
STEP = 1e-6
ORACLE_RTOL, ORACLE_ATOL = 1e-6, 1e-7

# the book's chapter 9 numbers (book/vectors.md)
W_BOOK = np.array([[0.2, 0.5, -0.26], [0.8, -0.91, -0.27], [-0.5, 0.26, 0.17], [1, -0.5, 0.87]])
X_BOOK = np.array([[1, 2, 3, 2.5], [2, 5, -1, 2], [-1.5, 2.7, 3.3, -0.8]])
SOFTMAX_OUT = np.array([[0.7, 0.1, 0.2], [0.1, 0.5, 0.4], [0.02, 0.9, 0.08]])
TARGETS = np.array([0, 1, 1])
SOFTMAX_CCE_GRAD = np.array(
    [
        [-0.1, 0.0333333, 0.0666667],
        [0.0333333, -0.1666667, 0.1333333],
        [0.0066667, -0.0333333, 0.0266667],
    ]
)

DENSE_CLASSES: list[type[Any]] = [book.Layer_Dense, chapters.Layer_Dense]
RELU_CLASSES: list[type[Any]] = [book.Activation_ReLU, chapters.Activation_ReLU]
SOFTMAX_CLASSES: list[type[Any]] = [book.Activation_Softmax, chapters.Activation_Softmax]
SOFTMAX_CCE_CLASSES: list[type[Any]] = [
    book.Activation_Softmax_Loss_CategoricalCrossentropy,
    chapters.Activation_Softmax_Loss_CategoricalCrossentropy,
]
CCE_CLASSES: list[type[Any]] = [
    book.Loss_CategoricalCrossentropy,
    chapters.Loss_CategoricalCrossentropy,
]


def global_state() -> np.ndarray:
    return np.asarray(np.random.get_state(legacy=False)["state"]["key"])


def forward(layer: Any, inputs: np.ndarray) -> None:
    """Call forward with ``training=True`` where the signature has it (final chapters)."""
    if "training" in inspect.signature(layer.forward).parameters:
        layer.forward(inputs, training=True)
    else:
        layer.forward(inputs)


def dense(cls: type[Any], weights: np.ndarray, biases: np.ndarray | None = None) -> Any:
    layer = cls(*weights.shape)
    layer.weights = weights.astype(float).copy()
    layer.biases = np.zeros((1, weights.shape[1])) if biases is None else biases.astype(float)
    return layer


# --- the book's numbers, chapter 9 ------------------------------------------------------


@pytest.mark.parametrize("cls", DENSE_CLASSES)
def test_single_neuron(cls: type[Any]) -> None:
    neuron = dense(cls, np.array([[-3.0], [-1.0], [2.0]]), np.array([[1.0]]))
    relu = RELU_CLASSES[DENSE_CLASSES.index(cls)]()
    x = np.array([[1.0, -2.0, 3.0]])
    forward(neuron, x)
    forward(relu, neuron.output)
    assert_array_equal(relu.output, [[6.0]])
    relu.backward(np.ones((1, 1)))
    assert_array_equal(relu.dinputs, [[1.0]])
    neuron.backward(relu.dinputs)
    assert_array_equal(neuron.dinputs, [[-3.0, -1.0, 2.0]])
    assert_array_equal(neuron.dweights, [[1.0], [-2.0], [3.0]])
    assert_array_equal(neuron.dbiases, [[1.0]])
    neuron.weights += -0.001 * neuron.dweights
    neuron.biases += -0.001 * neuron.dbiases
    assert_allclose(neuron.weights.ravel(), [-3.001, -0.998, 1.997], rtol=1e-12, atol=1e-12)
    assert_allclose(neuron.biases, [[0.999]], rtol=1e-12, atol=1e-12)
    forward(neuron, x)
    forward(relu, neuron.output)
    assert_allclose(relu.output, [[5.985]], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", DENSE_CLASSES)
def test_three_neuron_layer(cls: type[Any]) -> None:
    layer = dense(cls, W_BOOK)
    forward(layer, X_BOOK)
    layer.backward(np.ones((1, 3)) * np.array([[1.0], [2.0], [3.0]]))
    row = np.array([0.44, -0.38, -0.07, 1.37])
    assert_allclose(layer.dinputs, [row, 2 * row, 3 * row], rtol=1e-12, atol=1e-12)
    assert_allclose(
        layer.dweights, [[0.5] * 3, [20.1] * 3, [10.9] * 3, [4.1] * 3], rtol=1e-12, atol=1e-12
    )
    assert_allclose(layer.dbiases, [[6.0, 6.0, 6.0]], rtol=1e-12, atol=1e-12)
    forward(layer, X_BOOK[:1])
    layer.backward(np.ones((1, 3)))
    assert_allclose(layer.dinputs, [row], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", RELU_CLASSES)
def test_relu_backward(cls: type[Any]) -> None:
    relu = cls()
    forward(relu, np.array([[1.0, 2, -3, -4], [2, -7, -1, 3], [-1, 2, 5, -1]]))
    relu.backward(np.arange(1.0, 13.0).reshape(3, 4))
    assert_array_equal(relu.dinputs, [[1, 2, 0, 0], [5, 0, 0, 8], [0, 10, 11, 0]])


@pytest.mark.parametrize("index", [0, 1])
def test_full_layer_and_relu_example(index: int) -> None:
    layer = dense(DENSE_CLASSES[index], W_BOOK, np.array([[2.0, 3.0, 0.5]]))
    relu = RELU_CLASSES[index]()
    forward(layer, X_BOOK)
    forward(relu, layer.output)
    assert_allclose(
        layer.output,
        [[4.8, 1.21, 2.385], [8.9, -1.81, 0.2], [1.41, 1.051, 0.026]],
        rtol=1e-12,
        atol=1e-12,
    )
    relu.backward(relu.output)  # the book takes the ReLU output as the upstream gradient
    layer.backward(relu.dinputs)
    assert_allclose(
        layer.dweights,
        [
            [20.485, -0.3665, 2.746],
            [57.907, 5.2577, 5.8402],
            [10.153, 7.0983, 7.0408],
            [28.672, 2.1842, 6.3417],
        ],
        rtol=1e-12,
        atol=1e-12,
    )
    assert_allclose(layer.dbiases, [[15.11, 2.261, 2.611]], rtol=1e-12, atol=1e-12)
    assert_allclose(
        layer.dinputs,
        [
            [0.9449, 2.09495, -1.67995, 6.26995],
            [1.728, 7.066, -4.416, 9.074],
            [0.80074, 0.16457, -0.42732, 0.90712],
        ],
        rtol=1e-12,
        atol=1e-12,
    )
    layer.weights += -0.001 * layer.dweights
    layer.biases += -0.001 * layer.dbiases
    assert_allclose(
        layer.weights,
        [
            [0.179515, 0.5003665, -0.262746],
            [0.742093, -0.9152577, -0.2758402],
            [-0.510153, 0.2529017, 0.1629592],
            [0.971328, -0.5021842, 0.8636583],
        ],
        rtol=1e-12,
        atol=1e-12,
    )
    assert_allclose(layer.biases, [[1.98489, 2.997739, 0.497389]], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", SOFTMAX_CLASSES)
def test_softmax_jacobian(cls: type[Any]) -> None:
    softmax = cls()
    softmax.output = np.tile([0.7, 0.1, 0.2], (3, 1))
    softmax.backward(np.eye(3))  # row i of dinputs = J @ e_i, column i of the symmetric J
    expected = [[0.21, -0.07, -0.14], [-0.07, 0.09, -0.02], [-0.14, -0.02, 0.16]]
    assert_allclose(softmax.dinputs, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("index", [0, 1])
def test_softmax_cce_backward_and_separate_path(index: int) -> None:
    combined = SOFTMAX_CCE_CLASSES[index]()
    combined.backward(SOFTMAX_OUT, TARGETS)
    assert_allclose(combined.dinputs, SOFTMAX_CCE_GRAD, rtol=0, atol=5e-8)

    loss, softmax = CCE_CLASSES[index](), SOFTMAX_CLASSES[index]()
    softmax.output = SOFTMAX_OUT
    loss.backward(SOFTMAX_OUT, TARGETS)
    softmax.backward(loss.dinputs)
    assert_allclose(softmax.dinputs, combined.dinputs, rtol=0, atol=1e-15)

    one_hot = np.eye(3)[TARGETS]
    combined.backward(SOFTMAX_OUT, one_hot)
    assert_allclose(combined.dinputs, softmax.dinputs, rtol=0, atol=1e-15)
    loss.backward(SOFTMAX_OUT, one_hot)
    softmax.backward(loss.dinputs)
    assert_allclose(softmax.dinputs, combined.dinputs, rtol=0, atol=1e-15)


@pytest.mark.parametrize("index", [0, 1])
def test_softmax_cce_forward_is_mean_loss_of_softmax(index: int) -> None:
    combined = SOFTMAX_CCE_CLASSES[index]()
    logits = np.log(SOFTMAX_OUT) + 3.0  # softmax of log p + c is p
    loss = combined.forward(logits, TARGETS)
    assert_allclose(combined.output, SOFTMAX_OUT, rtol=1e-12, atol=1e-12)
    expected = -np.mean(np.log(SOFTMAX_OUT[range(3), TARGETS]))
    assert_allclose(loss, expected, rtol=1e-12, atol=1e-12)
    assert_allclose(combined.forward(logits, np.eye(3)[TARGETS]), expected, rtol=1e-12, atol=1e-12)


def test_cce_clips_predictions() -> None:
    losses = book.Loss_CategoricalCrossentropy().forward(np.array([[0.0, 1.0]]), np.array([0]))
    assert_allclose(losses, [-np.log(1e-7)], rtol=1e-12, atol=1e-12)


def test_regularization_conventions() -> None:
    layer = book.Layer_Dense(2, 2, 0.5, 0.25, 0.125, 0.0625)
    layer.weights = np.array([[1.5, -2.0], [0.0, 3.0]])
    layer.biases = np.array([[0.0, -1.0]])
    for batch in (1, 5):  # the penalty gradient does not depend on the batch size
        forward(layer, np.ones((batch, 2)))
        layer.backward(np.zeros((batch, 2)))
        sign_w = np.array([[1.0, -1.0], [1.0, 1.0]])  # +1 at w == 0
        assert_allclose(
            layer.dweights, 0.5 * sign_w + 2 * 0.25 * layer.weights, rtol=1e-12, atol=1e-12
        )
        assert_allclose(
            layer.dbiases,
            0.125 * np.array([[1.0, -1.0]]) + 2 * 0.0625 * layer.biases,
            rtol=1e-12,
            atol=1e-12,
        )
    assert_allclose(regularization_penalty(layer), 0.5 * 6.5 + 0.25 * 15.25 + 0.125 + 0.0625)
    loss = book.Loss_MeanSquaredError()
    assert loss.regularization_loss(layer) == regularization_penalty(layer)
    loss.remember_trainable_layers([layer, layer])
    assert_allclose(
        loss.regularization_loss(), 2 * regularization_penalty(layer), rtol=1e-12, atol=1e-12
    )
    data, reg = loss.calculate(np.ones((2, 1)), np.zeros((2, 1)), include_regularization=True)
    assert (data, reg) == (1.0, loss.regularization_loss())


def test_mae_backward_is_corrected() -> None:
    mae = book.Loss_MeanAbsoluteError()
    mae.backward(np.array([[2.0, -1.0]]), np.array([[0.0, 0.0]]))
    assert_array_equal(mae.dinputs, [[0.5, -0.5]])  # d/dŷ |ŷ - y| = sign(ŷ - y)


def test_dropout_conventions() -> None:
    drop = book.Layer_Dropout(0.25)
    assert drop.rate == 0.75
    x = np.ones((200, 50))
    drop.forward(x, training=False)
    assert_array_equal(drop.output, x)
    assert drop.output is not x
    np.random.seed(0)
    drop.forward(x, training=True)
    assert set(np.unique(drop.output)) <= {0.0, 1 / 0.75}
    assert 0.2 < np.mean(drop.output == 0) < 0.3
    np.random.seed(0)
    expected_mask = np.random.binomial(1, 0.75, size=x.shape) / 0.75
    assert_array_equal(drop.binary_mask, expected_mask)
    drop.backward(2 * x)
    assert_array_equal(drop.dinputs, 2 * expected_mask)


def test_input_layer_and_predictions() -> None:
    layer = book.Layer_Input()
    x = np.ones((2, 2))
    layer.forward(x, training=True)
    assert layer.output is x
    out = np.array([[0.2, 0.8], [0.9, 0.1]])
    assert_array_equal(book.Activation_Softmax().predictions(out), [1, 0])
    assert_array_equal(book.Activation_Sigmoid().predictions(out), [[0, 1], [1, 0]])
    assert book.Activation_Linear().predictions(out) is out


def test_layer_init_uses_global_random_state() -> None:
    np.random.seed(3)
    layer = book.Layer_Dense(4, 2)
    np.random.seed(3)
    assert_array_equal(layer.weights, 0.01 * np.random.randn(4, 2))
    assert_array_equal(layer.biases, np.zeros((1, 2)))
    np.random.seed(3)
    assert_array_equal(chapters.Layer_Dense(4, 2).weights, layer.weights)


# --- central-difference oracle --------------------------------------------------------


def probe_and_targets(case: Case, G: np.ndarray) -> tuple[Callable[[], float], dict]:
    """The scalar whose gradient backward computes, and the arrays it depends on."""
    layer = case.layer

    def scalar() -> float:
        np.random.seed(DROPOUT_SEED)  # freeze dropout's mask
        if case.kind == "loss":
            return float(np.mean(layer.forward(case.inputs, case.y_true)))
        if case.kind == "softmax_loss":
            return float(layer.forward(case.inputs, case.y_true))
        layer.forward(case.inputs, **case.forward_kwargs)
        value = float(np.sum(layer.output * G))
        if case.regularized:
            value += regularization_penalty(layer)
        return value

    targets = {"dinputs": case.inputs}
    if case.kind == "dense":
        targets.update(dweights=layer.weights, dbiases=layer.biases)
    return scalar, targets


def analytic_and_numeric(case: Case, seed: int = 7) -> tuple[dict, dict, np.ndarray]:
    """Run backward at the point and central differences of the forward, entry by entry."""
    layer = case.layer
    G = np.zeros(0)  # losses: the scalar is the mean loss, no upstream gradient
    if case.kind not in ("loss", "softmax_loss"):
        layer.forward(case.inputs, **case.forward_kwargs)
        G = np.random.default_rng(seed).standard_normal(layer.output.shape)
    scalar, targets = probe_and_targets(case, G)
    numeric = {}
    for name, array in targets.items():
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            original = array[index]
            array[index] = original + STEP
            plus = scalar()
            array[index] = original - STEP
            minus = scalar()
            array[index] = original
            grad[index] = (plus - minus) / (2 * STEP)
        numeric[name] = grad
    scalar()  # re-run forward at the unperturbed point before backward
    dvalues = G.copy()
    if case.kind in ("loss", "softmax_loss"):
        dvalues = case.inputs if case.kind == "loss" else layer.output
        layer.backward(dvalues, case.y_true)
    else:
        layer.backward(dvalues)
    analytic = {name: getattr(layer, name, None) for name in targets}
    return analytic, numeric, G


def mismatched(analytic: dict, numeric: dict) -> dict[str, str]:
    """tensor name -> "missing" / "shape" / "value" for every gradient that is wrong."""
    wrong = {}
    for name, expected in numeric.items():
        got = analytic[name]
        if got is None:
            wrong[name] = "missing"
        elif np.shape(got) != expected.shape:
            wrong[name] = "shape"
        elif not np.allclose(got, expected, rtol=ORACLE_RTOL, atol=ORACLE_ATOL):
            wrong[name] = "value"
    return wrong


@pytest.mark.parametrize(
    ("name", "regularized"),
    [(name, None) for name in sorted(CORRECT)] + [("Layer_Dense", True)],
)
def test_correct_examples_match_central_differences(name: str, regularized: bool | None) -> None:
    case = make_case(name, batch=2, n_inputs=3, regularized=regularized)
    assert case.regularized is bool(regularized)
    analytic, numeric, _ = analytic_and_numeric(case)
    assert mismatched(analytic, numeric) == {}
    expected = {"dinputs", "dweights", "dbiases"} if case.kind == "dense" else {"dinputs"}
    assert set(analytic) == expected


@pytest.mark.parametrize("name", sorted(KINK_CONVENTION))
def test_kink_conventions_match_away_from_the_kink_and_differ_at_it(name: str) -> None:
    case = make_case(name, batch=2, n_inputs=3)
    analytic, numeric, _ = analytic_and_numeric(case)
    assert mismatched(analytic, numeric) == {}
    relu, twin = KINK_CONVENTION[name](), twin_of(KINK_CONVENTION[name])()
    for each in (relu, twin):
        each.forward(np.array([[-1.0, 0.0, 1.0]]), training=True)
        each.backward(np.array([[3.0, 3.0, 3.0]]))
    assert_array_equal(relu.dinputs, [[0.0, 3.0 * relu.kink_value, 3.0]])
    assert_array_equal(twin.dinputs, [[0.0, 0.0, 3.0]])


@pytest.mark.parametrize(
    "name", ["Activation_ReLU", "chapters.Activation_ReLU", *sorted(KINK_CONVENTION)]
)
def test_relu_family_at_the_kink(name: str) -> None:
    case = make_case(name, batch=3, n_inputs=3, at_kink=True)
    zero = case.inputs == 0
    assert zero.sum() == 3 and case.at_kink
    analytic, numeric, G = analytic_and_numeric(case)
    off = ~zero
    assert_allclose(analytic["dinputs"][off], numeric["dinputs"][off], rtol=1e-6, atol=1e-7)
    # at 0 the one-sided slopes are 0 and 1: a central difference sees their mean
    assert_allclose(numeric["dinputs"][zero], 0.5 * G[zero], rtol=1e-6, atol=1e-7)
    kink_value = getattr(type(case.layer), "kink_value", 0.0)  # the book's ReLU picks 0
    assert_array_equal(analytic["dinputs"][zero], kink_value * G[zero])


def test_mae_at_a_tie() -> None:
    case = make_case("Loss_MeanAbsoluteError", batch=3, n_inputs=3, at_kink=True)
    assert case.y_true is not None
    tie = case.inputs == case.y_true
    assert tie.sum() == 3
    analytic, numeric, _ = analytic_and_numeric(case)
    assert_array_equal(analytic["dinputs"][tie], 0.0)  # sign(0) = 0, the symmetric choice
    assert mismatched(analytic, numeric) == {}


def test_dense_l1_at_zero_weights() -> None:
    case = make_case("Layer_Dense", batch=3, n_inputs=3, regularized=True, at_kink=True)
    layer = case.layer
    analytic, numeric, _ = analytic_and_numeric(case)
    for name, array in (("dweights", layer.weights), ("dbiases", layer.biases)):
        zero = array == 0
        assert zero.any() and (~zero).any()
        assert_allclose(analytic[name][~zero], numeric[name][~zero], rtol=1e-6, atol=1e-7)
        # the book's L1 gradient is +λ₁ at w == 0; the central difference of λ₁|w| is 0
        assert_allclose(analytic[name][zero] - numeric[name][zero], REGULARIZER_STRENGTH, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_examples_fail_exactly_in_the_documented_gradient(name: str) -> None:
    cls = BROKEN[name]
    case = make_case(name, batch=3, n_inputs=3)
    analytic, numeric, _ = analytic_and_numeric(case)
    # mutation bugs have right gradients (wrong_gradients == ()): see the next test
    assert mismatched(analytic, numeric) == dict.fromkeys(cls.wrong_gradients, cls.defect)


@pytest.mark.parametrize("name", sorted(n for n, c in BROKEN.items() if c.defect == "mutation"))
def test_mutation_bugs_change_the_callers_dvalues(name: str) -> None:
    case = make_case(name, batch=3, n_inputs=3)
    forward(case.layer, case.inputs)
    dvalues = np.random.default_rng(0).standard_normal(case.layer.output.shape)
    before = dvalues.copy()
    twin = copy.deepcopy(case.layer)
    twin.__class__ = twin_of(type(case.layer))
    case.layer.backward(dvalues)
    twin.backward(before.copy())
    assert not np.array_equal(dvalues, before)
    assert_array_equal(case.layer.dinputs, twin.dinputs)


# --- each bug is the documented relation to its twin ------------------------------------


def pair(name: str, **kwargs: Any) -> tuple[Any, Any, Case, np.ndarray]:
    """Run a broken class and its correct twin on the same case and the same upstream gradient."""
    case = make_case(name, **kwargs)
    bad = case.layer
    good = copy.deepcopy(bad)
    good.__class__ = twin_of(type(bad))
    G = np.zeros(0)
    for layer in (good, bad):
        np.random.seed(DROPOUT_SEED)
        if case.kind in ("loss", "softmax_loss"):
            if case.kind == "softmax_loss":
                layer.forward(case.inputs, case.y_true)
            dvalues = case.inputs if case.kind == "loss" else layer.output
            layer.backward(dvalues.copy(), case.y_true)
        else:
            layer.forward(case.inputs, **case.forward_kwargs)
            G = np.random.default_rng(5).standard_normal(layer.output.shape)
            layer.backward(G.copy())
    return bad, good, case, G


def test_relation_mae_book_is_negated() -> None:
    bad, good, _, _ = pair("Loss_MeanAbsoluteError_Book")
    assert_array_equal(bad.dinputs, -good.dinputs)
    assert np.all(good.dinputs != 0)


def test_relation_mean_instead_of_sum() -> None:
    bad, good, _, _ = pair("Dense_MeanInsteadOfSum", batch=5)
    assert_allclose(bad.dbiases, good.dbiases / 5, rtol=1e-12, atol=1e-12)
    assert_array_equal(bad.dweights, good.dweights)
    assert_array_equal(bad.dinputs, good.dinputs)


def test_relation_transposed_weights() -> None:
    bad, good, _, _ = pair("Dense_TransposedWeights", n_inputs=3, n_neurons=5)
    assert bad.dweights.shape == (5, 3) != good.dweights.shape
    assert_allclose(bad.dweights, good.dweights.T, rtol=1e-12, atol=1e-12)
    bad, good, _, _ = pair("Dense_TransposedWeights", n_inputs=4, n_neurons=4)
    assert_allclose(bad.dweights, good.dweights.T, rtol=1e-12, atol=1e-12)
    assert not np.allclose(bad.dweights, good.dweights)


def test_relation_transposed_weights_reshaped() -> None:
    bad, good, _, _ = pair("Dense_TransposedWeightsReshaped", n_inputs=3, n_neurons=5)
    assert bad.dweights.shape == good.dweights.shape
    assert_allclose(bad.dweights, good.dweights.T.reshape(3, 5), rtol=1e-12, atol=1e-12)
    bad, good, _, _ = pair("Dense_TransposedWeightsReshaped", n_inputs=4, n_neurons=4)
    assert_allclose(bad.dweights, good.dweights.T, rtol=1e-12, atol=1e-12)


def test_relation_forgot_transpose_in_dinputs() -> None:
    bad, good, _, G = pair("Dense_ForgotTransposeInDinputs", n_inputs=4)
    assert_allclose(bad.dinputs, G @ bad.weights, rtol=1e-12, atol=1e-12)
    assert not np.allclose(bad.dinputs, good.dinputs)
    case = make_case("Dense_ForgotTransposeInDinputs", n_inputs=3, n_neurons=5)
    case.layer.forward(case.inputs, training=True)
    with pytest.raises(ValueError):
        case.layer.backward(np.ones((4, 5)))


def test_relation_forgot_l2_factor() -> None:
    bad, good, _, _ = pair("Dense_ForgotL2Factor")
    l2 = bad.weight_regularizer_l2
    assert l2 > 0
    assert_allclose(bad.dweights, good.dweights - l2 * bad.weights, rtol=1e-12, atol=1e-12)
    assert_array_equal(bad.dbiases, good.dbiases)


def test_relation_l1_no_sign() -> None:
    bad, good, _, _ = pair("Dense_L1NoSign")
    l1 = bad.weight_regularizer_l1
    negative = bad.weights < 0
    assert negative.any() and (~negative).any()
    assert_allclose(bad.dweights, good.dweights + 2 * l1 * negative, rtol=1e-12, atol=1e-12)


def test_relation_l2_divided_by_batch() -> None:
    bad, good, _, _ = pair("Dense_L2DividedByBatch", batch=4)
    l2_term = 2 * bad.weight_regularizer_l2 * bad.weights
    assert_allclose(bad.dweights, good.dweights - l2_term * (1 - 1 / 4), rtol=1e-12, atol=1e-12)


def test_relation_mutates_dvalues() -> None:
    case = make_case("Dense_MutatesDvalues")
    case.layer.forward(case.inputs, training=True)
    dvalues = np.ones_like(case.layer.output)
    case.layer.backward(dvalues)
    assert_array_equal(dvalues, 0)
    assert_array_equal(case.layer.dbiases, [[4.0] * 5])


def test_relation_relu_no_copy() -> None:
    bad, good, case, G = pair("ReLU_NoCopy")
    assert_array_equal(bad.dinputs, good.dinputs)
    dvalues = G.copy()
    bad.backward(dvalues)
    assert bad.dinputs is dvalues
    assert_array_equal(dvalues, G * (case.inputs > 0))


def test_relation_one_row_wrong() -> None:
    bad, good, _, _ = pair("Dense_OneRowWrong", batch=4)
    assert_array_equal(bad.dinputs[0], 0)
    assert np.all(good.dinputs[0] != 0)
    assert_allclose(bad.dinputs[1:], good.dinputs[1:], rtol=1e-12, atol=1e-12)


def test_relation_forgets_bias_grad() -> None:
    bad, good, _, _ = pair("Dense_ForgetsBiasGrad")
    assert not hasattr(bad, "dbiases")
    assert_array_equal(bad.dweights, good.dweights)


def test_relation_bias_grad_wrong_shape() -> None:
    bad, good, _, _ = pair("Dense_BiasGradWrongShape")
    assert bad.dbiases.shape == (5,)
    assert_array_equal(bad.dbiases, good.dbiases[0])


def test_relation_bias_sum_wrong_axis() -> None:
    bad, _, _, G = pair("Dense_BiasSumWrongAxis", batch=4)
    assert_allclose(bad.dbiases, G.sum(axis=1, keepdims=True), rtol=1e-12, atol=1e-12)
    assert bad.dbiases.shape == (4, 1)


def test_relation_one_weight_off() -> None:
    bad, good, _, _ = pair("Dense_OneWeightOffByOnePercent")
    expected = good.dweights.copy()
    expected[-1, -1] *= 1.01
    assert_array_equal(bad.dweights, expected)
    assert good.dweights[-1, -1] != 0


def test_relation_dropout_unscaled() -> None:
    bad, good, _, _ = pair("Dropout_BackwardUnscaled")
    assert_array_equal(bad.binary_mask, good.binary_mask)
    assert_allclose(bad.dinputs, good.dinputs * bad.rate, rtol=1e-12, atol=1e-12)
    assert np.any(good.dinputs != 0)


def test_relation_dropout_new_mask() -> None:
    bad, good, _, G = pair("Dropout_NewMaskInBackward", batch=4, n_inputs=5)
    assert_array_equal(bad.binary_mask, good.binary_mask)
    assert not np.array_equal(bad.dinputs, good.dinputs)
    assert set(np.unique(bad.dinputs / G)) <= {0.0, 1 / bad.rate}


def test_relation_relu_mask_from_dvalues() -> None:
    bad, good, case, G = pair("ReLU_MaskFromDvalues", batch=4)
    assert_array_equal(bad.dinputs, G * (G > 0))
    assert_array_equal(good.dinputs, G * (case.inputs > 0))
    assert not np.array_equal(bad.dinputs, good.dinputs)


def test_relation_relu_forgets_dvalues() -> None:
    bad, good, case, G = pair("ReLU_ForgetsDvalues")
    assert_array_equal(bad.dinputs, (case.inputs > 0) * 1.0)
    assert_allclose(bad.dinputs * G, good.dinputs, rtol=1e-12, atol=1e-12)


def test_relation_sigmoid_missing_output_factor() -> None:
    bad, good, _, _ = pair("Sigmoid_MissingOutputFactor")
    assert_allclose(bad.dinputs * bad.output, good.dinputs, rtol=1e-12, atol=1e-12)


def test_relation_sigmoid_uses_inputs() -> None:
    bad, good, case, G = pair("Sigmoid_UsesInputs")
    x = case.inputs
    assert_allclose(bad.dinputs, G * (1 - x) * x, rtol=1e-12, atol=1e-12)
    assert not np.allclose(bad.dinputs, good.dinputs)


def test_relation_softmax_diagonal_only() -> None:
    bad, good, _, G = pair("Softmax_DiagonalOnly")
    s = bad.output
    assert_allclose(bad.dinputs, s * G, rtol=1e-12, atol=1e-12)
    assert_allclose(
        good.dinputs, s * (G - np.sum(s * G, axis=1, keepdims=True)), rtol=1e-12, atol=1e-12
    )


def test_relation_softmax_no_reshape() -> None:
    bad, good, _, G = pair("Softmax_NoReshape")
    s = bad.output
    expected = s * G - np.sum(s * s, axis=1, keepdims=True) * G.sum(axis=1, keepdims=True)
    assert_allclose(bad.dinputs, expected, rtol=1e-12, atol=1e-12)
    assert not np.allclose(bad.dinputs, good.dinputs)


def test_relation_cce_missing_samples_division() -> None:
    bad, good, _, _ = pair("CCE_MissingSamplesDivision", batch=4)
    assert_allclose(bad.dinputs, good.dinputs * 4, rtol=1e-12, atol=1e-12)


def test_relation_bce_missing_outputs_division() -> None:
    bad, good, _, _ = pair("BCE_MissingOutputsDivision", n_inputs=3)
    assert_allclose(bad.dinputs, good.dinputs * 3, rtol=1e-12, atol=1e-12)


def test_relation_mse_sign_flipped() -> None:
    bad, good, _, _ = pair("MSE_SignFlipped")
    assert_array_equal(bad.dinputs, -good.dinputs)


def test_relation_mse_missing_factor_2() -> None:
    bad, good, _, _ = pair("MSE_MissingFactor2")
    assert_allclose(bad.dinputs, good.dinputs / 2, rtol=1e-12, atol=1e-12)


def test_relation_softmax_cce_no_samples_division() -> None:
    bad, good, _, _ = pair("SoftmaxCCE_NoSamplesDivision", batch=4)
    assert_allclose(bad.dinputs, good.dinputs * 4, rtol=1e-12, atol=1e-12)


def test_relation_softmax_cce_column_indexing() -> None:
    bad, good, case, _ = pair("SoftmaxCCE_ColumnIndexing", batch=4)
    assert case.y_true is not None
    labels = np.zeros(good.output.shape)
    labels[:, np.unique(case.y_true)] = 1
    assert_allclose(bad.dinputs, (good.output - labels) / 4, rtol=1e-12, atol=1e-12)
    assert not np.allclose(bad.dinputs, good.dinputs)


def test_every_broken_class_has_a_relation_test() -> None:
    tested = {
        name.removeprefix("test_relation_")
        for name in globals()
        if name.startswith("test_relation_")
    }
    assert len(tested) == len(BROKEN)


# --- registries -------------------------------------------------------------------------


def classes_defined_in(module: Any) -> dict[str, type[Any]]:
    return {
        name: obj
        for name, obj in vars(module).items()
        if inspect.isclass(obj) and obj.__module__ == module.__name__
    }


def test_registries_are_complete() -> None:
    assert classes_defined_in(broken) == BROKEN
    assert classes_defined_in(kinks) == KINK_CONVENTION
    assert sorted(broken.__all__) == broken.__all__ == sorted(BROKEN)
    book_classes = classes_defined_in(book)
    assert {name for name in CORRECT if "." not in name} == set(book_classes) - {
        "Layer_Input",
        "Loss",
    }
    chapter_classes = classes_defined_in(chapters)
    assert {name.removeprefix("chapters.") for name in CORRECT if "." in name} == set(
        chapter_classes
    ) - {"Loss"}
    for key, cls in CORRECT.items():
        assert cls is (chapter_classes if "." in key else book_classes)[key.split(".")[-1]]
    for module in (book, chapters, broken, kinks):
        assert all(hasattr(module, name) for name in module.__all__)
        assert set(classes_defined_in(module)) <= set(module.__all__)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_classes_are_documented(name: str) -> None:
    cls = BROKEN[name]
    assert cls.__name__ == name
    first_line = str(cls.__doc__).strip().splitlines()[0]
    assert first_line.endswith(".") and len(first_line) <= 95
    assert cls.defect in {"value", "shape", "missing", "mutation"}
    assert isinstance(cls.wrong_gradients, tuple)
    assert (cls.wrong_gradients == ()) == (cls.defect == "mutation")
    for gradient in cls.wrong_gradients:
        assert gradient in first_line
    assert twin_of(cls) in CORRECT.values()
    assert "backward" in vars(cls)


@pytest.mark.parametrize("name", sorted(KINK_CONVENTION))
def test_kink_classes_are_documented(name: str) -> None:
    doc = str(KINK_CONVENTION[name].__doc__)
    assert "must NOT flag" in doc.splitlines()[0]


def test_correct_classes_have_backward_and_docstrings() -> None:
    for cls in CORRECT.values():
        assert callable(cls.backward) and cls.__doc__


def test_twin_of_rejects_unrelated_classes() -> None:
    with pytest.raises(InputError, match="`cls` must derive from a class in CORRECT"):
        twin_of(int)


# --- cases ------------------------------------------------------------------------------


def test_make_case_is_deterministic_and_keeps_global_state() -> None:
    np.random.seed(11)
    state = global_state().copy()
    a, b = make_case("Layer_Dense", seed=3), make_case("Layer_Dense", seed=3)
    assert_array_equal(global_state(), state)
    assert_array_equal(a.inputs, b.inputs)
    assert_array_equal(a.layer.weights, b.layer.weights)
    c = make_case("Layer_Dense", seed=4)
    assert not np.array_equal(a.inputs, c.inputs)


def test_make_case_defaults() -> None:
    assert make_case("chapters.Layer_Dense").forward_kwargs == {}
    assert make_case("Dense_L1NoSign").regularized
    assert not make_case("Layer_Dense").regularized
    assert make_case("Dense_ForgotTransposeInDinputs").layer.weights.shape == (3, 3)
    relu = make_case("Activation_ReLU", batch=50, n_inputs=20)
    assert np.all(np.abs(relu.inputs) >= 0.1)
    mae = make_case("Loss_MeanAbsoluteError", batch=50)
    assert np.all(np.abs(mae.inputs - mae.y_true) >= 0.1)
    cce = make_case(book.Loss_CategoricalCrossentropy, batch=6)
    assert cce.y_true is not None
    assert_allclose(cce.inputs.sum(axis=1), 1.0, rtol=1e-12, atol=1e-12)
    assert sorted(cce.y_true) == [0, 0, 1, 1, 2, 2]
    assert make_case("Layer_Dropout").kind == "dropout"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name_or_class": "Nope"}, "`name_or_class` 'Nope' is not a registered example"),
        ({"name_or_class": 3}, "`name_or_class` must be a registry name or a class"),
        ({"name_or_class": "Layer_Dense", "batch": 0}, "`batch` must be an integer >= 1"),
        ({"name_or_class": "Layer_Dense", "seed": -1}, "`seed` must be an integer >= 0"),
        ({"name_or_class": "Layer_Dense", "n_inputs": 2.0}, "`n_inputs` must be an integer"),
        ({"name_or_class": "Layer_Dense", "n_neurons": 0}, "`n_neurons` must be an integer >= 1"),
        ({"name_or_class": "Layer_Dense", "at_kink": 1}, "`at_kink` must be True or False"),
        (
            {"name_or_class": "chapters.Layer_Dense", "regularized": True},
            "`regularized` needs a layer with regularizers",
        ),
    ],
)
def test_make_case_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        make_case(**kwargs)


def test_kind_of() -> None:
    assert kind_of(chapters.Activation_Softmax_Loss_CategoricalCrossentropy) == "softmax_loss"
    assert kind_of(broken.Dropout_BackwardUnscaled) == "dropout"
    with pytest.raises(InputError, match="`cls` must be a layer, activation or loss"):
        kind_of(book.Loss)
    with pytest.raises(InputError, match="`cls` must be a class"):
        kind_of("Layer_Dense")  # type: ignore[arg-type]


# --- network ----------------------------------------------------------------------------


def test_spiral_data() -> None:
    X, y = spiral_data(100, 3, seed=0)
    assert X.shape == (300, 2) and y.dtype == np.uint8
    assert_array_equal(np.bincount(y), [100, 100, 100])
    radius = np.hypot(X[:, 0], X[:, 1])
    assert_allclose(radius[:100], np.linspace(0, 1, 100), rtol=1e-12, atol=1e-12)
    X2, _ = spiral_data(100, 3, seed=0)
    assert_array_equal(X, X2)
    assert not np.array_equal(X, spiral_data(100, 3, seed=1)[0])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 3), "`samples` must be an integer >= 1, got 0"),
        ((5, 1.5), "`classes` must be an integer >= 1, got 1.5"),
        ((5, 300), "`classes` must be at most 256"),
        ((5, 3, -2), "`seed` must be an integer >= 0, got -2"),
    ],
)
def test_spiral_data_errors(args: tuple, message: str) -> None:
    with pytest.raises(InputError, match=message):
        spiral_data(*args)


def test_book_network_is_deterministic_and_keeps_global_state() -> None:
    np.random.seed(5)
    before = global_state().copy()
    a, b = book_network(seed=0), book_network(seed=0)
    assert_array_equal(global_state(), before)
    assert_array_equal(a.dense1.weights, b.dense1.weights)
    assert not np.array_equal(a.dense1.weights, book_network(seed=1).dense1.weights)
    with pytest.raises(InputError, match="`seed` must be an integer >= 0"):
        book_network(seed=-1)


def test_book_network_backward_matches_central_differences() -> None:
    X, y = spiral_data(4, 3, seed=2)
    net = book_network(seed=0)
    net.dense1.weights *= 100  # larger weights so the ReLU mask is mixed, not all-on
    net.forward(X, y)
    net.backward(y)
    for layer in (net.dense1, net.dense2):
        for name in ("weights", "biases"):
            array = getattr(layer, name)
            numeric = np.zeros_like(array)
            for index in np.ndindex(array.shape):
                original = array[index]
                array[index] = original + STEP
                plus = net.forward(X, y)
                array[index] = original - STEP
                minus = net.forward(X, y)
                array[index] = original
                numeric[index] = (plus - minus) / (2 * STEP)
            assert_allclose(getattr(layer, "d" + name), numeric, rtol=ORACLE_RTOL, atol=ORACLE_ATOL)
