"""The book's chapter 9–10 versions, whose ``forward`` takes no ``training`` argument.

Same names as the book (``Layer_Dense``, ``Activation_ReLU``, ...) in this
module's namespace, so code pasted from chapters 9–10 runs unchanged with
``from derivcheck.examples.chapters import *``.  They differ from
:mod:`derivcheck.examples.book` only in signatures: ``forward(inputs)`` for
layers and activations, and a dense layer without regularizers.  In the
:data:`derivcheck.examples.CORRECT` registry they are keyed
``"chapters.Layer_Dense"`` and so on.

Examples
--------
>>> import numpy as np
>>> relu = Activation_ReLU()
>>> relu.forward(np.array([[1.0, -2.0, 0.0]]))
>>> relu.backward(np.array([[5.0, 6.0, 7.0]]))
>>> print(relu.dinputs)
[[5. 0. 0.]]
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "Activation_ReLU",
    "Activation_Softmax",
    "Activation_Softmax_Loss_CategoricalCrossentropy",
    "Layer_Dense",
    "Loss",
    "Loss_CategoricalCrossentropy",
]


class Layer_Dense:
    """Chapter 9 dense layer: ``forward(inputs)``, no regularizers."""

    def __init__(self, n_inputs: int, n_neurons: int) -> None:
        self.weights = 0.01 * np.random.randn(n_inputs, n_neurons)
        self.biases = np.zeros((1, n_neurons))

    def forward(self, inputs: np.ndarray) -> None:
        self.inputs = inputs
        self.output = np.dot(inputs, self.weights) + self.biases

    def backward(self, dvalues: np.ndarray) -> None:
        self.dweights = np.dot(self.inputs.T, dvalues)
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)
        self.dinputs = np.dot(dvalues, self.weights.T)


class Activation_ReLU:
    """Chapter 9 ReLU: ``forward(inputs)``; gradient 0 where ``inputs <= 0``."""

    def forward(self, inputs: np.ndarray) -> None:
        self.inputs = inputs
        self.output = np.maximum(0, inputs)

    def backward(self, dvalues: np.ndarray) -> None:
        self.dinputs = dvalues.copy()
        self.dinputs[self.inputs <= 0] = 0


class Activation_Softmax:
    """Chapter 9 softmax: ``forward(inputs)``; per-sample Jacobian ``diag(s) - s sᵀ``."""

    def forward(self, inputs: np.ndarray) -> None:
        self.inputs = inputs
        exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        probabilities = exp_values / np.sum(exp_values, axis=1, keepdims=True)
        self.output = probabilities

    def backward(self, dvalues: np.ndarray) -> None:
        self.dinputs = np.empty_like(dvalues)
        for index, (single_output, single_dvalues) in enumerate(
            zip(self.output, dvalues, strict=True)
        ):
            single_output = single_output.reshape(-1, 1)
            jacobian_matrix = np.diagflat(single_output) - np.dot(single_output, single_output.T)
            self.dinputs[index] = np.dot(jacobian_matrix, single_dvalues)


class Loss:
    """Chapter 5/9 loss base: ``calculate`` is the mean of the per-sample losses."""

    def forward(self, output: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def calculate(self, output: np.ndarray, y: np.ndarray) -> np.floating:
        sample_losses = self.forward(output, y)
        data_loss = np.mean(sample_losses)
        return data_loss


class Loss_CategoricalCrossentropy(Loss):
    """Chapter 9 categorical cross-entropy (sparse or one-hot labels)."""

    def forward(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        samples = len(y_pred)
        y_pred_clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)
        if len(y_true.shape) == 1:
            correct_confidences = y_pred_clipped[range(samples), y_true]
        elif len(y_true.shape) == 2:
            correct_confidences = np.sum(y_pred_clipped * y_true, axis=1)
        negative_log_likelihoods = -np.log(correct_confidences)
        return negative_log_likelihoods

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> None:
        samples = len(dvalues)
        labels = len(dvalues[0])
        if len(y_true.shape) == 1:
            y_true = np.eye(labels)[y_true]
        self.dinputs = -y_true / dvalues
        self.dinputs = self.dinputs / samples


class Activation_Softmax_Loss_CategoricalCrossentropy:
    """Chapter 9 softmax + cross-entropy: ``forward(inputs, y_true)`` returns the mean loss;
    ``backward(dvalues, y_true)`` takes the softmax outputs and gives ``(ŷ - y) / samples``."""

    def __init__(self) -> None:
        self.activation = Activation_Softmax()
        self.loss = Loss_CategoricalCrossentropy()

    def forward(self, inputs: np.ndarray, y_true: np.ndarray) -> np.floating:
        self.activation.forward(inputs)
        self.output = self.activation.output
        return self.loss.calculate(self.output, y_true)

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> None:
        samples = len(dvalues)
        if len(y_true.shape) == 2:
            y_true = np.argmax(y_true, axis=1)
        self.dinputs = dvalues.copy()
        self.dinputs[range(samples), y_true] -= 1
        self.dinputs = self.dinputs / samples
