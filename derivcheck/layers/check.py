"""Gradient-check hand-written ``backward`` passes: :func:`check_layer` and :func:`check_jacobian`.

A layer in the "Neural Networks from Scratch" convention has
``forward(inputs)`` (or ``forward(inputs, training)``) that sets
``self.output``, and ``backward(dvalues)`` that sets ``self.dinputs`` and a
``d<name>`` for every parameter.  :func:`check_layer` turns the layer into a
scalar *probe* -- ``sum(output * G)`` with a seeded Gaussian ``G`` (plus the
book's L1/L2 penalty when the layer has regularizers), or the mean loss for a
loss -- whose exact gradient is what ``backward(G)`` must produce, and
compares every gradient entry with central differences of the probe
(:mod:`derivcheck.fd.arrays`), and optionally with exact SymPy derivatives of
the traced forward (:mod:`derivcheck.layers.trace.core`).

Before any finite difference, contracts that need none are checked: every
gradient exists and has the shape of what it differentiates, nothing is NaN
or inf, ``backward`` is linear in ``dvalues`` and modifies neither its
``dvalues`` nor the inputs.  Whatever goes wrong -- even an exception in
``forward`` -- ends up in the returned :class:`~derivcheck.layers.report.LayerReport`;
only invalid arguments raise :class:`~derivcheck.errors.InputError`.

The check never changes the layer: every attribute is rebound to what it
was, every array the layer held is restored bit for bit, attributes the
check created are deleted, and numpy's global random state is restored.

Examples
--------
>>> import numpy as np
>>> from derivcheck.examples.book import Activation_Sigmoid
>>> x = np.array([[0.5, -1.0, 2.0]])
>>> rep = check_layer(Activation_Sigmoid(), x)
>>> rep.ok, rep.checked
(True, {'dinputs': 3})
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import inspect
import math
import numbers
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from derivcheck import fd
from derivcheck.errors import InputError, TraceError
from derivcheck.fd import steps
from derivcheck.layers import report as msg
from derivcheck.layers.report import Failure, LayerReport, TensorCheck

__all__ = ["check_jacobian", "check_layer"]

#: ``mode="auto"`` checks every entry when the layer has at most this many entries in all.
FULL_CHECK_LIMIT = 20_000
#: Gaussian directional probes, each over every entry of every tensor at once, in the
#: directional strategy (a tensor is probed on its own only when one of them disagrees).
JOINT_PROBES = 2
#: Entries per tensor sampled and checked one by one in the directional strategy: a few,
#: for entry-level numbers in the report (the probes already cover every entry).
SAMPLED_ENTRIES = 4
#: The sample of a tensor whose probes all straddle a kink (and so decide nothing).
FALLBACK_ENTRIES = 32
#: The symbolic reference is tried only up to this many entries in all.
SYMBOLIC_LIMIT = 500
#: Wrong entries per tensor listed in ``LayerReport.failures``.
MAX_FAILURES_PER_TENSOR = 100
#: The seed numpy's global random state (and any generator the layer holds) is reset to
#: before every forward, so dropout draws the same mask every time.
RANDOM_SEED = 1234
PROBE_SALT = 0x6463  # mixed into the seed of every probe direction; see _Check.__init__

_REFERENCES = ("numeric", "symbolic", "both")
_MODES = ("auto", "full", "directional")
_NOT_PARAMS = frozenset({"inputs", "output", "dinputs", "binary_mask"})
_REGULARIZERS = (
    ("weights", "weight_regularizer_l1", "weight_regularizer_l2"),
    ("biases", "bias_regularizer_l1", "bias_regularizer_l2"),
)


# --- argument validation ---------------------------------------------------------------------


def _validate(
    layer: Any,
    inputs: Any,
    y_true: Any,
    params: Any,
    reference: Any,
    mode: Any,
    seed: Any,
    rtol: Any,
    atol: Any,
    forward_kwargs: Any,
    penalty: Any,
) -> tuple[np.ndarray, np.ndarray | None]:
    if not callable(getattr(layer, "forward", None)):
        raise InputError(f"`layer` must have a forward method; {type(layer).__name__} has none.")
    if not callable(getattr(layer, "backward", None)):
        raise InputError(f"`layer` must have a backward method; {type(layer).__name__} has none.")
    x = _as_float_array("inputs", inputs)
    labels = None
    if y_true is not None:
        labels = np.array(y_true, copy=True)
        if labels.dtype == object or labels.dtype.kind not in "biuf":
            raise InputError(f"`y_true` must be a numeric array, got dtype {labels.dtype}.")
        if labels.ndim == 0 or len(labels) != len(x):
            raise InputError(
                f"`y_true` must have one row per sample: inputs have {len(x)}, "
                f"y_true has shape {labels.shape}."
            )
    if params is not None:
        if isinstance(params, str) or not all(isinstance(p, str) for p in params):
            raise InputError("`params` must be a list of attribute names, e.g. ['weights'].")
        for name in params:
            value = getattr(layer, name, None)
            if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
                raise InputError(
                    f"`params`: the layer has no floating-point array attribute {name!r}."
                )
    if reference not in _REFERENCES:
        raise InputError(f"`reference` must be one of {_REFERENCES}, got {reference!r}.")
    if mode not in _MODES:
        raise InputError(f"`mode` must be one of {_MODES}, got {mode!r}.")
    _validate_seed(seed)
    for name, value in (("rtol", rtol), ("atol", atol)):
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not math.isfinite(value)
            or value < 0
        ):
            raise InputError(f"`{name}` must be a non-negative finite float or None.")
    if forward_kwargs is not None and not isinstance(forward_kwargs, dict):
        raise InputError("`forward_kwargs` must be a dict or None.")
    if penalty is not None and not callable(penalty):
        raise InputError("`penalty` must be a callable penalty(layer) -> float, or None.")
    return x, labels


def _validate_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InputError(f"`seed` must be a non-negative integer, got {seed!r}.")


def _as_float_array(name: str, value: Any) -> np.ndarray:
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


# --- keeping the layer unchanged -----------------------------------------------------------


def _is_plain_object(value: Any) -> bool:
    """A user object whose attributes a check may change (a sub-layer): not a module, class,
    function or array."""
    return (
        hasattr(value, "__dict__")
        and not isinstance(value, type)
        and not inspect.ismodule(value)
        and not inspect.isroutine(value)
        and not isinstance(value, np.ndarray | np.random.Generator | np.random.RandomState)
    )


class _Snapshot:
    """Every attribute of an object (and of the objects it holds), restorable bit for bit."""

    def __init__(self, root: Any) -> None:
        self.items: list[tuple[Any, dict[str, Any], dict[str, np.ndarray]]] = []
        self.generators: list[tuple[Any, Any]] = []
        self._visit(root, 0, set())
        self.random_state = np.random.get_state()
        self.random_fingerprint = _global_fingerprint()

    def _visit(self, obj: Any, depth: int, seen: set[int]) -> None:
        if id(obj) in seen or depth > 3 or not _is_plain_object(obj):
            return
        seen.add(id(obj))
        attrs = dict(vars(obj))
        arrays = {k: v.copy() for k, v in attrs.items() if isinstance(v, np.ndarray)}
        self.items.append((obj, attrs, arrays))
        for value in attrs.values():
            if isinstance(value, np.random.Generator):
                self.generators.append((value, value.bit_generator.state))
            elif isinstance(value, np.random.RandomState):
                self.generators.append((value, value.get_state()))
            elif isinstance(value, list | tuple):
                for item in value[:64]:
                    self._visit(item, depth + 1, seen)
            else:
                self._visit(value, depth + 1, seen)

    def restore(self) -> None:
        for obj, attrs, arrays in self.items:
            current = vars(obj)
            for key in [k for k in current if k not in attrs]:
                del current[key]
            current.update(attrs)
            for key, saved in arrays.items():
                original = attrs[key]
                if original.tobytes() != saved.tobytes() and original.flags.writeable:
                    np.copyto(original, saved)
        for gen, state in self.generators:
            _set_generator_state(gen, state)
        if not self.global_random_unchanged():
            np.random.set_state(self.random_state)

    @property
    def cached_gaussian(self) -> bool:
        """numpy's global generator holds a cached Gaussian, whose use does not move it."""
        state = self.random_state
        if isinstance(state, dict):  # the global generator is not an MT19937
            return bool(state.get("has_gauss", True))
        return bool(state[3])

    def global_random_unchanged(self) -> bool:
        """numpy's global random state is as it was (a cheap test, False when unsure)."""
        return (
            self.random_fingerprint is not None
            and not self.cached_gaussian
            and _global_fingerprint() == self.random_fingerprint
        )


