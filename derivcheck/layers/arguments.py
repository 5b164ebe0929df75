"""The arguments of a function check: their names, which are differentiated, and the
ones that pass through, restorable bit for bit (:class:`PassThrough`); and how many
entries ``mode="auto"`` checks one by one, from the cost of a forward call.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from derivcheck.errors import InputError
from derivcheck.layers.state import put_back

#: attribute names a wrapper uses itself; an argument so named is stored with a trailing "_"
RESERVED = frozenset({"inputs", "output", "dinputs", "forward", "backward"})


def describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, tuple | list):
        kinds = ", ".join(type(v).__name__ for v in value[:6])
        return f"a {type(value).__name__} of {len(value)} ({kinds})"
    return f"a {type(value).__name__}"


def argument_names(fun: Callable[..., Any], n: int) -> list[str]:
    """The names of ``fun``'s first ``n`` positional parameters (``arg<i>`` past them)."""
    try:
        params = [
            p
            for p in inspect.signature(fun).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params[:n]]
    return names + [f"arg{i}" for i in range(len(names), n)]


def positional_count(fun: Callable[..., Any]) -> int | None:
    """How many positional arguments ``fun`` takes; None when it takes ``*args`` or is opaque."""
    try:
        params = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    return sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def is_float_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size > 0


def resolve_wrt(wrt: Any, args: Sequence[Any], names: list[str], default: list[int]) -> list[int]:
    """Positions of the differentiated arguments; an InputError names a bad choice."""
    if wrt is None:
        return default
    items = [wrt] if isinstance(wrt, str | int) else list(wrt)
    positions = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise InputError(f"`wrt` takes argument names or positions, got {item!r}.")
        if isinstance(item, str):
            if item not in names:
                raise InputError(
                    f"`wrt`: the function has no argument {item!r}; its arguments are "
                    f"{', '.join(names)}."
                )
            pos = names.index(item)
        else:
            if not -len(args) <= item < len(args):
                raise InputError(f"`wrt`: position {item} is out of range ({len(args)} arguments).")
            pos = item % len(args)
        if not is_float_array(args[pos]):
            raise InputError(
                f"`wrt`: argument {names[pos]!r} is {describe(args[pos])}; only non-empty "
                "floating-point arrays can be differentiated."
            )
        if pos in positions:
            raise InputError(f"`wrt` names argument {names[pos]!r} twice.")
        positions.append(pos)
    return positions


class PassThrough:
    """The arguments that are not differentiated, as given: restorable bit for bit (the
    arrays inside a dict included), so a forward that updates ``bn_param`` in place sees
    the same dict on every call, and the user gets it back unchanged."""

    def __init__(self, values: Sequence[Any]) -> None:
        self.arrays: list[tuple[np.ndarray, np.ndarray]] = []
        self.dicts: list[tuple[dict[Any, Any], dict[Any, Any]]] = []
        self.lists: list[tuple[list[Any], list[Any]]] = []
        for value in values:
            self._save(value, depth=0)

    def _save(self, value: Any, depth: int) -> None:
        if isinstance(value, np.ndarray):
            self.arrays.append((value, value.copy()))
        elif isinstance(value, dict) and depth < 2:
            self.dicts.append((value, dict(value)))
            for item in value.values():
                self._save(item, depth + 1)
        elif isinstance(value, list) and depth < 2:
            self.lists.append((value, list(value)))
            for item in value[:64]:
                self._save(item, depth + 1)

    def restore(self) -> None:
        for d, saved in self.dicts:
            if len(d) != len(saved) or any(d.get(k, d) is not v for k, v in saved.items()):
                d.clear()
                d.update(saved)
        for lst, items in self.lists:
            if len(lst) != len(items) or any(a is not b for a, b in zip(lst, items, strict=True)):
                lst[:] = items
        for arr, saved_arr in self.arrays:
            put_back(arr, saved_arr)


#: mode="auto": entries are checked one by one while that costs about this many seconds of
#: forward calls (each entry takes about four); directional probes above
FULL_SECONDS = 0.05
#: ... but always at least this many entries one by one
FULL_FLOOR = 64


def full_limit(layer: Any) -> int:
    """How many entries mode="auto" checks one by one, from the time of one forward call
    (the wrapper puts pass-through arguments back, so timing it changes nothing)."""
    from derivcheck.layers.base import FULL_CHECK_LIMIT

    times = []
    try:
        for _ in range(2):
            start = time.perf_counter()
            layer.forward(None)
            times.append(time.perf_counter() - start)
    except Exception:
        return FULL_CHECK_LIMIT  # the check itself reports what forward raises
    finally:
        layer._dc_state.restore()
    seconds = min(times)
    return int(min(FULL_CHECK_LIMIT, max(FULL_FLOOR, FULL_SECONDS / max(4 * seconds, 1e-9))))
