"""Full checks by Jacobian compression: the same verdicts and failing entries as entry by
entry, on the example zoo, on layers that break the structures, and on bugs."""

from __future__ import annotations

import numpy as np
import pytest

from derivcheck.examples import BROKEN, CORRECT, make_case
from derivcheck.examples import cs231n_broken as cb
from derivcheck.fd.compressed import colour_groups
from derivcheck.layers import compress
from derivcheck.layers.check import check_layer
from derivcheck.layers.functional import check_function
from tests.layers.cs231n_cases import cases as functional_cases


def run(case, **kwargs):
    return check_layer(
        case.layer, case.inputs, case.y_true, forward_kwargs=case.forward_kwargs, **kwargs
    )


def verdict(rep):
    return (
        rep.ok,
        sorted((f.tensor, f.index, f.kind) for f in rep.failures),
        dict(rep.checked),
    )


def both_ways(monkeypatch, check):
    """The report with compression, and without it."""
    with_it = check()
    monkeypatch.setattr(compress, "ENABLED", False)
    without = check()
    monkeypatch.setattr(compress, "ENABLED", True)
    return with_it, without


# --- the grouping itself ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_colour_groups_partition_entries_and_never_share_an_owner(seed):
    rng = np.random.default_rng(seed)
    owner = rng.integers(0, 7, size=60)
    groups = colour_groups(owner)
    members = np.sort(np.concatenate(groups))
    assert np.array_equal(members, np.arange(60))
    for g in groups:
        assert len(set(owner[g].tolist())) == len(g)
    assert len(groups) == np.bincount(owner).max()


# --- the same verdicts with and without compression ------------------------------------------

ZOO_SHAPE = {"batch": 12, "n_inputs": 10, "n_neurons": 9}


@pytest.mark.parametrize("name", sorted(CORRECT) + sorted(BROKEN))
def test_zoo_verdicts_equal_with_and_without_compression(monkeypatch, name):
    case = make_case(name, **ZOO_SHAPE)
    with_it, without = both_ways(monkeypatch, lambda: run(case, mode="full"))
    assert verdict(with_it) == verdict(without), (str(with_it), str(without))
    assert (name in CORRECT) == with_it.ok, str(with_it)


@pytest.mark.parametrize("name", sorted(functional_cases()))
def test_functional_verdicts_equal_with_and_without_compression(monkeypatch, name):
    forward, backward, args = functional_cases()[name]
    with_it, without = both_ways(
        monkeypatch, lambda: check_function(forward, backward, *args, mode="full")
    )
    assert verdict(with_it) == verdict(without), (str(with_it), str(without))
    assert with_it.ok, str(with_it)


@pytest.mark.parametrize("name", sorted(cb.BROKEN))
def test_broken_functions_caught_the_same_with_compression(monkeypatch, name):
    forward, backward, _bug = cb.BROKEN[name]
    good = functional_cases()
    base = name.split("_")[0]
    if base not in good:
        pytest.skip(f"no point for {name}")
    args = good[base][2]
    with_it, without = both_ways(
        monkeypatch, lambda: check_function(forward, backward, *args, mode="full")
    )
    assert verdict(with_it) == verdict(without), (str(with_it), str(without))
    assert not with_it.ok


def test_a_big_dense_layer_is_checked_entry_by_entry_by_compression():
    case = make_case("Layer_Dense", batch=4, n_inputs=200, n_neurons=100)
    rep = run(case)
    assert rep.ok, str(rep)
    assert rep.checked == {"dinputs": 800, "dweights": 20_000, "dbiases": 100}
    assert "dweights in 200 groups (columns)" in rep.strategy
    assert "dinputs in 200 groups (rows)" in rep.strategy
    # two evaluations per group and a little more, not two per entry
    assert rep.nfev < 2 * (200 + 200 + 1) + 3 * 80


def test_one_wrong_weight_found_by_compression_is_named_exactly():
    from derivcheck.examples.broken import Dense_MeanInsteadOfSum

    np.random.seed(3)
    layer = Dense_MeanInsteadOfSum(40, 30)
    x = np.random.randn(16, 40)
    rep = check_layer(layer, x, mode="full")
    assert not rep.ok
    assert {f.tensor for f in rep.failures} == {"dbiases"}
    assert "(columns)" in rep.strategy


