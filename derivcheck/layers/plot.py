"""Heatmaps of a failed layer check: the per-entry relative error of each gradient.

A transposed or mis-summed gradient shows as a pattern (a whole row, a
diagonal band, every entry), a single wrong entry as one bright cell.
matplotlib is optional: ``pip install "derivcheck[plot]"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from derivcheck.errors import InputError

if TYPE_CHECKING:
    from derivcheck.layers.report import LayerReport

__all__ = ["plot_report", "relative_error_map"]

INSTALL_HINT = (
    "plotting needs matplotlib, which is not installed: "
    'pip install "derivcheck[plot]" (or pip install matplotlib)'
)


def relative_error_map(
    analytic: np.ndarray | None, numeric: np.ndarray, error: np.ndarray | None = None
) -> np.ndarray:
    """``|analytic - numeric| / |numeric|`` per entry, as a 2-D array: the report's
    relative difference (numpy.testing's), so the picture and the text agree.

    Entries not estimated (NaN) stay NaN; exact agreement at zero is 0, a
    non-zero value against a zero reference is inf; a tensor of more than two
    dimensions is folded to ``(shape[0], -1)``.

    Examples
    --------
    >>> m = relative_error_map(np.array([[1.0, 2.0]]), np.array([[1.0, 4.0]]))
    >>> print(m.tolist())
    [[0.0, 0.5]]
    """
    numeric = np.asarray(numeric, dtype=float)
    if analytic is None or np.shape(analytic) != numeric.shape:
        return np.full(_as_2d(numeric).shape, np.nan)
    analytic = np.asarray(analytic, dtype=float)
    diff = np.abs(analytic - numeric)
    scale = np.abs(numeric)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(scale > 0, diff / scale, np.where(diff > 0, np.inf, 0.0))
    rel[np.isnan(numeric)] = np.nan
    return _as_2d(rel)


def relative_tolerance(
    analytic: np.ndarray | None, numeric: np.ndarray, tol: np.ndarray | None
) -> float | None:
    """The median of the entries' tolerances on the heatmap's scale (``tol / |numeric|``),
    over the entries estimated with a non-zero value; None when there is none to show.

    >>> print(relative_tolerance(np.array([1.0, 4.0]), np.array([1.0, 4.0]),
    ...                          np.array([1e-6, 4e-6])))
    1e-06
    """
    if tol is None or analytic is None or np.shape(analytic) != np.shape(numeric):
        return None
    n, t = (np.asarray(v, dtype=float).reshape(-1) for v in (numeric, tol))
    scale = np.abs(n)
    keep = np.isfinite(t) & np.isfinite(n) & (scale > 0)
    if not keep.any():
        return None
    return float(np.median(t[keep] / scale[keep]))


#: the top of the heatmap's colour scale (relative differences above it, inf included)
TOP = 100.0


def _draw_curve(ax: Any, curve: dict[str, Any]) -> None:
    """|estimate - BACKWARD| against the step, log-log; the chosen step and the tolerance."""
    from derivcheck.layers.stepcurve import verdict_text

    steps = np.asarray(curve["steps"])
    gaps = np.abs(np.asarray(curve["estimates"]) - curve["backward"])
    floor = max(float(np.min(gaps[gaps > 0])) if np.any(gaps > 0) else 1e-300, 1e-300) / 10
    ax.loglog(steps, np.maximum(gaps, floor), "o-", color="black", markersize=3,
              label="|central difference - BACKWARD|")
    ax.axvline(curve["chosen_step"], color="tab:blue", linestyle=":", label="step the check chose")
    if curve["tol"] > 0:
        ax.axhline(curve["tol"], color="cyan", linewidth=2, label="tolerance")
    where = "[" + ", ".join(str(i) for i in curve["index"]) + "]"
    ax.set_title(
        f"{curve['tensor']}{where}: error against the step\n({verdict_text(curve)})", fontsize=8
    )
    ax.set_xlabel("step h")
    ax.set_ylabel("|estimate - BACKWARD|")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize=7, frameon=False)


def _as_2d(a: np.ndarray) -> np.ndarray:
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(1, -1)
    return a.reshape(a.shape[0], -1)


def plot_report(report: LayerReport, path: str | Path) -> Path:
    """Draw one heatmap per gradient of ``report`` into the PNG file ``path``.

    Colour is the relative error of each entry on a log scale (the report's:
    against the reference the backward was judged by); mismatched entries are
    outlined; a line on the colour bar marks the entries' median tolerance on
    the same scale.  A failed check adds the error-vs-step curve of its worst
    wrong entry (:mod:`derivcheck.layers.stepcurve`): a floor above the
    tolerance at every step is a bug, a valley below it an artefact of the
    step.  Returns the path written.

    Raises
    ------
    InputError
        matplotlib is missing (with an install hint), or ``path`` cannot be written.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.colors import LogNorm
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise InputError(INSTALL_HINT) from None

    data = report.heatmap_data()
    names = [name for name, d in data.items() if d["numeric"] is not None]
    if not names:
        raise InputError("the report has no per-entry gradient to plot")
    curve = report.step_curve
    panels = len(names) + (curve is not None)
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.8), squeeze=False)
    for ax, name in zip(axes[0][: len(names)], names, strict=True):
        d: dict[str, Any] = data[name]
        reference = d.get("reference")
        rel = relative_error_map(d["analytic"], d["numeric"] if reference is None else reference)
        # (inf, a value against an exact 0, is drawn at the top of the scale)
        shown = np.where(np.isnan(rel), np.nan, np.clip(rel, 1e-16, TOP))
        image = ax.imshow(
            shown, cmap="magma", norm=LogNorm(vmin=1e-16, vmax=TOP), interpolation="nearest"
        )
        mismatch = d.get("mismatch")
        if mismatch is not None and np.shape(mismatch) == np.shape(d["numeric"]):
            rows, cols = np.nonzero(_as_2d(np.asarray(mismatch)))
            if len(rows):
                ax.scatter(
                    cols, rows, s=60, marker="s", facecolors="none", edgecolors="cyan",
                    linewidths=1.5, label=f"wrong ({len(rows)})",
                )
                ax.legend(
                    loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize=8, frameon=False
                )
        ax.set_title(f"{name}: relative error", fontsize=10)
        ax.set_xlabel("column")
        ax.set_ylabel("row")
        n_rows, n_cols = rel.shape
        for axis, n in ((ax.xaxis, n_cols), (ax.yaxis, n_rows)):
            if n <= 12:
                axis.set_ticks(range(n))  # one tick per row/column, no half-integers
            else:
                axis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.set_aspect("auto" if min(rel.shape) == 1 else "equal")
        bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        mark = relative_tolerance(
            d["analytic"], d["numeric"] if reference is None else reference, d.get("tol")
        )
        if mark is not None:
            level = min(max(mark, 1e-16), TOP)
            bar.ax.axhline(level, color="cyan", linewidth=2)
            bar.set_label("line: tolerance (median)", fontsize=8)
    if curve is not None:
        _draw_curve(axes[0][-1], curve)
    fig.suptitle(
        f"{report.subject}: {'ok' if report.ok else 'FAILED'} (seed={report.seed})", fontsize=11
    )
    fig.tight_layout()
    out = Path(path)
    try:
        fig.savefig(out, dpi=110)
    except OSError as exc:
        raise InputError(f"cannot write plot to {str(out)!r}: {exc}") from None
    finally:
        plt.close(fig)
    return out
