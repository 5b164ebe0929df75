"""Diagnoses: the likely cause of a mismatch, read off the backward's gradient and
the reference (a factor, a sign, a transpose, the batch size, one row, a kink).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from derivcheck.layers.entries import values_at
from derivcheck.layers.report import TensorCheck, format_index


def close(a: np.ndarray, b: np.ndarray, tol: np.ndarray) -> bool:
    return bool(np.all(np.abs(a - b) <= tol))


def diagnose_shape(name: str, raw: np.ndarray, numeric: np.ndarray, est: Any) -> str | None:
    """A gradient of the wrong shape: do its values match the numeric gradient transposed or
    reshaped?"""
    if np.any(np.isnan(numeric)):
        return None
    raw = np.asarray(raw, dtype=np.float64)
    tol = 8 * np.nan_to_num(np.abs(numeric - numeric), nan=0.0) + 1e-6 * (
        np.abs(numeric) + float(np.max(np.abs(numeric)))
    )
    if raw.ndim == 2 and raw.T.shape == numeric.shape and close(raw.T, numeric, tol):
        return diag_transpose(name)
    if raw.size == numeric.size and close(raw.reshape(numeric.shape), numeric, tol):
        return diag_reshaped(name, numeric.shape)
    return None


def diagnose(
    check: TensorCheck,
    batch: int,
    inputs: np.ndarray | None,
    *,
    outputs: int = 0,
    indices: Sequence[np.ndarray] = (),
    values: np.ndarray | None = None,
    batch_axis: bool = False,
) -> str | None:
    """One line naming the likely cause of the mismatches, when one fits.

    ``indices`` are integer arrays forward indexes with (ids, labels); ``values`` is the
    array differentiated (a parameter); ``batch_axis`` says the first axis is the samples.
    Each diagnosis is a statement about the computed arrays that was verified entry by
    entry, then a likely cause.
    """
    assert check.analytic is not None
    if not np.any(check.checked):
        return None
    # "only these entries are wrong" needs every entry compared; on a sample (directional
    # mode) only statements about the compared entries are made, and said to be so
    complete = bool(np.all(check.checked)) or check.localised
    steps = [
        lambda: diagnose_repeated_index(check, indices) if complete else None,
        lambda: _diagnose(check, batch, inputs, outputs=outputs, complete=complete),
        lambda: diagnose_label_entries(check, indices) if complete else None,
        lambda: diagnose_proportional(check, values),
        lambda: diagnose_same_for_every_sample(check) if batch_axis else None,
        lambda: diagnose_where_numeric_zero(check) if complete else None,
        lambda: diagnose_small_relative(check) if complete else None,
    ]
    for step in steps:
        found = step()
        if found is not None:
            if not np.all(check.checked):  # "everywhere" only of every entry compared
                found = found.replace(" everywhere", f" at all {check.n_checked} entries compared")
            return found
    return None


def _at(check: TensorCheck, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BACKWARD, NUMERIC and the tolerance (tol + 4 error) at the entries of ``mask``, in
    row-major order, read without making a directional check's sparse arrays dense (three
    copies of a 16M-entry weight matrix for the handful of entries it compared)."""
    assert check.analytic is not None
    flat = np.flatnonzero(mask)
    a = np.asarray(check.analytic, dtype=np.float64).reshape(-1)[flat]
    n = values_at(check, "numeric", flat)
    tol = np.nan_to_num(values_at(check, "tol", flat), nan=0.0) + 4 * np.nan_to_num(
        values_at(check, "error", flat), nan=0.0
    )
    return a, n, tol


