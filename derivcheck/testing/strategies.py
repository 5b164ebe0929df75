"""Hypothesis strategies for derivative claims and layer checks.

A leaf module: importing it imports Hypothesis (and SymPy for the expression
strategies); ``import derivcheck`` does not.

>>> from hypothesis import given
>>> from derivcheck import strategies as dcst
>>> @given(dcst.layer_shapes(max_batch=3))
... def test_shapes(shape):
...     batch, n_inputs, n_neurons = shape
...     assert 1 <= batch <= 3
>>> test_shapes()
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from derivcheck import _validate
from derivcheck.errors import InputError

__all__ = [
    "arrays_clear_of_kinks",
    "derivative_pairs",
    "expressions",
    "labels",
    "layer_shapes",
]


def layer_shapes(
    *, max_batch: int = 6, max_inputs: int = 6, max_neurons: int = 6
) -> st.SearchStrategy[tuple[int, int, int]]:
    """``(batch, n_inputs, n_neurons)``, batch size 1 and non-square layers included.

    Shrinks towards ``(1, 1, 1)``.

    >>> layer_shapes(max_batch=0)
    Traceback (most recent call last):
        ...
    derivcheck.errors.InputError: `max_batch` must be a positive integer, got 0.
    """
    return st.tuples(
        st.integers(1, _validate.positive_int(max_batch, "max_batch")),
        st.integers(1, _validate.positive_int(max_inputs, "max_inputs")),
        st.integers(1, _validate.positive_int(max_neurons, "max_neurons")),
    )


def arrays_clear_of_kinks(
    shape: int | tuple[int, ...],
    *,
    margin: float = 0.05,
    max_abs: float = 3.0,
    dtype: Any = np.float64,
) -> st.SearchStrategy[np.ndarray]:
    """Arrays whose entries keep at least ``margin`` away from 0 (ReLU's kink)
    and from each other within a row (ties of ``max`` are kinks too).

    >>> arrays_clear_of_kinks((2, 2), margin=-1.0)
    Traceback (most recent call last):
        ...
    derivcheck.errors.InputError: `margin` must be a finite float with 0 <= margin < max_abs, ...
    """
    if not (np.isfinite(margin) and np.isfinite(max_abs) and 0 <= margin < max_abs):
        raise InputError(
            f"`margin` must be a finite float with 0 <= margin < max_abs, got {margin!r}."
        )
    magnitude = st.floats(margin, max_abs, allow_nan=False, allow_infinity=False)
    element = st.builds(lambda m, s: s * m, magnitude, st.sampled_from([1.0, -1.0]))

    def far_apart(a: np.ndarray) -> bool:
        if a.ndim == 0 or a.shape[-1] < 2:
            return True
        rows = np.sort(a.reshape(-1, a.shape[-1]), axis=-1)
        return bool(np.all(np.diff(rows, axis=-1) >= margin))

    return hnp.arrays(np.dtype(dtype), shape, elements=element).filter(far_apart)


def labels(samples: int, classes: int, *, kind: str = "sparse") -> st.SearchStrategy[np.ndarray]:
    """Class labels: ``kind="sparse"`` (integers) or ``"onehot"`` (rows of the identity).

    >>> labels(3, 2, kind="dense")
    Traceback (most recent call last):
        ...
    derivcheck.errors.InputError: `kind` must be 'sparse' or 'onehot', got 'dense'.
    """
    _validate.positive_int(samples, "samples")
    _validate.positive_int(classes, "classes")
    if kind not in ("sparse", "onehot"):
        raise InputError(f"`kind` must be 'sparse' or 'onehot', got {kind!r}.")
    sparse = hnp.arrays(np.int64, samples, elements=st.integers(0, classes - 1))
    if kind == "sparse":
        return sparse
    return sparse.map(lambda y: np.eye(classes)[y])


_UNARY = ("sin", "cos", "exp", "tanh", "atan", "sigmoid", "softplus")


def expressions(
    variables: Sequence[str] = ("x",), *, max_leaves: int = 8
) -> st.SearchStrategy[Any]:
    """Smooth SymPy expressions over real ``variables``: polynomials, products,
    quotients by positive terms, and ``sin cos exp tanh atan sigmoid softplus``.

    Every expression is differentiable everywhere on the reals, so
    ``check_derivative(e, diff(e))`` must be ok and ``diff(e) + 1e-6`` refuted.
    """
    import sympy

    if not variables or not all(isinstance(v, str) and v.isidentifier() for v in variables):
        raise InputError(f"`variables` must be a non-empty list of names, got {variables!r}.")
    _validate.positive_int(max_leaves, "max_leaves")
    symbols = [sympy.Symbol(v, real=True) for v in variables]
    functions: dict[str, Callable[[Any], Any]] = {
        "sin": sympy.sin,
        "cos": sympy.cos,
        "exp": lambda a: sympy.exp(a / 4),
        "tanh": sympy.tanh,
        "atan": sympy.atan,
        "sigmoid": lambda a: 1 / (1 + sympy.exp(-a)),
        "softplus": lambda a: sympy.log(1 + sympy.exp(a)),
    }
    leaves = st.one_of(
        st.sampled_from(symbols),
        st.integers(-3, 3).filter(bool).map(sympy.Integer),
    )

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.builds(lambda a, b: a + b, children, children),
            st.builds(lambda a, b: a * b, children, children),
            st.builds(lambda a, b: a / (1 + b**2), children, children),
            st.builds(lambda a, n: a**n, children, st.integers(2, 3)),
            st.builds(lambda f, a: functions[f](a), st.sampled_from(_UNARY), children),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


def derivative_pairs(
    variables: Sequence[str] = ("x",), *, max_leaves: int = 8
) -> st.SearchStrategy[tuple[Any, Any, Any]]:
    """``(expr, derivative, variable)`` with the true derivative from SymPy: the order
    of :func:`~derivcheck.check_derivative`'s arguments."""
    import sympy

    exprs = expressions(variables, max_leaves=max_leaves)
    names = st.sampled_from(list(variables))

    def pair(e: Any, name: str) -> tuple[Any, Any, Any]:
        var = sympy.Symbol(name, real=True)
        return e, sympy.diff(e, var), var

    return st.builds(pair, exprs, names)
