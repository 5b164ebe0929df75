"""Hypothesis strategies for derivcheck (``from derivcheck import strategies as dcst``).

The implementation lives in :mod:`derivcheck.testing.strategies`; this module
is the public name of API.md.
"""

from derivcheck.testing.strategies import (
    arrays_clear_of_kinks,
    derivative_pairs,
    expressions,
    labels,
    layer_shapes,
)

__all__ = ["arrays_clear_of_kinks", "derivative_pairs", "expressions", "labels", "layer_shapes"]
