"""A wall-clock bound that holds even inside SymPy.

SymPy's ``expand``, ``simplify``, its sorting and mpmath's evaluation of huge
numbers run in Python loops that no soft budget check reaches.  A deadline
interrupts them: an interval timer (``signal.setitimer``) raises
:class:`DeadlineExceeded` in the main thread at the next Python bytecode, the
check unwinds, and the caller turns it into an *inconclusive* report that says
where it stopped.  Chosen over a worker process because forking costs about 15
ms per claim (three times a typical check) and loses SymPy's caches; measured in
``bench/claims.py``.

The timer is only installed in the main thread of a POSIX process and only
when no other interval timer is running (pytest-timeout's, say): otherwise the
soft budget checks inside the engines are all there is.

>>> import time
>>> with deadline(0.05) as bound:
...     try:
...         while True:
...             time.sleep(0.001)
...     except DeadlineExceeded:
...         print("stopped", bound.active)
stopped True
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["DeadlineExceeded", "deadline"]


class DeadlineExceeded(BaseException):
    """The wall-clock bound of a check ran out (raised from the timer's signal).

    A ``BaseException``, like ``KeyboardInterrupt``: SymPy and others catch
    ``Exception`` inside loops and would swallow it (the timer also fires again
    every half second until the block ends, for the same reason)."""


@dataclass
class _Bound:
    active: bool = False


_REFIRE = 0.5  # seconds between signals after the first, until the block ends


def _raise(signum: int, frame: object) -> None:
    raise DeadlineExceeded


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[_Bound]:
    """Raise :class:`DeadlineExceeded` in this block after `seconds` of wall time."""
    bound = _Bound()
    usable = (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    )
    if not usable:
        yield bound
        return
    previous = signal.signal(signal.SIGALRM, _raise)
    bound.active = True
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3), _REFIRE)
    try:
        yield bound
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous)
