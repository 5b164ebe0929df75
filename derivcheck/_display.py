"""Rich display of reports in Jupyter: ``_repr_html_`` and ``_repr_pretty_``.

Each report renders as a small HTML card: a verdict badge, what was checked
(for a claim, the claim and SymPy's derivative as LaTeX, which Jupyter's
MathJax typesets), a table (the counterexample; per-gradient counts and
diagnoses; per-layer verdicts of a model), and the full text report in a
collapsible block, so nothing the text says is lost.  A failed layer check
adds its heatmap as inline SVG when matplotlib is installed.  Everything shown
comes from the report's own fields; user text is HTML-escaped.

>>> import derivcheck as dc
>>> html = dc.check_claim("d/dx x^2 = 3x")._repr_html_()
>>> "REFUTED" in html and "<table" in html
True
"""

from __future__ import annotations

import html
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

GOOD = "#1a7f37"
BAD = "#cf222e"
UNSURE = "#9a6700"


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def badge(label: str, colour: str) -> str:
    return (
        f'<span style="background:{colour};color:white;padding:1px 8px;border-radius:9px;'
        f'font-weight:600;font-size:90%">{esc(label)}</span>'
    )


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f'<th style="text-align:left">{esc(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td style="text-align:left">{cell}</td>' for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def text_block(text: str, *, open_: bool = False) -> str:
    state = " open" if open_ else ""
    return (
        f"<details{state}><summary>full report</summary>"
        f'<pre style="white-space:pre-wrap">{esc(text)}</pre></details>'
    )


def card(title: str, parts: Sequence[str]) -> str:
    inner = "".join(f"<div style='margin:4px 0'>{p}</div>" for p in parts if p)
    return f'<div class="derivcheck-report"><div><b>{title}</b></div>{inner}</div>'


def pretty(report: Any, p: Any, cycle: bool) -> None:
    """IPython's ``_repr_pretty_``: the text report."""
    p.text(repr(report) if cycle else str(report))


def latex(expr: Any) -> str | None:
    """``$...$`` of a SymPy expression (or a list of them), None for anything else."""
    try:
        import sympy
    except ImportError:  # pragma: no cover - sympy is a dependency
        return None
    if isinstance(expr, list | tuple):
        parts = [latex(e) for e in expr]
        if any(part is None for part in parts):
            return None
        return ", ".join(part for part in parts if part)
    if isinstance(expr, sympy.Basic):
        return f"${sympy.latex(expr)}$"
    return None


# --- claims ---------------------------------------------------------------------------------


def claim_html(report: Any) -> str:
    verdict = report.verdict.value
    colour = {"proven": GOOD, "confirmed": GOOD, "refuted": BAD}.get(verdict, UNSURE)
    parts = [badge(verdict.upper(), colour) + " " + esc(report.reason)]
    lhs, claimed, expected = latex(report.expr), latex(report.claimed), latex(report.expected)
    wrt = (
        ", ".join(map(str, report.wrt))
        if isinstance(report.wrt, list | tuple)
        else str(report.wrt or "")
    )
    if lhs and claimed and not report.steps:  # a chain: its steps are the table below
        parts.append(f"claim: d/d{esc(wrt)} {esc(lhs)} = {esc(claimed)}")
    if expected:
        parts.append(f"SymPy's derivative: {esc(expected)}")
    if report.steps:
        steps: list[tuple[str, ...]] = [
            (
                esc(i),
                esc(step.claim_text()),
                badge(step.verdict.value, GOOD if step.ok else BAD),
            )
            for i, step in enumerate(report.steps, start=1)
        ]
        parts.append(table(["step", "claim", "verdict"], steps))
    if report.counterexample:
        rows: list[tuple[str, ...]] = [(esc(k), esc(v)) for k, v in report.counterexample.items()]
        values = (
            ("claimed", report.claimed_value),
            ("SymPy", report.expected_value),
            ("central difference", report.numeric_value),
        )
        rows += [(esc(label), esc(f"{v:.10g}")) for label, v in values if v is not None]
        parts.append("counterexample:" + table(["", "value"], rows))
    parts.append(text_block(str(report)))
    return card(f"derivcheck claim (seed={esc(report.seed)})", parts)


# --- layers ---------------------------------------------------------------------------------


def layer_html(report: Any) -> str:
    parts = [badge("OK" if report.ok else "FAILED", GOOD if report.ok else BAD)]
    rows = []
    for name, t in report.tensors.items():
        problems = [f.kind for f in report.failures if f.tensor == name and f.kind != "mismatch"]
        status = "ok" if not t.n_mismatched and not problems else "wrong"
        rows.append(
            (
                esc(name),
                esc(tuple(t.shape)),
                esc(t.n_checked),
                esc(t.n_mismatched) + (f" ({esc(', '.join(problems))})" if problems else ""),
                badge(status, GOOD if status == "ok" else BAD),
                esc(t.diagnosis or ""),
            )
        )
    if rows:
        parts.append(table(["gradient", "shape", "compared", "wrong", "", "diagnosis"], rows))
    worst = [f for f in report.failures if f.kind == "mismatch"][:5]
    if worst:
        parts.append(
            "worst entries:"
            + table(
                ["entry", "backward", "numeric", "symbolic"],
                [
                    (
                        esc(f"{f.tensor}{list(f.index)}"),
                        esc(f"{f.analytic:.6g}"),
                        esc(f"{f.numeric:.6g}"),
                        esc("" if f.symbolic is None else f"{f.symbolic:.6g}"),
                    )
                    for f in worst
                ],
            )
        )
    if not report.ok:
        parts.append(heatmap_svg(report) or "")
    parts.append(text_block(str(report), open_=not report.ok))
    title = (
        f"{esc(report.subject)} ({esc(report.dtype)}, seed={esc(report.seed)}, "
        f"mode={esc(report.mode)}, reference={esc(report.reference)})"
    )
    return card(title, parts)


def heatmap_svg(report: Any) -> str | None:
    """The report's heatmap as inline SVG, or None without matplotlib (or on any error:
    a display never raises)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return None
    from derivcheck.layers.plot import plot_report

    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "heatmap.svg"
            plot_report(report, path)
            svg = path.read_text(encoding="utf-8")
    except Exception:
        return None
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else None


def model_html(report: Any) -> str:
    parts = [badge("OK" if report.ok else "FAILED", GOOD if report.ok else BAD)]
    rows = [
        (
            esc(r.subject),
            esc(", ".join(f"{n} {c}" for n, c in r.checked.items())),
            badge("ok" if r.ok else "wrong", GOOD if r.ok else BAD),
        )
        for r in report.layers
    ]
    parts.append(table(["trainable layer", "compared", "model gradient"], rows))
    if report.first_wrong is not None:
        parts.append(f"first layer whose own backward is wrong: <b>layer {report.first_wrong}</b>")
    parts.append(text_block(str(report), open_=not report.ok))
    return card(f"{esc(report.subject)} (seed={esc(report.seed)})", parts)
