"""Keeping the layer unchanged: snapshots of every attribute, restored bit for bit,
and numpy's random state.

numpy's global generator is compared before and after a forward by reading its
MT19937 key and position in place through ``ctypes`` (:func:`global_fingerprint`).
The public way, ``np.random.get_state()`` or ``bit_generator.state``, copies the
624-word key into a new array on every call: measured on numpy 2.4, 59 us and
44 us per call against 0.5 us for the in-place read, while the forward of a
small Dense layer (5 x 4 -> 3) takes 1.7 us -- the public way would make a
small layer's check 30 times slower.  The in-place read is validated once per
process against ``np.random.get_state()`` (:func:`fingerprint_is_the_state`);
a numpy whose state has another layout gets ``None`` and the public, slow way.
"""

from __future__ import annotations

import ctypes
import functools
import inspect
import sys
from typing import Any

import numpy as np

from derivcheck import _scratch as scratch


def is_plain_object(value: Any) -> bool:
    """A user object whose attributes a check may change (a sub-layer): not a module, class,
    function or array."""
    return (
        hasattr(value, "__dict__")
        and not isinstance(value, type)
        and not inspect.ismodule(value)
        and not inspect.isroutine(value)
        and not isinstance(value, np.ndarray | np.random.Generator | np.random.RandomState)
    )


class Snapshot:
    """Every attribute of an object (and of the objects it holds), restorable bit for bit."""

    def __init__(self, root: Any) -> None:
        self.items: list[tuple[Any, dict[str, Any], dict[str, np.ndarray]]] = []
        # dicts an object holds (params, grads, options): their entries, and arrays' bits
        self.dicts: list[tuple[dict[Any, Any], dict[Any, Any], dict[Any, np.ndarray]]] = []
        self.lists: list[tuple[list[Any], list[Any]]] = []  # a history a forward appends to
        self.generators: list[tuple[Any, Any]] = []
        self._by_id: dict[int, tuple[np.ndarray, np.ndarray]] | None = None
        self._visit(root, 0, set())
        self.random_state = np.random.get_state()
        self.random_fingerprint = global_fingerprint()

    def _visit(self, obj: Any, depth: int, seen: set[int]) -> None:
        if id(obj) in seen or depth > 3 or not is_plain_object(obj):
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
            elif isinstance(value, dict) and len(value) <= 256:
                self.dicts.append(
                    (
                        value,
                        dict(value),
                        {k: v.copy() for k, v in value.items() if isinstance(v, np.ndarray)},
                    )
                )
            elif isinstance(value, list | tuple):
                if isinstance(value, list):
                    self.lists.append((value, list(value)))
                for item in value[:64]:
                    self._visit(item, depth + 1, seen)
            else:
                self._visit(value, depth + 1, seen)

    def saved_copy(self, array: np.ndarray, verify: bool = True) -> np.ndarray | None:
        """The copy taken of ``array`` (by identity) when the snapshot was made, if any: a
        check reuses it instead of copying a large parameter once more.  ``verify``: only
        while ``array`` still holds the same bits (else the copy as it is)."""
        if self._by_id is None:
            self._by_id = {
                id(attrs[k]): (attrs[k], saved)
                for _, attrs, arrays in self.items
                for k, saved in arrays.items()
            }
            for _, entries, arrays in self.dicts:
                for k, saved in arrays.items():
                    self._by_id[id(entries[k])] = (entries[k], saved)
        found = self._by_id.get(id(array))
        if found is None or found[0] is not array or (verify and not same_bits(array, found[1])):
            return None
        return found[1]

    def restore(self) -> None:
        for obj, attrs, arrays in self.items:
            current = vars(obj)
            for key in [k for k in current if k not in attrs]:
                del current[key]
            current.update(attrs)
            for key, saved in arrays.items():
                put_back(attrs[key], saved)
        for lst, saved_items in self.lists:
            if len(lst) != len(saved_items) or any(
                a is not b for a, b in zip(lst, saved_items, strict=False)
            ):
                lst[:] = saved_items
        for d, entries, arrays in self.dicts:
            if len(d) != len(entries) or any(d.get(k, d) is not v for k, v in entries.items()):
                d.clear()
                d.update(entries)
            for key, saved in arrays.items():
                put_back(entries[key], saved)
        for gen, state in self.generators:
            set_generator_state(gen, state)
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
            and global_fingerprint() == self.random_fingerprint
        )


