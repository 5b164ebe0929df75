"""Run code in a fresh Python process where the first call of one function is slow: a
stand-in for a one-time cost of the process (an import, a grammar built on first use)."""

from __future__ import annotations

import subprocess
import sys


def run_with_slow_first_call(module: str, name: str, seconds: float, body: str) -> str:
    """``body`` run after ``module.name`` is patched to sleep ``seconds`` on its first
    call only; its standard output."""
    code = (
        "import importlib, time\n"
        f"module = importlib.import_module({module!r})\n"
        f"real, calls = module.{name}, []\n"
        "def slow(*a, **k):\n"
        "    if not calls:\n"
        "        calls.append(1)\n"
        f"        time.sleep({seconds!r})\n"
        "    return real(*a, **k)\n"
        f"module.{name} = slow\n" + body
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return out.stdout + out.stderr