def _difference(check: TensorCheck) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BACKWARD - NUMERIC, its tolerance, and the usable entries (checked, not at a kink)."""
    assert check.analytic is not None
    use = check.checked & ~check.kink
    diff = np.asarray(check.analytic, dtype=np.float64) - np.nan_to_num(check.numeric)
    tol = np.nan_to_num(check.tol, nan=0.0) + 4 * np.nan_to_num(check.error, nan=0.0)
    return diff, tol, use


def diagnose_proportional(check: TensorCheck, values: np.ndarray | None) -> str | None:
    """BACKWARD - NUMERIC = c * the parameter itself: an L2 term missing, doubled, scaled."""
    if values is None or np.shape(values) != check.shape or not np.all(check.checked):
        return None
    diff, tol, use = _difference(check)
    w = np.asarray(values, dtype=np.float64)
    big = use & (np.abs(w) > 1e-12 * max(1.0, float(np.max(np.abs(w)))))
    if np.count_nonzero(big) < 2:
        return None
    n = np.nan_to_num(check.numeric)
    if not np.any((np.abs(n) > tol)[use]):
        return None  # the numeric gradient is 0: nothing is "missing a term" of it
    c = float(np.median(diff[big] / w[big]))
    if c == 0 or not np.all(np.abs(diff - c * w)[use] <= 2 * tol[use] + 1e-6 * np.abs(c * w)[use]):
        return None
    return (
        f"Diagnosis: BACKWARD - NUMERIC is {c:.4g} × {check.wrt} everywhere: a term proportional "
        f"to {check.wrt} is missing, extra or scaled wrongly -- an L2 regularisation gradient "
        "(2λ·w for λ·Σw²) left out, doubled or halved."
    )


def diagnose_same_for_every_sample(check: TensorCheck) -> str | None:
    """BACKWARD - NUMERIC does not depend on the sample: a batch-wide term is off."""
    if check.analytic is None or check.analytic.ndim < 2 or check.shape[0] < 2:
        return None
    if not np.all(check.checked & ~check.kink):  # (before any dense array is read)
        return None
    diff, tol, _ = _difference(check)
    typical = np.median(diff, axis=0, keepdims=True)
    if not np.all(np.abs(diff - typical) <= 2 * tol) or np.all(np.abs(typical) <= tol):
        return None
    return (
        f"Diagnosis: BACKWARD - NUMERIC is the same for every sample ({check.name}[i, ...] - "
        f"numeric[i, ...] does not depend on i): a term shared by the whole batch is missing "
        "or extra, such as the gradient through a mean over the batch."
    )


def diagnose_where_numeric_zero(check: TensorCheck) -> str | None:
    """Wrong only where the output does not depend on the entry at all."""
    use = check.checked & ~check.kink
    bad = check.mismatch
    if not np.any(bad):
        return None
    _, n, tol = _at(check, use)  # every bad entry is a used one
    zero = np.abs(np.nan_to_num(n)) <= tol
    if not np.all(zero[bad[use]]) or np.count_nonzero(zero) == zero.size:
        return None
    return (
        f"Diagnosis: {check.name} is wrong only where the numeric gradient is 0 "
        f"({int(np.count_nonzero(bad))} entries the output does not depend on): the backward "
        "passes gradient to entries that do not reach the output (a mask, an argmax or a "
        "window not applied)."
    )


def diagnose_label_entries(check: TensorCheck, indices: Sequence[np.ndarray]) -> str | None:
    """Wrong only at (i, y[i]): the term of each sample's true class."""
    if check.analytic is None or check.analytic.ndim != 2:
        return None
    bad = {tuple(int(v) for v in i) for i in np.argwhere(check.mismatch)}
    rows, cols = check.shape
    for labels in indices:
        y = np.asarray(labels)
        if y.ndim != 1 or len(y) != rows or y.min() < 0 or y.max() >= cols:
            continue
        true_class = {(i, int(y[i])) for i in range(rows)}
        if bad and bad <= true_class and 2 * len(bad) >= len(true_class):
            return (
                f"Diagnosis: only the entries of each sample's true class ({check.name}[i, y[i]]) "
                "are wrong: the correct class's own term is missing or wrong (it appears in "
                "every other class's term too)."
            )
    return None


