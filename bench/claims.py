"""Time the claim checker on the book's rules and the classic mistakes.

Run:  python bench/claims.py [--repeat 7]

For every claim it prints the verdict and two warm times (the process has
already imported SymPy and checked one claim):

- ``cached``: median of repeated checks of the same claim (SymPy's cache is
  warm, as in a test suite that checks a rule more than once);
- ``fresh``: median with SymPy's cache cleared before each check (a claim seen
  for the first time).

Then the cold command-line time of ``derivcheck claim "..."`` (a new Python
process, imports included), if the CLI is installed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

from derivcheck.demo import BOOK_RULES, CLASSIC_MISTAKES
from derivcheck.examples.tables import HUMAN

BOOK = [
    *BOOK_RULES,
    "d/dx f(x)/g(x) = (f'(x)*g(x) - f(x)*g'(x))/g(x)^2",
    # activations of the later chapters
    "d/dx sigmoid(x) = sigmoid(x)*(1 - sigmoid(x))",
    "d/dx softplus(x) = sigmoid(x)",
    "d/dx tanh(x) = 1 - tanh(x)^2",
]

MISTAKES = [
    *CLASSIC_MISTAKES,
    "d/dx f(g(x)) = f'(g(x))",
    "d/dx x^2 = 2x + 1e-9",
]


def _time(fn, repeat: int, before=None) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from sympy.core.cache import clear_cache

    import derivcheck as dc

    dc.check_derivative("3*(2*x**2)**5", "960*x**9", wrt="x")  # warm-up: imports, printers

    print(f"{'cached':>9} {'fresh':>9}  {'verdict':<12} claim")
    for title, claims in (("book rules", BOOK), ("classic mistakes", MISTAKES)):
        print(f"-- {title}")
        for text in claims:
            verdict = dc.check_claim(text).verdict.value
            cached = _time(lambda t=text: dc.check_claim(t), args.repeat)
            fresh = _time(lambda t=text: dc.check_claim(t), args.repeat, before=clear_cache)
            print(f"{cached * 1e3:7.1f}ms {fresh * 1e3:7.1f}ms  {verdict:<12} {text}")

    print(f"\n-- {len(HUMAN)} claims in human notation (a derivative table, right and slipped)")
    times, verdicts = [], {}
    for text in HUMAN:
        verdict = dc.check_claim(text).verdict.value
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
        times.append(_time(lambda t=text: dc.check_claim(t), 3, before=clear_cache))
    times.sort()
    p90 = times[int(0.9 * (len(times) - 1))]
    print(f"fresh: median {statistics.median(times) * 1e3:.1f} ms, p90 {p90 * 1e3:.1f} ms, "
          f"max {times[-1] * 1e3:.0f} ms (targets: median <= 20 ms, p90 <= 100 ms, max < 2 s)")
    print("verdicts:", ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())))

    target = ("3*(2*x**2)**5", "960*x**9")
    cached = _time(lambda: dc.check_derivative(*target, wrt="x"), 21)
    fresh = _time(lambda: dc.check_derivative(*target, wrt="x"), 21, before=clear_cache)
    print(f"\ncheck_derivative{target}: cached {cached * 1e3:.1f} ms, "
          f"fresh {fresh * 1e3:.1f} ms (target: under 50 ms warm)")

    exe = shutil.which("derivcheck")
    cmd = [exe] if exe else [sys.executable, "-m", "derivcheck"]
    claim = "d/dx 3(2x^2)^5 = 960x^9"
    try:
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            proc = subprocess.run([*cmd, "claim", claim], capture_output=True, text=True,
                                  timeout=60)
            runs.append(time.perf_counter() - t0)
        if proc.returncode not in (0, 1):
            raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "")
        print(f"cold CLI `derivcheck claim \"{claim}\"`: median {statistics.median(runs):.2f} s "
              f"(target: under 1 s)")
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"cold CLI: skipped ({exc or 'CLI not available'})")


if __name__ == "__main__":
    main()
