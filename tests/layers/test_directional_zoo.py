"""The directional strategy alone, over the example zoo and every CS231n-style function:
right code passes, and each planted bug fails in exactly the gradients it breaks (as the
entry-by-entry check and the torch oracle of test_oracle_torch.py establish).

A directional check compares one entry per tensor one by one; what it decides rests on
its two Gaussian probes over every entry and on group testing.  These tests hold it to the
full check's verdicts on the same material, over several seeds (a probe's direction, and so
its luck, changes with the seed).
"""

from __future__ import annotations

import pytest

from derivcheck.examples import BROKEN, CORRECT, make_case
from derivcheck.examples import cs231n_broken as cb
from derivcheck.layers.check import check_layer
from derivcheck.layers.functional import check_function
from tests.layers.cs231n_cases import BROKEN_AT, cases
from tests.layers.test_functional import WRONG

SEEDS = (0, 1, 2)


def run(case, **kwargs):
    return check_layer(
        case.layer, case.inputs, case.y_true, forward_kwargs=case.forward_kwargs, **kwargs
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_zoo_passes_directionally(name, seed):
    rep = run(make_case(name, seed=seed), mode="directional", seed=seed)
    assert rep.ok, str(rep)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(n for n, c in BROKEN.items() if c.defect == "value"))
def test_broken_zoo_fails_directionally_in_the_gradients_it_breaks(name, seed):
    rep = run(make_case(name, seed=seed), mode="directional", seed=seed)
    assert not rep.ok, str(rep)
    wrong = {f.tensor for f in rep.failures if f.kind == "mismatch"}
    assert wrong == set(BROKEN[name].wrong_gradients), str(rep)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("bug", sorted(BROKEN_AT))
def test_broken_functions_fail_directionally_in_the_gradients_they_break(bug, seed):
    forward, backward, _ = cb.BROKEN[bug]
    rep = check_function(
        forward, backward, *cases()[BROKEN_AT[bug]][2], mode="directional", seed=seed
    )
    assert not rep.ok
    assert {f.tensor for f in rep.failures} == WRONG[bug], str(rep)
