r"""What the command prints: reports as text or JSON, and a progress bar on stderr.

Colour (plain ANSI: a dependency such as ``rich`` would cost more start-up time
than the few codes used here) follows the usual conventions: ``--color never``
or a non-empty ``NO_COLOR`` turn it off, ``--color always`` or a non-empty
``FORCE_COLOR`` turn it on, and otherwise it is on only when stdout is a
terminal -- never in a pipe, a file or ``--json``.

>>> colourise("Verdict: refuted (seed=0)", True)
'Verdict: \x1b[1;31mrefuted\x1b[0m (seed=0)'
>>> colourise("Verdict: refuted (seed=0)", False)
'Verdict: refuted (seed=0)'
"""

from __future__ import annotations

import os
import re
import sys
import time
from typing import Any

from derivcheck._json import dumps

__all__ = ["ProgressBar", "colourise", "emit", "use_colour"]

GREEN, RED, YELLOW, BOLD, RESET = "\x1b[1;32m", "\x1b[1;31m", "\x1b[1;33m", "\x1b[1m", "\x1b[0m"
_WORDS = re.compile(
    r"\b(proven|confirmed|refuted|inconclusive|OK|FAILED|CAUGHT|MISSED|Diagnosis:)(?=[\s:(.,)]|$)"
)
_COLOURS = {
    "proven": GREEN,
    "confirmed": GREEN,
    "OK": GREEN,
    "CAUGHT": GREEN,
    "refuted": RED,
    "FAILED": RED,
    "MISSED": RED,
    "inconclusive": YELLOW,
    "Diagnosis:": BOLD,
}

#: set by the command line from --color and the environment (see use_colour)
COLOUR = False


def use_colour(mode: str, stream: Any = None) -> bool:
    """Whether to colour: ``mode`` is ``auto``, ``always`` or ``never``."""
    if mode == "never":
        return False
    if mode == "always":
        return True
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    stream = sys.stdout if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)())


def colourise(text: str, colour: bool | None = None) -> str:
    """Verdict words in colour (only when ``colour``, default the command line's setting)."""
    if not (COLOUR if colour is None else colour):
        return text
    return _WORDS.sub(lambda m: f"{_COLOURS[m.group(1)]}{m.group(1)}{RESET}", text)


def emit(payload: Any, as_json: bool) -> None:
    if as_json:
        print(dumps(payload))
    else:
        print(colourise(str(payload)))


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
        self.last = -1.0  # when the bar was last drawn: at most ten redraws a second
        # (elapsed, done) at the first report: the rate is measured from there, not from
        # the start (a layer's construction and the check's contracts come before any
        # planned evaluation, and made the first estimates of time left far too long)
        self.first: tuple[float, int] | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        if self.first is None:
            self.first = (elapsed, done)
        if done >= total:
            if self.drawn:
                self.stream.write("\r" + " " * 100 + "\r")
                self.stream.flush()
            return
        if elapsed < 0.5 or elapsed - self.last < 0.1:
            return
        self.last = elapsed
        fraction = min(1.0, done / max(total, 1))
        filled = round(self.WIDTH * fraction)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        # rate and time left from the evaluations done since the first report (none
        # yet: no estimate)
        since, done_then = self.first
        rate = (done - done_then) / (elapsed - since) if elapsed > since else 0.0
        left = f"{(total - done) / rate:5.1f} s left" if rate > 0 else "   ... left"
        self.stream.write(
            f"\rchecking [{bar}] {fraction:4.0%} {stage:<22.22} {rate:7,.0f} evals/s "
            f"{elapsed:5.1f} s, {left}"
        )
        self.stream.flush()
        self.drawn = True
