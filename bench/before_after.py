"""The default layer check before and after a change, in one run (ratios: machines are noisy).

    git worktree add /tmp/before <rev>
    python bench/before_after.py /tmp/before

Imports derivcheck from the given checkout, then from this one, and prints the best
of 5 wall times of ``check_layer`` on the book's ``Layer_Dense`` (batch 32) in the
modes the issues track.  Figures only, no assertions.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = ((8, 4, "auto"), (64, 32, "full"), (64, 32, "directional"), (784, 128, "directional"))


def bench(path: str) -> dict[tuple[int, int, str], float]:
    for name in [m for m in sys.modules if m == "derivcheck" or m.startswith("derivcheck.")]:
        del sys.modules[name]
    sys.path.insert(0, path)
    try:
        import derivcheck as dc
        from derivcheck.examples.book import Layer_Dense

        assert os.path.dirname(os.path.dirname(dc.__file__)) == os.path.abspath(path)
        out = {}
        for n_in, n_out, mode in CASES:
            np.random.seed(0)
            layer = Layer_Dense(n_in, n_out)
            x = np.random.default_rng(0).normal(size=(32, n_in))
            best = float("inf")
            for _ in range(5):
                start = time.perf_counter()
                dc.check_layer(layer, x, mode=mode)
                best = min(best, time.perf_counter() - start)
            out[(n_in, n_out, mode)] = best
        return out
    finally:
        sys.path.remove(path)


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    before, after = bench(sys.argv[1]), bench(HERE)
    print(f"{'Layer_Dense, batch 32':32s} {'before':>10s} {'after':>10s} {'ratio':>7s}")
    for key in CASES:
        label = f"{key[0]} -> {key[1]}, mode={key[2]}"
        b, a = before[key], after[key]
        print(f"{label:32s} {b * 1e3:8.2f}ms {a * 1e3:8.2f}ms {a / b:7.2f}")


if __name__ == "__main__":
    main()
