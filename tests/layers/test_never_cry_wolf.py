"""Correct code is never failed, and a report claims only what was computed."""

from __future__ import annotations

import numpy as np
import pytest

import derivcheck as dc
from derivcheck.examples import cs231n
from derivcheck.examples import cs231n_broken as cb
from derivcheck.examples.book import Layer_Dense
from derivcheck.layers.trace import reference
from tests.layers.cs231n_cases import BROKEN_AT, cases

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 4))


@pytest.mark.parametrize("sampled", [1, 4])
@pytest.mark.parametrize("bug", ["conv_stride_one", "max_pool_spread", "rnn_prev_h"])
def test_directional_mode_makes_no_claim_about_entries_it_did_not_compare(
    bug, sampled, monkeypatch
):
    """Group testing stops at 10 wrong entries; with a sample of one entry per tensor,
    max_pool_spread's 10 found all lie in row 0, and "only row 0 is wrong" was said of
    a tensor with wrong entries elsewhere."""
    from derivcheck.layers import strategies

    monkeypatch.setattr(strategies, "SAMPLED_ENTRIES", sampled)
    forward, backward, _ = cb.BROKEN[bug]
    rep = dc.check_function(forward, backward, *cases()[BROKEN_AT[bug]][2], mode="directional")
    assert not rep.ok
    text = str(rep)
    assert "only sample" not in text and "only row" not in text and "every other" not in text
    assert " everywhere" not in text


@pytest.mark.parametrize("where", [(517, 93), (0, 0)])
def test_one_wrong_entry_found_by_group_testing_is_named_as_the_only_one(where):
    """The found entry, corrected, makes fresh probes over the whole tensor agree: then,
    and only then, the diagnosis may say every other entry matches."""

    class OneWrongWeight(Layer_Dense):
        def backward(self, dvalues):
            super().backward(dvalues)
            self.dweights[where] *= 1.01

    np.random.seed(0)
    x = np.random.default_rng(1).standard_normal((8, 600))
    rep = dc.check_layer(OneWrongWeight(600, 200), x, mode="directional")
    assert [(f.tensor, f.index) for f in rep.failures] == [("dweights", where)]
    assert rep.tensors["dweights"].localised
    assert rep.tensors["dweights"].diagnosis == (
        f"Diagnosis: only dweights[{where[0]}, {where[1]}] is wrong; every other entry matches."
    )


def test_directional_factor_is_said_of_the_compared_entries():
    forward, backward, _ = cb.BROKEN["dropout_unscaled"]
    rep = dc.check_function(forward, backward, *cases()["dropout"][2], mode="directional")
    diagnosis = rep.tensors["dx"].diagnosis
    assert diagnosis is not None and "entries compared" in diagnosis


def test_the_symbolic_reference_has_a_wall_clock_bound(monkeypatch):
    monkeypatch.setattr(reference, "SYMBOLIC_SECONDS", 0.05)

    def lstm_forward(x, h0, Wx, Wh, b):
        h, c, caches = h0, np.zeros_like(h0), []
        for t in range(x.shape[1]):
            h, c, cache = cs231n.lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
            caches.append(cache)
        return h, caches

    def lstm_backward(dh, caches):
        dc_, dWx, dWh, db, dxs = np.zeros_like(dh), 0.0, 0.0, 0.0, []
        for cache in reversed(caches):
            dx, dh, dc_, a, b_, c_ = cs231n.lstm_step_backward(dh, dc_, cache)
            dWx, dWh, db = dWx + a, dWh + b_, db + c_
            dxs.append(dx)
        return np.stack(dxs[::-1], axis=1), dh, dWx, dWh, db

    rng = np.random.default_rng(1)
    args = (
        rng.normal(size=(2, 4, 3)),
        rng.normal(size=(2, 3)),
        rng.normal(size=(3, 12)),
        rng.normal(size=(3, 12)),
        rng.normal(size=12),
    )
    rep = dc.check_function(lstm_forward, lstm_backward, *args, reference="both")
    assert rep.ok, str(rep)
    assert any("took more than 0.05 s" in note for note in rep.notes)
    assert rep.reference == "numeric"


class _Complex:
    def forward(self, x):
        self.output = x.astype(complex)

    def backward(self, d):
        self.dinputs = d.real


def test_a_complex_output_is_named_not_called_missing():
    rep = dc.check_layer(_Complex(), X)
    assert not rep.ok and "dtype complex128" in str(rep) and "did not set" not in str(rep)


