"""Property-based layer checks: :func:`run_layer_property` draws shapes and inputs
with Hypothesis and runs :func:`~derivcheck.check_layer` on each case.

The engine of :func:`derivcheck.testing.assert_layer_property`; a leaf module
that imports Hypothesis.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from derivcheck import _validate
from derivcheck.errors import InputError
from derivcheck.testing.strategies import (
    arrays_clear_of_kinks,
    labels,
    layer_shapes,
)

__all__ = ["run_layer_property"]


def _takes_shape(make_layer: Callable[..., Any]) -> bool:
    """Whether ``make_layer`` wants ``(n_inputs, n_neurons)``."""
    try:
        params = inspect.signature(make_layer).parameters.values()
    except (TypeError, ValueError):
        return False
    required = [
        p
        for p in params
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return len(required) >= 2


def run_layer_property(
    make_layer: Callable[..., Any],
    *,
    loss: bool = False,
    max_examples: int = 50,
    seed: int | None = None,
) -> None:
    """The engine of :func:`derivcheck.testing.asserts.assert_layer_property`."""
    __tracebackhide__ = True
    if not callable(make_layer):
        raise InputError(f"`make_layer` must be callable, got {make_layer!r}.")
    _validate.positive_int(max_examples, "max_examples")
    from derivcheck.layers.check import check_layer

    with_shape = _takes_shape(make_layer)

    @st.composite
    def cases(draw: st.DrawFn) -> tuple[tuple[int, ...], np.ndarray, np.ndarray | None]:
        # the layer is built in the test from these arguments, so that a failing case
        # prints as shapes and arrays, not as an object's repr
        batch, n_inputs, n_neurons = draw(layer_shapes(max_batch=4, max_inputs=5, max_neurons=5))
        shape = (n_inputs, n_neurons) if with_shape else ()
        if not loss:
            return shape, draw(arrays_clear_of_kinks((batch, n_inputs))), None
        # predictions clear of 0 and 1, one-hot targets: valid for every book loss
        probs = draw(hnp.arrays(np.float64, (batch, n_inputs), elements=st.floats(0.05, 0.95)))
        y_true = draw(labels(batch, n_inputs, kind="onehot"))
        return shape, probs, y_true

    settings_ = settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=seed is None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )

    @settings_
    @given(cases())
    def check(case: tuple[tuple[int, ...], np.ndarray, np.ndarray | None]) -> None:
        __tracebackhide__ = True
        shape, inputs, y_true = case
        layer = make_layer(*shape)
        built = f"{getattr(make_layer, '__name__', 'make_layer')}{shape if shape else '()'}"
        report = check_layer(layer, inputs, y_true, seed=seed or 0)
        if not report.ok:
            drawn = "derandomized" if seed is None else f"seed={seed}"
            labels_arg = "" if y_true is None else f", np.array({y_true.tolist()!r})"
            raise AssertionError(
                f"{type(layer).__name__} on inputs of shape {inputs.shape} "
                f"(Hypothesis {drawn}, shrunk to the smallest failing case):\n"
                f"  inputs = np.array({inputs.tolist()!r})\n"
                f"Reproduce: check_layer({built}, np.array({inputs.tolist()!r})"
                f"{labels_arg}, seed={seed or 0})  (weights as the layer initialises them)\n"
                f"{report}"
            )

    if seed is not None:
        check = hypothesis_seed(seed)(check)
    check()
