"""Every exception derivcheck raises is defined here.

Bad input raises :class:`InputError` (a :class:`ValueError`) or one of its
subclasses, with a message that names what is wrong.  A mismatch found by a
check is never an exception: it is a report with ``ok == False``.
"""

from __future__ import annotations

__all__ = [
    "DomainError",
    "InputError",
    "ParseError",
    "TraceError",
    "UnsafeInputError",
]


class InputError(ValueError):
    """Bad input: unparseable text, an unknown name, a wrong shape, an empty domain.

    Parameters
    ----------
    message : str
        What is wrong, naming the parameter or the offending text.
    text : str, optional
        The user text the error refers to.
    position : int, optional
        0-based offset into ``text`` where the problem is; shown with a caret.

    Examples
    --------
    >>> err = InputError("unknown name 'foo'", text="d/dx foo(x = 1", position=5)
    >>> print(err)
    unknown name 'foo' at position 5
        d/dx foo(x = 1
             ^
    """

    def __init__(
        self, message: str, *, text: str | None = None, position: int | None = None
    ) -> None:
        self.message = message
        self.text = text
        self.position = position
        super().__init__(self._format())

    def _format(self) -> str:
        if self.text is None or self.position is None:
            return self.message
        line = self.text.replace("\n", " ")
        return f"{self.message} at position {self.position}\n    {line}\n    {' ' * self.position}^"


class ParseError(InputError):
    """Text that is not a valid expression or claim."""


class UnsafeInputError(ParseError):
    """Text that uses a construct outside the expression grammar (attribute access,
    dunder names, lambdas, comprehensions, ...).  Nothing in it is run."""


class DomainError(InputError):
    """A domain that is empty, malformed, or leaves no valid point to sample."""


class TraceError(Exception):
    """A layer's forward could not be traced symbolically (internal; the report says why)."""
