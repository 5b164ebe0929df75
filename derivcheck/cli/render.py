"""What the command prints: reports as text or JSON, and a progress bar on stderr."""

from __future__ import annotations

import sys
import time
from typing import Any

from derivcheck._json import dumps

__all__ = ["ProgressBar", "emit"]


def emit(payload: Any, as_json: bool) -> None:
    if as_json:
        print(dumps(payload))
    else:
        print(payload)


class ProgressBar:
    """A progress bar on stderr, fed by ``check_layer(progress=...)``.

    Drawn only on a terminal and only once the check has run for half a second,
    so quick checks and piped output stay clean.
    """

    WIDTH = 24

    def __init__(self, enabled: bool, stream: Any = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.start = time.perf_counter()
        self.drawn = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        if done >= total:
            if self.drawn:
                self.stream.write("\r" + " " * 72 + "\r")
                self.stream.flush()
            return
        if elapsed < 0.5:
            return
        filled = round(self.WIDTH * done / max(total, 1))
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\rchecking [{bar}] {done}/{total} {stage:<20.20} {elapsed:5.1f} s")
        self.stream.flush()
        self.drawn = True
