"""derivcheck's pytest plugin, registered through the ``pytest11`` entry point.

Adds the options ``--derivcheck-seed`` and ``--derivcheck-max-examples`` and the
``derivcheck`` fixture: the ``assert_*`` helpers of :mod:`derivcheck.testing.asserts`
with the session's seed filled in, so one command-line flag re-runs a whole
suite's checks at another seed::

    def test_my_layer(derivcheck):
        derivcheck.assert_layer(MyLayer(4, 3), inputs)

The plugin imports nothing heavy: SymPy and Hypothesis load only when a check runs.
"""

from __future__ import annotations

from typing import Any

import pytest

from derivcheck.testing import asserts as testing

__all__ = ["DerivcheckFixture", "derivcheck"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("derivcheck", "derivative and gradient checks")
    group.addoption(
        "--derivcheck-seed",
        type=int,
        default=0,
        help="seed of every derivcheck check in the session: the fixture and plain "
        "assert_* calls alike (default 0)",
    )
    group.addoption(
        "--derivcheck-mode",
        choices=("auto", "full", "directional"),
        default=None,
        help="mode of every layer check in the session (default: each call's own, 'auto')",
    )
    group.addoption(
        "--derivcheck-reference",
        choices=("numeric", "symbolic", "both"),
        default=None,
        help="reference of every layer check in the session (default: 'numeric')",
    )
    group.addoption(
        "--derivcheck-max-examples",
        type=int,
        default=None,
        help="Hypothesis examples for derivcheck.assert_layer_property (default 50)",
    )


def pytest_configure(config: pytest.Config) -> None:
    testing.configure(
        seed=config.getoption("derivcheck_seed", 0) or None,
        mode=config.getoption("derivcheck_mode", None),
        reference=config.getoption("derivcheck_reference", None),
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    testing.configure(seed=None, mode=None, reference=None)


def pytest_report_header(config: pytest.Config) -> str | None:
    if config.getoption("derivcheck_seed", 0) != 0:
        return f"derivcheck: seed={config.getoption('derivcheck_seed')}"
    return None


class DerivcheckFixture:
    """The ``assert_*`` helpers with the session's seed.

    Examples
    --------
    >>> fixture = DerivcheckFixture(seed=3)
    >>> fixture.seed
    3
    >>> fixture.assert_claim("d/dx x^2 = 2x").seed
    3
    """

    def __init__(self, seed: int = 0, max_examples: int | None = None) -> None:
        self.seed = seed
        self.max_examples = max_examples

    def assert_layer_property(self, make_layer: Any, **kw: Any) -> None:
        __tracebackhide__ = True
        if self.max_examples is not None:
            kw.setdefault("max_examples", self.max_examples)
        kw.setdefault("seed", self.seed)
        testing.assert_layer_property(make_layer, **kw)


def _seeded(name: str) -> Any:
    def method(self: DerivcheckFixture, *args: Any, **kw: Any) -> Any:
        __tracebackhide__ = True
        kw.setdefault("seed", self.seed)
        return getattr(testing, name)(*args, **kw)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``derivcheck.testing.{name}`` with the session's seed."
    return method


for _row in testing.TWINS:  # one method per assert_* twin, from the same table
    setattr(DerivcheckFixture, _row.name, _seeded(_row.name))


@pytest.fixture
def derivcheck(request: pytest.FixtureRequest) -> DerivcheckFixture:
    """The derivcheck ``assert_*`` helpers, seeded from ``--derivcheck-seed``."""
    config = request.config
    return DerivcheckFixture(
        seed=config.getoption("derivcheck_seed", 0),
        max_examples=config.getoption("derivcheck_max_examples", None),
    )
