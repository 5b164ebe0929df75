"""Array numeric engine: central differences of ``f()`` with respect to the
entries of the arrays it reads.

``f`` is a zero-argument callable returning a float (for a layer, the probe
``sum(output * G)`` of a forward that reads the layer's own arrays).  Entries
are perturbed *in place*, ``f`` is called, and the saved bits are put back:
after every call each array is bit-identical to what it was, also when ``f``
raises.

Differences are taken in float64 whatever the array's dtype.  The step is
``h = eps**(1/3) * max(1, |x|)`` with ``eps`` the working precision of ``f``;
the step actually taken is read back from the array, so it is exact in the
array's dtype.  Each estimate comes with an honest error bound (truncation and
rounding) and a one-sided kink test, and :func:`compare` turns the bound into
the tolerance, so the user never tunes an ``atol``.

How an entry is estimated:

1. the noise of ``f`` is measured once (Moré & Wild's ECnoise: 8 evaluations
   along tiny steps), so rounding bounds are measured, not guessed from ``|f|``;
2. a central difference at ``h`` (2 evaluations).  When the backward's value is
   given and agrees within a cheap bound (rounding plus a curvature guess),
   the entry is settled;
3. otherwise steps ``2h`` and ``4h`` too (4 more): Richardson extrapolation,
   an error estimate, and the one-sided kink test (a smooth ``f`` has one-sided
   slopes whose gap grows like the step; a kink's gap does not);
4. a suspected kink is re-tested with steps ``h/4, h/2, h`` (4 more), so a
   smooth but strongly curved ``f`` is not called a kink, while a kink within
   the first step still is.

Directional probes move every entry at once along a seeded Gaussian direction
(7 evaluations, the step divided by 4 while the estimate is dominated by
truncation; :func:`directional_derivatives` shares the point and the noise
between several directions), and :func:`localise` bisects a failing probe
down to entries.
No SymPy here: numpy only.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from derivcheck.errors import InputError

__all__ = [
    "Comparison",
    "DirectionalEstimate",
    "EntryEstimates",
    "compare",
    "directional_derivative",
    "directional_derivatives",
    "localise",
    "noise_level",
    "partial_derivatives",
]

# rounding noise of one evaluation of f, in units of eps * |f|
NOISE_FACTOR = 2.0
# compare(): tolerance = SAFETY * error + ULPS * eps * (gradient scale)
SAFETY = 5.0
ULPS = 8.0
# kink test: the jump must exceed KINK_NOISE noise units and this fraction of
# the one-sided slope difference (a smooth f has difference proportional to h)
KINK_NOISE = 20.0
KINK_RELATIVE = 0.1
# the noise bound is the larger of NOISE_FACTOR * eps * |f| and NOISE_SIGMAS
# times the measured noise standard deviation
NOISE_SIGMAS = 3.0
# step multipliers of the full treatment
_LEVELS = (1.0, 2.0, 4.0)
# noise measurement: f at this many extra points, steps this fraction of h
_NOISE_POINTS = 8
_NOISE_STEP = 2.0**-8
_NOISE_SEED = 20240531
# directional probes: at most this many steps t, t/4, t/16, ...
_LADDER = 4

_DTYPE_NAMES = {
    float(np.finfo(t).eps): np.dtype(t).name for t in (np.float16, np.float32, np.float64)
}


@dataclass
class EntryEstimates:
    """Numeric partial derivatives of ``f`` for some entries of one array.

    Attributes
    ----------
    index : ndarray of int, shape (k, ndim)
        The entries estimated, in the order asked (row-major when all).
    value : ndarray of float64, shape (k,)
        Numeric derivative of ``f`` with respect to each entry.
    error : ndarray of float64, shape (k,)
        Error estimate (truncation and rounding).
    kink : ndarray of bool, shape (k,)
        One-sided slopes disagree: the entry is at (or within a step of) a kink.
    step : ndarray of float64, shape (k,)
        The step actually taken (exactly representable in the array's dtype).
    nfev : int
        Number of calls of ``f``.
    slope_minus, slope_plus : ndarray of float64, shape (k,)
        One-sided difference quotients at the first step, left and right; the
        two sides of a kink.
    """

    index: np.ndarray
    value: np.ndarray
    error: np.ndarray
    kink: np.ndarray
    step: np.ndarray
    nfev: int
    slope_minus: np.ndarray = field(default_factory=lambda: np.zeros(0))
    slope_plus: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class DirectionalEstimate:
    """Numeric derivative of ``f`` along one direction in the space of all entries.

    Attributes
    ----------
    value, error : float
        The directional derivative ``d/dt f(x + t*d)`` at ``t = 0`` and its error estimate.
    kink : bool
        One-sided slopes disagree along the direction.
    nfev : int
        Number of calls of ``f``.
    step : float
        The first step ``t``.
    noise : float
        The standard deviation of ``f``'s rounding noise used (measured or given);
        pass it as ``noise=`` to later calls on the same ``f``.
    """

    value: float
    error: float
    kink: bool
    nfev: int
    step: float = math.nan
    noise: float = math.nan


@dataclass
class Comparison:
    """Per-entry verdict of :func:`compare`.

    Attributes
    ----------
    mismatch : ndarray of bool
        ``abs_diff > tol`` and not at a kink (NaN anywhere is a mismatch).
    tol : ndarray of float64
        The tolerance used for each entry.
    abs_diff, rel_diff : ndarray of float64
        ``|analytic - numeric|`` and that divided by ``|numeric|``.
    kink : ndarray of bool
        Entries at a kink: never mismatches, reported separately.
    rule : str
        How the tolerance was set, for a report header.
    """

    mismatch: np.ndarray
    tol: np.ndarray
    abs_diff: np.ndarray
    rel_diff: np.ndarray
    kink: np.ndarray
    rule: str

    @property
    def ok(self) -> bool:
        """True when no entry is a mismatch."""
        return not bool(self.mismatch.any())


# --------------------------------------------------------------------------- validation


def _check_callable(f: Any) -> None:
    if not callable(f):
        raise InputError(f"`f` must be callable, got {type(f).__name__}.")


def _check_array(array: Any, name: str) -> np.ndarray:
    if not isinstance(array, np.ndarray):
        raise InputError(
            f"`{name}` must be a numpy array (the very array f reads), got {type(array).__name__}."
        )
    if array.dtype.kind != "f":
        raise InputError(f"`{name}` must have a real floating dtype, got {array.dtype}.")
    if not array.flags.writeable:
        raise InputError(f"`{name}` must be writeable: its entries are perturbed in place.")
    return array


def _check_eps(eps: Any, arrays: Sequence[np.ndarray]) -> float:
    if eps is None:
        return max(float(np.finfo(a.dtype).eps) for a in arrays) if arrays else float(
            np.finfo(np.float64).eps
        )
    try:
        value = float(eps)
    except (TypeError, ValueError):
        raise InputError("`eps` must be a positive finite float below 1.") from None
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        raise InputError("`eps` must be a positive finite float below 1.")
    return value


def _finite_float(value: Any, name: str, *, non_negative: bool) -> float:
    """``float(value)``, or InputError naming the parameter."""
    rule = "a non-negative finite float" if non_negative else "a finite float"
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError(f"`{name}` must be {rule}.") from None
    if not math.isfinite(out) or (non_negative and out < 0.0):
        raise InputError(f"`{name}` must be {rule}.")
    return out


def _check_f_scale(f_scale: Any) -> float:
    return 0.0 if f_scale is None else _finite_float(f_scale, "f_scale", non_negative=True)


def _check_noise(noise: Any) -> float | None:
    return None if noise is None else _finite_float(noise, "noise", non_negative=True)


def _check_f0(f0: Any) -> float | None:
    return None if f0 is None else _finite_float(f0, "f0", non_negative=False)


def _check_indices(indices: Any, shape: tuple[int, ...]) -> np.ndarray:
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


def _step_ratio(eps: float, arrays: Sequence[np.ndarray]) -> float:
    """``eps**(1/3)``, but at least 16 ulps of the arrays' dtype (a step must move the entry)."""
    floor = max((16.0 * float(np.finfo(a.dtype).eps) for a in arrays), default=0.0)
    return max(eps ** (1.0 / 3.0), floor)


def _flat_view(array: np.ndarray) -> Any:
    """An object whose ``[i] = v`` writes the array's i-th row-major entry in place."""
    if array.flags.c_contiguous:
        return array.reshape(-1)  # a view, no copy
    return array.flat


def _restore(array: np.ndarray, backup: np.ndarray) -> None:
    np.copyto(array, backup, casting="no")


def _entry_path(array: np.ndarray, flat: np.ndarray, eta: float) -> Callable[[float], None]:
    """``set_point(j)``: entries ``flat`` moved by ``j`` tiny seeded Gaussian steps
    (a fraction of their difference step), the rest left as they are."""
    view = _flat_view(array)
    x = np.asarray(view[flat], dtype=np.float64)
    p = np.random.default_rng(_NOISE_SEED).standard_normal(flat.size)
    delta = (_NOISE_STEP * eta) * np.maximum(1.0, np.abs(x)) * p

    def set_point(j: float) -> None:
        view[flat] = x + j * delta

    return set_point


# --------------------------------------------------------------------------- estimators


def _three_point(
    f0: Any, fp: np.ndarray, fm: np.ndarray, hp: np.ndarray, hm: np.ndarray
) -> np.ndarray:
    """Second-order derivative at 0 from nodes ``-hm, 0, +hp`` (central when ``hm == hp``)."""
    with np.errstate(all="ignore"):
        return (hm * hm * (fp - f0) - hp * hp * (fm - f0)) / (hp * hm * (hp + hm))


def _full_estimate(
    f0: Any,
    fp: np.ndarray,
    fm: np.ndarray,
    hp: np.ndarray,
    hm: np.ndarray,
    noise: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Richardson value, error and kink flag from three levels of steps in ratio 1:2:4.

    ``fp, fm, hp, hm`` have shape (3, k): values and actual steps on each side
    at each level; ``noise`` (k,) is the rounding noise of one evaluation.
    Returns value, error, kink and the one-sided slopes at the first level.
    """
    with np.errstate(all="ignore"):
        c = _three_point(f0, fp, fm, hp, hm)
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
        kink = (jump > KINK_NOISE * noise / hbar[0]) & (jump > KINK_RELATIVE * scale)
    return r12, error, kink, s_minus[0], s_plus[0]


def _full_estimate_scalar(
    f0: float, fp: Sequence[float], fm: Sequence[float], steps: Sequence[float], noise: float
) -> tuple[float, float, bool]:
    """:func:`_full_estimate` for one symmetric stencil in plain floats (a directional
    probe: numpy's per-call overhead on 1-element arrays would dominate)."""
    c = [(fp[k] - fm[k]) / (2.0 * steps[k]) for k in range(3)]
    p = [s * s for s in steps]
    r12 = (p[1] * c[0] - p[0] * c[1]) / (p[1] - p[0])
    r24 = (p[2] * c[1] - p[1] * c[2]) / (p[2] - p[1])
    error = abs(r12 - r24) + 3.0 * noise / steps[0]
    diff = [(fp[k] - 2.0 * f0 + fm[k]) / steps[k] for k in range(3)]
    jump = max(abs(diff[0] - diff[1] * (steps[0] / steps[1])),
               abs(diff[1] - diff[2] * (steps[1] / steps[2])))
    scale = max(abs(diff[k]) * (steps[0] / steps[k]) for k in range(3))
    kink = jump > KINK_NOISE * noise / steps[0] and jump > KINK_RELATIVE * scale
    return r12, error, kink


def _noise(eps: float, f_scale: float, sigma: float, *values: np.ndarray) -> np.ndarray:
    """Bound on the rounding noise of one evaluation of f, per entry."""
    scale = np.abs(values[0])
    for v in values[1:]:
        scale = np.maximum(scale, np.abs(v))
    return np.maximum(NOISE_FACTOR * eps * np.maximum(scale, f_scale), NOISE_SIGMAS * sigma)


_ECNOISE_GAMMA = {k: math.factorial(k) ** 2 / math.factorial(2 * k) for k in range(3, 7)}


def _sigma_from_values(values: Sequence[float]) -> float:
    """Noise standard deviation from f on equally spaced tiny steps (Moré & Wild's
    ECnoise): the k-th differences of a smooth f vanish, those of noise do not.

    Plain floats: on 9 values numpy's per-call overhead would cost more than the sums.
    """
    diffs = [float(v) for v in values]
    sigmas = []
    for k in range(1, 7):
        diffs = [b - a for a, b in itertools.pairwise(diffs)]
        if k >= 3:
            mean_square = sum(d * d for d in diffs) / len(diffs)
            sigmas.append(math.sqrt(_ECNOISE_GAMMA[k] * mean_square))
    sigma = max(sigmas)
    return sigma if all(map(math.isfinite, sigmas)) else 0.0


def _sigma_along(
    f: Callable[[], float], set_point: Callable[[float], None], f0: float
) -> float:
    """ECnoise on ``f`` at ``_NOISE_POINTS`` points along a path set by ``set_point(j)``."""
    values = [f0]
    for j in range(1, _NOISE_POINTS + 1):
        set_point(float(j))
        values.append(float(f()))
    return _sigma_from_values(values)


# --------------------------------------------------------------------------- partials


def partial_derivatives(
    f: Callable[[], float],
    array: np.ndarray,
    indices: Any = None,
    *,
    analytic: Any = None,
    eps: float | None = None,
    f_scale: float | None = None,
    noise: float | None = None,
    f0: float | None = None,
) -> EntryEstimates:
    """Numeric partial derivatives of ``f()`` with respect to entries of ``array``.

    Parameters
    ----------
    f : callable
        ``f()`` returns a float computed from ``array`` (read at call time).
    array : ndarray of real floating dtype
        The very array ``f`` reads; its entries are perturbed in place and
        restored bit for bit, also when ``f`` raises.
    indices : array_like of int, shape (k, ndim), optional
        The entries to estimate; all of them (row-major) when omitted.
    analytic : array_like, shape (k,), optional
        The backward's values for the same entries.  An entry whose central
        difference already agrees within a cheap bound is settled after 2
        evaluations; the others get Richardson extrapolation and the kink test.
    eps : float, optional
        Working precision of ``f``; default the eps of ``array.dtype``.  Pass
        float32's eps when ``f`` computes in float32 from float64 arrays.
    f_scale : float, optional
        Magnitude against which ``f``'s rounding error is measured (default
        the largest ``|f|`` seen at the entry).
    noise : float, optional
        Standard deviation of ``f``'s rounding noise, if known (see
        :func:`noise_level`); by default it is measured with 8 extra
        evaluations of ``f`` along tiny steps of the entries asked.
    f0 : float, optional
        ``f()`` at the current point, if known (saves an evaluation).

    Returns
    -------
    EntryEstimates

    Raises
    ------
    InputError
        For a non-float or read-only array, bad indices, a wrong ``analytic``
        shape or a bad ``eps``.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([1.0, -2.0, 3.0])
    >>> est = partial_derivatives(lambda: float(np.sum(w ** 2)), w)
    >>> print(np.round(est.value, 8), bool(est.error.max() < 1e-6), est.nfev)
    [ 2. -4.  6.] True 27
    >>> w                                  # restored bit for bit
    array([ 1., -2.,  3.])
    """
    _check_callable(f)
    _check_array(array, "array")
    eps_f = _check_eps(eps, [array])
    scale_f = _check_f_scale(f_scale)
    sigma_given = _check_noise(noise)
    f0_given = _check_f0(f0)
    flat = _check_indices(indices, array.shape)
    k = flat.size
    target: np.ndarray | None = None
    if analytic is not None:
        target = np.asarray(analytic, dtype=np.float64).reshape(-1) if np.ndim(analytic) else (
            np.asarray(analytic, dtype=np.float64).reshape(1)
        )
        if target.shape != (k,):
            raise InputError(
                f"`analytic` must have one value per entry, shape ({k},), "
                f"got shape {np.shape(analytic)}."
            )
    index = np.stack(np.unravel_index(flat, array.shape), axis=1) if array.ndim else (
        np.zeros((k, 0), dtype=np.intp)
    )
    empty = np.zeros(0)
    if k == 0:
        return EntryEstimates(index, empty, empty, np.zeros(0, bool), empty, 0, empty, empty)

    eta = _step_ratio(eps_f, [array])
    backup = array.copy()
    view = _flat_view(array)
    item = array.item
    positions = flat.tolist()
    nfev = 0
    try:
        if f0_given is None:
            f0 = float(f())
            nfev += 1
        else:
            f0 = f0_given
        if sigma_given is None:
            sigma = _sigma_along(f, _entry_path(array, flat, eta), f0)
            nfev += _NOISE_POINTS
            _restore(array, backup)
        else:
            sigma = sigma_given
        # stage 1: plain central difference for every entry (local names: hot loop)
        fps: list[float] = []
        fms: list[float] = []
        hps: list[float] = []
        hms: list[float] = []
        add_fp, add_fm, add_hp, add_hm = fps.append, fms.append, hps.append, hms.append
        for i in positions:
            x = item(i)
            ax = abs(x)
            h = eta * ax if ax > 1.0 else eta
            view[i] = x + h
            add_hp(item(i) - x)
            add_fp(float(f()))
            view[i] = x - h
            add_hm(x - item(i))
            add_fm(float(f()))
            view[i] = x
        nfev += 2 * k
        fp1 = np.array(fps)
        fm1 = np.array(fms)
        hp1 = np.array(hps)
        hm1 = np.array(hms)
        noise_bound = _noise(eps_f, scale_f, sigma, fp1, fm1, np.full(k, f0))
        value = _three_point(f0, fp1, fm1, hp1, hm1)
        with np.errstate(all="ignore"):
            s_plus = (fp1 - f0) / hp1
            s_minus = (f0 - fm1) / hm1
            # rounding of the difference (2 noise/h, x2) plus truncation h^2 f'''/6,
            # with f''' ~ f''/scale guessed from the one-sided slopes' gap h f''
            error = 2.0 * noise_bound / (0.5 * (hp1 + hm1)) + np.abs(s_plus - s_minus) * eta
        kink = np.zeros(k, dtype=bool)
        if target is None:
            doubtful = np.arange(k)
        else:
            with np.errstate(invalid="ignore"):
                settled = np.abs(value - target) <= error
            doubtful = np.flatnonzero(~settled)

        def stencil(entries: np.ndarray, multipliers: tuple[float, ...]) -> tuple[np.ndarray, ...]:
            """f and the actual steps at +-multiplier*h for each entry: arrays (levels, m)."""
            shape = (len(multipliers), entries.size)
            fp, fm, hp, hm = np.empty(shape), np.empty(shape), np.empty(shape), np.empty(shape)
            for j, e in enumerate(entries.tolist()):
                i = positions[e]
                x = item(i)
                ax = abs(x)
                h = eta * ax if ax > 1.0 else eta
                for level, multiplier in enumerate(multipliers):
                    step = h * multiplier
                    view[i] = x + step
                    hp[level, j] = item(i) - x
                    fp[level, j] = float(f())
                    view[i] = x - step
                    hm[level, j] = x - item(i)
                    fm[level, j] = float(f())
                view[i] = x
            return fp, fm, hp, hm

        def full(entries: np.ndarray, fp: np.ndarray, fm: np.ndarray, hp: np.ndarray,
                 hm: np.ndarray) -> np.ndarray:
            """Richardson + kink test on the levels given; stores the results, returns kinks."""
            noise_d = _noise(eps_f, scale_f, sigma, fp, fm, np.full(entries.size, f0)).max(axis=0)
            v, err, kk, sm, sp = _full_estimate(f0, fp, fm, hp, hm, noise_d)
            value[entries], error[entries], kink[entries] = v, err, kk
            s_minus[entries], s_plus[entries] = sm, sp
            return np.asarray(kk, dtype=bool)

        if doubtful.size:
            # stage 2: steps 2h and 4h on both sides of each doubtful entry
            fp, fm, hp, hm = stencil(doubtful, _LEVELS[1:])
            nfev += 4 * doubtful.size
            kinked = full(
                doubtful,
                np.vstack([fp1[doubtful], fp]), np.vstack([fm1[doubtful], fm]),
                np.vstack([hp1[doubtful], hp]), np.vstack([hm1[doubtful], hm]),
            )
            suspects = doubtful[kinked]
            if suspects.size:
                # stage 3: a smooth f whose curvature scale is near 4h can look like a
                # kink; a kink inside the first step still shows with steps h/4, h/2, h
                fp, fm, hp, hm = stencil(suspects, (0.25, 0.5))
                nfev += 4 * suspects.size
                full(
                    suspects,
                    np.vstack([fp, fp1[suspects]]), np.vstack([fm, fm1[suspects]]),
                    np.vstack([hp, hp1[suspects]]), np.vstack([hm, hm1[suspects]]),
                )
    finally:
        _restore(array, backup)
    return EntryEstimates(index, value, error, kink, hp1, nfev, s_minus, s_plus)


# --------------------------------------------------------------------------- directional


class _Segment(NamedTuple):
    inplace: np.ndarray | None  # a writable float64 view of the entries, when there is one
    view: Any
    lo: int
    hi: int
    direction: np.ndarray
    saved64: np.ndarray
    backup: np.ndarray


class _Perturber:
    """Sets a contiguous range ``[lo, hi)`` of the concatenated flat entries of
    several arrays to ``saved + t * d`` and puts them back."""

    def __init__(self, arrays: Sequence[np.ndarray]) -> None:
        self.arrays = list(arrays)
        self.views = [_flat_view(a) for a in self.arrays]
        self.backups = [a.copy() for a in self.arrays]
        self.saved64 = [b.reshape(-1).astype(np.float64) for b in self.backups]
        self.flat_backups = [b.reshape(-1) for b in self.backups]
        sizes = [a.size for a in self.arrays]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.size = int(self.offsets[-1])

    def parts(self, lo: int, hi: int) -> list[tuple[int, int, int, int]]:
        """(array position, local lo, local hi, offset into the direction) for ``[lo, hi)``."""
        out = []
        for pos in range(len(self.arrays)):
            a_lo, a_hi = int(self.offsets[pos]), int(self.offsets[pos + 1])
            s, e = max(lo, a_lo), min(hi, a_hi)
            if s < e:
                out.append((pos, s - a_lo, e - a_lo, s - lo))
        return out

    def segments(self, parts: list[tuple[int, int, int, int]], d: np.ndarray) -> list[_Segment]:
        """Slices prepared once per direction, so that :meth:`set` does no slicing."""
        out = []
        for pos, s, e, off in parts:
            view = self.views[pos]
            fast = isinstance(view, np.ndarray) and view.dtype == np.float64
            out.append(_Segment(
                view[s:e] if fast else None, view, s, e, d[off : off + e - s],
                self.saved64[pos][s:e], self.flat_backups[pos][s:e],
            ))
        return out

    @staticmethod
    def set(segments: list[_Segment], t: float) -> None:
        for seg in segments:
            if seg.inplace is not None:  # no temporaries: this runs on 100k entries
                np.multiply(seg.direction, t, out=seg.inplace)
                np.add(seg.inplace, seg.saved64, out=seg.inplace)
            else:
                seg.view[seg.lo : seg.hi] = seg.saved64 + t * seg.direction

    @staticmethod
    def reset(segments: list[_Segment]) -> None:
        for seg in segments:
            seg.view[seg.lo : seg.hi] = seg.backup

    def restore_all(self) -> None:
        for a, b in zip(self.arrays, self.backups, strict=True):
            _restore(a, b)


def _direction_step(perturber: _Perturber, parts: list[tuple[int, int, int, int]],
                    d: np.ndarray, eta: float) -> float:
    """t such that the entries of each array move by about ``eta * max(1, rms|x|)``.

    The array whose entries are smallest against the direction sets the step, as
    the per-entry rule would: 0.01-sized weights beside 10-sized inputs must not
    be moved by 0.05.
    """
    t = math.inf
    for pos, s, e, off in parts:
        seg = perturber.saved64[pos][s:e]
        dseg = d[off : off + e - s]
        d2 = float(np.dot(dseg, dseg))
        if d2 > 0.0:
            x_rms = math.sqrt(float(np.dot(seg, seg)) / seg.size)
            t = min(t, eta * max(1.0, x_rms) / math.sqrt(d2 / dseg.size))
    return t if math.isfinite(t) else eta


def _probe(
    f: Callable[[], float],
    perturber: _Perturber,
    parts: list[tuple[int, int, int, int]],
    d: np.ndarray,
    f0: float,
    eta: float,
    eps_f: float,
    scale_f: float,
    sigma: float,
    levels: int,
) -> tuple[float, float, bool, int, float]:
    """Directional estimate along ``d`` on ``parts``: (value, error, kink, nfev, t).

    ``levels == 1``: plain central difference with the cheap bound (a kink is
    flagged when the slopes' gap does not shrink with the step);
    ``levels == 3``: Richardson and the kink test.  Moving every entry at once
    can make ``f`` far from linear over the first step (float32: ``t`` is
    5e-3 per entry), so while the estimate is truncation-dominated or looks
    like a kink the step is divided by 4, up to 3 times; the estimate with
    the smallest error that is not a kink is kept.
    """
    t0 = _direction_step(perturber, parts, d, eta)
    segments = perturber.segments(parts, d)
    best: tuple[float, float, bool, float] | None = None
    nfev = 0
    last_gap = math.inf
    kink_seen = False
    try:
        for attempt in range(_LADDER):
            t = t0 * 0.25**attempt
            fp: list[float] = []
            fm: list[float] = []
            for level in range(levels):
                perturber.set(segments, t * _LEVELS[level])
                fp.append(float(f()))
                perturber.set(segments, -t * _LEVELS[level])
                fm.append(float(f()))
            nfev += 2 * levels
            scale = max(abs(f0), max(map(abs, fp)), max(map(abs, fm)), scale_f)
            noise = max(NOISE_FACTOR * eps_f * scale, NOISE_SIGMAS * sigma)
            if levels == 1:
                value = (fp[0] - fm[0]) / (2.0 * t)
                rounding = 2.0 * noise / t
                gap = abs((fp[0] - 2.0 * f0 + fm[0]) / t)  # h f'' when smooth, the jump at a kink
                truncation = gap * eta
                error = rounding + truncation
                # a gap that stays put while the step shrinks 4x is a kink's, not curvature's
                kink = attempt > 0 and gap > KINK_NOISE * noise / t and gap > 0.5 * last_gap
                kink_seen |= kink
                last_gap = gap
            else:
                steps = [t * m for m in _LEVELS[:levels]]
                value, error, kink = _full_estimate_scalar(f0, fp, fm, steps, noise)
                rounding = 3.0 * noise / t
                truncation = error - rounding
            if best is None or (best[2] and not kink) or (
                not kink and not best[2] and error < best[1]
            ):
                best = (value, error, kink, t)
            if not kink and not truncation > rounding:
                break
    finally:
        perturber.reset(segments)
    assert best is not None
    if levels == 1:  # the cheap probe's estimate is kept; the kink is only a hint
        return best[0], best[1], kink_seen, nfev, best[3]
    return best[0], best[1], best[2], nfev, best[3]


def _sigma_direction(
    f: Callable[[], float],
    perturber: _Perturber,
    parts: list[tuple[int, int, int, int]],
    d: np.ndarray,
    t: float,
    f0: float,
) -> float:
    """Noise standard deviation of f along ``d`` (tiny steps ``t * _NOISE_STEP``)."""
    segments = perturber.segments(parts, d)
    try:
        return _sigma_along(f, lambda j: perturber.set(segments, j * t * _NOISE_STEP), f0)
    finally:
        perturber.reset(segments)


def _check_arrays(arrays: Any, name: str) -> list[np.ndarray]:
    if isinstance(arrays, np.ndarray) or not isinstance(arrays, Sequence):
        raise InputError(f"`{name}` must be a sequence of numpy arrays.")
    if len(arrays) == 0:
        raise InputError(f"`{name}` must not be empty.")
    return [_check_array(a, f"{name}[{i}]") for i, a in enumerate(arrays)]


def directional_derivative(
    f: Callable[[], float],
    arrays: Sequence[np.ndarray],
    directions: Sequence[Any],
    *,
    eps: float | None = None,
    f_scale: float | None = None,
    noise: float | None = None,
) -> DirectionalEstimate:
    """Derivative of ``f()`` along ``directions``: ``d/dt f`` with every
    ``arrays[k]`` set to ``saved_k + t * directions[k]``, at ``t = 0``.

    Parameters
    ----------
    f : callable
        ``f()`` returns a float computed from ``arrays``.
    arrays : sequence of ndarray
        The very arrays ``f`` reads; restored bit for bit afterwards.
    directions : sequence of array_like
        One direction per array, same shapes; finite, not all zero.
    eps : float, optional
        Working precision of ``f``; default the largest eps of the arrays' dtypes.
    f_scale, noise : float, optional
        As in :func:`partial_derivatives` (measuring the noise costs 8
        evaluations; pass it when probing the same ``f`` repeatedly).

    Returns
    -------
    DirectionalEstimate
        Richardson extrapolation over steps ``t, 2t, 4t`` with an error
        estimate and the one-sided kink test (7 evaluations, plus 8 to
        measure the noise).

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([1.0, 2.0])
    >>> b = np.array([0.5])
    >>> est = directional_derivative(lambda: float(np.sum(w ** 2) + 3 * b[0]),
    ...                              [w, b], [np.array([1.0, 0.0]), np.array([1.0])])
    >>> print(round(est.value, 8), est.kink, est.nfev)   # 2*w[0] + 3
    5.0 False 15
    """
    _check_callable(f)
    arrs = _check_arrays(arrays, "arrays")
    direction = _check_directions(directions, arrs, "directions")
    return _directional_estimates(f, arrs, [direction], eps, f_scale, noise)[0]


def directional_derivatives(
    f: Callable[[], float],
    arrays: Sequence[np.ndarray],
    directions: Sequence[Sequence[Any]],
    *,
    eps: float | None = None,
    f_scale: float | None = None,
    noise: float | None = None,
) -> list[DirectionalEstimate]:
    """:func:`directional_derivative` along several directions, sharing the work.

    ``f`` at the point is evaluated once and its noise is measured once (along
    the first direction, unless ``noise`` is given), so ``m`` probes cost
    ``1 + 8 + 6 m`` evaluations instead of ``15 m``.

    Parameters
    ----------
    f : callable
        ``f()`` returns a float computed from ``arrays``.
    arrays : sequence of ndarray
        The very arrays ``f`` reads; restored bit for bit afterwards.
    directions : sequence of sequences of array_like
        One direction per probe, each given as one array per entry of ``arrays``
        (same shapes; finite, not all zero).
    eps, f_scale, noise : float, optional
        As in :func:`directional_derivative`.

    Returns
    -------
    list of DirectionalEstimate
        One per direction; the evaluations at the point and for the noise are
        counted in the first one's ``nfev``.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([1.0, 2.0])
    >>> f = lambda: float(np.sum(w ** 2))
    >>> ests = directional_derivatives(f, [w], [[np.array([1.0, 0.0])], [np.array([0.0, 1.0])]])
    >>> [round(e.value, 8) for e in ests], [e.nfev for e in ests]
    ([2.0, 4.0], [15, 6])
    """
    _check_callable(f)
    arrs = _check_arrays(arrays, "arrays")
    if isinstance(directions, np.ndarray) or not isinstance(directions, Sequence) or (
        len(directions) == 0
    ):
        raise InputError("`directions` must be a non-empty sequence of directions.")
    flat = [_check_directions(d, arrs, f"directions[{j}]") for j, d in enumerate(directions)]
    return _directional_estimates(f, arrs, flat, eps, f_scale, noise)


def _flatten_like(values: Any, arrs: list[np.ndarray], name: str) -> np.ndarray:
    """One array per array of `arrs`, same shapes: validated, flattened end to end."""
    if isinstance(values, np.ndarray) or not isinstance(values, Sequence):
        raise InputError(f"`{name}` must be a sequence of arrays, one per array.")
    if len(values) != len(arrs):
        raise InputError(
            f"`arrays` and `{name}` must have the same length "
            f"({len(arrs)} != {len(values)})."
        )
    parts = []
    for i, (a, v) in enumerate(zip(arrs, values, strict=True)):
        vv = np.asarray(v, dtype=np.float64)
        if vv.shape != a.shape:
            raise InputError(
                f"`{name}[{i}]` has shape {vv.shape}, expected {a.shape} like `arrays[{i}]`."
            )
        parts.append(vv.reshape(-1))
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def _check_directions(directions: Any, arrs: list[np.ndarray], name: str) -> np.ndarray:
    """One direction given as one array per array: validated, flattened end to end."""
    direction = _flatten_like(directions, arrs, name)
    if not np.isfinite(direction).all():
        # name the first array holding a non-finite entry, as the message always did
        bounds = np.cumsum([a.size for a in arrs])
        i = int(np.searchsorted(bounds, int(np.argmin(np.isfinite(direction))), side="right"))
        raise InputError(f"`{name}[{i}]` must be finite.")
    if not direction.any():
        raise InputError(f"`{name}` must not be all zero.")
    return direction


def _directional_estimates(
    f: Callable[[], float],
    arrs: list[np.ndarray],
    directions: list[np.ndarray],
    eps: Any,
    f_scale: Any,
    noise: Any,
) -> list[DirectionalEstimate]:
    eps_f = _check_eps(eps, arrs)
    scale_f = _check_f_scale(f_scale)
    sigma = _check_noise(noise)
    eta = _step_ratio(eps_f, arrs)
    perturber = _Perturber(arrs)
    parts = perturber.parts(0, perturber.size)
    nfev = 1
    out = []
    try:
        f0 = float(f())
        for direction in directions:
            if sigma is None:
                t = _direction_step(perturber, parts, direction, eta)
                sigma = _sigma_direction(f, perturber, parts, direction, t, f0)
                nfev += _NOISE_POINTS
            value, error, kink, n, t = _probe(
                f, perturber, parts, direction, f0, eta, eps_f, scale_f, sigma, levels=3
            )
            out.append(DirectionalEstimate(value, error, kink, nfev + n, t, sigma))
            nfev = 0
    finally:
        perturber.restore_all()
    return out


def noise_level(
    f: Callable[[], float],
    arrays: Sequence[np.ndarray],
    *,
    eps: float | None = None,
    seed: int = 0,
) -> float:
    """Standard deviation of the rounding noise in ``f()`` near the current point.

    ``f`` is evaluated at 8 tiny steps along a seeded Gaussian direction in
    all the entries of ``arrays`` (steps ``2**-8`` of a difference step);
    the noise is read off the high-order differences (Moré & Wild's ECnoise).
    Pass the result as ``noise=`` to the other functions of this module to
    skip measuring it again.

    Parameters
    ----------
    f : callable
    arrays : sequence of ndarray
        The very arrays ``f`` reads; restored bit for bit afterwards.
    eps : float, optional
        Working precision of ``f``; default from the arrays' dtypes.
    seed : int
        Seed of the direction.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> w = np.linspace(0.0, 1.0, 100)
    >>> sigma = noise_level(lambda: float(np.sum(np.sin(w))), [w])
    >>> bool(0.0 <= sigma < 1e-13)
    True
    """
    _check_callable(f)
    arrs = _check_arrays(arrays, "arrays")
    eps_f = _check_eps(eps, arrs)
    eta = _step_ratio(eps_f, arrs)
    perturber = _Perturber(arrs)
    parts = perturber.parts(0, perturber.size)
    direction = np.random.default_rng(seed).standard_normal(perturber.size)
    try:
        f0 = float(f())
        t = _direction_step(perturber, parts, direction, eta)
        return _sigma_direction(f, perturber, parts, direction, t, f0)
    finally:
        perturber.restore_all()


# --------------------------------------------------------------------------- compare


def _dtype_label(eps: float) -> str:
    name = _DTYPE_NAMES.get(float(eps))
    return name if name is not None else f"eps={eps:.3g}"


def compare(
    analytic: Any,
    est: EntryEstimates | DirectionalEstimate,
    *,
    eps: float,
    rtol: float | None = None,
    atol: float | None = None,
) -> Comparison:
    """Decide, entry by entry, whether the backward's values match the numeric estimate.

    The tolerance is ``5 * error + 8 * eps * (|analytic| + |numeric| + max|analytic|)``:
    the estimate's own error bound with a safety factor, plus a few ulps of
    the gradient's scale for the rounding of the backward itself.  Giving
    ``rtol`` or ``atol`` replaces it by ``atol + rtol * |numeric|``.  Entries
    at a kink are never mismatches; NaN is always one.

    Parameters
    ----------
    analytic : array_like
        Same shape as ``est.value`` (a scalar for a directional estimate), or
        the same number of values in row-major order.
    est : EntryEstimates or DirectionalEstimate
    eps : float
        Working precision of the layer (float32's eps for a float32 layer).
    rtol, atol : float, optional
        User tolerances; override the derived one.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([1.0, -2.0, 3.0])
    >>> est = partial_derivatives(lambda: float(np.sum(w ** 2)), w)
    >>> c = compare([2.0, -4.0, 6.1], est, eps=np.finfo(float).eps)
    >>> c.mismatch.tolist(), c.ok
    ([False, False, True], False)
    >>> print(c.rule)
    tolerance from error estimate (x5) + 8 ulp of the gradient scale, float64
    """
    eps_v = _check_eps(eps, [])
    numeric = np.atleast_1d(np.asarray(est.value, dtype=np.float64))
    error = np.atleast_1d(np.asarray(est.error, dtype=np.float64))
    kink = np.atleast_1d(np.asarray(est.kink, dtype=bool))
    try:
        a = np.atleast_1d(np.asarray(analytic, dtype=np.float64))
    except (TypeError, ValueError):
        raise InputError("`analytic` must be an array of numbers.") from None
    if a.shape != numeric.shape and a.size == numeric.size:
        a = a.reshape(numeric.shape)  # e.g. a whole gradient tensor against all its entries
    if a.shape != numeric.shape:
        raise InputError(
            f"`analytic` has shape {np.shape(analytic)}, expected {np.shape(est.value)} "
            "like `est.value`."
        )
    for name, v in (("rtol", rtol), ("atol", atol)):
        if v is not None and not (isinstance(v, (int, float, np.floating)) and math.isfinite(v)
                                  and v >= 0):
            raise InputError(f"`{name}` must be a non-negative finite float.")
    with np.errstate(all="ignore"):
        abs_diff = np.abs(a - numeric)
        abs_num = np.abs(numeric)
        rel_diff = np.where(abs_num > 0, abs_diff / abs_num, np.where(abs_diff > 0, np.inf, 0.0))
        if rtol is not None or atol is not None:
            r = float(rtol or 0.0)
            t = float(atol or 0.0)
            tol = t + r * abs_num
            rule = f"rtol={r:g}, atol={t:g} (user tolerances), {_dtype_label(eps_v)}"
        else:
            finite = np.abs(a[np.isfinite(a)])
            g_scale = float(finite.max()) if finite.size else 0.0
            tol = SAFETY * error + ULPS * eps_v * (np.abs(a) + abs_num + g_scale)
            rule = (
                f"tolerance from error estimate (x{SAFETY:g}) + {ULPS:g} ulp of the gradient "
                f"scale, {_dtype_label(eps_v)}"
            )
        mismatch = ~(abs_diff <= tol) & ~kink
    return Comparison(mismatch, tol, abs_diff, rel_diff, kink.copy(), rule)


# --------------------------------------------------------------------------- localise


def localise(
    f: Callable[[], float],
    arrays: Sequence[np.ndarray],
    analytics: Sequence[Any],
    *,
    eps: float,
    seed: int = 0,
    max_entries: int = 10,
    f_scale: float | None = None,
    noise: float | None = None,
    leaf_size: int = 8,
    max_evals: int | None = None,
) -> list[tuple[int, tuple[int, ...]]]:
    """Find the entries whose analytic gradient is wrong, by group testing.

    The entries of all arrays are laid end to end.  A range is probed with a
    seeded Gaussian direction restricted to it (2 evaluations: a central
    difference, against ``sum(analytic * d)`` over the range); a range whose
    probe disagrees is split in halves, down to ranges of ``leaf_size``
    entries, which are checked entry by entry with :func:`partial_derivatives`
    and :func:`compare` (kinks are not reported).  With one wrong entry among
    ``n`` this costs about ``4 * log2(n)`` evaluations.  A range whose probe
    straddles a kink disagrees too; such ranges are explored after the clean
    ones, within the evaluation budget, so a function full of kinks (a ReLU
    at many exact zeros) costs at most ``max_evals`` evaluations.

    Parameters
    ----------
    f : callable
        ``f()`` returns a float computed from ``arrays``.
    arrays : sequence of ndarray
        The very arrays ``f`` reads; restored bit for bit afterwards.
    analytics : sequence of array_like
        The backward's gradient for each array, same shapes.
    eps : float
        Working precision of ``f``.
    seed : int
        Seed of the probe directions.
    max_entries : int
        Stop after finding this many wrong entries.
    f_scale, noise : float, optional
        As in :func:`partial_derivatives`; the noise is measured once.
    leaf_size : int
        Ranges this small are checked entry by entry.
    max_evals : int, optional
        Budget of evaluations of ``f`` (default ``200 * max_entries``); the
        search stops when it is spent and returns what it found.

    Returns
    -------
    list of (int, tuple of int)
        ``(array position, index)`` of each wrong entry found, sorted.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.linspace(-1.0, 1.0, 1000)
    >>> grad = 2 * w
    >>> grad[417] *= 1.01                          # one wrong entry
    >>> localise(lambda: float(np.sum(w ** 2)), [w], [grad], eps=np.finfo(float).eps)
    [(0, (417,))]
    """
    _check_callable(f)
    arrs = _check_arrays(arrays, "arrays")
    grad = _flatten_like(analytics, arrs, "analytics")
    grads = np.split(grad, np.cumsum([a.size for a in arrs])[:-1])  # per-array views
    eps_f = _check_eps(eps, arrs)
    scale_f = _check_f_scale(f_scale)
    sigma_given = _check_noise(noise)
    if isinstance(max_entries, bool) or not isinstance(max_entries, (int, np.integer)) or (
        max_entries < 1
    ):
        raise InputError("`max_entries` must be a positive int.")
    if isinstance(leaf_size, bool) or not isinstance(leaf_size, (int, np.integer)) or leaf_size < 1:
        raise InputError("`leaf_size` must be a positive int.")
    eta = _step_ratio(eps_f, arrs)
    rng = np.random.default_rng(seed)
    perturber = _Perturber(arrs)
    n = perturber.size
    if max_evals is not None and (
        isinstance(max_evals, bool) or not isinstance(max_evals, (int, np.integer))
        or max_evals < 1
    ):
        raise InputError("`max_evals` must be a positive int.")
    budget = int(max_evals) if max_evals is not None else 200 * int(max_entries)
    found: list[tuple[int, tuple[int, ...]]] = []
    nfev = 0

    def disagrees(lo: int, hi: int) -> tuple[bool, bool]:
        """(the probe of [lo, hi) disagrees, it looks like a kink)."""
        nonlocal nfev
        parts = perturber.parts(lo, hi)
        d = rng.standard_normal(hi - lo)
        value, error, kinky, n_used, _ = _probe(
            f, perturber, parts, d, f0, eta, eps_f, scale_f, sigma, levels=1
        )
        nfev += n_used
        expected = float(np.dot(grad[lo:hi], d))
        with np.errstate(invalid="ignore"):
            tol = error + ULPS * eps_f * float(np.dot(np.abs(grad[lo:hi]), np.abs(d)))
            return not abs(value - expected) <= tol, kinky

    def check_leaf(lo: int, hi: int) -> None:
        for pos, s, e, _ in perturber.parts(lo, hi):
            arr = perturber.arrays[pos]
            flat_idx = np.arange(s, e)
            idx = np.stack(np.unravel_index(flat_idx, arr.shape), axis=1) if arr.ndim else (
                np.zeros((e - s, 0), dtype=np.intp)
            )
            a = grads[pos][s:e]
            est = partial_derivatives(
                f, arr, idx, analytic=a, eps=eps_f, f_scale=f_scale, noise=sigma
            )
            nonlocal nfev
            nfev += est.nfev
            cmp = compare(a, est, eps=eps_f)
            for j in np.flatnonzero(cmp.mismatch):
                found.append((pos, tuple(int(v) for v in est.index[j])))

    try:
        f0 = float(f())
        if sigma_given is None:
            everything = perturber.parts(0, n)
            d_all = np.random.default_rng(_NOISE_SEED).standard_normal(n)
            t_all = _direction_step(perturber, everything, d_all, eta)
            sigma = _sigma_direction(f, perturber, everything, d_all, t_all, f0)
        else:
            sigma = sigma_given
        clean: list[tuple[int, int]] = []  # ranges to split, depth first
        kinky: list[tuple[int, int]] = []  # the same, but their probe straddled a kink
        # the whole set: a few directions, since one may hide a bug by chance
        for _ in range(3):
            bad, at_kink = disagrees(0, n)
            if bad:
                (kinky if at_kink else clean).append((0, n))
                break
        while (clean or kinky) and len(found) < max_entries and nfev < budget:
            lo, hi = clean.pop() if clean else kinky.pop()
            if hi - lo <= leaf_size:
                check_leaf(lo, hi)
                continue
            mid = (lo + hi) // 2
            halves: list[tuple[int, int, bool]] = []
            for _ in range(3):  # both halves agreeing: retry with fresh directions
                for a_lo, a_hi in ((lo, mid), (mid, hi)):
                    bad, at_kink = disagrees(a_lo, a_hi)
                    if bad:
                        halves.append((a_lo, a_hi, at_kink))
                if halves or nfev >= budget:
                    break
            for a_lo, a_hi, at_kink in reversed(halves):  # left half first
                (kinky if at_kink else clean).append((a_lo, a_hi))
    finally:
        perturber.restore_all()
    return sorted(found[:max_entries])