# --- layers that break the structures ---------------------------------------------------------


class BatchCentre:
    """Subtracts the batch mean: every output moves with every input (rows mix)."""

    def forward(self, inputs):
        self.output = inputs - inputs.mean(axis=0)

    def backward(self, dvalues):
        self.dinputs = dvalues - dvalues.mean(axis=0)


class BatchCentreWrong(BatchCentre):
    def backward(self, dvalues):
        self.dinputs = dvalues.copy()  # forgets the mean's share


def test_a_layer_that_mixes_rows_is_not_compressed_and_passes():
    x = np.random.default_rng(0).normal(size=(20, 8))
    rep = check_layer(BatchCentre(), x, mode="full")
    assert rep.ok, str(rep)
    assert "(rows)" not in rep.strategy
    bad = check_layer(BatchCentreWrong(), x, mode="full")
    assert not bad.ok
    assert bad.checked["dinputs"] == x.size


class MixesOneRow:
    """Rows independent except that sample 7 also feeds output row 0: a structure the
    sample of entries is unlikely to see broken; the cross-check must."""

    def __init__(self, wrong=False):
        self.wrong = wrong

    def forward(self, inputs):
        out = np.tanh(inputs)
        out[0] = out[0] + 0.5 * inputs[7]
        self.output = out

    def backward(self, dvalues):
        d = dvalues * (1 - np.tanh(self.inputs_for_backward) ** 2)
        if not self.wrong:
            d[7] += 0.5 * dvalues[0]
        self.dinputs = d


@pytest.mark.parametrize("seed", range(4))
def test_structure_broken_outside_the_sample_changes_no_verdict(monkeypatch, seed):
    x = np.random.default_rng(seed).normal(size=(30, 6))

    def make(wrong):
        layer = MixesOneRow(wrong)
        layer.inputs_for_backward = x.copy()
        return layer

    good, good_plain = both_ways(
        monkeypatch, lambda: check_layer(make(False), x, mode="full", seed=seed)
    )
    assert good.ok and good_plain.ok, str(good)
    # the report says how the inputs were really checked: not by a grouping that failed
    if any("not borne out" in note for note in good.notes):
        assert "dinputs in" not in good.strategy, good.strategy
    bad, bad_plain = both_ways(
        monkeypatch, lambda: check_layer(make(True), x, mode="full", seed=seed)
    )
    assert not bad.ok and not bad_plain.ok
    assert verdict(bad) == verdict(bad_plain), (str(bad), str(bad_plain))
    assert {f.index[0] for f in bad.failures} == {7}


class GlobalCentre:
    """Subtracts the mean of every entry: every output moves with every input."""

    def forward(self, inputs):
        self.output = inputs - inputs.mean()

    def backward(self, dvalues):
        self.dinputs = dvalues - dvalues.mean()


def test_batch_centring_mixes_rows_but_not_columns_and_is_compressed_by_columns():
    x = np.random.default_rng(1).normal(size=(4, 600))
    rep = check_layer(BatchCentre(), x, mode="full")
    assert rep.ok, str(rep)
    assert "dinputs in 4 groups (columns)" in rep.strategy


def test_auto_mode_goes_directional_when_a_full_check_is_too_slow():
    x = np.random.default_rng(1).normal(size=(4, 6000))
    rep = check_layer(GlobalCentre(), x)  # 24,000 entries that cannot be compressed
    assert rep.ok, str(rep)
    assert "Gaussian probes" in rep.strategy
    assert rep.checked["dinputs"] < 100


def test_a_slow_forward_goes_directional_in_auto_mode(monkeypatch):
    monkeypatch.setattr(compress, "time_one", lambda probe, repeats=3: 0.01)
    case = make_case("Layer_Dense", batch=8, n_inputs=30, n_neurons=20)
    rep = run(case)
    assert rep.ok, str(rep)
    assert "Gaussian probes" in rep.strategy
    assert "a full check was estimated at" in rep.strategy
    assert sum(rep.checked.values()) < 100


