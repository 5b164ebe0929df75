"""Exact gradients of a numpy forward, by running it on arrays of SymPy symbols.

:func:`exact_gradients` calls a *probe* once with arrays whose entries are real
SymPy symbols, wrapped in :class:`SymbolicArray` (an object-dtype ndarray
subclass whose ``__array_ufunc__``/``__array_function__`` map numpy onto SymPy),
so that a layer's own, unmodified numpy ``forward`` builds a SymPy expression
of the probe value.  SymPy differentiates that expression and the partials are
evaluated at the point.  This is the symbolic reference of
``check_layer(..., reference="symbolic" | "both")``.

How numpy maps onto SymPy
-------------------------
- ``+ - * / **``, ``@``/``np.dot``, ``np.sum``/``np.mean`` (any ``axis``,
  ``keepdims``), ``np.exp``, ``np.log`` (and ``log1p``, ``log2``, ``log10``,
  ``expm1``), ``np.sqrt``, ``np.square``, ``np.tanh`` and the other
  trigonometric and hyperbolic functions are mapped one to one.  Sums are
  built as flat ``Add`` nodes so that expressions stay shallow.
- Kinks (``np.maximum``, ``np.minimum``, ``np.max``/``np.min`` along an axis,
  ``np.clip``, ``np.abs``, ``np.sign``, ``np.heaviside``) are *resolved at the
  point*: where the arguments are not tied, the piece the function follows in
  a neighbourhood of the point replaces it (``max(0, z)`` with ``z > 0`` becomes
  ``z``), which has the same derivative there and keeps SymPy's work small.  At
  a tie (within 1e-12, relative to ``max(1, |a|, |b|)``) the SymPy function is
  kept (``Max``, ``Min``, ``Abs``), so the gradient there is SymPy's convention
  (``Heaviside(0) = 1/2``), and the entries whose symbols take part are marked
  as *at a kink* (:attr:`TraceResult.kinks`).  The value at a kink is a
  convention, never a truth.
- Comparisons (``inputs > 0``), ``np.argmax``/``np.argmin``/``np.argsort``,
  ``np.sort``, ``np.nonzero`` and a traced condition of ``np.where`` are
  evaluated at the point and give ordinary numpy booleans and integers, the
  branch the forward takes there.  So ``inputs * (inputs > 0)``, boolean masks
  and ``x[x <= 0] = 0`` trace; a tie in a comparison marks a kink.
- Structural operations (``.T``, ``.reshape``, ``.copy()``, slicing, fancy
  indexing such as ``y_pred[range(n), y_true]``, ``np.empty_like`` + item
  assignment, ``np.where``, ``np.concatenate``, ...) work as on any object array.

How the derivatives are taken
-----------------------------
By default (``method="reverse"``) the chain rule runs once over the traced
expression DAG, from the probe down to the symbols, and each node contributes
its SymPy derivative rule evaluated at the point (``Add``: 1, ``Mul``: the
other factors, ``Pow``: the power rule, functions: their ``fdiff``, so ``Max``
gives ``Heaviside`` and ``Abs`` gives ``sign``).  That is the same mathematics
as ``sympy.diff`` per entry, linear in the expression size: softmax at batch
8 x 16 is traced and differentiated in about 0.03 s, against about 7 s with
``method="diff"`` (which keeps that route, differentiating each top-level term
of the probe only by the symbols it holds; the tests check the two against
each other) and 72 s for plain ``diff`` with symbolic ``Max``.  Values are
computed by a memoised float64 walk over the DAG (common subexpressions once,
``math.fsum`` for sums) rather than ``lambdify``: SymPy 1.14 prints
``Heaviside`` as an ``np.select`` that breaks on scalars, and
``cse`` on thousands of partials costs more than the walk.

What cannot be traced raises :class:`~derivcheck.errors.TraceError` with the
reason: a numpy function or ufunc without a SymPy meaning (``np.floor``,
``np.mod``, ...), ``float()``/``int()`` of a traced value or storing one in a
float array (that would cut the derivative), ``np.asarray`` dropping the trace,
more than ``max_symbols`` entries, or the time ``budget`` running out (checked
between numpy calls and between partials; SymPy itself cannot be interrupted,
so the expression size is capped too).

SymPy is imported only inside functions: importing this module is light.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from derivcheck import _validate
from derivcheck.errors import InputError, TraceError
from derivcheck.layers.trace.graph import Trace, explain, plain_value, trace_stack
from derivcheck.layers.trace.numpy_map import SymbolicArray

__all__ = [
    "DEFAULT_MAX_NODES",
    "DEFAULT_MAX_SYMBOLS",
    "SymbolicArray",
    "TraceResult",
    "exact_gradients",
    "trace_gradients",
]

#: Default limit on the number of traced entries (all arrays of the point together).
DEFAULT_MAX_SYMBOLS = 500


#: Default limit on the number of distinct nodes of the traced probe expression.
DEFAULT_MAX_NODES = 200_000


@dataclass
class TraceResult:
    """What :func:`trace_gradients` found.

    Attributes
    ----------
    gradients : dict of str to ndarray
        ``d(probe)/d(entry)`` at the point, float64, one array per name of the
        point, of the same shape.
    kinks : dict of str to ndarray of bool
        ``True`` for entries that take part in a tie of ``max``/``min``/``clip``,
        a zero of ``abs``/``sign``, or a tied comparison at the point: there the
        gradient is a convention (SymPy's ``Heaviside(0) = 1/2``, or the branch
        the comparison took), not a derivative.
    """

    gradients: dict[str, np.ndarray]
    kinks: dict[str, np.ndarray]

    @property
    def any_kink(self) -> bool:
        """Whether any entry sits at a kink."""
        return any(bool(mask.any()) for mask in self.kinks.values())


def exact_gradients(
    probe: Callable[[dict[str, np.ndarray]], Any],
    point: Mapping[str, Any],
    *,
    budget: float = 5.0,
    max_symbols: int = DEFAULT_MAX_SYMBOLS,
    max_nodes: int = DEFAULT_MAX_NODES,
    method: str = "reverse",
) -> dict[str, np.ndarray]:
    """Exact gradient of a scalar probe of a numpy computation, by SymPy.

    Parameters
    ----------
    probe : callable
        Called once as ``probe(arrays)``, where ``arrays[name]`` is a
        :class:`SymbolicArray` of the shape of ``point[name]`` holding one real
        SymPy symbol per entry.  It runs the numpy code (for instance sets a
        layer's attributes to these arrays and calls its ``forward``) and
        returns the scalar probe value: a SymPy expression, a 0-d or size-1
        traced array, or a plain number (then every gradient is zero).
    point : mapping of str to array_like
        Where to evaluate the gradient: finite real arrays.  Not modified.
    budget : float, default 5.0
        Seconds allowed for tracing, differentiating and evaluating.
    max_symbols : int, default 500
        Refuse points with more entries than this (SymPy is slow on big ones).
    max_nodes : int, default 200000
        Refuse probe expressions with more distinct nodes than this.
    method : {"reverse", "diff"}, default "reverse"
        How SymPy's derivative rules are applied to the traced expression.
        ``"reverse"``: the chain rule in one reverse pass over the expression
        DAG, each node's local partials from SymPy (``fdiff``, the power and
        product rules) evaluated at the point -- linear in the expression size.
        ``"diff"``: ``sympy.diff`` of each top-level term of the probe by each
        symbol the term holds, then evaluated -- the textbook route, much
        slower (softmax 8x16: about 7 s instead of 0.03 s).  Both give the
        same numbers up to rounding; the tests check one against the other.

    Returns
    -------
    dict of str to ndarray
        ``d(probe)/d(point[name][index])`` evaluated at the point, float64,
        each of the shape of ``point[name]``.  At a kink the value is SymPy's
        convention; use :func:`trace_gradients` to learn which entries are at one.

    Raises
    ------
    TraceError
        The computation cannot be traced (the message says why), or it is
        over the size limits or the time budget.
    InputError
        ``point``, ``budget``, ``max_symbols`` or ``max_nodes`` is invalid.

    Examples
    --------
    A dense layer's probe ``sum(output * G)``: its weight gradient is
    ``inputs.T @ G``.

    >>> import numpy as np
    >>> x = np.array([[1.0, 2.0], [3.0, -1.0]])
    >>> w = np.array([[0.5, -0.25], [2.0, 1.0]])
    >>> g = np.array([[1.0, 0.0], [2.0, -1.0]])
    >>> def probe(arrays):
    ...     return np.sum((arrays["x"] @ arrays["w"]) * g)
    >>> grads = exact_gradients(probe, {"x": x, "w": w})
    >>> print(grads["w"])
    [[ 7. -3.]
     [ 0.  1.]]
    >>> bool(np.array_equal(grads["w"], x.T @ g))
    True
    """
    return trace_gradients(
        probe, point, budget=budget, max_symbols=max_symbols, max_nodes=max_nodes, method=method
    ).gradients


def trace_gradients(
    probe: Callable[[dict[str, np.ndarray]], Any],
    point: Mapping[str, Any],
    *,
    budget: float = 5.0,
    max_symbols: int = DEFAULT_MAX_SYMBOLS,
    max_nodes: int = DEFAULT_MAX_NODES,
    method: str = "reverse",
) -> TraceResult:
    """Like :func:`exact_gradients`, but return a :class:`TraceResult` with the kinks.

    Parameters and exceptions are those of :func:`exact_gradients`.

    Returns
    -------
    TraceResult
        ``gradients``, ``kinks`` (bool arrays: entries at a tie of a ``max``,
        ``min``, ``clip``, ``abs`` or a comparison), sizes and stage times.

    Examples
    --------
    ReLU at a point where one input is exactly 0: SymPy's convention gives
    1/2 there, and the entry is reported as a kink.

    >>> import numpy as np
    >>> result = trace_gradients(lambda a: np.sum(np.maximum(0, a["x"])),
    ...                          {"x": np.array([-1.0, 0.0, 2.0])})
    >>> print(result.gradients["x"])
    [0.  0.5 1. ]
    >>> print(result.kinks["x"])
    [False  True False]
    """
    points = _check_arguments(probe, point, budget, max_symbols, max_nodes)
    if method not in ("reverse", "diff"):
        raise InputError(f"`method` must be 'reverse' or 'diff', got {method!r}.")
    import sympy

    start = time.perf_counter()
    symbols: dict[str, np.ndarray] = {}
    values: dict[Any, float] = {}
    for name, array in points.items():
        syms = np.empty(array.shape, dtype=object)
        for index in np.ndindex(array.shape):
            label = f"{name}[{', '.join(map(str, index))}]" if index else name
            sym = sympy.Dummy(label, real=True)
            syms[index] = sym
            values[sym] = float(array[index])
        symbols[name] = syms
    trace = Trace(values, budget=budget, start=start)

    arrays = {name: syms.copy().view(SymbolicArray) for name, syms in symbols.items()}
    stack = trace_stack()
    stack.append(trace)
    try:
        with sympy.evaluate(False):
            raw = probe(arrays)
            value = _probe_scalar(raw)
    except TraceError:
        raise
    except Exception as exc:  # the forward failed on symbols: say why
        raise TraceError(explain(exc)) from exc
    finally:
        stack.pop()

    order = trace.postorder(value, max_nodes)
    if method == "reverse":
        gradient = trace.gradient_by_reverse(order)
    else:
        gradient = trace.gradient_by_diff(value)
    gradients = {}
    kinks = {}
    for name, syms in symbols.items():
        grad = np.zeros(syms.shape, dtype=np.float64)
        kink = np.zeros(syms.shape, dtype=bool)
        for index in np.ndindex(syms.shape):
            sym = syms[index]
            grad[index] = gradient.get(sym, 0.0)
            kink[index] = sym in trace.kink_symbols
        gradients[name] = grad
        kinks[name] = kink
    return TraceResult(
        gradients=gradients,
        kinks=kinks,
    )


def _check_arguments(
    probe: Any, point: Any, budget: Any, max_symbols: Any, max_nodes: Any
) -> dict[str, np.ndarray]:
    _validate.callable_arg(probe, "probe")
    if not isinstance(point, Mapping) or not point:
        raise InputError("`point` must be a non-empty dict of name -> array.")
    _validate.positive_float(budget, "budget")
    _validate.positive_int(max_symbols, "max_symbols")
    _validate.positive_int(max_nodes, "max_nodes")
    points: dict[str, np.ndarray] = {}
    for name, value in point.items():
        if not isinstance(name, str):
            raise InputError(f"`point` keys must be str, got {name!r}.")
        try:
            array = np.asarray(value)
        except Exception as exc:
            raise InputError(f"`point[{name!r}]` is not an array: {exc}") from exc
        if array.dtype.kind not in "biuf":
            raise InputError(
                f"`point[{name!r}]` must be a real numeric array, got dtype {array.dtype}."
            )
        if not np.all(np.isfinite(array)):
            raise InputError(f"`point[{name!r}]` must be finite (it holds NaN or inf).")
        points[name] = array
    total = sum(array.size for array in points.values())
    if total > max_symbols:
        raise TraceError(f"too large to trace: {total} entries > limit {max_symbols}")
    return points


def _probe_scalar(raw: Any) -> Any:
    """The probe's return value as a SymPy expression or a float."""
    import sympy

    if isinstance(raw, sympy.Basic):
        return raw
    if isinstance(raw, np.ndarray):
        if raw.size != 1:
            raise TraceError(f"the probe must return a scalar, got an array of shape {raw.shape}")
        return plain_value(raw.reshape(()).view(np.ndarray)[()])
    if isinstance(raw, (bool, int, float, np.integer, np.floating)):
        return float(raw)
    raise TraceError(f"the probe must return a scalar, got {type(raw).__name__}")
