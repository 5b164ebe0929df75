"""The layers half: is a hand-written ``backward`` right?

Data flows one way: a layer -> :mod:`~derivcheck.layers.adapters` (its
convention) -> :mod:`~derivcheck.layers.state` (snapshot, restore, frozen
randomness) -> :mod:`~derivcheck.layers.contracts` (checks that need no
derivative) -> :mod:`~derivcheck.layers.strategies` (full, directional) over
:mod:`derivcheck.fd` and :mod:`~derivcheck.layers.trace` (the symbolic
reference) -> :mod:`~derivcheck.layers.diagnose` ->
:mod:`~derivcheck.layers.report` and :mod:`~derivcheck.layers.plot`.
:mod:`~derivcheck.layers.check` orchestrates.
"""
