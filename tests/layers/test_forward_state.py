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
