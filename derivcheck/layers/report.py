"""The report of a layer or Jacobian check, and every message string it prints.

:func:`derivcheck.check_layer` and :func:`derivcheck.check_jacobian` decide;
this module only holds the results and formats them, in the order and wording
of ``numpy.testing.assert_allclose`` plus what only derivcheck knows (the
numeric error estimate, the symbolic value, kinks, a diagnosis).

Kept free of SymPy, Hypothesis and pytest imports.

Examples
--------
>>> import numpy as np
>>> t = TensorCheck.build("dinputs", "inputs", analytic=np.array([1.0, 2.0]),
...                       numeric=np.array([1.0, 2.0]), error=np.array([1e-12, 1e-12]))
>>> rep = LayerReport(subject="Activation_Linear", failures=[], tensors={"dinputs": t})
>>> rep.ok, rep.checked
(True, {'dinputs': 2})
>>> print(rep)
Activation_Linear: OK (float64, seed=0)
Checked 2 entries (dinputs 2): every entry (mode=full).
Compared with the numeric gradient; tolerance from error estimate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from derivcheck._json import SCHEMA_VERSION, dumps
from derivcheck.layers import entries

__all__ = ["Failure", "LayerReport", "TensorCheck"]


WORST_SHOWN = 3
KINKS_SHOWN = 3


# --- message strings ------------------------------------------------------------------------
# Every sentence a layer report prints is built by one of these functions.


def msg_exception(where: str, exc: BaseException) -> str:
    """``forward raised ValueError: shapes (2,3) and (4,5) not aligned``."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    head = (
        f"{where} raised {type(exc).__name__}: {first}"
        if first
        else (f"{where} raised {type(exc).__name__}")
    )
    from derivcheck._frames import user_frames

    return head + "".join(f"\n  {line}" for line in user_frames(exc))


def msg_missing(tensor: str, wrt: str, shape: tuple[int, ...]) -> str:
    return (
        f"{tensor}: missing: backward did not set `{tensor}` "
        f"(the gradient of `{wrt}`, shape {shape})"
    )


def msg_not_array(tensor: str, value: Any) -> str:
    return f"{tensor}: not an array: backward set `{tensor}` to a {type(value).__name__}"


def msg_shape(tensor: str, wrt: str, got: tuple[int, ...], want: tuple[int, ...]) -> str:
    return f"{tensor}: wrong shape: backward gave shape {got}, but `{wrt}` has shape {want}"


def msg_dtype(tensor: str, wrt: str, got: Any, want: Any) -> str:
    return f"{tensor}: wrong dtype: backward gave {got}, but `{wrt}` is {want}"


def msg_downcast(tensor: str, wrt: str, got: Any, want: Any) -> str:
    return (
        f"Note: {tensor} is {got} while `{wrt}` is {want} (the layer computes in {got}; "
        f"values checked at {got} precision)."
    )


def msg_upcast(tensor: str, wrt: str, got: Any, want: Any) -> str:
    return f"Note: {tensor} is {got} while `{wrt}` is {want} (upcast; values checked)."


def msg_nonfinite(tensor: str, n_nan: int, n_inf: int, n: int) -> str:
    parts = []
    if n_nan:
        parts.append(f"{n_nan} NaN")
    if n_inf:
        parts.append(f"{n_inf} inf")
    return f"{tensor}: not finite: {' and '.join(parts)} of {n} entries"


def msg_output_nonfinite(what: str, n_bad: int, n: int) -> str:
    return (
        f"{what}: not finite at the given inputs ({n_bad} of {n} entries are NaN or inf); "
        "nothing can be differentiated there"
    )


def msg_mutation(who: str, what: str, n_changed: int, n: int) -> str:
    return f"{who} modified {what} in place ({n_changed} of {n} entries changed)"


def msg_nonlinear(tensor: str, max_diff: float, affine: bool) -> str:
    if affine:
        return (
            f"{tensor}: backward is not affine in dvalues: backward(2·G) - backward(G) differs "
            f"from backward(G) - backward(0) by up to {max_diff:.3g}"
        )
    return (
        f"{tensor}: backward is not linear in dvalues: backward(2·G) differs from "
        f"2·backward(G) by up to {max_diff:.3g}"
    )


def msg_no_output() -> str:
    return "forward did not set `output` (a layer's forward must store its result in self.output)"


