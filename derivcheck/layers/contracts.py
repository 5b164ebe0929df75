"""Contracts that need no derivative: what forward returned, gradients present,
shaped and finite, backward linear in its dvalues and leaving its arguments alone.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from derivcheck import _scratch as scratch
from derivcheck.layers import report as msg
from derivcheck.layers.adapters import (
    MISSING,
    CheckFailed,
    Tensor,
    read_gradients,
    stale_gradients,
)
from derivcheck.layers.base import NONE, CheckBase
from derivcheck.layers.state import count_changed, put_back, same_bits


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
        """Forward then backward at the unperturbed point; the gradients backward set.
        The first forward serves when it drew no random numbers: nothing has run since."""
        ad, layer = self.adapter, self.layer
        failures = len(self.failures)
        returned, self.first_returned = self.first_returned, NONE
        forwarded = returned is NONE  # else nothing has run since the copies were taken
        if forwarded:
            returned = self.call("forward", lambda: ad.forward_raw(self.x))
        # the probe at the point, before backward can touch the output (the directional
        # probes start from it instead of another forward)
        try:
            self.f_point = ad.probe_value(returned)
        except Exception:  # the probe itself will say what is wrong, where it runs
            self.f_point = None
        # what forward itself updates in place (batch norm's running statistics, a
        # counter) is forward state, not a backward fault: compare against after forward
        # (the start values themselves when forward left them alone: no copy)
        after_forward = {
            name: saved
            if not forwarded or same_bits(getattr(layer, name), saved)
            else getattr(layer, name).copy()
            for name, saved in self.param_copies.items()
        }
        dvalues = ad.dvalues()
        dvalues0 = dvalues.copy()
        attrs = vars(layer)
        # a gradient attribute that backward leaves untouched (same array, same bits) is stale,
        # from an earlier backward; a preallocated buffer written in place is not
        snapshot = self.snapshot
        stale = stale_gradients(
            attrs,
            tensors,
            None if snapshot is None else lambda a: snapshot.saved_copy(a, verify=False),
        )
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
            if n or after_forward[name] is not saved:  # else its bits are saved's already
                put_back(arr, saved)  # the values the check started from, whoever changed them
        self.backward_clean = len(self.failures) == failures  # it changed nothing it read
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
        """backward(2G) == 2 backward(G) (affine with a penalty: b(2G) - b(G) == b(G) - b(0)).

        One extra backward for a correct layer (two with a penalty), the first straight
        after the check's first backward.  Only when the contract fails is it examined
        again after a forward at the point, and backward run again with the same G, to
        tell a backward that adds to a stored gradient (``+=``, not repeatable) from one
        that is merely not linear.  The comparisons run in chunks, so no float64 copy of a
        large gradient is made.
        """
        ad = self.adapter
        assert ad.G is not None
        live = [t for t in tensors if t.ok and t.grad is not None]
        if not live:
            return
        scales = [2.0, 0.0] if ad.penalty is not None else [2.0]
        # one backward, straight after the first (the layer as that backward left it): its
        # gradients are compared before anything else runs, so they are read in place (a
        # copy of every gradient costs more than the comparison)
        kept = len(scales) > 1
        results = self._scaled_backwards(live, scales, copy=kept, forward=False)
        if results is not None and all(self._nonlinear_by(t, results) is None for t in live):
            return
        # examined again after a forward at the point (the first backward may have changed
        # what backward reads), with copies kept for another backward below
        results = self._scaled_backwards(live, scales)
        if results is None:
            return
        bad = [t for t in live if self._nonlinear_by(t, results) is not None]
        if not bad:
            return
        again = self._scaled_backwards(bad, [1.0])
        for t in bad:
            assert t.grad is not None
            g_again = None if again is None else again[0][t.grad_name]
            if isinstance(g_again, np.ndarray) and g_again.shape == t.grad.shape:
                by = _max_excess(t.grad, g_again, None, 1.0)
                if by is not None:
                    self.fail(t.grad_name, "accumulates", msg_accumulates(t.grad_name, by))
                    continue
            worst = self._nonlinear_by(t, results)
            if worst is not None:
                self.fail(
                    t.grad_name,
                    "nonlinear",
                    msg.msg_nonlinear(t.grad_name, worst, len(results) == 2),
                )

    def _scaled_backwards(
        self, live: list[Tensor], scales: list[float], copy: bool = True, forward: bool = True
    ) -> list[dict[str, Any]] | None:
        """The gradients of backward(scale * G) for each scale, each after a forward at the
        point (``forward=False``: not before the first); None if one raises.
        ``copy=False``: the layer's own arrays, valid until its next backward."""
        ad = self.adapter
        G = ad.G
        assert G is not None
        results: list[dict[str, Any]] = []
        for scale in scales:
            ad.G = (G * scale).astype(G.dtype)
            try:
                grads = self._backward_silently(live, copy=copy, forward=forward or bool(results))
            finally:
                ad.G = G
            if grads is None:
                return None
            results.append(grads)
        return results

    @staticmethod
    def _nonlinear_by(t: Tensor, results: list[dict[str, Any]]) -> float | None:
        """The largest violation of the linearity contract by ``t``'s gradient, or None."""
        assert t.grad is not None
        g2 = results[0][t.grad_name]
        if not isinstance(g2, np.ndarray) or g2.shape != t.grad.shape:
            return None
        if len(results) == 2:
            g0 = results[1][t.grad_name]
            if not isinstance(g0, np.ndarray) or g0.shape != t.grad.shape:
                return None
            return _max_excess(g2, t.grad, g0, 2.0)
        return _max_excess(g2, t.grad, None, 2.0)

    def _backward_silently(
        self, tensors: list[Tensor], copy: bool = True, forward: bool = True
    ) -> dict[str, Any] | None:
        """Forward (unless not ``forward``) + backward(dvalues) without recording anything;
        None if either raises."""
        ad, attrs = self.adapter, vars(self.layer)
        try:
            if forward:
                ad.forward_raw(self.x)
            returned = ad.backward(ad.dvalues())
        except Exception:
            return None
        finally:
            if forward or not self.backward_clean:  # (a backward alone that changed
                self._put_back_all()  # nothing the first time has nothing to put back)
        return read_gradients(attrs, tensors, returned, {}, copy=copy)


