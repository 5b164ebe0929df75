"""Classic broken backward passes, each a subclass of its correct twin in :mod:`.book`.

Every class here has one bug that a gradient checker must catch.  The first
line of its docstring says what is wrong and in which gradient; two class
attributes say the same for programs:

``wrong_gradients``
    the ``d*`` attributes whose values (or shapes, or presence) are wrong;
    empty when every gradient is right but ``backward`` has a side effect.
``defect``
    ``"value"`` (wrong numbers), ``"shape"`` (wrong shape, right numbers),
    ``"missing"`` (never set), or ``"mutation"`` (right gradients, but
    ``backward`` overwrites the caller's ``dvalues``).

The correct twin is the class's first base.  Some bugs need a particular
setup to show (regularizers switched on, a square layer, labels that are not
all the same class); :func:`derivcheck.examples.cases.make_case` builds a
case that shows each one.

Examples
--------
>>> import numpy as np
>>> from derivcheck.examples.book import Loss_MeanSquaredError
>>> y_pred, y_true = np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]])
>>> good, bad = Loss_MeanSquaredError(), MSE_MissingFactor2()
>>> good.backward(y_pred, y_true); bad.backward(y_pred, y_true)
>>> print(good.dinputs, bad.dinputs)
[[1. 2.]] [[0.5 1. ]]
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from derivcheck.examples.book import (
    Activation_ReLU,
    Activation_Sigmoid,
    Activation_Softmax,
    Activation_Softmax_Loss_CategoricalCrossentropy,
    Layer_Dense,
    Layer_Dropout,
    Loss_BinaryCrossentropy,
    Loss_CategoricalCrossentropy,
    Loss_MeanAbsoluteError,
    Loss_MeanSquaredError,
)

__all__ = [
    "BCE_MissingOutputsDivision",
    "CCE_MissingSamplesDivision",
    "Dense_BiasGradWrongShape",
    "Dense_BiasSumWrongAxis",
    "Dense_ForgetsBiasGrad",
    "Dense_ForgotL2Factor",
    "Dense_ForgotTransposeInDinputs",
    "Dense_L1NoSign",
    "Dense_L2DividedByBatch",
    "Dense_MeanInsteadOfSum",
    "Dense_MutatesDvalues",
    "Dense_OneRowWrong",
    "Dense_OneWeightOffByOnePercent",
    "Dense_TransposedWeights",
    "Dense_TransposedWeightsReshaped",
    "Dropout_BackwardUnscaled",
    "Dropout_NewMaskInBackward",
    "Loss_MeanAbsoluteError_Book",
    "MSE_MissingFactor2",
    "MSE_SignFlipped",
    "ReLU_ForgetsDvalues",
    "ReLU_MaskFromDvalues",
    "ReLU_NoCopy",
    "Sigmoid_MissingOutputFactor",
    "Sigmoid_UsesInputs",
    "SoftmaxCCE_ColumnIndexing",
    "SoftmaxCCE_NoSamplesDivision",
    "Softmax_DiagonalOnly",
    "Softmax_NoReshape",
]


def _regularization_gradients(layer: Layer_Dense) -> tuple[np.ndarray, np.ndarray]:
    """The book's L1/L2 terms for ``dweights`` and ``dbiases`` (zeros when switched off)."""
    dweights = np.zeros_like(layer.weights)
    dbiases = np.zeros_like(layer.biases)
    if layer.weight_regularizer_l1 > 0:
        dL1 = np.ones_like(layer.weights)
        dL1[layer.weights < 0] = -1
        dweights += layer.weight_regularizer_l1 * dL1
    if layer.weight_regularizer_l2 > 0:
        dweights += 2 * layer.weight_regularizer_l2 * layer.weights
    if layer.bias_regularizer_l1 > 0:
        dL1 = np.ones_like(layer.biases)
        dL1[layer.biases < 0] = -1
        dbiases += layer.bias_regularizer_l1 * dL1
    if layer.bias_regularizer_l2 > 0:
        dbiases += 2 * layer.bias_regularizer_l2 * layer.biases
    return dweights, dbiases


