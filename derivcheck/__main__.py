"""``python -m derivcheck``: the same as the ``derivcheck`` command."""

from derivcheck.cli import console_main

console_main()