_CHUNK = scratch.CHUNK


def _max_excess(
    a: np.ndarray, g: np.ndarray, g0: np.ndarray | None, k: float
) -> float | None:
    """The largest ``|a - k g|`` (``|(a - g) - (g - g0)|`` with ``g0``) where it exceeds
    64 ulps of the sizes involved plus the arrays' largest size, and a few of the
    smallest normal numbers (subnormal gradients lose relative precision and differ by
    1e-45 for nothing); None when it exceeds nowhere.  In float64 chunks: no full-size
    copy of a large gradient."""
    kind = g.dtype.kind
    geps = float(np.finfo(g.dtype).eps) if kind == "f" else float(np.finfo(np.float64).eps)
    tiny = float(np.finfo(g.dtype).tiny) if kind == "f" else 0.0
    arrays = [a, g] if g0 is None else [a, g, g0]
    weights = [1.0, k] if g0 is None else [1.0, 2.0, 1.0]
    flats = [x.reshape(-1) for x in arrays]
    peak = floor = math.nan  # the arrays' largest size, and the threshold where sizes are 0:
    worst = None  # six passes over the arrays, made only once some chunk is not exact
    for i in range(0, g.size, _CHUNK):
        c = [x[i : i + _CHUNK] for x in flats]
        if any(x.dtype != np.float64 for x in c):
            c = [x.astype(np.float64) for x in c]
        diff = scratch.buffer(c[0].size)  # into reused buffers: no fresh temporaries
        if g0 is None:
            np.multiply(c[1], k, out=diff)
            # scaling by 2 is exact in binary floating point: a linear backward usually
            # gives k * g bit for bit, which two cheap passes tell
            same = np.equal(c[0], diff, out=scratch.buffer(c[0].size, np.bool_))
            if same.all():
                continue
            np.subtract(c[0], diff, out=diff)
        else:
            np.subtract(c[0], c[1], out=diff)
            diff -= np.subtract(c[1], c[2], out=scratch.buffer(c[0].size, slot=1))
        np.abs(diff, out=diff)
        if math.isnan(peak):
            peak = sum(w * _abs_max(x) for w, x in zip(weights, arrays, strict=True))
            floor = 64 * geps * peak + 64 * tiny
        if not diff.size or not float(np.max(diff)) > floor:
            continue  # within the smallest threshold everywhere (the usual case): no sizes
        size = sum(w * np.abs(x) for w, x in zip(weights, c, strict=True))
        excess = diff > 64 * geps * (size + peak) + 64 * tiny
        if np.any(excess):
            m = float(np.max(diff[excess]))
            worst = m if worst is None or m > worst else worst
    return worst


def _abs_max(x: np.ndarray) -> float:
    """max |x| without a temporary array (0 for an empty one)."""
    if not x.size:
        return 0.0
    return float(max(abs(float(np.max(x))), abs(float(np.min(x)))))


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