def test_read_only_weights_are_checked_and_put_back():
    class Frozen:
        def __init__(self):
            self.W = RNG.normal(size=(4, 2))
            self.W.flags.writeable = False

        def forward(self, x):
            self.x = x
            self.output = x @ self.W

        def backward(self, d):
            self.dinputs, self.dW = d @ self.W.T, self.x.T @ d

    layer = Frozen()
    W = layer.W
    rep = dc.check_layer(layer, X)
    assert rep.ok and rep.checked["dW"] == 8 and "read-only" in str(rep)
    assert layer.W is W and not W.flags.writeable


def test_integer_weights_are_named_as_not_checked():
    class IntWeights:
        def __init__(self):
            self.W = np.arange(8).reshape(4, 2)

        def forward(self, x):
            self.x = x
            self.output = x @ self.W

        def backward(self, d):
            self.dinputs, self.dW = d @ self.W.T, self.x.T @ d

    rep = dc.check_layer(IntWeights(), X)
    assert rep.ok and "dW" not in rep.checked
    assert "`W` is an integer array: not checked" in str(rep)


def test_a_list_the_forward_appends_to_is_put_back():
    class History:
        def __init__(self):
            self.W, self.history = RNG.normal(size=(4, 2)), []

        def forward(self, x):
            self.x = x
            self.output = x @ self.W
            self.history.append(len(self.history))

        def backward(self, d):
            self.dinputs, self.dW = d @ self.W.T, self.x.T @ d

    layer = History()
    history = layer.history
    assert dc.check_layer(layer, X).ok
    assert layer.history is history and history == []


@pytest.mark.parametrize("name", sorted(cases()))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_false_alarm_on_correct_functional_layers(name, seed):
    forward, backward, args = cases(seed)[name]
    for mode in ("full", "directional"):
        rep = dc.check_function(forward, backward, *args, mode=mode, seed=seed)
        assert rep.ok, str(rep)


@pytest.mark.parametrize("x", [[[40.0, 1.0]], [[700.0, 30.0]], [[-40.0, 35.0, 0.5]]])
def test_symbolic_reference_is_held_to_what_float_arithmetic_can_deliver(x):
    # sigmoid at 40 underflows 1 - s to 0 and cancels at 30: the book's correct backward
    # cannot reach the exact value, and is not failed for it
    from derivcheck.examples import book

    for which in ("symbolic", "both"):
        rep = dc.check_layer(book.Activation_Sigmoid(), np.array(x), reference=which)
        assert rep.ok, str(rep)


def test_a_sigmoid_bug_is_still_caught_by_the_symbolic_reference():
    from derivcheck.examples import broken

    rep = dc.check_layer(broken.Sigmoid_MissingOutputFactor(), X, reference="symbolic")
    assert not rep.ok


def test_an_integer_gradient_with_both_references_is_a_failed_report():
    class IntGrad:
        def forward(self, x):
            self.output = 2 * x

        def backward(self, d):
            self.dinputs = (2 * d).astype(int)

    rep = dc.check_layer(IntGrad(), X, reference="both")
    assert not rep.ok and "wrong dtype" in str(rep)


def test_no_transpose_diagnosis_for_a_single_row():
    from derivcheck.examples import broken

    rep = dc.check_layer(broken.Sigmoid_MissingOutputFactor(), np.array([[0.5, -1.0, 2.0]]))
    assert not rep.ok and "transpose" not in str(rep)


def test_a_kink_inside_the_smallest_step_stays_a_kink_in_float32():
    # x = 4.1e-5 in float32: every step straddles the kink; the re-test at h/4 used to
    # drop the kink for lack of resolution (its noise bound grows as the step shrinks)
    from derivcheck.examples import book

    x = (np.random.default_rng(0).normal(size=(4, 5)) * 1e-3).astype(np.float32)
    rep = dc.check_layer(book.Activation_ReLU(), x, seed=0)
    assert rep.ok, str(rep)
    assert rep.tensors["dinputs"].kink[2, 1]


@pytest.mark.parametrize("which", ["numeric", "symbolic", "both"])
def test_a_relative_shift_of_1e_7_still_fails_under_every_reference(which):
    from derivcheck.examples import book

    class Shifted(book.Activation_Sigmoid):
        def backward(self, dvalues):
            super().backward(dvalues)
            self.dinputs = self.dinputs * (1 + 1e-7)

    assert not dc.check_layer(Shifted(), RNG.normal(size=(4, 5)), reference=which).ok


