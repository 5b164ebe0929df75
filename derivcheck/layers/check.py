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
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from derivcheck import _validate
from derivcheck.errors import InputError
from derivcheck.layers import entries, state, stepcurve
from derivcheck.layers import report as msg
from derivcheck.layers.adapters import (
    RANDOM_SEED,
    CheckFailed,
    CombinedWithoutForward,
    Tensor,
    as_float_array,
    book_penalty,
    candidate_params,
    has_regularizers,
    is_combined_without_forward,
    takes_training,
)
from derivcheck.layers.base import MAX_FAILURES_PER_TENSOR
from derivcheck.layers.contracts import Contracts
from derivcheck.layers.diagnose import diagnose
from derivcheck.layers.held import HeldParamsLayer, needs_wrapper
from derivcheck.layers.jacobian import check_jacobian
from derivcheck.layers.report import Failure, LayerReport, TensorCheck
from derivcheck.layers.state import Snapshot, generator_state, same_state
from derivcheck.layers.strategies import Strategies
from derivcheck.layers.trace.reference import SymbolicReference

__all__ = ["check_jacobian", "check_layer"]

REFERENCES = ("numeric", "symbolic", "both")
#: integer attributes that are indices or labels, never parameters (no note about them)
INDEX_NAMES = frozenset(
    {"inputs", "ids", "idx", "indices", "index", "mask", "labels", "y", "y_true", "targets"}
)
MODES = ("auto", "full", "directional")


def _check_arguments(
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
    raw = inputs if isinstance(inputs, np.ndarray) else None
    if (
        raw is not None
        and raw.dtype.kind in "biu"
        and raw.size
        and y_true is None
        and (params or candidate_params(layer))
    ):
        x = raw.copy()  # ids or a mask for a layer with weights (an embedding): kept as given
    else:
        x = as_float_array("inputs", inputs)
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
    check_options(reference, mode, seed, rtol, atol)
    if forward_kwargs is not None and not isinstance(forward_kwargs, dict):
        raise InputError("`forward_kwargs` must be a dict or None.")
    if penalty is not None and not callable(penalty):
        raise InputError("`penalty` must be a callable penalty(layer) -> float, or None.")
    return x, labels


def check_options(reference: Any, mode: Any, seed: Any, rtol: Any, atol: Any) -> None:
    """The options every layer-like check shares: an InputError naming a bad one."""
    if reference not in REFERENCES:
        raise InputError(f"`reference` must be one of {REFERENCES}, got {reference!r}.")
    if mode not in MODES:
        raise InputError(f"`mode` must be one of {MODES}, got {mode!r}.")
    _validate.seed(seed)
    for name, value in (("rtol", rtol), ("atol", atol)):
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not math.isfinite(value)
            or value < 0
        ):
            raise InputError(f"`{name}` must be a non-negative finite float or None.")


