"""An independent oracle for the CS231n-style examples: torch autograd.

The verdicts the other tests expect (every example correct, every broken
variant wrong in the named gradients) are established here without
derivcheck: each backward is compared with torch's gradient of
``sum(forward(args) * G)``, forward re-written in torch from the same
equations.  Skipped when torch is not installed (it is optional; install with
``pip install torch``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from derivcheck.examples import cs231n as c
from derivcheck.examples import cs231n_broken as cb
from tests.layers.cs231n_cases import BROKEN_AT, cases

torch = pytest.importorskip("torch")


def _t(a: np.ndarray) -> Any:
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def _affine(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b


def _bn(x, gamma, beta, p):
    if p["mode"] == "test":
        mean = torch.tensor(p["running_mean"])
        var = torch.tensor(p["running_var"])
        return gamma * (x - mean) / torch.sqrt(var + 1e-5) + beta
    mu = x.mean(0)
    var = ((x - mu) ** 2).mean(0)
    return gamma * (x - mu) / torch.sqrt(var + 1e-5) + beta


def _ln(x, gamma, beta, p):
    mu = x.mean(1, keepdim=True)
    var = ((x - mu) ** 2).mean(1, keepdim=True)
    return gamma * (x - mu) / torch.sqrt(var + 1e-5) + beta


def _dropout(x, p):
    np.random.seed(p.get("seed", 7))
    mask = (np.random.rand(*x.shape) < p["p"]) / p["p"]
    return x * torch.tensor(mask)


def _conv(x, w, b, p):
    return torch.nn.functional.conv2d(x, w, b, stride=p["stride"], padding=p["pad"])


def _pool(x, p):
    return torch.nn.functional.max_pool2d(x, (p["pool_height"], p["pool_width"]), p["stride"])


def _rnn(x, h, Wx, Wh, b):
    return torch.tanh(h @ Wh + x @ Wx + b)


def _lstm(x, h, cprev, Wx, Wh, b):
    H = h.shape[1]
    a = x @ Wx + h @ Wh + b
    i, f, o = (
        torch.sigmoid(a[:, :H]),
        torch.sigmoid(a[:, H : 2 * H]),
        torch.sigmoid(a[:, 2 * H : 3 * H]),
    )
    g = torch.tanh(a[:, 3 * H :])
    nc = f * cprev + i * g
    return o * torch.tanh(nc), nc


def _embed(ids, W):
    return W[torch.tensor(ids)]


TORCH = {
    "affine": _affine,
    "relu": torch.relu,
    "batchnorm": _bn,
    "batchnorm_test": _bn,
    "layernorm": _ln,
    "dropout": _dropout,
    "dropout_unseeded": _dropout,
    "conv": _conv,
    "max_pool": _pool,
    "rnn": _rnn,
    "lstm": _lstm,
    "word_embedding": _embed,
}


def _torch_and_backward(name: str, backward: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The gradients torch finds and the ones ``backward`` returns, at the same point/probe."""
    forward, _, args = cases()[name]
    if name == "dropout_unseeded":
        args = (args[0], {**args[1], "seed": 7})
    float_pos = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    targs = [(_t(a) if i in float_pos else a) for i, a in enumerate(args)]
    outs = TORCH[name](*targs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    rng = np.random.default_rng(5)
    Gs = [rng.standard_normal(tuple(o.shape)) for o in outs]
    total = sum((o * torch.tensor(G)).sum() for o, G in zip(outs, Gs, strict=True))
    total.backward()
    expected = [targs[i].grad.numpy() for i in float_pos]
    result = forward(
        *[
            np.array(a, copy=True)
            if isinstance(a, np.ndarray)
            else dict(a)
            if isinstance(a, dict)
            else a
            for a in args
        ]
    )
    cache = result[-1]
    got = backward(*Gs, cache)
    got = [got] if isinstance(got, np.ndarray) else list(got)
    return expected, got


@pytest.mark.parametrize("name", sorted(TORCH))
def test_examples_agree_with_torch(name: str) -> None:
    _, backward, _ = cases()[name]
    expected, got = _torch_and_backward(name, backward)
    assert len(expected) == len(got)
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("bug", sorted(BROKEN_AT))
def test_broken_variants_disagree_with_torch(bug: str) -> None:
    _, backward, _ = cb.BROKEN[bug]
    expected, got = _torch_and_backward(BROKEN_AT[bug], backward)
    wrong = [
        e.shape != np.shape(g) or not np.allclose(g, e, rtol=1e-6, atol=1e-9)
        for e, g in zip(expected, got, strict=True)
    ]
    assert any(wrong)


def test_losses_and_model_agree_with_torch() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(6, 4)), np.array([0, 3, 1, 1, 2, 0])
    xt = _t(x)
    torch.nn.functional.cross_entropy(xt, torch.tensor(y)).backward()
    np.testing.assert_allclose(c.softmax_loss(x, y)[1], xt.grad.numpy(), rtol=1e-10)
    xt = _t(x)
    torch.nn.functional.multi_margin_loss(xt, torch.tensor(y), margin=1.0).backward()
    # torch's multi_margin_loss divides by the number of classes too
    np.testing.assert_allclose(c.svm_loss(x, y)[1], xt.grad.numpy() * x.shape[1], rtol=1e-10)
    assert not np.allclose(cb.svm_loss_no_correct(x, y)[1], xt.grad.numpy() * x.shape[1])
    model = c.TwoLayerNet(input_dim=4, hidden_dim=5, num_classes=4, reg=0.1)
    P = {k: _t(v) for k, v in model.params.items()}
    h = torch.relu(xt.detach() @ P["W1"] + P["b1"])
    loss = torch.nn.functional.cross_entropy(h @ P["W2"] + P["b2"], torch.tensor(y))
    loss = loss + 0.5 * 0.1 * ((P["W1"] ** 2).sum() + (P["W2"] ** 2).sum())
    loss.backward()
    value, grads = model.loss(x, y)
    assert abs(float(value) - float(loss.detach())) < 1e-12
    for k in P:
        np.testing.assert_allclose(grads[k], P[k].grad.numpy(), rtol=1e-9, atol=1e-12)
