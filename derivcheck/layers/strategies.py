"""The numeric strategies: every entry (full), or Gaussian directional probes over
every entry at once, localised to entries when one disagrees (directional).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from derivcheck import fd
from derivcheck.fd import steps
from derivcheck.fd.probes import estimates_along, quarter_turn
from derivcheck.fd.stencil import dot_and_abs_dot
from derivcheck.layers import compress, entries
from derivcheck.layers import report as msg
from derivcheck.layers.adapters import Tensor
from derivcheck.layers.base import (
    FALLBACK_ENTRIES,
    JOINT_PROBES,
    MAX_FAILURES_PER_TENSOR,
    SAMPLED_ENTRIES,
    CheckBase,
)
from derivcheck.layers.diagnose import diagnose_shape
from derivcheck.layers.entries import Sparse
from derivcheck.layers.report import TensorCheck
from derivcheck.layers.state import entry_index

#: |g|^2 within which the Cauchy-Schwarz bound is computed from it (no overflow to inf, no
#: underflow into subnormal numbers); otherwise sum |g d| itself
_NORM_SAFE = (1e-280, 1e280)


class Strategies(CheckBase):
    """The numeric steps of a check (a mixin of the check)."""

    def _plan(self, tensors: list[Tensor]) -> tuple[bool, float | None]:
        """Full or directional, and the full check's estimated seconds (auto mode).

        The structure of every tensor is looked for first (a few evaluations each): a
        compressible tensor costs two evaluations per group, the others two per entry.
        ``mode="auto"`` picks the full check when one evaluation of the probe times that
        fits ``full_budget`` (default :data:`~derivcheck.layers.compress.FULL_SECONDS`).
        """
        self.structures = {}
        blocks = compress.block_function(self.adapter) if compress.ENABLED else None
        self.blocks = blocks
        total = sum(t.array.size for t in tensors)
        if self.mode == "directional" or (self.mode == "auto" and total > 50 * self.full_limit):
            return False, None
        evals = 0
        plain = 0
        out_shape = np.shape(self.first_output) if self.adapter.is_layer else (len(self.x),)
        for t in tensors:
            s = None
            if blocks is not None and t.ok:
                try:
                    s, n = compress.find(blocks, t.array, out_shape, self.eps, self.seed)
                except Exception:
                    s, n = None, 0
                finally:
                    self._put_back_all()
                self.nfev += n
            self.structures[t.grad_name] = s
            if s is None:
                plain += t.array.size
                evals += 2 * t.array.size
            else:
                evals += 2 * s.groups + compress.OVERHEAD
        if self.mode == "full":
            return True, None
        if plain > self.full_limit:
            return False, None
        seconds = evals * compress.time_one(self.probe)
        self.nfev += 3
        return seconds <= self.full_budget, seconds

    def _numeric(self, tensors: list[Tensor]) -> None:
        total = sum(t.array.size for t in tensors)
        full, seconds = self._plan(tensors)
        self.full_check = full
        # progress in planned evaluations: two per group of a compressed tensor, two per
        # entry of another (the directional strategy: one stage)
        weights = [self._planned_evaluations(t) if full else 0 for t in tensors]
        stages = sum(weights) if full else 1
        self.progress_base = 0
        for t, weight in zip(tensors, weights, strict=True):
            if full or not t.ok:
                self._report_progress(t.grad_name, self.progress_base, stages)
                self.progress_total = stages
                self._guarded([t], lambda group: self._numeric_tensor(group[0]))
            self.progress_base += weight
        if full:  # after the fact: a tensor whose grouping was not borne out is not named
            self.strategy = compress.strategy_text(self.structures, seconds, self.full_budget)
        else:
            self.strategy = msg.strategy_directional(total, JOINT_PROBES)
            if seconds is not None:
                self.strategy += compress.directional_reason(seconds, self.full_budget)
            live = [t for t in tensors if t.ok]
            # progress in evaluations planned: two per probe, two per sampled entry (a
            # failing probe's localisation adds what cannot be planned)
            stages = self.progress_total = 2 * JOINT_PROBES + 2 * len(live) * SAMPLED_ENTRIES
            if live:
                self._report_progress("directional probes", 0, stages)
                self._guarded(live, self._directional)
        self._report_progress("done", stages, stages)
        # the report lists the tensors in this order
        order = [t.grad_name for t in tensors if t.grad_name in self.tensors]
        self.tensors = {name: self.tensors[name] for name in order}

    def _planned_evaluations(self, t: Tensor) -> int:
        s = self.structures.get(t.grad_name)
        return 2 * s.groups + compress.OVERHEAD if s is not None else 2 * t.array.size

    def _report_progress(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    def _guarded(self, group: list[Tensor], step: Callable[[list[Tensor]], None]) -> None:
        """Run ``step`` on ``group``; when it raises, one tensor at a time, so the failure
        names the tensor whose perturbation breaks forward (or that cannot be perturbed)."""
        try:
            step(group)
        except Exception as exc:  # forward fails a step away from the point, or the
            # array cannot be perturbed (read-only): that tensor is not checked
            if len(group) > 1:
                for t in group:
                    self._guarded([t], step)
                return
            t = group[0]
            self.fail(t.grad_name, "exception", msg.msg_numeric_failed(t.grad_name, exc))
            check = self.tensors.get(t.grad_name)
            if check is not None:
                check.checked[...] = False
                check.mismatch[...] = False
        finally:
            self._put_back_all()

    def _new_check(self, t: Tensor) -> TensorCheck:
        shape = t.array.shape
        # a directional check estimates a few entries one by one: NaN arrays of the
        # tensor's shape are kept sparse until read (layers.entries)
        numeric: Any
        error: Any
        tol: Any
        if self.full_check:
            nan = np.full(shape, np.nan)
            numeric, error, tol = nan, nan.copy(), nan.copy()
        else:
            numeric, error, tol = Sparse(shape), Sparse(shape), Sparse(shape)
        check = TensorCheck(
            name=t.grad_name,
            wrt=t.name,
            shape=shape,
            analytic=t.grad if t.ok else None,
            numeric=numeric,
            error=error,
            checked=np.zeros(shape, dtype=bool),
            mismatch=np.zeros(shape, dtype=bool),
            kink=np.zeros(shape, dtype=bool),
            tol=tol,
            reference=self.reference,
            dtype=str(t.array.dtype),
        )
        self.tensors[t.grad_name] = check
        return check

    def _numeric_tensor(self, t: Tensor) -> None:
        """Every entry of ``t`` one by one; for an unusable gradient, the numeric gradient
        alone (small tensors), so that a wrong shape can be diagnosed."""

        check = self._new_check(t)
        if t.ok:
            structure = self.structures.get(t.grad_name)
            if structure is None or not self._compressed(check, t, structure):
                self._estimate(check, t, None)
            return
        if t.grad is not None and t.array.size <= self.full_limit and t.grad.size == t.array.size:
            est = fd.partial_derivatives(self.probe, t.array, None, eps=self.eps)
            self.nfev += int(est.nfev)
            idx = entry_index(est.index, t.array.ndim)
            check.numeric[idx] = est.value
            check.error[idx] = est.error
            check.diagnosis = diagnose_shape(t.grad_name, np.asarray(t.grad), check.numeric, est)

    def _compressed(self, check: TensorCheck, t: Tensor, structure: compress.Structure) -> bool:
        """Every entry of ``t`` by compression; False when the check must go entry by entry
        (the directional cross-check disagreed, or an entry it calls wrong is right when
        estimated alone).  Entries called wrong or kinks are re-estimated one at a time."""
        assert self.blocks is not None and t.grad is not None
        analytic = np.asarray(t.grad).reshape(-1).astype(np.float64)
        name = t.grad_name

        def progress(done: int, groups: int) -> None:
            self._report_progress(
                f"{name} group {done:,}/{groups:,}",
                self.progress_base + 2 * done,
                self.progress_total,
            )

        est, n = compress.estimate(
            self.blocks,
            self.probe,
            t.array,
            structure,
            analytic,
            eps=self.eps,
            rng=np.random.default_rng([self.seed, compress.SAMPLE_SALT, 1]),
            progress=progress if self.progress is not None else None,
        )
        self.nfev += n
        if est is None:
            self.notes.append(compress.msg_not_borne_out(name, structure))
            self.structures[name] = None
            return False
        cmp = fd.compare(analytic, est, eps=self.eps, rtol=self.rtol, atol=self.atol)
        flagged = np.flatnonzero(np.asarray(cmp.mismatch) | np.asarray(cmp.kink))
        self._store(check, t, est, cmp)
        if flagged.size:
            # what the report names is estimated one entry at a time, as without compression
            worst = flagged[np.argsort(-np.nan_to_num(np.abs(cmp.abs_diff[flagged]), nan=np.inf))]
            again = worst[: 2 * MAX_FAILURES_PER_TENSOR]
            was_wrong = check.mismatch.reshape(-1)[again].copy()
            indices = (
                np.stack(np.unravel_index(again, t.array.shape), axis=1)
                if t.array.ndim
                else None
            )
            self._estimate(check, t, indices)
            now_wrong = check.mismatch.reshape(-1)[again]
            if np.any(was_wrong & ~now_wrong):
                self.notes.append(compress.msg_not_borne_out(name, structure))
                self.structures[name] = None
                return False
        return True

    def _store(
        self, check: TensorCheck, t: Tensor, est: fd.EntryEstimates, cmp: fd.Comparison
    ) -> None:
        """Put the estimated entries and their verdicts into the tensor's check."""
        idx = entry_index(est.index, t.array.ndim)
        entries.put(check, "numeric", idx, est.value)
        entries.put(check, "error", idx, est.error)
        check.checked[idx] = True
        check.kink[idx] = np.asarray(cmp.kink, dtype=bool)
        check.mismatch[idx] = np.asarray(cmp.mismatch, dtype=bool) & ~check.kink[idx]
        entries.put(check, "tol", idx, cmp.tol)
        check.rule = msg.rule_text(self.rtol, self.atol)

    def _directional(self, group: list[Tensor]) -> None:
        """Gaussian probes over every entry of every tensor of ``group`` at once; only when
        one disagrees, probes per tensor and localisation of the wrong entries.

        The noise of the probe is measured at most once, when the rounding floor alone
        does not settle a comparison, and shared by every engine call after.  A probe
        that straddles a kink decides nothing: the tensors it leaves open get a larger
        sample of entries checked one by one.  Failures are recorded only at the end, so
        a rerun one tensor at a time (see :meth:`_guarded`) does not repeat them.
        """
        checks = [self._new_check(t) for t in group]
        arrays = [t.array for t in group]
        grads = [np.asarray(t.grad, dtype=np.float64) for t in group]
        total = sum(a.size for a in arrays)
        # one flat direction at a time, drawn where it is used (the same numbers as one
        # draw per array): no list of per-array directions beside their concatenation
        results, failing = [], []
        sigma: float | None = None
        f_point = self.f_point
        d = np.empty(total)  # one buffer for every probe's direction (a copy kept if it fails)
        for k in range(JOINT_PROBES):
            self._direction(d, k)
            (result,), sigma, f_point = self._probes(arrays, grads, [d], sigma, f_point)
            results.append(result)
            if result[0]:
                failing.append((d.copy(), result[2]))
            self._directional_progress(f"probe {k + 1} of {JOINT_PROBES}", 2 * (k + 1))
        del d
        kinky = any(kink for _, kink, _ in results)
        if len(group) == 1:
            verdicts = ["fail" if failing else "kink" if kinky else "ok"]
        elif failing:
            # the failing direction restricted to one tensor carries exactly that tensor's
            # share of the disagreement
            direction = max(failing, key=lambda item: item[1])[0]
            verdicts, ratios = [], []
            start = 0
            for arr, grad in zip(arrays, grads, strict=True):
                d = direction[start : start + arr.size]
                start += arr.size
                (res,), _, _ = self._probes([arr], [grad], [d], sigma, f_point)
                bad, kink, ratio = res
                verdicts.append("fail" if bad else "kink" if kink else "ok")
                ratios.append(ratio)
            if all(v == "ok" for v in verdicts):  # shares each within tolerance: the worst
                verdicts[int(np.argmax(ratios))] = "fail"
            del direction, d
        elif kinky:  # fresh probes of each tensor alone: a kink may lie in one tensor only
            verdicts = []
            for arr, grad in zip(arrays, grads, strict=True):
                own = [self.rng.standard_normal(arr.size) for _ in range(JOINT_PROBES)]
                alone, _, _ = self._probes([arr], [grad], own, sigma, f_point)
                if any(disagrees for disagrees, _, _ in alone):
                    verdicts.append("fail")
                else:
                    verdicts.append("kink" if any(k for _, k, _ in alone) else "ok")
        else:
            verdicts = ["ok"] * len(group)
        del failing  # (a copy of a whole direction each: not needed past the verdicts)
        f0 = f_point  # f at the point, as the probes evaluated it (every array put back)
        if f0 is None:
            f0 = float(self.probe())
            self.nfev += 1
        unlocalised = []
        for position, (t, check, grad, verdict) in enumerate(
            zip(group, checks, grads, verdicts, strict=True)
        ):
            size = t.array.size
            n_sample = min(FALLBACK_ENTRIES if verdict == "kink" else SAMPLED_ENTRIES, size)
            flat = np.sort(self.rng.choice(size, size=n_sample, replace=False))
            indices: np.ndarray | None = None  # a 0-d parameter: its one entry is all of it
            if t.array.ndim:
                indices = np.stack(np.unravel_index(flat, t.array.shape), axis=1)
            if verdict == "fail" and indices is not None:
                extra = self._localise(t.array, grad, sigma)
                if len(extra):
                    indices = np.unique(np.concatenate([extra, indices]), axis=0)
            sigma = self._estimate(check, t, indices, noise=sigma, f0=f0)
            done = 2 * JOINT_PROBES + 2 * SAMPLED_ENTRIES * (position + 1)
            self._directional_progress(f"{t.grad_name} sample", done)
            if verdict == "fail" and indices is not None and check.mismatch.any():
                check.localised = self._explained(t.array, grad, check, sigma, f_point)
            if verdict == "fail" and not check.mismatch.any():
                unlocalised.append(t.grad_name)
        for name in unlocalised:
            self.fail(name, "mismatch", msg.msg_probe_unlocalised(name))

    def _direction(self, d: np.ndarray, k: int) -> None:
        """The ``k``-th probe direction of a series, into ``d``: a Gaussian draw, every
        second one the last turned a quarter (as Gaussian, and independent as a probe)."""
        if k % 2:
            quarter_turn(d, self.rng)
        else:
            self.rng.standard_normal(out=d)

    def _directional_progress(self, stage: str, done: int) -> None:
        """A directional step's progress, short of the end (the check reports that)."""
        if done < self.progress_total:
            self._report_progress(stage, done, self.progress_total)

    def _explained(
        self, array: np.ndarray, grad: np.ndarray, check: TensorCheck, sigma: float | None,
        f0: float | None,
    ) -> bool:
        """Do the wrong entries found account for every disagreement?  The backward's
        gradient with those entries replaced by their numeric values must agree with fresh
        probes over the whole tensor; only then may a diagnosis say that every other entry
        matches (group testing stops at 10 entries, and drops a range whose halves agree)."""
        wrong = np.flatnonzero(check.mismatch)
        replace = (wrong, entries.values_at(check, "numeric", wrong))
        d = np.empty(array.size)  # one direction at a time, in one buffer
        for k in range(JOINT_PROBES):
            self._direction(d, k)
            (result,), _, _ = self._probes([array], [grad], [d], sigma, f0, replace=replace)
            if result[0] or result[1]:  # disagrees, or straddles a kink: not explained
                return False
        return True

    def _probes(
        self,
        arrays: list[np.ndarray],
        grads: list[np.ndarray],
        directions: list[np.ndarray],
        sigma: float | None,
        f0: float | None = None,
        replace: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[list[tuple[bool, bool, float]], float | None, float]:
        """Directional probes of ``arrays``, each direction flat over all of them end to
        end: for each, (disagrees, straddles a kink, disagreement / tolerance); the noise
        (``sigma``, else measured once when the rounding floor alone does not settle a
        probe, else None); and ``f()`` at the point (``f0`` when given: evaluated once for
        all the probes).  ``replace=(flat positions, values)``: probe the first gradient
        with those entries replaced (no copy of it is made)."""

        backups = [self._start_values(a) for a in arrays]
        expectations = []
        flats = [g.reshape(-1) for g in grads]
        squares = [self._square(g) for g in flats]
        if replace is not None:
            where, values = replace
            old = flats[0][where].astype(np.float64)
            squares[0] = max(
                0.0, squares[0] - float(np.dot(old, old)) + float(np.dot(values, values))
            )
        norms: list[list[float]] = []  # |d|^2 over each array, for the probe's step as well
        for d in directions:
            expected = 0.0
            norms.append([])
            # the scale of the rounding in ``expected`` itself, sum |g| |d|: bounded by
            # |g| |d| per tensor (Cauchy-Schwarz, from BLAS dots; the sum itself takes two
            # passes more over every entry, for a term 1e-15 of the tolerance in float64),
            # unless |g|^2 overflows or underflows
            spread = 0.0
            start = 0
            for g, gg in zip(flats, squares, strict=True):
                part = d[start : start + g.size]
                start += g.size
                dd = float(np.dot(part, part))
                norms[-1].append(dd)
                if _NORM_SAFE[0] < gg < _NORM_SAFE[1]:
                    expected += float(np.dot(g, part))
                    spread += math.sqrt(gg * dd)
                else:
                    dot, abs_dot = dot_and_abs_dot(g, part)
                    expected += dot
                    spread += abs_dot
            if replace is not None:  # the replaced entries' share, exchanged (the
                # Cauchy-Schwarz bound already used the replaced |g|^2; sum |g d| did not)
                d_at = d[where]
                expected += float(np.dot(values - old, d_at))
                if not _NORM_SAFE[0] < squares[0] < _NORM_SAFE[1]:
                    spread += float(np.dot(np.abs(values) - np.abs(old), np.abs(d_at)))
            expectations.append((expected, spread))
        ests = estimates_along(
            self.probe, arrays, directions, self.eps, None, sigma, backups=backups, f0=f0,
            targets=[e for e, _ in expectations], rms_cache=self.rms_cache, squares=norms,
        )
        results = []
        for est, (expected, spread) in zip(ests, expectations, strict=True):
            self.nfev += int(est.nfev)
            # compare()'s tolerance in plain floats (its per-call cost is numpy's, on 1 entry)
            diff = abs(expected - est.value)
            if self.rtol is None and self.atol is None:
                scale = 2.0 * abs(expected) + abs(est.value) + spread
                tol = steps.SAFETY * est.error + steps.ULPS * self.eps * scale
            else:
                tol = (self.atol or 0.0) + (self.rtol or 0.0) * abs(est.value)
            if est.kink:
                results.append((False, True, 0.0))
            elif not diff <= tol:  # NaN disagrees
                ratio = diff / tol if tol > 0 and math.isfinite(diff) else math.inf
                results.append((True, False, ratio))
            else:
                results.append((False, False, diff / tol if tol > 0 else 0.0))
        measured = [e.noise for e in ests if not math.isnan(e.noise)]
        return results, (measured[-1] if measured else None), float(ests[0].f0)

    def _square(self, g: np.ndarray) -> float:
        """|g|^2, once per gradient array for all the probes of a check."""
        # keyed by where the entries are; the entry holds the memory's owner, so the
        # address cannot be reused by another array while cached (gradients are not
        # written during a check)
        owner = g.base if g.base is not None else g
        key = (g.__array_interface__["data"][0], g.size, g.strides)
        cached = self.squares.get(key)
        if cached is not None and cached[0] is owner:
            return cached[1]
        value = float(np.dot(g, g))
        self.squares[key] = (owner, value)
        return value

    def _start_values(self, array: np.ndarray) -> np.ndarray:
        """A copy of ``array`` as it is now, when the check already holds one (the inputs,
        a parameter at the point), else a fresh copy."""
        if array is self.x:
            return self.x0
        for name, saved in self.param_copies.items():
            if getattr(self.layer, name, None) is array:
                return saved
        return array.copy()

    def _counted(self, run: Callable[[Callable[[], float]], Any]) -> Any:
        """``run(probe)``, adding to ``nfev`` the evaluations it made (for engine calls that
        do not report them)."""
        probe, calls = self.probe, 0

        def counted() -> float:
            nonlocal calls
            calls += 1
            return probe()

        try:
            return run(counted)
        finally:
            self.nfev += calls

    def _localise(self, array: np.ndarray, grad: np.ndarray, sigma: float | None) -> np.ndarray:
        """Indices of the wrong entries of one tensor found by group testing, shape (k, ndim)."""

        found = self._counted(
            lambda f: fd.localise(
                f, [array], [grad], eps=self.eps, seed=self.seed, noise=sigma,
                backups=[self._start_values(array)],
            )
        )
        return np.array([list(index) for _, index in found], dtype=np.intp).reshape(-1, array.ndim)

    def _estimate(
        self,
        check: TensorCheck,
        t: Tensor,
        indices: np.ndarray | None,
        noise: float | None = None,
        f0: float | None = None,
    ) -> float | None:
        """Estimate ``indices`` of ``t`` (all when None) and store them in ``check``; the
        noise used (``noise``, else as measured, else None when the rounding floor alone
        settled every entry), for the next call on the same probe."""

        grad = np.asarray(t.grad)
        analytic = (
            grad.reshape(-1) if indices is None else grad[tuple(np.asarray(indices).T)]
        ).astype(np.float64)
        est = fd.partial_derivatives(
            self.probe, t.array, indices, analytic=analytic, eps=self.eps, noise=noise, f0=f0
        )
        self.nfev += int(est.nfev)
        cmp = fd.compare(analytic, est, eps=self.eps, rtol=self.rtol, atol=self.atol)
        self._store(check, t, est, cmp)
        return noise if noise is not None else None if math.isnan(est.noise) else est.noise
