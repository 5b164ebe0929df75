"""The book's layers, activations and losses as in its final chapters.

"Neural Networks from Scratch in Python" (Kinsley & Kukieła), final-chapter
code, kept close to the book so that derivcheck is tested on what learners
actually paste: the same names, the same argument order, the same in-place
tricks.  From the dropout chapter on, every ``forward`` takes
``(inputs, training)``; losses take ``forward(y_pred, y_true)`` and
``backward(dvalues, y_true)`` where ``dvalues`` are the *predictions*.

Two deliberate departures, both documented where they occur:

- :class:`Loss_MeanAbsoluteError` has the *correct* backward,
  ``sign(y_pred - y_true)``; the book's published one (with the sign flipped)
  is :class:`derivcheck.examples.broken.Loss_MeanAbsoluteError_Book`.
- :class:`Activation_Softmax_Loss_CategoricalCrossentropy` keeps the
  ``forward(inputs, y_true)`` of the chapters before the ``Model`` class, so it
  can be used (and checked) on its own.

Regularization: the L1/L2 terms that :meth:`Layer_Dense.backward` adds to
``dweights``/``dbiases`` are the gradient of :func:`regularization_penalty`
(= ``Loss.regularization_loss(layer)``), not of the layer's ``output``.  A
gradient check of a regularized layer must add that penalty to its scalar
probe.

Examples
--------
>>> import numpy as np
>>> dense = Layer_Dense(4, 3)
>>> dense.weights = np.array([[0.2, 0.5, -0.26], [0.8, -0.91, -0.27],
...                           [-0.5, 0.26, 0.17], [1.0, -0.5, 0.87]])
>>> dense.forward(np.array([[1.0, 2.0, 3.0, 2.5]]), training=True)
>>> dense.backward(np.array([[1.0, 1.0, 1.0]]))
>>> print(np.round(dense.dinputs, 2))
[[ 0.44 -0.38 -0.07  1.37]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "Activation_Linear",
    "Activation_ReLU",
    "Activation_Sigmoid",
    "Activation_Softmax",
    "Activation_Softmax_Loss_CategoricalCrossentropy",
    "Layer_Dense",
    "Layer_Dropout",
    "Layer_Input",
    "Loss",
    "Loss_BinaryCrossentropy",
    "Loss_CategoricalCrossentropy",
    "Loss_MeanAbsoluteError",
    "Loss_MeanSquaredError",
    "regularization_penalty",
]


class Layer_Dense:
    """Fully connected layer: ``output = inputs @ weights + biases``.

    Weights are ``0.01 * np.random.randn(n_inputs, n_neurons)`` (numpy's global
    random state, as in the book), biases zeros of shape ``(1, n_neurons)``.
    ``backward`` adds the L1 term ``λ₁·sign(w)`` (with +1 at ``w == 0``) and the
    L2 term ``2·λ₂·w`` to ``dweights``/``dbiases``; they are not divided by the
    batch size because the penalty is added once to the mean data loss.
    """

    def __init__(
        self,
        n_inputs: int,
        n_neurons: int,
        weight_regularizer_l1: float = 0,
        weight_regularizer_l2: float = 0,
        bias_regularizer_l1: float = 0,
        bias_regularizer_l2: float = 0,
    ) -> None:
        self.weights = 0.01 * np.random.randn(n_inputs, n_neurons)
        self.biases = np.zeros((1, n_neurons))
        self.weight_regularizer_l1 = weight_regularizer_l1
        self.weight_regularizer_l2 = weight_regularizer_l2
        self.bias_regularizer_l1 = bias_regularizer_l1
        self.bias_regularizer_l2 = bias_regularizer_l2

    def forward(self, inputs: np.ndarray, training: bool) -> None:
        self.inputs = inputs
        self.output = np.dot(inputs, self.weights) + self.biases

    def backward(self, dvalues: np.ndarray) -> None:
        self.dweights = np.dot(self.inputs.T, dvalues)
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)

        if self.weight_regularizer_l1 > 0:
            dL1 = np.ones_like(self.weights)
            dL1[self.weights < 0] = -1
            self.dweights += self.weight_regularizer_l1 * dL1
        if self.weight_regularizer_l2 > 0:
            self.dweights += 2 * self.weight_regularizer_l2 * self.weights
        if self.bias_regularizer_l1 > 0:
            dL1 = np.ones_like(self.biases)
            dL1[self.biases < 0] = -1
            self.dbiases += self.bias_regularizer_l1 * dL1
        if self.bias_regularizer_l2 > 0:
            self.dbiases += 2 * self.bias_regularizer_l2 * self.biases

        self.dinputs = np.dot(dvalues, self.weights.T)

    def get_parameters(self) -> tuple[np.ndarray, np.ndarray]:
        return self.weights, self.biases

    def set_parameters(self, weights: np.ndarray, biases: np.ndarray) -> None:
        self.weights = weights
        self.biases = biases


class Layer_Dropout:
    """Inverted dropout.  ``rate`` is the *drop* rate; ``self.rate`` stores the
    keep rate ``1 - rate``, as in the book.  The mask is drawn from numpy's
    global random state in ``forward(training=True)`` and reused in
    ``backward``; with ``training=False`` the output is a copy of the inputs
    (and ``backward`` needs a previous training forward, as in the book)."""

    def __init__(self, rate: float) -> None:
        self.rate = 1 - rate

    def forward(self, inputs: np.ndarray, training: bool) -> None:
        self.inputs = inputs
        if not training:
            self.output = inputs.copy()
            return
        self.binary_mask = np.random.binomial(1, self.rate, size=inputs.shape) / self.rate
        self.output = inputs * self.binary_mask

    def backward(self, dvalues: np.ndarray) -> None:
        self.dinputs = dvalues * self.binary_mask


class Layer_Input:
    """The model's input "layer": passes its inputs on (no backward)."""

    def forward(self, inputs: np.ndarray, training: bool) -> None:
        self.output = inputs