class _LayerCheck(Contracts, Strategies, SymbolicReference):
    """One check of one layer: :meth:`run` orchestrates the steps the mixins provide."""

    def run(self) -> LayerReport:
        with contextlib.suppress(CheckFailed):
            self._run()
        return LayerReport(
            subject=self.subject or type(self.layer).__name__,
            failures=self.failures,
            tensors=self.tensors,
            seed=self.seed,
            mode=self.mode,
            strategy=self.strategy,
            reference=self.reference,
            dtype=self.dtype,
            notes=self.notes,
            nfev=self.nfev,
            step_curve=self.step_curve,
            evaluations={"forward": self.adapter.forwards, "backward": self.adapter.backwards},
        )

    def _run(self) -> None:
        # Long on purpose: the steps of a check in their required order (first forward,
        # parameters, probe, backward, contracts, numeric, symbolic, decide); each step is a
        # method of its own.
        layer, ad = self.layer, self.adapter
        candidates = (
            list(self.explicit_params)
            if self.explicit_params is not None
            else candidate_params(layer)
        )
        self._writable_copies(candidates)
        before = {name: getattr(layer, name) for name in candidates}
        if self.y_true is None:
            forward = layer.inner_forward if isinstance(layer, HeldParamsLayer) else layer.forward
            ad.pass_training = takes_training(forward, ad.forward_kwargs)
        self._freeze_randomness()

        # first forward: what kind of object is this, and what does forward touch?  Does it
        # draw from numpy's global generator?  Without a cached Gaussian any draw moves the
        # generator, which its fingerprint shows; otherwise seed first (clears the cache)
        gstate = None
        fingerprint = None if self.cached_gaussian else state.global_fingerprint()
        if fingerprint is None:
            np.random.seed(RANDOM_SEED)
            fingerprint = state.global_fingerprint()
            if fingerprint is None:
                gstate = np.random.get_state()
        gen_states = [generator_state(g) for g, _ in ad.generators]
        ad.reseed_global = False  # the state after forward tells if it draws
        returned = self.call("forward", lambda: ad.forward_raw(self.x))
        self._check_inputs_unchanged("forward")
        if gstate is not None:
            ad.reseed_global = not same_state(gstate, np.random.get_state())
        else:
            ad.reseed_global = state.global_fingerprint() != fingerprint
        ad.generators = [
            (g, s)
            for (g, s), s_before in zip(ad.generators, gen_states, strict=True)
            if not same_state(s_before, generator_state(g))
        ]
        if ad.reseed_global or ad.generators:
            self.notes.append(msg.msg_randomness())
        self._classify(returned)
        if not (ad.reseed_global or ad.generators):  # no draws: a rerun would be this call
            self.first_returned = returned

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
            if self.unit_probe:
                ad.G = np.ones(out.shape, dtype=gdtype)
            else:
                ad.G = self.rng.standard_normal(out.shape).astype(gdtype)
            ad.G64 = ad.G.astype(np.float64)
            if self.user_penalty is not None:
                ad.penalty = self.user_penalty
            elif has_regularizers(layer):
                ad.penalty = book_penalty
        self.probe = ad.make_probe()

        # backward at the unperturbed point
        tensors = [Tensor("inputs", self.x, "dinputs")] if self.differentiate_inputs else []
        tensors += [Tensor(name, getattr(layer, name), "d" + name) for name in params]
        self.param_copies = {name: self._start_copy(getattr(layer, name)) for name in params}
        grads = self._backward_once(tensors)
        self._check_gradients(tensors, grads)
        if ad.is_layer:
            self._check_linearity(tensors)
        self._numeric(tensors)
        if self.reference != "numeric":
            self._symbolic(tensors)
        self._decide(tensors)

    def _start_copy(self, array: np.ndarray) -> np.ndarray:
        """The parameter's values at the start: the snapshot's copy when it still holds
        them (no second copy of a large weight matrix), else a fresh one."""
        saved = self.snapshot.saved_copy(array) if self.snapshot is not None else None
        return array.copy() if saved is None else saved

    def _writable_copies(self, names: list[str]) -> list[str]:
        """A read-only parameter is perturbed in a writable copy bound in its place (the
        snapshot binds the original back); integer arrays are named as not checked."""
        attrs = vars(self.layer)
        copied = []
        for name in names:
            value = attrs.get(name)
            if isinstance(value, np.ndarray) and not value.flags.writeable:
                attrs[name] = value.copy()
                copied.append(name)
        if copied:
            which = ", ".join(f"`{n}`" for n in copied)
            self.notes.append(
                f"Note: {which} {'is' if len(copied) == 1 else 'are'} read-only: checked in a "
                "writable copy bound in its place during the check; the original is put back."
            )
        ints = [
            n
            for n, v in attrs.items()
            if isinstance(v, np.ndarray)
            and v.dtype.kind in "iu"
            and v.ndim >= 2
            and not n.startswith("_")
            and n not in INDEX_NAMES
            and v is not self.x
        ]
        if ints and self.explicit_params is None:
            which = ", ".join(f"`{n}`" for n in ints[:4])
            self.notes.append(
                f"Note: {which} {'is an integer array' if len(ints) == 1 else 'are integer arrays'}"
                ": not checked (only floating-point parameters are perturbed)."
            )
        return copied

    def _freeze_randomness(self) -> None:
        gens = []
        owners = [self.layer]
        if isinstance(self.layer, HeldParamsLayer):
            owners.append(self.layer._dc_layer)
        values = [v for owner in owners if hasattr(owner, "__dict__") for v in vars(owner).values()]
        for value in values:
            if isinstance(value, np.random.Generator | np.random.RandomState):
                gens.append((value, generator_state(value)))
        self.adapter.generators = gens

    def _decide(self, tensors: list[Tensor]) -> None:
        batch = self.batch
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
                check.diagnosis = diagnose(
                    check,
                    batch,
                    self.x if t.name == "inputs" else None,
                    outputs=0 if self.adapter.is_layer else self.x.shape[-1],
                    indices=self._index_arrays(),
                    values=None if t.name == "inputs" else t.array,
                    batch_axis=self._batch_axis(t),
                )
                self._entry_failures(check)
                if self.step_curve is None and t.array.size:
                    self._step_curve(t, check)

    def _step_curve(self, t: Tensor, check: TensorCheck) -> None:
        """The error-vs-step curve of the tensor's worst wrong entry (for the plot)."""
        first = next(
            (f for f in self.failures if f.tensor == check.name and f.kind == "mismatch"), None
        )
        if first is None or len(first.index) != t.array.ndim:
            return
        try:
            self.step_curve = stepcurve.curve_of(
                self.probe, t.array, first, float(entries.at(check, "tol", first.index)), self.eps
            )
        finally:
            self._put_back_all()

    def _batch_axis(self, t: Tensor) -> bool:
        """Whether ``t``'s first axis is the samples: the inputs, or a function's first
        differentiated argument."""
        if t.name == "inputs":
            return True
        wrt = vars(self.layer).get("_dc_wrt")
        return bool(wrt) and wrt[0][0] == 0 and wrt[0][1] == t.name

    def _index_arrays(self) -> list[np.ndarray]:
        """Integer arrays forward indexes with (an embedding's ids): the inputs, or a function's
        arguments that pass through."""
        found = [self.x] if self.x.dtype.kind in "iu" else []
        for value in vars(self.layer).get("_dc_args", ()):
            if isinstance(value, np.ndarray) and value.dtype.kind in "iu":
                found.append(value)
        return found

    def _entry_failures(self, check: TensorCheck) -> None:
        assert check.analytic is not None
        for index in check.worst(MAX_FAILURES_PER_TENSOR):
            self.failures.append(
                Failure(
                    tensor=check.name,
                    index=index,
                    analytic=float(check.analytic[index]),
                    numeric=float(entries.at(check, "numeric", index)),
                    symbolic=None if check.symbolic is None else float(check.symbolic[index]),
                    error=float(entries.at(check, "error", index)),
                    kind="mismatch",
                )
            )


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
    full_budget: float | None = None,
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
    params : list of str, or dict of arrays, optional
        The parameter attributes (a name may be a dict attribute: its arrays),
        or a mapping ``{name: array}`` of the very arrays forward reads, for
        parameters kept anywhere else.  Default: the floating-point arrays the
        layer holds before the check that forward reads, and those in a
        ``params`` or ``parameters`` dict (an array the output does not depend
        on and that has no gradient, such as an optimizer cache, is ignored
        with a note).  Gradients are found as ``d<name>``, ``d<Name>``,
        ``grad_<name>``, ``<name>_grad``, in a ``grads``/``gradients`` dict, or
        in what backward returns.
    reference : {"numeric", "symbolic", "both"}
        What the backward is compared with: central differences, exact SymPy
        derivatives of the traced forward (small layers only; the numeric
        check stands when tracing is impossible), or both.
    mode : {"auto", "full", "directional"}
        ``"full"`` checks every entry.  ``"directional"`` checks
        :data:`JOINT_PROBES` Gaussian directional probes, each over every entry
        of every tensor at once (the second along the first turned a quarter in each
        pair of entries: independent of it as a probe), plus a seeded sample of
        :data:`SAMPLED_ENTRIES` entry per tensor one by one (the probe's noise is measured
        at most once, when the rounding floor alone does not settle them); only when a probe
        disagrees are the tensors probed separately and the wrong entries
        localised (a tensor whose probes straddle a kink gets
        :data:`FALLBACK_ENTRIES` sampled entries instead).  A full check groups
        entries whose effects land in separate output rows or columns
        (Jacobian compression, :mod:`derivcheck.layers.compress`: the structure is
        confirmed on the layer, and every entry it calls wrong is estimated again
        alone).  ``"auto"`` times one forward and runs the full check when it is
        estimated to take at most :data:`~derivcheck.layers.compress.FULL_SECONDS`
        (and at most :data:`FULL_CHECK_LIMIT` entries cannot be grouped),
        directional otherwise; ``report.strategy`` says which, and why.
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
        ``progress(stage, done, total)`` is called as the check moves on, ``done``
        and ``total`` counting the forward evaluations planned: before each
        gradient's finite differences (``stage`` names the gradient, e.g.
        ``"dweights"``), after each group of entries of a compressed full check
        (``"dweights group 12/784"``), after each directional probe and each
        tensor's sample (``"probe 1 of 2"``, ``"dweights sample"``), and once at the
        end with ``done == total``.
        The command line draws its progress bar, with rate and time left, from it.
    full_budget : float, optional
        Seconds ``mode="auto"`` may spend on a full check, as estimated from timed
        probes; above it the check is directional.  Default
        :data:`~derivcheck.layers.compress.FULL_SECONDS` (1 s).

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
    if isinstance(layer, type):
        raise InputError(
            f"`layer` is the class {layer.__name__}; pass an instance, e.g. {layer.__name__}(...)."
        )
    subject = None
    if is_combined_without_forward(layer):
        # chapters 19-22: the model runs softmax and loss itself; the probe is the mean
        # cross-entropy of softmax(inputs), and backward gets the softmax outputs
        if y_true is None:
            raise InputError(
                f"{type(layer).__name__} is a loss (a fused softmax + cross-entropy backward): "
                "pass y_true."
            )
        subject = type(layer).__name__
        layer = CombinedWithoutForward(layer)
    if needs_wrapper(layer, params):
        # parameters in a params/parameters dict, or given as a mapping of arrays
        subject = subject or type(layer).__name__
        layer = HeldParamsLayer(layer, params)
        params = layer.param_names if params is not None else None
    x, labels = _check_arguments(
        layer, inputs, y_true, params, reference, mode, seed, rtol, atol, forward_kwargs, penalty
    )
    if progress is not None and not callable(progress):
        raise InputError(f"`progress` must be callable or None, got {progress!r}.")
    if full_budget is not None:
        full_budget = _validate.non_negative_float(full_budget, "full_budget")
    integer = x.dtype.kind != "f"
    report = run_check(
        layer,
        x,
        labels,
        differentiate_inputs=not integer,
        params=params,
        reference=reference,
        mode=mode,
        seed=int(seed),
        rtol=rtol,
        atol=atol,
        forward_kwargs=forward_kwargs or {},
        penalty=penalty,
        progress=progress,
        subject=subject,
        full_budget=full_budget,
    )
    if integer:
        report.notes.insert(0, msg_integer_inputs(x.dtype))
    return report


