"""Reusable scratch arrays for the hot loops of a check.

A fresh temporary of a megabyte or more costs page faults each time it is made
(the allocator hands large blocks back to the system when they are freed):
``np.abs(a) @ np.abs(b)`` on 100k float64 entries takes 0.56 ms, the same
with ``out=`` buffers 0.16 ms.  The chunked loops of a layer check (bitwise
comparisons, the linearity contract, a probe's tolerance) therefore write into
buffers kept here, one set per thread, of at most ``CHUNK`` entries.
"""

from __future__ import annotations

import threading

import numpy as np

#: entries per chunk of the chunked loops (2 MB of float64)
CHUNK = 1 << 18

_local = threading.local()


def buffer(n: int, dtype: type = np.float64, slot: int = 0) -> np.ndarray:
    """A 1-d array of ``n <= CHUNK`` entries whose contents are undefined; the same
    memory for every call with the same ``dtype`` and ``slot`` in this thread."""
    pool = _local.__dict__.setdefault("pool", {})
    key = (np.dtype(dtype).str, slot)
    buf = pool.get(key)
    if buf is None or buf.size < n:
        buf = np.empty(max(n, min(CHUNK, 1 << 12)), dtype=dtype)
        pool[key] = buf
    return buf[:n]
