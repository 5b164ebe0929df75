"""The scratch buffers of the hot loops: reused within a thread, never shared between
slots, dtypes or threads (a check running in another thread must not write into them)."""

from __future__ import annotations

import threading

import numpy as np

from derivcheck import _scratch as scratch


def test_a_slot_is_reused_and_slots_are_separate():
    a = scratch.buffer(1000)
    b = scratch.buffer(500)
    assert a.size == 1000 and b.size == 500 and np.shares_memory(a, b)
    other = scratch.buffer(1000, slot=1)
    assert not np.shares_memory(a, other)
    flags = scratch.buffer(1000, np.bool_)
    assert flags.dtype == np.bool_ and not np.shares_memory(a, flags)
    big = scratch.buffer(scratch.CHUNK)
    assert big.size == scratch.CHUNK and np.shares_memory(big, scratch.buffer(10))


def test_threads_get_their_own_buffers():
    mine = scratch.buffer(100)
    theirs: list[np.ndarray] = []
    worker = threading.Thread(target=lambda: theirs.append(scratch.buffer(100)))
    worker.start()
    worker.join()
    assert not np.shares_memory(mine, theirs[0])
