"""``check_jacobian``: a hand-written Jacobian of a plain function against central
differences.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from derivcheck import _validate, fd
from derivcheck.errors import InputError
from derivcheck.layers import report as msg
from derivcheck.layers.adapters import as_float_array
from derivcheck.layers.base import MAX_FAILURES_PER_TENSOR
from derivcheck.layers.diagnose import diagnose
from derivcheck.layers.report import Failure, LayerReport, TensorCheck
from derivcheck.layers.state import count_changed


def check_jacobian(
    fun: Callable[[np.ndarray], Any],
    jac: Callable[[np.ndarray], Any],
    x: Any,
    *,
    seed: int = 0,
) -> LayerReport:
    """Check a hand-written Jacobian ``jac(x)`` of ``fun`` at ``x``, entry by entry.

    Every entry ``∂fun(x)[i]/∂x[j]`` is estimated by central differences.  Each
    perturbation of ``x`` is evaluated once for the whole output vector (a
    cache keyed by the perturbed ``x`` serves every output component), so
    ``fun`` is called about twice per entry of ``x``, plus refinements for
    doubtful entries, whatever the number of outputs.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> array`` (or a float).
    jac : callable
        ``jac(x)`` of shape ``fun(x).shape + x.shape``, or 2-D ``(fun(x).size, x.size)``.
    x : array_like
        The point.
    seed : int, default 0
        Recorded in the report (the check itself draws nothing at random).

    Returns
    -------
    LayerReport
        With one tensor, ``"jacobian"``.

    Examples
    --------
    >>> import numpy as np
    >>> rep = check_jacobian(np.sin, lambda x: np.diag(np.cos(x)), np.array([0.5, 1.0, 2.0]))
    >>> rep.ok, rep.checked
    (True, {'jacobian': 9})
    >>> rep = check_jacobian(np.sin, lambda x: np.diag(-np.cos(x)), np.array([0.5, 1.0]))
    >>> print(rep.tensors["jacobian"].diagnosis)
    Diagnosis: BACKWARD is exactly -NUMERIC everywhere: the sign is flipped.
    """
    if not callable(fun):
        raise InputError("`fun` must be callable.")
    if not callable(jac):
        raise InputError("`jac` must be callable.")
    _validate.seed(seed)
    point = as_float_array("x", x)
    x0 = point.copy()
    name = getattr(fun, "__name__", type(fun).__name__)
    failures: list[Failure] = []

    def report(
        tensors: dict[str, TensorCheck], nfev: int = 0, dtype: str = "float64"
    ) -> LayerReport:
        return LayerReport(
            subject=f"jacobian of {name}",
            failures=failures,
            tensors=tensors,
            seed=int(seed),
            dtype=dtype,
            nfev=nfev,
            kind="jacobian",
        )

    def fail(kind: str, text: str) -> LayerReport:
        failures.append(Failure("jacobian", (), None, None, None, None, kind, text))
        return report({})

    with np.errstate(all="ignore"):
        try:
            out0 = np.asarray(fun(point))
        except Exception as exc:
            return fail("exception", msg.msg_exception("fun", exc))
        if count_changed(point, x0):
            return fail(
                "mutation",
                msg.msg_mutation("fun", "its argument x", count_changed(point, x0), point.size),
            )
        if out0.dtype.kind not in "fiub" or not np.all(np.isfinite(out0)):
            bad = int(np.count_nonzero(~np.isfinite(out0))) if out0.dtype.kind == "f" else out0.size
            return fail("nonfinite", msg.msg_output_nonfinite("fun(x)", bad, out0.size))
        try:
            raw = np.asarray(jac(point.copy()))
        except Exception as exc:
            return fail("exception", msg.msg_exception("jac", exc))
        eps = float(np.finfo(point.dtype).eps)
        if out0.dtype.kind == "f":
            eps = max(eps, float(np.finfo(out0.dtype).eps))
        dtype = "float32" if eps > 1e-10 else "float64"
        full_shape = out0.shape + point.shape
        flat_shape = (out0.size, point.size)
        if raw.shape == full_shape:
            J = raw.reshape(flat_shape)
            shape = full_shape
        elif raw.shape == flat_shape:
            J = raw
            shape = flat_shape
        else:
            return fail("shape", msg_jac_shape(raw.shape, out0.shape, point.shape))
        if raw.dtype.kind not in "fiub":
            return fail("contract", msg_jac_not_numeric(raw.dtype))
        J = J.astype(np.float64)
        bad = ~np.isfinite(J)
        if bad.any():
            n_nan = int(np.count_nonzero(np.isnan(J)))
            return fail(
                "nonfinite", msg.msg_nonfinite("jacobian", n_nan, int(bad.sum()) - n_nan, J.size)
            )
        return _jacobian_entries(fun, point, J, shape, eps, report, failures, dtype)


def _component(outputs: Callable[[], np.ndarray], i: int) -> Callable[[], float]:
    return lambda: float(outputs()[i])


def _jacobian_entries(
    fun: Callable[[np.ndarray], Any],
    point: np.ndarray,
    J: np.ndarray,
    shape: tuple[int, ...],
    eps: float,
    report: Callable[..., LayerReport],
    failures: list[Failure],
    dtype: str,
) -> LayerReport:

    # Long on purpose: one loop over the Jacobian's columns, whose failures share the tolerance
    # and counting state.
    cache: dict[bytes, np.ndarray] = {}
    calls = 0

    def outputs() -> np.ndarray:
        nonlocal calls
        key = point.tobytes()
        out = cache.get(key)
        if out is None:
            calls += 1
            out = np.asarray(fun(point), dtype=np.float64).reshape(-1)
            cache[key] = out
        return out

    n_out = J.shape[0]
    numeric = np.full(J.shape, np.nan)
    error = np.full(J.shape, np.nan)
    mismatch = np.zeros(J.shape, dtype=bool)
    kink = np.zeros(J.shape, dtype=bool)
    tol = np.full(J.shape, np.nan)
    rule = msg.rule_text(None, None)
    flat_point = point.reshape(-1)
    for i in range(n_out):
        est = fd.partial_derivatives(
            _component(outputs, i),
            point,
            None,
            analytic=J[i].reshape(point.shape),
            eps=eps,
        )
        cmp = fd.compare(J[i].reshape(-1), est, eps=eps)
        cols = (
            np.ravel_multi_index(tuple(np.asarray(est.index).T), point.shape)
            if point.ndim
            else np.zeros(1, int)
        )
        numeric[i, cols] = est.value
        error[i, cols] = est.error
        kink[i, cols] = cmp.kink
        mismatch[i, cols] = np.asarray(cmp.mismatch, dtype=bool) & ~np.asarray(cmp.kink, dtype=bool)
        tol[i, cols] = cmp.tol
    del flat_point
    check = TensorCheck(
        name="jacobian",
        wrt="x",
        shape=shape,
        analytic=J.reshape(shape),
        numeric=numeric.reshape(shape),
        error=error.reshape(shape),
        checked=np.ones(shape, dtype=bool),
        mismatch=mismatch.reshape(shape),
        kink=kink.reshape(shape),
        tol=tol.reshape(shape),
        rule=rule,
        dtype=dtype,
        label="JAC",
    )
    if check.n_mismatched:
        check.diagnosis = diagnose(check, 1, None)
        for index in check.worst(MAX_FAILURES_PER_TENSOR):
            failures.append(
                Failure(
                    "jacobian",
                    index,
                    float(check.analytic[index]),  # type: ignore[index]
                    float(check.numeric[index]),
                    None,
                    float(check.error[index]),
                    "mismatch",
                )
            )
    return report({"jacobian": check}, nfev=calls, dtype=dtype)


def msg_jac_shape(
    got: tuple[int, ...], out_shape: tuple[int, ...], x_shape: tuple[int, ...]
) -> str:
    want = out_shape + x_shape
    flat = (math.prod(out_shape), math.prod(x_shape))
    return (
        f"jacobian: wrong shape: jac(x) gave shape {got}, "
        f"but fun(x).shape + x.shape is {want} (or 2-D {flat})"
    )


def msg_jac_not_numeric(dtype: Any) -> str:
    return f"jacobian: not numeric: jac(x) gave an array of dtype {dtype}"
