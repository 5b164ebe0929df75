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
from derivcheck.layers.state import same_bits, set_generator_state

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


class ConventionError(Exception):
    """Raised by a wrapper (a function or a model seen as a layer) when what the user's code
    returned does not fit its convention; the message, which names what came back and what
    was expected, becomes a failure of the report."""


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
    #: calls of the layer's forward and backward so far (``LayerReport.evaluations``)
    forwards: int = 0
    backwards: int = 0

    def forward_raw(self, inputs: Any) -> Any:
        """One forward call with the randomness frozen."""
        self.forwards += 1
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
        fwd, kw, ad = layer.forward, self.forward_kwargs, self
        # each lean probe counts its own forward call (ad.forwards): an increment, not a
        # wrapper around forward, which would add a call per evaluation

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
                        ad.forwards += 1
                        fwd(x, True, **kw)
                        return float(np.vdot(layer.output, G64))

                    return probe_training

                def probe_training_penalty() -> float:
                    ad.forwards += 1
                    fwd(x, True, **kw)
                    return float(np.vdot(layer.output, G64)) + float(pen(layer))

                return probe_training_penalty
            if pen is None:

                def probe_plain() -> float:
                    ad.forwards += 1
                    fwd(x, **kw)
                    return float(np.vdot(layer.output, G64))

                return probe_plain

            def probe_plain_penalty() -> float:
                ad.forwards += 1
                fwd(x, **kw)
                return float(np.vdot(layer.output, G64)) + float(pen(layer))

            return probe_plain_penalty
        if self.kind == "loss":

            def probe_loss() -> float:
                ad.forwards += 1
                return float(np.mean(fwd(x, y, **kw)))

            return probe_loss

        def probe_combined() -> float:
            ad.forwards += 1
            return float(fwd(x, y, **kw))

        return probe_combined

    def probe_value(self, returned: Any) -> float | None:
        """The probe's value from what :meth:`forward_raw` just returned (and the layer's
        output), without another forward; None for a kind whose value it cannot tell."""
        if self.kind == "layer":
            value = float(np.vdot(self.layer.output, self.G64))
        elif self.kind == "layer_returns":
            value = float(np.vdot(returned, self.G64))
        elif self.kind == "loss":
            return float(np.mean(returned))
        else:
            return float(returned)
        return value + float(self.penalty(self.layer)) if self.penalty is not None else value

    def dvalues(self) -> np.ndarray:
        """A fresh copy of what backward receives (after a forward at the unperturbed point)."""
        if self.is_layer:
            assert self.G is not None
            return self.G.copy()
        if self.kind == "loss":
            return self.x.copy()
        return np.array(self.layer.output, copy=True)

    def backward(self, dvalues: np.ndarray) -> Any:
        self.backwards += 1
        if self.y_true is not None:
            return self.layer.backward(dvalues, self.y_true)
        return self.layer.backward(dvalues)


def is_combined_without_forward(obj: Any) -> bool:
    """The book's chapter 19–22 softmax + cross-entropy: a fused backward, no forward."""
    names = [k.__name__.lower().replace("_", "") for k in type(obj).__mro__]
    return (
        not callable(getattr(obj, "forward", None))
        and callable(getattr(obj, "backward", None))
        and any("softmax" in name and "crossentropy" in name for name in names)
    )


def softmax(z: Any) -> Any:
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


def mean_cross_entropy(probs: Any, y: np.ndarray) -> Any:
    """The book's categorical cross-entropy of probabilities (clipped to 1e-7, as it is)."""
    clipped = np.clip(probs, 1e-7, 1 - 1e-7)
    confidences = clipped[range(len(probs)), y] if y.ndim == 1 else np.sum(clipped * y, axis=1)
    return np.mean(-np.log(confidences))


class CombinedWithoutForward:
    """The chapter 19–22 combined softmax + cross-entropy given the forward it leaves to the
    model: ``forward(logits, y)`` sets ``output`` to the softmax and returns the mean loss;
    ``backward(dvalues, y)`` is the object's own."""

    def __init__(self, combined: Any) -> None:
        self.combined = combined

    def forward(self, inputs: Any, y_true: np.ndarray) -> Any:
        self.output = softmax(inputs)
        return mean_cross_entropy(self.output, y_true)

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> Any:
        returned = self.combined.backward(dvalues, y_true)
        if "dinputs" in vars(self.combined):
            self.dinputs = self.combined.dinputs
        return returned


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
        if name in NOT_PARAMS or name in INPUT_ALIASES or _is_gradient_name(name, attrs):
            continue
        names.append(name)
    return names


