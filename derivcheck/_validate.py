"""One set of argument checks, one wording, for every public function.

Each check returns the value in the form the caller computes with (``int``,
``float``) or raises :class:`~derivcheck.errors.InputError` with a message that
names the parameter in backticks, says the rule and shows what was given, as
scipy.differentiate does::

    `seed` must be a non-negative integer, got -1.

Numbers are numbers: ``True`` is not an integer here and ``"1e-8"`` is not a
float (no silent conversion of strings).  numpy scalars are accepted.

>>> seed(3)
3
>>> positive_float(0.5, "step")
0.5
>>> positive_float("1e-3", "step")
Traceback (most recent call last):
    ...
derivcheck.errors.InputError: `step` must be a positive finite float, got '1e-3'.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, NoReturn

from derivcheck.errors import InputError

__all__ = [
    "callable_arg",
    "fail",
    "finite_float",
    "non_negative_float",
    "one_of",
    "positive_float",
    "positive_int",
    "seed",
    "unit_float",
]

#: A seed above this is refused: numpy accepts any non-negative int, but a
#: seed must also fit JSON readers and the CLI's integers.
MAX_SEED = 2**63 - 1


def fail(name: str, rule: str, value: Any) -> NoReturn:
    """Raise the one message: ```name` must be RULE, got VALUE.``."""
    raise InputError(f"`{name}` must be {rule}, got {_show(value)}.")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _as_real(value: Any) -> float | None:
    """``float(value)`` for a real number (not bool, not str), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def callable_arg(value: Any, name: str) -> Any:
    """``value`` when callable."""
    if not callable(value):
        raise InputError(f"`{name}` must be callable, got {type(value).__name__}.")
    return value


def seed(value: Any, name: str = "seed") -> int:
    """A seed: an integer with ``0 <= seed <= 2**63 - 1``."""
    if not _is_integer(value) or value < 0:
        fail(name, "a non-negative integer", value)
    if value > MAX_SEED:
        fail(name, "at most 2**63 - 1", value)
    return int(value)


def positive_int(value: Any, name: str) -> int:
    """An integer ``>= 1``."""
    if not _is_integer(value) or value < 1:
        fail(name, "a positive integer", value)
    return int(value)


def finite_float(value: Any, name: str) -> float:
    """A finite real number."""
    out = _as_real(value)
    if out is None or not math.isfinite(out):
        fail(name, "a finite float", value)
    return out


def non_negative_float(value: Any, name: str) -> float:
    """A finite real number ``>= 0``."""
    out = _as_real(value)
    if out is None or not math.isfinite(out) or out < 0.0:
        fail(name, "a non-negative finite float", value)
    return out


def positive_float(value: Any, name: str) -> float:
    """A finite real number ``> 0``."""
    out = _as_real(value)
    if out is None or not math.isfinite(out) or out <= 0.0:
        fail(name, "a positive finite float", value)
    return out


def unit_float(value: Any, name: str) -> float:
    """A real number with ``0 < value < 1`` (a working precision ``eps``)."""
    out = _as_real(value)
    if out is None or not (math.isfinite(out) and 0.0 < out < 1.0):
        fail(name, "a finite float with 0 < eps < 1", value)
    return out


def one_of(value: Any, name: str, options: Sequence[Any]) -> Any:
    """``value`` when it is one of ``options``."""
    if not any(value is o or (type(value) is type(o) and value == o) for o in options):
        fail(name, f"one of {tuple(options)}", value)
    return value
