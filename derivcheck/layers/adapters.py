"""Layer conventions: how to call forward and backward, which arrays are
parameters, where the gradients are, and the scalar probe ``sum(output * G)``.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from derivcheck.errors import InputError
from derivcheck.layers.state import set_generator_state

#: The seed numpy's global random state (and any generator the layer holds) is reset to
#: before every forward, so dropout draws the same mask every time.
RANDOM_SEED = 1234


NOT_PARAMS = frozenset({"inputs", "output", "dinputs", "binary_mask"})


REGULARIZERS = (
    ("weights", "weight_regularizer_l1", "weight_regularizer_l2"),
    ("biases", "bias_regularizer_l1", "bias_regularizer_l2"),
)


class CheckFailed(Exception):
    """Internal: stop the check; the failures gathered so far are the report."""


@dataclass
class Tensor:
    """One array the probe depends on, and the gradient the backward gave for it."""

    name: str  # "inputs", "weights", ...
    array: np.ndarray  # the very array forward reads (perturbed in place)
    grad_name: str  # "dinputs", "dweights", ...
    grad: np.ndarray | None = None
    ok: bool = True  # gradient present, right shape, finite: entries can be compared


@dataclass
class Adapter:
    """Drives one layer: how to call forward and backward, and the scalar probe."""

    layer: Any
    x: np.ndarray
    y_true: np.ndarray | None
    forward_kwargs: dict[str, Any]
    kind: str = "layer"  # "layer" | "layer_returns" | "loss" | "combined"
    pass_training: bool = False
    reseed_global: bool = False
    generators: list[tuple[Any, Any]] = field(default_factory=list)
    G: np.ndarray | None = None
    G64: np.ndarray | None = None
    penalty: Callable[[Any], Any] | None = None

    def forward_raw(self, inputs: Any) -> Any:
        """One forward call with the randomness frozen."""
        if self.reseed_global:
            np.random.seed(RANDOM_SEED)
        for gen, state in self.generators:
            set_generator_state(gen, state)
        if self.y_true is not None:
            return self.layer.forward(inputs, self.y_true, **self.forward_kwargs)
        if self.pass_training:
            return self.layer.forward(inputs, True, **self.forward_kwargs)
        return self.layer.forward(inputs, **self.forward_kwargs)

    @property
    def is_layer(self) -> bool:
        return self.kind in ("layer", "layer_returns")

    def make_probe(self) -> Callable[[], float]:
        """The scalar the engine differentiates; kept lean (it runs thousands of times)."""
        layer, x, y = self.layer, self.x, self.y_true
        fwd, kw = layer.forward, self.forward_kwargs
        if self.kind == "layer_returns":  # forward returns its output instead of storing it
            call, G64r, penr = self.forward_raw, self.G64, self.penalty

            def probe_returned() -> float:
                value = float(np.vdot(call(x), G64r))
                return value + float(penr(layer)) if penr is not None else value

            return probe_returned
        if self.reseed_global or self.generators:
            call = self.forward_raw
            if self.kind == "layer":
                G64, pen = self.G64, self.penalty

                def probe_random() -> float:
                    call(x)
                    value = float(np.vdot(layer.output, G64))
                    return value + float(pen(layer)) if pen is not None else value

                return probe_random
            if self.kind == "loss":
                return lambda: float(np.mean(call(x)))
            return lambda: float(call(x))
        if self.kind == "layer":
            G64, pen = self.G64, self.penalty
            if self.pass_training:
                if pen is None:

                    def probe_training() -> float:
                        fwd(x, True, **kw)
                        return float(np.vdot(layer.output, G64))

                    return probe_training

                def probe_training_penalty() -> float:
                    fwd(x, True, **kw)
                    return float(np.vdot(layer.output, G64)) + float(pen(layer))

                return probe_training_penalty
            if pen is None:

                def probe_plain() -> float:
                    fwd(x, **kw)
                    return float(np.vdot(layer.output, G64))

                return probe_plain

            def probe_plain_penalty() -> float:
                fwd(x, **kw)
                return float(np.vdot(layer.output, G64)) + float(pen(layer))

            return probe_plain_penalty
        if self.kind == "loss":
            return lambda: float(np.mean(fwd(x, y, **kw)))
        return lambda: float(fwd(x, y, **kw))

    def dvalues(self) -> np.ndarray:
        """A fresh copy of what backward receives (after a forward at the unperturbed point)."""
        if self.is_layer:
            assert self.G is not None
            return self.G.copy()
        if self.kind == "loss":
            return self.x.copy()
        return np.array(self.layer.output, copy=True)

    def backward(self, dvalues: np.ndarray) -> Any:
        if self.y_true is not None:
            return self.layer.backward(dvalues, self.y_true)
        return self.layer.backward(dvalues)


def takes_training(forward: Callable[..., Any], forward_kwargs: dict[str, Any]) -> bool:
    """Whether forward wants a second positional argument (the book's ``training`` flag)."""
    try:
        positional = _positional_parameters(forward)
    except (TypeError, ValueError):
        return False
    if len(positional) < 2 or positional[1].name in forward_kwargs:
        return False
    second = positional[1]
    return second.default is inspect.Parameter.empty or second.name == "training"


def _positional_parameters(forward: Callable[..., Any]) -> tuple[inspect.Parameter, ...]:
    """The positional parameters of ``forward``: per class, a bound method's signature
    costs more than a small layer's forward."""
    function = getattr(forward, "__func__", None)
    if function is not None and inspect.isfunction(function):
        return _function_positionals(function)[1:]  # without self
    return _positionals(inspect.signature(forward))


@functools.lru_cache(maxsize=256)
def _function_positionals(function: Callable[..., Any]) -> tuple[inspect.Parameter, ...]:
    return _positionals(inspect.signature(function))


def _positionals(sig: inspect.Signature) -> tuple[inspect.Parameter, ...]:
    return tuple(
        p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    )


def book_penalty(layer: Any) -> Any:
    """The book's L1/L2 penalty of a layer: ``λ₁·Σ|w| + λ₂·Σw²`` for weights and biases.

    This is what the regularizer terms a regularized ``Layer_Dense.backward``
    adds to ``dweights``/``dbiases`` differentiate; :func:`check_layer` adds it
    to the probe of any layer with ``weight_regularizer_l1`` ...
    ``bias_regularizer_l2`` attributes.

    Examples
    --------
    >>> from derivcheck.examples.book import Layer_Dense
    >>> layer = Layer_Dense(2, 2, weight_regularizer_l1=0.5, bias_regularizer_l2=0.25)
    >>> layer.weights = np.array([[1.0, -2.0], [0.0, 3.0]])
    >>> layer.biases = np.array([[2.0, -1.0]])
    >>> print(float(book_penalty(layer)))
    4.25
    """
    total: Any = 0.0
    for array_name, l1_name, l2_name in REGULARIZERS:
        l1: Any = getattr(layer, l1_name, 0) or 0
        l2: Any = getattr(layer, l2_name, 0) or 0
        if l1 > 0:
            total = total + l1 * np.sum(np.abs(getattr(layer, array_name)))
        if l2 > 0:
            arr = getattr(layer, array_name)
            total = total + l2 * np.sum(arr * arr)
    return total


def has_regularizers(layer: Any) -> bool:
    for array_name, l1_name, l2_name in REGULARIZERS:
        for name in (l1_name, l2_name):
            value = getattr(layer, name, 0)
            if isinstance(value, numbers.Real) and float(value) > 0 and hasattr(layer, array_name):
                return True
    return False


def candidate_params(layer: Any) -> list[str]:
    """Floating arrays the layer holds before the check's first forward (gradients excluded)."""
    attrs = vars(layer) if hasattr(layer, "__dict__") else {}
    names = []
    for name, value in attrs.items():
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.size == 0:
            continue
        if name in NOT_PARAMS or (name.startswith("d") and name[1:] in attrs):
            continue
        names.append(name)
    return names


MISSING = object()


def read_gradients(
    attrs: dict[str, Any],
    tensors: list[Tensor],
    returned: Any,
    stale: dict[str, tuple[np.ndarray, bytes]],
) -> dict[str, Any]:
    """The gradients backward produced, copied (a layer may reuse its buffers); MISSING for
    those it did not set.  A backward that returns an array instead of setting ``dinputs``
    is taken at its word."""
    grads: dict[str, Any] = {}
    for t in tensors:
        value = attrs.get(t.grad_name, MISSING)
        old = stale.get(t.grad_name)
        if old is not None and value is old[0] and value.tobytes() == old[1]:
            value = MISSING
        grads[t.grad_name] = value.copy() if isinstance(value, np.ndarray) else value
    if grads.get("dinputs") is MISSING and isinstance(returned, np.ndarray):
        grads["dinputs"] = returned.copy()
    return grads


def as_float_array(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.array(value, copy=True)
    except (TypeError, ValueError) as exc:
        raise InputError(f"`{name}` must be an array of numbers: {exc}") from None
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    if arr.dtype.kind != "f":
        raise InputError(f"`{name}` must be a real floating-point array, got dtype {arr.dtype}.")
    if arr.size == 0:
        raise InputError(f"`{name}` must have at least one entry.")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"`{name}` must be finite (it contains NaN or inf).")
    return arr
