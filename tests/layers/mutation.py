"""Mutation testing of the default layer check: every small change to a correct
backward that makes it really wrong must be caught, and every change that leaves
it right must pass.

For each correct example class (the book's final-chapter and chapter 9-10 layers,
activations and losses, ``derivcheck.examples.CORRECT``), the source of its
``backward`` is parsed and mutated one site at a time:

* an arithmetic operator swapped (``+`` and ``-``, ``*`` and ``/``),
* a comparison loosened or tightened (``>`` and ``>=``, ``<`` and ``<=``),
* a number changed (``c`` to ``c + 1``; ``0`` to ``1``),
* a transpose dropped (``a.T`` to ``a``), a unary minus dropped,
* an ``axis=`` flipped (0 and 1) and a ``keepdims=True`` turned off.

The oracle is not derivcheck: each mutant's gradients are compared with the
correct class's own backward at the same point and the same ``dvalues``
(those classes are established right independently, by torch autograd in
``tests/layers/test_oracle_torch.py``).  A mutant whose gradients differ by more
than 1e-9 relative, or that raises, is *really wrong*; one whose gradients are
the same is *equivalent* (a comparison at a point off every kink, say).
derivcheck must fail every really-wrong mutant and pass every equivalent one.
``tests/layers/test_mutation.py`` asserts it; ``python bench/mutants.py`` prints
every figure and names every mutant missed or falsely flagged.
"""

from __future__ import annotations

import ast
import copy
import inspect
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

import derivcheck as dc
from derivcheck.examples import CORRECT, make_case

SWAPS: dict[type, type] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Lt: ast.LtE, ast.LtE: ast.Lt,
}