_MT19937_STATE_BYTES = 625 * 4  # uint32 key[624]; int pos


def _global_fingerprint() -> bytes | None:
    """The key and position of numpy's global MT19937, read in place: ~1 us, where
    ``np.random.get_state`` copies the key entry by entry (~50 us, more than a small
    layer's forward).  Without a cached Gaussian, any draw changes them.  None when the
    global generator is not an MT19937 or cannot be read this way."""
    try:
        bit_generator = np.random.mtrand.get_bit_generator()
        if not isinstance(bit_generator, np.random.MT19937) or not _fingerprint_is_the_state():
            return None
        return ctypes.string_at(bit_generator.ctypes.state_address, _MT19937_STATE_BYTES)
    except Exception:
        return None


@functools.cache
def _fingerprint_is_the_state() -> bool:
    """Once per process: the bytes read in place are the key and position that
    ``np.random.get_state`` reports (a numpy with another state layout gets the slow way)."""
    try:
        bit_generator = np.random.mtrand.get_bit_generator()
        state = np.random.get_state()
        if not isinstance(bit_generator, np.random.MT19937) or isinstance(state, dict):
            return False
        raw = ctypes.string_at(bit_generator.ctypes.state_address, _MT19937_STATE_BYTES)
        key = np.asarray(state[1], dtype=np.uint32).tobytes()
        return raw == key + int(state[2]).to_bytes(4, sys.byteorder, signed=True)
    except Exception:
        return False


def _set_generator_state(gen: Any, state: Any) -> None:
    if isinstance(gen, np.random.Generator):
        gen.bit_generator.state = state
    else:
        gen.set_state(state)


def _generator_state(gen: Any) -> Any:
    return gen.bit_generator.state if isinstance(gen, np.random.Generator) else gen.get_state()


def _same_state(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return repr(a) == repr(b)
    return bool(a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2] == b[2])


def _entries(index: np.ndarray, ndim: int) -> Any:
    """The fancy index of an engine's ``(k, ndim)`` entry list; ``...`` for a 0-d tensor
    (a scalar parameter such as PReLU's slope), whose entry list is ``(1, 0)``."""
    return tuple(np.asarray(index).T) if ndim else Ellipsis


def _put_back(array: np.ndarray, saved: np.ndarray) -> None:
    """Restore ``array``'s bits from ``saved`` when they differ (and it can be written)."""
    if array.flags.writeable and array.tobytes() != saved.tobytes():
        np.copyto(array, saved)


def _changed(a: np.ndarray, saved: np.ndarray) -> int:
    """How many entries of ``a`` differ bitwise from ``saved`` (0 when identical)."""
    if a.shape != saved.shape or a.dtype != saved.dtype:
        return int(saved.size)
    if a.tobytes() == saved.tobytes():
        return 0
    av = np.ascontiguousarray(a).view(np.uint8).reshape(a.size, -1)
    sv = np.ascontiguousarray(saved).view(np.uint8).reshape(saved.size, -1)
    return int(np.count_nonzero(np.any(av != sv, axis=1)))


# --- the layer adapter -----------------------------------------------------------------------


class _CheckFailed(Exception):
    """Internal: stop the check; the failures gathered so far are the report."""


@dataclass
class _Tensor:
    """One array the probe depends on, and the gradient the backward gave for it."""

    name: str  # "inputs", "weights", ...
    array: np.ndarray  # the very array forward reads (perturbed in place)
    grad_name: str  # "dinputs", "dweights", ...
    grad: np.ndarray | None = None
    ok: bool = True  # gradient present, right shape, finite: entries can be compared


@dataclass
class _Adapter:
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
            _set_generator_state(gen, state)
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


def _takes_training(forward: Callable[..., Any], forward_kwargs: dict[str, Any]) -> bool:
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
    for array_name, l1_name, l2_name in _REGULARIZERS:
        l1: Any = getattr(layer, l1_name, 0) or 0
        l2: Any = getattr(layer, l2_name, 0) or 0
        if l1 > 0:
            total = total + l1 * np.sum(np.abs(getattr(layer, array_name)))
        if l2 > 0:
            arr = getattr(layer, array_name)
            total = total + l2 * np.sum(arr * arr)
    return total


def _has_regularizers(layer: Any) -> bool:
    for array_name, l1_name, l2_name in _REGULARIZERS:
        for name in (l1_name, l2_name):
            value = getattr(layer, name, 0)
            if isinstance(value, numbers.Real) and float(value) > 0 and hasattr(layer, array_name):
                return True
    return False


def _candidate_params(layer: Any) -> list[str]:
    """Floating arrays the layer holds before the check's first forward (gradients excluded)."""
    attrs = vars(layer) if hasattr(layer, "__dict__") else {}
    names = []
    for name, value in attrs.items():
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.size == 0:
            continue
        if name in _NOT_PARAMS or (name.startswith("d") and name[1:] in attrs):
            continue
        names.append(name)
    return names


# --- the check ---------------------------------------------------------------------------------


