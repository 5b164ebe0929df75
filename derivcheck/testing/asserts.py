"""``assert_*`` twins of every ``check_*``, for test suites, built from one table.

Each takes the same arguments as its ``check_*`` twin, returns the report when
the check passes, and raises :class:`AssertionError` carrying the report's text
when it does not.  Bad input still raises :class:`derivcheck.InputError`.
The check is imported on the first call, so importing this module (as the
pytest plugin does at start-up) imports neither SymPy nor Hypothesis.

>>> from derivcheck.testing.asserts import assert_derivative
>>> assert_derivative("x**3", "3*x**2", wrt="x").verdict
<Verdict.PROVEN: 'proven'>
>>> assert_derivative("x**3", "3*x", wrt="x")
Traceback (most recent call last):
    ...
AssertionError: ...refuted...
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, ParamSpec, TypeVar

__all__ = [
    "SESSION_DEFAULTS",
    "TWINS",
    "assert_claim",
    "assert_derivative",
    "assert_gradient",
    "assert_jacobian",
    "assert_layer",
    "assert_layer_property",
    "configure",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")


class Twin(NamedTuple):
    """One row of the table: an ``assert_*`` helper and the check it asserts."""

    name: str
    module: str
    check: str
    example: str


#: Every ``assert_*`` twin; the pytest fixture's methods are made from the same rows.
TWINS: tuple[Twin, ...] = (
    Twin("assert_derivative", "derivcheck.claims.api", "check_derivative",
         '>>> assert_derivative("sin(x)**2", "2*sin(x)*cos(x)").ok\nTrue'),
    Twin("assert_gradient", "derivcheck.claims.api", "check_gradient",
         '>>> assert_gradient("x*y", ["y", "x"], ["x", "y"]).ok\nTrue'),
    Twin("assert_claim", "derivcheck.claims.api", "check_claim",
         '>>> assert_claim("d/dx 3x^2 + 5x = 6x + 5").ok\nTrue'),
    Twin("assert_layer", "derivcheck.layers.check", "check_layer",
         ">>> import numpy as np\n"
         ">>> from derivcheck.examples.book import Activation_Sigmoid\n"
         ">>> x = np.random.default_rng(0).normal(size=(3, 4))\n"
         ">>> assert_layer(Activation_Sigmoid(), x).ok\nTrue"),
    Twin("assert_jacobian", "derivcheck.layers.jacobian", "check_jacobian",
         ">>> import numpy as np\n"
         ">>> jac = lambda x: np.diag(np.cos(x))\n"
         ">>> assert_jacobian(np.sin, jac, np.array([0.5, 1.0, 2.0])).ok\nTrue"),
)  # fmt: skip


def _raise_unless_ok(report: _R) -> _R:
    __tracebackhide__ = True
    if not getattr(report, "ok", False):
        raise AssertionError(str(report))
    return report


#: Options for every ``assert_*`` call of the process (the pytest plugin sets them from
#: ``--derivcheck-seed``, ``--derivcheck-mode``, ``--derivcheck-reference``); an
#: argument given in the call wins.
SESSION_DEFAULTS: dict[str, Any] = {}
_OPTIONS = ("seed", "mode", "reference")


def configure(**defaults: Any) -> None:
    """Set (or, with ``None``, clear) session-wide defaults for the ``assert_*`` helpers.

    >>> configure(seed=3)
    >>> assert_claim("d/dx x^2 = 2x").seed
    3
    >>> configure(seed=None)
    >>> assert_claim("d/dx x^2 = 2x").seed
    0
    """
    for key, value in defaults.items():
        if key not in _OPTIONS:
            raise TypeError(f"configure() got an unexpected option {key!r}")
        if value is None:
            SESSION_DEFAULTS.pop(key, None)
        else:
            SESSION_DEFAULTS[key] = value


@functools.cache
def _accepts(check: Callable[..., Any]) -> frozenset[str]:
    return frozenset(inspect.signature(check).parameters)


def _with_defaults(check: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    accepted = _accepts(check)
    extra = {k: v for k, v in SESSION_DEFAULTS.items() if k in accepted and k not in kwargs}
    return {**extra, **kwargs}


def _make_twin(row: Twin) -> Callable[..., Any]:
    def twin(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        from derivcheck.errors import InputError

        check = getattr(importlib.import_module(row.module), row.check)
        try:
            report = check(*args, **_with_defaults(check, kwargs))
        except InputError as exc:
            # a typo in the user's text: the message with its caret, not derivcheck's frames
            raise exc.with_traceback(None) from None
        return _raise_unless_ok(report)

    twin.__name__ = twin.__qualname__ = row.name
    twin.__doc__ = (
        f"Assert :func:`derivcheck.{row.check}`: the same arguments; the report is\n"
        "returned when it is ok, otherwise ``AssertionError`` carries its text.\n\n"
        "Examples\n--------\n" + row.example + "\n"
    )
    return twin


def _typed(check: Callable[_P, _R]) -> Callable[_P, _R]:  # pragma: no cover - mypy only
    raise NotImplementedError


if TYPE_CHECKING:  # the checks' own signatures, for type checkers and editors
    from derivcheck.claims.api import check_claim, check_derivative, check_gradient
    from derivcheck.layers.check import check_layer
    from derivcheck.layers.jacobian import check_jacobian

    assert_derivative = _typed(check_derivative)
    assert_gradient = _typed(check_gradient)
    assert_claim = _typed(check_claim)
    assert_layer = _typed(check_layer)
    assert_jacobian = _typed(check_jacobian)
else:
    globals().update({row.name: _make_twin(row) for row in TWINS})


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

    if seed is None:
        seed = SESSION_DEFAULTS.get("seed")
    run_layer_property(make_layer, loss=loss, max_examples=max_examples, seed=seed)
