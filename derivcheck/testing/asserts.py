"""``assert_*`` twins of every ``check_*``, for test suites.

Each takes the same arguments as its ``check_*`` twin, returns the report when
the check passes, and raises :class:`AssertionError` carrying the report's text
when it does not.  Bad input still raises :class:`derivcheck.InputError`.

>>> from derivcheck.testing.asserts import assert_derivative
>>> assert_derivative("x**3", "3*x**2", wrt="x").verdict
<Verdict.PROVEN: 'proven'>
>>> assert_derivative("x**3", "3*x", wrt="x")
Traceback (most recent call last):
    ...
AssertionError: ...refuted...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from derivcheck.claims.report import ClaimReport
    from derivcheck.layers.report import LayerReport

__all__ = [
    "assert_claim",
    "assert_derivative",
    "assert_gradient",
    "assert_jacobian",
    "assert_layer",
    "assert_layer_property",
]


def _raise_unless_ok(report: Any) -> Any:
    __tracebackhide__ = True
    if not report.ok:
        raise AssertionError(str(report))
    return report


def assert_derivative(
    expr: Any,
    claimed: Any,
    wrt: Any = None,
    *,
    domain: Mapping[str, tuple[float, float]] | None = None,
    seed: int = 0,
) -> ClaimReport:
    """Assert that ``claimed`` is the derivative of ``expr``; see
    :func:`derivcheck.check_derivative`.

    Examples
    --------
    >>> assert_derivative("sin(x)**2", "2*sin(x)*cos(x)").ok
    True
    """
    __tracebackhide__ = True
    from derivcheck.claims.api import check_derivative

    return _raise_unless_ok(check_derivative(expr, claimed, wrt, domain=domain, seed=seed))


def assert_gradient(
    expr: Any,
    claimed: Any,
    wrt: Any,
    *,
    domain: Mapping[str, tuple[float, float]] | None = None,
    seed: int = 0,
) -> ClaimReport:
    """Assert that ``claimed`` is the gradient of ``expr``; see
    :func:`derivcheck.check_gradient`.

    Examples
    --------
    >>> assert_gradient("x*y", ["y", "x"], ["x", "y"]).ok
    True
    """
    __tracebackhide__ = True
    from derivcheck.claims.api import check_gradient

    return _raise_unless_ok(check_gradient(expr, claimed, wrt, domain=domain, seed=seed))


def assert_claim(
    text: str,
    *,
    domain: Mapping[str, tuple[float, float]] | None = None,
    seed: int = 0,
) -> ClaimReport:
    """Assert a claim written as ``d/dx EXPR = CLAIM``; see :func:`derivcheck.check_claim`.

    Examples
    --------
    >>> assert_claim("d/dx 3x^2 + 5x = 6x + 5").ok
    True
    """
    __tracebackhide__ = True
    from derivcheck.claims.api import check_claim

    return _raise_unless_ok(check_claim(text, domain=domain, seed=seed))


def assert_layer(
    layer: Any,
    inputs: np.ndarray,
    y_true: np.ndarray | None = None,
    **kwargs: Any,
) -> LayerReport:
    """Assert that a layer's ``backward`` matches its ``forward``; see
    :func:`derivcheck.check_layer` for the keyword arguments.

    Examples
    --------
    >>> import numpy as np
    >>> from derivcheck.examples.book import Activation_Sigmoid
    >>> x = np.random.default_rng(0).normal(size=(3, 4))
    >>> assert_layer(Activation_Sigmoid(), x).ok
    True
    """
    __tracebackhide__ = True
    from derivcheck.layers.check import check_layer

    return _raise_unless_ok(check_layer(layer, inputs, y_true, **kwargs))


def assert_jacobian(
    fun: Callable[[np.ndarray], np.ndarray],
    jac: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    *,
    seed: int = 0,
) -> LayerReport:
    """Assert that ``jac(x)`` is the Jacobian of ``fun`` at ``x``; see
    :func:`derivcheck.check_jacobian`.

    Examples
    --------
    >>> import numpy as np
    >>> assert_jacobian(np.sin, lambda x: np.diag(np.cos(x)), np.array([0.5, 1.0, 2.0])).ok
    True
    """
    __tracebackhide__ = True
    from derivcheck.layers.check import check_jacobian

    return _raise_unless_ok(check_jacobian(fun, jac, x, seed=seed))


def assert_layer_property(
    make_layer: Callable[..., Any],
    *,
    loss: bool = False,
    max_examples: int = 50,
    seed: int | None = None,
) -> None:
    """Check a layer on many Hypothesis-drawn shapes and inputs.

    ``make_layer()`` builds a shape-free layer (an activation or a loss);
    ``make_layer(n_inputs, n_neurons)`` builds a layer with weights.  With
    ``loss=True`` labels are drawn too.  On failure Hypothesis shrinks to the
    smallest failing shape and input, and the ``AssertionError`` shows that
    case's report and the seed.

    Examples
    --------
    >>> from derivcheck.examples.book import Layer_Dense
    >>> assert_layer_property(Layer_Dense, max_examples=5, seed=0)
    """
    __tracebackhide__ = True
    from derivcheck.testing.properties import run_layer_property

    run_layer_property(make_layer, loss=loss, max_examples=max_examples, seed=seed)
