"""Full checks by Jacobian compression: which entries of a tensor may be perturbed
together, found from the layer itself and verified at the point being checked.

Two structures cover the layers people write:

* **rows** -- sample ``i`` of the inputs (or of a function's first argument)
  reaches only row ``i`` of the output: every layer that treats samples
  independently (dense, activations, convolutions, per-sample losses), so the
  entries ``x[:, k]`` of every sample go together: ``size / batch`` groups;
* **columns** -- entry ``W[..., j]`` reaches only output column ``j``: a dense
  layer's weights and biases, so ``W[k, :]`` go together: ``size / n_out`` groups.

A structure is a hypothesis until the layer confirms it: a seeded sample of
entries is perturbed one at a time, and every output entry that changed (bit
for bit) must lie in the block the structure predicts -- batch norm, whose
every output moves with every input, is found to mix rows and is not
compressed.  After the compressed estimate, one directional probe over the
whole tensor must agree with the sum the compressed derivatives predict (a
structure that fails somewhere the sample did not look shows there), and any
entry the compressed estimate calls wrong is estimated again one at a time
before it is reported.  So compression changes the cost, never the verdict.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from derivcheck import fd
from derivcheck.fd import steps
from derivcheck.fd.compressed import grouped_partials
from derivcheck.fd.stencil import flat_view, step_ratio

#: compression is used at all (tests switch it off to compare verdicts with and without)
ENABLED = True
#: entries per tensor perturbed alone to confirm a structure
SAMPLE = 8
SAMPLE_SALT = 0x6370  # "cp": the sample's seed is (seed, SAMPLE_SALT)
#: evaluations compression spends besides two per group (the sample, the noise, the
#: cross-check): a tensor is compressed only when that saves evaluations
OVERHEAD = SAMPLE + 2 + steps.NOISE_POINTS + 16
#: ``mode="auto"``: the full check is chosen when it is estimated to take at most this long
FULL_SECONDS = 1.0


@dataclass
class Structure:
    """Which entries of a tensor may share a perturbation."""

    name: str  # "rows" | "columns"
    owner: np.ndarray  # block id of each flat entry of the tensor
    out_block: np.ndarray  # block id of each flat entry of the output
    n_blocks: int

    @property
    def groups(self) -> int:
        return int(np.bincount(self.owner, minlength=1).max()) if self.owner.size else 0

    def block_sums(self, values: np.ndarray) -> np.ndarray:
        """The sum of ``values`` (one per output entry, row-major) over each block."""
        # rows are contiguous runs and columns a stride: a reshaped sum, not a bincount
        if self.name == "rows":
            return values.reshape(self.n_blocks, -1).sum(axis=1)
        return values.reshape(-1, self.n_blocks).sum(axis=0)


def block_function(adapter: Any) -> Callable[[], np.ndarray] | None:
    """``blocks()``: the probe's terms, one per output entry (float64, flat), whose sum is
    the probe; None for a layer whose probe is not such a sum (a penalty, a scalar output)."""
    if adapter.penalty is not None:
        return None
    layer, x = adapter.layer, adapter.x
    if adapter.kind == "layer":
        G = adapter.G64.reshape(-1)

        def layer_blocks() -> np.ndarray:
            adapter.forward_raw(x)
            return np.asarray(layer.output, dtype=np.float64).reshape(-1) * G

        return layer_blocks
    if adapter.kind == "layer_returns":
        G = adapter.G64.reshape(-1)
        return lambda: np.asarray(adapter.forward_raw(x), dtype=np.float64).reshape(-1) * G
    if adapter.kind == "loss":
        n = len(x)
        return lambda: np.asarray(adapter.forward_raw(x), dtype=np.float64).reshape(-1) / n
    return None


def candidates(shape: tuple[int, ...], out_shape: tuple[int, ...]) -> list[Structure]:
    """The structures whose shapes fit, fewest groups first."""
    size = math.prod(shape)
    out_size = math.prod(out_shape)
    found = []
    if len(shape) >= 1 and len(out_shape) >= 1 and shape[0] == out_shape[0] and shape[0] > 1:
        n = shape[0]
        found.append(
            Structure(
                "rows",
                np.arange(size) // (size // n),
                np.arange(out_size) // (out_size // n),
                n,
            )
        )
    if len(shape) >= 1 and len(out_shape) >= 1 and shape[-1] == out_shape[-1] and shape[-1] > 1:
        n = shape[-1]
        found.append(Structure("columns", np.arange(size) % n, np.arange(out_size) % n, n))
    return sorted(found, key=lambda s: s.groups)


def confirmed(
    structure: Structure,
    blocks: Callable[[], np.ndarray],
    array: np.ndarray,
    base: np.ndarray,
    eps: float,
    rng: np.random.Generator,
) -> tuple[bool, int]:
    """Whether a sample of entries, each perturbed alone, changes only the output entries
    of its own block (bit for bit); and the evaluations spent."""
    size = array.size
    picks = rng.choice(size, size=min(SAMPLE, size), replace=False)
    view = flat_view(array)
    eta = step_ratio(eps, [array])
    nfev = 0
    for e in picks.tolist():
        x = array.item(e) if array.ndim else array.item()
        step = eta * max(1.0, abs(x))
        view[e] = x + step
        try:
            moved = blocks()
        finally:
            view[e] = x
        nfev += 1
        if moved.shape != base.shape:
            return False, nfev
        with np.errstate(invalid="ignore"):
            changed = np.flatnonzero(~((moved == base) | (np.isnan(moved) & np.isnan(base))))
        if np.any(structure.out_block[changed] != structure.owner[e]):
            return False, nfev
    return True, nfev


def find(
    blocks: Callable[[], np.ndarray],
    array: np.ndarray,
    out_shape: tuple[int, ...],
    eps: float,
    seed: int,
) -> tuple[Structure | None, int]:
    """The structure with fewest groups that the layer confirms (None when none does,
    or when it would not save anything); and the evaluations spent."""
    options = [
        s for s in candidates(array.shape, out_shape) if 2 * s.groups + OVERHEAD < 2 * array.size
    ]
    if not options or array.dtype.kind != "f" or not array.flags.writeable:
        return None, 0
    base = blocks()
    nfev = 1
    rng = np.random.default_rng([seed, SAMPLE_SALT])
    for structure in options:
        ok, n = confirmed(structure, blocks, array, base, eps, rng)
        nfev += n
        if ok:
            return structure, nfev
    return None, nfev


def estimate(
    blocks: Callable[[], np.ndarray],
    probe: Callable[[], float],
    array: np.ndarray,
    structure: Structure,
    analytic: np.ndarray,
    *,
    eps: float,
    rng: np.random.Generator,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[fd.EntryEstimates | None, int]:
    """Every entry's estimate by compression, or None when the directional probe over the
    whole tensor does not bear it out (the caller then checks entry by entry)."""
    sigma = fd.noise_level(probe, [array], eps=eps)
    nfev = 1 + steps.NOISE_POINTS
    f_point = float(probe())
    nfev += 1
    est, first_value, first_error = grouped_partials(
        blocks,
        array,
        structure.owner,
        structure.block_sums,
        analytic=analytic,
        eps=eps,
        sigma=sigma,
        f_scale=abs(f_point),
        progress=progress,
    )
    nfev += est.nfev
    # the sum the compressed derivatives predict along a random direction, against a
    # directional probe of the same tensor: a structure broken where the sample did not
    # look shows here
    d = rng.standard_normal(array.size)
    (probe_est,) = fd.directional_derivatives(
        probe, [array], [[d.reshape(array.shape)]], eps=eps, noise=sigma
    )
    nfev += probe_est.nfev
    predicted = float(np.dot(first_value, d))
    spread = float(np.dot(np.abs(first_value), np.abs(d)))
    bound = steps.SAFETY * (probe_est.error + float(np.dot(first_error, np.abs(d))))
    bound += steps.ULPS * eps * (spread + abs(probe_est.value))
    if probe_est.kink or not abs(predicted - probe_est.value) <= bound:
        return None, nfev
    return est, nfev


def time_one(probe: Callable[[], float], repeats: int = 3) -> float:
    """Seconds per evaluation of the probe (the best of a few)."""
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        probe()
        best = min(best, time.perf_counter() - t0)
    return best


def strategy_text(
    structures: dict[str, Structure | None], seconds: float | None, budget: float = FULL_SECONDS
) -> str:
    """The report's strategy line for a full check that compressed some tensors."""
    parts = [
        f"{name} in {s.groups:,} group{'' if s.groups == 1 else 's'} ({s.name})"
        for name, s in structures.items()
        if s
    ]
    text = "every entry; by compression: " + ", ".join(parts) if parts else "every entry"
    if seconds is not None and seconds > 0.1 * budget:  # (a tiny layer: no figure)
        text += f"\n(mode auto: a full check estimated at {seconds:.2g} s, within {budget:g} s)"
    return text


def directional_reason(seconds: float, budget: float = FULL_SECONDS) -> str:
    return f"\n(mode auto: a full check was estimated at {seconds:.2g} s, over {budget:g} s)"


def msg_not_borne_out(name: str, structure: Structure) -> str:
    return (
        f"Note: {name}: the compressed estimate ({structure.name}) was not borne out by a "
        "probe of the whole tensor or by entries estimated alone: checked entry by entry."
    )
