"""Forward state is not a backward fault: a layer whose forward updates buffers in
place (batch norm's running statistics, a counter) passes when it is right.

The batch-norm layer is written here from the usual formulas; its backward is
verified first against a plain central difference computed in this file, so the
verdicts below do not rest on derivcheck alone.
"""

from __future__ import annotations

import numpy as np
import pytest

import derivcheck as dc


class BatchNorm:
    """Training-mode batch norm over the batch axis, with running statistics."""

    def __init__(self, n: int, momentum: float = 0.9, eps: float = 1e-5) -> None:
        rng = np.random.default_rng(7)
        self.gamma = 1.0 + 0.1 * rng.standard_normal((1, n))
        self.beta = 0.1 * rng.standard_normal((1, n))
        self.running_mean = np.zeros((1, n))
        self.running_var = np.ones((1, n))
        self.steps = np.zeros(1)
        self.momentum, self.eps = momentum, eps

    def forward(self, inputs: np.ndarray, training: bool = True) -> None:
        mean = inputs.mean(axis=0, keepdims=True)
        var = inputs.var(axis=0, keepdims=True)
        self.running_mean *= self.momentum
        self.running_mean += (1 - self.momentum) * mean
        self.running_var *= self.momentum
        self.running_var += (1 - self.momentum) * var
        self.steps += 1
        self.inv_std = 1.0 / np.sqrt(var + self.eps)
        self.xhat = (inputs - mean) * self.inv_std
        self.output = self.gamma * self.xhat + self.beta

    def backward(self, dvalues: np.ndarray) -> None:
        n = dvalues.shape[0]
        self.dgamma = np.sum(dvalues * self.xhat, axis=0, keepdims=True)
        self.dbeta = np.sum(dvalues, axis=0, keepdims=True)
        dxhat = dvalues * self.gamma
        self.dinputs = (self.inv_std / n) * (
            n * dxhat - dxhat.sum(axis=0) - self.xhat * np.sum(dxhat * self.xhat, axis=0)
        )


class BatchNormBackwardTouchesStats(BatchNorm):
    def backward(self, dvalues: np.ndarray) -> None:
        super().backward(dvalues)
        self.running_mean += 1.0  # a real fault: backward changes forward's state


def _plain_central_difference(layer: BatchNorm, x: np.ndarray, g: np.ndarray) -> np.ndarray:
    out = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        values = []
        for sign in (1, -1):
            xp = x.copy()
            xp[index] += sign * 1e-6
            layer.forward(xp)
            values.append(float(np.sum(layer.output * g)))
        out[index] = (values[0] - values[1]) / 2e-6
    return out


def test_the_batch_norm_written_here_is_right():
    rng = np.random.default_rng(0)
    x, g = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    layer = BatchNorm(3)
    layer.forward(x)
    layer.backward(g)
    analytic = layer.dinputs.copy()
    np.testing.assert_allclose(analytic, _plain_central_difference(layer, x, g), atol=1e-6)


@pytest.mark.parametrize("mode", ["full", "directional"])
@pytest.mark.parametrize("seed", range(6))
def test_running_statistics_are_not_a_backward_fault(mode, seed):
    x = np.random.default_rng(seed).normal(size=(6, 4))
    layer = BatchNorm(4)
    before = {k: v.copy() for k, v in vars(layer).items() if isinstance(v, np.ndarray)}
    report = dc.check_layer(layer, x, mode=mode, seed=seed)
    assert report.ok, str(report)
    for name, saved in before.items():  # the buffers are as they were found
        np.testing.assert_array_equal(getattr(layer, name), saved)


def test_a_backward_that_changes_forward_state_is_still_caught():
    x = np.random.default_rng(1).normal(size=(6, 4))
    report = dc.check_layer(BatchNormBackwardTouchesStats(4), x)
    assert not report.ok
    assert "backward modified `running_mean` in place" in str(report)


# --- a backward that uses up what forward cached ---------------------------------------------
# The linearity contract's backward follows the check's first backward directly (no forward
# between them); a backward that frees or rescales forward's cache must then be examined
# again after a forward, not reported as non-linear.


class DenseFreesCache:
    """x @ W with a backward that drops the cached inputs (frees memory, as some do)."""

    def __init__(self, n_in: int, n_out: int) -> None:
        self.weights = 0.1 * np.random.default_rng(3).standard_normal((n_in, n_out))

    def forward(self, inputs: np.ndarray) -> None:
        self.cache = inputs
        self.output = inputs @ self.weights

    def backward(self, dvalues: np.ndarray) -> None:
        inputs, self.cache = self.cache, None  # a second backward without forward raises
        self.dweights = inputs.T @ dvalues
        self.dinputs = dvalues @ self.weights.T


