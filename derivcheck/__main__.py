"""``python -m derivcheck``: the same as the ``derivcheck`` command."""

from derivcheck.cli.main import console_main

if __name__ == "__main__":  # guarded so doctest collection can import this module
    console_main()
