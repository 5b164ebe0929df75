"""The names the parser knows: functions (with their arity) and constants."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import sympy

__all__ = ["ARITY", "KNOWN_CONSTANTS", "KNOWN_FUNCTIONS"]


def _relu(x: sympy.Expr) -> sympy.Expr:
    return sympy.Max(x, 0)


def _sigmoid(x: sympy.Expr) -> sympy.Expr:
    return 1 / (1 + sympy.exp(-x))


def _softplus(x: sympy.Expr) -> sympy.Expr:
    return sympy.log(1 + sympy.exp(x))


def _piecewise(*pairs: tuple[sympy.Expr, Any]) -> sympy.Expr:
    return sympy.Piecewise(*pairs)


KNOWN_FUNCTIONS: Mapping[str, Callable[..., sympy.Expr]] = MappingProxyType(
    {
        "exp": sympy.exp,
        "log": sympy.log,
        "ln": sympy.log,
        "sqrt": sympy.sqrt,
        "sin": sympy.sin,
        "cos": sympy.cos,
        "tan": sympy.tan,
        "tanh": sympy.tanh,
        "sinh": sympy.sinh,
        "cosh": sympy.cosh,
        "asin": sympy.asin,
        "acos": sympy.acos,
        "atan": sympy.atan,
        "erf": sympy.erf,
        "Abs": sympy.Abs,
        "abs": sympy.Abs,
        "sign": sympy.sign,
        "Heaviside": sympy.Heaviside,
        "Max": sympy.Max,
        "max": sympy.Max,
        "Min": sympy.Min,
        "min": sympy.Min,
        "Piecewise": _piecewise,
        "relu": _relu,
        "sigmoid": _sigmoid,
        "softplus": _softplus,
    }
)
"""Function names the parser knows, each mapped to a builder of SymPy arguments."""

# (fewest, most) arguments; None = no upper bound
ARITY: dict[str, tuple[int, int | None]] = {name: (1, 1) for name in KNOWN_FUNCTIONS}
ARITY.update(
    {
        "log": (1, 2),
        "Heaviside": (1, 2),
        "Max": (2, None),
        "max": (2, None),
        "Min": (2, None),
        "min": (2, None),
        "Piecewise": (1, None),
    }
)

KNOWN_CONSTANTS: Mapping[str, sympy.Expr] = MappingProxyType(
    {"pi": sympy.pi, "E": sympy.E, "e": sympy.E}
)
"""Names that are constants.  ``e`` is Euler's number, as in the book's ``e^x``."""

