"""Group testing: from a failing directional probe down to the wrong entries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from derivcheck.errors import InputError
from derivcheck.fd.arrays import partial_derivatives
from derivcheck.fd.probes import (
    Perturber,
    check_arrays,
    direction_step,
    flatten_like,
    probe,
    sigma_direction,
)
from derivcheck.fd.stencil import (
    check_callable,
    check_eps,
    check_f_scale,
    check_noise,
    dot_and_abs_dot,
    step_ratio,
)
from derivcheck.fd.steps import (
    NOISE_SEED,
    ULPS,
)
from derivcheck.fd.tolerance import compare

__all__ = ["localise"]



# --------------------------------------------------------------------------- localise


def localise(
    f: Callable[[], float],
    arrays: Sequence[np.ndarray],
    analytics: Sequence[Any],
    *,
    eps: float | None = None,
    seed: int = 0,
    max_entries: int = 10,
    f_scale: float | None = None,
    noise: float | None = None,
    leaf_size: int = 8,
    max_evals: int | None = None,
    backups: Sequence[np.ndarray] | None = None,
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
    eps : float, optional
        Working precision of ``f``; default the largest eps of the arrays' dtypes,
        as in :func:`~derivcheck.fd.partial_derivatives`.
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
    backups : sequence of ndarray, optional
        Copies of the arrays' current values that the caller already holds
        (read, never written), instead of new ones: a large weight matrix is
        not copied again.

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
    # Long on purpose: one group-testing loop over a work list; the evaluation budget and the
    # clean/kinked queues are shared by every branch.
    check_callable(f)
    arrs = check_arrays(arrays, "arrays")
    grad = flatten_like(analytics, arrs, "analytics")
    grads = np.split(grad, np.cumsum([a.size for a in arrs])[:-1])  # per-array views
    eps_f = check_eps(eps, arrs)
    scale_f = check_f_scale(f_scale)
    sigma_given = check_noise(noise)
    if isinstance(max_entries, bool) or not isinstance(max_entries, (int, np.integer)) or (
        max_entries < 1
    ):
        raise InputError("`max_entries` must be a positive int.")
    if isinstance(leaf_size, bool) or not isinstance(leaf_size, (int, np.integer)) or leaf_size < 1:
        raise InputError("`leaf_size` must be a positive int.")
    eta = step_ratio(eps_f, arrs)
    rng = np.random.default_rng(seed)
    if backups is not None and (
        len(backups) != len(arrs)
        or any(np.shape(b) != a.shape or np.asarray(b).dtype != a.dtype
               for a, b in zip(arrs, backups, strict=False))
    ):
        raise InputError("`backups` must hold one copy per array, same shapes and dtypes.")
    perturber = Perturber(arrs, None if backups is None else [np.asarray(b) for b in backups])
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
        value, error, kinky, n_used, _ = probe(
            f, perturber, parts, d, f0, eta, eps_f, scale_f, sigma, levels=1
        )
        nfev += n_used
        expected = float(np.dot(grad[lo:hi], d))
        with np.errstate(invalid="ignore"):
            tol = error + ULPS * eps_f * dot_and_abs_dot(grad[lo:hi], d)[1]
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
            d_all = np.random.default_rng(NOISE_SEED).standard_normal(n)
            t_all = direction_step(perturber, everything, d_all, eta)
            sigma = sigma_direction(f, perturber, everything, d_all, t_all, f0)
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
