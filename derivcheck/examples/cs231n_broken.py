"""Realistic wrong backward passes for the functional layers of :mod:`derivcheck.examples.cs231n`.

Each is the kind of slip people make in the assignments -- a transposed
product, a mean for a sum, a missing term, a fancy-index ``+=`` -- and is paired
with the correct forward in :data:`BROKEN`: ``name -> (forward, backward, bug)``.

Examples
--------
>>> import numpy as np
>>> from derivcheck import check_function
>>> forward, backward, bug = BROKEN["affine_mean_db"]
>>> rng = np.random.default_rng(0)
>>> rep = check_function(forward, backward, rng.normal(size=(4, 3)),
...                      rng.normal(size=(3, 2)), rng.normal(size=2))
>>> rep.ok, [name for name, t in rep.tensors.items() if t.n_mismatched]
(False, ['db'])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from derivcheck.examples import cs231n as c

__all__ = ["BROKEN", "TwoLayerNet_NoRegGrad", "softmax_loss_no_mean", "svm_loss_no_correct"]


def affine_backward_transposed_dw(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
    x, w, b = cache
    dx, _, db = c.affine_backward(dout, cache)
    return dx, dout.T.dot(x.reshape(x.shape[0], -1)), db  # (M, D): should be x.T @ dout


def affine_backward_mean_db(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
    dx, dw, _ = c.affine_backward(dout, cache)
    return dx, dw, np.mean(dout, axis=0)


def relu_backward_no_dout(dout: np.ndarray, cache: Any) -> np.ndarray:
    return (cache > 0).astype(dout.dtype)  # the local derivative, not chained with dout


def batchnorm_backward_no_mean_term(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
    x_hat, gamma, std = cache
    N = dout.shape[0]
    dx_hat = dout * gamma
    # forgot the -sum(dx_hat) term: the mean's dependence on x
    dx = (N * dx_hat - x_hat * np.sum(dx_hat * x_hat, axis=0)) / (N * std)
    return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)


def layernorm_backward_batch_axis(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
    x_hat, gamma, std = cache
    N = dout.shape[0]
    dx_hat = dout * gamma
    # batch norm's formula pasted: statistics over the batch axis, not the features
    dx = (N * dx_hat - np.sum(dx_hat, axis=0) - x_hat * np.sum(dx_hat * x_hat, axis=0)) / (N * std)
    return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)


def dropout_backward_unscaled(dout: np.ndarray, cache: Any) -> np.ndarray:
    dropout_param, mask = cache
    return dout * (mask > 0)  # forgot the 1/p of inverted dropout


def conv_backward_stride_one(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
    x, w, b, conv_param = cache
    return c.conv_backward_naive(dout, (x, w, b, {**conv_param, "stride": 1}))


def max_pool_backward_spread(dout: np.ndarray, cache: Any) -> np.ndarray:
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            # every entry of the window gets the gradient, not only the max
            dx[:, :, i * stride : i * stride + ph, j * stride : j * stride + pw] += dout[
                :, :, i : i + 1, j : j + 1
            ]
    return dx


def rnn_step_backward_prev_h(dnext_h: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
    x, prev_h, Wx, Wh, next_h = cache
    dz = dnext_h * (1 - prev_h**2)  # tanh' at the wrong hidden state
    return dz.dot(Wx.T), dz.dot(Wh.T), x.T.dot(dz), prev_h.T.dot(dz), dz.sum(axis=0)


def lstm_step_backward_no_h_path(
    dnext_h: np.ndarray, dnext_c: np.ndarray, cache: Any
) -> tuple[np.ndarray, ...]:
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
    dc = dnext_c  # forgot the path through next_h = o * tanh(next_c)
    di, df, do, dg = dc * g, dc * prev_c, dnext_h * tanh_c, dc * i
    da = np.hstack([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g**2)])
    return da.dot(Wx.T), da.dot(Wh.T), dc * f, x.T.dot(da), prev_h.T.dot(da), da.sum(axis=0)


def word_embedding_backward_fancy(dout: np.ndarray, cache: Any) -> np.ndarray:
    x, shape = cache
    dW = np.zeros(shape, dtype=dout.dtype)
    dW[x] += dout  # buffered: a repeated id counts once
    return dW


def softmax_loss_no_mean(x: np.ndarray, y: np.ndarray) -> tuple[Any, np.ndarray]:
    loss, dx = c.softmax_loss(x, y)
    return loss, dx * x.shape[0]  # the loss is a mean, the gradient a sum


def svm_loss_no_correct(x: np.ndarray, y: np.ndarray) -> tuple[Any, np.ndarray]:
    N = x.shape[0]
    margins = np.maximum(0, x - x[np.arange(N), y][:, None] + 1.0)
    margins[np.arange(N), y] = 0
    # forgot that the correct class's score appears in every margin
    return np.sum(margins) / N, (margins > 0).astype(x.dtype) / N


class TwoLayerNet_NoRegGrad(c.TwoLayerNet):
    """The loss includes ``0.5 reg ||W||²`` but the gradients leave out ``reg W``."""

    def loss(self, X: np.ndarray, y: np.ndarray | None = None) -> Any:
        result = super().loss(X, y)
        if y is None:
            return result
        loss, grads = result
        grads["W1"] = grads["W1"] - self.reg * self.params["W1"]
        grads["W2"] = grads["W2"] - self.reg * self.params["W2"]
        return loss, grads


#: name -> (forward, broken backward, the bug in words)
BROKEN: dict[str, tuple[Callable[..., Any], Callable[..., Any], str]] = {
    "affine_transposed_dw": (c.affine_forward, affine_backward_transposed_dw, "dw transposed"),
    "affine_mean_db": (c.affine_forward, affine_backward_mean_db, "db is a mean, not a sum"),
    "relu_no_dout": (c.relu_forward, relu_backward_no_dout, "dout not chained"),
    "batchnorm_no_mean_term": (
        c.batchnorm_forward,
        batchnorm_backward_no_mean_term,
        "dx without the term from the batch mean",
    ),
    "layernorm_batch_axis": (
        c.layernorm_forward,
        layernorm_backward_batch_axis,
        "statistics over the wrong axis",
    ),
    "dropout_unscaled": (c.dropout_forward, dropout_backward_unscaled, "dx without 1/p"),
    "conv_stride_one": (c.conv_forward_naive, conv_backward_stride_one, "backward uses stride 1"),
    "max_pool_spread": (
        c.max_pool_forward_naive,
        max_pool_backward_spread,
        "gradient to the whole window",
    ),
    "rnn_prev_h": (c.rnn_step_forward, rnn_step_backward_prev_h, "tanh' at prev_h"),
    "lstm_no_h_path": (c.lstm_step_forward, lstm_step_backward_no_h_path, "no path through h"),
    "word_embedding_fancy": (
        c.word_embedding_forward,
        word_embedding_backward_fancy,
        "dW[x] += dout under-counts repeated ids",
    ),
}
