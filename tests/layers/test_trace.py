"""Tests of derivcheck.layers.trace.core: exact gradients of numpy forwards traced with SymPy.

Oracles: closed-form gradients (written here, independently of the tracer),
plain central differences of the same numpy forward, the book's worked numbers,
and the tracer's two differentiation routes ("reverse" and SymPy "diff")
checked against each other.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derivcheck.errors import InputError, TraceError
from derivcheck.layers.trace.core import SymbolicArray, exact_gradients, trace_gradients

# --------------------------------------------------------------------------- tiny layers
# Plain copies of the book's forwards (final chapters), so these tests do not
# depend on derivcheck.examples.


class Dense:
    def __init__(self, weights: np.ndarray, biases: np.ndarray) -> None:
        self.weights, self.biases = weights, biases

    def forward(self, inputs: Any, training: bool = True) -> None:
        self.inputs = inputs
        self.output = np.dot(inputs, self.weights) + self.biases


class ReLU:
    def forward(self, inputs: Any, training: bool = True) -> None:
        self.inputs = inputs
        self.output = np.maximum(0, inputs)


class MaskReLU:
    """ReLU written with a boolean mask, as some implementations do."""

    def forward(self, inputs: Any, training: bool = True) -> None:
        self.output = inputs * (inputs > 0)


class Softmax:
    def forward(self, inputs: Any, training: bool = True) -> None:
        exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        self.output = exp_values / np.sum(exp_values, axis=1, keepdims=True)


class Sigmoid:
    def forward(self, inputs: Any, training: bool = True) -> None:
        self.output = 1 / (1 + np.exp(-inputs))


class CategoricalCrossentropy:
    def forward(self, y_pred: Any, y_true: np.ndarray) -> Any:
        samples = len(y_pred)
        y_pred_clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)
        if len(y_true.shape) == 1:
            correct_confidences = y_pred_clipped[range(samples), y_true]
        else:
            correct_confidences = np.sum(y_pred_clipped * y_true, axis=1)
        return -np.log(correct_confidences)

    def calculate(self, output: Any, y: np.ndarray) -> Any:
        return np.mean(self.forward(output, y))


class BinaryCrossentropy(CategoricalCrossentropy):
    def forward(self, y_pred: Any, y_true: np.ndarray) -> Any:
        y_pred_clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)
        sample_losses = -(
            y_true * np.log(y_pred_clipped) + (1 - y_true) * np.log(1 - y_pred_clipped)
        )
        return np.mean(sample_losses, axis=-1)


class MeanSquaredError(CategoricalCrossentropy):
    def forward(self, y_pred: Any, y_true: np.ndarray) -> Any:
        return np.mean((y_true - y_pred) ** 2, axis=-1)


class MeanAbsoluteError(CategoricalCrossentropy):
    def forward(self, y_pred: Any, y_true: np.ndarray) -> Any:
        return np.mean(np.abs(y_true - y_pred), axis=-1)


class SoftmaxCrossentropy:
    def __init__(self) -> None:
        self.activation = Softmax()
        self.loss = CategoricalCrossentropy()

    def forward(self, inputs: Any, y_true: np.ndarray) -> Any:
        self.activation.forward(inputs)
        self.output = self.activation.output
        return self.loss.calculate(self.output, y_true)

    calculate = forward


# --------------------------------------------------------------------------- helpers


def layer_probe(layer: Any, g: np.ndarray, params: tuple[str, ...] = ()) -> Callable:
    """probe = sum(output * G), with the layer's parameters swapped in and restored."""

    def probe(arrays: dict[str, Any]) -> Any:
        saved = {name: getattr(layer, name) for name in params}
        try:
            for name in params:
                setattr(layer, name, arrays[name])
            layer.forward(arrays["inputs"], True)
            return np.sum(layer.output * g)
        finally:
            for name, value in saved.items():
                setattr(layer, name, value)

    return probe


def loss_probe(loss: Any, y_true: np.ndarray) -> Callable:
    return lambda arrays: loss.calculate(arrays["inputs"], y_true)


def numeric_probe(probe: Callable) -> Callable:
    """The same probe on plain float arrays (it must return a float there)."""
    return lambda arrays: float(probe(arrays))


