"""Mutation testing of the default checks against an oracle that is not derivcheck
(each mutant's gradients against the correct class's own, see mutation.py)."""

from __future__ import annotations

import warnings

from tests.layers.mutation import run


def test_every_really_wrong_mutant_is_caught_and_no_equivalent_one_flagged():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # mutants divide by zero
        layers, functions = run()
    for tally in (layers, functions):
        counts = tally.counts
        assert counts["really wrong"] > 50  # the harness mutates something
        assert counts["caught"] == counts["really wrong"], tally.missed
        assert counts["false alarms"] == 0, tally.alarms
        assert counts["equivalent"] > 10
