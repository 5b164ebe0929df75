"""Contracts that need no derivative: what forward returned, gradients present,
shaped and finite, backward linear in its dvalues and leaving its arguments alone.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from derivcheck.layers import report as msg
from derivcheck.layers.adapters import (
    MISSING,
    CheckFailed,
    Tensor,
    read_gradients,
    stale_gradients,
)
from derivcheck.layers.base import CheckBase
from derivcheck.layers.state import count_changed, put_back


class Contracts(CheckBase):
    """The contract steps of a check (a mixin of the check)."""

    def _classify(self, returned: Any) -> None:
        ad, layer = self.adapter, self.layer
        if self.y_true is None:
            out = getattr(layer, "output", None)
            ad.kind = "layer"
            if out is None and isinstance(returned, np.ndarray):
                out, ad.kind = returned, "layer_returns"
            if out is not None and np.asarray(out).dtype.kind not in "fiub":
                self.fail("output", "contract", msg_output_dtype(np.asarray(out).dtype))
                raise CheckFailed
            if out is None:
                self.fail("output", "contract", msg.msg_no_output())
                raise CheckFailed
            out = np.asarray(out)
            bad = int(np.count_nonzero(~np.isfinite(out)))
            if bad:
                self.fail("output", "nonfinite", msg.msg_output_nonfinite("output", bad, out.size))
                raise CheckFailed
            self.first_output = out
            return
        if returned is None or not isinstance(returned, numbers.Real | np.ndarray | np.generic):
            self.fail("forward", "contract", msg.msg_loss_returned(returned))
            raise CheckFailed
        value = np.asarray(returned)
        out = getattr(layer, "output", None)
        if (
            value.size == 1
            and isinstance(out, np.ndarray)
            and out.shape == self.x.shape
            and out is not self.x
        ):
            ad.kind = "combined"
        elif value.size == 1 or value.shape == (len(self.x),):
            ad.kind = "loss"
        else:
            self.fail("forward", "contract", msg.msg_loss_shape(value.shape, len(self.x)))
            raise CheckFailed
        bad = int(np.count_nonzero(~np.isfinite(value)))
        if bad:
            self.fail("loss", "nonfinite", msg.msg_output_nonfinite("loss", bad, value.size))
            raise CheckFailed

    def _check_inputs_unchanged(self, who: str) -> None:
        n = count_changed(self.x, self.x0)
        if n:
            what = "the predictions (its inputs)" if self.y_true is not None else "its inputs"
            self.fail("inputs", "mutation", msg.msg_mutation(who, what, n, self.x.size))
            np.copyto(self.x, self.x0)
            if who == "forward":
                raise CheckFailed

    def _backward_once(self, tensors: list[Tensor]) -> dict[str, Any]:
        """Forward then backward at the unperturbed point; the gradients backward set."""
        ad, layer = self.adapter, self.layer
        self.call("forward", lambda: ad.forward_raw(self.x))
        # what forward itself updates in place (batch norm's running statistics, a
        # counter) is forward state, not a backward fault: compare against after forward
        after_forward = {name: getattr(layer, name).copy() for name in self.param_copies}
        dvalues = ad.dvalues()
        dvalues0 = dvalues.copy()
        attrs = vars(layer)
        # a gradient attribute that backward leaves untouched (same array, same bits) is stale,
        # from an earlier backward; a preallocated buffer written in place is not
        stale = stale_gradients(attrs, tensors)
        returned = self.call("backward", lambda: ad.backward(dvalues))
        grads = read_gradients(attrs, tensors, returned, stale)
        n = count_changed(dvalues, dvalues0)
        if n:
            self.fail(
                "dvalues",
                "mutation",
                msg.msg_mutation("backward", "its dvalues argument", n, dvalues.size),
            )
        self._check_inputs_unchanged("backward")
        if self.y_true is not None and self.y0 is not None:
            n = count_changed(self.y_true, self.y0)
            if n:
                self.fail(
                    "y_true", "mutation", msg.msg_mutation("backward", "y_true", n, self.y0.size)
                )
                np.copyto(self.y_true, self.y0)
        for name, saved in self.param_copies.items():
            arr = getattr(layer, name)
            n = count_changed(arr, after_forward[name])
            if n:
                self.fail(name, "mutation", msg.msg_mutation("backward", f"`{name}`", n, arr.size))
            put_back(arr, saved)  # the values the check started from, whoever changed them
        return grads

    def _check_gradients(self, tensors: list[Tensor], grads: dict[str, Any]) -> None:
        ignored = []
        for t in list(tensors):
            g = grads[t.grad_name]
            if g is MISSING:
                if t.name != "inputs" and self.explicit_params is None and not self._depends_on(t):
                    tensors.remove(t)
                    ignored.append(t.name)
                    continue
                self.fail(
                    t.grad_name, "missing", msg.msg_missing(t.grad_name, t.name, t.array.shape)
                )
                t.ok = False
                continue
            if not isinstance(g, np.ndarray):
                if isinstance(g, numbers.Real) and t.array.size == 1:
                    g = np.full(t.array.shape, float(g))
                else:
                    self.fail(t.grad_name, "contract", msg.msg_not_array(t.grad_name, g))
                    t.ok = False
                    continue
            t.grad = g
            if g.shape != t.array.shape:
                self.fail(
                    t.grad_name, "shape", msg.msg_shape(t.grad_name, t.name, g.shape, t.array.shape)
                )
                t.ok = False
                continue
            if g.dtype.kind != "f":
                self.fail(
                    t.grad_name, "dtype", msg.msg_dtype(t.grad_name, t.name, g.dtype, t.array.dtype)
                )
                if g.dtype.kind not in "iub":
                    t.ok = False
                    continue
            elif np.finfo(g.dtype).eps > np.finfo(t.array.dtype).eps:
                # not a bug: under the book's nnfs.init() np.dot returns float32, so a
                # correct backward gives float32 gradients of float64 weights; the
                # layer computes in the lower precision, and is judged in it
                self.notes.append(msg.msg_downcast(t.grad_name, t.name, g.dtype, t.array.dtype))
                self.eps = max(self.eps, float(np.finfo(g.dtype).eps))
                self.dtype = "float32" if self.eps > 1e-10 else "float64"
            elif g.dtype != t.array.dtype:
                self.notes.append(msg.msg_upcast(t.grad_name, t.name, g.dtype, t.array.dtype))
            finite = np.isfinite(g)
            if not finite.all():
                n_nan = int(np.count_nonzero(np.isnan(g)))
                n_inf = int(g.size - np.count_nonzero(finite) - n_nan)
                self.fail(
                    t.grad_name, "nonfinite", msg.msg_nonfinite(t.grad_name, n_nan, n_inf, g.size)
                )
                t.ok = False
        if ignored:
            self.notes.append(msg.msg_ignored(ignored))

    def _depends_on(self, t: Tensor) -> bool:
        """Whether the probe changes when ``t`` changes (a parameter, not an optimizer cache)."""
        saved = t.array.copy()
        try:
            f0 = self.probe()
            step = np.sqrt(self.eps) * np.maximum(1.0, np.abs(t.array))
            t.array += (step * self.rng.choice([-1.0, 1.0], size=t.array.shape)).astype(
                t.array.dtype
            )
            f1 = self.probe()
        except Exception:
            return True
        finally:
            put_back(t.array, saved)
        return f0 != f1

    def _check_linearity(self, tensors: list[Tensor]) -> None:
        """backward(2G) == 2 backward(G) (affine with a penalty: b(2G) - b(G) == b(G) - b(0))."""
        ad = self.adapter
        assert ad.G is not None
        G = ad.G
        live = [t for t in tensors if t.ok and t.grad is not None]
        if not live:
            return
        results = []
        # first the same G again: a backward that adds to a stored gradient (+=) differs
        # from itself, and would otherwise look merely non-linear
        scales = [1.0, 2.0, 0.0] if ad.penalty is not None else [1.0, 2.0]
        for scale in scales:
            ad.G = (G * scale).astype(G.dtype)
            try:
                grads = self._backward_silently(live)
            finally:
                ad.G = G
            if grads is None:
                return
            results.append(grads)
        repeat, results = results[0], results[1:]
        for t in live:
            assert t.grad is not None
            g1 = np.asarray(t.grad, dtype=np.float64)
            again = np.asarray(repeat[t.grad_name], dtype=np.float64)
            geps = float(np.finfo(t.grad.dtype).eps) if t.grad.dtype.kind == "f" else self.eps
            if again.shape == g1.shape:
                size = np.abs(again) + np.abs(g1)
                tiny_r = float(np.finfo(t.grad.dtype).tiny) if t.grad.dtype.kind == "f" else 0.0
                differ = np.abs(again - g1) > 64 * geps * (size + float(np.max(size))) + (
                    64 * tiny_r
                )
                if np.any(differ):
                    self.fail(
                        t.grad_name,
                        "accumulates",
                        msg_accumulates(t.grad_name, float(np.max(np.abs(again - g1)))),
                    )
                    continue
            g2 = np.asarray(results[0][t.grad_name], dtype=np.float64)
            if g2.shape != g1.shape:
                continue
            if len(results) == 2:
                g0 = np.asarray(results[1][t.grad_name], dtype=np.float64)
                if g0.shape != g1.shape:
                    continue
                diff = np.abs((g2 - g1) - (g1 - g0))
                size = np.abs(g2) + 2 * np.abs(g1) + np.abs(g0)
            else:
                diff = np.abs(g2 - 2 * g1)
                size = np.abs(g2) + 2 * np.abs(g1)
            # + a few of the smallest normal numbers: subnormal gradients (softmax far from
            # its mass, float32) lose relative precision, and differ by 1e-45 for nothing
            tiny = float(np.finfo(t.grad.dtype).tiny) if t.grad.dtype.kind == "f" else 0.0
            tol = 64 * geps * (size + float(np.max(size))) + 64 * tiny
            bad = diff > tol
            if np.any(bad):
                self.fail(
                    t.grad_name,
                    "nonlinear",
                    msg.msg_nonlinear(t.grad_name, float(np.max(diff)), len(results) == 2),
                )

    def _backward_silently(self, tensors: list[Tensor]) -> dict[str, Any] | None:
        """Forward + backward(dvalues) without recording anything; None if either raises."""
        ad, attrs = self.adapter, vars(self.layer)
        try:
            ad.forward_raw(self.x)
            returned = ad.backward(ad.dvalues())
        except Exception:
            return None
        finally:
            np.copyto(self.x, self.x0)
            for name, saved in self.param_copies.items():
                put_back(getattr(self.layer, name), saved)
        return read_gradients(attrs, tensors, returned, {})


def msg_accumulates(name: str, by: float) -> str:
    return (
        f"{name}: a second backward with the same dvalues gives another result (by up to "
        f"{by:.2g}): backward is not repeatable -- a `+=` on a stored gradient accumulates "
        f"across calls (assign it instead: `self.{name} = ...`), or backward draws new random "
        "numbers (a mask belongs in forward)."
    )


def msg_output_dtype(dtype: Any) -> str:
    return (
        f"forward's output has dtype {dtype}: a gradient check needs real numbers "
        "(complex, object or string outputs have no real gradient to compare)"
    )
