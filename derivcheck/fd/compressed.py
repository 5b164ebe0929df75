"""Partial derivatives of many entries from one pair of evaluations: Jacobian compression.

When ``f`` is a sum of *blocks* -- ``f() == blocks().sum()``, a layer's probe
``sum(output * G)`` split by output row or column -- and each entry of an
array moves only the blocks of its own, entries whose blocks are disjoint can
be perturbed together: one evaluation at ``+h`` and one at ``-h`` give every
one of them its central difference, each read off its own blocks.  This is the
Curtis-Powell-Reid grouping that ``scipy.optimize``'s ``approx_derivative``
uses for sparse Jacobians, here for the structure a layer has (samples are
independent; a weight column reaches one output column).

The arithmetic per entry is that of :func:`derivcheck.fd.partial_derivatives`:
the same steps (``h = eps**(1/3) max(1, |x|)``, read back exact in the array's
dtype), the same rounding bound -- measured on the whole ``f`` and scaled by
``|f|``, so an entry gets the tolerance it would get uncompressed -- the same
cheap bound that settles an entry after two evaluations, and for the others
the steps ``2h, 4h`` (Richardson, the kink test) and ``h/4, h/2`` for kink
suspects, each stage compressed the same way.  Which entries may share a
group is the caller's to establish (:mod:`derivcheck.layers.compress` finds
and verifies it); this module only computes.  numpy only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from derivcheck.fd.arrays import EntryEstimates
from derivcheck.fd.stencil import flat_view, full_estimate, rounding_noise, step_ratio, three_point
from derivcheck.fd.steps import LEVELS

__all__ = ["colour_groups", "grouped_partials"]


def colour_groups(owner: np.ndarray) -> list[np.ndarray]:
    """Groups of flat entries no two of which share an owner block.

    ``owner[e]`` is the block entry ``e`` reaches; the ``c``-th group holds the
    ``c``-th entry of every block, so there are as many groups as the largest
    block has entries (the minimum for this structure).
    """
    order = np.argsort(owner, kind="stable")
    sorted_owner = owner[order]
    starts = np.flatnonzero(np.r_[True, sorted_owner[1:] != sorted_owner[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, owner.size]))
    rank = np.arange(owner.size) - first
    colour = np.empty(owner.size, dtype=np.intp)
    colour[order] = rank
    n = int(colour.max()) + 1 if owner.size else 0
    by_colour = np.argsort(colour, kind="stable")
    bounds = np.searchsorted(colour[by_colour], np.arange(n + 1))
    return [by_colour[bounds[c] : bounds[c + 1]] for c in range(n)]


def grouped_partials(
    blocks: Callable[[], np.ndarray],
    array: np.ndarray,
    owner: np.ndarray,
    block_of: Callable[[np.ndarray], np.ndarray],
    *,
    analytic: np.ndarray,
    eps: float,
    sigma: float,
    f_scale: float,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[EntryEstimates, np.ndarray, np.ndarray]:
    """Central differences (and Richardson where needed) of every entry of ``array``.

    Parameters
    ----------
    blocks : callable
        ``blocks()`` returns the block values (float64, 1-d) whose sum is ``f``,
        computed from ``array`` as it is at call time.
    array : ndarray
        The very array ``blocks`` reads; perturbed in place, restored bit for bit.
    owner : ndarray of int, shape (array.size,)
        The block id each flat entry reaches (entries with the same owner are
        never perturbed together).
    block_of : callable
        ``block_of(values)`` sums the full block vector into per-owner sums,
        indexable by owner id.
    analytic : ndarray, shape (array.size,)
        The backward's values, row-major: an entry that agrees within the cheap
        bound after two evaluations is settled.
    eps, sigma, f_scale : float
        Working precision, the measured noise of the whole ``f`` and ``|f|`` at
        the point: the rounding bound of each entry is the one it would have
        uncompressed.
    progress : callable, optional
        ``progress(done, total)`` after each group of the first stage.

    Returns
    -------
    (EntryEstimates, ndarray, ndarray)
        The estimates, and the first stage's values and error bounds for every entry:
        those came from one grouping, so their sum along a direction is what a
        directional probe must see when the grouping is right (the later stages
        perturb fewer entries together, and would hide a cross-talk of the first).
    """
    k = array.size
    eta = step_ratio(eps, [array])
    view = flat_view(array)
    backup = array.copy()
    owner_blocks0 = block_of(blocks())
    f0 = owner_blocks0[owner].astype(np.float64)
    groups = colour_groups(owner)
    x0 = np.asarray(view[np.arange(k)], dtype=np.float64) if k else np.zeros(0)
    h = eta * np.maximum(1.0, np.abs(x0))
    nfev = 1

    def stage(
        groups_: list[np.ndarray], multipliers: tuple[float, ...], report: bool = False
    ) -> tuple[np.ndarray, ...]:
        """f and the actual steps at +-multiplier*h: arrays (levels, k), NaN elsewhere."""
        nonlocal nfev
        shape = (len(multipliers), k)
        fp, fm, hp, hm = (np.full(shape, np.nan) for _ in range(4))
        for g, members in enumerate(groups_):
            xs = backup.reshape(-1)[members]  # (the backup is a C-contiguous copy)
            xs64 = x0[members]
            own = owner[members]
            for level, multiplier in enumerate(multipliers):
                step = h[members] * multiplier
                view[members] = (xs64 + step).astype(array.dtype)
                hp[level, members] = np.asarray(view[members], dtype=np.float64) - xs64
                fp[level, members] = block_of(blocks())[own]
                view[members] = (xs64 - step).astype(array.dtype)
                hm[level, members] = xs64 - np.asarray(view[members], dtype=np.float64)
                fm[level, members] = block_of(blocks())[own]
                view[members] = xs
            nfev += 2 * len(multipliers)
            if report and progress is not None:
                progress(g + 1, len(groups_))
        return fp, fm, hp, hm

    def groups_of(entries: np.ndarray) -> list[np.ndarray]:
        keep = np.zeros(k, dtype=bool)
        keep[entries] = True
        return [m for m in (g[keep[g]] for g in groups) if m.size]

    try:
        fp1, fm1, hp1, hm1 = (a[0] for a in stage(groups, (1.0,), report=True))
        noise = rounding_noise(eps, f_scale, sigma, np.zeros(k))
        value = three_point(f0, fp1, fm1, hp1, hm1)
        with np.errstate(all="ignore"):
            s_plus = (fp1 - f0) / hp1
            s_minus = (f0 - fm1) / hm1
            error = 2.0 * noise / (0.5 * (hp1 + hm1)) + np.abs(s_plus - s_minus) * eta
            settled = np.abs(value - analytic) <= error
        kink = np.zeros(k, dtype=bool)
        doubtful = np.flatnonzero(~settled)
        first_value, first_error = value.copy(), error.copy()

        def full(entries: np.ndarray, fp: np.ndarray, fm: np.ndarray, hp: np.ndarray,
                 hm: np.ndarray, confirm: bool = False) -> np.ndarray:
            v, err, kk, sm, sp = full_estimate(
                f0[entries], fp, fm, hp, hm, noise[entries], confirm=confirm
            )
            value[entries], error[entries], kink[entries] = v, err, kk
            s_minus[entries], s_plus[entries] = sm, sp
            return np.asarray(kk, dtype=bool)

        if doubtful.size:
            fp, fm, hp, hm = stage(groups_of(doubtful), LEVELS[1:])
            d = doubtful
            kinked = full(
                d,
                np.vstack([fp1[d], fp[:, d]]), np.vstack([fm1[d], fm[:, d]]),
                np.vstack([hp1[d], hp[:, d]]), np.vstack([hm1[d], hm[:, d]]),
            )
            suspects = d[kinked]
            if suspects.size:
                fp, fm, hp, hm = stage(groups_of(suspects), (0.25, 0.5))
                s = suspects
                full(
                    s,
                    np.vstack([fp[:, s], fp1[s]]), np.vstack([fm[:, s], fm1[s]]),
                    np.vstack([hp[:, s], hp1[s]]), np.vstack([hm[:, s], hm1[s]]),
                    confirm=True,
                )
    finally:
        np.copyto(array, backup)
    index = (
        np.stack(np.unravel_index(np.arange(k), array.shape), axis=1)
        if array.ndim
        else np.zeros((k, 0), dtype=np.intp)
    )
    est = EntryEstimates(index, value, error, kink, hp1, nfev, s_minus, s_plus)
    return est, first_value, first_error
