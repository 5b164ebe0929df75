"""Finite differences: the numeric half of every check.

:mod:`derivcheck.fd.scalar` estimates ``f'(x)`` of a black-box scalar
function with an error estimate; :mod:`derivcheck.fd.arrays` estimates the
partial and directional derivatives of ``f()`` with respect to the entries of
the arrays it reads; :mod:`derivcheck.fd.localise` bisects a failing
directional probe down to entries.  Step sizes, Richardson extrapolation and
the one-sided kink test come from :mod:`derivcheck.fd.steps`.  numpy only: no
SymPy here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from derivcheck import _lazy

__all__ = [
    "Comparison",
    "DirectionalEstimate",
    "EntryEstimates",
    "Estimate",
    "compare",
    "derivative",
    "directional_derivatives",
    "localise",
    "noise_level",
    "partial_derivatives",
]

# public name -> module that defines it; imported on first access (PEP 562), so that
# the scalar face does not pay for numpy
_LAZY = {
    "Comparison": "derivcheck.fd.tolerance",
    "DirectionalEstimate": "derivcheck.fd.probes",
    "EntryEstimates": "derivcheck.fd.arrays",
    "Estimate": "derivcheck.fd.scalar",
    "compare": "derivcheck.fd.tolerance",
    "derivative": "derivcheck.fd.scalar",
    "directional_derivatives": "derivcheck.fd.probes",
    "localise": "derivcheck.fd.localise",
    "noise_level": "derivcheck.fd.probes",
    "partial_derivatives": "derivcheck.fd.arrays",
}

if TYPE_CHECKING:
    from derivcheck.fd.arrays import EntryEstimates, partial_derivatives
    from derivcheck.fd.localise import localise
    from derivcheck.fd.probes import DirectionalEstimate, directional_derivatives, noise_level
    from derivcheck.fd.scalar import Estimate, derivative
    from derivcheck.fd.tolerance import Comparison, compare


__getattr__, __dir__ = _lazy.attach('derivcheck.fd', globals(), _LAZY, __all__)
