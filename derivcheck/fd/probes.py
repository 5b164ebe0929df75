"""Directional probes: the derivative of ``f()`` along a direction in the space of
all the entries of the arrays it reads.

Every entry moves at once along a seeded Gaussian direction (6 evaluations per
probe, the step divided by 4 while the estimate is dominated by truncation);
:func:`directional_derivatives` shares the point and the noise measurement
between several directions.  The arrays are perturbed in place and restored bit
for bit.  numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from derivcheck import _scratch as scratch
from derivcheck.errors import InputError
from derivcheck.fd.stencil import (
    check_array,
    check_callable,
    check_eps,
    check_f_scale,
    check_noise,
    flat_view,
    restore,
    sigma_along,
    step_ratio,
)
from derivcheck.fd.steps import (
    KINK_NOISE,
    LEVELS,
    NOISE_FACTOR,
    NOISE_POINTS,
    NOISE_SIGMAS,
    NOISE_STEP,
    full_estimate_scalar,
)

__all__ = ["DirectionalEstimate", "directional_derivatives", "noise_level"]

# directional probes: at most this many steps t, t/4, t/16, ...
_LADDER = 4


def quarter_turn(d: np.ndarray, rng: np.random.Generator) -> None:
    """Turn the Gaussian direction ``d`` (1-d, in place) into a second one, independent
    of it as a probe: each pair of entries ``(a, b)`` becomes ``(b, -a)``; an odd last
    entry is drawn afresh from ``rng``.

    ``d`` and its turn ``R d`` are both standard Gaussian (``R`` is orthogonal), and for
    any fixed error vector ``e`` the two probe statistics ``e.d`` and ``e.Rd`` are
    jointly Gaussian with covariance ``e^T R e = 0`` (``R`` is antisymmetric): they are
    independent, so two probes miss a wrong gradient exactly as often as two fresh
    draws would.  It costs one pass over ``d`` (0.8 ns per entry here) instead of a
    draw (9.9 ns per entry).
    """
    pairs = d[: d.size // 2 * 2].reshape(-1, 2)
    step = scratch.CHUNK // 2
    for i in range(0, len(pairs), step):
        block = pairs[i : i + step]
        first = scratch.buffer(len(block))
        np.copyto(first, block[:, 0])
        np.copyto(block[:, 0], block[:, 1])
        np.negative(first, out=block[:, 1])
    if d.size % 2:
        d[-1] = rng.standard_normal()



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
    f0 : float
        ``f()`` at the point.
    """

    value: float
    error: float
    kink: bool
    nfev: int
    step: float = math.nan
    noise: float = math.nan
    f0: float = math.nan



# --------------------------------------------------------------------------- directional


class Segment(NamedTuple):
    inplace: np.ndarray | None  # a writable float64 view of the entries, when there is one
    view: Any
    lo: int
    hi: int
    direction: np.ndarray
    saved64: np.ndarray
    backup: np.ndarray