# --- Dense -----------------------------------------------------------------------------


class Dense_MeanInsteadOfSum(Layer_Dense):
    """dbiases is the batch mean of dvalues instead of the sum: too small by the batch size.

    dbiases = correct dbiases / batch size (with no bias regularizer).
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dbiases",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray) -> None:
        reg_w, reg_b = _regularization_gradients(self)
        self.dweights = np.dot(self.inputs.T, dvalues) + reg_w
        self.dbiases = np.mean(dvalues, axis=0, keepdims=True) + reg_b
        self.dinputs = np.dot(dvalues, self.weights.T)


class Dense_TransposedWeights(Layer_Dense):
    """dweights is computed as dvalues.T @ inputs: the transpose, of shape (n_neurons, n_inputs).

    Wrong shape for a non-square layer (``defect`` says ``"shape"``); for a
    square layer the shape fits and the values are the transpose of the
    correct dweights.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dweights",)
    defect: ClassVar[str] = "shape"

    def backward(self, dvalues: np.ndarray) -> None:
        reg_w, reg_b = _regularization_gradients(self)
        self.dweights = np.dot(dvalues.T, self.inputs) + reg_w.T
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True) + reg_b
        self.dinputs = np.dot(dvalues, self.weights.T)


class Dense_TransposedWeightsReshaped(Layer_Dense):
    """dweights is dvalues.T @ inputs reshaped to the weights' shape: right shape, scrambled values.

    dweights = correct dweights.T reshaped (row-major) to (n_inputs, n_neurons);
    for a square layer that is exactly the transpose.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dweights",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray) -> None:
        reg_w, reg_b = _regularization_gradients(self)
        # the shape error of the plain transpose "fixed" with a reshape
        self.dweights = np.dot(dvalues.T, self.inputs).reshape(self.weights.shape) + reg_w
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True) + reg_b
        self.dinputs = np.dot(dvalues, self.weights.T)


class Dense_ForgotTransposeInDinputs(Layer_Dense):
    """dinputs is dvalues @ weights (no .T): wrong dinputs values; runs only for square layers.

    For a non-square layer the product raises ``ValueError`` (shapes do not
    align); for a square layer dinputs = dvalues @ weights instead of
    dvalues @ weights.T.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dinputs",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray) -> None:
        reg_w, reg_b = _regularization_gradients(self)
        self.dweights = np.dot(self.inputs.T, dvalues) + reg_w
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True) + reg_b
        self.dinputs = np.dot(dvalues, self.weights)


class Dense_ForgotL2Factor(Layer_Dense):
    """dweights adds the L2 term λ₂·w instead of 2·λ₂·w: dweights too small by λ₂·w.

    Shows only with ``weight_regularizer_l2 > 0``; dweights = correct − λ₂·w.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dweights",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray) -> None:
        _, reg_b = _regularization_gradients(self)
        self.dweights = np.dot(self.inputs.T, dvalues)
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True) + reg_b
        if self.weight_regularizer_l1 > 0:
            dL1 = np.ones_like(self.weights)
            dL1[self.weights < 0] = -1
            self.dweights += self.weight_regularizer_l1 * dL1
        if self.weight_regularizer_l2 > 0:
            self.dweights += self.weight_regularizer_l2 * self.weights  # the 2 is missing
        self.dinputs = np.dot(dvalues, self.weights.T)


class Dense_L1NoSign(Layer_Dense):
    """dweights adds the L1 term λ₁ instead of λ₁·sign(w): wrong dweights wherever w < 0.

    Shows only with ``weight_regularizer_l1 > 0``; dweights = correct + 2·λ₁
    where w < 0, equal elsewhere.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dweights",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray) -> None:
        _, reg_b = _regularization_gradients(self)
        self.dweights = np.dot(self.inputs.T, dvalues)
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True) + reg_b
        if self.weight_regularizer_l1 > 0:
            self.dweights += self.weight_regularizer_l1  # the sign of w is forgotten
        if self.weight_regularizer_l2 > 0:
            self.dweights += 2 * self.weight_regularizer_l2 * self.weights
        self.dinputs = np.dot(dvalues, self.weights.T)


