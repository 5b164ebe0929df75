"""numpy kernels of the array face: argument checks, in-place perturbation of one
entry or a path of entries, the vectorised stencil ``h, 2h, 4h`` with Richardson
extrapolation and the kink test, and the noise bounds.  The formulas are those of
:mod:`derivcheck.fd.steps`, applied to many entries at once."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from derivcheck import _scratch as scratch
from derivcheck import _validate
from derivcheck.errors import InputError
from derivcheck.fd.steps import (
    KINK_NOISE,
    KINK_RELATIVE,
    NOISE_FACTOR,
    NOISE_POINTS,
    NOISE_SEED,
    NOISE_SIGMAS,
    NOISE_STEP,
    sigma_from_values,
)

DTYPE_NAMES = {
    float(np.finfo(t).eps): np.dtype(t).name for t in (np.float16, np.float32, np.float64)
}



# --------------------------------------------------------------------------- validation


def check_callable(f: Any) -> None:
    _validate.callable_arg(f, "f")


def check_array(array: Any, name: str) -> np.ndarray:
    if not isinstance(array, np.ndarray):
        raise InputError(
            f"`{name}` must be a numpy array (the very array f reads), got {type(array).__name__}."
        )
    if array.dtype.kind != "f":
        raise InputError(f"`{name}` must have a real floating dtype, got {array.dtype}.")
    if not array.flags.writeable:
        raise InputError(f"`{name}` must be writeable: its entries are perturbed in place.")
    return array


def check_eps(eps: Any, arrays: Sequence[np.ndarray]) -> float:
    if eps is None:
        return max(float(np.finfo(a.dtype).eps) for a in arrays) if arrays else float(
            np.finfo(np.float64).eps
        )
    return _validate.unit_float(eps, "eps")


def check_f_scale(f_scale: Any) -> float:
    return 0.0 if f_scale is None else _validate.non_negative_float(f_scale, "f_scale")


def check_noise(noise: Any) -> float | None:
    return None if noise is None else _validate.non_negative_float(noise, "noise")


def check_f0(f0: Any) -> float | None:
    return None if f0 is None else _validate.finite_float(f0, "f0")


def check_indices(indices: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Flat (row-major) positions of ``indices``; all entries when None."""
    size = math.prod(shape)
    if indices is None:
        return np.arange(size, dtype=np.intp)
    idx = np.asarray(indices)
    if idx.size == 0:
        return np.zeros(0, dtype=np.intp)
    if idx.dtype.kind not in "iu":
        raise InputError(f"`indices` must be integers, got dtype {idx.dtype}.")
    ndim = len(shape)
    if idx.ndim == 1 and ndim == 1:
        idx = idx.reshape(-1, 1)
    if idx.ndim != 2 or idx.shape[1] != ndim:
        raise InputError(
            f"`indices` must have shape (k, {ndim}) for an array of shape {shape}, "
            f"got shape {idx.shape}."
        )
    bad = ((idx < 0) | (idx >= np.asarray(shape, dtype=np.int64))).any(axis=1)
    if bad.any():
        first = tuple(int(v) for v in idx[np.flatnonzero(bad)[0]])
        raise InputError(f"`indices` entry {first} is out of bounds for shape {shape}.")
    if ndim == 0:
        return np.zeros(idx.shape[0], dtype=np.intp)
    return np.ravel_multi_index(tuple(idx.T), shape).astype(np.intp)


def step_ratio(eps: float, arrays: Sequence[np.ndarray]) -> float:
    """``eps**(1/3)``, but at least 16 ulps of the arrays' dtype (a step must move the entry)."""
    floor = max((16.0 * float(np.finfo(a.dtype).eps) for a in arrays), default=0.0)
    return max(eps ** (1.0 / 3.0), floor)


def flat_view(array: np.ndarray) -> Any:
    """An object whose ``[i] = v`` writes the array's i-th row-major entry in place."""
    if array.flags.c_contiguous:
        return array.reshape(-1)  # a view, no copy
    return array.flat


def restore(array: np.ndarray, backup: np.ndarray) -> None:
    np.copyto(array, backup, casting="no")


def entry_path(array: np.ndarray, flat: np.ndarray, eta: float) -> Callable[[float], None]:
    """``set_point(j)``: entries ``flat`` moved by ``j`` tiny seeded Gaussian steps
    (a fraction of their difference step), the rest left as they are."""
    view = flat_view(array)
    x = np.asarray(view[flat], dtype=np.float64)
    p = np.random.default_rng(NOISE_SEED).standard_normal(flat.size)
    delta = (NOISE_STEP * eta) * np.maximum(1.0, np.abs(x)) * p

    def set_point(j: float) -> None:
        view[flat] = x + j * delta

    return set_point


