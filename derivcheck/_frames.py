"""Where in the user's own code an exception came from: the frames outside derivcheck
and numpy, for reports that say "backward raised ValueError ... at mylayer.py:12"."""

from __future__ import annotations

import traceback
from pathlib import Path


def user_frames(exc: BaseException, last: int = 2) -> list[str]:
    """Where in the user's code ``exc`` was raised: the last frames outside derivcheck and
    numpy, as ``file:line in function: source``."""
    ours = str(Path(__file__).resolve().parent)
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith(ours) and "/numpy/" not in f.filename
    ]
    return [
        f"at {f.filename}:{f.lineno} in {f.name}: {(f.line or '').strip()}" for f in frames[-last:]
    ]
