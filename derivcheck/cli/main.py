"""The ``derivcheck`` command.

``derivcheck claim TEXT``, ``derivcheck check FILE``, ``derivcheck layer
MODULE:CLASS`` and ``derivcheck demo``.  Exit status: 0 all ok, 1 something
refuted or failed, 2 bad input or usage, 3 an internal error (a bug of
derivcheck's), 130 interrupted (Ctrl-C).  No traceback reaches the user.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from derivcheck._json import SCHEMA_VERSION, dumps
from derivcheck.cli import render
from derivcheck.errors import InputError

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}{_suggestion(self, message)}\n")


def _suggestion(parser: argparse.ArgumentParser, message: str) -> str:
    """``(did you mean 'claim'?)`` for a mistyped subcommand, option or choice."""
    import difflib
    import re

    choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if choice is not None:
        options = re.findall(r"'?([\w-]+)'?", choice.group(2))
        typed = choice.group(1)
    else:
        unknown = re.search(r"unrecognized arguments: (\S+)", message)
        if unknown is None:
            return ""
        typed = unknown.group(1).split("=")[0]
        parsers = [parser]
        for action in parser._actions:  # the subcommands' options too
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
        options = [o for p in parsers for a in p._actions for o in a.option_strings]
    close = difflib.get_close_matches(typed, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _version() -> str:
    from derivcheck import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="derivcheck",
        description="Is this derivative right? SymPy against central differences.",
        epilog=(
            "Exit status: 0 all ok, 1 something refuted or failed, 2 bad input or usage, "
            "3 an internal error, 130 interrupted."
        ),
    )
    parser.add_argument("--version", action="version", version=f"derivcheck {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.add_argument(
            "--color",
            choices=("auto", "always", "never"),
            default="auto",
            help="colour the verdicts: auto (on a terminal, unless NO_COLOR is set; "
            "FORCE_COLOR forces it), always or never",
        )
        p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")

    p = sub.add_parser("claim", help='check one claim, e.g. "d/dx 3*x^2 = 6*x"')
    p.add_argument("text", help="the claim: d/dx EXPR = CLAIM")
    p.add_argument(
        "--domain",
        action="append",
        default=[],
        metavar="VAR=LO:HI",
        help="restrict a variable to an interval (repeatable), e.g. x=0:10",
    )
    common(p)

    p = sub.add_parser("check", help="check a file of claims, one per line, '#' comments")
    p.add_argument("file", help="path of the rules file ('-' for standard input)")
    common(p)

    p = sub.add_parser("layer", help="gradient-check a layer class: MODULE:CLASS or FILE.py:CLASS")
    p.add_argument(
        "target", help="e.g. derivcheck.examples.book:Layer_Dense or mylayers.py:MyLayer"
    )
    p.add_argument(
        "--args",
        default="",
        metavar="A,B,...",
        help="constructor arguments: numbers or NAME=number, comma-separated, "
        "e.g. 4,3,weight_regularizer_l2=0.01",
    )
    p.add_argument(
        "--shape", default=None, metavar="B,N", help="input shape (default 5,4 or 5,N_INPUTS)"
    )
    p.add_argument(
        "--labels",
        choices=["none", "sparse", "onehot", "binary", "real"],
        default="none",
        help="the class is a loss: draw labels of this kind (default none)",
    )
    p.add_argument(
        "--mode",
        choices=["auto", "full", "directional"],
        default="auto",
        help="full: every entry; directional: Gaussian probes over all entries, then "
        "localisation; auto: full when estimated within --full-budget (default auto)",
    )
    p.add_argument(
        "--full-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds --mode auto may spend on a full check (default 1)",
    )
    p.add_argument(
        "--reference",
        choices=["numeric", "symbolic", "both"],
        default="numeric",
        help="what backward is compared with: central differences, exact SymPy "
        "derivatives of the traced forward, or both (default numeric)",
    )
    p.add_argument(
        "--plot", metavar="FILE.png", help="draw the per-entry relative error (needs matplotlib)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    common(p)

    p = sub.add_parser("demo", help="the book's chapters 7-9, checked end to end")
    common(p)
    return parser


def _parse_domain(items: Sequence[str]) -> dict[str, tuple[float, float]] | None:
    if not items:
        return None
    domain: dict[str, tuple[float, float]] = {}
    for item in items:
        name, sep, rng = item.partition("=")
        lo, sep2, hi = rng.partition(":")
        try:
            if not (sep and sep2):
                raise ValueError
            domain[name.strip()] = (float(lo), float(hi))
        except ValueError:
            raise InputError(f"`--domain` must look like VAR=LO:HI, got {item!r}") from None
    return domain


def _cmd_claim(args: argparse.Namespace) -> int:
    from derivcheck.claims.api import check_claim

    report = check_claim(args.text, domain=_parse_domain(args.domain), seed=args.seed)
    render.emit(report.to_dict() if args.json else report, args.json)
    return EXIT_OK if report.ok else EXIT_FAILED


def _read_rules(path: str) -> list[tuple[int, str]]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read rules file {path!r}: {exc}") from None
    rules = []
    for number, line in enumerate(text.splitlines(), start=1):
        claim = line.split("#", 1)[0].strip()
        if claim:
            rules.append((number, claim))
    if not rules:
        raise InputError(f"rules file {path!r} holds no claim")
    return rules


def _check_rules(
    rules: Sequence[tuple[int | str, str]], seed: int, as_json: bool, title: str
) -> int:
    """Check every claim, unreadable lines included (each an error row naming its line);
    print a summary table.  The exit status: 2 if a line could not be read, else 1 if a
    claim failed, else 0."""
    from derivcheck.claims.api import check_claim
    from derivcheck.claims.report import summary_table

    rows: list[tuple[str, Any]] = []
    payload = []
    all_ok, unreadable = True, False
    for where, text in rules:
        try:
            report = check_claim(text, seed=seed)
        except InputError as exc:
            unreadable = True
            problem = f"line {where}: {exc}" if isinstance(where, int) else str(exc)
            payload.append(
                {"line": where, "claim": text, "verdict": None, "ok": False, "error": problem}
            )
            rows.append((text, InputError(problem.splitlines()[0])))
            continue
        all_ok &= report.ok
        payload.append({"line": where, "claim": text, **report.to_dict(), "error": None})
        rows.append((text, report))
    if as_json:
        document = {"kind": "claim_file", "schema_version": SCHEMA_VERSION, "title": title,
                    "ok": all_ok and not unreadable, "claims": payload}
        print(dumps(document))
    else:
        print(title)
        print(render.colourise(summary_table(rows)))
        for _, report in rows:
            if not isinstance(report, Exception) and not report.ok:
                print()
                print(render.colourise(str(report)))
    if unreadable:
        return EXIT_USAGE
    return EXIT_OK if all_ok else EXIT_FAILED


def _cmd_check(args: argparse.Namespace) -> int:
    rules = _read_rules(args.file)
    return _check_rules(rules, args.seed, args.json, f"{args.file}: {len(rules)} claims")


def _load_class(target: str) -> Any:
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr.isidentifier():
        raise InputError(f"layer target must be MODULE:CLASS or FILE.py:CLASS, got {target!r}")
    try:
        if module_name.endswith(".py") or "/" in module_name:
            path = Path(module_name)
            if not path.is_file():
                raise InputError(f"no such file: {module_name!r}")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None:
                raise InputError(f"cannot import {module_name!r}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            if "" not in sys.path:
                sys.path.insert(0, "")
            module = importlib.import_module(module_name)
    except InputError:
        raise
    except Exception as exc:  # the user's module failed to import: say so, no traceback
        raise InputError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise InputError(f"module {module_name!r} has no attribute {attr!r}") from None


def _parse_number(text: str) -> int | float:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise InputError(f"`--args` takes numbers only, got {text!r}") from None


def _parse_args_option(text: str) -> tuple[list[int | float], dict[str, int | float]]:
    positional: list[int | float] = []
    keywords: dict[str, int | float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if sep:
            if not name.strip().isidentifier():
                raise InputError(f"`--args`: {name.strip()!r} is not a parameter name")
            keywords[name.strip()] = _parse_number(value)
        elif keywords:
            raise InputError("`--args`: a positional argument follows a NAME=value one")
        else:
            positional.append(_parse_number(item))
    return positional, keywords


def _parse_shape(text: str | None, positional: Sequence[int | float]) -> tuple[int, ...]:
    if text is None:
        n_inputs = positional[0] if positional and isinstance(positional[0], int) else 4
        return (5, int(n_inputs))
    message = f"`--shape` must be comma-separated positive integers, got {text!r}"
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise InputError(message) from None
    if not shape or min(shape) < 1:
        raise InputError(message)
    entries = 1
    for n in shape:
        entries *= n
    if entries > MAX_INPUT_ENTRIES:
        raise InputError(
            f"`--shape` {text} asks for {entries:,} input entries; the limit is "
            f"{MAX_INPUT_ENTRIES:,} (about {MAX_INPUT_ENTRIES * 8 // 2**20} MiB of float64)"
        )
    return shape


#: --shape beyond this many entries is refused before anything is allocated
MAX_INPUT_ENTRIES = 20_000_000
#: what --plot can write (matplotlib's formats a heatmap is useful in)
PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def _check_plot_path(path: str | None) -> None:
    """Validate --plot before the check runs: its format, and that its folder exists."""
    if path is None:
        return
    from pathlib import Path

    target = Path(path)
    if target.suffix.lower() not in PLOT_SUFFIXES:
        raise InputError(
            f"`--plot` {path!r}: the file must end in {', '.join(PLOT_SUFFIXES)}"
        )
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"`--plot` {path!r}: no such folder {str(folder)!r}")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        from derivcheck.layers.plot import INSTALL_HINT

        raise InputError(INSTALL_HINT) from None


def _trial_forward(target: str, layer: Any, inputs: Any, y_true: Any) -> None:
    """One forward on a copy of the layer: inputs it cannot take are a usage error (the
    command line made them from --shape), named before any gradient work."""
    import copy

    try:
        trial = copy.deepcopy(layer)
    except Exception:
        return  # cannot copy: the check itself will report what forward does
    try:
        if y_true is not None:
            trial.forward(inputs.copy(), y_true.copy())
        elif _takes_training(trial):
            trial.forward(inputs.copy(), True)
        else:
            trial.forward(inputs.copy())
    except (ValueError, IndexError, TypeError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise InputError(
            f"{target}: forward cannot take inputs of shape {tuple(inputs.shape)} "
            f"({type(exc).__name__}: {first}); check --shape against the layer's --args"
        ) from None
    except Exception:
        return


def _takes_training(layer: Any) -> bool:
    from derivcheck.layers.adapters import takes_training

    return takes_training(layer.forward, {})


def _make_labels(kind: str, shape: tuple[int, ...], rng: Any) -> Any:
    import numpy as np

    if kind == "none":
        return None
    samples, classes = shape[0], shape[-1]
    if kind == "sparse":
        return rng.integers(0, classes, size=samples)
    if kind == "onehot":
        return np.eye(classes)[rng.integers(0, classes, size=samples)]
    if kind == "binary":
        return rng.integers(0, 2, size=shape).astype(float)
    return rng.normal(size=shape)


def _cmd_layer(args: argparse.Namespace) -> int:
    import numpy as np

    _check_plot_path(args.plot)
    cls = _load_class(args.target)
    positional, keywords = _parse_args_option(args.args)
    shape = _parse_shape(args.shape, positional)
    try:
        layer = cls(*positional, **keywords)
    except Exception as exc:
        raise InputError(f"cannot construct {args.target}: {type(exc).__name__}: {exc}") from None
    if args.labels == "none" and _looks_like_a_loss(layer):
        raise InputError(
            f"{args.target} looks like a loss (its forward takes labels): "
            "pass --labels sparse, onehot, binary or real"
        )
    rng = np.random.default_rng(args.seed)
    if args.labels == "none":
        inputs = rng.normal(size=shape)
    else:
        # predictions of a loss: probabilities clear of 0 and 1, rows normalised
        inputs = rng.uniform(0.05, 0.95, size=shape)
        if args.labels in ("sparse", "onehot"):
            inputs /= inputs.sum(axis=-1, keepdims=True)
    y_true = _make_labels(args.labels, shape, rng)
    _trial_forward(args.target, layer, inputs, y_true)
    from derivcheck.layers.check import check_layer

    report = check_layer(
        layer,
        inputs,
        y_true,
        mode=args.mode,
        reference=args.reference,
        seed=args.seed,
        progress=render.ProgressBar(enabled=not (args.no_progress or args.json)),
        full_budget=args.full_budget,
    )
    render.emit(report.to_dict() if args.json else report, args.json)
    if args.plot:  # on a pass too: the picture of a clean check is worth having
        from derivcheck.layers.plot import plot_report

        plot_report(report, args.plot)
        if not args.json:
            print(f"plot written to {args.plot}")
    return EXIT_OK if report.ok else EXIT_FAILED


def _looks_like_a_loss(layer: Any) -> bool:
    """Whether ``forward`` needs a second argument that is not ``training``."""
    import inspect

    try:
        params = list(inspect.signature(layer.forward).parameters.values())
    except (AttributeError, TypeError, ValueError):
        return False
    required = [
        p
        for p in params
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return len(required) >= 2 and required[1].name != "training"


def _cmd_demo(args: argparse.Namespace) -> int:
    from derivcheck.demo import run_demo

    return EXIT_OK if run_demo(seed=args.seed, as_json=args.json) else EXIT_FAILED


_COMMANDS = {"claim": _cmd_claim, "check": _cmd_check, "layer": _cmd_layer, "demo": _cmd_demo}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Examples
    --------
    >>> main(["claim", "d/dx 3*x^2 = 6*x"])  # doctest: +ELLIPSIS
    Claim: d/dx 3*x^2 = 6*x
    ...
    Verdict: proven (seed=0)
    ...
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    render.COLOUR = not getattr(args, "json", False) and render.use_colour(
        getattr(args, "color", "auto")
    )
    try:
        return _COMMANDS[args.command](args)
    except InputError as exc:
        message = str(exc).replace("\n", "\n  ")
        print(f"derivcheck: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # output piped into `head` and the like: stop quietly, as other tools do
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("derivcheck: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # never show a traceback; say it is our bug
        print(
            f"derivcheck: internal error: {type(exc).__name__}: {exc} "
            "(please report this with the command you ran)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def console_main() -> None:  # pragma: no cover - the installed script
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    console_main()
