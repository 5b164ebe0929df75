"""The public face of the scalar numeric engine (:mod:`derivcheck.fd.scalar`).

>>> from derivcheck import numeric
>>> import math
>>> est = numeric.derivative(math.sin, 0.5)
>>> abs(est.value - math.cos(0.5)) <= est.error
True
"""

from derivcheck.fd.scalar import EPS_FLOAT32, EPS_FLOAT64, Estimate, derivative

__all__ = ["EPS_FLOAT32", "EPS_FLOAT64", "Estimate", "derivative"]