MISSING = object()


def _is_gradient_name(name: str, attrs: dict[str, Any]) -> bool:
    """``dW`` beside ``W`` (or ``w``), ``grad_W``, ``W_grad``: a gradient, not a parameter."""
    lowered = {key.lower() for key in attrs}
    return (
        (name.startswith("d") and (name[1:] in attrs or name[1:].lower() in lowered))
        or (name.startswith("grad_") and name[5:] in attrs)
        or (name.endswith("_grad") and name[:-5] in attrs)
    )


#: where a gradient may be stored, besides ``d<name>``: the input's usual names, and for a
#: parameter ``p`` the forms below (``{P}`` is ``p`` with its first letter capitalised)
INPUT_ALIASES = ("dx", "dX", "dinput", "grad_input", "grad_inputs")
PARAM_ALIASES = ("d{P}", "grad_{p}", "{p}_grad")
GRAD_DICTS = ("grads", "gradients")


def gradient_names(t: Tensor) -> list[str]:
    """The attribute names ``t``'s gradient may be stored under, the canonical one first."""
    if t.name == "inputs":
        return [t.grad_name, *INPUT_ALIASES]
    p = t.name
    P = p[:1].upper() + p[1:]
    return [t.grad_name] + [
        form.format(p=p, P=P) for form in PARAM_ALIASES if form.format(p=p, P=P) != t.grad_name
    ]


def stale_gradients(
    attrs: dict[str, Any],
    tensors: list[Tensor],
    saved: Callable[[np.ndarray], np.ndarray | None] | None = None,
) -> dict[str, Any]:
    """What every place a gradient may be stored holds before a backward: the array and a
    copy of its values (``saved(array)``, the snapshot's copy, when it has one: a stale
    134 MB ``dweights`` is not copied again, nor compared with it: only forward has run
    since it was taken, and the copy is read only if backward leaves the same array in
    place)."""

    def values(a: np.ndarray) -> np.ndarray:
        copy = saved(a) if saved is not None else None
        return a.copy() if copy is None else copy

    stale: dict[str, Any] = {}
    for t in tensors:
        for name in gradient_names(t):
            value = attrs.get(name)
            if isinstance(value, np.ndarray):
                stale[name] = (value, values(value))
        for holder in GRAD_DICTS:
            d = attrs.get(holder)
            if isinstance(d, dict) and isinstance(d.get(t.name), np.ndarray):
                stale[f"{holder}[{t.name}]"] = (d[t.name], values(d[t.name]))
    return stale


def _fresh(value: Any, old: Any) -> bool:
    return not (old is not None and value is old[0] and same_bits(value, old[1]))


def read_gradients(
    attrs: dict[str, Any],
    tensors: list[Tensor],
    returned: Any,
    stale: dict[str, tuple[np.ndarray, bytes]],
    copy: bool = True,
) -> dict[str, Any]:
    """The gradients backward produced, copied (a layer may reuse its buffers; ``copy=False``
    for the layer's own arrays, read before anything else runs); MISSING for
    those it did not set.  Looked for under ``d<name>``, then the usual other names
    (:data:`INPUT_ALIASES`, :data:`PARAM_ALIASES`, a ``grads``/``gradients`` dict), then
    in what backward returned: one array is the input gradient, a tuple or list holds
    the gradients of the inputs and parameters in order."""
    grads: dict[str, Any] = {}
    for t in tensors:
        value = MISSING
        for name in gradient_names(t):
            if name in attrs and _fresh(attrs[name], stale.get(name)):
                value = attrs[name]
                break
        if value is MISSING:
            for holder in GRAD_DICTS:
                d = attrs.get(holder)
                key = f"{holder}[{t.name}]"
                if isinstance(d, dict) and t.name in d and _fresh(d[t.name], stale.get(key)):
                    value = d[t.name]
                    break
        grads[t.grad_name] = value.copy() if copy and isinstance(value, np.ndarray) else value
    if isinstance(returned, np.ndarray):
        if grads.get("dinputs") is MISSING:
            grads["dinputs"] = returned.copy() if copy else returned
    elif isinstance(returned, tuple | list) and len(returned) == len(tensors):
        for t, value in zip(tensors, returned, strict=True):
            if grads.get(t.grad_name) is MISSING and value is not None:
                grads[t.grad_name] = (
                    value.copy() if copy and isinstance(value, np.ndarray) else value
                )
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
