"""The claims and layers ``derivcheck demo`` runs: the book's chapters 7–9.

Kept as data so the demo, the docs and the tests share one list.
"""

from __future__ import annotations

from typing import Any

from derivcheck._json import SCHEMA_VERSION, dumps

__all__ = ["BOOK_CHAINS", "BOOK_RULES", "CHAIN_MISTAKES", "CLASSIC_MISTAKES", "run_demo"]

#: Every rule and worked example of chapters 7 and 8, as claims.
BOOK_RULES: tuple[str, ...] = (
    # chapter 7: derivatives
    "d/dx 1 = 0",
    "d/dx x = 1",
    "d/dx 2x = 2",
    "d/dx m*x + b = m",
    "d/dx 3x^2 = 6x",
    "d/dx 3x^2 + 5x = 6x + 5",
    "d/dx 5x^5 + 4x^3 - 5 = 25x^4 + 12x^2",
    "d/dx x^3 + 2x^2 - 5x + 7 = 3x^2 + 4x - 5",
    "d/dx c*f(x) = c*f'(x)",
    "d/dx f(x) + g(x) = f'(x) + g'(x)",
    "d/dx f(x) - g(x) = f'(x) - g'(x)",
    "d/dx x^n = n*x^(n - 1)",
    # chapter 8: partial derivatives, the chain rule
    "∂/∂x x + y = 1",
    "∂/∂y x + y = 1",
    "∂/∂x 2x + 3y^2 = 2",
    "∂/∂y 2x + 3y^2 = 6y",
    "∂/∂x 3x^3 - y^2 + 5x + 2 = 9x^2 + 5",
    "∂/∂y 3x^3 - y^2 + 5x + 2 = -2y",
    "∂/∂x x*y = y",
    "∂/∂y x*y = x",
    "∂/∂x x*y*z = y*z",
    "∂/∂y x*y*z = x*z",
    "∂/∂z x*y*z = x*y",
    "∂/∂x 3x^3*z - y^2 + 5z + 2y*z = 9x^2*z",
    "∂/∂y 3x^3*z - y^2 + 5z + 2y*z = -2y + 2z",
    "∂/∂z 3x^3*z - y^2 + 5z + 2y*z = 3x^3 + 5 + 2y",
    "∂/∂x max(x, y) = 1(x > y)",
    "∂/∂x max(x, 0) = 1(x > 0)",
    "d/dx f(x)*g(x) = f'(x)*g(x) + f(x)*g'(x)",
    "d/dx f(g(x)) = f'(g(x))*g'(x)",
    "d/dx 3(2x^2)^5 = 15(2x^2)^4 * 4x",
    "d/dx 3(2x^2)^5 = 960x^9",
)

#: The book's worked examples of chapters 7 and 8, step by step as it writes them.
BOOK_CHAINS: tuple[str, ...] = (
    "d/dx 3x² + 5x = 3·2x + 5 = 6x + 5",
    "d/dx 5x⁵ + 4x³ − 5 = 5·5x⁴ + 4·3x² − 0 = 25x⁴ + 12x²",
    "d/dx x³ + 2x² − 5x + 7 = 3x² + 2·2x − 5 + 0 = 3x² + 4x − 5",
    "∂/∂x 3x³ − y² + 5x + 2 = 3·3x² − 0 + 5 + 0 = 9x² + 5",
    "∂/∂y 3x³z − y² + 5z + 2yz = 0 − 2y + 0 + 2z = −2y + 2z",
    "d/dx 3(2x²)⁵ = 3·5(2x²)⁴ · 4x = 15(2x²)⁴ · 4x = 960x⁹",
)

#: Worked derivations with one wrong step: the demo names it.
CHAIN_MISTAKES: tuple[str, ...] = (
    "d/dx 3(2x²)⁵ = 15(2x²)⁴ = 960x⁹",  # the inner derivative dropped, then "recovered"
    "d/dx x³ + 2x² − 5x + 7 = 3x² + 2x − 5 = 3x² + 4x − 5",  # 2·2x written as 2x
)

#: Classic mistakes, each of which must be refuted with a counterexample.
CLASSIC_MISTAKES: tuple[str, ...] = (
    "d/dx 3(2x^2)^5 = 15(2x^2)^4",  # chain rule: forgot the inner derivative
    "d/dx x^x = x*x^(x - 1)",  # power rule applied to a variable exponent
    "d/dx f(x)/g(x) = (f'(x)*g(x) + f(x)*g'(x))/g(x)^2",  # quotient rule, wrong sign
    "∂/∂x max(x, y) = 1",  # forgot that max passes the gradient to one side only
)


_Case = tuple[str, Any, Any, Any]  # (name, layer, inputs, y_true)


