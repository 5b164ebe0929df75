"""Per-entry arrays that are NaN but for a few entries, kept small until read.

A directional check of a 4096 x 4096 weight matrix estimates a dozen entries
one by one; its report still offers ``numeric``, ``error`` and ``tol`` arrays of
the tensor's shape (NaN where not estimated).  Three dense float64 copies would
be 400 MB, more than the layer itself, for twelve numbers.  :class:`Sparse`
keeps the positions and values; a :func:`lazy` attribute turns it into the
dense array the first time it is read (a plot, ``to_dict(arrays=True)``), and
never when nobody looks.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Sparse:
    """NaN everywhere but the entries put, as (flat positions, values)."""

    __slots__ = ("parts", "shape")

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape
        self.parts: list[tuple[np.ndarray, np.ndarray]] = []

    def put(self, index: Any, values: Any) -> None:
        """``dense[index] = values`` for an index as :func:`~derivcheck.layers.state.entry_index`
        makes them (a tuple of index arrays, or ``...`` for a 0-d tensor)."""
        if index is Ellipsis or not self.shape:
            flat = np.zeros(1, dtype=np.intp)
        else:
            flat = np.ravel_multi_index(index, self.shape)
        vals = np.broadcast_to(np.asarray(values, dtype=np.float64), flat.shape)
        self.parts.append((np.asarray(flat, dtype=np.intp).reshape(-1), vals.reshape(-1)))

    def dense(self) -> np.ndarray:
        out = np.full(self.shape, np.nan)
        flat = out.reshape(-1)
        for positions, values in self.parts:  # in order: a later put wins, as assignment does
            flat[positions] = values
        return out


def lazy(name: str) -> property:
    """An attribute holding an array or a :class:`Sparse`, read as an array."""
    key = "_" + name

    def get(self: Any) -> np.ndarray:
        value = self.__dict__[key]
        if isinstance(value, Sparse):
            value = value.dense()
            self.__dict__[key] = value
        return value

    def set_(self: Any, value: Any) -> None:
        self.__dict__[key] = value

    return property(get, set_, doc=f"``{name}`` per entry (NaN where not estimated).")


def put(obj: Any, name: str, index: Any, values: Any) -> None:
    """``getattr(obj, name)[index] = values`` without making a sparse array dense."""
    value = obj.__dict__["_" + name]
    if isinstance(value, Sparse):
        value.put(index, values)
    else:
        value[index] = values


def values_at(obj: Any, name: str, flat: np.ndarray) -> np.ndarray:
    """``getattr(obj, name).reshape(-1)[flat]`` without making a sparse array dense."""
    value = obj.__dict__["_" + name]
    if not isinstance(value, Sparse):
        return np.asarray(value).reshape(-1)[flat]
    out = np.full(flat.shape, np.nan)
    for positions, values in value.parts:  # a later put wins, as in dense()
        hit = np.isin(flat, positions)
        if hit.any():
            where = {int(p): v for p, v in zip(positions.tolist(), values.tolist(), strict=True)}
            out[hit] = [where[int(p)] for p in flat[hit].tolist()]
    return out


def at(obj: Any, name: str, where: Any) -> np.ndarray:
    """``getattr(obj, name)[where]`` for a boolean mask of the tensor's shape (row-major
    order) or one index tuple, without making a sparse array dense."""
    value = obj.__dict__["_" + name]
    if not isinstance(value, Sparse):
        return np.asarray(value)[where]
    if isinstance(where, np.ndarray) and where.dtype == bool:
        return values_at(obj, name, np.flatnonzero(where))
    flat = np.ravel_multi_index(where, value.shape) if value.shape else 0
    return values_at(obj, name, np.array([flat]))[0]


def mismatch_values(check: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``|analytic - reference|``, ``|reference|`` and ``tol`` at a tensor check's
    mismatched entries (row-major), without making its sparse arrays dense."""
    mask = check.mismatch
    tol = at(check, "tol", mask)
    if check.reference == "symbolic" and check.symbolic is not None:  # (small: dense)
        ref = check.reference_values[mask]
    else:
        ref = at(check, "numeric", mask)
    a = np.asarray(check.analytic, dtype=np.float64)[mask]
    return np.abs(a - ref), np.abs(ref), tol