SWEEP_SEEDS = range(8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
@pytest.mark.parametrize("name", ["Activation_ReLU", "Activation_Sigmoid", "Activation_Softmax"])
def test_false_alarm_sweep_is_zero(name, scale, dtype):
    # correct layers x seeds x dtypes x input scales, a fifth of the inputs within 1e-9 of
    # the kink (scaled): every check must pass
    from derivcheck.examples import book

    alarms = []
    for seed in SWEEP_SEEDS:
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(4, 5)) * scale
        x[rng.random(x.shape) < 0.2] *= 1e-9
        rep = dc.check_layer(getattr(book, name)(), x.astype(dtype), seed=seed)
        if not rep.ok:
            alarms.append((seed, str(rep)))
    assert not alarms, alarms[0][1]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_pool_with_ties_is_not_failed(dtype):
    from derivcheck.examples import cs231n

    for seed in SWEEP_SEEDS:
        rng = np.random.default_rng(seed)
        x = rng.integers(-2, 3, size=(2, 2, 4, 4)).astype(dtype)  # many ties in each window
        x += (rng.random(x.shape) < 0.5) * dtype(1e-3)
        rep = dc.check_function(
            cs231n.max_pool_forward_naive,
            cs231n.max_pool_backward_naive,
            x,
            {"pool_height": 2, "pool_width": 2, "stride": 2},
            seed=seed,
        )
        assert rep.ok, str(rep)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_probability_losses_next_to_their_clip_are_not_failed(dtype):
    # p within 1e-7 of 0 or 1 sits in (or at the edge of) the book's clip: the forward is
    # flat on one side within the step, and the backward's value there is a convention
    from derivcheck.examples import book

    for seed in SWEEP_SEEDS:
        rng = np.random.default_rng(seed)
        p = rng.uniform(0, 1, size=(4, 3))
        p[rng.random(p.shape) < 0.3] = rng.choice([1e-7, 1 - 1e-7, 1e-8, 1 - 1e-8])
        y = rng.integers(0, 2, size=(4, 3)).astype(dtype)
        rep = dc.check_layer(book.Loss_BinaryCrossentropy(), p.astype(dtype), y, seed=seed)
        assert rep.ok, str(rep)


def test_a_clipped_loss_bug_away_from_the_clip_is_still_caught():
    from derivcheck.examples import broken

    p = np.random.default_rng(0).uniform(0.2, 0.8, size=(4, 3)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 2, size=(4, 3)).astype(np.float32)
    assert not dc.check_layer(broken.BCE_MissingOutputsDivision(), p, y).ok


class _RoundedDense:
    """A dense layer whose forward is rounded to 7 significant digits (noise far above
    float64's rounding), with an exact backward; ``scale`` != 1 breaks ``dweights``."""

    def __init__(self, scale: float = 1.0) -> None:
        rng = np.random.default_rng(4)
        self.weights = 0.1 * rng.standard_normal((6, 5))
        self.biases = np.zeros((1, 5))
        self.scale = scale

    def forward(self, inputs: np.ndarray) -> None:
        self.inputs = inputs
        exact = inputs @ self.weights + self.biases
        self.output = np.array([[float(f"{v:.7g}") for v in row] for row in exact])

    def backward(self, dvalues: np.ndarray) -> None:
        self.dweights = self.scale * (self.inputs.T @ dvalues)
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)
        self.dinputs = dvalues @ self.weights.T


@pytest.mark.parametrize("mode", ["directional", "full"])
def test_the_noise_is_measured_when_the_rounding_floor_does_not_settle(mode, monkeypatch):
    """The noise measurement is skipped while the rounding floor alone settles every
    probe; a forward noisier than its dtype's floor gets it measured, not a false alarm."""
    from derivcheck.fd import arrays, probes

    calls: list[int] = []
    for module, name in ((arrays, "sigma_along"), (probes, "sigma_direction")):
        monkeypatch.setattr(module, name, counting(getattr(module, name), calls))
    x = np.random.default_rng(5).standard_normal((4, 6))
    smooth = dc.check_layer(Layer_Dense(6, 5), x, mode=mode, reference="numeric")
    assert smooth.ok
    if mode == "directional":  # (compression measures the noise of its grouped probe once)
        assert calls == []
    calls.clear()
    rounded = dc.check_layer(_RoundedDense(), x, mode=mode, reference="numeric")
    assert rounded.ok, str(rounded)
    assert calls
    broken = dc.check_layer(_RoundedDense(scale=1.5), x, mode=mode, reference="numeric")
    assert not broken.ok
    assert {f.tensor for f in broken.failures if f.kind == "mismatch"} == {"dweights"}
    # what the measured noise is for: the rounding floor alone cries wolf on this layer
    for module, name in ((arrays, "sigma_along"), (probes, "sigma_direction")):
        monkeypatch.setattr(module, name, lambda *args, **kwargs: 0.0)
    assert not dc.check_layer(_RoundedDense(), x, mode=mode, reference="numeric").ok