def diagnose_repeated_index(check: TensorCheck, indices: Sequence[np.ndarray]) -> str | None:
    """Wrong rows are exactly (a majority of) the rows whose index repeats in an index
    array forward uses: a buffered fancy-index ``+=`` that counts a repeated index once."""
    if check.analytic is None or check.analytic.ndim < 1 or not np.any(check.mismatch):
        return None
    bad_rows = set(np.unique(np.argwhere(check.mismatch)[:, 0]).tolist())
    rows = check.shape[0]
    for ids in indices:
        flat = np.asarray(ids).ravel()
        if flat.size == 0 or flat.min() < 0 or flat.max() >= rows:
            continue
        values, counts = np.unique(flat, return_counts=True)
        repeated = set(values[counts > 1].tolist())
        if repeated and bad_rows <= repeated and 2 * len(bad_rows) >= len(repeated):
            shown = ", ".join(str(r) for r in sorted(bad_rows)[:6])
            return (
                f"Diagnosis: only rows of {check.name} whose index occurs more than once "
                f"in the index array are wrong ({shown}): a fancy-index `+=` "
                f"({check.name}[idx] += ...) adds a repeated index once; use np.add.at."
            )
    return None


def diagnose_small_relative(check: TensorCheck) -> str | None:
    """Every mismatch is a small relative difference: the right formula, slightly shifted."""
    assert check.analytic is not None
    bad = check.mismatch
    if not np.any(bad):
        return None
    a, n, _ = _at(check, bad)
    scale = np.maximum(np.abs(n), 1e-300)
    rel = np.abs(a - n) / scale
    worst = float(np.max(rel))
    if not np.all(np.abs(n) > 0) or worst >= 1e-3:
        return None
    return (
        f"Diagnosis: every mismatch is a small relative difference (at most {worst:.2g}), so "
        "a small term is wrong, not the main one: an epsilon or a clip in the forward "
        "(log(x + 1e-7)) that the backward leaves out, or a small term such as a "
        "regulariser's gradient."
    )


def _diagnose(
    check: TensorCheck,
    batch: int,
    inputs: np.ndarray | None,
    *,
    outputs: int = 0,
    complete: bool = True,
) -> str | None:
    assert check.analytic is not None
    use = check.checked & ~check.kink
    a, n, tol = _at(check, use)
    if a.size == 0:
        return None
    # a constant ratio everywhere: the sign, the batch size, a factor of 2
    big = np.abs(n) > np.maximum(10 * tol, 1e-300)
    # a factor shared by the entries needs two of them, unless one is all there is (a
    # sample of one entry fits any ratio: "x 1.37 at the 1 entry compared" says nothing)
    if np.count_nonzero(big) >= (1 if a.size == check.analytic.size else 2):
        factor = float(np.median(a[big] / n[big]))
        if factor != 0 and close(
            a, factor * n, 2 * tol * max(1.0, abs(factor)) + 1e-7 * np.abs(factor * n)
        ):
            return factor_diagnosis(factor, batch, outputs)
        if np.all(np.abs(a) <= tol) and not np.all(np.abs(n) <= tol):
            return diag_zero(check.name)
    full = a.size == check.analytic.size
    analytic = np.asarray(check.analytic, dtype=np.float64)
    if (
        full
        and analytic.ndim == 2
        and analytic.shape[0] == analytic.shape[1]
        and close(analytic.T, check.numeric, 2 * np.nan_to_num(check.tol, nan=0.0) + 1e-12)
    ):
        return diag_transpose(check.name)
    if (
        full
        and analytic.ndim == 2
        and 1 not in analytic.shape  # a row or a column: reshaped and transposed is itself
        and close(
            analytic.reshape(analytic.shape[::-1]).T,
            check.numeric,
            2 * np.nan_to_num(check.tol, nan=0.0) + 1e-12,
        )
    ):
        return diag_transpose_reshaped(check.name, analytic.shape)
    bad = np.argwhere(check.mismatch)
    if not complete:
        return None  # one entry, one row, near a kink: claims about the entries not compared
    if len(bad) == 1 and check.n_checked > 1:
        return diag_one_entry(check.name, tuple(int(i) for i in bad[0]))
    if check.analytic.ndim >= 2 and check.shape[0] > 1 and len(np.unique(bad[:, 0])) == 1:
        row = int(bad[0, 0])
        axis = "sample" if check.wrt == "inputs" else "row"
        return diag_one_row(check.name, row, axis)
    if inputs is not None and inputs.shape == check.shape and 2 * len(bad) < check.n_checked:
        limit = float(np.max(np.abs(inputs[check.mismatch])))
        if limit <= 1e-2 * float(np.max(np.abs(inputs))):
            return diag_near_kink(len(bad), limit)
    return None


