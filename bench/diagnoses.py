"""How often a planted bug gets a diagnosis line, and what it says.

Every broken example (the book's classes in ``derivcheck.examples.broken``, the
CS231n-style functions in ``derivcheck.examples.cs231n_broken``) is checked; the
table shows the bug, whether it was caught, and the diagnosis (or the contract
message that names the fault).  Read the sentences: a diagnosis must be true of
the bug.  Figures only, no assertions.

Run:  python bench/diagnoses.py
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

import derivcheck as dc
from derivcheck.examples import (
    BROKEN,
    cs231n,
    make_case,
)
from derivcheck.examples import cs231n_broken as cb
from tests.layers.cs231n_cases import BROKEN_AT, cases


def cause(rep) -> str | None:
    diagnoses = [t.diagnosis for t in rep.tensors.values() if t.diagnosis]
    named = [f.message for f in rep.failures if f.kind != "mismatch" and f.message]
    found = diagnoses or named
    return found[0] if found else None


def main() -> None:
    rows = []
    for name, cls in BROKEN.items():
        case = make_case(cls)
        rep = dc.check_layer(case.layer, case.inputs, case.y_true)
        rows.append((f"book  {name}", rep))
    at = cases()
    for name, (forward, backward, _) in cb.BROKEN.items():
        rows.append(
            (f"cs231n {name}", dc.check_function(forward, backward, *at[BROKEN_AT[name]][2]))
        )
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 4)), np.array([0, 3, 1, 1, 2, 0])
    for fun in (cb.softmax_loss_no_mean, cb.svm_loss_no_correct):
        rows.append((f"cs231n {fun.__name__}", dc.check_value_and_grad(fun, x, y)))
    net = cb.TwoLayerNet_NoRegGrad(input_dim=4, hidden_dim=5, num_classes=4, reg=0.1)
    rows.append(
        ("cs231n TwoLayerNet_NoRegGrad", dc.check_value_and_grad(net.loss, x, y, params=net.params))
    )
    caught = sum(not r.ok for _, r in rows)
    explained = sum(cause(r) is not None for _, r in rows if not r.ok)
    for label, rep in rows:
        text = cause(rep)
        print(f"{label:48s} {'caught' if not rep.ok else 'MISSED'}  {(text or '-')[:150]}")
    print(
        f"\n{len(rows)} planted bugs: {caught} caught, {explained} with a diagnosis or a "
        f"named contract ({explained / max(caught, 1):.0%} of those caught)"
    )
    _ = cs231n


if __name__ == "__main__":
    main()
