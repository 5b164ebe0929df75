"""numpy onto SymPy: :class:`SymbolicArray` and the ufunc and array-function table.

See :mod:`derivcheck.layers.trace.core` for what maps to what.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from derivcheck.errors import TraceError
from derivcheck.layers.trace.graph import Trace, active, explain, find_ties, plain_value


def unwrap(x: Any) -> Any:
    """An operand as a plain ndarray (object or numeric) for the elementwise code."""
    if isinstance(x, SymbolicArray):
        return x.view(np.ndarray)
    if isinstance(x, np.ndarray):
        return x
    import sympy

    if isinstance(x, sympy.Basic):
        holder = np.empty((), dtype=object)
        holder[()] = x
        return holder
    return np.asarray(x)


def wrap(result: Any) -> Any:
    """Results of traced operations: object arrays (even 0-d) become SymbolicArray."""
    import sympy

    if isinstance(result, SymbolicArray):
        return result
    if isinstance(result, np.ndarray):
        return result.view(SymbolicArray) if result.dtype == object else result
    if isinstance(result, sympy.Basic):
        holder = np.empty((), dtype=object)
        holder[()] = result
        return holder.view(SymbolicArray)
    if isinstance(result, tuple):
        return tuple(wrap(r) for r in result)
    if isinstance(result, list):
        return [wrap(r) for r in result]
    return result


def as_objects(result: Any) -> np.ndarray:
    if isinstance(result, np.ndarray):
        return result.astype(object) if result.dtype != object else result
    holder = np.empty((), dtype=object)
    holder[()] = result
    return holder


def _elementwise(func: Callable[..., Any], *operands: Any) -> np.ndarray:
    plain = [unwrap(x) for x in operands]
    return as_objects(np.frompyfunc(lambda *a: func(*map(plain_value, a)), len(plain), 1)(*plain))


def _integral(e: Any) -> Any:
    """Integral float exponents as int, so that SymPy keeps x**2 real for x < 0."""
    if isinstance(e, float) and e.is_integer():
        return int(e)
    return e


def _binary_arithmetic(name: str, trace: Trace) -> Callable[[Any, Any], Any] | None:
    basic = trace.basic

    def add(a: Any, b: Any) -> Any:
        if not isinstance(a, basic) and a == 0:
            return b
        if not isinstance(b, basic) and b == 0:
            return a
        return a + b

    def subtract(a: Any, b: Any) -> Any:
        if not isinstance(b, basic) and b == 0:
            return a
        return a - b

    def multiply(a: Any, b: Any) -> Any:
        for x, y in ((a, b), (b, a)):
            if not isinstance(x, basic):
                if x == 0:
                    return 0.0
                if x == 1:
                    return y
        return a * b

    def divide(a: Any, b: Any) -> Any:
        if not isinstance(b, basic) and b == 1:
            return a
        if not isinstance(a, basic) and a == 0 and isinstance(b, basic):
            return 0.0
        return a / b

    def power(a: Any, b: Any) -> Any:
        b = _integral(b)
        if not isinstance(b, basic) and b == 1:
            return a
        return a**b

    table: dict[str, Callable[[Any, Any], Any]] = {
        "add": add,
        "subtract": subtract,
        "multiply": multiply,
        "divide": divide,
        "true_divide": divide,
        "power": power,
        "float_power": power,
    }
    return table.get(name)


_COMPARISONS = frozenset({"greater", "greater_equal", "less", "less_equal", "equal", "not_equal"})


_VALUE_PREDICATES = frozenset({"isnan", "isinf", "isfinite", "signbit"})


def _call_ufunc(trace: Trace, ufunc: np.ufunc, inputs: tuple[Any, ...], kwargs: dict) -> Any:
    name = ufunc.__name__
    if kwargs.get("where", True) is not True:
        raise TraceError(f"numpy.{name} with `where=` is not supported on traced arrays")
    sympy = trace.sympy
    if name in _COMPARISONS:
        a, b = (unwrap(x) for x in inputs)
        return trace.compare(ufunc, a, b)
    if name in _VALUE_PREDICATES:
        return ufunc(trace.values(unwrap(inputs[0])))
    if name in ("matmul",):
        return _matmul(trace, unwrap(inputs[0]), unwrap(inputs[1]))
    binary = _binary_arithmetic(name, trace)
    if binary is not None:
        return _elementwise(_numeric_first(ufunc, binary, trace), *inputs)
    unary = trace.unary.get(name)
    if unary is not None:
        return _elementwise(_numeric_first(ufunc, unary, trace), *inputs)
    if name in ("maximum", "fmax", "minimum", "fmin"):
        largest = name in ("maximum", "fmax")
        return _elementwise(lambda a, b: trace.extreme([a, b], largest), *inputs)
    if name == "clip":
        return _elementwise(
            lambda a, lo, hi: trace.extreme([trace.extreme([a, lo], True), hi], False), *inputs
        )
    if name in ("absolute", "fabs"):
        return _elementwise(trace.absolute, *inputs)
    if name == "sign":
        return _elementwise(
            lambda a: trace.piecewise_constant(a, lambda v: float(np.sign(v))), *inputs
        )
    if name == "heaviside":
        return _elementwise(
            lambda a, h0: trace.piecewise_constant(
                a, lambda v: float(np.heaviside(v, trace.value(h0)))
            ),
            *inputs,
        )
    if name == "arctan2":
        return _elementwise(_numeric_first(ufunc, sympy.atan2, trace), *inputs)
    if name == "hypot":
        return _elementwise(
            _numeric_first(ufunc, lambda a, b: sympy.sqrt(a**2 + b**2), trace), *inputs
        )
    if name == "logaddexp":
        return _elementwise(
            _numeric_first(ufunc, lambda a, b: sympy.log(sympy.exp(a) + sympy.exp(b)), trace),
            *inputs,
        )
    raise TraceError(f"numpy.{name} is not supported on traced arrays")


def _numeric_first(
    ufunc: np.ufunc, symbolic: Callable[..., Any], trace: Trace
) -> Callable[..., Any]:
    """Plain numbers go through numpy itself; anything symbolic through SymPy."""
    basic = trace.basic

    def apply(*args: Any) -> Any:
        if any(isinstance(a, basic) for a in args):
            return symbolic(*args)
        with np.errstate(all="ignore"):  # as floats: np.power(2, -1) refuses ints
            return ufunc(*(float(a) for a in args)).item()

    return apply


def _reduce(trace: Trace, ufunc: np.ufunc, operand: Any, kwargs: dict) -> Any:
    name = ufunc.__name__
    combine: Callable[[list[Any]], Any]
    if name == "add":
        combine = trace.add_many
    elif name == "multiply":
        combine = trace.mul_many
    elif name in ("maximum", "fmax", "minimum", "fmin"):
        largest = name in ("maximum", "fmax")

        def combine(elements: list[Any]) -> Any:
            return trace.extreme(elements, largest)

    else:
        raise TraceError(f"numpy.{name}.reduce is not supported on traced arrays")
    if kwargs.get("where", True) is not True:
        raise TraceError(f"numpy.{name}.reduce with `where=` is not supported on traced arrays")
    array = unwrap(operand)
    axis = kwargs.get("axis", 0)
    keepdims = bool(kwargs.get("keepdims", False))
    extra = [] if "initial" not in kwargs else [kwargs["initial"]]
    if array.ndim == 0:
        array = array.reshape(1)
        axis = 0
    axes = tuple(range(array.ndim)) if axis is None else np.atleast_1d(axis).tolist()
    axes = tuple(sorted(a % array.ndim for a in axes))
    kept = [d for d in range(array.ndim) if d not in axes]
    moved = np.transpose(array, kept + list(axes))
    kept_shape = moved.shape[: len(kept)]
    rows = moved.reshape((*kept_shape, -1))
    if rows.shape[-1] == 0 and not extra and name not in ("add", "multiply"):
        raise ValueError(f"zero-size array to reduction operation {name} which has no identity")
    out = np.empty(kept_shape, dtype=object)
    for index in np.ndindex(kept_shape):
        out[index] = combine(list(rows[index]) + extra)
    if keepdims:
        out = out.reshape([1 if d in axes else array.shape[d] for d in range(array.ndim)])
    return out


def _accumulate(trace: Trace, ufunc: np.ufunc, operand: Any, kwargs: dict) -> Any:
    name = ufunc.__name__
    if name not in ("add", "multiply"):
        raise TraceError(f"numpy.{name}.accumulate is not supported on traced arrays")
    combine = trace.add_many if name == "add" else trace.mul_many
    array = unwrap(operand).astype(object)
    axis = kwargs.get("axis", 0)
    moved = np.moveaxis(array, axis, -1)
    out = np.empty(moved.shape, dtype=object)
    for index in np.ndindex(moved.shape[:-1]):
        row = list(moved[index])
        for k in range(len(row)):
            out[index + (k,)] = combine(row[: k + 1])  # noqa: RUF005 -- py3.10 syntax
    return np.moveaxis(out, -1, axis)


def _matmul(trace: Trace, a: np.ndarray, b: np.ndarray) -> Any:
    """Matrix product with flat sums (numpy's object matmul nests them pairwise)."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: Input operand does not have enough dimensions")
    squeeze = []
    if a.ndim == 1:
        a = a[np.newaxis, :]
        squeeze.append(-2)
    if b.ndim == 1:
        b = b[:, np.newaxis]
        squeeze.append(-1)
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} not aligned: "
            f"{a.shape[-1]} (dim {a.ndim - 1}) != {b.shape[-2]} (dim {b.ndim - 2})"
        )
    products = _elementwise(
        _binary_arithmetic("multiply", trace) or (lambda x, y: x * y),
        a[..., :, :, np.newaxis],
        b[..., np.newaxis, :, :],
    )
    result = _reduce(trace, np.add, products, {"axis": -2})
    for axis in sorted(squeeze):
        result = np.squeeze(result, axis=axis) if result.ndim else result
    return result