class Activation_ReLU:
    """``max(0, x)``; backward zeroes the gradient where ``inputs <= 0`` (0 at the kink)."""

    def forward(self, inputs: np.ndarray, training: bool) -> None:
        self.inputs = inputs
        self.output = np.maximum(0, inputs)

    def backward(self, dvalues: np.ndarray) -> None:
        self.dinputs = dvalues.copy()
        self.dinputs[self.inputs <= 0] = 0

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        return outputs


class Activation_Softmax:
    """Row-wise softmax; backward applies each sample's Jacobian ``diag(s) - s sᵀ``."""

    def forward(self, inputs: np.ndarray, training: bool) -> None:
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

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        return np.argmax(outputs, axis=1)


class Activation_Sigmoid:
    """``1 / (1 + exp(-x))``; backward uses the output: ``dvalues * (1 - s) * s``."""

    def forward(self, inputs: np.ndarray, training: bool) -> None:
        self.inputs = inputs
        self.output = 1 / (1 + np.exp(-inputs))

    def backward(self, dvalues: np.ndarray) -> None:
        self.dinputs = dvalues * (1 - self.output) * self.output

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        return (outputs > 0.5) * 1


class Activation_Linear:
    """Identity activation (regression output); backward copies ``dvalues``."""

    def forward(self, inputs: np.ndarray, training: bool) -> None:
        self.inputs = inputs
        self.output = inputs

    def backward(self, dvalues: np.ndarray) -> None:
        self.dinputs = dvalues.copy()

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        return outputs


def regularization_penalty(layer: Any) -> float:
    """The L1/L2 penalty of one layer: what its regularizer terms in ``backward`` differentiate.

    ``λ₁·Σ|w| + λ₂·Σw²`` for the weights plus the same for the biases, using the
    layer's ``weight_regularizer_l1`` ... ``bias_regularizer_l2`` (0 when absent).

    Examples
    --------
    >>> layer = Layer_Dense(2, 2, weight_regularizer_l1=0.5, bias_regularizer_l2=0.25)
    >>> layer.weights = np.array([[1.0, -2.0], [0.0, 3.0]])
    >>> layer.biases = np.array([[2.0, -1.0]])
    >>> print(float(regularization_penalty(layer)))  # 0.5*6 + 0.25*5
    4.25
    """
    regularization_loss = 0.0
    if getattr(layer, "weight_regularizer_l1", 0) > 0:
        regularization_loss += layer.weight_regularizer_l1 * np.sum(np.abs(layer.weights))
    if getattr(layer, "weight_regularizer_l2", 0) > 0:
        regularization_loss += layer.weight_regularizer_l2 * np.sum(layer.weights * layer.weights)
    if getattr(layer, "bias_regularizer_l1", 0) > 0:
        regularization_loss += layer.bias_regularizer_l1 * np.sum(np.abs(layer.biases))
    if getattr(layer, "bias_regularizer_l2", 0) > 0:
        regularization_loss += layer.bias_regularizer_l2 * np.sum(layer.biases * layer.biases)
    return regularization_loss