class Dense_L2DividedByBatch(Layer_Dense):
    """dweights divides the L2 term 2·λ₂·w by the batch size: the penalty gradient is too small.

    Shows only with ``weight_regularizer_l2 > 0`` and a batch of more than one;
    dweights = correct − 2·λ₂·w·(1 − 1/batch).
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dweights",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray) -> None:
        samples = len(dvalues)
        _, reg_b = _regularization_gradients(self)
        self.dweights = np.dot(self.inputs.T, dvalues)
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True) + reg_b
        if self.weight_regularizer_l1 > 0:
            dL1 = np.ones_like(self.weights)
            dL1[self.weights < 0] = -1
            self.dweights += self.weight_regularizer_l1 * dL1
        if self.weight_regularizer_l2 > 0:
            # averaged like the data gradient, but the penalty is added once, not per sample
            self.dweights += 2 * self.weight_regularizer_l2 * self.weights / samples
        self.dinputs = np.dot(dvalues, self.weights.T)


class Dense_MutatesDvalues(Layer_Dense):
    """backward zeroes the caller's dvalues after use: all gradients right, dvalues destroyed.

    dweights, dbiases and dinputs equal the twin's; afterwards ``dvalues`` is all zeros.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ()
    defect: ClassVar[str] = "mutation"

    def backward(self, dvalues: np.ndarray) -> None:
        super().backward(dvalues)
        dvalues[...] = 0  # "free the upstream buffer": but it belongs to the caller


class Dense_OneRowWrong(Layer_Dense):
    """dinputs is computed per sample from index 1 (off by one): row 0 of dinputs stays zero.

    dinputs[1:] is right; dinputs[0] is 0 instead of dvalues[0] @ weights.T.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dinputs",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray) -> None:
        reg_w, reg_b = _regularization_gradients(self)
        self.dweights = np.dot(self.inputs.T, dvalues) + reg_w
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True) + reg_b
        self.dinputs = np.zeros((len(dvalues), self.weights.shape[0]))
        for i in range(1, len(dvalues)):
            self.dinputs[i] = np.dot(dvalues[i], self.weights.T)


class Dense_ForgetsBiasGrad(Layer_Dense):
    """backward never sets dbiases: the bias gradient is missing.

    dweights and dinputs are right; the attribute ``dbiases`` does not exist.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dbiases",)
    defect: ClassVar[str] = "missing"

    def backward(self, dvalues: np.ndarray) -> None:
        reg_w, _ = _regularization_gradients(self)
        self.dweights = np.dot(self.inputs.T, dvalues) + reg_w
        self.dinputs = np.dot(dvalues, self.weights.T)


class Dense_BiasGradWrongShape(Layer_Dense):
    """dbiases is summed without keepdims: shape (n_neurons,) instead of the biases' (1, n_neurons).

    The values are right; only the shape differs from the parameter's.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dbiases",)
    defect: ClassVar[str] = "shape"

    def backward(self, dvalues: np.ndarray) -> None:
        super().backward(dvalues)
        self.dbiases = self.dbiases.reshape(-1)


class Dense_BiasSumWrongAxis(Layer_Dense):
    """dbiases sums dvalues over axis 1 (neurons) instead of axis 0 (samples): shape (batch, 1).

    dbiases = dvalues.sum(axis=1, keepdims=True): wrong shape and wrong values.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dbiases",)
    defect: ClassVar[str] = "shape"

    def backward(self, dvalues: np.ndarray) -> None:
        reg_w, _ = _regularization_gradients(self)
        self.dweights = np.dot(self.inputs.T, dvalues) + reg_w
        self.dbiases = np.sum(dvalues, axis=1, keepdims=True)
        self.dinputs = np.dot(dvalues, self.weights.T)