MT19937_STATE_BYTES = 625 * 4  # uint32 key[624]; int pos


def global_fingerprint() -> bytes | None:
    """The key and position of numpy's global MT19937, read in place: ~1 us, where
    ``np.random.get_state`` copies the key entry by entry (~50 us, more than a small
    layer's forward).  Without a cached Gaussian, any draw changes them.  None when the
    global generator is not an MT19937 or cannot be read this way."""
    try:
        bit_generator = np.random.mtrand.get_bit_generator()
        if not isinstance(bit_generator, np.random.MT19937) or not fingerprint_is_the_state():
            return None
        return ctypes.string_at(bit_generator.ctypes.state_address, MT19937_STATE_BYTES)
    except Exception:
        return None


@functools.cache
def fingerprint_is_the_state() -> bool:
    """Once per process: the bytes read in place are the key and position that
    ``np.random.get_state`` reports (a numpy with another state layout gets the slow way)."""
    try:
        bit_generator = np.random.mtrand.get_bit_generator()
        state = np.random.get_state()
        if not isinstance(bit_generator, np.random.MT19937) or isinstance(state, dict):
            return False
        raw = ctypes.string_at(bit_generator.ctypes.state_address, MT19937_STATE_BYTES)
        key = np.asarray(state[1], dtype=np.uint32).tobytes()
        return raw == key + int(state[2]).to_bytes(4, sys.byteorder, signed=True)
    except Exception:
        return False


def set_generator_state(gen: Any, state: Any) -> None:
    if isinstance(gen, np.random.Generator):
        gen.bit_generator.state = state
    else:
        gen.set_state(state)


def generator_state(gen: Any) -> Any:
    return gen.bit_generator.state if isinstance(gen, np.random.Generator) else gen.get_state()


def same_state(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return repr(a) == repr(b)
    return bool(a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2] == b[2])


def entry_index(index: np.ndarray, ndim: int) -> Any:
    """The fancy index of an engine's ``(k, ndim)`` entry list; ``...`` for a 0-d tensor
    (a scalar parameter such as PReLU's slope), whose entry list is ``(1, 0)``."""
    return tuple(np.asarray(index).T) if ndim else Ellipsis


def put_back(array: np.ndarray, saved: np.ndarray) -> None:
    """Restore ``array``'s bits from ``saved`` (when it can be written).

    A plain copy: cheaper than first asking whether the bits differ (``tobytes`` makes
    two full copies of a 134 MB weight matrix to say no), and harmless when they do not.
    """
    if array.flags.writeable and array.shape == saved.shape:
        np.copyto(array, saved, casting="unsafe")


#: bits of one entry as an unsigned integer, for comparisons without byte copies
_UINTS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def count_changed(a: np.ndarray, saved: np.ndarray) -> int:
    """How many entries of ``a`` differ bitwise from ``saved`` (0 when identical).

    Compared as unsigned integers of the entry's width, in chunks, so no copy of either
    array is made (NaN payloads and the sign of zero count, as bits do)."""
    if a.shape != saved.shape or a.dtype != saved.dtype:
        return int(saved.size)
    width = a.dtype.itemsize
    uint = _UINTS.get(width)
    if uint is None or a.dtype.hasobject or not (
        a.flags.c_contiguous and saved.flags.c_contiguous
    ):
        ab = np.ascontiguousarray(a).view(np.uint8).reshape(a.size, -1)
        sb = np.ascontiguousarray(saved).view(np.uint8).reshape(saved.size, -1)
        return int(np.count_nonzero(np.any(ab != sb, axis=1)))
    av, sv = a.reshape(-1).view(uint), saved.reshape(-1).view(uint)
    chunk = scratch.CHUNK
    return sum(
        int(np.count_nonzero(np.not_equal(
            av[i : i + chunk], sv[i : i + chunk],
            out=scratch.buffer(min(chunk, av.size - i), np.bool_),
        )))
        for i in range(0, av.size, chunk)
    )


def same_bits(a: np.ndarray, saved: np.ndarray) -> bool:
    """``a`` and ``saved`` hold the same bits (no copy of either)."""
    return count_changed(a, saved) == 0
