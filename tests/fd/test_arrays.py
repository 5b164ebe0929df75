"""Tests of the array numeric engine, derivcheck.fd.arrays.

Oracles: for a Dense layer the exact gradient of ``sum(output * G)`` is known in
closed form (``x.T @ G``, ``G @ W.T``, ``G.sum(0)``), computed here in float64
independently of the engine; smooth activations have closed-form derivatives;
broken backwards must be caught at exactly the planted entries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derivcheck import fd as g
from derivcheck.errors import InputError
from derivcheck.fd import stencil as fd_stencil
from derivcheck.fd import steps as fd_steps

F64 = float(np.finfo(np.float64).eps)
F32 = float(np.finfo(np.float32).eps)


def directional_derivative(f, arrays, directions, **kwargs):
    """One probe through the engine's many-direction face (validation included)."""
    return g.directional_derivatives(f, arrays, [directions], **kwargs)[0]


# --------------------------------------------------------------------------- helpers


class Dense:
    """A tiny Dense layer: ``output = x @ W + b``; optionally computes in float32
    from float64 parameters, as ``np.dot`` does under the book's ``nnfs.init()``."""

    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator, dtype=np.float64,
                 dot32: bool = False, weight_scale: float = 0.1) -> None:
        self.weights = (weight_scale * rng.standard_normal((n_in, n_out))).astype(dtype)
        self.biases = (0.1 * rng.standard_normal((1, n_out))).astype(dtype)
        self.dot32 = dot32

    def forward(self, inputs: np.ndarray) -> None:
        self.inputs = inputs
        if self.dot32:
            self.output = np.dot(inputs.astype(np.float32), self.weights.astype(np.float32)) + (
                self.biases.astype(np.float32)
            )
        else:
            self.output = inputs @ self.weights + self.biases

    def backward(self, dvalues: np.ndarray) -> None:
        self.dweights = self.inputs.T @ dvalues
        self.dbiases = dvalues.sum(axis=0, keepdims=True)
        self.dinputs = dvalues @ self.weights.T


class Chain:
    """Dense then an activation, with the activation's own backward."""

    def __init__(self, dense: Dense, activation: str) -> None:
        self.dense = dense
        self.activation = activation

    def forward(self, inputs: np.ndarray) -> None:
        self.dense.forward(inputs)
        z = self.dense.output
        if self.activation == "tanh":
            self.output = np.tanh(z)
        elif self.activation == "sigmoid":
            self.output = 1 / (1 + np.exp(-z))
        elif self.activation == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            self.output = e / e.sum(axis=1, keepdims=True)
        else:
            self.output = z

    def backward(self, dvalues: np.ndarray) -> None:
        s = self.output
        if self.activation == "tanh":
            dz = dvalues * (1 - s * s)
        elif self.activation == "sigmoid":
            dz = dvalues * (1 - s) * s
        elif self.activation == "softmax":
            dz = s * (dvalues - (dvalues * s).sum(axis=1, keepdims=True))
        else:
            dz = dvalues
        self.dense.backward(dz.astype(s.dtype))
        self.dweights = self.dense.dweights
        self.dbiases = self.dense.dbiases
        self.dinputs = self.dense.dinputs


def probe(layer, x: np.ndarray, G: np.ndarray) -> Callable[[], float]:
    def f() -> float:
        layer.forward(x)
        return float(np.vdot(layer.output.astype(np.float64), G))

    return f


def dense_case(batch=32, n_in=64, n_out=32, seed=0, dtype=np.float64, dot32=False):
    rng = np.random.default_rng(seed)
    layer = Dense(n_in, n_out, rng, dtype, dot32)
    x = rng.standard_normal((batch, n_in)).astype(dtype)
    G = rng.standard_normal((batch, n_out))
    # independent float64 oracle, closed form
    W = layer.weights.astype(np.float64)
    exact = {"inputs": G @ W.T, "weights": x.astype(np.float64).T @ G,
             "biases": G.sum(axis=0, keepdims=True)}
    arrays = {"inputs": x, "weights": layer.weights, "biases": layer.biases}
    return layer, probe(layer, x, G), arrays, exact, G


def check_all(f, arrays, analytic, eps, with_analytic=True):
    """{name: (estimate, comparison)} for every array, entry by entry."""
    out = {}
    for name, arr in arrays.items():
        a = np.asarray(analytic[name], dtype=np.float64).reshape(-1)
        est = g.partial_derivatives(f, arr, analytic=a if with_analytic else None, eps=eps)
        out[name] = (est, g.compare(a, est, eps=eps))
    return out


def bits(a: np.ndarray) -> bytes:
    return a.tobytes()


# --------------------------------------------------------------------------- exact oracle