@pytest.mark.parametrize("budget", [0.5, 1.0, 5.0])
def test_the_full_checks_budget_is_a_parameter(monkeypatch, budget):
    """full_budget decides auto mode against the estimate (one probe timed at 10 ms here:
    the full check of this layer is estimated at 2.2 s) and the strategy line says
    which budget it was held to."""
    monkeypatch.setattr(compress, "time_one", lambda probe, repeats=3: 0.01)
    case = make_case("Layer_Dense", batch=8, n_inputs=30, n_neurons=20)
    rep = run(case, full_budget=budget)
    assert rep.ok, str(rep)
    if budget < 2.2:
        assert "Gaussian probes" in rep.strategy and f"over {budget:g} s" in rep.strategy
    else:
        assert rep.strategy.startswith("every entry") and f"within {budget:g} s" in rep.strategy
        assert sum(rep.checked.values()) == 8 * 30 + 30 * 20 + 20


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "1", True])
def test_a_bad_full_budget_is_an_input_error(bad):
    from derivcheck.errors import InputError

    case = make_case("Layer_Dense", batch=4, n_inputs=3, n_neurons=2)
    with pytest.raises(InputError, match="full_budget"):
        run(case, full_budget=bad)


# --- evaluations counted ------------------------------------------------------------------------

CALLS = {"forward": 0, "backward": 0}


class CountedDense:
    """A dense layer that counts its own calls in a module-level dict (the check puts the
    layer's attributes back, so the count cannot live on the layer)."""

    def __init__(self, n_in, n_out):
        rng = np.random.default_rng(0)
        self.weights = 0.1 * rng.normal(size=(n_in, n_out))
        self.biases = np.zeros((1, n_out))

    def forward(self, inputs):
        CALLS["forward"] += 1
        self.inputs = inputs
        self.output = inputs @ self.weights + self.biases

    def backward(self, dvalues):
        CALLS["backward"] += 1
        self.dweights = self.inputs.T @ dvalues
        self.dbiases = dvalues.sum(axis=0, keepdims=True)
        self.dinputs = dvalues @ self.weights.T


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_evaluations_are_the_layers_own_calls(mode):
    x = np.random.default_rng(2).normal(size=(16, 30))
    layer = CountedDense(30, 20)
    CALLS.update(forward=0, backward=0)
    rep = check_layer(layer, x, mode=mode)
    assert rep.ok, str(rep)
    assert rep.evaluations == CALLS
    assert rep.to_dict()["evaluations"] == CALLS
    if mode == "full":  # compressed: two per group and a little more, far from two per entry
        entries = sum(rep.checked.values())
        assert CALLS["forward"] < entries


# --- sparse per-entry arrays in directional checks -------------------------------------------


def test_directional_reports_keep_per_entry_arrays_sparse_until_read():
    from derivcheck.examples.book import Layer_Dense
    from derivcheck.layers.entries import Sparse

    np.random.seed(0)
    rep = check_layer(Layer_Dense(300, 200), np.random.randn(8, 300), mode="directional")
    t = rep.tensors["dweights"]
    assert isinstance(t.__dict__["_numeric"], Sparse)  # nothing has read it yet
    numeric = t.numeric  # the first read makes it dense, NaN where not estimated
    assert numeric.shape == (300, 200)
    assert np.count_nonzero(~np.isnan(numeric)) == t.n_checked == rep.checked["dweights"]
    assert np.array_equal(~np.isnan(numeric), t.checked)
    assert np.all(np.isfinite(t.error[t.checked])) and np.all(np.isnan(t.tol[~t.checked]))
    assert rep.ok, str(rep)


def test_a_failed_directional_report_keeps_its_arrays_sparse():
    """Diagnoses, the failures list and the report's text read only the compared entries:
    a failed check of a large tensor does not make three dense copies of it."""
    from derivcheck.examples.book import Layer_Dense
    from derivcheck.layers.entries import Sparse

    class OneWrongWeight(Layer_Dense):
        def backward(self, dvalues):
            super().backward(dvalues)
            self.dweights[217, 93] *= 1.01

    np.random.seed(0)
    rep = check_layer(OneWrongWeight(300, 200), np.random.randn(8, 300), mode="directional")
    text = str(rep)
    t = rep.tensors["dweights"]
    for name in ("numeric", "error", "tol"):
        assert isinstance(t.__dict__["_" + name], Sparse), name
    assert [(f.tensor, f.index) for f in rep.failures] == [("dweights", (217, 93))]
    failure = rep.failures[0]
    assert failure.numeric == t.numeric[217, 93] and failure.error == t.error[217, 93]
    assert "dweights[217, 93]" in text and "only dweights[217, 93] is wrong" in text
    dense_text = str(rep)  # the same report once the arrays are dense
    assert dense_text == text