class Perturber:
    """Sets a contiguous range ``[lo, hi)`` of the concatenated flat entries of
    several arrays to ``saved + t * d`` and puts them back."""

    def __init__(
        self,
        arrays: Sequence[np.ndarray],
        backups: Sequence[np.ndarray] | None = None,
        rms_cache: dict[tuple[int, int, int], tuple[np.ndarray, float]] | None = None,
    ) -> None:
        """``backups``: copies of the arrays' current values the caller already holds
        (never written here), instead of new ones.  ``rms_cache``: a dict the caller keeps
        across probes at the same point, so that its rms values are computed once (each
        entry holds the backup it was computed from: an id is never reused while cached)."""
        self.rms_cache = {} if rms_cache is None else rms_cache
        self.arrays = list(arrays)
        self.views = [flat_view(a) for a in self.arrays]
        self.backups = (
            [a.copy() for a in self.arrays] if backups is None else list(backups)
        )
        # float64 backups serve as they are (no second copy of a large weight matrix)
        self.saved64 = [
            b.reshape(-1) if b.dtype == np.float64 else b.reshape(-1).astype(np.float64)
            for b in self.backups
        ]
        self.flat_backups = [b.reshape(-1) for b in self.backups]
        sizes = [a.size for a in self.arrays]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.size = int(self.offsets[-1])

    def x_rms(self, pos: int, lo: int, hi: int) -> float:
        """rms of the saved values of array ``pos`` over ``[lo, hi)`` (cached)."""
        backup = self.backups[pos]
        key = (id(backup), lo, hi)
        cached = self.rms_cache.get(key)
        if cached is not None and cached[0] is backup:
            return cached[1]
        seg = self.saved64[pos][lo:hi]
        value = math.sqrt(float(np.dot(seg, seg)) / seg.size)
        self.rms_cache[key] = (backup, value)
        return value

    def parts(self, lo: int, hi: int) -> list[tuple[int, int, int, int]]:
        """(array position, local lo, local hi, offset into the direction) for ``[lo, hi)``."""
        out = []
        for pos in range(len(self.arrays)):
            a_lo, a_hi = int(self.offsets[pos]), int(self.offsets[pos + 1])
            s, e = max(lo, a_lo), min(hi, a_hi)
            if s < e:
                out.append((pos, s - a_lo, e - a_lo, s - lo))
        return out

    def segments(self, parts: list[tuple[int, int, int, int]], d: np.ndarray) -> list[Segment]:
        """Slices prepared once per direction, so that :meth:`set` does no slicing."""
        out = []
        for pos, s, e, off in parts:
            view = self.views[pos]
            fast = isinstance(view, np.ndarray) and view.dtype == np.float64
            out.append(Segment(
                view[s:e] if fast else None, view, s, e, d[off : off + e - s],
                self.saved64[pos][s:e], self.flat_backups[pos][s:e],
            ))
        return out

    @staticmethod
    def set(segments: list[Segment], t: float) -> None:
        step = scratch.CHUNK
        for seg in segments:
            if seg.inplace is not None:  # no temporaries: this runs on 100k entries, in
                # chunks, so that the add reads the product from cache (16.8M entries:
                # 17 ms against 22 ms in two whole passes)
                w, d, s = seg.inplace, seg.direction, seg.saved64
                for i in range(0, w.size, step):
                    part = w[i : i + step]
                    np.multiply(d[i : i + step], t, out=part)
                    np.add(part, s[i : i + step], out=part)
            else:
                seg.view[seg.lo : seg.hi] = seg.saved64 + t * seg.direction

    @staticmethod
    def reset(segments: list[Segment]) -> None:
        for seg in segments:
            seg.view[seg.lo : seg.hi] = seg.backup

    def restore_all(self) -> None:
        for a, b in zip(self.arrays, self.backups, strict=True):
            restore(a, b)


def direction_step(perturber: Perturber, parts: list[tuple[int, int, int, int]],
                    d: np.ndarray, eta: float,
                    squares: Sequence[float] | None = None) -> float:
    """t such that the entries of each array move by about ``eta * max(1, rms|x|)``.

    The array whose entries are smallest against the direction sets the step, as
    the per-entry rule would: 0.01-sized weights beside 10-sized inputs must not
    be moved by 0.05.  ``squares``: ``|d|^2`` over each whole array (by position), when
    the caller has them (``parts`` must then cover whole arrays).
    """
    t = math.inf
    for pos, s, e, off in parts:
        dseg = d[off : off + e - s]
        d2 = float(np.dot(dseg, dseg)) if squares is None else squares[pos]
        if d2 > 0.0:
            x_rms = perturber.x_rms(pos, s, e)
            t = min(t, eta * max(1.0, x_rms) / math.sqrt(d2 / dseg.size))
    return t if math.isfinite(t) else eta