@pytest.mark.parametrize("with_analytic", [True, False])
def test_dense_matches_closed_form_gradient(with_analytic):
    _, f, arrays, exact, _ = dense_case(batch=8, n_in=6, n_out=5)
    for name, (est, cmp) in check_all(f, arrays, exact, F64, with_analytic).items():
        truth = exact[name].reshape(-1)
        assert np.all(np.abs(est.value - truth) <= est.error), name  # honest error bound
        assert est.error.max() < 1e-7 * max(1.0, np.abs(truth).max()), name
        assert cmp.ok and not est.kink.any(), name
        assert est.index.shape == (truth.size, arrays[name].ndim)


def test_smooth_activation_matches_closed_form():
    rng = np.random.default_rng(3)
    for activation in ("tanh", "sigmoid", "softmax"):
        layer = Chain(Dense(5, 4, rng), activation)
        x = rng.standard_normal((3, 5))
        G = rng.standard_normal((3, 4))
        layer.forward(x)
        layer.backward(G)
        f = probe(layer, x, G)
        est = g.partial_derivatives(f, x)  # full treatment, no analytic
        assert np.all(np.abs(est.value - layer.dinputs.reshape(-1)) <= est.error)
        assert est.error.max() < 1e-8
        assert g.compare(layer.dinputs, est, eps=F64).ok


def test_settled_entries_cost_two_evaluations():
    _, f, arrays, exact, _ = dense_case(batch=4, n_in=3, n_out=2)
    w = arrays["weights"]
    est = g.partial_derivatives(f, w, analytic=exact["weights"].reshape(-1))
    # 1 unperturbed + 8 noise measurement + 2 per entry: nothing needed Richardson
    assert est.nfev == 1 + 8 + 2 * w.size
    full = g.partial_derivatives(f, w)
    assert full.nfev == 1 + 8 + 6 * w.size
    sigma = g.noise_level(f, [w])
    known = g.partial_derivatives(f, w, noise=sigma)  # measured once, not again
    assert known.nfev == 1 + 6 * w.size
    assert not known.kink.any()


def test_indices_subset_keeps_order_and_values():
    _, f, arrays, exact, _ = dense_case(batch=4, n_in=3, n_out=5)
    w = arrays["weights"]
    idx = np.array([[2, 4], [0, 0], [1, 3]])
    est = g.partial_derivatives(f, w, idx, analytic=exact["weights"][tuple(idx.T)])
    np.testing.assert_array_equal(est.index, idx)
    np.testing.assert_allclose(est.value, exact["weights"][tuple(idx.T)], rtol=1e-8)
    empty = g.partial_derivatives(f, w, np.zeros((0, 2), dtype=int))
    assert empty.value.shape == (0,) and empty.nfev == 0


def test_zero_dimensional_array():
    s = np.array(1.5)
    est = g.partial_derivatives(lambda: float(s) ** 3, s)
    assert est.index.shape == (1, 0)
    assert abs(est.value[0] - 3 * 1.5**2) <= est.error[0] < 1e-8


# --------------------------------------------------------------------------- broken backward


def test_one_weight_off_by_one_percent_is_caught_entry_by_entry():
    layer, f, arrays, _, G = dense_case()
    layer.forward(arrays["inputs"])
    layer.backward(G)
    dweights = layer.dweights.copy()
    dweights[17, 5] *= 1.01
    est = g.partial_derivatives(f, arrays["weights"], analytic=dweights.reshape(-1))
    cmp = g.compare(dweights.reshape(-1), est, eps=F64)
    assert np.flatnonzero(cmp.mismatch).tolist() == [17 * 32 + 5]


@pytest.mark.parametrize("bug", ["double", "sign", "transposed_dinputs"])
def test_classic_bugs_fail(bug):
    rng = np.random.default_rng(5)
    layer = Dense(6, 6, rng)
    x = rng.standard_normal((4, 6))
    G = rng.standard_normal((4, 6))
    layer.forward(x)
    layer.backward(G)
    wrong = {
        "double": ("weights", 2 * layer.dweights),
        "sign": ("biases", -layer.dbiases),
        "transposed_dinputs": ("inputs", G @ layer.weights),
    }[bug]
    name, analytic = wrong
    arr = {"weights": layer.weights, "biases": layer.biases, "inputs": x}[name]
    est = g.partial_derivatives(probe(layer, x, G), arr, analytic=analytic.reshape(-1))
    cmp = g.compare(analytic.reshape(-1), est, eps=F64)
    assert cmp.mismatch.mean() > 0.9


# --------------------------------------------------------------------------- float32


