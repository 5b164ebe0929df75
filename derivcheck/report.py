"""Report objects and every message string derivcheck prints.

Kept free of top-level SymPy imports: ``import derivcheck`` imports this module.
"""

from __future__ import annotations

import enum

__all__ = ["Verdict"]


class Verdict(str, enum.Enum):
    """The outcome of checking a claim.

    >>> Verdict("proven") is Verdict.PROVEN
    True
    """

    PROVEN = "proven"
    CONFIRMED = "confirmed"
    REFUTED = "refuted"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return self.value
