"""Benchmark layer gradient checks: derivcheck against torch.autograd.gradcheck.

All on the book's ``Layer_Dense`` (float64), the probe ``sum(output * G)``:

(a) batch 32, 64 -> 32 (4,128 entries): derivcheck's full entry-by-entry check
    (``check_layer(mode="full")``, and the engine ``derivcheck.fd.arrays``
    driven directly) against ``torch.autograd.gradcheck`` (default slow mode)
    on the same numpy layer wrapped in a ``torch.autograd.Function``;
(b) the directional mode: time, and whether it catches one ``dweights`` entry
    off by 1 %; torch's ``gradcheck(fast_mode=True)`` on one entry off by x10
    and by 1 %;
(c) batch 32, 784 -> 128 (100k parameters): directional detection time (the engine
    driven directly, and ``check_layer`` on the correct layer) and localisation time
    of a 1 % single-entry bug (``check_layer`` on the buggy layer, minus detection),
    index found vs planted;
(d) every CS231n-style functional example (``check_function`` /
    ``check_value_and_grad``, reference="numeric"), beside torch gradcheck of the
    same numpy functions wrapped in a ``torch.autograd.Function`` (target <= 100 ms);
(e) ``check_model`` of the chapter-19 model (784 -> 128 -> 128 -> 10, batch 32) and of a
    small classifier, correct and with a broken ReLU (target <= 1 s);
(f)-(i) the figures of issue 11 (layer checks at scale), from ``bench/scale.py``:
    directional checks up to 4096 -> 4096 beside torch fast mode and JAX
    ``check_grads`` with forward counts and memory, 20-seed detection, full checks by
    Jacobian compression, the naive convolution in auto mode (``--quick`` skips
    4096 -> 4096; ``--no-scale`` skips (f)-(i)).

Times are the best of a few repeats (the machine may be shared).  Figures
only, no assertions.  BLAS threads default to 1 (``OPENBLAS_NUM_THREADS``,
override it in the environment): the probes are small matrix products, where
threads cost more than they give.

Run:  python bench/layers.py      (torch and jax are optional:
                                  pip install torch==2.13.0 "jax[cpu]")
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import derivcheck as dc  # noqa: E402
from derivcheck import fd  # noqa: E402
from derivcheck.examples.book import Layer_Dense  # noqa: E402

torch: Any
try:
    import torch
except ImportError:  # optional
    torch = None

SEED = 0
F64 = float(np.finfo(np.float64).eps)


def best_of(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, Any]:
    """(best wall time in seconds, last result)."""
    best = float("inf")
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


class DenseWithBug(Layer_Dense):
    """The book's Dense with one ``dweights`` entry multiplied by ``factor``."""

    def __init__(self, n_in: int, n_out: int, where: tuple[int, int], factor: float) -> None:
        super().__init__(n_in, n_out)
        self.where = where
        self.factor = factor

    def backward(self, dvalues: np.ndarray) -> None:
        super().backward(dvalues)
        self.dweights[self.where] *= self.factor


def make_dense(n_in: int, n_out: int, batch: int, where=None, factor=1.0):
    np.random.seed(SEED)  # the book's layers draw weights from numpy's global state
    layer = DenseWithBug(n_in, n_out, where or (0, 0), factor)
    # non-zero biases so every tensor's gradient matters
    layer.biases = 0.1 * np.random.default_rng(SEED + 1).standard_normal((1, n_out))
    x = np.random.default_rng(SEED + 2).standard_normal((batch, n_in))
    return layer, x


# --------------------------------------------------------------------------- engine-only drivers


def engine_probe(layer: Layer_Dense, x: np.ndarray):
    """The probe, the arrays and the backward's gradients, as check_layer would build them."""
    G = np.random.default_rng(SEED + 3).standard_normal((x.shape[0], layer.weights.shape[1]))

    def f() -> float:
        layer.forward(x, training=False)
        return float(np.vdot(layer.output, G))

    f()
    layer.backward(G)
    arrays = [x, layer.weights, layer.biases]
    analytics = [layer.dinputs.copy(), layer.dweights.copy(), layer.dbiases.copy()]
    return f, arrays, analytics


def engine_full(layer: Layer_Dense, x: np.ndarray) -> tuple[bool, int]:
    f, arrays, analytics = engine_probe(layer, x)
    ok, nfev = True, 0
    for arr, grad in zip(arrays, analytics, strict=True):
        est = fd.partial_derivatives(f, arr, analytic=grad.reshape(-1))
        ok &= fd.compare(grad.reshape(-1), est, eps=F64).ok
        nfev += est.nfev
    return ok, nfev