def factor_diagnosis(factor: float, batch: int, outputs: int = 0) -> str | None:
    def near(value: float, target: float) -> bool:
        return abs(value - target) <= 1e-4 * abs(target)

    if near(factor, 1.0):
        return None
    if near(factor, -1.0):
        return diag_sign()
    if batch > 1 and near(factor, batch):
        return diag_batch_times(batch)
    if batch > 1 and near(factor, 1 / batch):
        return diag_batch_divided(batch)
    if outputs > 1 and near(factor, outputs):
        return diag_outputs_times(outputs)
    for k in (2, 3, 4, 0.5, 1 / 3, 0.25):
        if near(factor, k):
            return diag_factor(float(k))
    return diag_factor(factor)


# --- the diagnosis sentences ---------------------------------------------------------------


def diag_transpose_reshaped(tensor: str, shape: tuple[int, ...]) -> str:
    return (
        f"Diagnosis: {tensor} is the transpose of the numeric gradient reshaped to {shape}: "
        "a transposed product, reshaped to fit."
    )


def diag_batch_times(batch: int) -> str:
    return (
        f"Diagnosis: BACKWARD is exactly NUMERIC × {batch} (the batch size) everywhere: "
        "a sum where a mean is meant, or a missing division by the number of samples."
    )


def diag_batch_divided(batch: int) -> str:
    return (
        f"Diagnosis: BACKWARD is exactly NUMERIC / {batch} (the batch size) everywhere: "
        "a mean where a sum is meant, or an extra division by the number of samples."
    )


def diag_outputs_times(outputs: int) -> str:
    return (
        f"Diagnosis: BACKWARD is exactly NUMERIC × {outputs} (the number of outputs) everywhere: "
        "a missing division by the number of outputs per sample."
    )


def diag_one_entry(tensor: str, index: Sequence[int]) -> str:
    return f"Diagnosis: only {format_index(tensor, index)} is wrong; every other entry matches."


def diag_sign() -> str:
    return "Diagnosis: BACKWARD is exactly -NUMERIC everywhere: the sign is flipped."


def diag_factor(factor: float) -> str:
    if abs(factor - round(factor)) < 1e-9 and factor > 1:
        return (
            f"Diagnosis: BACKWARD is exactly NUMERIC × {round(factor)} everywhere: "
            f"an extra factor of {round(factor)}."
        )
    inv = 1 / factor
    if abs(inv - round(inv)) < 1e-9 and inv > 1:
        return (
            f"Diagnosis: BACKWARD is exactly NUMERIC / {round(inv)} everywhere: "
            f"a factor of {round(inv)} is missing."
        )
    return f"Diagnosis: BACKWARD is NUMERIC × {factor:.6g} everywhere: a constant factor is wrong."


def diag_transpose(tensor: str) -> str:
    return (
        f"Diagnosis: the transpose of {tensor} matches the numeric gradient: a transposed product."
    )


def diag_reshaped(tensor: str, shape: tuple[int, ...]) -> str:
    return (
        f"Diagnosis: {tensor} reshaped to {shape} matches the numeric gradient: "
        "the values are right, only the shape is wrong."
    )


def diag_near_kink(n: int, limit: float) -> str:
    return (
        f"Diagnosis: only entries whose input is near 0 differ ({n}, all with |x| <= {limit:.2g}): "
        "the backward's condition at the kink is off (a threshold, or < for <=)."
    )


def diag_one_row(tensor: str, row: int, axis_name: str) -> str:
    return (
        f"Diagnosis: only {axis_name} {row} ({tensor}[{row}, ...]) is wrong; "
        "every other one matches."
    )


def diag_zero(tensor: str) -> str:
    return f"Diagnosis: {tensor} is zero where the numeric gradient is not: a term is missing."
