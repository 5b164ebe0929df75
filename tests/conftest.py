"""Shared test configuration.

Hypothesis runs derandomized by default, so the suite gives the same result on
every run, under ``pytest -n 2`` and ``pytest -p randomly`` too; set
``DERIVCHECK_HYPOTHESIS=explore`` to draw fresh examples (and find new bugs)."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(
    "explore" if os.environ.get("DERIVCHECK_HYPOTHESIS") == "explore" else "deterministic"
)