def probe(
    f: Callable[[], float],
    perturber: Perturber,
    parts: list[tuple[int, int, int, int]],
    d: np.ndarray,
    f0: float,
    eta: float,
    eps_f: float,
    scale_f: float,
    sigma: float,
    levels: int,
    attempts: int = _LADDER,
    t0: float | None = None,
) -> tuple[float, float, bool, int, float]:
    """Directional estimate along ``d`` on ``parts``: (value, error, kink, nfev, t).
    ``t0``: the first step, when the caller has it (else :func:`direction_step`'s).

    ``attempts=1``: the first step only (``levels == 1``: one central difference and
    its cheap bound, rounding ``2 noise / t`` plus the gap's curvature guess).

    ``levels == 1``: plain central difference with the cheap bound (a kink is
    flagged when the slopes' gap does not shrink with the step);
    ``levels == 3``: Richardson and the kink test.  Moving every entry at once
    can make ``f`` far from linear over the first step (float32: ``t`` is
    5e-3 per entry), so while the estimate is truncation-dominated or looks
    like a kink the step is divided by 4, up to 3 times; the estimate with
    the smallest error that is not a kink is kept.
    """
    if t0 is None:
        t0 = direction_step(perturber, parts, d, eta)
    segments = perturber.segments(parts, d)
    best: tuple[float, float, bool, float] | None = None
    nfev = 0
    last_gap = math.inf
    kink_seen = False
    try:
        for attempt in range(attempts):
            t = t0 * 0.25**attempt
            fp: list[float] = []
            fm: list[float] = []
            for level in range(levels):
                perturber.set(segments, t * LEVELS[level])
                fp.append(float(f()))
                perturber.set(segments, -t * LEVELS[level])
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
                steps = [t * m for m in LEVELS[:levels]]
                value, error, kink = full_estimate_scalar(f0, fp, fm, steps, noise)
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


def sigma_direction(
    f: Callable[[], float],
    perturber: Perturber,
    parts: list[tuple[int, int, int, int]],
    d: np.ndarray,
    t: float,
    f0: float,
) -> float:
    """Noise standard deviation of f along ``d`` (tiny steps ``t * NOISE_STEP``)."""
    segments = perturber.segments(parts, d)
    try:
        return sigma_along(f, lambda j: perturber.set(segments, j * t * NOISE_STEP), f0)
    finally:
        perturber.reset(segments)


def check_arrays(arrays: Any, name: str) -> list[np.ndarray]:
    if isinstance(arrays, np.ndarray) or not isinstance(arrays, Sequence):
        raise InputError(f"`{name}` must be a sequence of numpy arrays.")
    if len(arrays) == 0:
        raise InputError(f"`{name}` must not be empty.")
    return [check_array(a, f"{name}[{i}]") for i, a in enumerate(arrays)]


