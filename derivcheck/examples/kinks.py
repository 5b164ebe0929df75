"""Backward passes that differ from the book's only at a kink, where no derivative exists.

The book's ReLU backward gives 0 at ``x == 0``; these pick another value
there and agree everywhere else.  They are *correct*: a checker must not
report them as mismatches (it may report the convention they pick at the
kink).  Registered in :data:`derivcheck.examples.KINK_CONVENTION`.

Examples
--------
>>> import numpy as np
>>> relu = ReLU_GradientOneAtZero()
>>> relu.forward(np.array([[-1.0, 0.0, 2.0]]), training=True)
>>> relu.backward(np.ones((1, 3)))
>>> print(relu.dinputs)
[[0. 1. 1.]]
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from derivcheck.examples.book import Activation_ReLU

__all__ = ["ReLU_GradientHalfAtZero", "ReLU_GradientOneAtZero"]


class ReLU_GradientOneAtZero(Activation_ReLU):
    """ReLU′(0) = 1 (masks only inputs < 0): differs only at the kink; a checker must NOT flag it.

    Equal to the book's backward wherever ``inputs != 0``.
    """

    kink_value: ClassVar[float] = 1.0

    def backward(self, dvalues: np.ndarray) -> None:
        self.dinputs = dvalues.copy()
        self.dinputs[self.inputs < 0] = 0


class ReLU_GradientHalfAtZero(Activation_ReLU):
    """ReLU′(0) = 1/2 (SymPy's Heaviside(0)): differs only at the kink; a checker must NOT flag it.

    Equal to the book's backward wherever ``inputs != 0``.
    """

    kink_value: ClassVar[float] = 0.5

    def backward(self, dvalues: np.ndarray) -> None:
        self.dinputs = dvalues * np.where(self.inputs > 0, 1.0, np.where(self.inputs < 0, 0.0, 0.5))
