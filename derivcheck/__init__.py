"""derivcheck: is this derivative right?

SymPy against central differences, for hand-derived rules and for the
hand-written ``backward`` of numpy layers.

Importing this package is light: SymPy, Hypothesis and pytest are imported
only when a check needs them, so the command line starts fast.

>>> import derivcheck as dc
>>> dc.check_derivative("3*(2*x**2)**5", "960*x**9", wrt="x").verdict
<Verdict.PROVEN: 'proven'>
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from derivcheck import _lazy
from derivcheck.claims.report import Verdict
from derivcheck.errors import InputError

__version__ = "0.1.0"

__all__ = [
    "ClaimReport",
    "InputError",
    "LayerReport",
    "Verdict",
    "check_claim",
    "check_derivative",
    "check_function",
    "check_gradient",
    "check_jacobian",
    "check_layer",
    "check_model",
    "check_value_and_grad",
]

# public name -> module that defines it; imported on first access (PEP 562)
_LAZY = {
    "ClaimReport": "derivcheck.claims.report",
    "LayerReport": "derivcheck.layers.report",
    "check_claim": "derivcheck.claims.api",
    "check_derivative": "derivcheck.claims.api",
    "check_function": "derivcheck.layers.functional",
    "check_value_and_grad": "derivcheck.layers.functional",
    "check_model": "derivcheck.layers.model",
    "check_gradient": "derivcheck.claims.api",
    "check_jacobian": "derivcheck.layers.check",
    "check_layer": "derivcheck.layers.check",
}

if TYPE_CHECKING:
    from derivcheck.claims.api import check_claim, check_derivative, check_gradient
    from derivcheck.claims.report import ClaimReport
    from derivcheck.layers.check import check_jacobian, check_layer
    from derivcheck.layers.functional import check_function, check_value_and_grad
    from derivcheck.layers.model import check_model
    from derivcheck.layers.report import LayerReport


__getattr__, __dir__ = _lazy.attach("derivcheck", globals(), _LAZY, __all__)
