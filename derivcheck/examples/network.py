"""The book's small classifier and its spiral data set, for the demo and the docs.

``Dense(2, 8) → ReLU → Dense(8, 3) → softmax + categorical cross-entropy``,
built from the chapter 9–10 classes (:mod:`derivcheck.examples.chapters`,
``forward(inputs)`` without ``training``), on the nnfs spiral data set
re-implemented with a local random generator.

Examples
--------
>>> X, y = spiral_data(samples=20, classes=3, seed=0)
>>> X.shape, y.shape
((60, 2), (60,))
>>> net = book_network(seed=0)
>>> loss = net.forward(X, y)
>>> print(round(float(loss), 3))  # about log(3): tiny weights, near-uniform softmax
1.099
>>> net.backward(y)
>>> net.dense1.dweights.shape
(2, 8)
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from derivcheck.errors import InputError
from derivcheck.examples.chapters import (
    Activation_ReLU,
    Activation_Softmax_Loss_CategoricalCrossentropy,
    Layer_Dense,
)

__all__ = ["BookNetwork", "book_network", "spiral_data"]


@dataclass
class BookNetwork:
    """The four pieces of the book's chapter 9–10 network, wired by ``forward``/``backward``."""

    dense1: Layer_Dense
    activation1: Activation_ReLU
    dense2: Layer_Dense
    loss_activation: Activation_Softmax_Loss_CategoricalCrossentropy

    def forward(self, X: np.ndarray, y: np.ndarray) -> float:
        """Run the forward pass as the book does; return the mean loss."""
        self.dense1.forward(X)
        self.activation1.forward(self.dense1.output)
        self.dense2.forward(self.activation1.output)
        return float(self.loss_activation.forward(self.dense2.output, y))

    def backward(self, y: np.ndarray) -> None:
        """Run the backward pass as the book does (after :meth:`forward`)."""
        self.loss_activation.backward(self.loss_activation.output, y)
        self.dense2.backward(self.loss_activation.dinputs)
        self.activation1.backward(self.dense2.dinputs)
        self.dense1.backward(self.activation1.dinputs)


def _validate_count(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InputError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def book_network(seed: int = 0) -> BookNetwork:
    """Build the book's Dense(2, 8) → ReLU → Dense(8, 3) → softmax + CCE network.

    The layers draw their weights from numpy's global random state, as in the
    book; this function seeds it with ``seed`` for the construction and then
    restores the caller's state, so the result is deterministic and has no
    side effect.

    Parameters
    ----------
    seed : int, default 0
        Seed for ``np.random.seed`` while the layers are built.

    Returns
    -------
    BookNetwork
        ``dense1``, ``activation1``, ``dense2``, ``loss_activation``.

    Raises
    ------
    InputError
        If ``seed`` is not a non-negative integer.

    Examples
    --------
    >>> net = book_network(seed=0)
    >>> net.dense1.weights.shape, net.dense2.biases.shape
    ((2, 8), (1, 3))
    >>> bool((book_network(seed=0).dense2.weights == net.dense2.weights).all())
    True
    """
    seed = _validate_count("seed", seed, minimum=0)
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        return BookNetwork(
            dense1=Layer_Dense(2, 8),
            activation1=Activation_ReLU(),
            dense2=Layer_Dense(8, 3),
            loss_activation=Activation_Softmax_Loss_CategoricalCrossentropy(),
        )
    finally:
        np.random.set_state(state)


def spiral_data(samples: int, classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The nnfs spiral data set: ``classes`` interleaved spiral arms of ``samples`` points.

    Same construction as ``nnfs.datasets.spiral_data``: for class ``k``, radii
    ``linspace(0, 1, samples)`` and angles ``linspace(4k, 4(k+1), samples)``
    plus Gaussian noise of standard deviation 0.2, point ``(r sin 2.5t,
    r cos 2.5t)``.  The noise comes from ``np.random.default_rng(seed)``, so
    the global random state is untouched (values differ from nnfs's).

    Parameters
    ----------
    samples : int
        Points per class, at least 1.
    classes : int
        Number of classes, 1 to 256 (labels are ``uint8`` as in nnfs).
    seed : int, default 0
        Seed of the local random generator.

    Returns
    -------
    X : ndarray of shape (samples * classes, 2), float64
    y : ndarray of shape (samples * classes,), uint8
        Class labels ``0 .. classes - 1``, in blocks of ``samples``.

    Raises
    ------
    InputError
        If an argument is not an integer in its range.

    Examples
    --------
    >>> X, y = spiral_data(samples=3, classes=2, seed=0)
    >>> print(y)
    [0 0 0 1 1 1]
    >>> print(X[0])  # radius 0: the origin
    [0. 0.]
    """
    samples = _validate_count("samples", samples)
    classes = _validate_count("classes", classes)
    if classes > 256:
        raise InputError(f"`classes` must be at most 256 (uint8 labels), got {classes}.")
    seed = _validate_count("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)
    X = np.zeros((samples * classes, 2))
    y = np.zeros(samples * classes, dtype="uint8")
    for class_number in range(classes):
        ix = range(samples * class_number, samples * (class_number + 1))
        r = np.linspace(0.0, 1, samples)
        t = (
            np.linspace(class_number * 4, (class_number + 1) * 4, samples)
            + rng.standard_normal(samples) * 0.2
        )
        X[ix] = np.c_[r * np.sin(t * 2.5), r * np.cos(t * 2.5)]
        y[ix] = class_number
    return X, y