class Dense_OneWeightOffByOnePercent(Layer_Dense):
    """dweights[-1, -1] is 1 % too large (synthetic): one wrong entry among many.

    A fixture for localisation and for the directional-probe mode: every
    other entry of every gradient is right.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dweights",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray) -> None:
        super().backward(dvalues)
        self.dweights[-1, -1] *= 1.01


# --- Dropout ---------------------------------------------------------------------------


class Dropout_BackwardUnscaled(Layer_Dropout):
    """dinputs uses the 0/1 mask without the 1/keep scaling that forward applied: too small.

    dinputs = correct dinputs · keep rate (``self.rate``).
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dinputs",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray) -> None:
        self.dinputs = dvalues * (self.binary_mask > 0)


class Dropout_NewMaskInBackward(Layer_Dropout):
    """dinputs uses a freshly drawn mask instead of forward's: wrong wherever the masks differ.

    Draws from numpy's global random state in ``backward``; with a drop rate
    strictly between 0 and 1 and more than a few entries the masks differ.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dinputs",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray) -> None:
        mask = np.random.binomial(1, self.rate, size=dvalues.shape) / self.rate
        self.dinputs = dvalues * mask


# --- Activations -----------------------------------------------------------------------


class ReLU_MaskFromDvalues(Activation_ReLU):
    """dinputs is masked where dvalues <= 0 instead of where inputs <= 0: wrong dinputs.

    dinputs = dvalues · 1(dvalues > 0), whatever the inputs.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dinputs",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray) -> None:
        self.dinputs = dvalues.copy()
        self.dinputs[dvalues <= 0] = 0


class ReLU_ForgetsDvalues(Activation_ReLU):
    """dinputs is the local derivative 1(inputs > 0) alone: the upstream dvalues are dropped.

    dinputs = 1(inputs > 0) instead of dvalues · 1(inputs > 0) (the chain rule's
    outer factor is missing).
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dinputs",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray) -> None:
        self.dinputs = np.ones_like(dvalues)
        self.dinputs[self.inputs <= 0] = 0


class ReLU_NoCopy(Activation_ReLU):
    """backward masks dvalues in place (no .copy()): dinputs right, the caller's dvalues changed.

    dinputs equals the twin's, but it *is* ``dvalues``, now zeroed where inputs <= 0.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ()
    defect: ClassVar[str] = "mutation"

    def backward(self, dvalues: np.ndarray) -> None:
        self.dinputs = dvalues
        self.dinputs[self.inputs <= 0] = 0


class Sigmoid_MissingOutputFactor(Activation_Sigmoid):
    """dinputs is dvalues·(1 − s), missing the factor s: wrong dinputs.

    dinputs = correct dinputs / s, where s is the sigmoid output.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dinputs",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray) -> None:
        self.dinputs = dvalues * (1 - self.output)


class Sigmoid_UsesInputs(Activation_Sigmoid):
    """dinputs uses the inputs x in place of the output s: dvalues·(1 − x)·x, wrong dinputs."""

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dinputs",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray) -> None:
        self.dinputs = dvalues * (1 - self.inputs) * self.inputs


class Softmax_DiagonalOnly(Activation_Softmax):
    """dinputs uses only diag(s) of the Jacobian, dropping −s sᵀ: dinputs = s · dvalues, wrong.

    The correct value is s · (dvalues − Σ s·dvalues) per sample.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dinputs",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray) -> None:
        self.dinputs = self.output * dvalues


