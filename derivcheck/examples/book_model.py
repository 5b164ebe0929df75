"""The book's ``Model`` class and the pieces it uses, as chapters 19–22 write them.

``Model`` (``add``, ``set``, ``finalize``, ``forward(X, training)``,
``backward(output, y)``), ``Layer_Input``, and the final-chapter
``Activation_Softmax_Loss_CategoricalCrossentropy``, which has *no* forward:
the model runs the softmax and the loss separately and uses the class only for
its fused backward.  The layers and losses are those of
:mod:`derivcheck.examples.book`.  :func:`book_classifier` builds the
chapter-19 style classifier (dense - ReLU - dense - ReLU - dense - softmax,
categorical cross-entropy) that :func:`~derivcheck.check_model` is demonstrated on.

Examples
--------
>>> import numpy as np
>>> model = book_classifier(n_inputs=4, hidden=8, classes=3, seed=0)
>>> X = np.random.default_rng(0).normal(size=(5, 4))
>>> out = model.forward(X, training=True)
>>> out.shape, bool(np.allclose(out.sum(axis=1), 1))
((5, 3), True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from derivcheck.examples.book import (
    Activation_ReLU,
    Activation_Softmax,
    Layer_Dense,
    Loss_CategoricalCrossentropy,
)

__all__ = [
    "Activation_Softmax_Loss_CategoricalCrossentropy",
    "Layer_Input",
    "Model",
    "Optimizer_SGD",
    "book_classifier",
]


class Layer_Input:
    def forward(self, inputs: np.ndarray, training: bool) -> None:
        self.output = inputs


class Activation_Softmax_Loss_CategoricalCrossentropy:
    """Softmax classifier - combined Softmax activation and cross-entropy loss for faster
    backward step (chapters 19–22: no forward)."""

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> None:
        samples = len(dvalues)
        if len(y_true.shape) == 2:
            y_true = np.argmax(y_true, axis=1)
        self.dinputs = dvalues.copy()
        self.dinputs[range(samples), y_true] -= 1
        self.dinputs = self.dinputs / samples


class Optimizer_SGD:
    def __init__(self, learning_rate: float = 1.0) -> None:
        self.learning_rate = learning_rate

    def update_params(self, layer: Any) -> None:
        layer.weights += -self.learning_rate * layer.dweights
        layer.biases += -self.learning_rate * layer.dbiases


class Model:
    def __init__(self) -> None:
        self.layers: list[Any] = []
        self.softmax_classifier_output: Any = None

    def add(self, layer: Any) -> None:
        self.layers.append(layer)

    def set(self, *, loss: Any = None, optimizer: Any = None, accuracy: Any = None) -> None:
        if loss is not None:
            self.loss = loss
        if optimizer is not None:
            self.optimizer = optimizer
        if accuracy is not None:
            self.accuracy = accuracy

    def finalize(self) -> None:
        self.input_layer = Layer_Input()
        layer_count = len(self.layers)
        self.trainable_layers = []
        for i in range(layer_count):
            if i == 0:
                self.layers[i].prev = self.input_layer
                self.layers[i].next = self.layers[i + 1]
            elif i < layer_count - 1:
                self.layers[i].prev = self.layers[i - 1]
                self.layers[i].next = self.layers[i + 1]
            else:
                self.layers[i].prev = self.layers[i - 1]
                self.layers[i].next = self.loss
                self.output_layer_activation = self.layers[i]
            if hasattr(self.layers[i], "weights"):
                self.trainable_layers.append(self.layers[i])
        if self.loss is not None:
            self.loss.remember_trainable_layers(self.trainable_layers)
        if isinstance(self.layers[-1], Activation_Softmax) and isinstance(
            self.loss, Loss_CategoricalCrossentropy
        ):
            self.softmax_classifier_output = Activation_Softmax_Loss_CategoricalCrossentropy()

    def forward(self, X: np.ndarray, training: bool) -> np.ndarray:
        self.input_layer.forward(X, training)
        for layer in self.layers:
            layer.forward(layer.prev.output, training)
        return layer.output

    def backward(self, output: np.ndarray, y: np.ndarray) -> None:
        if self.softmax_classifier_output is not None:
            self.softmax_classifier_output.backward(output, y)
            self.layers[-1].dinputs = self.softmax_classifier_output.dinputs
            for layer in reversed(self.layers[:-1]):
                layer.backward(layer.next.dinputs)
            return
        self.loss.backward(output, y)
        for layer in reversed(self.layers):
            layer.backward(layer.next.dinputs)


def book_classifier(
    n_inputs: int = 4,
    hidden: int = 16,
    classes: int = 3,
    *,
    seed: int = 0,
    l2: float = 5e-4,
    dense: type = Layer_Dense,
    relu: type = Activation_ReLU,
) -> Model:
    """dense - ReLU - dense - ReLU - dense - softmax with categorical cross-entropy, L2 on
    the first two dense layers, finalized; ``dense``/``relu`` swap in other classes (a
    broken one).  Weights are drawn from ``default_rng(seed)`` at the book's scale, 0.1."""
    rng = np.random.default_rng(seed)
    model = Model()
    model.add(dense(n_inputs, hidden, weight_regularizer_l2=l2, bias_regularizer_l2=l2))
    model.add(relu())
    model.add(dense(hidden, hidden, weight_regularizer_l2=l2, bias_regularizer_l2=l2))
    model.add(relu())
    model.add(dense(hidden, classes))
    model.add(Activation_Softmax())
    model.set(loss=Loss_CategoricalCrossentropy(), optimizer=Optimizer_SGD())
    model.finalize()
    for layer in model.trainable_layers:
        layer.weights = 0.1 * rng.standard_normal(layer.weights.shape)
        layer.biases = 0.1 * rng.standard_normal(layer.biases.shape)
    return model