class _LayerCheck:
    def __init__(
        self,
        layer: Any,
        x: np.ndarray,
        y_true: np.ndarray | None,
        *,
        params: Sequence[str] | None,
        reference: str,
        mode: str,
        seed: int,
        rtol: float | None,
        atol: float | None,
        forward_kwargs: dict[str, Any],
        penalty: Callable[[Any], Any] | None,
        cached_gaussian: bool = True,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.layer = layer
        self.progress = progress
        self.cached_gaussian = cached_gaussian
        self.x = x
        self.x0 = x.copy()
        self.y_true = y_true
        self.y0 = None if y_true is None else y_true.copy()
        self.explicit_params = params
        self.reference = reference
        self.mode = mode
        self.seed = seed
        self.rtol, self.atol = rtol, atol
        # salted so the probe is never the stream a user draws inputs from with the same
        # seed: default_rng(0) inputs with G == inputs made x.T @ G symmetric and hid a
        # transposed dweights
        self.rng = np.random.default_rng([seed, PROBE_SALT])
        self.failures: list[Failure] = []
        self.notes: list[str] = []
        self.tensors: dict[str, TensorCheck] = {}
        self.adapter = _Adapter(layer, x, y_true, dict(forward_kwargs))
        self.user_penalty = penalty
        self.strategy = msg.STRATEGY_FULL
        self.nfev = 0
        self.eps = float(np.finfo(x.dtype).eps)
        self.dtype = str(x.dtype)
        self.first_output: np.ndarray = np.zeros(0)
        self.params: list[str] = []

    # failures -------------------------------------------------------------------------

    def fail(self, tensor: str, kind: str, message: str) -> None:
        self.failures.append(Failure(tensor, (), None, None, None, None, kind, message))

    def call(self, where: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:
            self.fail(where, "exception", msg.msg_exception(where, exc))
            raise _CheckFailed from exc

    # steps -------------------------------------------------------------------------------

    def run(self) -> LayerReport:
        with contextlib.suppress(_CheckFailed):
            self._run()
        return LayerReport(
            subject=type(self.layer).__name__,
            failures=self.failures,
            tensors=self.tensors,
            seed=self.seed,
            mode=self.mode,
            strategy=self.strategy,
            reference=self.reference,
            dtype=self.dtype,
            notes=self.notes,
            nfev=self.nfev,
        )

    def _run(self) -> None:
        layer, ad = self.layer, self.adapter
        candidates = (
            list(self.explicit_params)
            if self.explicit_params is not None
            else _candidate_params(layer)
        )
        before = {name: getattr(layer, name) for name in candidates}
        if self.y_true is None:
            ad.pass_training = _takes_training(layer.forward, ad.forward_kwargs)
        self._freeze_randomness()

        # first forward: what kind of object is this, and what does forward touch?  Does it
        # draw from numpy's global generator?  Without a cached Gaussian any draw moves the
        # generator, which its fingerprint shows; otherwise seed first (clears the cache)
        gstate = None
        fingerprint = None if self.cached_gaussian else _global_fingerprint()
        if fingerprint is None:
            np.random.seed(RANDOM_SEED)
            fingerprint = _global_fingerprint()
            if fingerprint is None:
                gstate = np.random.get_state()
        gen_states = [_generator_state(g) for g, _ in ad.generators]
        ad.reseed_global = False  # the state after forward tells if it draws
        returned = self.call("forward", lambda: ad.forward_raw(self.x))
        self._check_inputs_unchanged("forward")
        if gstate is not None:
            ad.reseed_global = not _same_state(gstate, np.random.get_state())
        else:
            ad.reseed_global = _global_fingerprint() != fingerprint
        ad.generators = [
            (g, s)
            for (g, s), s_before in zip(ad.generators, gen_states, strict=True)
            if not _same_state(s_before, _generator_state(g))
        ]
        if ad.reseed_global or ad.generators:
            self.notes.append(msg.msg_randomness())
        self._classify(returned)

        # parameters: arrays forward reads but does not rebind
        params = [
            name
            for name in candidates
            if self.explicit_params is not None or getattr(layer, name, None) is before[name]
        ]
        self.params = params
        for name in params:
            arr = getattr(layer, name)
            if arr.dtype.kind == "f":
                self.eps = max(self.eps, float(np.finfo(arr.dtype).eps))
        if ad.is_layer:
            out_dtype = self.first_output.dtype
            if out_dtype.kind == "f":
                self.eps = max(self.eps, float(np.finfo(out_dtype).eps))
        self.dtype = "float32" if self.eps > 1e-10 else "float64"
        if self.eps > 1e-4:
            self.dtype = "float16"

        # the probe
        if ad.is_layer:
            out = self.first_output
            gdtype = out.dtype if out.dtype.kind == "f" else np.float64
            ad.G = self.rng.standard_normal(out.shape).astype(gdtype)
            ad.G64 = ad.G.astype(np.float64)
            if self.user_penalty is not None:
                ad.penalty = self.user_penalty
            elif _has_regularizers(layer):
                ad.penalty = book_penalty
        self.probe = ad.make_probe()

        # backward at the unperturbed point
        tensors = [_Tensor("inputs", self.x, "dinputs")]
        tensors += [_Tensor(name, getattr(layer, name), "d" + name) for name in params]
        self.param_copies = {name: getattr(layer, name).copy() for name in params}
        grads = self._backward_once(tensors)
        self._check_gradients(tensors, grads)
        if ad.is_layer:
            self._check_linearity(tensors)
        self._numeric(tensors)
        if self.reference != "numeric":
            self._symbolic(tensors)
        self._decide(tensors)

    def _freeze_randomness(self) -> None:
        gens = []
        for value in vars(self.layer).values() if hasattr(self.layer, "__dict__") else ():
            if isinstance(value, np.random.Generator | np.random.RandomState):
                gens.append((value, _generator_state(value)))
        self.adapter.generators = gens

    def _classify(self, returned: Any) -> None:
        ad, layer = self.adapter, self.layer
        if self.y_true is None:
            out = getattr(layer, "output", None)
            ad.kind = "layer"
            if out is None and isinstance(returned, np.ndarray):
                out, ad.kind = returned, "layer_returns"
            if out is None or np.asarray(out).dtype.kind not in "fiub":
                self.fail("output", "contract", msg.msg_no_output())
                raise _CheckFailed
            out = np.asarray(out)
            bad = int(np.count_nonzero(~np.isfinite(out)))
            if bad:
                self.fail("output", "nonfinite", msg.msg_output_nonfinite("output", bad, out.size))
                raise _CheckFailed
            self.first_output = out
            return
        if returned is None or not isinstance(returned, numbers.Real | np.ndarray | np.generic):
            self.fail("forward", "contract", msg.msg_loss_returned(returned))
            raise _CheckFailed
        value = np.asarray(returned)
        out = getattr(layer, "output", None)
        if (
            value.size == 1
            and isinstance(out, np.ndarray)
            and out.shape == self.x.shape
            and out is not self.x
        ):
            ad.kind = "combined"
        elif value.size == 1 or value.shape == (len(self.x),):
            ad.kind = "loss"
        else:
            self.fail("forward", "contract", msg.msg_loss_shape(value.shape, len(self.x)))
            raise _CheckFailed
        bad = int(np.count_nonzero(~np.isfinite(value)))
        if bad:
            self.fail("loss", "nonfinite", msg.msg_output_nonfinite("loss", bad, value.size))
            raise _CheckFailed

    def _check_inputs_unchanged(self, who: str) -> None:
        n = _changed(self.x, self.x0)
        if n:
            what = "the predictions (its inputs)" if self.y_true is not None else "its inputs"
            self.fail("inputs", "mutation", msg.msg_mutation(who, what, n, self.x.size))
            np.copyto(self.x, self.x0)
            if who == "forward":
                raise _CheckFailed

    def _backward_once(self, tensors: list[_Tensor]) -> dict[str, Any]:
        """Forward then backward at the unperturbed point; the gradients backward set."""
        ad, layer = self.adapter, self.layer
        self.call("forward", lambda: ad.forward_raw(self.x))
        dvalues = ad.dvalues()
        dvalues0 = dvalues.copy()
        attrs = vars(layer)
        # a gradient attribute that backward leaves untouched (same array, same bits) is stale,
        # from an earlier backward; a preallocated buffer written in place is not
        stale = {
            t.grad_name: (attrs[t.grad_name], attrs[t.grad_name].tobytes())
            for t in tensors
            if isinstance(attrs.get(t.grad_name), np.ndarray)
        }
        returned = self.call("backward", lambda: ad.backward(dvalues))
        grads = _read_gradients(attrs, tensors, returned, stale)
        n = _changed(dvalues, dvalues0)
        if n:
            self.fail(
                "dvalues",
                "mutation",
                msg.msg_mutation("backward", "its dvalues argument", n, dvalues.size),
            )
        self._check_inputs_unchanged("backward")
        if self.y_true is not None and self.y0 is not None:
            n = _changed(self.y_true, self.y0)
            if n:
                self.fail(
                    "y_true", "mutation", msg.msg_mutation("backward", "y_true", n, self.y0.size)
                )
                np.copyto(self.y_true, self.y0)
        for name, saved in self.param_copies.items():
            arr = getattr(layer, name)
            n = _changed(arr, saved)
            if n:
                self.fail(name, "mutation", msg.msg_mutation("backward", f"`{name}`", n, arr.size))
                _put_back(arr, saved)
        return grads

    def _check_gradients(self, tensors: list[_Tensor], grads: dict[str, Any]) -> None:
        ignored = []
        for t in list(tensors):
            g = grads[t.grad_name]
            if g is _MISSING:
                if t.name != "inputs" and self.explicit_params is None and not self._depends_on(t):
                    tensors.remove(t)
                    ignored.append(t.name)
                    continue
                self.fail(
                    t.grad_name, "missing", msg.msg_missing(t.grad_name, t.name, t.array.shape)
                )
                t.ok = False
                continue
            if not isinstance(g, np.ndarray):
                if isinstance(g, numbers.Real) and t.array.size == 1:
                    g = np.full(t.array.shape, float(g))
                else:
                    self.fail(t.grad_name, "contract", msg.msg_not_array(t.grad_name, g))
                    t.ok = False
                    continue
            t.grad = g
            if g.shape != t.array.shape:
                self.fail(
                    t.grad_name, "shape", msg.msg_shape(t.grad_name, t.name, g.shape, t.array.shape)
                )
                t.ok = False
                continue
            if g.dtype.kind != "f":
                self.fail(
                    t.grad_name, "dtype", msg.msg_dtype(t.grad_name, t.name, g.dtype, t.array.dtype)
                )
                if g.dtype.kind not in "iub":
                    t.ok = False
                    continue
            elif np.finfo(g.dtype).eps > np.finfo(t.array.dtype).eps:
                # not a bug: under the book's nnfs.init() np.dot returns float32, so a
                # correct backward gives float32 gradients of float64 weights; the
                # layer computes in the lower precision, and is judged in it
                self.notes.append(msg.msg_downcast(t.grad_name, t.name, g.dtype, t.array.dtype))
                self.eps = max(self.eps, float(np.finfo(g.dtype).eps))
                self.dtype = "float32" if self.eps > 1e-10 else "float64"
            elif g.dtype != t.array.dtype:
                self.notes.append(msg.msg_upcast(t.grad_name, t.name, g.dtype, t.array.dtype))
            finite = np.isfinite(g)
            if not finite.all():
                n_nan = int(np.count_nonzero(np.isnan(g)))
                n_inf = int(g.size - np.count_nonzero(finite) - n_nan)
                self.fail(
                    t.grad_name, "nonfinite", msg.msg_nonfinite(t.grad_name, n_nan, n_inf, g.size)
                )
                t.ok = False
        if ignored:
            self.notes.append(msg.msg_ignored(ignored))

    def _depends_on(self, t: _Tensor) -> bool:
        """Whether the probe changes when ``t`` changes (a parameter, not an optimizer cache)."""
        saved = t.array.copy()
        try:
            f0 = self.probe()
            step = np.sqrt(self.eps) * np.maximum(1.0, np.abs(t.array))
            t.array += (step * self.rng.choice([-1.0, 1.0], size=t.array.shape)).astype(
                t.array.dtype
            )
            f1 = self.probe()
        except Exception:
            return True
        finally:
            _put_back(t.array, saved)
        return f0 != f1

    def _check_linearity(self, tensors: list[_Tensor]) -> None:
        """backward(2G) == 2 backward(G) (affine with a penalty: b(2G) - b(G) == b(G) - b(0))."""
        ad = self.adapter
        assert ad.G is not None
        G = ad.G
        live = [t for t in tensors if t.ok and t.grad is not None]
        if not live:
            return
        results = []
        scales = [2.0, 0.0] if ad.penalty is not None else [2.0]
        for scale in scales:
            ad.G = (G * scale).astype(G.dtype)
            try:
                grads = self._backward_silently(live)
            finally:
                ad.G = G
            if grads is None:
                return
            results.append(grads)
        for t in live:
            assert t.grad is not None
            g1 = np.asarray(t.grad, dtype=np.float64)
            g2 = np.asarray(results[0][t.grad_name], dtype=np.float64)
            if g2.shape != g1.shape:
                continue
            if len(results) == 2:
                g0 = np.asarray(results[1][t.grad_name], dtype=np.float64)
                if g0.shape != g1.shape:
                    continue
                diff = np.abs((g2 - g1) - (g1 - g0))
                size = np.abs(g2) + 2 * np.abs(g1) + np.abs(g0)
            else:
                diff = np.abs(g2 - 2 * g1)
                size = np.abs(g2) + 2 * np.abs(g1)
            geps = float(np.finfo(t.grad.dtype).eps) if t.grad.dtype.kind == "f" else self.eps
            tol = 64 * geps * (size + float(np.max(size)))
            bad = diff > tol
            if np.any(bad):
                self.fail(
                    t.grad_name,
                    "nonlinear",
                    msg.msg_nonlinear(t.grad_name, float(np.max(diff)), len(results) == 2),
                )

    def _backward_silently(self, tensors: list[_Tensor]) -> dict[str, Any] | None:
        """Forward + backward(dvalues) without recording anything; None if either raises."""
        ad, attrs = self.adapter, vars(self.layer)
        try:
            ad.forward_raw(self.x)
            returned = ad.backward(ad.dvalues())
        except Exception:
            return None
        finally:
            np.copyto(self.x, self.x0)
            for name, saved in self.param_copies.items():
                _put_back(getattr(self.layer, name), saved)
        return _read_gradients(attrs, tensors, returned, {})

    # numeric --------------------------------------------------------------------------

    def _numeric(self, tensors: list[_Tensor]) -> None:
        total = sum(t.array.size for t in tensors)
        full = self.mode == "full" or (self.mode == "auto" and total <= FULL_CHECK_LIMIT)
        stages = len(tensors) if full else 1
        for i, t in enumerate(tensors):
            if full or not t.ok:
                self._report_progress(t.grad_name, i, stages)
                self._guarded([t], lambda group: self._numeric_tensor(group[0]))
        if not full:
            self.strategy = msg.strategy_directional(total, JOINT_PROBES)
            live = [t for t in tensors if t.ok]
            if live:
                self._report_progress("directional probes", 0, stages)
                self._guarded(live, self._directional)
        self._report_progress("done", stages, stages)
        # the report lists the tensors in this order
        order = [t.grad_name for t in tensors if t.grad_name in self.tensors]
        self.tensors = {name: self.tensors[name] for name in order}

    def _report_progress(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    def _guarded(self, group: list[_Tensor], step: Callable[[list[_Tensor]], None]) -> None:
        """Run ``step`` on ``group``; when it raises, one tensor at a time, so the failure
        names the tensor whose perturbation breaks forward (or that cannot be perturbed)."""
        try:
            step(group)
        except Exception as exc:  # forward fails a step away from the point, or the
            # array cannot be perturbed (read-only): that tensor is not checked
            if len(group) > 1:
                for t in group:
                    self._guarded([t], step)
                return
            t = group[0]
            self.fail(t.grad_name, "exception", msg.msg_numeric_failed(t.grad_name, exc))
            check = self.tensors.get(t.grad_name)
            if check is not None:
                check.checked[...] = False
                check.mismatch[...] = False
        finally:
            np.copyto(self.x, self.x0)
            for name, saved in self.param_copies.items():
                _put_back(getattr(self.layer, name), saved)

    def _new_check(self, t: _Tensor) -> TensorCheck:
        shape = t.array.shape
        nan = np.full(shape, np.nan)
        check = TensorCheck(
            name=t.grad_name,
            wrt=t.name,
            shape=shape,
            analytic=t.grad if t.ok else None,
            analytic_raw=t.grad,
            numeric=nan.copy(),
            error=nan.copy(),
            checked=np.zeros(shape, dtype=bool),
            mismatch=np.zeros(shape, dtype=bool),
            kink=np.zeros(shape, dtype=bool),
            tol=nan.copy(),
            reference=self.reference,
            dtype=str(t.array.dtype),
        )
        self.tensors[t.grad_name] = check
        return check

    def _numeric_tensor(self, t: _Tensor) -> None:
        """Every entry of ``t`` one by one; for an unusable gradient, the numeric gradient
        alone (small tensors), so that a wrong shape can be diagnosed."""

        check = self._new_check(t)
        if t.ok:
            self._estimate(check, t, None)
            return
        if t.grad is not None and t.array.size <= FULL_CHECK_LIMIT and t.grad.size == t.array.size:
            est = fd.partial_derivatives(self.probe, t.array, None, eps=self.eps)
            self.nfev += int(est.nfev)
            idx = _entries(est.index, t.array.ndim)
            check.numeric[idx] = est.value
            check.error[idx] = est.error
            check.diagnosis = _diagnose_shape(t.grad_name, np.asarray(t.grad), check.numeric, est)

    def _directional(self, group: list[_Tensor]) -> None:
        """Gaussian probes over every entry of every tensor of ``group`` at once; only when
        one disagrees, probes per tensor and localisation of the wrong entries.

        The noise of the probe is measured once and shared by every engine call.  A probe
        that straddles a kink decides nothing: the tensors it leaves open get a larger
        sample of entries checked one by one.  Failures are recorded only at the end, so
        a rerun one tensor at a time (see :meth:`_guarded`) does not repeat them.
        """
        checks = [self._new_check(t) for t in group]
        arrays = [t.array for t in group]
        grads = [np.asarray(t.grad, dtype=np.float64) for t in group]
        joint = [[self.rng.standard_normal(a.shape) for a in arrays] for _ in range(JOINT_PROBES)]
        results, sigma = self._probes(arrays, grads, joint, None)
        failing = [
            (dirs, ratio) for dirs, (bad, _, ratio) in zip(joint, results, strict=True) if bad
        ]
        kinky = any(kink for _, kink, _ in results)
        if len(group) == 1:
            verdicts = ["fail" if failing else "kink" if kinky else "ok"]
        elif failing:
            # the failing direction restricted to one tensor carries exactly that tensor's
            # share of the disagreement
            directions = max(failing, key=lambda item: item[1])[0]
            verdicts, ratios = [], []
            for arr, grad, d in zip(arrays, grads, directions, strict=True):
                (bad, kink, ratio), _ = self._probes([arr], [grad], [[d]], sigma)
                verdicts.append("fail" if bad else "kink" if kink else "ok")
                ratios.append(ratio)
            if all(v == "ok" for v in verdicts):  # shares each within tolerance: the worst
                verdicts[int(np.argmax(ratios))] = "fail"
        elif kinky:  # fresh probes of each tensor alone: a kink may lie in one tensor only
            verdicts = []
            for arr, grad in zip(arrays, grads, strict=True):
                own = [[self.rng.standard_normal(arr.shape)] for _ in range(JOINT_PROBES)]
                alone, _ = self._probes([arr], [grad], own, sigma)
                if any(disagrees for disagrees, _, _ in alone):
                    verdicts.append("fail")
                else:
                    verdicts.append("kink" if any(k for _, k, _ in alone) else "ok")
        else:
            verdicts = ["ok"] * len(group)
        f0 = float(self.probe())
        self.nfev += 1
        unlocalised = []
        for t, check, grad, verdict in zip(group, checks, grads, verdicts, strict=True):
            size = t.array.size
            n_sample = min(FALLBACK_ENTRIES if verdict == "kink" else SAMPLED_ENTRIES, size)
            flat = np.sort(self.rng.choice(size, size=n_sample, replace=False))
            indices: np.ndarray | None = None  # a 0-d parameter: its one entry is all of it
            if t.array.ndim:
                indices = np.stack(np.unravel_index(flat, t.array.shape), axis=1)
            if verdict == "fail" and indices is not None:
                extra = self._localise(t.array, grad, sigma)
                if len(extra):
                    indices = np.unique(np.concatenate([extra, indices]), axis=0)
            self._estimate(check, t, indices, noise=sigma, f0=f0)
            if verdict == "fail" and not check.mismatch.any():
                unlocalised.append(t.grad_name)
        for name in unlocalised:
            self.fail(name, "mismatch", msg.msg_probe_unlocalised(name))

    def _probes(
        self,
        arrays: list[np.ndarray],
        grads: list[np.ndarray],
        directions: list[list[np.ndarray]],
        sigma: float | None,
    ) -> tuple[list[tuple[bool, bool, float]], float]:
        """Directional probes of ``arrays`` (the noise measured once when ``sigma`` is None):
        for each, (disagrees, straddles a kink, disagreement / tolerance); and the noise."""

        ests = fd.directional_derivatives(
            self.probe, arrays, directions, eps=self.eps, noise=sigma
        )
        results = []
        for est, dirs in zip(ests, directions, strict=True):
            self.nfev += int(est.nfev)
            expected = 0.0
            spread = 0.0  # sum |g| |d|: the scale of the rounding in ``expected`` itself
            for g, d in zip(grads, dirs, strict=True):
                expected += float(np.vdot(g, d))
                spread += float(np.vdot(np.abs(g), np.abs(d)))
            # compare()'s tolerance in plain floats (its per-call cost is numpy's, on 1 entry)
            diff = abs(expected - est.value)
            if self.rtol is None and self.atol is None:
                scale = 2.0 * abs(expected) + abs(est.value) + spread
                tol = steps.SAFETY * est.error + steps.ULPS * self.eps * scale
            else:
                tol = (self.atol or 0.0) + (self.rtol or 0.0) * abs(est.value)
            if est.kink:
                results.append((False, True, 0.0))
            elif not diff <= tol:  # NaN disagrees
                ratio = diff / tol if tol > 0 and math.isfinite(diff) else math.inf
                results.append((True, False, ratio))
            else:
                results.append((False, False, diff / tol if tol > 0 else 0.0))
        return results, float(ests[0].noise)

    def _counted(self, run: Callable[[Callable[[], float]], Any]) -> Any:
        """``run(probe)``, adding to ``nfev`` the evaluations it made (for engine calls that
        do not report them)."""
        probe, calls = self.probe, 0

        def counted() -> float:
            nonlocal calls
            calls += 1
            return probe()

        try:
            return run(counted)
        finally:
            self.nfev += calls

    def _localise(self, array: np.ndarray, grad: np.ndarray, sigma: float) -> np.ndarray:
        """Indices of the wrong entries of one tensor found by group testing, shape (k, ndim)."""

        found = self._counted(
            lambda f: fd.localise(
                f, [array], [grad], eps=self.eps, seed=self.seed, noise=sigma
            )
        )
        return np.array([list(index) for _, index in found], dtype=np.intp).reshape(-1, array.ndim)

    def _estimate(
        self,
        check: TensorCheck,
        t: _Tensor,
        indices: np.ndarray | None,
        noise: float | None = None,
        f0: float | None = None,
    ) -> None:

        grad = np.asarray(t.grad)
        analytic = (
            grad.reshape(-1) if indices is None else grad[tuple(np.asarray(indices).T)]
        ).astype(np.float64)
        est = fd.partial_derivatives(
            self.probe, t.array, indices, analytic=analytic, eps=self.eps, noise=noise, f0=f0
        )
        self.nfev += int(est.nfev)
        cmp = fd.compare(analytic, est, eps=self.eps, rtol=self.rtol, atol=self.atol)
        idx = _entries(est.index, t.array.ndim)
        check.numeric[idx] = est.value
        check.error[idx] = est.error
        check.checked[idx] = True
        check.kink[idx] = np.asarray(cmp.kink, dtype=bool)
        check.mismatch[idx] = np.asarray(cmp.mismatch, dtype=bool) & ~check.kink[idx]
        check.tol[idx] = cmp.tol
        check.rule = msg.rule_text(self.rtol, self.atol)

    # symbolic -------------------------------------------------------------------------

    def _symbolic(self, tensors: list[_Tensor]) -> None:
        total = sum(t.array.size for t in tensors)
        if total > SYMBOLIC_LIMIT:
            self.notes.append(msg.msg_symbolic_skipped(total, SYMBOLIC_LIMIT))
            return
        from derivcheck.layers.trace import core as trace

        names = [t.name for t in tensors]
        point = {t.name: np.asarray(t.array, dtype=np.float64) for t in tensors}
        try:
            exact = trace.exact_gradients(self._symbolic_probe(names), point)
        except TraceError as exc:
            self.notes.append(msg.msg_symbolic_unavailable(str(exc)))
            return
        except Exception as exc:  # a forward that cannot run on symbols: numeric stands
            self.notes.append(msg.msg_symbolic_unavailable(msg.msg_exception("forward", exc)))
            return
        finally:
            np.copyto(self.x, self.x0)
        for t in tensors:
            check = self.tensors[t.grad_name]
            value = exact.get(t.name)
            if value is not None and np.shape(value) == check.shape:
                check.symbolic = np.asarray(value, dtype=np.float64)

    def _symbolic_probe(self, names: list[str]) -> Callable[[dict[str, np.ndarray]], Any]:
        ad, layer = self.adapter, self.layer

        def probe(sym: dict[str, np.ndarray]) -> Any:
            attrs = vars(layer)
            saved = {name: attrs[name] for name in names if name != "inputs"}
            try:
                for name in saved:
                    attrs[name] = sym[name]
                returned = ad.forward_raw(sym["inputs"])
                if ad.is_layer:
                    out = returned if ad.kind == "layer_returns" else layer.output
                    value = np.sum(out * ad.G64)
                    if ad.penalty is not None:
                        value = value + ad.penalty(layer)
                    return value
                if ad.kind == "loss" and np.size(returned) > 1:
                    return np.sum(returned) / np.size(returned)
                return returned
            finally:
                attrs.update(saved)

        return probe

    # verdict ----------------------------------------------------------------------------

    def _decide(self, tensors: list[_Tensor]) -> None:
        batch = len(self.x)
        if self.reference != "numeric" and not any(
            t.symbolic is not None for t in self.tensors.values()
        ):
            self.reference = "numeric"  # tracing failed or was skipped; a note says why
            for each in self.tensors.values():
                each.reference = "numeric"
        for t in tensors:
            check = self.tensors.get(t.grad_name)
            if check is None or check.analytic is None:
                continue
            if check.symbolic is not None:
                self._apply_symbolic(check)
            if check.n_mismatched:
                check.diagnosis = _diagnose(
                    check,
                    batch,
                    self.x if t.name == "inputs" else None,
                    outputs=0 if self.adapter.is_layer else self.x.shape[-1],
                )
                self._entry_failures(check)

    def _apply_symbolic(self, check: TensorCheck) -> None:
        assert check.symbolic is not None and check.analytic is not None
        sym = check.symbolic
        a = np.asarray(check.analytic, dtype=np.float64)
        geps = max(self.eps, float(np.finfo(np.asarray(check.analytic).dtype).eps))
        tol = 256 * geps * (np.abs(sym) + float(np.mean(np.abs(sym))) + 1e-300)
        if self.rtol is not None or self.atol is not None:
            tol = (self.rtol or 0.0) * np.abs(sym) + (self.atol or 0.0)
        usable = check.checked & ~check.kink
        sym_bad = (np.abs(a - sym) > tol) & usable
        disagree = (np.abs(check.numeric - sym) > np.maximum(check.tol, tol)) & usable
        if np.any(disagree):
            self.notes.append(msg.msg_engines_disagree(check.name, int(np.count_nonzero(disagree))))
        if self.reference == "symbolic":
            check.mismatch = sym_bad
            check.tol = np.where(usable, tol, np.nan)
            check.rule = msg.RULE_ROUNDING
        else:
            check.mismatch = check.mismatch | sym_bad

    def _entry_failures(self, check: TensorCheck) -> None:
        assert check.analytic is not None
        for index in check.worst(MAX_FAILURES_PER_TENSOR):
            self.failures.append(
                Failure(
                    tensor=check.name,
                    index=index,
                    analytic=float(check.analytic[index]),
                    numeric=float(check.numeric[index]),
                    symbolic=None if check.symbolic is None else float(check.symbolic[index]),
                    error=float(check.error[index]),
                    kind="mismatch",
                )
            )


_MISSING = object()


def _read_gradients(
    attrs: dict[str, Any],
    tensors: list[_Tensor],
    returned: Any,
    stale: dict[str, tuple[np.ndarray, bytes]],
) -> dict[str, Any]:
    """The gradients backward produced, copied (a layer may reuse its buffers); _MISSING for
    those it did not set.  A backward that returns an array instead of setting ``dinputs``
    is taken at its word."""
    grads: dict[str, Any] = {}
    for t in tensors:
        value = attrs.get(t.grad_name, _MISSING)
        old = stale.get(t.grad_name)
        if old is not None and value is old[0] and value.tobytes() == old[1]:
            value = _MISSING
        grads[t.grad_name] = value.copy() if isinstance(value, np.ndarray) else value
    if grads.get("dinputs") is _MISSING and isinstance(returned, np.ndarray):
        grads["dinputs"] = returned.copy()
    return grads


# --- diagnosis ---------------------------------------------------------------------------------


def _close(a: np.ndarray, b: np.ndarray, tol: np.ndarray) -> bool:
    return bool(np.all(np.abs(a - b) <= tol))


def _diagnose_shape(name: str, raw: np.ndarray, numeric: np.ndarray, est: Any) -> str | None:
    """A gradient of the wrong shape: do its values match the numeric gradient transposed or
    reshaped?"""
    if np.any(np.isnan(numeric)):
        return None
    raw = np.asarray(raw, dtype=np.float64)
    tol = 8 * np.nan_to_num(np.abs(numeric - numeric), nan=0.0) + 1e-6 * (
        np.abs(numeric) + float(np.max(np.abs(numeric)))
    )
    if raw.ndim == 2 and raw.T.shape == numeric.shape and _close(raw.T, numeric, tol):
        return msg.diag_transpose(name)
    if raw.size == numeric.size and _close(raw.reshape(numeric.shape), numeric, tol):
        return msg.diag_reshaped(name, numeric.shape)
    return None


def _diagnose(
    check: TensorCheck, batch: int, inputs: np.ndarray | None, *, outputs: int = 0
) -> str | None:
    """One line naming the likely cause of the mismatches, when one fits."""
    assert check.analytic is not None
    use = check.checked & ~check.kink
    a = np.asarray(check.analytic, dtype=np.float64)[use]
    n = check.numeric[use]
    tol = np.nan_to_num(check.tol[use], nan=0.0) + 4 * np.nan_to_num(check.error[use], nan=0.0)
    if a.size == 0:
        return None
    # a constant ratio everywhere: the sign, the batch size, a factor of 2
    big = np.abs(n) > np.maximum(10 * tol, 1e-300)
    if np.any(big):
        factor = float(np.median(a[big] / n[big]))
        if factor != 0 and _close(
            a, factor * n, 2 * tol * max(1.0, abs(factor)) + 1e-7 * np.abs(factor * n)
        ):
            return _factor_diagnosis(factor, batch, outputs)
        if np.all(np.abs(a) <= tol) and not np.all(np.abs(n) <= tol):
            return msg.diag_zero(check.name)
    full = a.size == check.analytic.size
    analytic = np.asarray(check.analytic, dtype=np.float64)
    if (
        full
        and analytic.ndim == 2
        and analytic.shape[0] == analytic.shape[1]
        and _close(analytic.T, check.numeric, 2 * np.nan_to_num(check.tol, nan=0.0) + 1e-12)
    ):
        return msg.diag_transpose(check.name)
    if (
        full
        and analytic.ndim == 2
        and _close(
            analytic.reshape(analytic.shape[::-1]).T,
            check.numeric,
            2 * np.nan_to_num(check.tol, nan=0.0) + 1e-12,
        )
    ):
        return msg.diag_transpose_reshaped(check.name, analytic.shape)
    bad = np.argwhere(check.mismatch)
    if len(bad) == 1 and check.n_checked > 1:
        return msg.diag_one_entry(check.name, tuple(int(i) for i in bad[0]))
    if check.analytic.ndim >= 2 and check.shape[0] > 1 and len(np.unique(bad[:, 0])) == 1:
        row = int(bad[0, 0])
        axis = "sample" if check.wrt == "inputs" else "row"
        return msg.diag_one_row(check.name, row, axis)
    if inputs is not None and inputs.shape == check.shape and 2 * len(bad) < check.n_checked:
        limit = float(np.max(np.abs(inputs[check.mismatch])))
        if limit <= 1e-2 * float(np.max(np.abs(inputs))):
            return msg.diag_near_kink(len(bad), limit)
    return None


def _factor_diagnosis(factor: float, batch: int, outputs: int = 0) -> str | None:
    def near(value: float, target: float) -> bool:
        return abs(value - target) <= 1e-4 * abs(target)

    if near(factor, 1.0):
        return None
    if near(factor, -1.0):
        return msg.diag_sign()
    if batch > 1 and near(factor, batch):
        return msg.diag_batch_times(batch)
    if batch > 1 and near(factor, 1 / batch):
        return msg.diag_batch_divided(batch)
    if outputs > 1 and near(factor, outputs):
        return msg.diag_outputs_times(outputs)
    for k in (2, 3, 4, 0.5, 1 / 3, 0.25):
        if near(factor, k):
            return msg.diag_factor(float(k))
    return msg.diag_factor(factor)


# --- public -------------------------------------------------------------------------------------


def check_layer(
    layer: Any,
    inputs: Any,
    y_true: Any = None,
    *,
    params: Sequence[str] | None = None,
    reference: str = "numeric",
    mode: str = "auto",
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
    forward_kwargs: dict[str, Any] | None = None,
    penalty: Callable[[Any], Any] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> LayerReport:
    """Check a layer's ``backward`` against its ``forward``, entry by entry.

    Parameters
    ----------
    layer : object
        Anything with ``forward`` and ``backward`` in the book's convention:
        ``forward(inputs)`` or ``forward(inputs, training)`` setting
        ``self.output``, and ``backward(dvalues)`` setting ``self.dinputs`` and
        ``self.d<name>`` for every parameter.  With ``y_true`` it is a loss:
        ``forward(y_pred, y_true)`` returns the per-sample losses and
        ``backward(y_pred, y_true)`` sets ``dinputs`` of their mean; or the
        combined softmax + cross-entropy, whose ``forward(logits, y_true)``
        returns the mean loss and sets ``output``, and whose ``backward`` gets
        that ``output``.
    inputs : array_like
        The point to check at (a loss: the predictions).  Integers become float64;
        float32 inputs and parameters get float32 steps and tolerances.
    y_true : array_like, optional
        Targets, sparse or one-hot; giving them means ``layer`` is a loss.
    params : list of str, optional
        The parameter attributes.  Default: the floating-point arrays the layer
        holds before the check that forward reads (an array the output does
        not depend on and that has no gradient, such as an optimizer cache,
        is ignored with a note).
    reference : {"numeric", "symbolic", "both"}
        What the backward is compared with: central differences, exact SymPy
        derivatives of the traced forward (small layers only; the numeric
        check stands when tracing is impossible), or both.
    mode : {"auto", "full", "directional"}
        ``"full"`` checks every entry.  ``"directional"`` measures the probe's
        noise once and checks :data:`JOINT_PROBES` Gaussian directional probes,
        each over every entry of every tensor at once, plus a seeded sample of
        :data:`SAMPLED_ENTRIES` entries per tensor one by one; only when a probe
        disagrees are the tensors probed separately and the wrong entries
        localised (a tensor whose probes straddle a kink gets
        :data:`FALLBACK_ENTRIES` sampled entries instead).  ``"auto"`` is full up
        to :data:`FULL_CHECK_LIMIT` entries in all, directional above.
    seed : int, default 0
        Seeds the probe ``G``, the directions and the samples.
    rtol, atol : float, optional
        Fixed tolerances instead of the ones derived from the error estimate.
    forward_kwargs : dict, optional
        Extra keyword arguments for ``forward``.
    penalty : callable, optional
        ``penalty(layer) -> float`` added to the probe, whose gradient the
        backward adds to the parameter fd.  Default: the book's L1/L2
        penalty (:func:`book_penalty`) when the layer has regularizer attributes.
    progress : callable, optional
        ``progress(stage, done, total)`` is called as the check moves on: before
        each gradient's finite differences (``stage`` names the gradient, e.g.
        ``"dweights"``), and once at the end with ``done == total``.  The command
        line draws its progress bar with it.

    Returns
    -------
    LayerReport
        ``ok``, ``failures``, ``checked``, per-tensor arrays in ``tensors``;
        ``print(report)`` explains.

    Raises
    ------
    InputError
        For invalid arguments (never for a wrong backward: that is a report).

    Examples
    --------
    >>> import numpy as np
    >>> from derivcheck.examples.book import Layer_Dense
    >>> from derivcheck.examples.broken import Dense_MeanInsteadOfSum
    >>> np.random.seed(0)
    >>> x = np.random.randn(4, 3)
    >>> check_layer(Layer_Dense(3, 2), x).ok
    True
    >>> rep = check_layer(Dense_MeanInsteadOfSum(3, 2), x)
    >>> rep.ok, rep.failures[0].tensor
    (False, 'dbiases')
    """
    if not hasattr(layer, "__dict__"):
        raise InputError(
            "`layer` must keep its state in instance attributes (a __dict__); "
            f"{type(layer).__name__} has none."
        )
    x, labels = _validate(
        layer, inputs, y_true, params, reference, mode, seed, rtol, atol, forward_kwargs, penalty
    )
    if progress is not None and not callable(progress):
        raise InputError(f"`progress` must be callable or None, got {progress!r}.")
    snapshot = _Snapshot(layer)
    try:
        with np.errstate(all="ignore"):
            check = _LayerCheck(
                layer,
                x,
                labels,
                params=params,
                reference=reference,
                mode=mode,
                seed=int(seed),
                rtol=rtol,
                atol=atol,
                forward_kwargs=forward_kwargs or {},
                penalty=penalty,
                cached_gaussian=snapshot.cached_gaussian,
                progress=progress,
            )
            return check.run()
    finally:
        snapshot.restore()


def check_jacobian(
    fun: Callable[[np.ndarray], Any],
    jac: Callable[[np.ndarray], Any],
    x: Any,
    *,
    seed: int = 0,
) -> LayerReport:
    """Check a hand-written Jacobian ``jac(x)`` of ``fun`` at ``x``, entry by entry.

    Every entry ``∂fun(x)[i]/∂x[j]`` is estimated by central differences.  Each
    perturbation of ``x`` is evaluated once for the whole output vector (a
    cache keyed by the perturbed ``x`` serves every output component), so
    ``fun`` is called about twice per entry of ``x``, plus refinements for
    doubtful entries, whatever the number of outputs.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> array`` (or a float).
    jac : callable
        ``jac(x)`` of shape ``fun(x).shape + x.shape``, or 2-D ``(fun(x).size, x.size)``.
    x : array_like
        The point.
    seed : int, default 0
        Recorded in the report (the check itself draws nothing at random).

    Returns
    -------
    LayerReport
        With one tensor, ``"jacobian"``.

    Examples
    --------
    >>> import numpy as np
    >>> rep = check_jacobian(np.sin, lambda x: np.diag(np.cos(x)), np.array([0.5, 1.0, 2.0]))
    >>> rep.ok, rep.checked
    (True, {'jacobian': 9})
    >>> rep = check_jacobian(np.sin, lambda x: np.diag(-np.cos(x)), np.array([0.5, 1.0]))
    >>> print(rep.tensors["jacobian"].diagnosis)
    Diagnosis: BACKWARD is exactly -NUMERIC everywhere: the sign is flipped.
    """
    if not callable(fun):
        raise InputError("`fun` must be callable.")
    if not callable(jac):
        raise InputError("`jac` must be callable.")
    _validate_seed(seed)
    point = _as_float_array("x", x)
    x0 = point.copy()
    name = getattr(fun, "__name__", type(fun).__name__)
    failures: list[Failure] = []

    def report(
        tensors: dict[str, TensorCheck], nfev: int = 0, dtype: str = "float64"
    ) -> LayerReport:
        return LayerReport(
            subject=f"jacobian of {name}",
            failures=failures,
            tensors=tensors,
            seed=int(seed),
            dtype=dtype,
            nfev=nfev,
            kind="jacobian",
        )

    def fail(kind: str, text: str) -> LayerReport:
        failures.append(Failure("jacobian", (), None, None, None, None, kind, text))
        return report({})

    with np.errstate(all="ignore"):
        try:
            out0 = np.asarray(fun(point))
        except Exception as exc:
            return fail("exception", msg.msg_exception("fun", exc))
        if _changed(point, x0):
            return fail(
                "mutation",
                msg.msg_mutation("fun", "its argument x", _changed(point, x0), point.size),
            )
        if out0.dtype.kind not in "fiub" or not np.all(np.isfinite(out0)):
            bad = int(np.count_nonzero(~np.isfinite(out0))) if out0.dtype.kind == "f" else out0.size
            return fail("nonfinite", msg.msg_output_nonfinite("fun(x)", bad, out0.size))
        try:
            raw = np.asarray(jac(point.copy()))
        except Exception as exc:
            return fail("exception", msg.msg_exception("jac", exc))
        eps = float(np.finfo(point.dtype).eps)
        if out0.dtype.kind == "f":
            eps = max(eps, float(np.finfo(out0.dtype).eps))
        dtype = "float32" if eps > 1e-10 else "float64"
        full_shape = out0.shape + point.shape
        flat_shape = (out0.size, point.size)
        if raw.shape == full_shape:
            J = raw.reshape(flat_shape)
            shape = full_shape
        elif raw.shape == flat_shape:
            J = raw
            shape = flat_shape
        else:
            return fail("shape", msg.msg_jac_shape(raw.shape, out0.shape, point.shape))
        if raw.dtype.kind not in "fiub":
            return fail("contract", msg.msg_jac_not_numeric(raw.dtype))
        J = J.astype(np.float64)
        bad = ~np.isfinite(J)
        if bad.any():
            n_nan = int(np.count_nonzero(np.isnan(J)))
            return fail(
                "nonfinite", msg.msg_nonfinite("jacobian", n_nan, int(bad.sum()) - n_nan, J.size)
            )
        return _jacobian_entries(fun, point, J, shape, eps, report, failures, dtype)


def _component(outputs: Callable[[], np.ndarray], i: int) -> Callable[[], float]:
    return lambda: float(outputs()[i])


def _jacobian_entries(
    fun: Callable[[np.ndarray], Any],
    point: np.ndarray,
    J: np.ndarray,
    shape: tuple[int, ...],
    eps: float,
    report: Callable[..., LayerReport],
    failures: list[Failure],
    dtype: str,
) -> LayerReport:

    cache: dict[bytes, np.ndarray] = {}
    calls = 0

    def outputs() -> np.ndarray:
        nonlocal calls
        key = point.tobytes()
        out = cache.get(key)
        if out is None:
            calls += 1
            out = np.asarray(fun(point), dtype=np.float64).reshape(-1)
            cache[key] = out
        return out

    n_out = J.shape[0]
    numeric = np.full(J.shape, np.nan)
    error = np.full(J.shape, np.nan)
    mismatch = np.zeros(J.shape, dtype=bool)
    kink = np.zeros(J.shape, dtype=bool)
    tol = np.full(J.shape, np.nan)
    rule = msg.rule_text(None, None)
    flat_point = point.reshape(-1)
    for i in range(n_out):
        est = fd.partial_derivatives(
            _component(outputs, i),
            point,
            None,
            analytic=J[i].reshape(point.shape),
            eps=eps,
        )
        cmp = fd.compare(J[i].reshape(-1), est, eps=eps)
        cols = (
            np.ravel_multi_index(tuple(np.asarray(est.index).T), point.shape)
            if point.ndim
            else np.zeros(1, int)
        )
        numeric[i, cols] = est.value
        error[i, cols] = est.error
        kink[i, cols] = cmp.kink
        mismatch[i, cols] = np.asarray(cmp.mismatch, dtype=bool) & ~np.asarray(cmp.kink, dtype=bool)
        tol[i, cols] = cmp.tol
    del flat_point
    check = TensorCheck(
        name="jacobian",
        wrt="x",
        shape=shape,
        analytic=J.reshape(shape),
        numeric=numeric.reshape(shape),
        error=error.reshape(shape),
        checked=np.ones(shape, dtype=bool),
        mismatch=mismatch.reshape(shape),
        kink=kink.reshape(shape),
        tol=tol.reshape(shape),
        rule=rule,
        dtype=dtype,
        label="JAC",
    )
    if check.n_mismatched:
        check.diagnosis = _diagnose(check, 1, None)
        for index in check.worst(MAX_FAILURES_PER_TENSOR):
            failures.append(
                Failure(
                    "jacobian",
                    index,
                    float(check.analytic[index]),  # type: ignore[index]
                    float(check.numeric[index]),
                    None,
                    float(check.error[index]),
                    "mismatch",
                )
            )
    return report({"jacobian": check}, nfev=calls, dtype=dtype)