def _layer_cases(seed: int) -> tuple[list[_Case], list[_Case]]:
    """The book's network, layer by layer, and a few broken layers."""
    import numpy as np

    from derivcheck.examples import book, broken
    from derivcheck.examples.network import spiral_data

    X, y = spiral_data(samples=10, classes=3, seed=seed)
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        dense1 = book.Layer_Dense(2, 8, weight_regularizer_l2=5e-4, bias_regularizer_l2=5e-4)
        dense2 = book.Layer_Dense(8, 3)
        bad_dense = broken.Dense_MeanInsteadOfSum(2, 8)
    finally:
        np.random.set_state(state)
    relu, loss = book.Activation_ReLU(), book.Activation_Softmax_Loss_CategoricalCrossentropy()
    # forward once to get each layer's inputs as the network sees them
    dense1.forward(X, training=True)
    relu.forward(dense1.output, training=True)
    dense2.forward(relu.output, training=True)
    correct = [
        ("Dense(2, 8) with L2", dense1, X, None),
        ("ReLU", relu, dense1.output.copy(), None),
        ("Dense(8, 3)", dense2, relu.output.copy(), None),
        ("Softmax + categorical cross-entropy", loss, dense2.output.copy(), y),
    ]
    rng = np.random.default_rng(seed)
    predictions = rng.uniform(0.05, 0.95, size=(6, 3))
    targets = rng.uniform(0.0, 1.0, size=(6, 3))
    faulty = [
        ("Dense whose dbiases is a mean", bad_dense, X, None),
        (
            "the book's mean absolute error",
            broken.Loss_MeanAbsoluteError_Book(),
            predictions,
            targets,
        ),
        (
            "Sigmoid missing the output factor",
            broken.Sigmoid_MissingOutputFactor(),
            rng.normal(size=(6, 3)),
            None,
        ),
    ]
    return correct, faulty


def run_demo(seed: int = 0, as_json: bool = False) -> bool:
    """Check the book's rules and layers; True when every verdict is as it should be.

    Correct rules and layers must pass; the classic mistakes and broken layers
    must be caught.  Prints the reports (or one JSON document).
    """
    from derivcheck.claims.api import check_claim
    from derivcheck.claims.report import summary_table
    from derivcheck.layers.check import check_layer

    as_expected = True
    out: dict[str, Any] = {"kind": "demo", "schema_version": SCHEMA_VERSION, "seed": seed}

    rules = [(text, check_claim(text, seed=seed)) for text in BOOK_RULES]
    mistakes = [(text, check_claim(text, seed=seed)) for text in CLASSIC_MISTAKES]
    chains = [(text, check_claim(text, seed=seed)) for text in BOOK_CHAINS]
    bad_chains = [(text, check_claim(text, seed=seed)) for text in CHAIN_MISTAKES]
    as_expected &= all(r.ok for _, r in rules) and not any(r.ok for _, r in mistakes)
    as_expected &= all(r.ok for _, r in chains) and all(
        r.failed_step is not None for _, r in bad_chains
    )
    out["chains"] = [r.to_dict() for _, r in chains]
    out["chain_mistakes"] = [r.to_dict() for _, r in bad_chains]
    out["rules"] = [r.to_dict() for _, r in rules]
    out["mistakes"] = [r.to_dict() for _, r in mistakes]

    correct, faulty = _layer_cases(seed)
    layer_reports = [
        (name, check_layer(layer, x, y, seed=seed, reference="both"))
        for name, layer, x, y in correct
    ]
    broken_reports = [
        (name, check_layer(layer, x, y, seed=seed, reference="both"))
        for name, layer, x, y in faulty
    ]
    as_expected &= all(r.ok for _, r in layer_reports) and not any(r.ok for _, r in broken_reports)
    out["layers"] = {name: r.to_dict() for name, r in layer_reports}
    out["broken_layers"] = {name: r.to_dict() for name, r in broken_reports}
    model_report = _model_demo(seed)
    as_expected &= not model_report.ok and model_report.first_wrong == BROKEN_MODEL_LAYER
    out["model"] = model_report.to_dict()
    out["as_expected"] = as_expected

    if as_json:
        out["ok"] = as_expected
        print(dumps(out))
        return as_expected

    _section("Chapters 7-8: the book's rules, checked")
    print(summary_table(rules))
    _section("The book's worked examples, step by step")
    print(summary_table(chains))
    _section("A wrong step in a derivation: the first one is named")
    for _, chain in bad_chains:
        print(chain)
        print()
    _section("Classic mistakes: each must be refuted")
    for _, mistake in mistakes:
        print(mistake)
        print()
    _section("Chapter 9: the book's network, layer by layer, against central differences and SymPy")
    for name, layer_report in layer_reports:
        print(f"{name}: {'ok' if layer_report.ok else 'FAILED'}")
        print(_indent(str(layer_report)))
    _section("Broken layers: each must be caught, with a diagnosis")
    for name, layer_report in broken_reports:
        print(f"{name}: {'CAUGHT' if not layer_report.ok else 'MISSED'}")
        print(_indent(str(layer_report)))
        print()
    _section("A whole model (chapters 19-22): check_model names the first wrong layer")
    print(_indent(str(model_report)))
    print()
    print("demo:", "every verdict as expected" if as_expected else "SOME VERDICTS WERE WRONG")
    return as_expected


#: the index, in the demo's model, of the layer whose backward is broken (the second ReLU)
BROKEN_MODEL_LAYER = 3


def _model_demo(seed: int) -> Any:
    """The book's classifier on the spiral data, its second ReLU's backward broken."""
    from derivcheck.examples import book, broken
    from derivcheck.examples.book_model import book_classifier
    from derivcheck.examples.network import spiral_data
    from derivcheck.layers.model import check_model

    X, y = spiral_data(samples=8, classes=3, seed=seed)
    model = book_classifier(n_inputs=2, hidden=8, classes=3, seed=seed)
    model.layers[BROKEN_MODEL_LAYER] = broken.ReLU_MaskFromDvalues()
    assert isinstance(model.layers[1], book.Activation_ReLU)
    model.finalize()
    return check_model(model, X, y, seed=seed)


def _section(title: str) -> None:
    print()
    print(title)
    print("=" * len(title))


def _indent(text: str) -> str:
    return "\n".join("    " + line if line else line for line in text.splitlines())
