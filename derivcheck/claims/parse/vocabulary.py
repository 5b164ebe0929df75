"""The names the parser knows: functions (with their arity) and constants."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import sympy

__all__ = ["ALIASES", "ARITY", "INVERSES", "KNOWN_CONSTANTS", "KNOWN_FUNCTIONS", "LOG_BASES"]


def _relu(x: sympy.Expr) -> sympy.Expr:
    return sympy.Max(x, 0)


def _sigmoid(x: sympy.Expr) -> sympy.Expr:
    return 1 / (1 + sympy.exp(-x))


def _softplus(x: sympy.Expr) -> sympy.Expr:
    return sympy.log(1 + sympy.exp(x))


def _cbrt(x: sympy.Expr) -> sympy.Expr:
    """The real cube root (``∛(-8) = -2``), not SymPy's principal complex one."""
    return sympy.real_root(x, 3)


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
        "sec": sympy.sec,
        "csc": sympy.csc,
        "cot": sympy.cot,
        "sech": sympy.sech,
        "csch": sympy.csch,
        "coth": sympy.coth,
        "asec": sympy.asec,
        "acsc": sympy.acsc,
        "acot": sympy.acot,
        "asinh": sympy.asinh,
        "acosh": sympy.acosh,
        "atanh": sympy.atanh,
        "acoth": sympy.acoth,
        "asech": sympy.asech,
        "acsch": sympy.acsch,
        "cbrt": _cbrt,
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

#: Other spellings people type, each read as the known function (``arctan`` is ``atan``).
ALIASES: Mapping[str, str] = MappingProxyType(
    {
        **{f"arc{f}": f"a{f}" for f in ("sin", "cos", "tan", "sec", "csc", "cot")},
        **{f"arc{f}h": f"a{f}h" for f in ("sin", "cos", "tan", "sec", "csc", "cot")},
        **{f"ar{f}h": f"a{f}h" for f in ("sin", "cos", "tan", "sec", "csc", "cot")},
        "arcosh": "acosh", "cosec": "csc", "ctg": "cot", "tg": "tan",
        "σ": "sigmoid", "Sigmoid": "sigmoid", "ReLU": "relu", "Relu": "relu",
    }
)  # fmt: skip

#: ``log10(x)``, ``lg x``, ``log2(x)``: logarithms whose base is in the name.
LOG_BASES: Mapping[str, int] = MappingProxyType({"log10": 10, "lg": 10, "log2": 2})

#: ``sin^-1(x)`` and ``sin⁻¹ x`` are the inverse functions.
INVERSES: Mapping[str, str] = MappingProxyType(
    {
        "sin": "asin", "cos": "acos", "tan": "atan", "sec": "asec", "csc": "acsc",
        "cot": "acot", "sinh": "asinh", "cosh": "acosh", "tanh": "atanh",
        "coth": "acoth", "sech": "asech", "csch": "acsch",
    }
)  # fmt: skip