def central_differences(probe: Callable, point: dict[str, np.ndarray], h: float = 1e-6) -> dict:
    """Plain central differences of the probe run on float arrays, entry by entry."""
    f = numeric_probe(probe)
    grads = {}
    for name, array in point.items():
        grad = np.zeros(array.shape)
        for index in np.ndindex(array.shape):
            plus = {k: v.copy() for k, v in point.items()}
            minus = {k: v.copy() for k, v in point.items()}
            plus[name][index] += h
            minus[name][index] -= h
            grad[index] = (f(plus) - f(minus)) / (2 * h)
        grads[name] = grad
    return grads


def assert_gradients(actual: dict, expected: dict, atol: float = 1e-12) -> None:
    assert set(actual) == set(expected)
    for name in expected:
        assert actual[name].dtype == np.float64
        assert actual[name].shape == np.shape(expected[name])
        np.testing.assert_allclose(actual[name], expected[name], rtol=atol, atol=atol)


RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 4))
W = RNG.normal(size=(4, 5))
B = RNG.normal(size=(1, 5))
G = RNG.normal(size=(3, 5))
LOGITS = RNG.normal(size=(4, 3))
G3 = RNG.normal(size=(4, 3))


def clear_of_zero(shape: tuple[int, ...]) -> np.ndarray:
    values = RNG.uniform(0.1, 2.0, size=shape)
    return values * RNG.choice([-1.0, 1.0], size=shape)


# --------------------------------------------------------------------------- layers


def test_dense_matches_closed_form_and_central_differences() -> None:
    layer = Dense(W.copy(), B.copy())
    original = layer.weights
    probe = layer_probe(layer, G, ("weights", "biases"))
    point = {"inputs": X, "weights": W, "biases": B}
    grads = exact_gradients(probe, point)
    assert_gradients(
        grads,
        {"inputs": G @ W.T, "weights": X.T @ G, "biases": G.sum(axis=0, keepdims=True)},
    )
    assert_gradients(grads, central_differences(probe, point), atol=1e-7)
    # the probe restored the layer: the traced arrays did not leak into it
    assert layer.weights is original and np.array_equal(layer.weights, W)
    assert not isinstance(layer.biases, SymbolicArray)


@pytest.mark.parametrize(
    ("layer", "closed_form"),
    [
        (ReLU(), lambda x, g: g * (x > 0)),
        (MaskReLU(), lambda x, g: g * (x > 0)),
        (Sigmoid(), lambda x, g: g * (1 / (1 + np.exp(-x))) * (1 - 1 / (1 + np.exp(-x)))),
    ],
    ids=["relu", "mask-relu", "sigmoid"],
)
def test_activations_match_closed_form(layer: Any, closed_form: Callable) -> None:
    x = clear_of_zero((4, 3))
    probe = layer_probe(layer, G3)
    result = trace_gradients(probe, {"inputs": x})
    assert_gradients(result.gradients, {"inputs": closed_form(x, G3)})
    assert_gradients(result.gradients, central_differences(probe, {"inputs": x}), atol=1e-7)
    assert not result.any_kink