def engine_directional(layer: Layer_Dense, x: np.ndarray, probes: int = 4) -> tuple[bool, int]:
    """``probes`` Gaussian directions over all entries of all tensors at once."""
    f, arrays, analytics = engine_probe(layer, x)
    noise = fd.noise_level(f, arrays)
    nfev = 9
    rng = np.random.default_rng(SEED)
    caught = False
    for _ in range(probes):
        directions = [rng.standard_normal(a.shape) for a in arrays]
        est = fd.directional_derivatives(f, arrays, [directions], noise=noise)[0]
        nfev += est.nfev
        expected = sum(float(np.vdot(g, d)) for g, d in zip(analytics, directions, strict=True))
        caught |= not fd.compare(expected, est, eps=F64).ok
    return caught, nfev


def engine_localise(layer: Layer_Dense, x: np.ndarray) -> list[tuple[int, tuple[int, ...]]]:
    f, arrays, analytics = engine_probe(layer, x)
    return fd.localise(f, arrays, analytics, eps=F64, seed=SEED)


# --------------------------------------------------------------------------- torch


def torch_gradcheck(layer: Layer_Dense, x: np.ndarray, fast_mode: bool) -> bool:
    """gradcheck of the numpy layer wrapped in an autograd Function."""
    assert torch is not None

    class NumpyDense(torch.autograd.Function):
        @staticmethod
        def forward(ctx, xt, wt, bt):
            ctx.save_for_backward(xt, wt, bt)
            layer.weights, layer.biases = wt.detach().numpy(), bt.detach().numpy()
            layer.forward(xt.detach().numpy(), training=False)
            return torch.from_numpy(layer.output.copy())

        @staticmethod
        def backward(ctx, grad_out):
            xt, wt, bt = ctx.saved_tensors
            layer.weights, layer.biases = wt.detach().numpy(), bt.detach().numpy()
            layer.forward(xt.detach().numpy(), training=False)  # at the unperturbed point
            layer.backward(grad_out.detach().numpy().copy())
            return (torch.from_numpy(layer.dinputs.copy()), torch.from_numpy(layer.dweights.copy()),
                    torch.from_numpy(layer.dbiases.copy()))

    weights, biases = layer.weights, layer.biases
    inputs = (torch.tensor(x, requires_grad=True),
              torch.tensor(weights, requires_grad=True),
              torch.tensor(biases, requires_grad=True))
    torch.manual_seed(SEED)
    try:
        return bool(torch.autograd.gradcheck(NumpyDense.apply, inputs, fast_mode=fast_mode,
                                             raise_exception=False))
    finally:
        layer.weights, layer.biases = weights, biases


# --------------------------------------------------------------------------- main


def row(label: str, value: str, note: str = "") -> None:
    print(f"  {label:<58} {value:>14}  {note}")


