"""Claim text to SymPy, through an AST whitelist: nothing is ever evaluated.

:func:`parse_expression`, :func:`parse_symbol` and :func:`parse_claim` are the
entry points; the rest of the package is private.
"""

from derivcheck.claims.parse.expression import Claim, parse_claim, parse_expression, parse_symbol

__all__ = ["Claim", "parse_claim", "parse_expression", "parse_symbol"]