def msg_loss_returned(value: Any) -> str:
    return (
        "forward returned "
        f"{'None' if value is None else type(value).__name__}: with `y_true` the object is a loss, "
        "whose forward(y_pred, y_true) must return the per-sample losses (or their mean)"
    )


def msg_loss_shape(shape: tuple[int, ...], batch: int) -> str:
    return (
        f"forward returned shape {shape}: a loss must return one loss per sample "
        f"(shape ({batch},)) or their mean"
    )


def msg_numeric_failed(tensor: str, exc: BaseException) -> str:
    return f"{tensor}: not checked: {msg_exception('the numeric differences', exc)}"


def msg_probe_unlocalised(tensor: str) -> str:
    return (
        f"{tensor}: a Gaussian probe of all its entries disagrees with the numeric "
        "directional derivative, but no single entry could be localised"
    )


def msg_symbolic_unavailable(reason: str) -> str:
    return f"Symbolic reference unavailable: {reason}; the numeric check stands."


def msg_symbolic_skipped(n: int, limit: int) -> str:
    return (
        f"Symbolic reference skipped: {n} entries exceed its limit of {limit}; "
        "the numeric check stands."
    )


def msg_engines_disagree(tensor: str, n: int) -> str:
    return (
        f"Note: {tensor}: the numeric and symbolic references disagree on {n} "
        f"entr{'y' if n == 1 else 'ies'} (a step or tracing problem, not the backward's fault)."
    )


def msg_ignored(names: Sequence[str]) -> str:
    joined = ", ".join(f"`{n}`" for n in names)
    return (
        f"Note: ignored {joined}: the output does not depend on it "
        "and backward sets no gradient for it."
    )


def msg_randomness() -> str:
    return "Note: forward draws random numbers; the generator was reseeded before every call."


def rule_text(rtol: float | None, atol: float | None) -> str:
    """How the tolerance was set, for the header: derived, or the user's."""
    if rtol is None and atol is None:
        return "tolerance from error estimate"
    return f"rtol={rtol or 0:g}, atol={atol or 0:g}"


RULE_ROUNDING = "tolerance from rounding"
STRATEGY_FULL = "every entry"


def strategy_directional(total: int, probes: int) -> str:
    return (
        f"a seeded sample one by one,\nand all {total:,} entries through {probes} Gaussian "
        "probes over every tensor at once"
    )


# --- number formatting ----------------------------------------------------------------------


def _fmt(value: float, digits: int = 4) -> str:
    """``0.2090``, ``20.48``, ``1.000e-05``: ``digits`` significant digits, zeros kept."""
    if value is None or not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    text = f"{value:#.{digits}g}"
    if "e" not in text:
        text = text.rstrip(".")
    return text


def _fmt_pair(a: float, b: float) -> tuple[str, str]:
    """Format two numbers with just enough digits (4 to 12) that differing values look different."""
    for digits in range(4, 13):
        sa, sb = _fmt(a, digits), _fmt(b, digits)
        if sa != sb or a == b:
            return sa, sb
    return _fmt(a, 12), _fmt(b, 12)


def _fmt_err(err: float) -> str:
    return f"{err:.0e}" if math.isfinite(err) else "?"


def format_index(tensor: str, index: Sequence[int]) -> str:
    return f"{tensor}[{', '.join(str(int(i)) for i in index)}]"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    return value