def _write_out(result: Any, out: tuple[Any, ...]) -> Any:
    """Honour ``out=`` (in-place operators): traced values only into object arrays."""
    if len(out) != 1:
        raise TraceError("ufuncs with several outputs are not supported on traced arrays")
    target = out[0]
    plain = unwrap(result)
    if isinstance(target, np.ndarray) and target.dtype == object:
        target.view(np.ndarray)[...] = plain
        return target
    import sympy

    if plain.dtype == object and any(isinstance(plain_value(e), sympy.Basic) for e in plain.flat):
        dtype = target.dtype if isinstance(target, np.ndarray) else type(target).__name__
        raise TraceError(
            f"an in-place operation writes traced values into a {dtype} array; "
            "trace needs the result in a new array (use `a = a + b`, not `a += b`)"
        )
    target[...] = plain.astype(target.dtype)
    return target


class SymbolicArray(np.ndarray):
    """An object-dtype ndarray of SymPy expressions that numpy code runs on unmodified.

    Created by :func:`exact_gradients`; usable only while its probe runs.
    Elementwise numpy functions map to SymPy (see the module docstring),
    kinks are resolved at the point, comparisons are evaluated there.

    Examples
    --------
    >>> import numpy as np
    >>> from derivcheck.layers.trace.core import exact_gradients
    >>> grads = exact_gradients(lambda a: np.sum(np.exp(a["x"]) * a["x"].T),
    ...                         {"x": np.zeros((1, 1))})
    >>> print(grads["x"])  # d/dx x e^x at 0
    [[1.]]
    """

    __array_priority__ = 100.0

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        trace = active(f"numpy.{ufunc.__name__}")
        out = kwargs.pop("out", None)
        if method == "__call__":
            result = _call_ufunc(trace, ufunc, inputs, kwargs)
        elif method == "reduce":
            result = _reduce(trace, ufunc, inputs[0], kwargs)
        elif method == "accumulate":
            result = _accumulate(trace, ufunc, inputs[0], kwargs)
        else:
            raise TraceError(f"numpy.{ufunc.__name__}.{method} is not supported on traced arrays")
        if out is not None:
            return _write_out(result, out if isinstance(out, tuple) else (out,))
        return wrap(result)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        name = getattr(func, "__name__", str(func))
        trace = active(f"numpy.{name}")
        handler = _array_functions().get(func)
        if handler is not None:
            return wrap(handler(trace, *args, **kwargs))
        if name in _UNSUPPORTED_FUNCTIONS:
            raise TraceError(f"numpy.{name} is not supported on traced arrays")
        try:
            result = super().__array_function__(func, types, args, kwargs)
        except TraceError:
            raise
        except Exception as exc:
            raise TraceError(f"numpy.{name} failed on traced arrays: {explain(exc)}") from exc
        return wrap(result)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, SymbolicArray) or (
            isinstance(key, tuple) and any(isinstance(k, SymbolicArray) for k in key)
        ):
            raise TraceError("indexing with a traced array is not supported")
        item = super().__getitem__(key)
        if isinstance(item, np.ndarray):
            return item
        return wrap(plain_value(item))

    def __setitem__(self, key: Any, value: Any) -> None:
        active("item assignment")
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = plain_value(value)
        super().__setitem__(key, unwrap(value) if isinstance(value, SymbolicArray) else value)

    def __iter__(self) -> Iterator[Any]:
        for index in range(len(self)):
            yield self[index]

    def __bool__(self) -> bool:
        trace = active("bool()")
        if self.size != 1:
            raise ValueError("The truth value of an array with more than one element is ambiguous.")
        return bool(trace.compare(np.not_equal, self.view(np.ndarray), np.zeros(())).item())

    def __float__(self) -> float:
        raise TraceError(
            "a traced value was converted to float (float(), or stored in a float array), "
            "which cuts the derivative"
        )

    def __int__(self) -> int:
        raise TraceError("int() of a traced value cuts the derivative; cannot trace it")

    __index__ = __int__

    def __complex__(self) -> complex:
        raise TraceError("complex() of a traced value cuts the derivative; cannot trace it")

    def astype(self, dtype: Any, *args: Any, **kwargs: Any) -> Any:
        """Float dtypes keep the exact symbols; bool is evaluated at the point."""
        trace = active("astype")
        kind = np.dtype(dtype).kind
        if kind in "fO":
            return self.copy()
        if kind == "b":
            return trace.compare(np.not_equal, self.view(np.ndarray), np.zeros(()))
        raise TraceError(f"astype({np.dtype(dtype)}) of a traced array cuts the derivative")

    def dot(self, other: Any, out: Any = None) -> Any:
        return np.dot(self, other) if out is None else np.dot(self, other, out)

    def argmax(self, axis: Any = None, out: Any = None, **kwargs: Any) -> Any:
        return np.argmax(self, axis=axis, out=out, **kwargs)

    def argmin(self, axis: Any = None, out: Any = None, **kwargs: Any) -> Any:
        return np.argmin(self, axis=axis, out=out, **kwargs)

    def argsort(self, axis: Any = -1, **kwargs: Any) -> Any:  # type: ignore[override]
        return np.argsort(self, axis=axis, **kwargs)

    def sort(self, axis: Any = -1, **kwargs: Any) -> None:  # type: ignore[override]
        self[...] = np.sort(self, axis=axis, **kwargs)

    def nonzero(self) -> tuple[np.ndarray, ...]:
        return tuple(np.nonzero(self))


