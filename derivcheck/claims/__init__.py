"""The claims half: is a hand-derived derivative right?

Data flows one way: text -> :mod:`~derivcheck.claims.parse` -> SymPy
expressions -> :mod:`~derivcheck.claims.symbolic` (derivatives, kinks, mpmath
evaluation) and :mod:`derivcheck.fd` (the numeric witness) ->
:mod:`~derivcheck.claims.sampling` (points) -> :mod:`~derivcheck.claims.decide`
(equality and verdicts) -> :mod:`~derivcheck.claims.report`.  The public
functions live in :mod:`~derivcheck.claims.api`.
"""