class TanhScalesCache:
    """tanh, whose backward turns the cached output into 1 - y^2 in place (right once)."""

    def forward(self, inputs: np.ndarray) -> None:
        self.output = np.tanh(inputs)
        self.slope = self.output.copy()

    def backward(self, dvalues: np.ndarray) -> None:
        np.square(self.slope, out=self.slope)
        np.subtract(1.0, self.slope, out=self.slope)  # a second backward squares again
        self.dinputs = dvalues * self.slope


def _twice_without_forward_differs(layer, x: np.ndarray) -> bool:
    """The layers above really do give a wrong (or no) second backward without a forward."""
    g = np.random.default_rng(5).standard_normal(np.shape(layer.forward(x) or layer.output))
    layer.forward(x)
    layer.backward(g)
    first = layer.dinputs.copy()
    try:
        layer.backward(g)
    except Exception:
        return True
    return not np.allclose(layer.dinputs, first)


@pytest.mark.parametrize("make", [lambda: DenseFreesCache(5, 3), TanhScalesCache])
@pytest.mark.parametrize("mode", ["full", "directional"])
def test_a_backward_that_uses_up_forwards_cache_is_not_called_nonlinear(make, mode):
    x = np.random.default_rng(4).normal(size=(4, 5))
    assert _twice_without_forward_differs(make(), x)
    layer = make()
    report = dc.check_layer(layer, x, mode=mode)
    assert report.ok, str(report)


class TanhScalesCacheWrongly(TanhScalesCache):
    def backward(self, dvalues: np.ndarray) -> None:
        super().backward(dvalues)
        self.dinputs = self.dinputs + 0.1  # affine, not linear, in dvalues


def test_a_nonlinear_backward_that_uses_up_the_cache_is_still_called_nonlinear():
    x = np.random.default_rng(4).normal(size=(4, 5))
    report = dc.check_layer(TanhScalesCacheWrongly(), x)
    assert not report.ok
    assert any(f.kind == "nonlinear" for f in report.failures), str(report)


class CountsCalls:
    """Dense whose forward and backward log their order (a module-level list: the check
    puts the layer's own attributes back)."""

    def __init__(self, draws: bool) -> None:
        self.weights = 0.1 * np.random.default_rng(3).standard_normal((5, 3))
        self.draws = draws

    def forward(self, inputs: np.ndarray) -> None:
        CALL_LOG.append("forward")
        scale = 1.0 + 0.0 * np.random.rand() if self.draws else 1.0  # draws, changes nothing
        self.inputs = inputs
        self.output = scale * (inputs @ self.weights)

    def backward(self, dvalues: np.ndarray) -> None:
        CALL_LOG.append("backward")
        self.dweights = self.inputs.T @ dvalues
        self.dinputs = dvalues @ self.weights.T


CALL_LOG: list[str] = []


@pytest.mark.parametrize("draws", [False, True])
def test_the_first_backward_follows_the_first_forward_unless_forward_draws(draws):
    x = np.random.default_rng(4).normal(size=(4, 5))
    CALL_LOG.clear()
    report = dc.check_layer(CountsCalls(draws), x, mode="directional")
    assert report.ok, str(report)
    first_backward = CALL_LOG.index("backward")
    # a forward that draws gets a reseeded forward before backward, as every probe does
    assert first_backward == (2 if draws else 1)
    # the linearity contract's backward follows straight on (the same forward's state)
    assert CALL_LOG[first_backward + 1] == "backward"


class DenseZeroesGradsInForward:
    """Gradient buffers allocated once, zeroed by forward and accumulated by backward (the
    ``zero_grad`` then ``+=`` pattern of optimiser code): right after each forward."""

    def __init__(self, n_in: int, n_out: int) -> None:
        self.weights = 0.1 * np.random.default_rng(3).standard_normal((n_in, n_out))
        self.dweights = np.zeros_like(self.weights)

    def forward(self, inputs: np.ndarray) -> None:
        self.dweights[...] = 0.0
        self.inputs = inputs
        self.output = inputs @ self.weights

    def backward(self, dvalues: np.ndarray) -> None:
        self.dweights += self.inputs.T @ dvalues
        self.dinputs = dvalues @ self.weights.T


@pytest.mark.parametrize("mode", ["full", "directional"])
@pytest.mark.parametrize("warm", [False, True])
def test_gradients_zeroed_in_forward_and_accumulated_in_backward_pass(mode, warm):
    x = np.random.default_rng(4).normal(size=(4, 5))
    layer = DenseZeroesGradsInForward(5, 3)
    if warm:  # the user's own forward and backward ran first: the buffer holds a gradient
        layer.forward(x)
        layer.backward(np.ones((4, 3)))
    before = layer.dweights.copy()
    report = dc.check_layer(layer, x, mode=mode)
    assert report.ok, str(report)
    np.testing.assert_array_equal(layer.dweights, before)  # the buffer as it was found
