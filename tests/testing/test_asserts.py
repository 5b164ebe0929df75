"""The assert_* twins: pass through the report when ok, raise with its text when not."""

import numpy as np
import pytest

from derivcheck import testing
from derivcheck.claims.api import check_claim, check_derivative
from derivcheck.errors import InputError
from derivcheck.examples import book, broken
from derivcheck.layers.check import check_layer


def test_assert_derivative_returns_the_report():
    report = testing.assert_derivative("x**3", "3*x**2", "x")
    assert report.ok
    assert report.verdict == check_derivative("x**3", "3*x**2", "x").verdict


def test_assert_derivative_raises_with_the_report_text():
    with pytest.raises(AssertionError) as info:
        testing.assert_derivative("x**3", "3*x", "x", seed=4)
    assert str(info.value) == str(check_derivative("x**3", "3*x", "x", seed=4))


def test_assert_claim_and_gradient():
    assert testing.assert_claim("∂/∂y x*y = x").ok
    assert testing.assert_gradient("x*y", {"x": "y", "y": "x"}, ["x", "y"]).ok
    with pytest.raises(AssertionError, match="refuted"):
        testing.assert_gradient("x*y", ["y", "y"], ["x", "y"])
    text = "d/dx max(x, y) = 1"
    with pytest.raises(AssertionError) as info:
        testing.assert_claim(text)
    assert str(info.value) == str(check_claim(text))


def test_bad_input_is_still_input_error_not_assertion():
    with pytest.raises(InputError):
        testing.assert_claim("d/dx x^2 2x")


def test_assert_layer():
    x = np.random.default_rng(1).normal(size=(4, 3))
    assert testing.assert_layer(book.Activation_Sigmoid(), x).ok
    with pytest.raises(AssertionError) as info:
        testing.assert_layer(broken.Sigmoid_MissingOutputFactor(), x)
    assert str(info.value) == str(check_layer(broken.Sigmoid_MissingOutputFactor(), x))


def test_assert_jacobian():
    x = np.array([0.3, -1.2, 2.0])
    assert testing.assert_jacobian(np.tanh, lambda v: np.diag(1 - np.tanh(v) ** 2), x).ok
    with pytest.raises(AssertionError, match="Mismatched"):
        testing.assert_jacobian(np.tanh, lambda v: np.diag(1 - np.tanh(v)), x)


def test_assert_layer_property_shrinks_a_broken_layer():
    with pytest.raises(AssertionError) as info:
        testing.assert_layer_property(broken.Dense_MeanInsteadOfSum, max_examples=20, seed=0)
    message = str(info.value)
    assert "Dense_MeanInsteadOfSum" in message
    assert "dbiases" in message
    # the shrunk case: a mean differs from a sum only with 2 or more samples
    assert "inputs of shape (2, 1)" in message


def test_assert_layer_property_passes_correct_layers():
    testing.assert_layer_property(book.Layer_Dense, max_examples=10, seed=0)
    testing.assert_layer_property(book.Activation_Softmax, max_examples=10, seed=0)
    testing.assert_layer_property(book.Loss_MeanSquaredError, loss=True, max_examples=10, seed=0)


def test_a_property_failure_shows_the_case_as_arrays_and_a_line_that_reproduces_it():
    with pytest.raises(AssertionError) as info:
        testing.assert_layer_property(broken.Dense_MeanInsteadOfSum, max_examples=20, seed=0)
    message = str(info.value)
    assert "(Hypothesis seed=0, shrunk to the smallest failing case)" in message
    assert "inputs = np.array([[1.0], [1.0]])" in message
    line = next(x for x in message.splitlines() if x.startswith("Reproduce: "))
    assert "check_layer(Dense_MeanInsteadOfSum(1, 1), np.array([[1.0], [1.0]]), seed=0)" in line
    assert "object at 0x" not in message


def test_session_defaults_reach_the_twins_and_the_call_wins():
    from derivcheck.testing import asserts

    asserts.configure(seed=4)
    try:
        assert testing.assert_claim("d/dx x^2 = 2x").seed == 4
        assert testing.assert_claim("d/dx x^2 = 2x", seed=2).seed == 2
        # check_jacobian has no `mode`: a session mode is not passed to it
        asserts.configure(mode="full")
        assert testing.assert_jacobian(np.sin, lambda v: np.diag(np.cos(v)), np.ones(2)).ok
    finally:
        asserts.configure(seed=None, mode=None)
    assert testing.assert_claim("d/dx x^2 = 2x").seed == 0