# --- data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """One thing wrong with a backward.

    ``kind`` is ``"mismatch"`` for a wrong entry (``index`` names it, and
    ``analytic``/``numeric``/``symbolic``/``error`` are its values); for the
    other kinds (``"shape"``, ``"missing"``, ``"mutation"``, ``"exception"``,
    ...) ``index`` is ``()`` and ``message`` says what is wrong.
    """

    tensor: str
    index: tuple[int, ...]
    analytic: float | None
    numeric: float | None
    symbolic: float | None
    error: float | None
    kind: str
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "tensor": self.tensor,
            "index": list(self.index),
            "analytic": _jsonable(self.analytic),
            "numeric": _jsonable(self.numeric),
            "symbolic": _jsonable(self.symbolic),
            "error": _jsonable(self.error),
            "kind": self.kind,
            "message": self.message or None,
        }


@dataclass
class TensorCheck:
    """Everything known about one gradient, entry by entry (for reports and heatmaps).

    All arrays have the shape of the tensor differentiated (``wrt``); entries
    that were not estimated hold NaN in ``numeric``/``error``/``tol`` and False
    in ``checked``.  ``analytic`` is the backward's gradient (None when it is
    missing or has another shape).
    """

    name: str
    wrt: str
    shape: tuple[int, ...]
    analytic: np.ndarray | None
    numeric: np.ndarray
    error: np.ndarray
    checked: np.ndarray
    mismatch: np.ndarray
    kink: np.ndarray
    tol: np.ndarray
    symbolic: np.ndarray | None = None
    rule: str = "tolerance from error estimate"
    reference: str = "numeric"
    dtype: str = "float64"
    diagnosis: str | None = None
    problems: list[str] = field(default_factory=list)
    #: what the hand-written values are called in the text: the layer's backward, or
    #: the hand-written Jacobian of check_jacobian
    label: str = "BACKWARD"
    #: directional mode: group testing over every entry located the wrong ones
    localised: bool = False

    @classmethod
    def build(
        cls,
        name: str,
        wrt: str,
        *,
        analytic: np.ndarray | None,
        numeric: np.ndarray,
        error: np.ndarray,
        checked: np.ndarray | None = None,
        mismatch: np.ndarray | None = None,
        kink: np.ndarray | None = None,
        tol: np.ndarray | None = None,
        **kwargs: Any,
    ) -> TensorCheck:
        """A TensorCheck with the masks defaulted (all checked, nothing wrong)."""
        numeric = np.asarray(numeric, dtype=np.float64)
        shape = numeric.shape
        false = np.zeros(shape, dtype=bool)
        return cls(
            name=name,
            wrt=wrt,
            shape=shape,
            analytic=analytic,
            numeric=numeric,
            error=np.asarray(error, dtype=np.float64),
            checked=np.ones(shape, dtype=bool) if checked is None else checked,
            mismatch=false if mismatch is None else mismatch,
            kink=false.copy() if kink is None else kink,
            tol=np.full(shape, np.nan) if tol is None else tol,
            **kwargs,
        )

    @property
    def n_checked(self) -> int:
        return int(np.count_nonzero(self.checked))

    @property
    def n_mismatched(self) -> int:
        return int(np.count_nonzero(self.mismatch))

    @property
    def n_kinks(self) -> int:
        return int(np.count_nonzero(self.kink & self.checked))

    @property
    def abs_diff(self) -> np.ndarray:
        """``|analytic - reference|`` per entry (NaN where not checked or no analytic)."""
        if self.analytic is None:
            return np.full(self.shape, np.nan)
        ref = self.reference_values
        return np.abs(np.asarray(self.analytic, dtype=np.float64) - ref)

    @property
    def reference_values(self) -> np.ndarray:
        """What the backward is judged against: the symbolic values where the reference is
        symbolic and they exist, the numeric ones otherwise."""
        if self.reference == "symbolic" and self.symbolic is not None:
            return np.where(np.isnan(self.symbolic), self.numeric, self.symbolic)
        return self.numeric

    def worst(self, n: int = WORST_SHOWN) -> list[tuple[int, ...]]:
        """Indices of the ``n`` worst mismatches: largest difference relative to tolerance."""
        idx = np.argwhere(self.mismatch)
        if len(idx) == 0:
            return []
        diff, _, tol = entries.mismatch_values(self)
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(tol > 0, diff / tol, diff)
        score = np.nan_to_num(score, nan=0.0, posinf=np.inf)
        order = np.argsort(-score, kind="stable")[:n]
        return [tuple(int(i) for i in idx[k]) for k in order]

    def to_dict(self, *, arrays: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "wrt": self.wrt,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "checked": self.n_checked,
            "mismatched": self.n_mismatched,
            "kinks": self.n_kinks,
            "rule": self.rule,
            "reference": self.reference,
            "diagnosis": self.diagnosis,
            "problems": list(self.problems),
        }
        if arrays:
            out["analytic"] = _jsonable(self.analytic)
            out["numeric"] = _jsonable(self.numeric)
            out["error"] = _jsonable(self.error)
            out["symbolic"] = _jsonable(self.symbolic)
            out["mismatch"] = _jsonable(self.mismatch)
            out["kink"] = _jsonable(self.kink)
        return out

    # formatting ------------------------------------------------------------------------

    def header(self, dtype: str, seed: int) -> str:
        ref = {
            "numeric": "the numeric gradient",
            "symbolic": "the symbolic gradient",
            "both": "the numeric and symbolic gradients",
        }.get(self.reference, f"the {self.reference} gradient")
        return f"{self.name}: not equal to {ref} ({self.rule}, {dtype}, seed={seed})"

    def mismatch_lines(self, dtype: str, seed: int) -> list[str]:
        """The numpy.testing-style block for a tensor with mismatched entries."""
        k, n = self.n_mismatched, self.n_checked
        lines = [self.header(dtype, seed), ""]
        size = int(np.prod(self.shape)) if self.shape else 1
        compared = "" if n >= size else f" compared one by one ({size:,} entries in all)"
        lines.append(f"Mismatched elements: {k} / {n} ({100 * k / max(n, 1):.3g}%){compared}")
        worst = self.worst()
        lines.append(f"Worst {len(worst)} of {k}:")
        assert self.analytic is not None
        for index in worst:
            a = float(self.analytic[index])
            num = float(entries.at(self, "numeric", index))
            sa, sn = _fmt_pair(a, num)
            err = _fmt_err(float(entries.at(self, "error", index)))
            line = f" {format_index(self.name, index)}: {sa} ({self.label}), {sn} (NUMERIC ±{err})"
            if self.symbolic is not None and not math.isnan(float(self.symbolic[index])):
                line += f", {_fmt_pair(a, float(self.symbolic[index]))[1]} (SYMBOLIC)"
            lines.append(line)
        diff, ref, _ = entries.mismatch_values(self)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(ref > 0, diff / ref, np.inf)
        lines.append(f"Max absolute difference among violations: {float(np.max(diff)):.8g}")
        lines.append(f"Max relative difference among violations: {float(np.max(rel)):.8g}")
        if self.diagnosis:
            lines.append(self.diagnosis.replace("BACKWARD", self.label))
        return lines


for _name in ("numeric", "error", "tol"):  # dense on first read (layers.entries)
    setattr(TensorCheck, _name, entries.lazy(_name))


@dataclass
class LayerReport:
    """The result of :func:`derivcheck.check_layer` or :func:`derivcheck.check_jacobian`.

    ``ok`` is True when every checked gradient matches and no contract is
    broken.  ``failures`` lists what is wrong (problems first, then wrong
    entries worst first, at most :data:`MAX_FAILURES_PER_TENSOR` per tensor);
    ``checked`` counts the entries compared one by one per gradient (in the
    directional strategy every entry is also covered by the Gaussian probes);
    ``tensors`` holds the per-gradient arrays (analytic, numeric, error,
    mismatch and kink masks) for plots, also through :meth:`heatmap_data`.
    ``str(report)`` is the numpy.testing-style text; :meth:`to_dict` and
    :meth:`to_json` the machine-readable form.
    """

    subject: str
    failures: list[Failure]
    tensors: dict[str, TensorCheck]
    seed: int = 0
    mode: str = "full"
    strategy: str = STRATEGY_FULL
    reference: str = "numeric"
    dtype: str = "float64"
    notes: list[str] = field(default_factory=list)
    nfev: int = 0
    kind: str = "layer"
    #: calls of the layer's own forward and backward with numbers: ``{"forward": n, ...}``
    evaluations: dict[str, int] = field(default_factory=dict)
    #: the error-vs-step curve of the worst wrong entry (``layers.stepcurve``), or None
    step_curve: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def checked(self) -> dict[str, int]:
        return {name: t.n_checked for name, t in self.tensors.items()}

    @property
    def n_kinks(self) -> int:
        return sum(t.n_kinks for t in self.tensors.values())

    def __bool__(self) -> bool:  # a report is truthy when ok, like a passing check
        return self.ok

    # text ------------------------------------------------------------------------------

    def _rule(self) -> str:
        rules = sorted({t.rule for t in self.tensors.values()})
        return "; ".join(rules) if rules else "tolerance from error estimate"

    def _reference_text(self) -> str:
        return {
            "numeric": "against the numeric gradient",
            "symbolic": "against the symbolic gradient",
            "both": "against the numeric and symbolic gradients",
        }.get(self.reference, f"against the {self.reference} gradient")

    def _checked_line(self) -> str:
        parts = [f"{name} {t.n_checked:,}" for name, t in self.tensors.items() if t.n_checked]
        if not parts:
            return "Checked nothing."
        total = sum(t.n_checked for t in self.tensors.values())
        reference = self._reference_text().removeprefix("against ")
        return (
            f"Checked {_plural(total, 'entry', 'entries')} ({', '.join(parts)}): "
            f"{self.strategy} (mode={self.mode}).\n"
            f"Compared with {reference}; {self._rule()}."
        )

    def _kink_line(self) -> str | None:
        kinks = [
            (name, tuple(int(i) for i in idx))
            for name, t in self.tensors.items()
            for idx in np.argwhere(t.kink & t.checked)
        ]
        if not kinks:
            return None
        shown = ", ".join(format_index(n, i) for n, i in kinks[:KINKS_SHOWN])
        more = ", ..." if len(kinks) > KINKS_SHOWN else ""
        return (
            f"Skipped {_plural(len(kinks), 'entry', 'entries')} at a kink "
            f"(left and right slopes differ): {shown}{more}"
        )

    def __str__(self) -> str:
        title = f"{self.subject}: {'OK' if self.ok else 'FAILED'} ({self.dtype}, seed={self.seed})"
        if self.ok:
            lines = [title, self._checked_line()]
            kink = self._kink_line()
            if kink:
                lines.append(kink)
            lines.extend(self.notes)
            return "\n".join(lines)
        blocks: list[str] = [title]
        problems = [f.message for f in self.failures if f.kind != "mismatch"]
        if problems:
            blocks.append("\n".join(problems))
        for t in self.tensors.values():
            if t.n_mismatched:
                blocks.append("\n".join(t.mismatch_lines(self.dtype, self.seed)))
            elif t.diagnosis and any(
                f.tensor == t.name and f.kind != "mismatch" for f in self.failures
            ):
                blocks.append(t.diagnosis)
        tail = []
        passed = [
            f"{name} ({_plural(t.n_checked, 'entry', 'entries')})"
            for name, t in self.tensors.items()
            if t.n_checked
            and not t.n_mismatched
            and not any(f.tensor == name for f in self.failures)
        ]
        if passed:
            tail.append(f"Passed: {', '.join(passed)}.")
        if self.tensors:
            tail.append(self._checked_line())
        kink = self._kink_line()
        if kink:
            tail.append(kink)
        tail.extend(self.notes)
        if tail:
            blocks.append("\n".join(tail))
        return "\n\n".join(blocks)

    def _repr_html_(self) -> str:  # Jupyter
        from derivcheck import _display

        return _display.layer_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython: the text report
        p.text(repr(self) if cycle else str(self))

    def __repr__(self) -> str:
        return (
            f"<LayerReport {self.subject}: {'ok' if self.ok else 'failed'}, "
            f"{len(self.failures)} failures, checked={self.checked}>"
        )

    # machine-readable ------------------------------------------------------------------

    def to_dict(self, *, arrays: bool = False) -> dict[str, Any]:
        """Plain JSON-ready data; ``arrays=True`` adds every tensor's arrays."""
        return {
            "kind": self.kind,
            "schema_version": SCHEMA_VERSION,
            "verdict": "ok" if self.ok else "failed",
            "subject": self.subject,
            "ok": self.ok,
            "seed": self.seed,
            "mode": self.mode,
            "strategy": self.strategy,
            "reference": self.reference,
            "dtype": self.dtype,
            "checked": self.checked,
            "kinks": self.n_kinks,
            "nfev": self.nfev,
            "evaluations": dict(self.evaluations),
            "step_curve": self.step_curve,
            "failures": [f.to_dict() for f in self.failures],
            "tensors": {name: t.to_dict(arrays=arrays) for name, t in self.tensors.items()},
            "notes": list(self.notes),
        }

    def to_json(self, *, arrays: bool = False) -> str:
        """:meth:`to_dict` as JSON, in the schema every derivcheck document shares."""
        return dumps(self.to_dict(arrays=arrays))

    # plots -----------------------------------------------------------------------------

    def heatmap_data(self) -> dict[str, dict[str, np.ndarray | None]]:
        """Per tensor: ``analytic``, ``numeric``, ``error`` arrays and the ``mismatch`` mask."""
        return {
            name: {
                "analytic": t.analytic,
                "numeric": t.numeric,
                "error": t.error,
                "mismatch": t.mismatch,
                "kink": t.kink,
                "symbolic": t.symbolic,
                "tol": t.tol,
                "reference": t.reference_values,
            }
            for name, t in self.tensors.items()
        }