def test_sparse_entries_match_dense_assignment():
    from derivcheck.layers.entries import Sparse, values_at

    s = Sparse((3, 4))
    dense = np.full((3, 4), np.nan)
    for idx, vals in (
        ((np.array([0, 2]), np.array([1, 3])), np.array([5.0, 6.0])),
        ((np.array([2]), np.array([3])), np.array([7.0])),  # a later put wins
    ):
        s.put(idx, vals)
        dense[idx] = vals
    assert np.array_equal(s.dense(), dense, equal_nan=True)
    holder = type("Holder", (), {})()
    holder.__dict__["_numeric"] = s
    flat = np.array([11, 3, 0])
    expected = dense.reshape(-1)[flat]
    assert np.array_equal(values_at(holder, "numeric", flat), expected, equal_nan=True)
    assert isinstance(holder.__dict__["_numeric"], Sparse)  # read without making it dense
    zero_d = Sparse(())
    zero_d.put(Ellipsis, 2.5)
    assert zero_d.dense() == 2.5


@pytest.mark.parametrize(
    "shape, out_shape", [((6, 4), (6, 5)), ((4, 5), (3, 5)), ((2, 3, 4), (2, 7))]
)
def test_block_sums_are_the_sums_over_each_predicted_block(shape, out_shape):
    values = np.random.default_rng(0).normal(size=int(np.prod(out_shape)))
    for s in compress.candidates(shape, out_shape):
        expected = np.bincount(s.out_block, weights=values, minlength=s.n_blocks)
        assert np.allclose(s.block_sums(values), expected, rtol=1e-13, atol=1e-13), s.name


def test_a_large_layer_samples_one_entry_per_tensor_and_still_catches_a_bug():
    from derivcheck.examples.book import Layer_Dense

    np.random.seed(0)
    layer = Layer_Dense(1100, 1000)
    x = np.random.randn(2, 1100)
    rep = check_layer(layer, x, mode="directional")
    assert rep.ok, str(rep)
    assert rep.checked == {"dinputs": 1, "dweights": 1, "dbiases": 1}
    assert rep.evaluations["forward"] < 25

    class OneWrongWeight(Layer_Dense):
        def backward(self, dvalues):
            super().backward(dvalues)
            self.dweights[517, 93] *= 1.01

    np.random.seed(0)
    bad = OneWrongWeight(1100, 1000)
    rep = check_layer(bad, x, mode="directional")
    assert not rep.ok
    assert [(f.tensor, f.index) for f in rep.failures] == [("dweights", (517, 93))]


def _f_point_recorder(monkeypatch):
    """Record (value read off the forward before backward, a fresh probe) at the start of
    every directional step."""
    from derivcheck.layers.strategies import Strategies

    seen: list[tuple[float | None, float]] = []
    real = Strategies._directional

    def directional(self, group):
        seen.append((self.f_point, float(self.probe())))
        return real(self, group)

    monkeypatch.setattr(Strategies, "_directional", directional)
    return seen


@pytest.mark.parametrize("name", sorted(CORRECT) + sorted(BROKEN))
def test_the_probe_read_off_the_forward_is_a_fresh_probe_bit_for_bit_zoo(monkeypatch, name):
    """The directional probes start from the probe's value read off the forward that
    precedes the first backward instead of evaluating it again: over every layer kind
    (outputs stored or returned, losses, penalties, frozen randomness) it is the same
    number."""
    seen = _f_point_recorder(monkeypatch)
    case = make_case(name, **ZOO_SHAPE)
    run(case, mode="directional")
    assert seen or name in BROKEN  # (a wrong shape stops a check before any probe)
    assert all(f is not None and f == fresh for f, fresh in seen), seen


@pytest.mark.parametrize("name", sorted(functional_cases()))
def test_the_probe_read_off_the_forward_is_a_fresh_probe_bit_for_bit_functions(
    monkeypatch, name
):
    seen = _f_point_recorder(monkeypatch)
    forward, backward, args = functional_cases()[name]
    check_function(forward, backward, *args, mode="directional")
    assert seen and all(f is not None and f == fresh for f, fresh in seen), seen
