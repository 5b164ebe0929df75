"""Partial derivatives of ``f()`` with respect to the entries of an array it reads.

``f`` is a zero-argument callable returning a float (for a layer, the probe
``sum(output * G)`` of a forward that reads the layer's own arrays).  Entries
are perturbed *in place*, ``f`` is called, and the saved bits are put back:
after every call each array is bit-identical to what it was, also when ``f``
raises.

Differences are taken in float64 whatever the array's dtype.  The step is
``h = eps**(1/3) * max(1, |x|)`` with ``eps`` the working precision of ``f``;
the step actually taken is read back from the array, so it is exact in the
array's dtype.  Each estimate comes with an honest error bound (truncation and
rounding) and a one-sided kink test, and :func:`~derivcheck.fd.tolerance.compare`
turns the bound into the tolerance, so the user never tunes an ``atol``.

How an entry is estimated:

1. the noise of ``f`` is measured once (Moré & Wild's ECnoise: 8 evaluations
   along tiny steps), so rounding bounds are measured, not guessed from ``|f|``;
2. a central difference at ``h`` (2 evaluations).  When the backward's value is
   given and agrees within a cheap bound (rounding plus a curvature guess),
   the entry is settled.  With the backward's values, step 1 is taken only when
   the rounding floor ``2 eps |f|`` alone leaves some entry unsettled: the floor
   is below any measured bound, so what it settles stays settled;
3. otherwise steps ``2h`` and ``4h`` too (4 more): Richardson extrapolation,
   an error estimate, and the one-sided kink test (a smooth ``f`` has one-sided
   slopes whose gap grows like the step; a kink's gap does not);
4. a suspected kink is re-tested with steps ``h/4, h/2, h`` (4 more), so a
   smooth but strongly curved ``f`` is not called a kink, while a kink within
   the first step still is.

Directional probes live in :mod:`derivcheck.fd.probes`, the tolerance in
:mod:`derivcheck.fd.tolerance` and group testing in :mod:`derivcheck.fd.localise`.
No SymPy here: numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from derivcheck.errors import InputError
from derivcheck.fd.stencil import (
    check_array,
    check_callable,
    check_eps,
    check_f0,
    check_f_scale,
    check_indices,
    check_noise,
    entry_path,
    flat_view,
    full_estimate,
    restore,
    rounding_noise,
    sigma_along,
    step_ratio,
    three_point,
)
from derivcheck.fd.steps import (
    LEVELS,
    NOISE_POINTS,
)

__all__ = ["EntryEstimates", "partial_derivatives"]



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
    noise : float
        The standard deviation of ``f``'s rounding noise used, measured or given
        (pass it as ``noise=`` to later calls on the same ``f``); NaN when none was
        given and the rounding floor alone settled every entry, so none was measured.
    """

    index: np.ndarray
    value: np.ndarray
    error: np.ndarray
    kink: np.ndarray
    step: np.ndarray
    nfev: int
    slope_minus: np.ndarray = field(default_factory=lambda: np.zeros(0))
    slope_plus: np.ndarray = field(default_factory=lambda: np.zeros(0))
    noise: float = math.nan



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
        evaluations of ``f`` along tiny steps of the entries asked -- with
        ``analytic``, only when some entry does not settle under the rounding
        floor alone (a smaller bound than any measured noise gives).
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
    # Long on purpose: the three stages share the hot loop's local names (views, steps, values);
    # split into functions they would pass a dozen arrays around and add a call per entry.
    check_callable(f)
    check_array(array, "array")
    eps_f = check_eps(eps, [array])
    scale_f = check_f_scale(f_scale)
    sigma_given = check_noise(noise)
    f0_given = check_f0(f0)
    flat = check_indices(indices, array.shape)
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

    eta = step_ratio(eps_f, [array])
    view = flat_view(array)
    # only the entries asked are ever moved: their values are the backup (a handful of
    # sampled entries of a 16M-entry weight matrix need no copy of all of it)
    everything = k == array.size
    backup = array.copy() if everything else np.array(view[flat], copy=True)

    def put_back_entries() -> None:
        if everything:
            restore(array, backup)
        else:
            view[flat] = backup

    item = array.item
    positions = flat.tolist()
    nfev = 0

    def measure_noise() -> float:
        nonlocal nfev
        assert f0 is not None
        sigma_now = sigma_along(f, entry_path(array, flat, eta), f0)
        nfev += NOISE_POINTS
        put_back_entries()
        return sigma_now
    try:
        if f0_given is None:
            f0 = float(f())
            nfev += 1
        else:
            f0 = f0_given
        # With ``analytic``, the noise is measured only when some entry does not settle
        # under the rounding floor alone (sigma 0): the floor is the smaller bound, so an
        # entry it settles would settle under any measured noise too.
        lazy = sigma_given is None and target is not None
        sigma = measure_noise() if sigma_given is None and not lazy else sigma_given or 0.0
        measured = not lazy
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
        value = three_point(f0, fp1, fm1, hp1, hm1)
        with np.errstate(all="ignore"):
            s_plus = (fp1 - f0) / hp1
            s_minus = (f0 - fm1) / hm1

        def cheap_error(sigma: float) -> np.ndarray:
            # rounding of the difference (2 noise/h, x2) plus truncation h^2 f'''/6,
            # with f''' ~ f''/scale guessed from the one-sided slopes' gap h f''
            noise_bound = rounding_noise(eps_f, scale_f, sigma, fp1, fm1, np.full(k, f0))
            with np.errstate(all="ignore"):
                return 2.0 * noise_bound / (0.5 * (hp1 + hm1)) + np.abs(s_plus - s_minus) * eta

        error = cheap_error(sigma)
        kink = np.zeros(k, dtype=bool)
        if target is None:
            doubtful = np.arange(k)
        else:
            with np.errstate(invalid="ignore"):
                doubtful = np.flatnonzero(~(np.abs(value - target) <= error))
            if lazy and doubtful.size:
                sigma, measured = measure_noise(), True
                error = cheap_error(sigma)
                with np.errstate(invalid="ignore"):
                    doubtful = np.flatnonzero(~(np.abs(value - target) <= error))

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
                 hm: np.ndarray, confirm: bool = False) -> np.ndarray:
            """Richardson + kink test on the levels given; stores the results, returns kinks."""
            at_point = np.full(entries.size, f0)
            noise_d = rounding_noise(eps_f, scale_f, sigma, fp, fm, at_point).max(axis=0)
            v, err, kk, sm, sp = full_estimate(f0, fp, fm, hp, hm, noise_d, confirm=confirm)
            value[entries], error[entries], kink[entries] = v, err, kk
            s_minus[entries], s_plus[entries] = sm, sp
            return np.asarray(kk, dtype=bool)

        if doubtful.size:
            # stage 2: steps 2h and 4h on both sides of each doubtful entry
            fp, fm, hp, hm = stencil(doubtful, LEVELS[1:])
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
                    confirm=True,
                )
    finally:
        put_back_entries()
    return EntryEstimates(
        index, value, error, kink, hp1, nfev, s_minus, s_plus, sigma if measured else math.nan
    )
