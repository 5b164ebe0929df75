"""Functions, not classes: :func:`check_function` (``out, cache = f_forward(x, w, b)`` and
``dx, dw, db = f_backward(dout, cache)``) and :func:`check_value_and_grad`
(``loss, dx = softmax_loss(x, y)``, a model's ``loss(X, y) -> (loss, grads)``).

Each wraps what it checks as a layer in the book's convention -- every
differentiated argument becomes a parameter of the wrapper, named as in the
function's signature -- and runs the same check as
:func:`~derivcheck.layers.check.check_layer`: the same contracts, modes,
references, diagnoses and :class:`~derivcheck.layers.report.LayerReport`.
Arguments that are not differentiated (integers, index arrays, masks, option
dicts such as ``conv_param``) pass through unchanged, and are put back as they
were before every call and after the check: a ``bn_param`` whose running mean
the forward updates is found exactly as it was given.

Examples
--------
>>> import numpy as np
>>> from derivcheck.examples import cs231n
>>> rng = np.random.default_rng(0)
>>> x, w, b = rng.normal(size=(4, 5)), rng.normal(size=(5, 3)), rng.normal(size=3)
>>> rep = check_function(cs231n.affine_forward, cs231n.affine_backward, x, w, b)
>>> rep.ok, rep.checked
(True, {'dx': 20, 'dw': 15, 'db': 3})
>>> scores, y = rng.normal(size=(6, 3)), np.array([0, 2, 1, 1, 0, 2])
>>> check_value_and_grad(cs231n.softmax_loss, scores, y).ok
True
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from derivcheck.errors import InputError
from derivcheck.layers.adapters import ConventionError
from derivcheck.layers.arguments import (
    RESERVED,
    PassThrough,
    argument_names,
    describe,
    full_limit,
    is_float_array,
    positional_count,
    resolve_wrt,
)
from derivcheck.layers.check import check_options, run_wrapper
from derivcheck.layers.report import LayerReport

__all__ = ["check_function", "check_value_and_grad"]


def _attribute(name: str) -> str:
    return name + "_" if name in RESERVED or name.startswith("_") else name


class FunctionLayer:
    """``forward(*args)`` / ``backward(*douts, cache)`` seen as a layer whose parameters are
    the differentiated arguments (copies: the caller's arrays are never perturbed)."""

    _dc_forward: Callable[..., Any]
    _dc_backward: Callable[..., Any]
    _dc_args: list[Any]
    _dc_wrt: list[tuple[int, str]]
    _dc_default: list[str]
    _dc_state: PassThrough
    _dc_outputs: int | None
    _dc_cache: Any
    _dc_has_cache: bool
    _dc_shapes: list[tuple[int, ...]]

    def __init__(
        self,
        forward: Callable[..., Any],
        backward: Callable[..., Any],
        args: Sequence[Any],
        names: list[str],
        wrt: list[int],
        default: list[int],
    ) -> None:
        d = self.__dict__
        d["_dc_forward"], d["_dc_backward"] = forward, backward
        d["_dc_args"] = list(args)
        d["_dc_wrt"] = [(pos, _attribute(names[pos])) for pos in wrt]
        d["_dc_default"] = [_attribute(names[pos]) for pos in default]
        d["_dc_state"] = PassThrough([a for i, a in enumerate(args) if i not in wrt])
        n_back = positional_count(backward)
        d["_dc_outputs"] = None if n_back is None else max(1, n_back - 1)
        d["_dc_cache"] = None
        d["_dc_has_cache"] = False
        d["_dc_shapes"] = []
        for pos, attr in d["_dc_wrt"]:
            d[attr] = np.array(args[pos], copy=True)

    @property
    def param_names(self) -> list[str]:
        return [attr for _, attr in self._dc_wrt]

    def forward(self, inputs: Any) -> None:
        self._dc_state.restore()
        args = list(self._dc_args)
        for pos, attr in self._dc_wrt:
            args[pos] = self.__dict__[attr]
        result = self._dc_forward(*args)
        outs, cache, has_cache = self._split(result)
        self._dc_cache, self._dc_has_cache = cache, has_cache
        self._dc_shapes = [np.shape(o) for o in outs]
        if len(outs) == 1:
            self.output = outs[0]
        else:
            self.output = np.concatenate([np.ravel(o) for o in outs])

    def _split(self, result: Any) -> tuple[list[Any], Any, bool]:
        name = getattr(self._dc_forward, "__name__", "forward")
        if not isinstance(result, tuple | list):
            outs, cache, has_cache = [result], None, False
        else:
            k = self._dc_outputs if self._dc_outputs is not None else len(result) - 1
            if len(result) != k + 1:
                raise ConventionError(
                    f"{name} returned {describe(result)}; the backward takes {k} upstream "
                    f"gradient(s) and a cache, so {k + 1} items were expected: "
                    f"(out{'_1, ..., out_' + str(k) if k > 1 else ''}, cache)."
                )
            outs, cache, has_cache = list(result[:k]), result[k], True
        for i, out in enumerate(outs):
            if not isinstance(out, np.ndarray | numbers.Real | np.generic) or (
                np.asarray(out).dtype.kind not in "fiub" and np.asarray(out).dtype != object
            ):
                raise ConventionError(
                    f"{name} returned {describe(out)} as output {i + 1}; an array was expected."
                )
        return outs, cache, has_cache

    def backward(self, dvalues: np.ndarray) -> None:
        shapes = self._dc_shapes
        if len(shapes) == 1:
            douts = [dvalues]
        else:
            douts, start = [], 0
            for shape in shapes:
                size = int(np.prod(shape))
                douts.append(dvalues[start : start + size].reshape(shape))
                start += size
        if self._dc_has_cache:
            result = self._dc_backward(*douts, self._dc_cache)
        else:
            result = self._dc_backward(*douts)
        grads = [result] if isinstance(result, np.ndarray) else result
        name = getattr(self._dc_backward, "__name__", "backward")
        wanted = self.param_names
        if not isinstance(grads, tuple | list):
            raise ConventionError(
                f"{name} returned {describe(result)}; expected the gradients of "
                f"{', '.join(wanted)} (a tuple, or one array)."
            )
        if len(grads) == len(wanted):
            targets = wanted
        elif len(grads) == len(self._dc_default):
            targets = self._dc_default  # all floating arguments' gradients; keep those wanted
        else:
            expected = ", ".join("d" + w for w in wanted)
            raise ConventionError(
                f"{name} returned {len(grads)} gradient(s); expected {len(wanted)} "
                f"({expected}), in the order of the arguments."
            )
        for target, g in zip(targets, grads, strict=True):
            if target in wanted and g is not None:
                self.__dict__["d" + target] = g


class ValueGradLayer:
    """``fun(*args) -> (value, grads)`` seen as a layer with a scalar output; parameters in a
    ``params`` dict are the caller's own arrays, perturbed in place (and restored)."""

    _dc_fun: Callable[..., Any]
    _dc_args: list[Any]
    _dc_wrt: list[tuple[int, str, str]]
    _dc_params: Any
    _dc_param_attrs: list[tuple[str, Any]]
    _dc_state: PassThrough
    _dc_mapping: dict[Any, Any] | None
    _dc_grads: Any

    def __init__(
        self,
        fun: Callable[..., Any],
        args: Sequence[Any],
        names: list[str],
        wrt: list[int],
        params: Mapping[str, np.ndarray] | None,
    ) -> None:
        d = self.__dict__
        d["_dc_fun"] = fun
        d["_dc_args"] = list(args)
        d["_dc_wrt"] = [(pos, _attribute(names[pos]), names[pos]) for pos in wrt]
        d["_dc_params"] = params
        d["_dc_param_attrs"] = []
        passed = [a for i, a in enumerate(args) if i not in wrt]
        if params is not None:
            passed_ids = {id(a) for a in passed}
            if id(params) in passed_ids:
                passed = [a for a in passed if a is not params]
        d["_dc_state"] = PassThrough(passed)
        d["_dc_mapping"] = dict(params) if params is not None else None
        d["_dc_grads"] = None
        for pos, attr, _ in d["_dc_wrt"]:
            d[attr] = np.array(args[pos], copy=True)
        for key, arr in (params or {}).items():
            attr = _attribute(str(key))
            if attr in d:
                raise InputError(f"`params`: key {key!r} is also the name of an argument.")
            d[attr] = arr  # the very array fun reads through the dict
            d["_dc_param_attrs"].append((attr, key))

    @property
    def param_names(self) -> list[str]:
        return [attr for _, attr, _ in self._dc_wrt] + [attr for attr, _ in self._dc_param_attrs]

    def _derivcheck_bind(self, values: dict[str, Any]) -> Callable[[], None]:
        """Put traced arrays where fun reads them (the params dict); returns the undo."""
        params = self._dc_params
        if params is None:
            return lambda: None
        saved = dict(params)
        mapping = self._dc_mapping
        saved_mapping = dict(mapping) if mapping is not None else None
        for attr, key in self._dc_param_attrs:
            if attr in values:
                params[key] = values[attr]
                if mapping is not None:
                    mapping[key] = values[attr]  # forward puts this mapping back first

        def unbind() -> None:
            params.clear()
            params.update(saved)
            if mapping is not None and saved_mapping is not None:
                mapping.clear()
                mapping.update(saved_mapping)

        return unbind

    def forward(self, inputs: Any) -> None:
        self._dc_state.restore()
        mapping = self._dc_mapping
        params = self._dc_params
        if (
            mapping is not None
            and params is not None
            and (
                len(params) != len(mapping)
                or any(params.get(k) is not v for k, v in mapping.items())
            )
        ):
            params.clear()
            params.update(mapping)
        args = list(self._dc_args)
        for pos, attr, _ in self._dc_wrt:
            args[pos] = self.__dict__[attr]
        result = self._dc_fun(*args)
        name = getattr(self._dc_fun, "__name__", "fun")
        if not isinstance(result, tuple | list) or len(result) != 2:
            raise ConventionError(
                f"{name} returned {describe(result)}; expected (value, grad), "
                "(value, (grad_1, ...)) or (value, {name: grad})."
            )
        value, grads = result
        if (
            value is None
            or isinstance(value, str | bytes | tuple | list | dict)
            or np.size(value) != 1
        ):
            raise ConventionError(
                f"{name} returned {describe(value)} as its value; a scalar was expected."
            )
        out = np.asarray(value)
        if out.dtype.kind in "iub":
            out = out.astype(np.float64)
        self.output = out.reshape(())
        self._dc_grads = grads

    def backward(self, dvalues: np.ndarray) -> None:
        grads = self._dc_grads
        name = getattr(self._dc_fun, "__name__", "fun")
        wanted = [(attr, label) for _, attr, label in self._dc_wrt] + [
            (attr, str(key)) for attr, key in self._dc_param_attrs
        ]
        scale = dvalues
        found: dict[str, Any] = {}
        if isinstance(grads, Mapping):
            for attr, label in wanted:
                for key in (label, "d" + label, "grad_" + label, label + "_grad"):
                    if key in grads:
                        found[attr] = grads[key]
                        break
        elif isinstance(grads, np.ndarray | numbers.Real) and len(wanted) == 1:
            found[wanted[0][0]] = grads
        elif isinstance(grads, tuple | list) and len(grads) == len(wanted):
            found = {attr: g for (attr, _), g in zip(wanted, grads, strict=True)}
        else:
            labels = ", ".join(label for _, label in wanted)
            raise ConventionError(
                f"{name} returned {describe(grads)} as its gradient(s); expected the "
                f"gradient{'s' if len(wanted) > 1 else ''} of {labels}."
            )
        for attr, g in found.items():
            if isinstance(g, np.ndarray | numbers.Real | np.generic):
                self.__dict__["d" + attr] = np.asarray(g) * scale
            elif g is not None:
                self.__dict__["d" + attr] = g


def _batch(args: Sequence[Any], wrt: list[int]) -> int:
    """The batch size diagnoses speak of: the length of the first differentiated argument
    (or of the first array)."""
    for pos in wrt:
        return len(args[pos]) if np.ndim(args[pos]) else 1
    for arr in args:
        if isinstance(arr, np.ndarray) and arr.ndim:
            return len(arr)
    return 1


def _subject(*funs: Callable[..., Any]) -> str:
    return "/".join(getattr(f, "__name__", type(f).__name__) for f in funs)


def check_function(
    forward: Callable[..., Any],
    backward: Callable[..., Any],
    *args: Any,
    wrt: Any = None,
    reference: str = "numeric",
    mode: str = "auto",
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> LayerReport:
    """Check a functional layer: ``forward(*args)`` and its hand-written ``backward``.

    Parameters
    ----------
    forward : callable
        ``forward(*args)`` returns ``out``, ``(out, cache)`` or
        ``(out_1, ..., out_k, cache)``.
    backward : callable
        ``backward(dout, cache)`` (or ``backward(dout_1, ..., dout_k, cache)``;
        ``backward(dout)`` when forward returns no cache) returns the gradients
        of the differentiated arguments in order: a tuple, or one array.  A
        backward that returns the gradient of every floating-point argument
        while ``wrt`` names fewer is fine: the others are ignored.
    *args
        The point to check at, passed to ``forward`` as given.
    wrt : str, int or sequence of them, optional
        The arguments to differentiate, by name in ``forward``'s signature or by
        position.  Default: every non-empty floating-point ndarray argument.
        Everything else (ints, index arrays, masks, dicts of options such as
        ``conv_param`` or ``bn_param``) passes through unchanged, and is put back
        as it was before each call and after the check.
    reference, mode, seed, rtol, atol, progress
        As for :func:`~derivcheck.layers.check.check_layer`, except that
        ``mode="auto"`` decides by cost: every entry one by one while that takes
        about :data:`~derivcheck.layers.arguments.FULL_SECONDS` of forward calls (at least
        :data:`~derivcheck.layers.arguments.FULL_FLOOR`
        entries), directional probes above.

    Returns
    -------
    LayerReport
        Its gradients are named ``d<argument>``: ``dx``, ``dw``, ``dprev_h``.

    Examples
    --------
    >>> import numpy as np
    >>> from derivcheck.examples import cs231n
    >>> x = np.random.default_rng(1).normal(size=(3, 4))
    >>> rep = check_function(cs231n.relu_forward, cs231n.relu_backward, x)
    >>> rep.ok, list(rep.checked)
    (True, ['dx'])
    """
    for label, fn in (("forward", forward), ("backward", backward)):
        if not callable(fn):
            raise InputError(f"`{label}` must be callable, got {describe(fn)}.")
    if not args:
        raise InputError("check_function needs the arguments to call forward with.")
    check_options(reference, mode, seed, rtol, atol)
    names = argument_names(forward, len(args))
    default = [i for i, a in enumerate(args) if is_float_array(a)]
    positions = resolve_wrt(wrt, args, names, default)
    if not positions:
        raise InputError(
            "check_function: no argument to differentiate (no floating-point array among "
            f"{', '.join(names)}); name one with `wrt`."
        )
    for pos in positions:
        _check_finite(names[pos], args[pos])
    layer = FunctionLayer(forward, backward, args, names, positions, default)
    try:
        return run_wrapper(
            layer,
            layer.param_names,
            batch=_batch(args, positions),
            subject=_subject(forward, backward),
            full_limit=full_limit(layer),
            reference=reference,
            mode=mode,
            seed=int(seed),
            rtol=rtol,
            atol=atol,
            progress=progress,
        )
    finally:
        layer._dc_state.restore()


def check_value_and_grad(
    fun: Callable[..., Any],
    *args: Any,
    wrt: Any = None,
    params: Mapping[str, np.ndarray] | None = None,
    reference: str = "numeric",
    mode: str = "auto",
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> LayerReport:
    """Check a function that returns its value and its gradient together.

    Parameters
    ----------
    fun : callable
        ``fun(*args)`` returns ``(value, grad)``, ``(value, (grad_1, ...))`` or
        ``(value, {name: grad})``; ``value`` is a scalar (a loss).
    *args
        The point, passed to ``fun`` as given.
    wrt : str, int or sequence of them, optional
        The arguments to differentiate (names or positions).  Default: every
        floating-point ndarray argument -- or none of them when ``params`` is
        given (a model's ``loss(X, y)`` is differentiated in its parameters).
    params : dict of arrays, optional
        Arrays ``fun`` reads from somewhere else, such as a model's
        ``model.params``: perturbed in place, restored bit for bit, and checked
        against ``grads[name]`` (``grads`` a dict).
    reference, mode, seed, rtol, atol, progress
        As for :func:`check_function` (``mode="auto"`` decides by cost).

    Returns
    -------
    LayerReport
        Gradients named ``d<argument>`` and ``d<key>`` for each params key.

    Examples
    --------
    >>> import numpy as np
    >>> from derivcheck.examples import cs231n
    >>> model = cs231n.TwoLayerNet(input_dim=4, hidden_dim=5, num_classes=3, reg=0.1)
    >>> X = np.random.default_rng(2).normal(size=(6, 4))
    >>> y = np.array([0, 1, 2, 1, 0, 2])
    >>> rep = check_value_and_grad(model.loss, X, y, params=model.params)
    >>> rep.ok, sorted(rep.checked)
    (True, ['dW1', 'dW2', 'db1', 'db2'])
    """
    if not callable(fun):
        raise InputError(f"`fun` must be callable, got {describe(fun)}.")
    check_options(reference, mode, seed, rtol, atol)
    if params is not None:
        if not isinstance(params, Mapping):
            raise InputError(f"`params` must be a dict of arrays, got {describe(params)}.")
        for key, value in params.items():
            if not is_float_array(value):
                raise InputError(
                    f"`params`: {key!r} is {describe(value)}; only non-empty floating-point "
                    "arrays can be checked."
                )
            _check_finite(str(key), value)
    names = argument_names(fun, len(args))
    default = [] if params is not None else [i for i, a in enumerate(args) if is_float_array(a)]
    positions = resolve_wrt(wrt, args, names, default)
    if not positions and not params:
        raise InputError(
            "check_value_and_grad: nothing to differentiate (no floating-point argument and no "
            "`params`)."
        )
    for pos in positions:
        _check_finite(names[pos], args[pos])
    layer = ValueGradLayer(fun, args, names, positions, params)
    try:
        return run_wrapper(
            layer,
            layer.param_names,
            batch=_batch(args, positions),
            subject=_subject(fun),
            full_limit=full_limit(layer),
            unit_probe=True,
            reference=reference,
            mode=mode,
            seed=int(seed),
            rtol=rtol,
            atol=atol,
            progress=progress,
        )
    finally:
        layer._dc_state.restore()
        if params is not None and layer._dc_mapping is not None and isinstance(params, dict):
            params.clear()
            params.update(layer._dc_mapping)


def _check_finite(name: str, value: np.ndarray) -> None:
    if not np.all(np.isfinite(value)):
        raise InputError(f"`{name}` must be finite (it contains NaN or inf).")
