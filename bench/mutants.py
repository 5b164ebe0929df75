"""Mutation testing of the default checks: every really-wrong mutant of a correct
backward caught, every equivalent one passed.  The harness and its oracle live in
``tests/layers/mutation.py`` (the suite asserts the same figures); this prints them,
and names every mutant missed or falsely flagged.

Run:  python bench/mutants.py
"""

from __future__ import annotations

import os
import sys
import warnings

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.layers.mutation import main  # noqa: E402

if __name__ == "__main__":
    warnings.simplefilter("ignore", RuntimeWarning)  # mutants divide by zero
    main()
