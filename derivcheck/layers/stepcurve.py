"""The error-vs-step curve of a failing entry: is a mismatch a bug or an artefact?

For the worst wrong entry of a failed check, central differences of the probe
are taken at steps from ``2**-14`` to ``2**6`` times the step the check chose.
For each step the curve records how far that estimate is from the backward's
value.  A real bug shows a floor: no step comes within the tolerance, and
small steps agree with each other on a value that is not the backward's.  A
numerical artefact shows a valley: at some steps the estimate and the backward
agree, and the chosen step was off the valley (truncation to the right,
rounding to the left).  ``plot_report`` draws it beside the heatmaps.
Costs two evaluations per step (42), only for a failed check.  numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from derivcheck.fd.stencil import step_ratio

#: the steps, as multiples of the step the check chose
MULTIPLIERS = tuple(2.0**k for k in range(-14, 7))


def step_curve(
    probe: Callable[[], float],
    array: np.ndarray,
    index: tuple[int, ...],
    eps: float,
) -> tuple[list[float], list[float], float]:
    """Central differences of ``probe`` in entry ``index`` of ``array`` at every step of
    :data:`MULTIPLIERS`: (steps taken, estimates, the chosen step).  The entry is put
    back bit for bit, also when ``probe`` raises."""
    eta = step_ratio(eps, [array])
    x = array[index].item() if array.ndim else array.item()
    h0 = eta * max(1.0, abs(x))
    saved = array[index].copy() if array.ndim else array.copy()
    steps: list[float] = []
    estimates: list[float] = []
    try:
        for m in MULTIPLIERS:
            h = h0 * m
            array[index] = x + h
            hp = float(array[index]) - x
            fp = float(probe())
            array[index] = x - h
            hm = x - float(array[index])
            fm = float(probe())
            array[index] = saved
            if hp + hm > 0 and math.isfinite(fp) and math.isfinite(fm):
                steps.append(0.5 * (hp + hm))
                estimates.append((fp - fm) / (hp + hm))
    finally:
        array[index] = saved
    return steps, estimates, h0


def curve_of(
    probe: Callable[[], float],
    array: np.ndarray,
    failure: Any,
    tol: float,
    eps: float,
) -> dict[str, Any] | None:
    """The curve of one failed entry, as the report keeps it (None when it cannot be
    computed: a read-only array, a probe that raises)."""
    if not array.flags.writeable:
        return None
    try:
        steps, estimates, chosen = step_curve(probe, array, tuple(failure.index), eps)
    except Exception:
        return None
    if not steps:
        return None
    return {
        "tensor": failure.tensor,
        "index": list(failure.index),
        "backward": failure.analytic,
        "numeric": failure.numeric,
        "tol": tol,
        "chosen_step": chosen,
        "steps": steps,
        "estimates": estimates,
    }


def verdict_text(curve: dict[str, Any]) -> str:
    """What the curve shows, in words that are true of it."""
    gaps = [abs(e - curve["backward"]) for e in curve["estimates"]]
    within = [s for s, g in zip(curve["steps"], gaps, strict=True) if g <= curve["tol"]]
    if not within:
        return "no step's estimate is within the tolerance of BACKWARD"
    return (
        f"at {len(within)} of {len(gaps)} steps ({min(within):.1e} to {max(within):.1e}) "
        "the estimate is within the tolerance of BACKWARD"
    )