_UNSUPPORTED_FUNCTIONS = frozenset(
    {"median", "percentile", "quantile", "nanmedian", "partition", "argpartition", "unique"}
)


_FUNCTION_TABLE: dict[Any, Callable[..., Any]] = {}


def _array_functions() -> dict[Any, Callable[..., Any]]:
    """numpy functions that need their own meaning on traced arrays."""
    # Long on purpose: a table: one short local function per numpy function with a traced meaning,
    # built once.
    if _FUNCTION_TABLE:
        return _FUNCTION_TABLE

    def dot(trace: Trace, a: Any, b: Any, out: Any = None) -> Any:
        a, b = unwrap(a), unwrap(b)
        if a.ndim == 0 or b.ndim == 0:
            result = _call_ufunc(trace, np.multiply, (a, b), {})
        elif a.ndim <= 2 and b.ndim <= 2:
            result = _matmul(trace, a, b)
        else:  # numpy's object dot (nested sums) is exact, just deeper
            result = np.dot(a.astype(object), b.astype(object))
        return result if out is None else _write_out(result, (out,))

    def values_of(trace: Trace, a: Any) -> np.ndarray:
        return trace.values(unwrap(a))

    def argextreme(largest: bool) -> Callable[..., Any]:
        def handler(trace: Trace, a: Any, axis: Any = None, out: Any = None, **kw: Any) -> Any:
            array = unwrap(a)
            vals = trace.values(array)
            pick = np.argmax if largest else np.argmin
            result = pick(vals, axis=axis, **kw)
            best = (np.max if largest else np.min)(vals, axis=axis, keepdims=True)
            tied = find_ties(vals, best)
            lanes = tied.sum(axis=axis, keepdims=True) > 1
            for index in zip(*np.nonzero(tied & lanes), strict=True):
                trace.mark_kink(plain_value(array[index]))
            if out is not None:
                out[...] = result
                return out
            return result

        return handler

    def order_ties(trace: Trace, array: np.ndarray, vals: np.ndarray, axis: Any) -> None:
        flat = axis is None
        work = vals.ravel() if flat else np.moveaxis(vals, axis, -1)
        objs = array.ravel() if flat else np.moveaxis(array, axis, -1)
        ordered = np.sort(work, axis=-1)
        gaps = find_ties(ordered[..., 1:], ordered[..., :-1])
        if not gaps.any():
            return
        for index in np.ndindex(work.shape[:-1]):
            lane_vals = work[index]
            for k in np.nonzero(gaps[index])[0]:
                lo = ordered[index][k]
                members = np.nonzero(find_ties(lane_vals, np.full_like(lane_vals, lo)))[0]
                trace.mark_kink(*(plain_value(objs[index][m]) for m in members))

    def argsort(trace: Trace, a: Any, axis: Any = -1, **kw: Any) -> Any:
        array = unwrap(a)
        vals = trace.values(array)
        order_ties(trace, array, vals, axis)
        return np.argsort(vals, axis=axis, kind="stable")

    def sort(trace: Trace, a: Any, axis: Any = -1, **kw: Any) -> Any:
        array = unwrap(a)
        vals = trace.values(array)
        order_ties(trace, array, vals, axis)
        if axis is None:
            return array.ravel()[np.argsort(vals, axis=None, kind="stable")]
        order = np.argsort(vals, axis=axis, kind="stable")
        return np.take_along_axis(array, order, axis=axis)

    def truth(trace: Trace, a: Any) -> np.ndarray:
        array = unwrap(a)
        if array.dtype == bool:
            return array
        return trace.compare(np.not_equal, array, np.zeros(()))

    def nonzero(trace: Trace, a: Any) -> Any:
        return np.nonzero(truth(trace, a))

    def count_nonzero(trace: Trace, a: Any, axis: Any = None, **kw: Any) -> Any:
        return np.count_nonzero(truth(trace, a), axis=axis, **kw)

    def flatnonzero(trace: Trace, a: Any) -> Any:
        return np.flatnonzero(truth(trace, a))

    def argwhere(trace: Trace, a: Any) -> Any:
        return np.argwhere(truth(trace, a))

    def where(trace: Trace, condition: Any, *rest: Any) -> Any:
        cond = truth(trace, condition)
        if not rest:
            return np.nonzero(cond)
        if len(rest) != 2:
            raise TypeError("where() takes 1 or 3 positional arguments")
        x, y = (unwrap(r) for r in rest)
        if x.dtype == object or y.dtype == object:
            x, y = x.astype(object), y.astype(object)
        return np.where(cond, x, y)

    def isclose(trace: Trace, a: Any, b: Any, *args: Any, **kw: Any) -> Any:
        return np.isclose(values_of(trace, a), values_of(trace, b), *args, **kw)

    def allclose(trace: Trace, a: Any, b: Any, *args: Any, **kw: Any) -> Any:
        return np.allclose(values_of(trace, a), values_of(trace, b), *args, **kw)

    def norm(
        trace: Trace, x: Any, ord: Any = None, axis: Any = None, keepdims: Any = False
    ) -> Any:
        if ord is not None and ord != "fro":
            raise TraceError(
                f"numpy.linalg.norm with ord={ord!r} is not supported on traced arrays"
            )
        array = unwrap(x)
        squares = _call_ufunc(trace, np.square, (array,), {})
        total = _reduce(trace, np.add, squares, {"axis": axis, "keepdims": keepdims})
        return _call_ufunc(trace, np.sqrt, (total,), {})

    _FUNCTION_TABLE.update(
        {
            np.linalg.norm: norm,
            np.dot: dot,
            np.argmax: argextreme(True),
            np.argmin: argextreme(False),
            np.argsort: argsort,
            np.sort: sort,
            np.nonzero: nonzero,
            np.count_nonzero: count_nonzero,
            np.flatnonzero: flatnonzero,
            np.argwhere: argwhere,
            np.where: where,
            np.isclose: isclose,
            np.allclose: allclose,
        }
    )
    return _FUNCTION_TABLE