def main() -> None:
    print(f"derivcheck layer benchmark (seed={SEED}, numpy {np.__version__}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, "
          f"torch {torch.__version__ if torch is not None else 'not installed'})")
    if torch is None:
        print("  torch columns skipped: pip install torch==2.13.0")
    else:
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    # (a) ------------------------------------------------------------------
    print("\n(a) Dense batch 32, 64 -> 32, float64: full entry-by-entry check (4,128 entries)")
    layer, x = make_dense(64, 32, 32)
    t_full, rep = best_of(lambda: dc.check_layer(layer, x, mode="full", seed=SEED), 5)
    row("derivcheck check_layer(mode='full')", f"{t_full * 1e3:.1f} ms",
        f"ok={rep.ok}, nfev={getattr(rep, 'nfev', '?')}")
    t_eng, (ok_eng, nfev_eng) = best_of(lambda: engine_full(layer, x), 5)
    row("derivcheck.fd.arrays alone (probe written here)", f"{t_eng * 1e3:.1f} ms",
        f"ok={ok_eng}, nfev={nfev_eng}")
    f, _, _ = engine_probe(layer, x)
    t_f, _ = best_of(lambda: [f() for _ in range(1000)])
    row("  one probe evaluation (forward + vdot)", f"{t_f * 1e3:.1f} us")
    if torch is not None:
        t_torch, ok_torch = best_of(lambda: torch_gradcheck(layer, x, fast_mode=False), 2)
        row("torch.autograd.gradcheck (slow mode, numpy Function)", f"{t_torch * 1e3:.1f} ms",
            f"ok={ok_torch}")
        row("speed ratio torch / check_layer(full)", f"{t_torch / t_full:.1f}x", "(target >= 10x)")
        row("speed ratio torch / fd alone", f"{t_torch / t_eng:.1f}x")

    # (b) ------------------------------------------------------------------
    print("\n(b) directional mode, same layer; bugs planted in dweights")
    good, xg = make_dense(64, 32, 32)
    one_pct, x1 = make_dense(64, 32, 32, where=(63, 31), factor=1.01)
    t_dir, rep_good = best_of(lambda: dc.check_layer(good, xg, mode="directional", seed=SEED), 20)
    rep_bad = dc.check_layer(one_pct, x1, mode="directional", seed=SEED)
    row("check_layer(mode='directional'), correct layer", f"{t_dir * 1e3:.2f} ms",
        f"ok={rep_good.ok}, nfev={getattr(rep_good, 'nfev', '?')}  (target <= 2 ms)")
    bad_where = [(f.tensor, f.index) for f in rep_bad.failures][:3]
    row("check_layer(mode='directional'), dweights[63, 31] x1.01", "caught" if not rep_bad.ok
        else "MISSED", f"failures at {bad_where}")
    t_ed, (caught_good, nfev_d) = best_of(lambda: engine_directional(good, xg), 5)
    row("fd: noise + 4 probes over all tensors, correct", f"{t_ed * 1e3:.2f} ms",
        f"flagged={caught_good}, nfev={nfev_d}")
    caught, _ = engine_directional(one_pct, x1)
    row("fd: 4 probes, dweights[63, 31] x1.01", "caught" if caught else "MISSED")
    if torch is not None:
        ten_x, x10 = make_dense(64, 32, 32, where=(63, 31), factor=10.0)
        for label, lay, xx in (("x10", ten_x, x10), ("x1.01", one_pct, x1), ("correct", good, xg)):
            def fast(lay: Layer_Dense = lay, xx: np.ndarray = xx) -> bool:
                return torch_gradcheck(lay, xx, fast_mode=True)

            t_fast, passed = best_of(fast, 2)
            verdict = "passes" if passed else "fails"
            note = "" if label == "correct" else ("(missed)" if passed else "(caught)")
            row(f"torch gradcheck(fast_mode=True), {label}", f"{t_fast * 1e3:.2f} ms",
                f"{verdict} {note}")
        t_slow_bad = torch_gradcheck(one_pct, x1, False)
        row("torch gradcheck(slow), x1.01", "passes (missed)" if t_slow_bad else "fails (caught)")

    # (c) ------------------------------------------------------------------
    print("\n(c) Dense batch 32, 784 -> 128 (100,480 parameters + 25,088 inputs), 1 % bug")
    planted = (517, 93)
    big, xb = make_dense(784, 128, 32, where=planted, factor=1.01)
    big_ok, xbo = make_dense(784, 128, 32)
    t_det, (caught_big, nfev_big) = best_of(lambda: engine_directional(big, xb), 3)
    row("fd: noise + 4 probes, detection", f"{t_det * 1e3:.1f} ms",
        f"{'caught' if caught_big else 'MISSED'}, nfev={nfev_big} (target <= 50 ms)")
    _, (flag_ok, _) = best_of(lambda: engine_directional(big_ok, xbo), 1)
    row("fd: 4 probes, correct layer", "flagged" if flag_ok else "passes")
    t_loc, found = best_of(lambda: engine_localise(big, xb), 3)
    row("fd.localise", f"{t_loc * 1e3:.1f} ms",
        f"found {found}, planted (1, {planted}) (target <= 500 ms)")
    # check_layer on the correct layer costs what detection costs (contracts, noise, joint
    # probes, the small sample); on the buggy one, detection plus localisation
    t_cd, rep_ok = best_of(lambda: dc.check_layer(big_ok, xbo, mode="directional", seed=SEED), 3)
    row("check_layer(mode='directional'), correct layer: detection", f"{t_cd * 1e3:.1f} ms",
        f"ok={rep_ok.ok}, nfev={rep_ok.nfev} (target <= 50 ms)")
    t_cl, rep_big = best_of(lambda: dc.check_layer(big, xb, mode="directional", seed=SEED), 3)
    row("check_layer(mode='directional'), 1 % bug: + localisation",
        f"{t_cl * 1e3:.1f} ms", f"nfev={rep_big.nfev}")
    row("  localisation alone (difference of the two)", f"{(t_cl - t_cd) * 1e3:.1f} ms",
        f"ok={rep_big.ok}, failures at {[(f.tensor, f.index) for f in rep_big.failures][:3]} "
        "(target <= 500 ms)")
    t_auto, rep_auto = best_of(lambda: dc.check_layer(big_ok, xbo, seed=SEED), 3)
    row("check_layer(mode='auto'), correct layer", f"{t_auto * 1e3:.1f} ms",
        f"ok={rep_auto.ok}, checked={sum(rep_auto.checked.values())} entries one by one")

    functional_and_models()
    if "--no-scale" not in sys.argv:
        import scale  # the issue-11 figures, printed beside torch and jax in the same run

        print()
        scale.main()