@pytest.mark.parametrize("dtype, dot32", [(np.float32, False), (np.float64, True)])
def test_float32_layer_passes_when_right_and_fails_when_wrong(dtype, dot32):
    layer, f, arrays, _, G = dense_case(batch=16, n_in=12, n_out=8, dtype=dtype, dot32=dot32)
    layer.forward(arrays["inputs"])
    layer.backward(G.astype(layer.output.dtype))  # the layer's own float32 backward
    own = {"inputs": layer.dinputs, "weights": layer.dweights, "biases": layer.dbiases}
    for _name, (est, cmp) in check_all(f, arrays, own, F32).items():
        assert cmp.ok, cmp.rule
        assert not est.kink.any()
    assert "float32" in cmp.rule
    # wrong: the factor of a mean instead of a sum, and a 10 % error on one entry
    bad_w = own["weights"].astype(np.float64).copy()
    bad_w[3, 2] *= 1.10
    est = g.partial_derivatives(f, arrays["weights"], analytic=bad_w.reshape(-1), eps=F32)
    assert np.flatnonzero(g.compare(bad_w.reshape(-1), est, eps=F32).mismatch).tolist() == [
        3 * 8 + 2
    ]
    bad_b = own["biases"] / 16
    est = g.partial_derivatives(f, arrays["biases"], analytic=bad_b.reshape(-1), eps=F32)
    assert g.compare(bad_b.reshape(-1), est, eps=F32).mismatch.all()


def test_float32_steps_are_exact_in_the_array_dtype():
    x = np.array([1.0, 3.0e-3, -7.25, 1e4], dtype=np.float32)
    est = g.partial_derivatives(lambda: float(np.sum(x.astype(np.float64) ** 2)), x)
    for xi, h in zip(x.astype(np.float64), est.step, strict=True):
        assert float(np.float32(xi + h)) - xi == h  # representable, as taken
    assert np.all(est.step >= F32 ** (1 / 3) * np.maximum(1, np.abs(x)) * 0.99)
    np.testing.assert_allclose(est.value, 2 * x.astype(np.float64), rtol=1e-4)


def test_step_always_moves_the_entry():
    # eps of float64 for a float16 array: the step is raised to a few float16 ulps
    x = np.array([1.0, -3.0, 1000.0], dtype=np.float16)
    est = g.partial_derivatives(lambda: float(np.sum(x.astype(np.float64) ** 2)), x, eps=F64)
    assert np.all(est.step > 0)
    np.testing.assert_allclose(est.value, 2 * x.astype(np.float64), rtol=1e-2)


