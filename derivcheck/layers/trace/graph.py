"""The traced expression DAG: values at the point, kinks resolved there, and the
chain rule run once from the probe down to the symbols (reverse accumulation).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from derivcheck.errors import TraceError

# Two values closer than this (relative to max(1, |a|, |b|)) are a tie: a kink.
TIE_TOL = 1e-12


STATE = threading.local()


def trace_stack() -> list[Trace]:
    stack = getattr(STATE, "stack", None)
    if stack is None:
        stack = STATE.stack = []
    return stack


def active(what: str) -> Trace:
    stack = trace_stack()
    if not stack:
        raise TraceError(
            f"{what} on a traced array outside exact_gradients: "
            "a traced array leaked out of its probe"
        )
    trace: Trace = stack[-1]
    trace.check_time("tracing the forward")
    return trace


def plain_value(element: Any) -> Any:
    """An element as a SymPy expression or a Python number (0-d arrays unwrapped)."""
    while isinstance(element, np.ndarray):
        if element.size != 1:
            raise TraceError("an object array holds arrays as entries; cannot trace it")
        element = element.reshape(()).view(np.ndarray)[()]
    if isinstance(element, (np.floating, np.integer, np.bool_)):
        return element.item()
    return element


class Trace:
    """The state of one trace: values at the point, kinks, the clock."""

    def __init__(self, values: dict[Any, float], *, budget: float, start: float) -> None:
        import sympy

        self.sympy = sympy
        self.basic = sympy.Basic
        self.memo: dict[Any, float] = dict(values)
        self.symbols_of: dict[Any, frozenset[Any]] = {sym: frozenset((sym,)) for sym in values}
        self.point_symbols = frozenset(values)
        self.kink_symbols: set[Any] = set()
        self.budget = budget
        self.deadline = start + budget
        self.ops = sympy_ops(sympy)
        self.unary = unary_functions(sympy)

    # ---- clock

    def check_time(self, stage: str) -> None:
        if time.perf_counter() > self.deadline:
            raise TraceError(f"over the time budget of {self.budget:g} s while {stage}")

    # ---- values at the point

    def value(self, root: Any) -> float:
        """The float value of an element at the point (memoised over the DAG)."""
        if not isinstance(root, self.basic):
            return float(root)
        memo = self.memo
        found = memo.get(root)
        if found is not None:
            return found
        stack = [root]
        while stack:
            node = stack[-1]
            if node in memo:
                stack.pop()
                continue
            if node.is_Symbol:
                raise TraceError(f"the probe uses a symbol that is not traced: {node}")
            if node.is_Number or node.is_NumberSymbol:
                try:
                    memo[node] = float(node)
                except TypeError:  # zoo and other non-real constants
                    memo[node] = math.nan
                stack.pop()
                continue
            pending = [arg for arg in node.args if arg not in memo]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            memo[node] = self._apply(node, [memo[arg] for arg in node.args])
        return memo[root]

    def _apply(self, node: Any, args: list[float]) -> float:
        op = self.ops.get(type(node))
        result: Any
        try:
            if op is not None:
                result = op(*args)
            else:  # rare functions: let SymPy evaluate at the numeric arguments
                with self.sympy.evaluate(True):
                    result = complex(node.func(*[self.sympy.Float(a) for a in args]).evalf())
        except (ZeroDivisionError, OverflowError):
            return math.inf
        except (ValueError, TypeError):
            return math.nan
        if isinstance(result, complex):
            return result.real if result.imag == 0 else math.nan
        return float(result)

    def values(self, array: np.ndarray) -> np.ndarray:
        """Float values of an object (or numeric) array at the point."""
        if array.dtype != object:
            return np.asarray(array, dtype=np.float64)
        flat = [self.value(plain_value(e)) for e in array.ravel()]
        return np.array(flat, dtype=np.float64).reshape(array.shape)

    # ---- kinks

    def tie(self, a: float, b: float) -> bool:
        if math.isnan(a) or math.isnan(b):
            return False
        if a == b:
            return True
        return abs(a - b) <= TIE_TOL * max(1.0, abs(a), abs(b))

    def mark_kink(self, *elements: Any) -> None:
        for element in elements:
            if isinstance(element, self.basic):
                self.kink_symbols |= self.free_symbols(element)

    def free_symbols(self, root: Any) -> frozenset[Any]:
        """Traced symbols in an expression (memoised; SymPy's is not cached)."""
        if not isinstance(root, self.basic):
            return frozenset()
        memo = self.symbols_of
        found = memo.get(root)
        if found is not None:
            return found
        stack = [root]
        while stack:
            node = stack[-1]
            if node in memo:
                stack.pop()
                continue
            pending = [arg for arg in node.args if arg not in memo]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            children = [memo[arg] for arg in node.args]
            if node.is_Symbol:
                memo[node] = frozenset((node,)) if node in self.point_symbols else frozenset()
            elif not children:
                memo[node] = frozenset()
            elif len(children) == 1:
                memo[node] = children[0]
            else:
                memo[node] = frozenset().union(*children)
        return memo[root]

    # ---- size, derivatives

    def postorder(self, root: Any, limit: int) -> list[Any]:
        """Distinct nodes of the expression DAG, every node after its arguments."""
        if not isinstance(root, self.basic):
            return []
        order: list[Any] = []
        done: set[Any] = set()
        stack: list[tuple[Any, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if node in done:
                continue
            if expanded:
                done.add(node)
                order.append(node)
                if len(order) > limit:
                    raise TraceError(
                        f"expression too large to differentiate: more than {limit} nodes"
                    )
                continue
            stack.append((node, True))
            stack.extend((arg, False) for arg in node.args if arg not in done)
        self.check_time("sizing the expression")
        return order

    def linear_terms(self, root: Any) -> list[tuple[float, Any]]:
        """Split the probe into ``sum(coefficient * term)`` over its top-level sums."""
        terms: list[tuple[float, Any]] = []
        stack: list[tuple[float, Any]] = [(1.0, root)]
        while stack:
            coef, node = stack.pop()
            if not self.free_symbols(node):
                continue
            if node.is_Add:
                stack.extend((coef, arg) for arg in node.args)
            elif node.is_Mul:
                const = [a for a in node.args if not self.free_symbols(a)]
                rest = [a for a in node.args if self.free_symbols(a)]
                if const and len(rest) == 1:
                    factor = math.prod(self.value(a) for a in const)
                    stack.append((coef * factor, rest[0]))
                else:
                    terms.append((coef, node))
            else:
                terms.append((coef, node))
        return terms

    def gradient_by_diff(self, root: Any) -> dict[Any, float]:
        """SymPy's ``diff`` of each top-level term, only by the symbols the term holds."""
        partials: dict[Any, list[tuple[float, Any]]] = {}
        if isinstance(root, self.basic):
            for coef, term in self.linear_terms(root):
                for sym in self.free_symbols(term):
                    self.check_time("differentiating")
                    partials.setdefault(sym, []).append((coef, term.diff(sym)))
        gradient = {}
        for sym, pairs in partials.items():
            self.check_time("evaluating the gradient")
            gradient[sym] = math.fsum(coef * self.value(expr) for coef, expr in pairs)
        return gradient

    def gradient_by_reverse(self, order: list[Any]) -> dict[Any, float]:
        """Reverse accumulation over the DAG; local partials are SymPy's (``fdiff``).

        Every node's partial derivative with respect to each argument is the
        SymPy rule for that node (``Add``: 1, ``Mul``: the other factors,
        ``Pow``: the power rule, functions: ``fdiff``, e.g. ``Max`` ->
        ``Heaviside``) evaluated at the point; the chain rule sums them.  Same
        mathematics as ``diff`` per entry, in one pass over the DAG.
        """
        adjoint: dict[Any, float] = {}
        if not order:
            return adjoint
        adjoint[order[-1]] = 1.0
        gradient: dict[Any, float] = {}
        for count, node in enumerate(reversed(order)):
            if count % 256 == 0:
                self.check_time("differentiating")
            bar = adjoint.pop(node, 0.0)
            if bar == 0.0 or not self.free_symbols(node):
                continue
            if node.is_Symbol:
                gradient[node] = gradient.get(node, 0.0) + bar
                continue
            for arg, local in self.local_partials(node):
                adjoint[arg] = adjoint.get(arg, 0.0) + bar * local
        return gradient

    def local_partials(self, node: Any) -> Iterator[tuple[Any, float]]:
        """``(argument, d node / d argument)`` at the point, for arguments with symbols."""
        args = node.args
        live = [i for i, arg in enumerate(args) if self.free_symbols(arg)]
        if node.is_Add:
            for i in live:
                yield args[i], 1.0
        elif node.is_Mul:
            vals = [self.value(arg) for arg in args]
            for i in live:
                yield args[i], math.prod(vals[:i] + vals[i + 1 :])
        elif node.is_Pow:
            base, exponent = args
            vb, ve = self.value(base), self.value(exponent)
            if 0 in live:
                yield base, ve * self._apply(node, [vb, ve - 1.0])
            if 1 in live:
                log_base = math.log(vb) if vb > 0 else (-math.inf if vb == 0 else math.nan)
                yield exponent, self.value(node) * log_base
        elif hasattr(node, "fdiff"):  # Function subclasses and Max/Min
            with self.sympy.evaluate(True):
                rules = [(args[i], node.fdiff(i + 1)) for i in live]
            for arg, rule in rules:
                yield arg, self.value(rule)
        else:
            raise TraceError(f"no derivative rule for {type(node).__name__} nodes")

    # ---- building expressions

    def add_many(self, elements: list[Any]) -> Any:
        const = 0.0
        symbolic = []
        for e in map(plain_value, elements):
            if isinstance(e, self.basic):
                symbolic.append(e)
            else:
                const += e
        if not symbolic:
            return const
        if const != 0:
            symbolic.append(const)
        if len(symbolic) == 1:
            return symbolic[0]
        return self.sympy.Add(*symbolic)

    def mul_many(self, elements: list[Any]) -> Any:
        const = 1.0
        symbolic = []
        for e in map(plain_value, elements):
            if isinstance(e, self.basic):
                symbolic.append(e)
            else:
                const *= e
        if not symbolic or const == 0:
            return const
        if const != 1:
            symbolic.insert(0, const)
        if len(symbolic) == 1:
            return symbolic[0]
        return self.sympy.Mul(*symbolic)

    def extreme(self, elements: list[Any], largest: bool) -> Any:
        """max/min of elements, resolved at the point; ties keep SymPy's Max/Min."""
        elements = [plain_value(e) for e in elements]
        vals = [self.value(e) for e in elements]
        best = math.nan if any(math.isnan(v) for v in vals) else (max if largest else min)(vals)
        if math.isnan(best):
            func = self.sympy.Max if largest else self.sympy.Min
            return func(*elements) if len(elements) > 1 else elements[0]
        winners = [e for e, v in zip(elements, vals, strict=True) if self.tie(v, best)]
        distinct = list(dict.fromkeys(winners))
        if len(distinct) == 1:
            return distinct[0]
        if not any(isinstance(e, self.basic) for e in distinct):
            return best
        self.mark_kink(*distinct)
        func = self.sympy.Max if largest else self.sympy.Min
        return func(*distinct)

    def absolute(self, e: Any) -> Any:
        v = self.value(e)
        if not isinstance(e, self.basic):
            return abs(v)
        if self.tie(v, 0.0):
            self.mark_kink(e)
            return self.sympy.Abs(e)
        return e if v > 0 else -e

    def piecewise_constant(self, e: Any, func: Callable[[float], float]) -> float:
        """sign-like functions: their value at the point (a kink if the argument is 0)."""
        v = self.value(e)
        if isinstance(e, self.basic) and self.tie(v, 0.0):
            self.mark_kink(e)
        return func(v)

    def compare(self, ufunc: np.ufunc, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """A comparison evaluated at the point: the branch the forward takes there."""
        va, vb = self.values(a), self.values(b)
        result = ufunc(va, vb)
        ea, eb = np.broadcast_arrays(a, b)
        ties = find_ties(va, vb)
        if ties.any():
            for index in np.ndindex(ties.shape):
                left, right = plain_value(ea[index]), plain_value(eb[index])
                # the same expression on both sides compares the same near the point
                if ties[index] and not (left is right or left == right):
                    self.mark_kink(left, right)
        return result


def sympy_ops(sympy: Any) -> dict[type, Callable[..., float]]:
    """Float implementations of the SymPy node types the trace and diff produce."""

    def heaviside(x: float, h0: float = 0.5) -> float:
        return 1.0 if x > 0 else 0.0 if x < 0 else h0

    def dirac(x: float, k: float = 0.0) -> float:
        return math.nan if x == 0 else 0.0

    def sign(x: float) -> float:
        return 1.0 if x > 0 else -1.0 if x < 0 else 0.0

    def power(b: float, e: float) -> float:
        if e == 2:
            return b * b
        if e == -1:
            return 1.0 / b
        if b < 0 and e != int(e):
            return math.nan
        return float(b**e)

    def log(x: float, base: float | None = None) -> float:
        if x == 0:
            return -math.inf
        if base is None:
            return math.log(x)
        return math.log(x) / math.log(base)

    return {
        sympy.Add: lambda *a: math.fsum(a),
        sympy.Mul: lambda *a: math.prod(a),
        sympy.Pow: power,
        sympy.exp: math.exp,
        sympy.log: log,
        sympy.Max: max,
        sympy.Min: min,
        sympy.Abs: abs,
        sympy.sign: sign,
        sympy.Heaviside: heaviside,
        sympy.DiracDelta: dirac,
        sympy.re: lambda x: x,
        sympy.im: lambda x: 0.0,
        sympy.conjugate: lambda x: x,
        sympy.sin: math.sin,
        sympy.cos: math.cos,
        sympy.tan: math.tan,
        sympy.asin: math.asin,
        sympy.acos: math.acos,
        sympy.atan: math.atan,
        sympy.atan2: math.atan2,
        sympy.sinh: math.sinh,
        sympy.cosh: math.cosh,
        sympy.tanh: math.tanh,
        sympy.asinh: math.asinh,
        sympy.acosh: math.acosh,
        sympy.atanh: math.atanh,
        sympy.sec: lambda x: 1 / math.cos(x),
        sympy.csc: lambda x: 1 / math.sin(x),
        sympy.cot: lambda x: 1 / math.tan(x),
        sympy.sech: lambda x: 1 / math.cosh(x),
        sympy.csch: lambda x: 1 / math.sinh(x),
        sympy.coth: lambda x: 1 / math.tanh(x),
    }


def find_ties(va: np.ndarray, vb: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        scale = np.maximum(1.0, np.maximum(np.abs(va), np.abs(vb)))
        return np.asarray((va == vb) | (np.abs(va - vb) <= TIE_TOL * scale))


def explain(exc: Exception) -> str:
    """The reason a forward failed on traced arrays, in the user's terms."""
    text = f"{type(exc).__name__}: {exc}"
    if "convert expression to float" in str(exc) or "Cannot convert" in str(exc):
        hint = "a traced value was converted to a float (float(), astype or a float array)"
    elif "no callable" in str(exc):
        hint = "a numpy function got a plain object array (np.asarray/np.array drops the trace)"
    elif "truth value" in str(exc):
        hint = "a comparison of traced values reached Python control flow"
    else:
        hint = "the forward raised on traced arrays"
    return f"cannot trace the forward: {hint} ({text})"


def unary_functions(sympy: Any) -> dict[str, Callable[[Any], Any]]:
    """numpy ufunc name -> SymPy function of one argument (smooth ones only)."""
    return {
        "negative": lambda a: -a,
        "positive": lambda a: a,
        "conjugate": lambda a: a,
        "square": lambda a: a**2,
        "reciprocal": lambda a: 1 / a,
        "sqrt": sympy.sqrt,
        "exp": sympy.exp,
        "exp2": lambda a: 2**a,
        "expm1": lambda a: sympy.exp(a) - 1,
        "log": sympy.log,
        "log2": lambda a: sympy.log(a) / sympy.log(2),
        "log10": lambda a: sympy.log(a) / sympy.log(10),
        "log1p": lambda a: sympy.log(1 + a),
        "sin": sympy.sin,
        "cos": sympy.cos,
        "tan": sympy.tan,
        "arcsin": sympy.asin,
        "arccos": sympy.acos,
        "arctan": sympy.atan,
        "sinh": sympy.sinh,
        "cosh": sympy.cosh,
        "tanh": sympy.tanh,
        "arcsinh": sympy.asinh,
        "arccosh": sympy.acosh,
        "arctanh": sympy.atanh,
    }
