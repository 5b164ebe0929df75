"""The ``derivcheck`` command: :mod:`~derivcheck.cli.main` parses arguments and
maps outcomes to exit codes (``main(argv) -> int``); :mod:`~derivcheck.cli.render`
draws text, progress and JSON."""

from derivcheck.cli.main import console_main

__all__ = ["console_main"]