@settings(max_examples=60, deadline=None)
@given(
    batch=st.integers(1, 6),
    n_in=st.integers(1, 7),
    n_out=st.integers(1, 5),
    activation=st.sampled_from(["linear", "tanh", "sigmoid", "softmax"]),
    dot32=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_correct_float32_layers_are_never_flagged(batch, n_in, n_out, activation, dot32, seed):
    rng = np.random.default_rng(seed)
    dtype = np.float64 if dot32 else np.float32
    layer = Chain(Dense(n_in, n_out, rng, dtype, dot32, weight_scale=1.0), activation)
    x = rng.standard_normal((batch, n_in)).astype(dtype)
    G = rng.standard_normal((batch, n_out))
    layer.forward(x)
    layer.backward(G.astype(np.float32))  # float32 backward: its rounding is part of the test
    f = probe(layer, x, G)
    own = {"inputs": layer.dinputs, "weights": layer.dweights, "biases": layer.dbiases}
    arrays = {"inputs": x, "weights": layer.dense.weights, "biases": layer.dense.biases}
    for name, (est, cmp) in check_all(f, arrays, own, F32, with_analytic=seed % 2 == 0).items():
        assert cmp.ok, (name, cmp.abs_diff.max(), cmp.tol.min())
        assert not est.kink.any()
    # and a directional probe over every entry of every tensor at once
    directions = [rng.standard_normal(a.shape) for a in arrays.values()]
    de = directional_derivative(f, list(arrays.values()), directions, eps=F32)
    expected = sum(float(np.vdot(own[k], d)) for k, d in zip(arrays, directions, strict=True))
    assert not de.kink
    assert g.compare(expected, de, eps=F32).ok, (expected, de)


# --------------------------------------------------------------------------- kinks


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("with_analytic", [True, False])
def test_relu_kinks_are_reported_not_mismatched(dtype, with_analytic):
    rng = np.random.default_rng(1)
    x = rng.uniform(0.5, 2.0, size=(3, 10)) * np.where(rng.random((3, 10)) < 0.5, -1, 1)
    x = x.astype(dtype)
    h = np.finfo(dtype).eps ** (1 / 3)
    x[0, :5] = 0.0  # exactly at the kink
    near = np.array([0.1, -0.3, 0.5, -0.66, 0.9])  # within a step: the difference straddles it
    x[1, :5] = near * h
    x[1, 5:7] = [1.5 * h, -3.0 * h]  # outside the first step: differentiable, exact estimate
    G = rng.uniform(0.5, 2.0, size=x.shape)

    def f() -> float:
        return float(np.vdot(np.maximum(x, 0).astype(np.float64), G))

    book = (G * (x > 0)).reshape(-1)  # the book's convention: 0 at the kink
    est = g.partial_derivatives(f, x, analytic=book if with_analytic else None)
    cmp = g.compare(book, est, eps=float(np.finfo(dtype).eps))
    kink = est.kink.reshape(x.shape)
    assert kink[0, :5].all() and kink[1, :5].all()
    assert not kink[1, 5:].any()
    np.testing.assert_allclose(est.value.reshape(x.shape)[1, 5:7], [G[1, 5], 0.0], atol=1e-3)
    assert not kink[2].any()  # far from 0
    assert cmp.ok
    assert cmp.kink.sum() == 10
    # the one-sided slopes are the two sides of the kink
    np.testing.assert_allclose(est.slope_plus.reshape(x.shape)[0, :5], G[0, :5], rtol=1e-3)
    np.testing.assert_allclose(est.slope_minus.reshape(x.shape)[0, :5], 0, atol=1e-3)


def test_a_wrong_entry_next_to_a_kink_is_still_a_mismatch():
    x = np.array([0.0, 0.7, -0.4, 1.3])
    G = np.array([1.0, 2.0, 3.0, 4.0])

    def f() -> float:
        return float(np.vdot(np.maximum(x, 0), G))

    wrong = np.array([0.0, 2.0, 3.0, 4.0])  # entry 2 is at x < 0: gradient 0, not 3
    est = g.partial_derivatives(f, x, analytic=wrong)
    cmp = g.compare(wrong, est, eps=F64)
    assert cmp.mismatch.tolist() == [False, False, True, False]
    assert cmp.kink.tolist() == [True, False, False, False]


# --------------------------------------------------------------------------- restoration


class Boom(RuntimeError):
    pass


def raising_after(n: int, f: Callable[[], float]) -> Callable[[], float]:
    calls = [0]

    def wrapped() -> float:
        calls[0] += 1
        if calls[0] > n:
            raise Boom("forward failed")
        return f()

    return wrapped


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_arrays_restored_bit_for_bit(dtype):
    rng = np.random.default_rng(2)
    span = 3 if dtype == np.float16 else 8
    base = rng.standard_normal((5, 4)) * np.logspace(-span, span, 20).reshape(5, 4)
    arrays = [
        base.astype(dtype),
        np.asfortranarray(base.astype(dtype)),  # not C-contiguous
        base.astype(dtype).T,  # a transposed view
    ]
    arrays[0][0, 0] = -0.0
    arrays[0][0, 1] = np.finfo(dtype).tiny
    before = [bits(a) for a in arrays]
    for a in arrays:

        def f(a=a) -> float:
            return float(np.sum(np.sin(a.astype(np.float64))))

        g.partial_derivatives(f, a)
        g.partial_derivatives(f, a, analytic=np.zeros(a.size))
    directional_derivative(
        lambda: float(sum(np.sum(a.astype(np.float64) ** 2) for a in arrays)),
        arrays, [np.ones(a.shape) for a in arrays])
    g.localise(lambda: float(sum(np.sum(a.astype(np.float64)) for a in arrays)),
               arrays, [np.zeros(a.shape) for a in arrays], eps=float(np.finfo(dtype).eps))
    g.noise_level(lambda: float(np.sum(arrays[0])), arrays)
    assert [bits(a) for a in arrays] == before
    assert np.signbit(arrays[0][0, 0])


@pytest.mark.parametrize("fail_at", [0, 1, 5, 12, 30])
def test_arrays_restored_when_f_raises(fail_at):
    rng = np.random.default_rng(4)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    v = rng.standard_normal(5)
    before = bits(w), bits(v)

    def f() -> float:
        return float(np.sum(w ** 2) + np.sum(v ** 3))

    with pytest.raises(Boom):
        g.partial_derivatives(raising_after(fail_at, f), w, analytic=np.ones(w.size))
    with pytest.raises(Boom):
        g.partial_derivatives(raising_after(fail_at + 40, f), w)
    with pytest.raises(Boom):
        directional_derivative(raising_after(fail_at % 14, f), [w, v], [np.ones(w.shape), v])
    with pytest.raises(Boom):
        g.localise(raising_after(fail_at % 14, f), [w, v], [2 * w + 1, 3 * v**2], eps=F32)
    assert (bits(w), bits(v)) == before


# --------------------------------------------------------------------------- directional


def planted(n_in, n_out, batch=32, seed=0, where=(5, 7), factor=1.01):
    _, f, arrays, exact, _ = dense_case(batch, n_in, n_out, seed)
    analytic = {k: v.copy() for k, v in exact.items()}
    analytic["weights"][where] *= factor
    return f, [arrays["inputs"], arrays["weights"], arrays["biases"]], [
        analytic["inputs"], analytic["weights"], analytic["biases"]]


@pytest.mark.parametrize("factor, caught", [(1.0, False), (1.01, True), (0.99, True)])
def test_directional_probes_catch_one_percent_bug(factor, caught):
    f, arrays, analytics = planted(64, 32, factor=factor)
    noise = g.noise_level(f, arrays)
    for seed in range(4):
        rng = np.random.default_rng(seed)
        directions = [rng.standard_normal(a.shape) for a in arrays]
        est = directional_derivative(f, arrays, directions, noise=noise)
        expected = sum(float(np.vdot(a, d)) for a, d in zip(analytics, directions, strict=True))
        cmp = g.compare(expected, est, eps=F64)
        assert cmp.mismatch.tolist() == [caught]
        assert not est.kink
        # the bug moves the directional derivative by ~1e-5 relative: the bound is far tighter
        assert est.error < 1e-8 * abs(est.value)


def test_directional_derivatives_share_the_point_and_the_noise():
    f, arrays, analytics = planted(64, 32, factor=1.01)
    rng = np.random.default_rng(3)
    directions = [[rng.standard_normal(a.shape) for a in arrays] for _ in range(3)]
    calls = 0

    def counted() -> float:
        nonlocal calls
        calls += 1
        return f()

    ests = g.directional_derivatives(counted, arrays, directions)
    # f at the point once, the noise once (8), then 6 per direction
    assert [e.nfev for e in ests] == [15, 6, 6] and calls == 27
    sigma = ests[0].noise
    assert all(e.noise == sigma for e in ests) and sigma >= 0
    for est, dirs in zip(ests, directions, strict=True):
        alone = directional_derivative(f, arrays, dirs, noise=sigma)
        assert abs(est.value - alone.value) <= est.error + alone.error
        expected = sum(float(np.vdot(a, d)) for a, d in zip(analytics, dirs, strict=True))
        assert g.compare(expected, est, eps=F64).mismatch.tolist() == [True]  # the 1 % bug
    given = g.directional_derivatives(f, arrays, directions[:1], noise=sigma)
    assert given[0].nfev == 7 and given[0].noise == sigma


def test_partial_derivatives_with_f0_given_saves_one_evaluation():
    _, f, arrays, exact, _ = dense_case(8, 6, 5)
    w = arrays["weights"]
    a = exact["weights"].reshape(-1)
    est = g.partial_derivatives(f, w, analytic=a, noise=0.0)
    est_f0 = g.partial_derivatives(f, w, analytic=a, noise=0.0, f0=f())
    assert est_f0.nfev == est.nfev - 1
    np.testing.assert_array_equal(est_f0.value, est.value)
    assert g.compare(a, est_f0, eps=F64).ok


def test_directional_derivative_of_a_quadratic_is_exact():
    w = np.array([1.0, -2.0, 0.5])
    u = np.array([[0.3, 0.1]])
    d_w, d_u = np.array([1.0, 2.0, -1.0]), np.array([[0.5, 0.0]])

    def f() -> float:
        return float(np.sum(w**2) + 3.0 * w[0] * u[0, 1] + np.sum(u))

    est = directional_derivative(f, [w, u], [d_w, d_u])
    exact = float(np.dot(2 * w + np.array([3 * u[0, 1], 0, 0]), d_w) + np.sum(d_u)
                  + 3 * w[0] * d_u[0, 1])
    assert abs(est.value - exact) <= est.error < 1e-8
    assert est.nfev == 15 and est.step > 0


@pytest.mark.parametrize("dot32", [False, True])
def test_directional_float32_nonlinear_layer(dot32):
    # moving all 4k entries by a float32 step makes tanh far from linear: the step ladder
    # must keep the correct layer passing, without false kinks, and still catch a 10 % bug
    rng = np.random.default_rng(11)
    dtype = np.float64 if dot32 else np.float32
    layer = Chain(Dense(64, 32, rng, dtype, dot32, weight_scale=0.1), "tanh")
    x = rng.standard_normal((32, 64)).astype(dtype)
    G = rng.standard_normal((32, 32))
    layer.forward(x)
    layer.backward(G.astype(np.float32))
    f = probe(layer, x, G)
    arrays = [x, layer.dense.weights, layer.dense.biases]
    right = [layer.dinputs, layer.dweights, layer.dbiases]
    wrong = [right[0], right[1].copy(), right[2]]
    wrong[1][3, 2] *= 1.10
    noise = g.noise_level(f, arrays, eps=F32)
    caught = 0
    for seed in range(4):
        directions = [np.random.default_rng(seed).standard_normal(a.shape) for a in arrays]
        est = directional_derivative(f, arrays, directions, eps=F32, noise=noise)
        assert not est.kink
        good = sum(float(np.vdot(a, d)) for a, d in zip(right, directions, strict=True))
        bad = sum(float(np.vdot(a, d)) for a, d in zip(wrong, directions, strict=True))
        assert g.compare(good, est, eps=F32).ok
        caught += int(not g.compare(bad, est, eps=F32).ok)
    assert caught >= 2


def test_directional_kink_is_reported():
    x = np.array([0.0, 0.5, -1.0, 2.0])
    G = np.array([1.0, 2.0, 3.0, 4.0])
    est = directional_derivative(lambda: float(np.vdot(np.maximum(x, 0), G)), [x],
                                   [np.array([1.0, 1.0, 1.0, 1.0])])
    assert est.kink
    assert g.compare(float(np.vdot(G * (x > 0), np.ones(4))), est, eps=F64).ok


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_non_contiguous_arrays_give_the_same_numbers(layout):
    rng = np.random.default_rng(8)
    base = rng.standard_normal((4, 3))
    strided = np.zeros((8, 6))[::2, ::2]  # a view: neither C- nor F-contiguous
    strided[...] = base
    a = {"C": base.copy(), "F": np.asfortranarray(base), "strided": strided}[layout]
    assert layout == "C" or not a.flags.c_contiguous
    c = rng.standard_normal((4, 3))

    def f() -> float:
        return float(np.sum(c * a**2))

    grad = 2 * c * a
    est = g.partial_derivatives(f, a)
    np.testing.assert_allclose(est.value, grad.reshape(-1), rtol=1e-8)
    np.testing.assert_array_equal(est.index[5], [1, 2])  # row-major whatever the layout
    d = rng.standard_normal((4, 3))
    de = directional_derivative(f, [a], [d])
    assert abs(de.value - float(np.sum(grad * d))) <= de.error < 1e-7
    wrong = grad.copy()
    wrong[2, 1] += 0.1
    assert g.localise(f, [a], [wrong], eps=F64) == [(0, (2, 1))]


# --------------------------------------------------------------------------- localise


@pytest.mark.parametrize("n_in, n_out", [(64, 32), (300, 100)])
def test_localise_finds_the_planted_index(n_in, n_out):
    f, arrays, analytics = planted(n_in, n_out, where=(n_in - 3, n_out // 2))
    found = g.localise(f, arrays, analytics, eps=F64, seed=0)
    assert found == [(1, (n_in - 3, n_out // 2))]


def test_localise_puts_the_arrays_back_from_the_backups_given():
    f, arrays, analytics = planted(64, 32, where=(61, 16))
    before = [a.copy() for a in arrays]
    backups = [a.copy() for a in arrays]
    found = g.localise(f, arrays, analytics, eps=F64, seed=0, backups=backups)
    assert found == g.localise(f, arrays, analytics, eps=F64, seed=0) == [(1, (61, 16))]
    for a, b, backup in zip(arrays, before, backups, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(backup, b)  # read, never written
    with pytest.raises(InputError, match="`backups`"):
        g.localise(f, arrays, analytics, eps=F64, backups=backups[:1])
    with pytest.raises(InputError, match="`backups`"):
        g.localise(f, arrays, analytics, eps=F64, backups=[b.astype(np.float32) for b in backups])


def test_localise_finds_several_and_nothing_when_right():
    f, arrays, analytics = planted(16, 8, factor=1.0)
    assert g.localise(f, arrays, analytics, eps=F64) == []
    analytics[0][3, 1] += 0.5
    analytics[2][0, 7] *= -1
    found = g.localise(f, arrays, analytics, eps=F64)
    assert found == [(0, (3, 1)), (2, (0, 7))]
    assert g.localise(f, arrays, analytics, eps=F64, max_entries=1) in (
        [(0, (3, 1))], [(2, (0, 7))])


def test_localise_with_many_kinks_is_bounded_and_prefers_clean_ranges():
    rng = np.random.default_rng(6)
    x = rng.standard_normal(4096)
    x[:2048][rng.random(2048) < 0.3] = 0.0  # ReLU at exact zeros, first half only
    G = rng.standard_normal(x.shape)
    calls = [0]

    def f() -> float:
        calls[0] += 1
        return float(np.vdot(np.maximum(x, 0), G))

    grad = G * (x > 0)
    grad[3000] += 1.0  # the bug is in the clean half
    found = g.localise(f, [x], [grad], eps=F64, max_entries=1, max_evals=300)
    assert found == [(0, (3000,))]
    calls[0] = 0
    assert g.localise(f, [x], [G * (x > 0)], eps=F64, max_evals=300) == []  # kinks only
    assert calls[0] <= 300 + 100  # the budget, plus at most one range's overshoot


@pytest.mark.parametrize("dtype, dot32", [(np.float32, False), (np.float64, True)])
def test_localise_float32(dtype, dot32):
    layer, f, arrays, _, G = dense_case(dtype=dtype, dot32=dot32)
    layer.forward(arrays["inputs"])
    layer.backward(G.astype(np.float32))
    arrs = [arrays["inputs"], arrays["weights"], arrays["biases"]]
    own = [layer.dinputs.copy(), layer.dweights.copy(), layer.dbiases.copy()]
    assert g.localise(f, arrs, own, eps=F32) == []
    # float32 resolves about 1 % of this layer's typical gradient entry (~5.7) entry by
    # entry: plant 5 % of that scale
    own[1][40, 9] += 0.3
    assert g.localise(f, arrs, own, eps=F32) == [(1, (40, 9))]


# --------------------------------------------------------------------------- book layers


def test_book_layers():
    book = pytest.importorskip("derivcheck.examples.book")
    rng = np.random.default_rng(7)
    np.random.seed(7)
    dense = book.Layer_Dense(5, 4)
    relu = book.Activation_ReLU()
    x = rng.standard_normal((6, 5))
    G = rng.standard_normal((6, 4))

    def f() -> float:
        dense.forward(x, training=False)
        relu.forward(dense.output, training=False)
        return float(np.vdot(relu.output, G))

    f()
    relu.backward(G)
    dense.backward(relu.dinputs)
    for arr, grad in ((dense.weights, dense.dweights), (x, dense.dinputs),
                      (dense.biases, dense.dbiases)):
        est = g.partial_derivatives(f, arr, analytic=grad.reshape(-1))
        assert g.compare(grad.reshape(-1), est, eps=F64).ok
    softmax = book.Activation_Softmax()
    z = rng.standard_normal((3, 4))

    def fs() -> float:
        softmax.forward(z, training=False)
        return float(np.vdot(softmax.output, G[:3]))

    fs()
    softmax.backward(G[:3])
    est = g.partial_derivatives(fs, z)
    assert g.compare(softmax.dinputs.reshape(-1), est, eps=F64).ok
    assert not g.compare(2 * softmax.dinputs.reshape(-1), est, eps=F64).ok


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(st.floats(-10, 10), min_size=7, max_size=7),
    step=st.floats(1e-6, 1e-1),
    noise=st.floats(0, 1e-6),
)
def test_scalar_and_array_estimators_agree(values, step, noise):
    f0, *rest = values
    fp, fm = rest[:3], rest[3:]
    steps = [step, 2 * step, 4 * step]
    col = np.array(steps).reshape(3, 1)
    v, e, k, _, _ = fd_stencil.full_estimate(
        f0, np.array(fp).reshape(3, 1), np.array(fm).reshape(3, 1), col, col, np.array([noise])
    )
    vs, es, ks = fd_steps.full_estimate_scalar(f0, fp, fm, steps, noise)
    np.testing.assert_allclose([vs, es], [v[0], e[0]], rtol=1e-9, atol=1e-12 / step)
    assert ks == bool(k[0])


# --------------------------------------------------------------------------- compare


def test_compare_rule_overrides_and_nan():
    est = g.EntryEstimates(
        index=np.arange(4).reshape(4, 1), value=np.array([1.0, 2.0, 3.0, np.nan]),
        error=np.full(4, 1e-9), kink=np.array([False, False, True, False]),
        step=np.full(4, 1e-5), nfev=9,
    )
    analytic = np.array([1.0, 2.001, 7.0, 4.0])
    cmp = g.compare(analytic, est, eps=F64)
    assert cmp.mismatch.tolist() == [False, True, False, True]  # kink never; NaN always
    assert cmp.kink.tolist() == [False, False, True, False]
    assert cmp.rule == "tolerance from error estimate (x5) + 8 ulp of the gradient scale, float64"
    np.testing.assert_allclose(cmp.rel_diff[:2], [0.0, 0.0005])
    user = g.compare(analytic, est, eps=F32, rtol=1e-2)
    assert user.mismatch.tolist() == [False, False, False, True]
    assert user.rule == "rtol=0.01, atol=0 (user tolerances), float32"
    assert g.compare(analytic, est, eps=1e-3, atol=10.0).rule.endswith("eps=0.001")
    directional = g.DirectionalEstimate(value=5.0, error=1e-12, kink=False, nfev=7)
    assert g.compare(5.0 + 1e-6, directional, eps=F64).mismatch.tolist() == [True]
    assert g.compare(5.0, directional, eps=F64).ok


def test_tolerance_scales_with_the_error_estimate():
    est = g.EntryEstimates(np.zeros((2, 1), int), np.array([1.0, 1.0]), np.array([1e-3, 1e-9]),
                           np.zeros(2, bool), np.ones(2), 1)
    cmp = g.compare([1.005, 1.005], est, eps=F64)
    assert cmp.mismatch.tolist() == [False, True]


# --------------------------------------------------------------------------- validation


def test_validation_messages():
    w = np.ones(3)
    f = lambda: 0.0  # noqa: E731
    a_list: Any = [1.0, 2.0]
    not_callable: Any = 3
    text: Any = "x"
    lone: Any = w
    cases = [
        (lambda: g.partial_derivatives(f, a_list), "`array` must be a numpy array"),
        (lambda: g.partial_derivatives(f, np.arange(3)), "`array` must have a real floating dtype"),
        (lambda: g.partial_derivatives(f, np.ones(2, complex)), "real floating dtype, got complex"),
        (lambda: g.partial_derivatives(not_callable, w), "`f` must be callable"),
        (lambda: g.partial_derivatives(f, w, eps=0), "`eps` must be a finite float with 0 <"),
        (lambda: g.partial_derivatives(f, w, eps=text), "`eps` must be a finite float with 0 <"),
        (lambda: g.partial_derivatives(f, w, f_scale=-1), "`f_scale` must be a non-negative"),
        (lambda: g.partial_derivatives(f, w, noise=np.inf), "`noise` must be a non-negative"),
        (lambda: g.partial_derivatives(f, w, [[5]]), "`indices` entry (5,) is out of bounds"),
        (lambda: g.partial_derivatives(f, w, [[0, 1]]), "`indices` must have shape (k, 1)"),
        (lambda: g.partial_derivatives(f, w, [0.5]), "`indices` must be integers"),
        (lambda: g.partial_derivatives(f, w, analytic=[1, 2]), "shape (3,), got shape (2,)"),
        (lambda: directional_derivative(f, lone, [w]), "`arrays` must be a sequence"),
        (lambda: directional_derivative(f, [], []), "`arrays` must not be empty"),
        (lambda: directional_derivative(f, [w], [w, w]), "same length (1 != 2)"),
        (lambda: directional_derivative(f, [w], [np.ones(2)]),
         "`directions[0][0]` has shape (2,), expected (3,)"),
        (lambda: directional_derivative(f, [w], [np.zeros(3)]), "must not be all zero"),
        (lambda: directional_derivative(f, [w], [np.array([1, np.nan, 0])]),
         "`directions[0][0]` must be finite"),
        (lambda: g.compare([1.0], g.DirectionalEstimate(1.0, 0.0, False, 1), eps=F64, rtol=-1),
         "`rtol` must be a non-negative finite float"),
        (lambda: g.compare([1.0, 2.0], g.DirectionalEstimate(1.0, 0.0, False, 1), eps=F64),
         "`analytic` has shape (2,), expected ()"),
        (lambda: g.partial_derivatives(f, w, f0=np.nan), "`f0` must be a finite float"),
        (lambda: g.partial_derivatives(f, w, f0=text), "`f0` must be a finite float"),
        (lambda: g.directional_derivatives(f, [w], []), "`directions` must be a non-empty"),
        (lambda: g.directional_derivatives(f, [w], [[w], [np.ones(2)]]),
         "`directions[1][0]` has shape (2,), expected (3,)"),
        (lambda: g.directional_derivatives(f, [w], [[np.zeros(3)]]),
         "`directions[0]` must not be all zero"),
        (lambda: g.localise(f, [w], [np.ones(2)], eps=F64), "`analytics[0]` has shape (2,)"),
        (lambda: g.localise(f, [w], [w], eps=F64, max_entries=0), "`max_entries` must be"),
        (lambda: g.localise(f, [w], [w], eps=F64, max_evals=0), "`max_evals` must be"),
    ]
    for call, message in cases:
        with pytest.raises(InputError) as info:
            call()
        assert message in str(info.value), (message, str(info.value))
    ro = np.ones(3)
    ro.flags.writeable = False
    with pytest.raises(InputError, match="`array` must be writeable"):
        g.partial_derivatives(f, ro)


def test_noise_level():
    rng = np.random.default_rng(0)
    w32 = rng.standard_normal(200).astype(np.float32)
    sigma32 = g.noise_level(lambda: float(np.sum(np.exp(w32))), [w32])
    w64 = w32.astype(np.float64)
    sigma64 = g.noise_level(lambda: float(np.sum(np.exp(w64))), [w64])
    total = float(np.sum(np.exp(w64)))
    assert 0 < sigma32 < 100 * F32 * total
    assert sigma64 < 100 * F64 * total
    assert sigma64 < sigma32


def test_partial_derivatives_measure_the_noise_only_when_the_floor_does_not_settle():
    """With the backward's values, the 8 noise evaluations are spent only when some entry
    does not settle under the rounding floor alone, which never settles what a measured
    noise would not."""
    w = np.linspace(-1.0, 1.0, 6)
    exact = 2.0 * w

    def smooth() -> float:
        return float(np.sum(w**2))

    lazy = g.partial_derivatives(smooth, w, analytic=exact)
    eager = g.partial_derivatives(smooth, w)
    assert lazy.nfev == 1 + 2 * w.size  # the point and two per entry, no noise
    assert eager.nfev >= lazy.nfev + fd_stencil.NOISE_POINTS
    assert g.compare(exact, lazy, eps=F64).ok

    def noisy() -> float:  # rounded to 11 significant digits: noise ~1e-11 |f|, not eps's
        return float(f"{float(np.sum(w**2)):.11g}")

    floor_only = g.partial_derivatives(noisy, w, analytic=exact, noise=0.0)
    measured = g.partial_derivatives(noisy, w, analytic=exact)
    # the floor alone (float64's) sees kinks or errors in this f's rounding noise; the
    # lazy default measured the noise and settles every entry cleanly
    assert floor_only.kink.any() or not g.compare(exact, floor_only, eps=F64).ok
    assert measured.nfev >= 1 + 2 * w.size + fd_stencil.NOISE_POINTS
    assert g.compare(exact, measured, eps=F64).ok and not measured.kink.any()
    wrong = g.partial_derivatives(noisy, w, analytic=1.5 * exact)
    assert g.compare(1.5 * exact, wrong, eps=F64).mismatch[np.abs(w) > 0.1].all()
