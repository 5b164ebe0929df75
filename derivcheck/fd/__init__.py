"""Finite differences: the numeric half of every check.

:mod:`derivcheck.fd.scalar` estimates ``f'(x)`` of a black-box scalar
function with an error estimate; :mod:`derivcheck.fd.arrays` estimates the
partial and directional derivatives of ``f()`` with respect to the entries of
the arrays it reads; :mod:`derivcheck.fd.localise` bisects a failing
directional probe down to entries.  Step sizes, Richardson extrapolation and
the one-sided kink test come from :mod:`derivcheck.fd.steps`.  numpy only: no
SymPy here.
"""
