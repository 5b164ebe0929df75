"""Layer checks at scale: derivcheck beside torch and JAX, in one run (issue 11).

(f) directional checks of the book's ``Layer_Dense``, batch 32, at 256 -> 128,
    784 -> 128 and 4096 -> 4096: wall time (the best of rounds that run each tool once
    in turn, so a slow spell of the machine falls on all of them), forward
    evaluations, and the extra memory (tracemalloc peak against the layer's own
    arrays), beside ``torch.autograd.gradcheck(fast_mode=True)`` on the same
    numpy layer and ``jax.test_util.check_grads`` on a JAX dense layer with a
    ``custom_vjp`` backward;
(g) detection of one ``dweights`` entry off by 1 %, over 20 seeds (a new
    entry each seed), 256 -> 128: derivcheck directional, torch fast mode, JAX;
(h) full checks of every entry (Jacobian compression), 64 -> 32 and 784 -> 128,
    beside torch's slow gradcheck (64 -> 32 only: at 784 -> 128 it needs two
    forwards per entry, 251,136 of them);
(i) a naive convolution (CS231n ``conv_forward_naive``) in ``mode="auto"``.

Forward evaluations are printed beside wall time, so the distance to the
physical minimum (two per group for a full check) shows.  torch and jax are
optional (``pip install torch==2.13.0 "jax[cpu]"``); their columns are skipped
with a note when absent.  BLAS threads default to 1.  Figures only.

Run:  python bench/scale.py            (--quick: skip 4096 -> 4096; --directional: (f) only)
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS"):
    if _var == "XLA_FLAGS":
        os.environ.setdefault(_var, "--xla_cpu_multi_thread_eigen=false")
    else:
        os.environ.setdefault(_var, "1")

import sys  # noqa: E402
import tracemalloc  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from layers import best_of, make_dense, row, torch, torch_gradcheck  # noqa: E402

import derivcheck as dc  # noqa: E402

jax: Any
try:
    import jax
    import jax.numpy as jnp
    from jax.test_util import check_grads

    jax.config.update("jax_enable_x64", True)
except ImportError:  # optional
    jax = None

SEED = 0


def jax_dense(where: tuple[int, int] | None = None, factor: float = 1.0) -> Any:
    """x @ W + b with a hand-written backward (custom_vjp), dweights[where] *= factor."""

    @jax.custom_vjp
    def dense(x: Any, w: Any, b: Any) -> Any:
        return x @ w + b

    def fwd(x: Any, w: Any, b: Any) -> Any:
        return x @ w + b, (x, w)

    def bwd(res: Any, g: Any) -> Any:
        x, w = res
        dw = x.T @ g
        if where is not None:
            dw = dw.at[where].multiply(factor)
        return g @ w.T, dw, g.sum(axis=0, keepdims=True)

    dense.defvjp(fwd, bwd)
    return dense


def jax_check(layer: Any, x: np.ndarray, where: tuple[int, int] | None = None,
              factor: float = 1.0) -> bool:
    """check_grads(order=1, modes=['rev']) on the layer's arrays: True when it passes."""
    args = (jnp.asarray(x), jnp.asarray(layer.weights), jnp.asarray(layer.biases))
    try:
        check_grads(jax_dense(where, factor), args, order=1, modes=["rev"])
    except AssertionError:
        return False
    return True


def layer_bytes(layer: Any, x: np.ndarray) -> int:
    """The layer's own arrays as a user has them after a forward and backward, and x."""
    arrays = [v for v in vars(layer).values() if isinstance(v, np.ndarray)]
    return sum(a.nbytes for a in arrays) + x.nbytes