def softmax_backward(logits: np.ndarray, g: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    s = e / e.sum(axis=1, keepdims=True)
    return np.stack([(np.diag(si) - np.outer(si, si)) @ gi for si, gi in zip(s, g, strict=True)])


def test_softmax_matches_per_sample_jacobian() -> None:
    probe = layer_probe(Softmax(), G3)
    result = trace_gradients(probe, {"inputs": LOGITS})
    assert_gradients(result.gradients, {"inputs": softmax_backward(LOGITS, G3)})
    assert_gradients(result.gradients, central_differences(probe, {"inputs": LOGITS}), atol=1e-7)
    assert not result.any_kink


def test_softmax_jacobian_book_numbers() -> None:
    """Book ch. 9: softmax Jacobian at s = [0.7, 0.1, 0.2]."""
    logits = np.log(np.array([[0.7, 0.1, 0.2]]))
    rows = []
    for k in range(3):
        layer = Softmax()

        def probe(arrays: dict[str, Any], k: int = k, layer: Softmax = layer) -> Any:
            layer.forward(arrays["inputs"])
            return layer.output[0, k]

        rows.append(exact_gradients(probe, {"inputs": logits})["inputs"][0])
    expected = [[0.21, -0.07, -0.14], [-0.07, 0.09, -0.02], [-0.14, -0.02, 0.16]]
    np.testing.assert_allclose(np.array(rows), expected, atol=1e-12)


def test_single_neuron_book_numbers() -> None:
    """Book ch. 9: x = [1, -2, 3], w = [-3, -1, 2], b = 1, ReLU -> dx = w, dw = x, db = 1."""

    def probe(a: dict[str, Any]) -> Any:
        return np.maximum(0, np.dot(a["x"], a["w"]) + a["b"])

    point = {"x": np.array([1.0, -2.0, 3.0]), "w": np.array([-3.0, -1.0, 2.0]), "b": np.array(1.0)}
    grads = exact_gradients(probe, point)
    assert_gradients(grads, {"x": [-3.0, -1.0, 2.0], "w": [1.0, -2.0, 3.0], "b": 1.0})


LABELS = np.array([0, 2, 1, 1])
ONE_HOT = np.eye(3)[LABELS]


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


P = softmax(LOGITS)
TARGETS = RNG.uniform(size=(4, 3))
BINARY = (RNG.uniform(size=(4, 3)) > 0.5).astype(float)
SIGMOIDS = 1 / (1 + np.exp(-LOGITS))


@pytest.mark.parametrize(
    ("loss", "y_pred", "y_true", "closed_form"),
    [
        (CategoricalCrossentropy(), P, LABELS, -ONE_HOT / P / 4),
        (CategoricalCrossentropy(), P, ONE_HOT, -ONE_HOT / P / 4),
        (
            BinaryCrossentropy(),
            SIGMOIDS,
            BINARY,
            -(BINARY / SIGMOIDS - (1 - BINARY) / (1 - SIGMOIDS)) / 3 / 4,
        ),
        (MeanSquaredError(), SIGMOIDS, TARGETS, -2 * (TARGETS - SIGMOIDS) / 3 / 4),
        (MeanAbsoluteError(), SIGMOIDS, TARGETS, np.sign(SIGMOIDS - TARGETS) / 3 / 4),
        (SoftmaxCrossentropy(), LOGITS, LABELS, (P - ONE_HOT) / 4),
        (SoftmaxCrossentropy(), LOGITS, ONE_HOT, (P - ONE_HOT) / 4),
    ],
    ids=["cce-sparse", "cce-onehot", "bce", "mse", "mae", "softmax-cce", "softmax-cce-onehot"],
)
def test_losses_match_closed_form_and_central_differences(
    loss: Any, y_pred: np.ndarray, y_true: np.ndarray, closed_form: np.ndarray
) -> None:
    probe = loss_probe(loss, y_true)
    result = trace_gradients(probe, {"inputs": y_pred})
    assert_gradients(result.gradients, {"inputs": closed_form})
    assert_gradients(result.gradients, central_differences(probe, {"inputs": y_pred}), atol=1e-7)
    assert not result.any_kink


def test_combined_softmax_cce_book_numbers() -> None:
    """Book ch. 9: softmax outputs and targets [0, 1, 1] -> (s - y) / 3."""
    s = np.array([[0.7, 0.1, 0.2], [0.1, 0.5, 0.4], [0.02, 0.9, 0.08]])
    grads = exact_gradients(
        loss_probe(SoftmaxCrossentropy(), np.array([0, 1, 1])), {"inputs": np.log(s)}
    )
    expected = [
        [-0.1, 0.0333333, 0.0666667],
        [0.0333333, -0.1666667, 0.1333333],
        [0.0066667, -0.0333333, 0.0266667],
    ]
    np.testing.assert_allclose(grads["inputs"], expected, atol=5e-8)


def test_dense_relu_softmax_cce_chain() -> None:
    """A whole small network: the trace follows the chain through every layer."""
    dense, relu = Dense(W, B), ReLU()
    loss = SoftmaxCrossentropy()
    labels = np.array([0, 4, 2])

    def probe(a: dict[str, Any]) -> Any:
        dense.weights, dense.biases = a["weights"], a["biases"]
        try:
            dense.forward(a["inputs"])
            relu.forward(dense.output)
            return loss.forward(relu.output, labels)
        finally:
            dense.weights, dense.biases = W, B

    point = {"inputs": X, "weights": W, "biases": B}
    result = trace_gradients(probe, point)
    assert not result.any_kink  # no pre-activation sits at 0 here
    assert_gradients(result.gradients, central_differences(probe, point), atol=1e-7)


def test_book_classes_if_present() -> None:
    """The real classes of derivcheck.examples.book trace unmodified."""
    book = pytest.importorskip("derivcheck.examples.book")
    layer = book.Activation_Softmax_Loss_CategoricalCrossentropy()
    grads = exact_gradients(lambda a: layer.forward(a["inputs"], LABELS), {"inputs": LOGITS})
    assert_gradients(grads, {"inputs": (P - ONE_HOT) / 4})
    dense = book.Layer_Dense(4, 5)
    dense.weights, dense.biases = W, B
    grads = exact_gradients(
        layer_probe(dense, G, ("weights", "biases")), {"inputs": X, "weights": W, "biases": B}
    )
    assert_gradients(
        grads, {"inputs": G @ W.T, "weights": X.T @ G, "biases": G.sum(0, keepdims=True)}
    )


# --------------------------------------------------------------------------- numpy coverage


OPERATIONS: dict[str, Callable[[Any], Any]] = {
    "sqrt-square-tanh": lambda x: np.sum(np.sqrt(np.square(x) + 1) * np.tanh(x)),
    "log1p-expm1": lambda x: np.sum(np.log1p(np.abs(x)) + np.expm1(x / 4)),
    "mean-axis-keepdims": lambda x: np.sum(np.mean(x**3, axis=0, keepdims=True) * G3[:1]),
    "transpose-reshape-copy": lambda x: np.sum(x.T.reshape(-1).copy() * np.arange(12.0)),
    "matmul-operator": lambda x: np.sum((x @ x.T) ** 2),
    "where-mask": lambda x: np.sum(np.where(x > 0, x**2, -x) * G3),
    "clip-inside": lambda x: np.sum(np.clip(x, -5, 5) ** 3),
    "empty-like-item-assignment": lambda x: _row_assigned(x),
    "min-max-axis": lambda x: np.sum(np.min(x, axis=1) * 2) + np.sum(np.max(x, axis=0)),
    "sum-of-products": lambda x: np.sum(np.sum(x * G3, axis=1) ** 2),
    "inplace-on-traced": lambda x: _inplace(x),
    "boolean-mask-assignment": lambda x: _masked(x),
    "divide-power-trig": lambda x: np.sum(np.sin(x) / (2 + np.cos(x)) + np.arctan(x) ** 2),
    "len-shape-iterate": lambda x: sum(row[0] * len(x) * x.shape[1] for row in x),
    "sort-argmax": lambda x: np.sum(np.sort(x, axis=1) * G3) + x[0, np.argmax(x[0])],
    "std-var": lambda x: np.std(x) + np.var(x, axis=0).sum(),
    "cumsum-prod": lambda x: np.sum(np.cumsum(x, axis=1) ** 2) + np.prod(x, axis=1).sum(),
    "dot-method-einsum": lambda x: np.sum(x.dot(x.T) * 0.5) + np.einsum("ij,ij->", x, x),
    "hypot-arctan2-logaddexp": lambda x: np.sum(
        np.hypot(x, 1.0) + np.arctan2(x, 2.0) + np.logaddexp(x, 0.5)
    ),
    "concatenate-stack-pad": lambda x: (
        np.sum(np.concatenate([x, np.stack([x[0], x[1]])]) ** 2) + np.sum(np.pad(x, 1) ** 3)
    ),
    "linalg-norm": lambda x: np.linalg.norm(x) + np.sum(np.linalg.norm(x, axis=1)),
    "python-max": lambda x: sum(max(row[0], row[1]) for row in x),
}


def _row_assigned(x: Any) -> Any:
    out = np.empty_like(x)
    for i, row in enumerate(x):
        out[i] = row * (i + 1)
    return np.sum(out**2)


def _inplace(x: Any) -> Any:
    y = x * 2
    y += G3
    y *= x
    return np.sum(y)


def _masked(x: Any) -> Any:
    y = x.copy()
    y[x < 0] = 0
    return np.sum(y * G3)


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_numpy_operations_match_central_differences(name: str) -> None:
    x = clear_of_zero((4, 3))
    probe = lambda a: OPERATIONS[name](a["x"])  # noqa: E731
    grads = exact_gradients(probe, {"x": x})
    assert_gradients(grads, central_differences(probe, {"x": x}), atol=2e-7)


UFUNCS = [
    np.negative, np.positive, np.square, np.reciprocal, np.sqrt, np.exp, np.exp2, np.expm1,
    np.log, np.log2, np.log10, np.log1p, np.sin, np.cos, np.tan, np.arcsin, np.arccos,
    np.arctan, np.sinh, np.cosh, np.tanh, np.arcsinh, np.arccosh, np.arctanh, np.conjugate,
]  # fmt: skip


@pytest.mark.parametrize("ufunc", UFUNCS, ids=lambda u: u.__name__)
def test_every_mapped_ufunc_matches_central_differences(ufunc: np.ufunc) -> None:
    x = np.array([0.3, 0.55, 0.8]) + (1.5 if ufunc is np.arccosh else 0.0)

    def probe(a: dict[str, Any]) -> Any:
        return np.sum(ufunc(a["x"]) * np.array([1.0, -2.0, 0.5]))

    grads = exact_gradients(probe, {"x": x})
    assert_gradients(grads, central_differences(probe, {"x": x}), atol=1e-7)
    assert np.all(grads["x"] != 0)


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_reverse_and_sympy_diff_agree(name: str) -> None:
    x = clear_of_zero((4, 3))
    probe = lambda a: OPERATIONS[name](a["x"])  # noqa: E731
    reverse = exact_gradients(probe, {"x": x}, method="reverse")
    by_diff = exact_gradients(probe, {"x": x}, method="diff")
    assert_gradients(reverse, by_diff, atol=1e-12)


def test_softmax_reverse_and_sympy_diff_agree() -> None:
    probe = loss_probe(SoftmaxCrossentropy(), LABELS)
    reverse = exact_gradients(probe, {"inputs": LOGITS}, method="reverse")
    assert_gradients(reverse, exact_gradients(probe, {"inputs": LOGITS}, method="diff"))


@settings(max_examples=15, deadline=None)
@given(
    batch=st.integers(1, 3),
    n_in=st.integers(1, 4),
    n_out=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_dense_sigmoid_property(batch: int, n_in: int, n_out: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, w = rng.normal(size=(batch, n_in)), rng.normal(size=(n_in, n_out))
    b, g = rng.normal(size=(1, n_out)), rng.normal(size=(batch, n_out))

    def probe(a: dict[str, Any]) -> Any:
        return np.sum(1 / (1 + np.exp(-(np.dot(a["x"], a["w"]) + a["b"]))) * g)

    grads = exact_gradients(probe, {"x": x, "w": w, "b": b})
    s = 1 / (1 + np.exp(-(x @ w + b)))
    dz = g * s * (1 - s)
    assert_gradients(grads, {"x": dz @ w.T, "w": x.T @ dz, "b": dz.sum(0, keepdims=True)})


# --------------------------------------------------------------------------- kinks


@pytest.mark.parametrize("method", ["reverse", "diff"])
def test_relu_at_zero_is_a_kink_with_sympy_convention(method: str) -> None:
    x = np.array([[-1.0, 0.0, 2.0]])
    probe = layer_probe(ReLU(), np.ones((1, 3)))
    result = trace_gradients(probe, {"inputs": x}, method=method)
    np.testing.assert_array_equal(result.gradients["inputs"], [[0.0, 0.5, 1.0]])
    np.testing.assert_array_equal(result.kinks["inputs"], [[False, True, False]])


def test_mask_relu_at_zero_is_a_kink_with_branch_convention() -> None:
    x = np.array([[-1.0, 0.0, 2.0]])
    result = trace_gradients(layer_probe(MaskReLU(), np.ones((1, 3))), {"inputs": x})
    np.testing.assert_array_equal(result.gradients["inputs"], [[0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(result.kinks["inputs"], [[False, True, False]])


@pytest.mark.parametrize("method", ["reverse", "diff"])
def test_tie_in_max_along_axis_marks_both_entries(method: str) -> None:
    x = np.array([[1.0, 3.0, 3.0], [0.5, 0.0, -1.0]])
    result = trace_gradients(lambda a: np.sum(np.max(a["x"], axis=1)), {"x": x}, method=method)
    np.testing.assert_array_equal(result.kinks["x"], [[False, True, True], [False, False, False]])
    np.testing.assert_array_equal(result.gradients["x"], [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])


@pytest.mark.parametrize(
    ("fun", "x", "grad", "kink"),
    [
        (lambda x: np.sum(np.abs(x)), [0.0, -2.0], [0.0, -1.0], [True, False]),
        (lambda x: np.sum(np.clip(x, 0.0, 1.0)), [1.0, 0.5], [0.5, 1.0], [True, False]),
        (lambda x: np.sum(np.sign(x) * 3), [0.0, 4.0], [0.0, 0.0], [True, False]),
        (lambda x: np.sum(np.minimum(x, 1.0)), [1.0, 2.0], [0.5, 0.0], [True, False]),
    ],
    ids=["abs", "clip", "sign", "minimum"],
)
def test_kinks_of_elementwise_functions(
    fun: Callable, x: list[float], grad: list[float], kink: list[bool]
) -> None:
    result = trace_gradients(lambda a: fun(a["x"]), {"x": np.array(x)})
    np.testing.assert_array_equal(result.gradients["x"], grad)
    np.testing.assert_array_equal(result.kinks["x"], kink)


def test_near_tie_from_rounding_is_a_kink() -> None:
    """0.1 + 0.2 - 0.3 is 5.6e-17, not 0: still a ReLU kink for the trace."""
    result = trace_gradients(lambda a: np.maximum(0, a["x"] + 0.2 - 0.3), {"x": np.array(0.1)})
    assert result.kinks["x"].item()
    assert result.gradients["x"].item() in (0.0, 0.5, 1.0)  # a convention at a kink


def test_comparing_an_expression_with_itself_is_not_a_kink() -> None:
    """Hardmax by `x == max(x)`: the winner equals itself, which is no tie."""
    x = np.array([[0.2, 1.5, -0.3], [2.0, 0.1, 0.4]])

    def probe(a: dict[str, Any]) -> Any:
        return np.sum(a["x"] * (a["x"] == np.max(a["x"], axis=1, keepdims=True)))

    result = trace_gradients(probe, {"x": x})
    np.testing.assert_array_equal(result.gradients["x"], [[0, 1, 0], [1, 0, 0]])
    assert not result.any_kink


def test_clip_of_cce_is_active_below_1e_7() -> None:
    """Predictions clipped by the loss have gradient 0, as in the forward."""
    p = np.array([[1e-9, 0.5, 0.5]])
    grads = exact_gradients(loss_probe(CategoricalCrossentropy(), np.array([0])), {"inputs": p})
    np.testing.assert_array_equal(grads["inputs"], [[0.0, 0.0, 0.0]])


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("fun", "message"),
    [
        (lambda x: np.sum(np.floor(x)), "numpy.floor is not supported on traced arrays"),
        (lambda x: np.sum(np.mod(x, 2.0)), "numpy.remainder is not supported on traced arrays"),
        (lambda x: np.median(x), "numpy.median is not supported on traced arrays"),
        (
            lambda x: float(np.sum(x)),
            "a traced value was converted to float (float(), or stored in a float array), "
            "which cuts the derivative",
        ),
        (
            lambda x: _store_in_float_array(x),
            "a traced value was converted to float (float(), or stored in a float array), "
            "which cuts the derivative",
        ),
        (
            lambda x: _inplace_into_float(x),
            "an in-place operation writes traced values into a float64 array; "
            "trace needs the result in a new array (use `a = a + b`, not `a += b`)",
        ),
        (
            lambda x: np.exp(np.asarray(x)),
            "cannot trace the forward: a numpy function got a plain object array",
        ),
        (
            lambda x: np.sum(x) if x.item(0) > 0 else 0.0,
            "cannot trace the forward: a comparison of traced values reached Python control flow",
        ),
        (lambda x: x, "the probe must return a scalar, got an array of shape (2, 2)"),
        (lambda x: "loss", "the probe must return a scalar, got str"),
        (lambda x: x.astype(np.int64), "astype(int64) of a traced array cuts the derivative"),
    ],
    ids=[
        "floor",
        "mod",
        "median",
        "float",
        "store",
        "inplace",
        "asarray",
        "item",
        "shape",
        "str",
        "int",
    ],
)
def test_untraceable_forwards_raise_trace_error(fun: Callable, message: str) -> None:
    with pytest.raises(TraceError) as info:
        exact_gradients(lambda a: fun(a["x"]), {"x": np.ones((2, 2))})
    assert str(info.value).startswith(message)


def _store_in_float_array(x: Any) -> Any:
    out = np.zeros(x.shape)
    out[0, 0] = x[0, 0]
    return np.sum(out)


def _inplace_into_float(x: Any) -> Any:
    out = np.zeros(x.shape)
    out += x
    return np.sum(out)


def test_size_guard() -> None:
    with pytest.raises(TraceError, match=r"^too large to trace: 600 entries > limit 500$"):
        exact_gradients(lambda a: np.sum(a["x"]), {"x": np.ones((20, 30))})
    with pytest.raises(TraceError, match=r"^too large to trace: 12 entries > limit 10$"):
        exact_gradients(
            lambda a: np.sum(a["x"]), {"x": np.ones(6), "y": np.ones(6)}, max_symbols=10
        )


def test_node_guard() -> None:
    with pytest.raises(
        TraceError, match=r"^expression too large to differentiate: more than 20 nodes$"
    ):
        exact_gradients(lambda a: np.sum(np.exp(a["x"])), {"x": np.ones(30)}, max_nodes=20)


def test_time_budget() -> None:
    """A budget that is over before the first numpy call: deterministic, no timing."""
    with pytest.raises(TraceError, match=r"^over the time budget of 1e-09 s while tracing"):
        exact_gradients(lambda a: np.sum(a["x"]), {"x": np.ones(3)}, budget=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"point": {}}, "`point` must be a non-empty dict of name -> array."),
        ({"point": [1.0]}, "`point` must be a non-empty dict of name -> array."),
        (
            {"point": {"x": np.array([np.nan])}},
            "`point['x']` must be finite (it holds NaN or inf).",
        ),
        (
            {"point": {"x": np.array(["a"])}},
            "`point['x']` must be a real numeric array, got dtype <U1.",
        ),
        ({"budget": 0.0}, "`budget` must be a positive finite float, got 0.0."),
        ({"budget": float("inf")}, "`budget` must be a positive finite float, got inf."),
        ({"max_symbols": 0}, "`max_symbols` must be a positive integer, got 0."),
        ({"method": "forward"}, "`method` must be 'reverse' or 'diff', got 'forward'."),
        ({"probe": 3}, "`probe` must be callable, got int."),
    ],
)
def test_bad_arguments_raise_input_error(kwargs: dict, message: str) -> None:
    arguments: dict[str, Any] = {"probe": lambda a: np.sum(a["x"]), "point": {"x": np.ones(2)}}
    arguments.update(kwargs)
    with pytest.raises(InputError) as info:
        exact_gradients(**arguments)
    assert str(info.value) == message


# --------------------------------------------------------------------------- hygiene


def test_point_is_not_mutated_and_probe_gets_fresh_arrays() -> None:
    point = {"x": X.copy(), "w": W.copy()}
    seen = {}

    def probe(a: dict[str, Any]) -> Any:
        seen.update(a)
        a["x"][0, 0] = 0.0  # the forward may scribble on its traced inputs
        return np.sum((a["x"] @ a["w"]) * G)

    exact_gradients(probe, point)
    assert np.array_equal(point["x"], X) and np.array_equal(point["w"], W)
    assert point["x"].dtype == np.float64
    assert all(isinstance(v, SymbolicArray) for v in seen.values())
    assert seen["x"] is not point["x"]


def test_leaked_traced_array_raises() -> None:
    leaked = {}

    def probe(a: dict[str, Any]) -> Any:
        leaked["x"] = a["x"]
        return np.sum(a["x"])

    exact_gradients(probe, {"x": np.ones(2)})
    with pytest.raises(TraceError, match="a traced array leaked out of its probe"):
        np.exp(leaked["x"])


def test_constant_probe_gives_zero_gradients() -> None:
    grads = exact_gradients(lambda a: 3.0, {"x": np.ones((2, 2)), "y": np.ones(3)})
    assert_gradients(grads, {"x": np.zeros((2, 2)), "y": np.zeros(3)})


def test_float32_point_and_zero_d_entries() -> None:
    x = np.array([[0.5, -1.5]], dtype=np.float32)
    grads = exact_gradients(lambda a: np.sum(a["x"] ** 2) * a["c"], {"x": x, "c": np.array(3.0)})
    assert_gradients(
        grads, {"x": 6.0 * x.astype(np.float64), "c": float(np.sum(x.astype(float) ** 2))}
    )


def test_import_does_not_load_sympy() -> None:
    code = "import sys, derivcheck.layers.trace.core; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
