"""The book's layers and losses written plainly, plus classic broken variants.

Modules
-------
book
    "Neural Networks from Scratch in Python", final-chapter classes
    (``forward(inputs, training)``), with a corrected mean-absolute-error backward.
chapters
    The chapter 9–10 versions (``forward(inputs)``), under the book's names.
broken
    One classic bug per class, each a subclass of its correct twin; the first
    docstring line says what is wrong, ``wrong_gradients`` and ``defect`` say
    which gradient and how.
kinks
    ReLU backwards that differ from the book's only at 0, where no
    derivative exists: correct, and a checker must not flag them.
network
    The book's Dense(2, 8) → ReLU → Dense(8, 3) → softmax + CCE network and the
    spiral data set.
cases
    :func:`make_case`: any registered class with inputs that show its bug.

Registries (name → class)
-------------------------
CORRECT
    Classes a gradient checker must pass: the book's final-chapter layers,
    activations and losses under their own names, and the chapter 9–10
    versions under ``"chapters.<name>"``.  (``Layer_Input`` and the ``Loss``
    base class have no backward and are not registered.)
BROKEN
    Every class in :mod:`.broken`, under its own name: a checker must fail each.
KINK_CONVENTION
    Every class in :mod:`.kinks`: a checker must pass each (reporting the kink
    convention is fine, a mismatch is not).

Examples
--------
>>> from derivcheck.examples import BROKEN, CORRECT, twin_of
>>> CORRECT["Layer_Dense"].__module__
'derivcheck.examples.book'
>>> print(BROKEN["Dense_MeanInsteadOfSum"].__doc__.splitlines()[0])
dbiases is the batch mean of dvalues instead of the sum: too small by the batch size.
>>> twin_of(BROKEN["Loss_MeanAbsoluteError_Book"]).__name__
'Loss_MeanAbsoluteError'
"""

from __future__ import annotations

from typing import Any

from derivcheck.errors import InputError
from derivcheck.examples import book, broken, chapters, kinks

__all__ = [
    "BROKEN",
    "CORRECT",
    "KINK_CONVENTION",
    "Case",
    "kind_of",
    "make_case",
    "twin_of",
]

_BOOK_CORRECT = (
    "Activation_Linear",
    "Activation_ReLU",
    "Activation_Sigmoid",
    "Activation_Softmax",
    "Activation_Softmax_Loss_CategoricalCrossentropy",
    "Layer_Dense",
    "Layer_Dropout",
    "Loss_BinaryCrossentropy",
    "Loss_CategoricalCrossentropy",
    "Loss_MeanAbsoluteError",
    "Loss_MeanSquaredError",
)
_CHAPTERS_CORRECT = (
    "Activation_ReLU",
    "Activation_Softmax",
    "Activation_Softmax_Loss_CategoricalCrossentropy",
    "Layer_Dense",
    "Loss_CategoricalCrossentropy",
)

#: name -> class: correct examples a gradient checker must pass
CORRECT: dict[str, type[Any]] = {
    **{name: getattr(book, name) for name in _BOOK_CORRECT},
    **{f"chapters.{name}": getattr(chapters, name) for name in _CHAPTERS_CORRECT},
}

#: name -> class: broken examples a gradient checker must fail (see each docstring)
BROKEN: dict[str, type[Any]] = {name: getattr(broken, name) for name in broken.__all__}

#: name -> class: correct except for the value picked at a kink; must not be flagged
KINK_CONVENTION: dict[str, type[Any]] = {name: getattr(kinks, name) for name in kinks.__all__}


def twin_of(cls: type[Any]) -> type[Any]:
    """The correct class a broken or kink-convention example is a variant of.

    Examples
    --------
    >>> twin_of(BROKEN["ReLU_NoCopy"]) is CORRECT["Activation_ReLU"]
    True
    """
    correct = set(CORRECT.values())
    for base in cls.__mro__:
        if base in correct:
            return base
    raise InputError(f"`cls` must derive from a class in CORRECT, got {cls!r}.")


from derivcheck.examples.cases import Case, kind_of, make_case  # noqa: E402  (needs the registries)