def interleaved(runs: dict[str, Any], rounds: int) -> dict[str, tuple[float, Any]]:
    """Best wall time and last result of each callable, over ``rounds`` rounds that run
    each once in turn: a slow spell of the machine (page faults, a noisy neighbour) then
    falls on every tool alike, not on whichever ran during it."""
    best = {name: (float("inf"), None) for name in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            t, result = best_of(fn, 1)
            best[name] = (min(best[name][0], t), result)
    return best


def directional(sizes: list[tuple[int, int]]) -> None:
    print("\n(f) directional check, Dense batch 32 (best of interleaved rounds; memory: "
          "tracemalloc peak)")
    for n_in, n_out in sizes:
        layer, x = make_dense(n_in, n_out, 32)
        layer.forward(x, training=False)
        layer.backward(np.ones((32, n_out)))
        rounds = 4 if n_in * n_out > 10**6 else 15
        runs: dict[str, Any] = {
            "derivcheck": lambda L=layer, x=x: dc.check_layer(
                L, x, mode="directional", seed=SEED)}
        if torch is not None:
            runs["torch"] = lambda L=layer, x=x: torch_gradcheck(L, x, fast_mode=True)
        if jax is not None:
            jax_check(layer, x)  # compile and warm up once
            runs["jax"] = lambda L=layer, x=x: jax_check(L, x)
        best = interleaved(runs, rounds)
        t, rep = best["derivcheck"]
        tracemalloc.start()
        dc.check_layer(layer, x, mode="directional", seed=SEED)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        own = layer_bytes(layer, x)
        print(f"  {n_in} -> {n_out} ({rounds} rounds):")
        row("derivcheck check_layer(mode='directional')", f"{t * 1e3:.1f} ms",
            f"ok={rep.ok}, {rep.evaluations['forward']} forwards, "
            f"{rep.evaluations['backward']} backwards, extra memory "
            f"{peak / 1e6:.0f} MB = {peak / own:.1f}x the layer's {own / 1e6:.0f} MB")
        if torch is not None:
            t_t, ok_t = best["torch"]
            row("torch gradcheck(fast_mode=True)", f"{t_t * 1e3:.1f} ms",
                f"ok={ok_t}; ratio torch / derivcheck {t_t / t:.2f}x")
        if jax is not None:
            t_j, ok_j = best["jax"]
            row("jax check_grads(order=1, modes=['rev'])", f"{t_j * 1e3:.1f} ms",
                f"ok={ok_j}; ratio jax / derivcheck {t_j / t:.2f}x")


def detection(n_in: int = 256, n_out: int = 128, seeds: int = 20) -> None:
    print(f"\n(g) one dweights entry x1.01, {n_in} -> {n_out}, batch 32, over {seeds} seeds")
    caught = {"derivcheck directional": 0, "torch fast_mode": 0, "jax check_grads": 0}
    for s in range(seeds):
        rng = np.random.default_rng(100 + s)
        where = (int(rng.integers(n_in)), int(rng.integers(n_out)))
        layer, x = make_dense(n_in, n_out, 32, where=where, factor=1.01)
        rep = dc.check_layer(layer, x, mode="directional", seed=s)
        caught["derivcheck directional"] += (not rep.ok) and any(
            f.tensor == "dweights" and f.index == where for f in rep.failures
        )
        if torch is not None:
            torch.manual_seed(s)
            caught["torch fast_mode"] += not torch_gradcheck(layer, x, fast_mode=True)
        if jax is not None:
            caught["jax check_grads"] += not jax_check(layer, x, where, 1.01)
    for name, n in caught.items():
        absent = (name.startswith("torch") and torch is None) or (
            name.startswith("jax") and jax is None
        )
        note = "(derivcheck: caught and the entry named)" if name.startswith("derivcheck") else ""
        row(name, "not installed" if absent else f"{n} of {seeds}", note)


def full() -> None:
    print("\n(h) full check of every entry (Jacobian compression), Dense batch 32")
    for n_in, n_out in ((64, 32), (784, 128)):
        layer, x = make_dense(n_in, n_out, 32)
        entries = x.size + layer.weights.size + layer.biases.size
        t, rep = best_of(lambda L=layer, x=x: dc.check_layer(L, x, mode="full", seed=SEED), 5)
        row(f"derivcheck check_layer(mode='full'), {n_in} -> {n_out}",
            f"{t * 1e3:.1f} ms",
            f"ok={rep.ok}, {sum(rep.checked.values()):,} of {entries:,} entries, "
            f"{rep.evaluations['forward']:,} forwards (2 per entry would be {2 * entries:,})")
        bug, xb = make_dense(n_in, n_out, 32, where=(n_in - 1, n_out - 1), factor=1.01)
        t_b, rep_b = best_of(lambda L=bug, x=xb: dc.check_layer(L, x, mode="full", seed=SEED), 3)
        row("  with dweights[-1, -1] x1.01", f"{t_b * 1e3:.1f} ms",
            f"ok={rep_b.ok}, failures at {[(f.tensor, f.index) for f in rep_b.failures][:2]}")
        if torch is not None and n_in == 64:
            t_t, ok_t = best_of(lambda L=layer, x=x: torch_gradcheck(L, x, fast_mode=False), 2)
            row("torch gradcheck (slow mode: every entry)", f"{t_t * 1e3:.0f} ms",
                f"ok={ok_t}; ratio torch / derivcheck {t_t / t:.1f}x")
        elif torch is not None:
            row("torch gradcheck (slow mode)", "not run",
                f"two forwards per entry ({2 * entries:,}); > 120 s as measured in issue 11")


def convolution() -> None:
    from derivcheck.examples import cs231n

    print("\n(i) naive convolution (conv_forward_naive), mode='auto'")
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(2, 3, 8, 8))
    w = rng.normal(size=(4, 3, 5, 5))
    b = rng.normal(size=4)
    conv = {"stride": 1, "pad": 2}
    entries = x.size + w.size + b.size
    t, rep = best_of(
        lambda: dc.check_function(
            cs231n.conv_forward_naive, cs231n.conv_backward_naive, x, w, b, conv
        ),
        3,
    )
    strategy = rep.strategy.replace("\n", " ")
    row(f"check_function, {entries} entries", f"{t * 1e3:.0f} ms",
        f"ok={rep.ok}, {rep.evaluations['forward']} forwards; {strategy[:90]}")


def main() -> None:
    quick = "--quick" in sys.argv
    print(f"derivcheck at scale (seed={SEED}, numpy {np.__version__}, "
          f"torch {torch.__version__ if torch is not None else 'not installed'}, "
          f"jax {jax.__version__ if jax is not None else 'not installed'}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')})")
    if torch is None or jax is None:
        print('  missing peers are skipped: pip install torch==2.13.0 "jax[cpu]"')
    if torch is not None:
        torch.set_num_threads(1)
    sizes = [(256, 128), (784, 128)] + ([] if quick else [(4096, 4096)])
    directional(sizes)
    if "--directional" in sys.argv:
        return
    detection()
    full()
    convolution()


if __name__ == "__main__":
    main()
