"""The symbolic reference of a layer check: exact SymPy gradients of the traced
forward (:mod:`~derivcheck.layers.trace.core`), compared beside the numeric ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np

from derivcheck._deadline import DeadlineExceeded, deadline
from derivcheck.errors import TraceError
from derivcheck.layers import report as msg
from derivcheck.layers.adapters import Tensor
from derivcheck.layers.base import SYMBOLIC_LIMIT, CheckBase
from derivcheck.layers.report import TensorCheck

#: the wall-clock bound of the symbolic reference of one check
SYMBOLIC_SECONDS = 2.0


class SymbolicReference(CheckBase):
    """The symbolic steps of a check (a mixin of the check)."""

    def _symbolic(self, tensors: list[Tensor]) -> None:
        total = sum(t.array.size for t in tensors)
        if total > SYMBOLIC_LIMIT:
            self.notes.append(msg.msg_symbolic_skipped(total, SYMBOLIC_LIMIT))
            return
        from derivcheck.layers.trace import core as trace

        names = [t.name for t in tensors]
        point = {t.name: np.asarray(t.array, dtype=np.float64) for t in tensors}
        _warm_up(trace)
        try:
            # a hard wall-clock bound: SymPy's own loops (flattening, ordering huge
            # expressions) are out of reach of the trace's soft budget checks
            with deadline(SYMBOLIC_SECONDS):
                exact = trace.exact_gradients(
                    self._symbolic_probe(names), point, budget=SYMBOLIC_SECONDS
                )
        except DeadlineExceeded:
            self.notes.append(
                msg.msg_symbolic_unavailable(
                    f"tracing and differentiating the forward took more than {SYMBOLIC_SECONDS:g} s"
                )
            )
            return
        except TraceError as exc:
            self.notes.append(msg.msg_symbolic_unavailable(str(exc)))
            return
        except Exception as exc:  # a forward that cannot run on symbols: numeric stands
            self.notes.append(msg.msg_symbolic_unavailable(msg.msg_exception("forward", exc)))
            return
        finally:
            np.copyto(self.x, self.x0)
        unseen = []
        for t in tensors:
            check = self.tensors[t.grad_name]
            value = exact.get(t.name)
            if value is None or np.shape(value) != check.shape:
                continue
            value = np.asarray(value, dtype=np.float64)
            if not np.any(value) and self._numeric_clearly_nonzero(check):
                # the traced forward never read this array, yet the probe moves with it: the
                # forward reaches it some other way (through another object, a copy made
                # before the check); the trace says nothing about it
                unseen.append(t.name)
                continue
            check.symbolic = value
        if unseen:
            self.notes.append(msg_symbolic_unseen(unseen))

    @staticmethod
    def _numeric_clearly_nonzero(check: TensorCheck) -> bool:
        use = check.checked & ~check.kink
        if not np.any(use):
            return False
        tol = np.nan_to_num(check.tol[use], nan=0.0) + 4 * np.nan_to_num(check.error[use], nan=0.0)
        return bool(np.any(np.abs(check.numeric[use]) > np.maximum(4 * tol, 1e-300)))

    def _symbolic_probe(self, names: list[str]) -> Callable[[dict[str, np.ndarray]], Any]:
        ad, layer = self.adapter, self.layer

        def probe(sym: dict[str, np.ndarray]) -> Any:
            attrs = vars(layer)
            saved = {name: attrs[name] for name in names if name != "inputs"}
            # a wrapper whose parameters live elsewhere (a model's params dict) binds them there
            bind = getattr(layer, "_derivcheck_bind", None)
            unbind = None
            try:
                for name in saved:
                    attrs[name] = sym[name]
                if bind is not None:
                    unbind = bind({name: sym[name] for name in saved})
                returned = ad.forward_raw(sym.get("inputs", self.x))
                if ad.is_layer:
                    out = returned if ad.kind == "layer_returns" else layer.output
                    value = np.sum(out * ad.G64)
                    if ad.penalty is not None:
                        value = value + ad.penalty(layer)
                    return value
                if ad.kind == "loss" and np.size(returned) > 1:
                    return np.sum(returned) / np.size(returned)
                return returned
            finally:
                attrs.update(saved)
                if unbind is not None:
                    unbind()

        return probe

    def _apply_symbolic(self, check: TensorCheck) -> None:
        assert check.symbolic is not None and check.analytic is not None
        sym = check.symbolic
        a = np.asarray(check.analytic, dtype=np.float64)
        dtype = np.asarray(check.analytic).dtype
        geps = max(self.eps, float(np.finfo(dtype).eps) if dtype.kind == "f" else 0.0)
        tol = 256 * geps * (np.abs(sym) + float(np.mean(np.abs(sym))) + 1e-300)
        if self.rtol is not None or self.atol is not None:
            tol = (self.rtol or 0.0) * np.abs(sym) + (self.atol or 0.0)
        else:
            # held to what float arithmetic of the user's forward can deliver: never
            # stricter than the rounding noise measured on that forward (sigmoid at 40
            # underflows to 0, 1 - s at 30 cancels; the exact value cannot be had)
            tol = np.maximum(tol, np.nan_to_num(check.tol, nan=0.0))
        usable = check.checked & ~check.kink
        sym_bad = (np.abs(a - sym) > tol) & usable
        disagree = (np.abs(check.numeric - sym) > np.maximum(check.tol, tol)) & usable
        if self.reference == "symbolic":
            check.mismatch = sym_bad
            check.tol = np.where(usable, tol, np.nan)
            check.rule = msg.RULE_ROUNDING
            if np.any(disagree):
                self.notes.append(
                    msg.msg_engines_disagree(check.name, int(np.count_nonzero(disagree)))
                )
            return
        # both: where the two references agree, the backward must match them; where they
        # disagree, neither is taken on its own -- a backward matching one of them is not
        # failed, and the report says how many entries the references dispute
        num_bad = check.mismatch
        check.mismatch = np.where(disagree, num_bad & sym_bad, num_bad | sym_bad)
        disputed = disagree & ~check.mismatch
        if np.any(disputed):
            self.notes.append(msg_references_dispute(check.name, int(np.count_nonzero(disputed))))


def msg_symbolic_unseen(names: list[str]) -> str:
    which = ", ".join(f"`{n}`" for n in names)
    return (
        f"Symbolic reference not used for {which}: the traced forward never reads "
        f"{'it' if len(names) == 1 else 'them'} (reached through another object?), though "
        "the output moves with it; the numeric check stands."
    )


def msg_references_dispute(name: str, n: int) -> str:
    return (
        f"Note: {name}: on {n} {'entry' if n == 1 else 'entries'} the numeric and symbolic "
        "references disagree with each other and the backward matches one of them; these "
        "are not counted as wrong (a kink, a step problem, or something the trace did not see)."
    )


_warmed: list[bool] = []


def _warm_up(trace: Any) -> None:
    """The first exact gradient of a process pays SymPy's lazy imports and printers (0.2 s
    here, more on a loaded machine): a cost of the process, paid on a one-entry probe
    before a check's wall-clock bound starts, not inside it."""
    if _warmed:
        return
    _warmed.append(True)
    # (an error here is the check's own attempt's to report)
    with contextlib.suppress(Exception):
        trace.exact_gradients(lambda a: (a["w"] * a["w"]).sum(), {"w": np.ones(1)})