class Softmax_NoReshape(Activation_Softmax):
    """dinputs uses np.dot(s, s.T) of a 1-D row, the scalar s·s, not s sᵀ: wrong dinputs.

    Each sample's Jacobian becomes diag(s) − (s·s)·ones instead of diag(s) − s sᵀ.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dinputs",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray) -> None:
        self.dinputs = np.empty_like(dvalues)
        for index, (single_output, single_dvalues) in enumerate(
            zip(self.output, dvalues, strict=True)
        ):
            # the .reshape(-1, 1) is missing, so .T does nothing and dot is a scalar
            jacobian_matrix = np.diagflat(single_output) - np.dot(single_output, single_output.T)
            self.dinputs[index] = np.dot(jacobian_matrix, single_dvalues)


# --- Losses ----------------------------------------------------------------------------


class Loss_MeanAbsoluteError_Book(Loss_MeanAbsoluteError):
    """The book's published MAE backward, sign(y_true − y_pred): dinputs has the wrong sign.

    dinputs = −(correct dinputs); the true gradient is sign(y_pred − y_true).
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dinputs",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> None:
        samples = len(dvalues)
        outputs = len(dvalues[0])
        self.dinputs = np.sign(y_true - dvalues) / outputs
        self.dinputs = self.dinputs / samples


class CCE_MissingSamplesDivision(Loss_CategoricalCrossentropy):
    """dinputs is not divided by the number of samples: too large by the batch size.

    dinputs = correct dinputs · samples.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dinputs",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> None:
        labels = len(dvalues[0])
        if len(y_true.shape) == 1:
            y_true = np.eye(labels)[y_true]
        self.dinputs = -y_true / dvalues


class BCE_MissingOutputsDivision(Loss_BinaryCrossentropy):
    """dinputs is not divided by the number of outputs: too large by the output count.

    dinputs = correct dinputs · outputs (shows when there is more than one output).
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dinputs",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> None:
        samples = len(dvalues)
        clipped_dvalues = np.clip(dvalues, 1e-7, 1 - 1e-7)
        self.dinputs = -(y_true / clipped_dvalues - (1 - y_true) / (1 - clipped_dvalues))
        self.dinputs = self.dinputs / samples


class MSE_SignFlipped(Loss_MeanSquaredError):
    """dinputs is 2·(y_true − y_pred)/outputs/samples, the sign flipped: dinputs = −correct."""

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dinputs",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> None:
        samples = len(dvalues)
        outputs = len(dvalues[0])
        self.dinputs = 2 * (y_true - dvalues) / outputs
        self.dinputs = self.dinputs / samples


class MSE_MissingFactor2(Loss_MeanSquaredError):
    """dinputs lacks the factor 2 of the square's derivative: dinputs = correct / 2."""

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dinputs",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> None:
        samples = len(dvalues)
        outputs = len(dvalues[0])
        self.dinputs = -(y_true - dvalues) / outputs
        self.dinputs = self.dinputs / samples


class SoftmaxCCE_NoSamplesDivision(Activation_Softmax_Loss_CategoricalCrossentropy):
    """dinputs (ŷ − y) is not divided by the number of samples: too large by the batch size.

    dinputs = correct dinputs · samples.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dinputs",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> None:
        samples = len(dvalues)
        if len(y_true.shape) == 2:
            y_true = np.argmax(y_true, axis=1)
        self.dinputs = dvalues.copy()
        self.dinputs[range(samples), y_true] -= 1


class SoftmaxCCE_ColumnIndexing(Activation_Softmax_Loss_CategoricalCrossentropy):
    """dinputs[:, y_true] -= 1 subtracts 1 in every row at every label column: wrong dinputs.

    The book's ``dinputs[range(samples), y_true]`` picks one entry per row;
    ``[:, y_true]`` picks whole columns.  Shows when the labels are not all equal.
    """

    wrong_gradients: ClassVar[tuple[str, ...]] = ("dinputs",)
    defect: ClassVar[str] = "value"

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> None:
        samples = len(dvalues)
        if len(y_true.shape) == 2:
            y_true = np.argmax(y_true, axis=1)
        self.dinputs = dvalues.copy()
        self.dinputs[:, y_true] -= 1
        self.dinputs = self.dinputs / samples