def directional_derivatives(
    f: Callable[[], float],
    arrays: Sequence[np.ndarray],
    directions: Sequence[Sequence[Any]],
    *,
    eps: float | None = None,
    f_scale: float | None = None,
    noise: float | None = None,
) -> list[DirectionalEstimate]:
    """Derivatives of ``f()`` along several directions in the space of all entries:
    ``d/dt f`` with every ``arrays[k]`` set to ``saved_k + t * direction[k]``, at ``t = 0``.

    Each is a Richardson extrapolation over steps ``t, 2t, 4t`` with an error
    estimate and the one-sided kink test (6 evaluations).  ``f`` at the point
    is evaluated once and its noise is measured once (8 evaluations along the
    first direction, unless ``noise`` is given), so ``m`` probes cost
    ``1 + 8 + 6 m`` evaluations.

    Parameters
    ----------
    f : callable
        ``f()`` returns a float computed from ``arrays``.
    arrays : sequence of ndarray
        The very arrays ``f`` reads; restored bit for bit afterwards.
    directions : sequence of sequences of array_like
        One direction per probe, each given as one array per entry of ``arrays``
        (same shapes; finite, not all zero).
    eps : float, optional
        Working precision of ``f``; default the largest eps of the arrays' dtypes.
    f_scale, noise : float, optional
        As in :func:`partial_derivatives` (pass ``noise`` from :func:`noise_level`
        when probing the same ``f`` repeatedly).

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
    check_callable(f)
    arrs = check_arrays(arrays, "arrays")
    if isinstance(directions, np.ndarray) or not isinstance(directions, Sequence) or (
        len(directions) == 0
    ):
        raise InputError("`directions` must be a non-empty sequence of directions.")
    flat = [check_directions(d, arrs, f"directions[{j}]") for j, d in enumerate(directions)]
    return estimates_along(f, arrs, flat, eps, f_scale, noise)


def flatten_like(values: Any, arrs: list[np.ndarray], name: str) -> np.ndarray:
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


def check_directions(directions: Any, arrs: list[np.ndarray], name: str) -> np.ndarray:
    """One direction given as one array per array: validated, flattened end to end."""
    direction = flatten_like(directions, arrs, name)
    if not np.isfinite(direction).all():
        # name the first array holding a non-finite entry, as the message always did
        bounds = np.cumsum([a.size for a in arrs])
        i = int(np.searchsorted(bounds, int(np.argmin(np.isfinite(direction))), side="right"))
        raise InputError(f"`{name}[{i}]` must be finite.")
    if not direction.any():
        raise InputError(f"`{name}` must not be all zero.")
    return direction


def estimates_along(
    f: Callable[[], float],
    arrs: list[np.ndarray],
    directions: list[np.ndarray],
    eps: Any,
    f_scale: Any,
    noise: Any,
    backups: Sequence[np.ndarray] | None = None,
    f0: float | None = None,
    targets: Sequence[float] | None = None,
    rms_cache: dict[tuple[int, int, int], tuple[np.ndarray, float]] | None = None,
    squares: Sequence[Sequence[float]] | None = None,
) -> list[DirectionalEstimate]:
    """:func:`directional_derivatives` on validated arguments: each direction already
    flattened end to end over ``arrs`` (callers on the hot path build it that way, which
    saves a copy of every direction).  ``f0``: ``f()`` at the point, when known.
    ``squares``: for each direction, ``|d|^2`` over each array, when known.

    ``targets``: the backward's value along each direction.  As for an entry, a plain
    central difference that agrees with it within the cheap bound (rounding plus a
    curvature guess) settles the probe after two evaluations; the others get the full
    treatment (Richardson, the kink test, smaller steps while truncation dominates).
    With ``targets`` and no ``noise``, the noise is measured only for a probe that the
    rounding floor alone does not settle (an estimate's ``noise`` is NaN until then)."""
    eps_f = check_eps(eps, arrs)
    scale_f = check_f_scale(f_scale)
    sigma = check_noise(noise)
    eta = step_ratio(eps_f, arrs)
    perturber = Perturber(arrs, backups, rms_cache if backups is not None else None)
    parts = perturber.parts(0, perturber.size)
    nfev = 1
    out = []

    def measure(direction: np.ndarray, t: float) -> float:
        nonlocal nfev
        assert f0 is not None
        nfev += NOISE_POINTS
        return sigma_direction(f, perturber, parts, direction, t, f0)

    try:
        if f0 is None:
            f0 = float(f())
        else:
            nfev = 0
        for j, direction in enumerate(directions):
            t0 = direction_step(
                perturber, parts, direction, eta, None if squares is None else squares[j]
            )
            if targets is not None:
                # with no noise given, first under the rounding floor alone (sigma 0): a
                # smaller bound than any measured noise gives, so what it settles is settled
                settled = False
                for floor_only in (True, False) if sigma is None else (False,):
                    if not floor_only and sigma is None:
                        sigma = measure(direction, t0)
                    value, error, _, n, t = probe(
                        f, perturber, parts, direction, f0, eta, eps_f, scale_f,
                        0.0 if floor_only or sigma is None else sigma, levels=1, attempts=1,
                        t0=t0,
                    )
                    nfev += n
                    settled = abs(value - targets[j]) <= error
                    if settled:
                        break
                if settled:
                    noise_used = math.nan if sigma is None else sigma
                    out.append(DirectionalEstimate(value, error, False, nfev, t, noise_used, f0))
                    nfev = 0
                    continue
            if sigma is None:
                sigma = measure(direction, t0)
            value, error, kink, n, t = probe(
                f, perturber, parts, direction, f0, eta, eps_f, scale_f, sigma, levels=3, t0=t0
            )
            out.append(DirectionalEstimate(value, error, kink, nfev + n, t, sigma, f0))
            nfev = 0
    except BaseException:  # (every probe and noise measurement puts back what it moved)
        perturber.restore_all()
        raise
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
    check_callable(f)
    arrs = check_arrays(arrays, "arrays")
    eps_f = check_eps(eps, arrs)
    eta = step_ratio(eps_f, arrs)
    perturber = Perturber(arrs)
    parts = perturber.parts(0, perturber.size)
    direction = np.random.default_rng(seed).standard_normal(perturber.size)
    try:
        f0 = float(f())
        t = direction_step(perturber, parts, direction, eta)
        return sigma_direction(f, perturber, parts, direction, t, f0)
    finally:
        perturber.restore_all()
