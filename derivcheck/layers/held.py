"""Parameters held somewhere other than plain attributes: in a ``params`` or
``parameters`` dict of the layer (``self.params["W"]``), or given as a
``params={"W": array}`` mapping of the very arrays ``forward`` reads.

:class:`HeldParamsLayer` shows such a layer to the check as a book-convention layer:
each parameter is an attribute named by its key (the same array object, so the
check's in-place perturbation reaches the layer), and after ``backward`` each
gradient is looked for in the layer under the usual names or in its ``grads`` /
``gradients`` dict.

Examples
--------
>>> import numpy as np
>>> class Dense:
...     def __init__(self):
...         self.params = {"W": np.array([[0.5, -1.0], [2.0, 0.25]]), "b": np.zeros(2)}
...     def forward(self, x):
...         self.x = x
...         return x @ self.params["W"] + self.params["b"]
...     def backward(self, dout):
...         self.grads = {"W": self.x.T @ dout, "b": dout.sum(axis=0)}
...         return dout @ self.params["W"].T
>>> from derivcheck import check_layer
>>> check_layer(Dense(), np.array([[1.0, 2.0], [-0.5, 3.0]])).checked
{'dinputs': 4, 'dW': 4, 'db': 2}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from derivcheck.errors import InputError
from derivcheck.layers.adapters import (
    GRAD_DICTS,
    INPUT_ALIASES,
    PARAM_ALIASES,
    candidate_params,
)

#: the dict attributes a layer may keep its parameters in
PARAM_DICTS = ("params", "parameters")

_RESERVED = frozenset({"inputs", "output", "dinputs", "forward", "backward"})


def _float_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size > 0


def dict_params(layer: Any) -> dict[str, tuple[dict[Any, Any], Any]]:
    """``name -> (dict, key)`` for the floating arrays in the layer's parameter dicts."""
    found: dict[str, tuple[dict[Any, Any], Any]] = {}
    attrs = vars(layer) if hasattr(layer, "__dict__") else {}
    for holder in PARAM_DICTS:
        d = attrs.get(holder)
        if isinstance(d, dict):
            for key, value in d.items():
                if _float_array(value) and str(key) not in found:
                    found[str(key)] = (d, key)
    return found


def needs_wrapper(layer: Any, params: Any) -> bool:
    if isinstance(params, Mapping):
        return True
    if params is not None:
        return any(isinstance(getattr(layer, p, None), dict) for p in params)
    return bool(dict_params(layer))


class HeldParamsLayer:
    """A layer whose parameters live in dicts (or were given by the caller), seen as one whose
    parameters are attributes."""

    _dc_layer: Any
    _dc_where: dict[str, tuple[Any, Any]]
    _dc_names: list[str]

    def __init__(self, layer: Any, params: Any) -> None:
        d = self.__dict__
        d["_dc_layer"] = layer
        where: dict[str, tuple[Any, Any]] = {}
        if isinstance(params, Mapping):
            for key, value in params.items():
                if not _float_array(value):
                    raise InputError(
                        f"`params`: {key!r} must be a non-empty floating-point array (the very "
                        f"array forward reads), got {type(value).__name__}."
                    )
                where[str(key)] = (None, value)
        else:
            names = list(params) if params is not None else None
            held = dict_params(layer)
            if names is None:
                for name in candidate_params(layer):
                    where[name] = (layer, name)
                for name, (holder, key) in held.items():
                    where.setdefault(name, (holder, key))
            else:
                for name in names:
                    value = getattr(layer, name, None)
                    if isinstance(value, dict):
                        for key, item in value.items():
                            if _float_array(item):
                                where.setdefault(str(key), (value, key))
                    elif _float_array(value):
                        where[name] = (layer, name)
                    else:
                        raise InputError(
                            f"`params`: the layer has no floating-point array or dict of arrays "
                            f"{name!r}."
                        )
        d["_dc_where"] = {}
        for name, place in where.items():
            attr = name + "_" if name in _RESERVED or name.startswith("_") else name
            d["_dc_where"][attr] = place
            d[attr] = self._read(place)
        d["_dc_names"] = list(d["_dc_where"])

    @staticmethod
    def _read(place: tuple[Any, Any]) -> Any:
        holder, key = place
        if holder is None:
            return key  # a caller-given array
        if isinstance(holder, dict):
            return holder[key]
        return getattr(holder, key)

    @property
    def param_names(self) -> list[str]:
        return list(self._dc_names)

    @property
    def inner_forward(self) -> Callable[..., Any]:
        return self._dc_layer.forward

    def _derivcheck_bind(self, values: dict[str, Any]) -> Callable[[], None]:
        """Put traced arrays where the layer reads them (its dicts, its attributes)."""
        undo: list[tuple[Any, Any, Any]] = []
        for attr, value in values.items():
            holder, key = self._dc_where.get(attr, (None, None))
            if holder is None:
                continue
            if isinstance(holder, dict):
                undo.append((holder, key, holder[key]))
                holder[key] = value
            else:
                undo.append((holder, key, vars(holder)[key]))
                vars(holder)[key] = value

        def unbind() -> None:
            for holder, key, old in reversed(undo):
                if isinstance(holder, dict):
                    holder[key] = old
                else:
                    vars(holder)[key] = old

        return unbind

    def forward(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        inner = self._dc_layer
        returned = inner.forward(inputs, *args, **kwargs)
        if "output" in vars(inner):
            self.output = inner.output
        return returned

    def _places(self, attr: str, key: str) -> list[tuple[str, Any]]:
        inner = vars(self._dc_layer)
        out: list[tuple[str, Any]] = []
        if attr == "inputs":
            names = ["dinputs", *INPUT_ALIASES]
        else:
            P = key[:1].upper() + key[1:]
            names = ["d" + key] + [f.format(p=key, P=P) for f in PARAM_ALIASES]
        for name in names:
            if name in inner:
                out.append((name, inner[name]))
        if attr != "inputs":
            for holder in GRAD_DICTS:
                grads = inner.get(holder)
                if isinstance(grads, dict) and key in grads:
                    out.append((f"{holder}[{key}]", grads[key]))
        return out

    def backward(self, dvalues: Any, *args: Any) -> Any:
        keys = {"inputs": "inputs"}
        for attr, (holder, key) in self._dc_where.items():
            keys[attr] = attr if holder is None else str(key)
        before = {
            (attr, place): (value, value.tobytes() if isinstance(value, np.ndarray) else None)
            for attr, key in keys.items()
            for place, value in self._places(attr, key)
        }
        returned = self._dc_layer.backward(dvalues, *args)
        for attr, key in keys.items():
            target = "dinputs" if attr == "inputs" else "d" + attr
            self.__dict__.pop(target, None)
            for place, value in self._places(attr, key):
                old = before.get((attr, place))
                stale = (
                    old is not None
                    and value is old[0]
                    and isinstance(value, np.ndarray)
                    and value.tobytes() == old[1]
                )
                if not stale:
                    self.__dict__[target] = value
                    break
        return returned
