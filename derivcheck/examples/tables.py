"""A derivative table as people type it, in human notation: each entry right, and
with the slip a learner makes (the standard tables of calculus textbooks, and the
activations of the book).  ``bench/claims.py`` times them; the tests assert that
every right one is ok and no slipped one is.
"""

from __future__ import annotations

__all__ = ["HUMAN", "RIGHT", "SLIPPED", "TABLE"]

#: (function, its derivative, a classic slip), each as typed
TABLE = [
    ("x^n", "n x^(n-1)", "x^(n-1)"),
    ("x e^x", "e^x + x e^x", "e^x"),
    ("x^2 sin x", "2x sin x + x^2 cos x", "2x cos x"),
    ("sin x", "cos x", "-cos x"),
    ("cos x", "-sin x", "sin x"),
    ("tan x", "sec^2 x", "sec x"),
    ("sec x", "sec x tan x", "tan^2 x"),
    ("csc x", "-csc x cot x", "csc x cot x"),
    ("cot x", "-csc^2 x", "csc^2 x"),
    ("sin^2 x", "2 sin x cos x", "2 sin x"),
    ("cos^2 x", "-2 sin x cos x", "2 cos x"),
    ("sin 2x", "2 cos 2x", "cos 2x"),
    ("sin x^2", "2x cos x^2", "cos x^2"),
    ("ln x", "1/x", "ln x"),
    ("ln|x|", "1/x", "1/|x|"),
    ("log_2 x", "1/(x ln 2)", "1/x"),
    ("log_{10} x", "1/(x ln 10)", "10/x"),
    ("e^(2x)", "2e^(2x)", "e^(2x)"),
    ("e^-x", "-e^-x", "e^-x"),
    ("2^x", "2^x ln 2", "x 2^(x-1)"),
    ("√x", "1/(2√x)", "1/√x"),
    ("∛x", "1/(3 ∛(x^2))", "1/(3x)"),
    ("1/x", "-1/x^2", "1/x^2"),
    ("arcsin(x)", "1/√(1 - x²)", "1/√(1 + x²)"),
    ("arccos(x)", "-1/√(1 - x²)", "1/√(1 - x²)"),
    ("arctan(x)", "1/(1 + x^2)", "1/(1 - x^2)"),
    ("sin⁻¹(x)", "1/√(1 - x²)", "-1/√(1 - x²)"),
    ("tan^-1 x", "1/(1 + x²)", "-1/(1 + x²)"),
    ("sinh x", "cosh x", "-cosh x"),
    ("cosh x", "sinh x", "-sinh x"),
    ("tanh x", "sech^2 x", "1 + tanh^2 x"),
    ("coth x", "-csch^2 x", "csch^2 x"),
    ("sech x", "-sech x tanh x", "sech x tanh x"),
    ("asinh(x)", "1/√(x^2 + 1)", "1/√(x^2 - 1)"),
    ("atanh(x)", "1/(1 - x^2)", "1/(1 + x^2)"),
    ("|x|", "x/|x|", "1"),
    ("σ(x)", "σ(x)(1 - σ(x))", "σ(x)"),
    ("softplus(x)", "σ(x)", "softplus(x)"),
    ("relu(x)", "1(x > 0)", "x"),
    ("max(x, y)", "1(x > y)", "1"),
    ("p(1 - p)", "1 - 2p", "1 - p"),
    ("x(x + 1)^3", "(x + 1)^3 + 3x(x + 1)^2", "3x(x + 1)^2"),
    ("[x^2 + 1]^3", "6x[x^2 + 1]^2", "3[x^2 + 1]^2"),
    ("(x + 1)(x - 1)", "2x", "2"),
    ("3(2x^2)^5", "960x^9", "15(2x^2)^4"),
    ("x^x", "x^x (ln x + 1)", "x x^(x - 1)"),
    ("sin x cos x", "cos^2 x - sin^2 x", "-sin x cos x"),
    ("e^x sin x", "e^x sin x + e^x cos x", "e^x cos x"),
    ("ln(x^2 + 1)", "2x/(x^2 + 1)", "1/(x^2 + 1)"),
    ("√(1 - x²)", "-x/√(1 - x²)", "1/(2√(1 - x²))"),
    ("x/(x + 1)", "1/(x + 1)^2", "1/(x + 1)"),
    ("π x^2", "2π x", "2x"),
    ("sin x/x", "(x cos x - sin x)/x^2", "cos x"),
    ("tanh(x)*1(abs(x) < 20)", "(1 - tanh(x)^2)*1(abs(x) < 20)", "1 - tanh(x)^2"),
]


def _claim(f: str, d: str) -> str:
    variable = "p" if f.startswith("p(") else "x"
    return f"d/d{variable} {f} = {d}"


RIGHT = [_claim(f, d) for f, d, _ in TABLE]
SLIPPED = [_claim(f, w) for f, _, w in TABLE]
HUMAN = RIGHT + SLIPPED
