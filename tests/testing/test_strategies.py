"""Hypothesis strategies: what they draw, and their argument errors."""

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from derivcheck import strategies as dcst
from derivcheck.errors import InputError
from derivcheck.testing import assert_layer_property


@settings(max_examples=30, deadline=None)
@given(dcst.layer_shapes(max_batch=3, max_inputs=4, max_neurons=2))
def test_layer_shapes_stay_in_bounds(shape):
    batch, n_inputs, n_neurons = shape
    assert 1 <= batch <= 3 and 1 <= n_inputs <= 4 and 1 <= n_neurons <= 2


@settings(max_examples=30, deadline=None)
@given(dcst.arrays_clear_of_kinks((3, 4), margin=0.1))
def test_arrays_clear_of_kinks_keep_the_margin(a):
    assert a.shape == (3, 4)
    assert np.all(np.abs(a) >= 0.1)
    assert np.all(np.diff(np.sort(a, axis=-1), axis=-1) >= 0.1)


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_labels(data):
    sparse = data.draw(dcst.labels(5, 3))
    assert sparse.shape == (5,) and sparse.min() >= 0 and sparse.max() <= 2
    onehot = data.draw(dcst.labels(5, 3, kind="onehot"))
    assert onehot.shape == (5, 3)
    assert np.array_equal(onehot.sum(axis=1), np.ones(5))


@settings(max_examples=25, deadline=None)
@given(dcst.derivative_pairs(("x", "y")))
def test_derivative_pairs_agree_with_central_differences(pair):
    # an independent oracle for the strategy itself: the pair's derivative is right
    expr, derivative, var = pair
    others = {s: 0.3 for s in expr.free_symbols if s != var}
    f = sympy.lambdify(var, expr.subs(others), "math")
    d = sympy.lambdify(var, derivative.subs(others), "math")
    x, h = 0.7, 1e-5
    numeric = (f(x + h) - f(x - h)) / (2 * h)
    assert abs(numeric - d(x)) <= 1e-4 * max(1.0, abs(d(x)))


@settings(max_examples=25, deadline=None)
@given(dcst.expressions(("x",)))
def test_expressions_are_real_and_smooth(expr):
    assert expr.free_symbols <= {sympy.Symbol("x", real=True)}
    assert not expr.has(sympy.Abs, sympy.Max, sympy.Min, sympy.Piecewise)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: dcst.layer_shapes(max_batch=0), "`max_batch` must be a positive integer, got 0."),
        (lambda: dcst.layer_shapes(max_inputs=2.5), "`max_inputs` must be a positive integer"),
        (lambda: dcst.layer_shapes(max_neurons=True), "`max_neurons` must be a positive integer"),
        (lambda: dcst.arrays_clear_of_kinks(3, margin=5.0, max_abs=1.0), "`margin` must be"),
        (lambda: dcst.labels(3, 2, kind="dense"), "`kind` must be 'sparse' or 'onehot'"),
        (lambda: dcst.labels(0, 2), "`samples` must be a positive integer"),
        (lambda: dcst.expressions(()), "`variables` must be a non-empty list"),
        (lambda: dcst.expressions(("x y",)), "`variables` must be a non-empty list"),
        (lambda: assert_layer_property(3), "`make_layer` must be callable"),
    ],
)
def test_argument_errors_name_the_argument(build, message):
    with pytest.raises(InputError) as info:
        build()
    assert message in str(info.value)