# --------------------------------------------------------------------------- estimators


def three_point(
    f0: Any, fp: np.ndarray, fm: np.ndarray, hp: np.ndarray, hm: np.ndarray
) -> np.ndarray:
    """Second-order derivative at 0 from nodes ``-hm, 0, +hp`` (central when ``hm == hp``)."""
    with np.errstate(all="ignore"):
        return (hm * hm * (fp - f0) - hp * hp * (fm - f0)) / (hp * hm * (hp + hm))


#: noise multiple a kink's gap must exceed when re-tested at smaller steps (see full_estimate)
CONFIRM_NOISE = 3.0


def full_estimate(
    f0: Any,
    fp: np.ndarray,
    fm: np.ndarray,
    hp: np.ndarray,
    hm: np.ndarray,
    noise: np.ndarray,
    *,
    confirm: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Richardson value, error and kink flag from three levels of steps in ratio 1:2:4.

    ``fp, fm, hp, hm`` have shape (3, k): values and actual steps on each side
    at each level; ``noise`` (k,) is the rounding noise of one evaluation.
    Returns value, error, kink and the one-sided slopes at the first level.
    ``confirm=True`` re-tests, at smaller steps, entries that already showed a kink
    above the noise at larger ones: only the shape test applies (a smooth ``f``'s
    gap shrinks with the step, a kink's does not); the noise test, whose bound
    grows as the step shrinks, would call a kink smooth merely for lack of resolution.
    """
    with np.errstate(all="ignore"):
        c = three_point(f0, fp, fm, hp, hm)
        p = hp * hm  # the truncation error of level L is ~ p[L] * f'''/6
        r12 = (p[1] * c[0] - p[0] * c[1]) / (p[1] - p[0])
        r24 = (p[2] * c[1] - p[1] * c[2]) / (p[2] - p[1])
        hbar = 0.5 * (hp + hm)
        # r12 carries at most 1.5 noise/h of rounding; x2 for a bound
        error = np.abs(r12 - r24) + 3.0 * noise / hbar[0]
        s_plus = (fp - f0) / hp
        s_minus = (f0 - fm) / hm
        diff = s_plus - s_minus  # smooth f: ~ hbar * f''; kink: ~ the jump, whatever h
        d1 = diff[0]
        d2 = diff[1] * (hbar[0] / hbar[1])
        d4 = diff[2] * (hbar[0] / hbar[2])
        jump = np.maximum(np.abs(diff[0] - diff[1] * (hbar[0] / hbar[1])),
                          np.abs(diff[1] - diff[2] * (hbar[1] / hbar[2])))
        scale = np.maximum(np.maximum(np.abs(d1), np.abs(d2)), np.abs(d4))
        # confirming at smaller steps: above the noise itself, not KINK_NOISE times it
        factor = CONFIRM_NOISE if confirm else KINK_NOISE
        kink = (jump > KINK_RELATIVE * scale) & (jump > factor * noise / hbar[0])
    return r12, error, kink, s_minus[0], s_plus[0]


def rounding_noise(eps: float, f_scale: float, sigma: float, *values: np.ndarray) -> np.ndarray:
    """Bound on the rounding noise of one evaluation of f, per entry."""
    scale = np.abs(values[0])
    for v in values[1:]:
        scale = np.maximum(scale, np.abs(v))
    return np.maximum(NOISE_FACTOR * eps * np.maximum(scale, f_scale), NOISE_SIGMAS * sigma)



def sigma_along(
    f: Callable[[], float], set_point: Callable[[float], None], f0: float
) -> float:
    """ECnoise on ``f`` at ``NOISE_POINTS`` points along a path set by ``set_point(j)``."""
    values = [f0]
    for j in range(1, NOISE_POINTS + 1):
        set_point(float(j))
        values.append(float(f()))
    return sigma_from_values(values)


def dot_and_abs_dot(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(sum a b, sum |a b|) of two flat arrays, in chunks through a reused scratch buffer
    (no temporary the size of the arrays: they may be a 16M-entry weight matrix)."""
    dot = spread = 0.0
    for i in range(0, a.size, scratch.CHUNK):
        x = a[i : i + scratch.CHUNK]
        buf = np.multiply(x, b[i : i + scratch.CHUNK], out=scratch.buffer(x.size))
        dot += float(buf.sum())
        spread += float(np.abs(buf, out=buf).sum())
    return dot, spread