def torch_gradcheck_function(forward: Any, backward: Any, args: tuple) -> bool:
    """torch gradcheck of a numpy forward/backward pair, float arguments differentiated."""
    pos = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]

    class Fn(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *tensors):  # type: ignore[override]
            call = list(args)
            for i, t in zip(pos, tensors, strict=True):
                call[i] = t.detach().numpy()
            result = forward(*call)
            ctx.cache = result[-1]
            return torch.from_numpy(np.asarray(result[0]))

        @staticmethod
        def backward(ctx, dout):  # type: ignore[override]
            grads = backward(dout.numpy(), ctx.cache)
            grads = [grads] if isinstance(grads, np.ndarray) else list(grads)
            return tuple(torch.from_numpy(np.asarray(g)) for g in grads)

    tensors = [torch.tensor(args[i], requires_grad=True) for i in pos]
    return bool(torch.autograd.gradcheck(Fn.apply, tensors, raise_exception=False))


def functional_and_models() -> None:
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from derivcheck.examples import broken as book_broken
    from derivcheck.examples import cs231n
    from derivcheck.examples.book_model import book_classifier
    from tests.layers.cs231n_cases import cases

    print("\n(d) functional examples, check_function(reference='numeric') (target <= 100 ms)")
    single_output = {"affine", "relu", "batchnorm", "layernorm", "conv", "max_pool", "rnn"}
    for name, (forward, backward, args) in cases().items():
        t, rep = best_of(lambda f=forward, b=backward, a=args: dc.check_function(f, b, *a), 3)
        note = f"ok={rep.ok}, {sum(rep.checked.values())} entries one by one"
        if torch is not None and name in single_output:
            t_t, ok_t = best_of(
                lambda f=forward, b=backward, a=args: torch_gradcheck_function(f, b, a), 2
            )
            note += f"; torch gradcheck {t_t * 1e3:.1f} ms (ok={ok_t}), ratio {t_t / t:.1f}x"
        row(f"  {name}", f"{t * 1e3:.1f} ms", note)
    rng = np.random.default_rng(SEED)
    x, y = rng.normal(size=(32, 10)), rng.integers(0, 10, size=32)
    for fun in (cs231n.softmax_loss, cs231n.svm_loss):
        t, rep = best_of(lambda f=fun: dc.check_value_and_grad(f, x, y), 3)
        row(f"  {fun.__name__} (32 x 10)", f"{t * 1e3:.1f} ms", f"ok={rep.ok}")
    net = cs231n.TwoLayerNet(input_dim=20, hidden_dim=16, num_classes=10, reg=0.1)
    X = rng.normal(size=(32, 20))
    t, rep = best_of(lambda: dc.check_value_and_grad(net.loss, X, y, params=net.params), 3)
    row("  TwoLayerNet.loss, params dict (20-16-10)", f"{t * 1e3:.1f} ms", f"ok={rep.ok}")

    print("\n(e) check_model, the book's Model (target <= 1 s for the chapter-19 model)")
    Xm = rng.normal(size=(32, 784))
    ym = rng.integers(0, 10, size=32)
    model = book_classifier(n_inputs=784, hidden=128, classes=10, seed=SEED)
    t, rep = best_of(lambda: dc.check_model(model, Xm, ym), 2)
    modes = ", ".join("directional" if "probes" in r.strategy else "full" for r in rep.layers)
    row("  784-128-128-10, batch 32, correct", f"{t * 1e3:.0f} ms",
        f"ok={rep.ok}, strategies: {modes}")
    bad = book_classifier(n_inputs=784, hidden=128, classes=10, seed=SEED,
                          relu=book_broken.ReLU_MaskFromDvalues)
    t, rep = best_of(lambda: dc.check_model(bad, Xm, ym), 2)
    row("  784-128-128-10, broken ReLU", f"{t * 1e3:.0f} ms",
        f"ok={rep.ok}, first_wrong={rep.first_wrong}")
    small = book_classifier(n_inputs=4, hidden=16, classes=3, seed=SEED)
    Xs, ys = rng.normal(size=(32, 4)), rng.integers(0, 3, size=32)
    t, rep = best_of(lambda: dc.check_model(small, Xs, ys), 3)
    row("  4-16-16-3, batch 32, correct", f"{t * 1e3:.0f} ms", f"ok={rep.ok}")


if __name__ == "__main__":
    main()
