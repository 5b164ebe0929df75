"""What both faces of the finite-difference engine share.

The scalar face (:mod:`derivcheck.fd.scalar`) and the array face
(:mod:`derivcheck.fd.arrays`, :mod:`derivcheck.fd.probes`) take the same kind of
step -- relative to ``max(1, |x|)`` and made exactly representable, so the
quotient divides by the true distance between the points -- extrapolate the
same way (:func:`extrapolate_linear`: Richardson in ``h**2`` for central
differences, in ``h`` for the one-sided slopes' gap), and test kinks the same
way: a smooth ``f`` has one-sided slopes whose gap shrinks with the step, a
kink's gap tends to the jump.

They differ in the step *schedule*, for a reason.  A scalar ``f`` is cheap
and its derivative witnesses SymPy to 1e-13, so the scalar face walks a ladder
of steps in ratio sqrt(2) with a step search (doubling steps alias on periodic
functions).  For an array every evaluation is a whole forward pass and there
may be 100k entries, so the array face takes a fixed stencil ``h, 2h, 4h``
per entry, vectorised over entries, settles most entries after two
evaluations against the backward's value, and measures the noise of ``f``
once (ECnoise) instead of guessing it from ``|f|``.  The property test that
both faces agree on smooth functions lives in ``tests/fd``.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

EPS_FLOAT64 = 2.220446049250313e-16
EPS_FLOAT32 = 1.1920928955078125e-07

# rounding noise of one evaluation of f, in units of eps * |f|
NOISE_FACTOR = 2.0
# compare(): tolerance = SAFETY * error + ULPS * eps * (gradient scale)
SAFETY = 5.0
ULPS = 8.0
# kink test: the jump must exceed KINK_NOISE noise units and this fraction of
# the one-sided slope difference (a smooth f has difference proportional to h)
KINK_NOISE = 20.0
KINK_RELATIVE = 0.1
# the noise bound is the larger of NOISE_FACTOR * eps * |f| and NOISE_SIGMAS
# times the measured noise standard deviation
NOISE_SIGMAS = 3.0
# step multipliers of the full treatment
LEVELS = (1.0, 2.0, 4.0)
# noise measurement: f at this many extra points, steps this fraction of h
NOISE_POINTS = 8
NOISE_STEP = 2.0**-8
NOISE_SEED = 20240531




def relative_step(x: float, eps: float, power: float) -> float:
    """The relative step ``eps**power * max(1, |x|)`` (not yet representable).

    ``power`` 1/2 suits forward differences, 1/3 plain central differences,
    1/5 one Richardson level, 1/7 two levels (the default here).

    >>> print(relative_step(1000.0, 2.0**-52, 1 / 4) / 1000.0)
    0.0001220703125
    """
    return eps**power * max(1.0, abs(x))



def representable_step(x: float, h: float) -> float:
    """Return the step actually taken from ``x``: ``(x + h) - x``, at least one ulp.

    With this step, ``x + step`` is exact and ``x - step`` is exact whenever
    the step is below ``|x|``, so the difference quotient divides by the true
    distance between the points.

    >>> print(representable_step(1.0, 0.1))
    0.10000000000000009
    >>> representable_step(1e16, 0.1) == math.ulp(1e16)
    True
    """
    s = (x + h) - x
    if s <= 0.0 or not math.isfinite(s):
        s = math.ulp(x) if x != 0.0 else h
    return s



def extrapolate_linear(s1: float, g1: float, s2: float, g2: float) -> float:
    """The line through (s1, g1), (s2, g2) at s = 0 (2 g1 - g2 when s2 = 2 s1)."""
    return (s2 * g1 - s1 * g2) / (s2 - s1)




def full_estimate_scalar(
    f0: float, fp: Sequence[float], fm: Sequence[float], steps: Sequence[float], noise: float
) -> tuple[float, float, bool]:
    """:func:`full_estimate` for one symmetric stencil in plain floats (a directional
    probe: numpy's per-call overhead on 1-element arrays would dominate)."""
    c = [(fp[k] - fm[k]) / (2.0 * steps[k]) for k in range(3)]
    p = [s * s for s in steps]
    r12 = (p[1] * c[0] - p[0] * c[1]) / (p[1] - p[0])
    r24 = (p[2] * c[1] - p[1] * c[2]) / (p[2] - p[1])
    error = abs(r12 - r24) + 3.0 * noise / steps[0]
    diff = [(fp[k] - 2.0 * f0 + fm[k]) / steps[k] for k in range(3)]
    jump = max(abs(diff[0] - diff[1] * (steps[0] / steps[1])),
               abs(diff[1] - diff[2] * (steps[1] / steps[2])))
    scale = max(abs(diff[k]) * (steps[0] / steps[k]) for k in range(3))
    kink = jump > KINK_NOISE * noise / steps[0] and jump > KINK_RELATIVE * scale
    return r12, error, kink



ECNOISE_GAMMA = {k: math.factorial(k) ** 2 / math.factorial(2 * k) for k in range(3, 7)}


def sigma_from_values(values: Sequence[float]) -> float:
    """Noise standard deviation from f on equally spaced tiny steps (Moré & Wild's
    ECnoise): the k-th differences of a smooth f vanish, those of noise do not.

    Plain floats: on 9 values numpy's per-call overhead would cost more than the sums.
    """
    diffs = [float(v) for v in values]
    sigmas = []
    for k in range(1, 7):
        diffs = [b - a for a, b in itertools.pairwise(diffs)]
        if k >= 3:
            mean_square = sum(d * d for d in diffs) / len(diffs)
            sigmas.append(math.sqrt(ECNOISE_GAMMA[k] * mean_square))
    sigma = max(sigmas)
    return sigma if all(map(math.isfinite, sigmas)) else 0.0