class Loss:
    """Common loss: ``calculate`` is the mean of the per-sample ``forward`` losses.

    ``regularization_loss(layer)`` is the chapter-14 form (one layer); called
    without a layer it sums over the layers given to
    ``remember_trainable_layers``, as in the final chapter.
    """

    def forward(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def regularization_loss(self, layer: Any = None) -> float:
        if layer is not None:
            return regularization_penalty(layer)
        return sum(
            (regularization_penalty(each) for each in getattr(self, "trainable_layers", [])),
            0.0,
        )

    def remember_trainable_layers(self, trainable_layers: list[Any]) -> None:
        self.trainable_layers = trainable_layers

    def calculate(
        self, output: np.ndarray, y: np.ndarray, *, include_regularization: bool = False
    ) -> Any:
        sample_losses = self.forward(output, y)
        data_loss = np.mean(sample_losses)
        if not include_regularization:
            return data_loss
        return data_loss, self.regularization_loss()


class Loss_CategoricalCrossentropy(Loss):
    """``-log`` of the predicted probability of the true class (sparse or one-hot labels).

    Forward clips predictions to ``[1e-7, 1 - 1e-7]``; backward is
    ``-y_true / y_pred / samples`` (sparse labels one-hot encoded with ``np.eye``).
    """

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
    """Softmax followed by categorical cross-entropy, with the fused backward.

    ``forward(inputs, y_true)`` takes logits, sets ``self.output`` to the softmax
    and returns the mean loss.  ``backward(dvalues, y_true)`` takes the *softmax
    outputs* as ``dvalues`` and sets ``dinputs`` to the gradient of the mean
    loss with respect to the logits, ``(ŷ - y) / samples``.
    """

    def __init__(self) -> None:
        self.activation = Activation_Softmax()
        self.loss = Loss_CategoricalCrossentropy()

    def forward(self, inputs: np.ndarray, y_true: np.ndarray) -> Any:
        self.activation.forward(inputs, training=True)
        self.output = self.activation.output
        return self.loss.calculate(self.output, y_true)

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> None:
        samples = len(dvalues)
        if len(y_true.shape) == 2:
            y_true = np.argmax(y_true, axis=1)
        self.dinputs = dvalues.copy()
        self.dinputs[range(samples), y_true] -= 1
        self.dinputs = self.dinputs / samples


class Loss_BinaryCrossentropy(Loss):
    """Binary cross-entropy per output, averaged over outputs (clipped to ``[1e-7, 1 - 1e-7]``)."""

    def forward(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        y_pred_clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)
        sample_losses = -(
            y_true * np.log(y_pred_clipped) + (1 - y_true) * np.log(1 - y_pred_clipped)
        )
        sample_losses = np.mean(sample_losses, axis=-1)
        return sample_losses

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> None:
        samples = len(dvalues)
        outputs = len(dvalues[0])
        clipped_dvalues = np.clip(dvalues, 1e-7, 1 - 1e-7)
        self.dinputs = -(y_true / clipped_dvalues - (1 - y_true) / (1 - clipped_dvalues)) / outputs
        self.dinputs = self.dinputs / samples


class Loss_MeanSquaredError(Loss):
    """Mean over outputs of ``(y_true - y_pred)²``.

    Backward: ``-2 (y_true - y_pred) / outputs / samples``.
    """

    def forward(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        sample_losses = np.mean((y_true - y_pred) ** 2, axis=-1)
        return sample_losses

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> None:
        samples = len(dvalues)
        outputs = len(dvalues[0])
        self.dinputs = -2 * (y_true - dvalues) / outputs
        self.dinputs = self.dinputs / samples


class Loss_MeanAbsoluteError(Loss):
    """Mean over outputs of ``|y_true - y_pred|``, with the *corrected* backward.

    The gradient is ``sign(y_pred - y_true) / outputs / samples``.  The book
    prints ``sign(y_true - y_pred)``, the negative; that version is
    :class:`derivcheck.examples.broken.Loss_MeanAbsoluteError_Book`.
    """

    def forward(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        sample_losses = np.mean(np.abs(y_true - y_pred), axis=-1)
        return sample_losses

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> None:
        samples = len(dvalues)
        outputs = len(dvalues[0])
        self.dinputs = np.sign(dvalues - y_true) / outputs
        self.dinputs = self.dinputs / samples
