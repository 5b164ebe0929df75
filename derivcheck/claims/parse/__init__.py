"""Claim text to SymPy, through an AST whitelist: nothing is ever evaluated.

The stages, in order: :mod:`~derivcheck.claims.parse.scanner` (human
conveniences to Python syntax, with the origin of every character),
:func:`ast.parse`, :mod:`~derivcheck.claims.parse.converter` (a whitelist walk
that builds SymPy objects); :mod:`~derivcheck.claims.parse.claim` splits a
claim into its sides.  Names live in :mod:`~derivcheck.claims.parse.vocabulary`,
messages and limits in :mod:`~derivcheck.claims.parse.messages`.
"""

from derivcheck.claims.parse.claim import Claim, parse_claim
from derivcheck.claims.parse.expression import parse_expression, parse_symbol
from derivcheck.claims.parse.messages import (
    MAX_EXPONENT,
    MAX_INT_DIGITS,
    MAX_NESTING,
    MAX_TEXT_LENGTH,
)
from derivcheck.claims.parse.vocabulary import KNOWN_CONSTANTS, KNOWN_FUNCTIONS

__all__ = [
    "KNOWN_CONSTANTS",
    "KNOWN_FUNCTIONS",
    "MAX_EXPONENT",
    "MAX_INT_DIGITS",
    "MAX_NESTING",
    "MAX_TEXT_LENGTH",
    "Claim",
    "parse_claim",
    "parse_expression",
    "parse_symbol",
]