def sites(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(node number in ast.walk order, what the mutation does) for every site."""
    for i, node in enumerate(ast.walk(tree)):
        if isinstance(node, ast.BinOp) and type(node.op) in SWAPS:
            yield i, f"{type(node.op).__name__} -> {SWAPS[type(node.op)].__name__}"
        elif isinstance(node, ast.Compare) and type(node.ops[0]) in SWAPS:
            yield i, f"{type(node.ops[0]).__name__} -> {SWAPS[type(node.ops[0])].__name__}"
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float) and not (
            isinstance(node.value, bool)
        ):
            yield i, f"{node.value!r} -> {node.value + 1!r}"
        elif isinstance(node, ast.Attribute) and node.attr == "T":
            yield i, "drop .T"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            yield i, "drop unary -"
        elif isinstance(node, ast.keyword) and node.arg == "keepdims":
            yield i, "keepdims -> False"


class Mutate(ast.NodeTransformer):
    def __init__(self, target: int, nodes: list[ast.AST]) -> None:
        self.target = nodes[target]

    def visit(self, node: ast.AST) -> Any:
        if node is not self.target:
            return self.generic_visit(node)
        if isinstance(node, ast.BinOp):
            node.op = SWAPS[type(node.op)]()
        elif isinstance(node, ast.Compare):
            node.ops = [SWAPS[type(node.ops[0])](), *node.ops[1:]]
        elif isinstance(node, ast.Constant):
            node.value = node.value + 1
        elif isinstance(node, ast.Attribute):
            return node.value
        elif isinstance(node, ast.UnaryOp):
            return node.operand
        elif isinstance(node, ast.keyword):
            node.value = ast.Constant(False)
        return node


def mutants(function: Any) -> Iterator[tuple[str, Any]]:
    """(description, mutated function) for every mutation site of ``function`` (a
    backward method or a module-level ``*_backward``)."""
    source = textwrap.dedent(inspect.getsource(function))
    tree = ast.parse(source)
    module = sys.modules[function.__module__]
    name = function.__name__
    for i, what in list(sites(tree)):
        mutated = copy.deepcopy(tree)
        nodes = list(ast.walk(mutated))
        mutated = ast.fix_missing_locations(Mutate(i, nodes).visit(mutated))
        namespace: dict[str, Any] = {}
        try:
            exec(compile(mutated, f"<mutant of {name}>", "exec"), vars(module), namespace)
        except Exception:
            continue
        yield what, namespace[name]


def gradients(layer: Any, case: Any, dvalues: np.ndarray | None) -> dict[str, np.ndarray]:
    """The gradients the layer's backward sets at the case's point."""
    if case.y_true is not None:
        layer.forward(case.inputs, case.y_true, **case.forward_kwargs)
        if case.kind == "softmax_loss":
            layer.backward(layer.output, case.y_true)
        else:
            layer.backward(case.inputs, case.y_true)
    else:
        layer.forward(case.inputs, **case.forward_kwargs)
        layer.backward(dvalues)
    return {k: np.array(v, copy=True) for k, v in vars(layer).items()
            if k.startswith("d") and isinstance(v, np.ndarray)}


def differs(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    if a.keys() != b.keys():
        return True
    for k in a:
        if a[k].shape != b[k].shape:
            return True
        scale = max(1.0, float(np.max(np.abs(b[k]))) if b[k].size else 1.0)
        if not np.allclose(a[k], b[k], rtol=1e-9, atol=1e-9 * scale, equal_nan=False):
            return True
    return False


class Tally:
    def __init__(self) -> None:
        self.counts = {"really wrong": 0, "caught": 0, "equivalent": 0, "false alarms": 0}
        self.missed: list[str] = []
        self.alarms: list[str] = []

    def add(self, label: str, wrong: bool, rep: Any) -> None:
        if wrong:
            self.counts["really wrong"] += 1
            self.counts["caught"] += not rep.ok
            if rep.ok:
                self.missed.append(label)
        else:
            self.counts["equivalent"] += 1
            self.counts["false alarms"] += not rep.ok
            if not rep.ok:
                self.alarms.append(f"{label}\n      {str(rep).splitlines()[2][:110]}")

    def show(self, title: str) -> None:
        c = self.counts
        print(f"{title}")
        print(f"  really-wrong mutants caught: {c['caught']} of {c['really wrong']}")
        for label in self.missed:
            print(f"    MISSED {label}")
        print(f"  equivalent mutants passed:   {c['equivalent'] - c['false alarms']} "
              f"of {c['equivalent']}")
        for label in self.alarms:
            print(f"    FALSE ALARM {label}")


def functional(tally: Tally) -> None:
    """The CS231n-style pairs: each ``*_backward`` mutated, checked by check_function."""
    from tests.layers.cs231n_cases import cases

    for name, (forward, backward, args) in sorted(cases().items()):
        if "dropout" in name:
            continue  # a random mask: kept out, as for the layers
        out = forward(*copy.deepcopy(args))
        outs = out[:-1] if isinstance(out, tuple) else (out,)
        cache = out[-1]
        rng = np.random.default_rng(11)
        douts = [rng.standard_normal(np.shape(o)) for o in outs]
        right = backward(*douts, cache)
        right = right if isinstance(right, tuple) else (right,)
        for what, mutated in mutants(backward):
            try:
                out_m = forward(*copy.deepcopy(args))
                got = mutated(*douts, out_m[-1])
                got = got if isinstance(got, tuple) else (got,)
                wrong = len(got) != len(right) or any(
                    np.shape(g) != np.shape(r)
                    or not np.allclose(g, r, rtol=1e-9, atol=1e-9 * max(1.0, np.max(np.abs(r))))
                    for g, r in zip(got, right, strict=False)
                )
            except Exception:
                wrong = True
            rep = dc.check_function(forward, mutated, *args)
            tally.add(f"{name}: {what}", wrong, rep)


def run() -> tuple[Tally, Tally]:
    """The mutation run: (the book's classes, the CS231n-style functions)."""
    tally = Tally()
    names = [*sorted(CORRECT.items()), ("Layer_Dense+L1L2", CORRECT["Layer_Dense"])]
    for name, cls in names:
        if "Dropout" in name:
            continue  # random masks: the oracle needs the same mask (checked in the suite)
        options = {"regularized": True} if name.endswith("+L1L2") else {}
        name = name.removesuffix("+L1L2")

        def new_case(name: str = name, options: dict[str, Any] = options) -> Any:
            return make_case(name, batch=5, n_inputs=4, **options)

        base = new_case()
        dvalues = None
        if base.y_true is None:
            base.layer.forward(base.inputs, **base.forward_kwargs)
            dvalues = np.random.default_rng(7).standard_normal(np.shape(base.layer.output))
        right = gradients(new_case().layer, base, dvalues)
        for what, backward in mutants(cls.backward):
            case = new_case()
            mutant_cls = type(cls.__name__, (cls,), {"backward": backward})
            case.layer.__class__ = mutant_cls
            try:
                wrong = differs(gradients(copy.deepcopy(case.layer), case, dvalues), right)
            except Exception:
                wrong = True  # a backward that raises is wrong
            rep = dc.check_layer(case.layer, case.inputs, case.y_true,
                                 forward_kwargs=case.forward_kwargs)
            tally.add(f"{name}{' (regularized)' if options else ''}: {what}", wrong, rep)
    layers = tally
    tally = Tally()
    functional(tally)
    return layers, tally


def main() -> None:
    print(f"mutation testing (default options), numpy {np.__version__}")
    t0 = time.perf_counter()
    layers, tally = run()
    layers.show("the book's layers, activations and losses (check_layer)")
    tally.show("CS231n-style functions (check_function)")
    both = layers.counts["caught"] + tally.counts["caught"]
    wrong = layers.counts["really wrong"] + tally.counts["really wrong"]
    alarms = layers.counts["false alarms"] + tally.counts["false alarms"]
    print(f"in all: {both} of {wrong} really-wrong mutants caught, {alarms} false alarms")
    print(f"  ({time.perf_counter() - t0:.1f} s)")