def run_wrapper(
    layer: Any,
    params: list[str],
    *,
    batch: int,
    subject: str,
    full_limit: int,
    **options: Any,
) -> LayerReport:
    """Check a wrapper that shows something else as a layer (a function pair, a loss that
    returns its gradient, one layer inside a model): every differentiated array is one of
    its parameters, its own ``inputs`` are a placeholder that is not differentiated."""
    options.setdefault("progress", None)
    return run_check(
        layer,
        np.zeros(1),
        None,
        params=params,
        forward_kwargs={},
        penalty=None,
        differentiate_inputs=False,
        batch=batch,
        full_limit=full_limit,
        subject=subject,
        **options,
    )


def run_check(layer: Any, x: np.ndarray, labels: np.ndarray | None, **options: Any) -> LayerReport:
    """One check of validated arguments, the layer restored after (also used by the
    function, value-and-grad and model checks, which wrap what they check as a layer)."""
    subject = options.pop("subject", None)
    snapshot = Snapshot(layer)
    try:
        with np.errstate(all="ignore"):
            check = _LayerCheck(
                layer, x, labels, cached_gaussian=snapshot.cached_gaussian, **options
            )
            check.subject = subject
            check.snapshot = snapshot
            return check.run()
    finally:
        snapshot.restore()


def msg_integer_inputs(dtype: Any) -> str:
    return (
        f"Note: the inputs are {dtype} (ids or a mask): passed to forward unchanged, so only "
        "the parameters are checked."
    )