def counting(real, calls):
    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    return counted


class _ClearsOutputInBackward(Layer_Dense):
    """Right gradients; backward then zeroes its stored output in place (freeing it, say)."""

    def backward(self, dvalues):
        super().backward(dvalues)
        self.output[...] = 0.0


@pytest.mark.parametrize("mode", ["directional", "full"])
def test_a_backward_that_clears_the_stored_output_is_judged_right(mode):
    """The probe's value at the point is read off the forward before the first backward
    (and the probes start from it): a backward that zeroes the stored output changes
    nothing, for a right layer or a 1 % wrong one."""
    np.random.seed(3)
    layer = _ClearsOutputInBackward(30, 20)
    x = np.random.default_rng(3).standard_normal((8, 30))
    rep = dc.check_layer(layer, x, mode=mode)
    assert rep.ok, str(rep)
    broken = _ClearsOutputInBackward(30, 20)
    broken.backward = lambda d: (Layer_Dense.backward(broken, 1.01 * d), None)[1]
    assert not dc.check_layer(broken, x, mode=mode).ok


class _ScaledDense:
    """output = scale * (x @ W + b): gradients of any magnitude; ``wrong`` != 1 breaks one
    dweights entry."""

    def __init__(self, scale: float, wrong: float = 1.0) -> None:
        rng = np.random.default_rng(6)
        self.weights = rng.standard_normal((12, 7))
        self.biases = rng.standard_normal((1, 7))
        self.scale, self.wrong = scale, wrong

    def forward(self, inputs: np.ndarray) -> None:
        self.inputs = inputs
        self.output = self.scale * (inputs @ self.weights + self.biases)

    def backward(self, dvalues: np.ndarray) -> None:
        d = self.scale * dvalues
        self.dweights = self.inputs.T @ d
        self.dweights[3, 2] *= self.wrong
        self.dbiases = np.sum(d, axis=0, keepdims=True)
        self.dinputs = d @ self.weights.T


@pytest.mark.parametrize("scale", [1e-160, 1e-23, 1.0, 1e200])
def test_directional_probes_hold_at_any_gradient_magnitude(scale):
    """The rounding scale of a probe's expected value is |g| |d| (Cauchy-Schwarz) while |g|^2
    is a normal float, else sum |g d| itself: gradients of 1e200 (|g|^2 overflows) and of
    1e-160 (it underflows) are judged as those of 1 are."""
    x = np.random.default_rng(7).standard_normal((5, 12))
    right = dc.check_layer(_ScaledDense(scale), x, mode="directional")
    assert right.ok, str(right)
    wrong = dc.check_layer(_ScaledDense(scale, wrong=1.01), x, mode="directional")
    assert [(f.tensor, f.index) for f in wrong.failures] == [("dweights", (3, 2))], str(wrong)


def test_the_first_exact_gradient_of_a_process_is_paid_outside_the_symbolic_bound():
    """The first exact gradient of a process pays SymPy's lazy imports (0.2 s here): a
    warm-up on a one-entry probe pays it before the bound starts.  That first call made
    to take 2.5 s against the 2 s bound, in a fresh process: the symbolic reference is
    still used."""
    from tests.first_use import run_with_slow_first_call

    out = run_with_slow_first_call(
        "derivcheck.layers.trace.core", "exact_gradients", 2.5,
        "import numpy as np\n"
        "import derivcheck as dc\n"
        "from derivcheck.examples.book import Layer_Dense\n"
        "x = np.random.default_rng(0).standard_normal((4, 3))\n"
        "rep = dc.check_layer(Layer_Dense(3, 2), x, reference='both')\n"
        "print(rep.ok, rep.reference, any('took more than' in n for n in rep.notes))\n",
    )
    assert out.split()[:3] == ["True", "both", "False"], out
