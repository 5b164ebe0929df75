"""The tolerance of an array check, derived from the finite-difference error
estimate and the dtype: the user never tunes an ``atol``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from derivcheck.errors import InputError
from derivcheck.fd.arrays import EntryEstimates
from derivcheck.fd.probes import DirectionalEstimate
from derivcheck.fd.stencil import (
    DTYPE_NAMES,
    check_eps,
)
from derivcheck.fd.steps import (
    SAFETY,
    ULPS,
)

__all__ = ["Comparison", "compare"]



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



# --------------------------------------------------------------------------- compare


def _dtype_label(eps: float) -> str:
    name = DTYPE_NAMES.get(float(eps))
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
    >>> from derivcheck.fd import partial_derivatives
    >>> est = partial_derivatives(lambda: float(np.sum(w ** 2)), w)
    >>> c = compare([2.0, -4.0, 6.1], est, eps=np.finfo(float).eps)
    >>> c.mismatch.tolist(), c.ok
    ([False, False, True], False)
    >>> print(c.rule)
    tolerance from error estimate (x5) + 8 ulp of the gradient scale, float64
    """
    eps_v = check_eps(eps, [])
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
        kink = kink | _straddled(a, numeric, est, abs_diff, tol)
        mismatch = ~(abs_diff <= tol) & ~kink
    return Comparison(mismatch, tol, abs_diff, rel_diff, kink.copy(), rule)


def _straddled(
    a: np.ndarray, numeric: np.ndarray, est: Any, abs_diff: np.ndarray, tol: np.ndarray
) -> np.ndarray:
    """Entries whose central difference straddles a switch point, found from the one-sided
    slopes: the backward's value is one of them (within the tolerance) and the estimate lies
    between the two -- left and right slopes differ inside the step, whatever the noise
    figure says (a float32 probe's noise can hide the jump from the kink test)."""
    sm = np.asarray(getattr(est, "slope_minus", np.zeros(0)), dtype=np.float64)
    sp = np.asarray(getattr(est, "slope_plus", np.zeros(0)), dtype=np.float64)
    if sm.size != numeric.size or sp.size != numeric.size:
        return np.zeros(numeric.shape, dtype=bool)
    sm, sp = sm.reshape(numeric.shape), sp.reshape(numeric.shape)
    low, high = np.minimum(sm, sp), np.maximum(sm, sp)
    one_side = (np.abs(a - sm) <= tol) | (np.abs(a - sp) <= tol)
    between = (numeric >= low - tol) & (numeric <= high + tol)
    # or the forward is exactly flat on one side of the entry and not on the other: a clip
    # (or max) switches inside the step, and the value there is the backward's convention
    flat_one_side = (sm == 0) != (sp == 0)
    return (abs_diff > tol) & ((one_side & between & (high - low > 2 * tol)) | flat_one_side)
