"""Test helpers: the ``assert_*`` twins of the checks, property-based layer checks,
Hypothesis strategies (:mod:`derivcheck.testing.strategies`) and the pytest plugin.

>>> from derivcheck.testing import assert_claim
>>> assert_claim("d/dx x^2 = 2x").ok
True
"""

from derivcheck.testing.asserts import (
    assert_claim,
    assert_derivative,
    assert_gradient,
    assert_jacobian,
    assert_layer,
    assert_layer_property,
)

__all__ = [
    "assert_claim",
    "assert_derivative",
    "assert_gradient",
    "assert_jacobian",
    "assert_layer",
    "assert_layer_property",
]
