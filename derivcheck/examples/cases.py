"""Ready-to-check cases: an example class, an input that shows its bug, and how to call it.

:func:`make_case` builds, for any registered example class, a layer and
inputs chosen so that a correct class passes a gradient check cleanly (no
point on a kink, inside the clipping range) and a broken class shows its
documented bug (regularizers on for the regularization bugs, a square layer
where the bug only runs there, labels of more than one class).

Examples
--------
>>> case = make_case("Dense_MeanInsteadOfSum", batch=4)
>>> case.kind, case.inputs.shape, case.layer.weights.shape
('dense', (4, 3), (3, 5))
>>> case.forward_kwargs
{'training': True}
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from derivcheck.errors import InputError
from derivcheck.examples import book, broken, chapters

__all__ = ["Case", "kind_of", "make_case"]

# bugs that need the penalty terms switched on to show
_REGULARIZED = (broken.Dense_ForgotL2Factor, broken.Dense_L1NoSign, broken.Dense_L2DividedByBatch)
# bugs whose backward only runs on a square layer
_SQUARE = (broken.Dense_ForgotTransposeInDinputs,)

_DENSE = (book.Layer_Dense, chapters.Layer_Dense)
_ACTIVATIONS = (
    book.Activation_ReLU,
    book.Activation_Softmax,
    book.Activation_Sigmoid,
    book.Activation_Linear,
    chapters.Activation_ReLU,
    chapters.Activation_Softmax,
)
_SOFTMAX_LOSS = (
    book.Activation_Softmax_Loss_CategoricalCrossentropy,
    chapters.Activation_Softmax_Loss_CategoricalCrossentropy,
)
_CCE = (book.Loss_CategoricalCrossentropy, chapters.Loss_CategoricalCrossentropy)

_REGULARIZER_NAMES = (
    "weight_regularizer_l1",
    "weight_regularizer_l2",
    "bias_regularizer_l1",
    "bias_regularizer_l2",
)
#: strength of every L1/L2 regularizer in a regularized case
REGULARIZER_STRENGTH = 0.1


@dataclass
class Case:
    """One example object with inputs, ready for a gradient check.

    Attributes
    ----------
    name : str
        The class name (registry key where the class is registered).
    kind : str
        ``"dense"``, ``"dropout"``, ``"activation"``, ``"loss"`` (``forward(y_pred,
        y_true)`` returns per-sample losses; ``backward(y_pred, y_true)``) or
        ``"softmax_loss"`` (``forward(logits, y_true)`` returns the mean loss;
        ``backward`` takes ``layer.output``, the softmax, not the logits).
    layer : object
        The constructed example.
    inputs : ndarray
        The layer's inputs; for a loss, the predictions ``y_pred``.
    y_true : ndarray or None
        Targets for a loss, else ``None``.
    forward_kwargs : dict
        Extra keyword arguments for ``forward`` (``{"training": True}`` for the
        final-chapter layers and activations).
    regularized : bool
        True when the layer has L1/L2 regularizers on: its ``backward`` then
        differentiates ``probe + regularization_penalty(layer)``.
    seed : int
        The seed the case was built with.
    at_kink : bool
        Whether ``make_case`` was asked to put points on a kink.
    """

    name: str
    kind: str
    layer: Any
    inputs: np.ndarray
    y_true: np.ndarray | None = None
    forward_kwargs: dict[str, Any] = field(default_factory=dict)
    regularized: bool = False
    seed: int = 0
    at_kink: bool = False


def kind_of(cls: type) -> str:
    """The calling convention of an example class.

    Returns one of ``"dense"``, ``"dropout"``, ``"activation"``, ``"loss"``,
    ``"softmax_loss"``.

    Raises
    ------
    InputError
        If ``cls`` is not one of the example classes or a subclass of one.

    Examples
    --------
    >>> kind_of(book.Loss_MeanSquaredError), kind_of(broken.ReLU_NoCopy)
    ('loss', 'activation')
    """
    if not isinstance(cls, type):
        raise InputError(f"`cls` must be a class, got {cls!r}.")
    if issubclass(cls, _DENSE):
        return "dense"
    if issubclass(cls, book.Layer_Dropout):
        return "dropout"
    if issubclass(cls, _ACTIVATIONS):
        return "activation"
    if issubclass(cls, _SOFTMAX_LOSS):
        return "softmax_loss"
    if issubclass(cls, (book.Loss, chapters.Loss)) and cls not in (book.Loss, chapters.Loss):
        return "loss"
    raise InputError(
        f"`cls` must be a layer, activation or loss from derivcheck.examples, got {cls!r}."
    )


def _resolve(name_or_class: str | type) -> tuple[str, Any]:
    if isinstance(name_or_class, type):
        return name_or_class.__name__, name_or_class
    if not isinstance(name_or_class, str):
        raise InputError(
            f"`name_or_class` must be a registry name or a class, got {name_or_class!r}."
        )
    from derivcheck.examples import BROKEN, CORRECT, KINK_CONVENTION

    for registry in (CORRECT, BROKEN, KINK_CONVENTION):
        if name_or_class in registry:
            return name_or_class, registry[name_or_class]
    known = ", ".join(sorted({*CORRECT, *BROKEN, *KINK_CONVENTION}))
    raise InputError(
        f"`name_or_class` {name_or_class!r} is not a registered example; known: {known}."
    )


def _clear_of_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values with |x| in [0.1, 2] and random sign: clear of the kinks of ReLU, |x| and sign."""
    return rng.uniform(0.1, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def _labels(rng: np.random.Generator, batch: int, classes: int) -> np.ndarray:
    """Sparse labels that use more than one class whenever batch and classes allow."""
    return rng.permutation(np.arange(batch) % classes)


def _softmax(logits: np.ndarray) -> np.ndarray:
    exp_values = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp_values / exp_values.sum(axis=1, keepdims=True)


def make_case(
    name_or_class: str | type,
    *,
    seed: int = 0,
    batch: int = 4,
    n_inputs: int = 3,
    n_neurons: int | None = None,
    regularized: bool | None = None,
    at_kink: bool = False,
) -> Case:
    """Build an example object and inputs that a gradient check can run on.

    Parameters
    ----------
    name_or_class : str or type
        A key of ``CORRECT``, ``BROKEN`` or ``KINK_CONVENTION``, or an example class.
    seed : int, default 0
        Seeds a local generator for the inputs and (temporarily) numpy's
        global state while the layer is built; the caller's global state is
        restored.
    batch : int, default 4
        Number of samples.
    n_inputs : int, default 3
        Features per sample (for a loss: outputs per sample, or classes).
    n_neurons : int, optional
        Dense layers only; default ``n_inputs + 2``, or ``n_inputs`` for a
        class whose bug only runs on a square layer.
    regularized : bool, optional
        Dense layers only: switch every L1/L2 regularizer on at
        ``REGULARIZER_STRENGTH``.  Default: on exactly for the regularization bugs.
    at_kink : bool, default False
        Put some points exactly on a kink: every third activation input is 0
        (ReLU), every third dense weight and every other bias is 0 (the L1
        penalty, when regularized), every third mean-absolute-error prediction
        equals its target.  Other examples have no kink and are unchanged.
        A checker must not report a mismatch for a correct class at a kink.

    Returns
    -------
    Case
        Dense parameters are drawn clear of 0 (the L1 kink), activation inputs
        clear of 0 (the ReLU kink), probabilities inside the clipping range,
        mean-absolute-error predictions clear of the targets (unless ``at_kink``).

    Raises
    ------
    InputError
        For an unknown name or a size below 1.

    Examples
    --------
    >>> case = make_case("Loss_CategoricalCrossentropy", batch=3, seed=1)
    >>> case.kind, case.y_true.tolist()
    ('loss', [1, 0, 2])
    >>> print(np.round(case.inputs.sum(axis=1), 12))
    [1. 1. 1.]
    """
    # Long on purpose: a table of example cases, one short branch per kind of layer.
    name, cls = _resolve(name_or_class)
    for label, value, minimum in (
        ("seed", seed, 0),
        ("batch", batch, 1),
        ("n_inputs", n_inputs, 1),
        ("n_neurons", n_neurons, 1),
    ):
        if value is None and label == "n_neurons":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise InputError(f"`{label}` must be an integer >= {minimum}, got {value!r}.")
    if not isinstance(at_kink, bool):
        raise InputError(f"`at_kink` must be True or False, got {at_kink!r}.")
    kind = kind_of(cls)
    rng = np.random.default_rng(seed)
    takes_training = "training" in inspect.signature(cls.forward).parameters
    forward_kwargs: dict[str, Any] = {"training": True} if takes_training else {}

    regularizers: dict[str, float] = {}
    if kind == "dense" and (issubclass(cls, _REGULARIZED) if regularized is None else regularized):
        if not issubclass(cls, book.Layer_Dense):
            raise InputError(f"`regularized` needs a layer with regularizers; {name} has none.")
        regularizers = dict.fromkeys(_REGULARIZER_NAMES, REGULARIZER_STRENGTH)

    state = np.random.get_state()
    try:
        np.random.seed(seed)  # the book's classes draw their weights from the global state
        if kind == "dense":
            square = issubclass(cls, _SQUARE)
            n_out = n_neurons if n_neurons is not None else n_inputs + (0 if square else 2)
            layer = cls(n_inputs, n_out, **regularizers)
        else:
            layer = cls(0.5) if kind == "dropout" else cls()
    finally:
        np.random.set_state(state)

    y_true: np.ndarray | None = None
    if kind == "dense":
        layer.weights = _clear_of_zero(rng, layer.weights.shape) / 2
        layer.biases = _clear_of_zero(rng, layer.biases.shape) / 2
        inputs = rng.standard_normal((batch, n_inputs))
        if at_kink:  # the L1 penalty's kink (its gradient is +1 there in the book)
            layer.weights.flat[::3] = 0.0
            layer.biases.flat[::2] = 0.0
    elif kind in ("dropout", "activation"):
        inputs = _clear_of_zero(rng, (batch, n_inputs))
        if at_kink:  # ReLU's kink
            inputs.flat[::3] = 0.0
    elif kind == "softmax_loss":
        inputs = rng.standard_normal((batch, n_inputs))
        y_true = _labels(rng, batch, n_inputs)
    elif issubclass(cls, _CCE):
        inputs = _softmax(rng.standard_normal((batch, n_inputs)))
        y_true = _labels(rng, batch, n_inputs)
    elif issubclass(cls, book.Loss_BinaryCrossentropy):
        inputs = rng.uniform(0.1, 0.9, size=(batch, n_inputs))
        y_true = rng.integers(0, 2, size=(batch, n_inputs)).astype(float)
    elif issubclass(cls, book.Loss_MeanAbsoluteError):
        y_true = rng.standard_normal((batch, n_inputs))
        inputs = y_true + _clear_of_zero(rng, (batch, n_inputs))
        if at_kink:  # |y_pred - y_true| at a tie
            inputs.flat[::3] = y_true.flat[::3]
    else:
        inputs = rng.standard_normal((batch, n_inputs))
        y_true = rng.standard_normal((batch, n_inputs))
    if kind in ("loss", "softmax_loss"):
        forward_kwargs = {}
    return Case(
        name=name,
        kind=kind,
        layer=layer,
        inputs=inputs,
        y_true=y_true,
        forward_kwargs=forward_kwargs,
        regularized=bool(regularizers),
        seed=seed,
        at_kink=at_kink,
    )
