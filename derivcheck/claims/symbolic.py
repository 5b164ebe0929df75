"""The SymPy side: derivatives, kink sets, high-precision evaluation, equality.

Everything here works on SymPy expressions whose symbols are real.  Deciding
whether two expressions are equal follows DESIGN.md ("Deciding equality"):
``expand(a - b) == 0`` first, then the same after rewriting kink functions
(``Max``, ``Abs``, ``Heaviside``, ``Piecewise``, ...) into one canonical form
that differs from the original only on the kink set, then cheap normalisers,
then mpmath at 30 digits at seeded points across scales, and a bounded
``simplify`` that may turn numerical agreement into a proof.

>>> import sympy as sp
>>> x, y = sp.symbols("x y", real=True)
>>> derivative(sp.Max(x, y), x)
Heaviside(x - y)
>>> kink_set(sp.Max(x, y) + sp.Abs(x))
[x, x - y]
>>> decide_equal(derivative(sp.Max(x, y), x),
...              sp.Piecewise((1, x > y), (0, True)), [x, y]).kind
'equal_except_at_kinks'
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.core.relational import Relational
from sympy.logic.boolalg import BooleanAtom

__all__ = [
    "Equality",
    "decide_equal",
    "derivative",
    "float_function",
    "instantiate",
    "kink_set",
    "mp_function",
    "placeholders",
    "prove_zero",
    "to_real",
    "values_differ",
]

#: digits used for the high-precision comparison (DESIGN: at least 30)
DPS = 30
#: digits used to re-check an apparent difference before calling it real
DPS_CONFIRM = 60

# Expressions bigger than this are not handed to expand/cancel/simplify: those can
# take seconds to minutes on large inputs, and the numeric path decides anyway.
_MAX_OPS_EXPAND = 200
_MAX_OPS_EXPAND_POLYNOMIAL = 2000
_MAX_EXPANDED_TERMS = 4000
_MAX_OPS_CANCEL = 120
_MAX_OPS_SIMPLIFY = 30

_KINK_FUNCTIONS = (sp.Max, sp.Min, sp.Abs, sp.sign, sp.Heaviside, sp.Piecewise, sp.DiracDelta)


def derivative(expr: sp.Expr, wrt: sp.Symbol) -> sp.Expr:
    """SymPy's derivative of `expr` with respect to the real symbol `wrt`.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> derivative(3 * (2 * x**2) ** 5, x)
    960*x**9
    >>> derivative(sp.Abs(x), x)
    sign(x)
    """
    return sp.diff(expr, wrt)


# --------------------------------------------------------------------------- kinks


def _canonical_sign(u: sp.Expr) -> sp.Expr:
    u = sp.expand(u)
    _, u = u.as_content_primitive()
    if u.could_extract_minus_sign():
        u = -u
    return u


def _relational_zero(rel: Relational) -> sp.Expr:
    return sp.expand(rel.lhs - rel.rhs)


def linear_root(kink: sp.Expr, var: sp.Symbol) -> sp.Expr | None:
    """Where ``kink == 0`` when it is linear in `var`: ``-c0 / c1``; None otherwise.

    >>> x, y = sp.symbols("x y", real=True)
    >>> linear_root(x - 2 * y, x), linear_root(x**2 - y, x)
    (2*y, None)
    """
    if var not in kink.free_symbols:
        return None
    try:
        poly = sp.Poly(kink, var)
    except sp.PolynomialError:
        return None
    if poly.degree() != 1:
        return None
    c1, c0 = poly.all_coeffs()
    return -c0 / c1


def kink_set(expr: sp.Expr) -> list[sp.Expr]:
    """Expressions whose zero sets are the places where `expr` switches branch.

    ``Max(a, b)`` contributes ``a - b`` (every pair of arguments, so ties among
    three or more arguments are kinks); ``Abs(u)``, ``sign(u)``,
    ``Heaviside(u)`` and ``DiracDelta(u)`` contribute ``u``; a ``Piecewise``
    contributes ``lhs - rhs`` of every relation in its conditions.  Each is
    normalised (expanded, positive content and leading sign removed) and the
    list is sorted and free of duplicates.

    Examples
    --------
    >>> import sympy as sp
    >>> x, y, z = sp.symbols("x y z", real=True)
    >>> kink_set(sp.Max(x, y, z))
    [x - y, x - z, y - z]
    >>> kink_set(sp.Piecewise((1, x**2 < 1), (0, True)))
    [x**2 - 1]
    >>> kink_set(sp.exp(x))
    []
    """
    found: set[sp.Expr] = set()
    for node in sp.preorder_traversal(expr):
        if isinstance(node, (sp.Max, sp.Min)):
            args = list(node.args)
            for i in range(len(args)):
                for j in range(i + 1, len(args)):
                    found.add(args[i] - args[j])
        elif isinstance(node, (sp.Abs, sp.sign, sp.Heaviside, sp.DiracDelta)):
            found.add(node.args[0])
        elif isinstance(node, sp.Piecewise):
            for _, cond in node.args:
                if isinstance(cond, sp.Basic) and not isinstance(cond, BooleanAtom):
                    for rel in cond.atoms(Relational):
                        found.add(_relational_zero(rel))
    result = set()
    for k in found:
        k = _canonical_sign(k)
        if k.free_symbols:  # a constant is never zero on a set of positive measure... or always
            result.add(k)
    return sorted(result, key=sp.default_sort_key)


class _Unsupported(Exception):
    """A construct the kink normaliser does not know; the caller falls back to numerics."""


def _indicator_of_positive(u: sp.Expr) -> sp.Expr:
    """1 where ``u > 0`` and 0 where ``u < 0``, in canonical form (value at 0 arbitrary)."""
    # u = r +- Max(...) / Min(...): the sign is decided by comparing with each argument
    if isinstance(u, sp.Add):
        for term in u.args:
            coeff, core = term.as_coeff_Mul()
            if isinstance(core, (sp.Max, sp.Min)) and coeff in (1, -1):
                rest = u - term
                parts = [_indicator_of_positive(rest + coeff * a) for a in core.args]
                # r + Max > 0 or r - Min > 0: any part;  r - Max > 0 or r + Min > 0: all parts
                any_part = (coeff == 1) == isinstance(core, sp.Max)
                if any_part:
                    prod = sp.Integer(1)
                    for p in parts:
                        prod *= 1 - p
                    return 1 - prod
                prod = sp.Integer(1)
                for p in parts:
                    prod *= p
                return prod
    u = _normalise_kinks(u)
    if u.is_number:
        if u.is_positive:
            return sp.Integer(1)
        if u.is_negative or u.is_zero:
            return sp.Integer(0)
        raise _Unsupported(u)
    u = sp.expand(u)
    _, u = u.as_content_primitive()
    if u.could_extract_minus_sign():
        return 1 - sp.Heaviside(-u, 0)
    return sp.Heaviside(u, 0)


def _indicator(cond: Any) -> sp.Expr:
    if cond is sp.true or cond is True:
        return sp.Integer(1)
    if cond is sp.false or cond is False:
        return sp.Integer(0)
    if isinstance(cond, (sp.StrictGreaterThan, sp.GreaterThan)):
        return _indicator_of_positive(cond.lhs - cond.rhs)
    if isinstance(cond, (sp.StrictLessThan, sp.LessThan)):
        return _indicator_of_positive(cond.rhs - cond.lhs)
    if isinstance(cond, sp.Eq):  # holds only on a kink
        return sp.Integer(0)
    if isinstance(cond, sp.Ne):
        return sp.Integer(1)
    if isinstance(cond, sp.And):
        prod = sp.Integer(1)
        for c in cond.args:
            prod *= _indicator(c)
        return prod
    if isinstance(cond, sp.Or):
        prod = sp.Integer(1)
        for c in cond.args:
            prod *= 1 - _indicator(c)
        return 1 - prod
    if isinstance(cond, sp.Not):
        return 1 - _indicator(cond.args[0])
    raise _Unsupported(cond)


def _normalise_kinks(expr: sp.Expr) -> sp.Expr:
    """Rewrite kink functions with ``Heaviside(u, 0)`` of canonical arguments.

    The result equals `expr` everywhere except on the kink set, so two
    expressions whose normal forms agree are equal except at kinks.
    """
    if not expr.has(*_KINK_FUNCTIONS):
        return expr
    if isinstance(expr, sp.DiracDelta):
        return sp.Integer(0)
    if isinstance(expr, sp.Heaviside):
        return _indicator_of_positive(expr.args[0])
    if isinstance(expr, sp.sign):
        return 2 * _indicator_of_positive(expr.args[0]) - 1
    if isinstance(expr, sp.Abs):
        u = _normalise_kinks(expr.args[0])
        return u * (2 * _indicator_of_positive(expr.args[0]) - 1)
    if isinstance(expr, (sp.Max, sp.Min)):
        args = list(expr.args)
        acc = _normalise_kinks(args[0])
        current = args[0]
        for a in args[1:]:
            na = _normalise_kinks(a)
            diff = (current - a) if isinstance(expr, sp.Max) else (a - current)
            acc = na + (acc - na) * _indicator_of_positive(diff)
            current = type(expr)(current, a)
        return acc
    if isinstance(expr, sp.Piecewise):
        result: sp.Expr = sp.Integer(0)
        remaining = sp.Integer(1)
        for value, cond in expr.args:
            ind = _indicator(cond)
            result += remaining * ind * _normalise_kinks(value)
            remaining = remaining * (1 - ind)
            if cond is sp.true:
                break
        else:
            raise _Unsupported(expr)  # undefined outside its conditions
        return result
    if isinstance(expr, (sp.Derivative, sp.Subs)):
        if any(isinstance(a, _KINK_FUNCTIONS) for a in sp.preorder_traversal(expr)):
            raise _Unsupported(expr)
        return expr
    if not expr.args:
        return expr
    return expr.func(*[_normalise_kinks(a) for a in expr.args])


def _reduce_indicator_powers(expr: sp.Expr) -> sp.Expr:
    return expr.replace(
        lambda e: e.is_Pow
        and isinstance(e.base, sp.Heaviside)
        and e.exp.is_Integer
        and e.exp > 0,
        lambda e: e.base,
    )


# ------------------------------------------------------------------- proving zero


def _expansion_size(expr: sp.Expr) -> float:
    """A cheap upper estimate of the number of terms ``expand(expr)`` produces."""
    if expr.is_Add:
        return sum(_expansion_size(a) for a in expr.args)
    if expr.is_Mul:
        prod = 1.0
        for a in expr.args:
            prod *= _expansion_size(a)
        return prod
    if expr.is_Pow and expr.exp.is_Integer and expr.base.is_Add:
        from math import comb

        k = len(expr.base.args)
        n = abs(int(expr.exp))
        return float(comb(min(n, 10_000) + k - 1, k - 1)) if n < 10_000 else float("inf")
    return 1.0


def _expand_bounded(expr: sp.Expr) -> sp.Expr | None:
    # expand inside function arguments (exp of fractions of exps...) is what takes
    # seconds: measured 0.25 s at 156 operations, 3 s at 269; polynomials are cheap
    limit = _MAX_OPS_EXPAND if expr.atoms(sp.Function) else _MAX_OPS_EXPAND_POLYNOMIAL
    if sp.count_ops(expr) > limit or _expansion_size(expr) > _MAX_EXPANDED_TERMS:
        return None
    return sp.expand(expr)


def prove_zero(
    difference: sp.Expr, *, deadline: float | None = None, allow_simplify: bool = True
) -> tuple[str, str] | None:
    """Try to show that `difference` is zero; return ``(kind, method)`` or None.

    `kind` is ``"equal"`` (zero everywhere both sides are defined) or
    ``"equal_except_at_kinks"`` (zero once kink functions are rewritten in a
    canonical form that changes values only on the kink set).  `method` names
    the step that succeeded.  Large expressions skip the steps that could take
    long, and `deadline` (a ``time.perf_counter()`` value) stops the sequence.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> prove_zero(sp.diff((x + 1)**3, x) - 3 * x**2 - 6 * x - 3)
    ('equal', 'expand')
    >>> prove_zero(sp.Heaviside(x) - sp.Piecewise((1, x > 0), (0, True)))
    ('equal_except_at_kinks', 'expand after rewriting kinks')
    >>> prove_zero(x) is None
    True
    """

    def out_of_time() -> bool:
        return deadline is not None and time.perf_counter() > deadline

    if difference == 0:
        return ("equal", "identical")
    expanded = _expand_bounded(difference)
    if expanded is None:
        return None
    if expanded == 0:
        return ("equal", "expand")
    candidates: list[tuple[str, sp.Expr]] = [("equal", expanded)]
    if expanded.has(*_KINK_FUNCTIONS):
        try:
            normal = _normalise_kinks(expanded)
        except _Unsupported:
            normal = None
        if normal is not None:
            normal_expanded = _expand_bounded(normal)
            if normal_expanded is not None:
                normal_expanded = sp.expand(_reduce_indicator_powers(normal_expanded))
                if normal_expanded == 0:
                    return ("equal_except_at_kinks", "expand after rewriting kinks")
                candidates = [("equal_except_at_kinks", normal_expanded)]
    for kind, cand in candidates:
        if out_of_time():
            return None
        if cand.has(sp.Pow):
            powsimped = _expand_bounded(sp.powsimp(cand))
            if powsimped == 0:
                return (kind, "powsimp")
        if out_of_time():
            return None
        ops = sp.count_ops(cand)
        if ops <= _MAX_OPS_CANCEL and not cand.has(sp.Piecewise, sp.Heaviside) and (
            sp.cancel(cand) == 0
        ):
            return (kind, "cancel")
        # simplify is bounded by size only (no signals, no threads): measured under
        # 1 s up to 30 operations, except with I (trigsimp on exp(I*x) forms took
        # seconds) and kink functions, which are skipped
        if (
            allow_simplify
            and not out_of_time()
            and ops <= _MAX_OPS_SIMPLIFY
            and not cand.has(sp.I, sp.Heaviside, sp.Piecewise)
            and sp.simplify(cand) == 0
        ):
            return (kind, "simplify")
    return None


# --------------------------------------------------------------- placeholders


def placeholders(expr: sp.Basic) -> list[Any]:
    """The undefined functions (``f``, ``g``, ...) applied in `expr`, sorted by name.

    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> f, g = sp.Function("f", real=True), sp.Function("g", real=True)
    >>> [str(p) for p in placeholders(f(g(x)) + sp.sin(x))]
    ['f', 'g']
    """
    funcs = {a.func for a in expr.atoms(AppliedUndef)}
    return sorted(funcs, key=lambda fn: str(fn))


#: concrete functions substituted for placeholders, as (name, builder of body)
INSTANTIATIONS: tuple[tuple[str, Callable[[sp.Expr], sp.Expr]], ...] = (
    ("sin", sp.sin),
    ("exp", sp.exp),
    ("t**3 + t", lambda t: t**3 + t),
    ("log(1 + t**2)", lambda t: sp.log(1 + t**2)),
    ("tanh", sp.tanh),
    ("cos", sp.cos),
    ("t**2 + 1", lambda t: t**2 + 1),
    ("atan", sp.atan),
)


def instantiate(expr: sp.Expr, choice: dict[Any, int]) -> sp.Expr:
    """Replace each placeholder ``f`` by ``INSTANTIATIONS[choice[f]]`` and evaluate.

    Placeholders of several arguments get ``body(a1 + 2*a2 + 3*a3 ...)``.

    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> f = sp.Function("f", real=True)
    >>> instantiate(sp.diff(f(x**2), x), {f: 0})
    2*x*cos(x**2)
    """
    result = _derivatives_as_subs(expr)
    for fn, index in choice.items():
        _, body = INSTANTIATIONS[index % len(INSTANTIATIONS)]
        arity = max((len(a.args) for a in expr.atoms(AppliedUndef) if a.func == fn), default=1)
        ts = sp.symbols(f"_t0:{arity}", real=True)
        combined = sum((i + 1) * t for i, t in enumerate(ts))
        lam = sp.Lambda(ts, body(combined))
        result = result.replace(fn, lam)
    return result.doit()


def _derivatives_as_subs(expr: sp.Expr) -> sp.Expr:
    """``Derivative(f(g(x)), g(x))`` -> ``Subs(Derivative(f(d), d), d, g(x))``.

    Substituting a function for ``g`` in the first form gives a derivative with
    respect to an expression, which SymPy rejects.
    """

    def is_by_expression(e: Any) -> bool:
        return isinstance(e, sp.Derivative) and not all(v.is_Symbol for v in e.variables)

    def rewrite(e: sp.Derivative) -> sp.Expr:
        inner = e.expr
        pairs = []
        for var, count in e.variable_count:
            if var.is_Symbol:
                pairs.append((var, count))
                continue
            d = sp.Dummy("d", real=True)
            inner = inner.xreplace({var: d})
            pairs.append((d, count))
            return sp.Subs(sp.Derivative(inner, *pairs), d, var)
        return e

    return expr.replace(is_by_expression, rewrite)


# ------------------------------------------------------------------ evaluation


def _prepare(expr: sp.Expr) -> sp.Expr:
    # DiracDelta is zero away from its kink (points at the kink are never sampled),
    # and the printers cannot print it.
    expr = sp.sympify(expr)
    if expr.has(sp.DiracDelta):
        expr = expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.Integer(0))
    if expr.has(sp.Derivative, sp.Subs):
        expr = expr.doit()
    if expr.atoms(AppliedUndef):
        raise ValueError(f"cannot evaluate an expression with placeholders: {expr}")
    return expr


def _cse_safe(exprs: Sequence[sp.Expr]) -> bool:
    # SymPy 1.14's cse pulls relations out of Piecewise conditions and rebuilds
    # e.g. Heaviside(Piecewise((pi, x > 0), (pi*x, True))) as the constant 1.
    return not any(e.has(sp.Piecewise) for e in exprs)


def mp_function(
    exprs: Sequence[sp.Expr], symbols: Sequence[sp.Symbol]
) -> Callable[..., tuple[Any, ...]]:
    """A function of mpmath numbers returning the values of `exprs` (a tuple).

    Evaluate inside ``mpmath.workdps(...)``; the values are whatever mpmath
    returns (``mpf``, ``mpc`` off the real domain, or plain ints for constants).

    >>> import sympy as sp, mpmath
    >>> x = sp.Symbol("x", real=True)
    >>> fn = mp_function([sp.log(x), sp.Heaviside(x)], [x])
    >>> with mpmath.workdps(30):
    ...     print(fn(mpmath.mpf(2))[0])
    0.693147180559945309417232121458
    """
    prepared = [_prepare(e) for e in exprs]
    fn = sp.lambdify(list(symbols), prepared, modules="mpmath", cse=_cse_safe(prepared))

    def call(*args: Any) -> tuple[Any, ...]:
        return tuple(fn(*args))

    return call


def float_function(expr: Any, symbols: Sequence[sp.Symbol]) -> Callable[..., Any]:
    """A float64 function of the symbols' values (``math`` module, common subexpressions shared).

    `expr` may be a list of expressions; the function then returns a list.
    Functions that :mod:`math` lacks (``besselj``, ``polygamma``, ...) make it
    fall back to mpmath at 53 bits, converted to float.

    Raises whatever ``math`` raises off the domain (``ValueError``,
    ``ZeroDivisionError``, ``OverflowError``), and ``NotImplementedError`` when
    neither printer knows a function.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> print(float_function(sp.Max(x, y) * sp.exp(x), [x, y])(0.0, 2.0))
    2.0
    >>> print(round(float_function(sp.besselj(0, x), [x])(1.0), 12))
    0.765197686558
    """
    is_list = isinstance(expr, (list, tuple))
    prepared = [_prepare(e) for e in expr] if is_list else _prepare(expr)
    safe = _cse_safe(prepared if isinstance(prepared, list) else [prepared])
    try:
        fast = sp.lambdify(list(symbols), prepared, modules="math", cse=safe)
    except NotImplementedError:
        fast = None
    slow: list[Callable[..., Any]] = []

    def via_mpmath(*args: Any) -> Any:
        if not slow:
            slow.append(sp.lambdify(list(symbols), prepared, modules="mpmath", cse=safe))
        with mpmath.workprec(53):
            out = slow[0](*args)
            if is_list:
                return [_as_float(v) for v in out]
            return _as_float(out)

    if fast is None:
        return via_mpmath
    state = {"fast": True}

    def call(*args: Any) -> Any:
        if state["fast"]:
            try:
                return fast(*args)
            except NameError:  # a function that the math module does not have
                state["fast"] = False
        return via_mpmath(*args)

    return call


def _as_float(value: Any) -> Any:
    v = mpmath.mpmathify(value)
    if isinstance(v, mpmath.mpc):
        return complex(v) if v.imag else float(v.real)
    return float(v)


def to_real(value: Any) -> Any:
    """`value` as an ``mpf``, or None when it is not real and finite."""
    try:
        v = mpmath.mpmathify(value)
    except (TypeError, ValueError):
        return None
    if isinstance(v, mpmath.mpc):
        tiny = mpmath.mpf(10) ** (-(mpmath.mp.dps - 5))
        if v.imag != 0 and abs(v.imag) > tiny * max(1, abs(v.real)):
            return None
        v = v.real
    if not mpmath.isfinite(v):
        return None
    return v


# -------------------------------------------------------------------- equality


@dataclass
class Equality:
    """The outcome of :func:`decide_equal`.

    Attributes
    ----------
    kind : str
        ``"equal"``, ``"equal_except_at_kinks"``, ``"different"`` or ``"undecided"``.
    proven : bool
        True when a symbolic step showed it; False when only sampled points agree.
    method : str
        The step that decided (``"expand"``, ``"simplify"``, ``"30-digit sampling"``, ...).
    points : list of dict
        The sampled points (name -> float) where both sides were compared.
    values : list of tuple
        ``(a, b)`` at each point, as mpmath numbers.
    witness : dict or None
        A point where the sides differ (for ``"different"``).
    witness_values : tuple or None
        ``(a, b)`` at the witness, as mpmath numbers at 60 digits.
    reason : str
        For ``"undecided"``: why no decision was possible.
    kinks : list
        The kink set of both sides.
    extra_values : list of tuple
        The values of the `also` expressions at each point.
    witness_index : int or None
        The index of the witness in `points`.
    differing : int
        How many of `points` the sides differ at (at 30 digits).
    tried : int
        Candidate points drawn.
    near_kink : list of bool
        Per point: a switch point too close to a kink for central differences.
    """

    kind: str
    proven: bool = False
    method: str = ""
    points: list[dict[str, float]] = field(default_factory=list)
    values: list[tuple[Any, Any]] = field(default_factory=list)
    witness: dict[str, float] | None = None
    witness_values: tuple[Any, Any] | None = None
    reason: str = ""
    kinks: list[sp.Expr] = field(default_factory=list)
    extra_values: list[tuple[Any, ...]] = field(default_factory=list)
    differing: int = 0
    witness_index: int | None = None
    tried: int = 0
    near_kink: list[bool] = field(default_factory=list)


def _has_float(exprs: Iterable[sp.Expr]) -> bool:
    return any(e.has(sp.Float) for e in exprs)


def values_differ(a: Any, b: Any, *, inexact: bool) -> bool:
    """Do two high-precision values differ beyond rounding?

    Exact inputs use 1e-20 relative (30-digit evaluation); inputs that carry
    binary floats use 1e-13 relative (SymPy's own float arithmetic rounds at
    about 1e-16), still tight enough to refute a 1e-9 near miss.
    """
    tol = mpmath.mpf("1e-13") if inexact else mpmath.mpf("1e-20")
    return bool(abs(a - b) > tol * max(1, abs(a), abs(b)))


def decide_equal(
    a: sp.Expr,
    b: sp.Expr,
    symbols: Sequence[sp.Symbol],
    *,
    seed: int = 0,
    domain: Mapping[Any, Any] | None = None,
    budget: float = 3.0,
    also: Sequence[sp.Expr] = (),
    n_points: int = 24,
    n_points_proven: int = 6,
) -> Equality:
    """Decide whether `a` and `b` are equal as real functions of `symbols`.

    Parameters
    ----------
    a, b : sympy.Expr
        Expressions without placeholders (instantiate rules first).
    symbols : sequence of sympy.Symbol
        Every free symbol of both sides, in a fixed order.
    seed : int
        Seed for the sample points.
    domain : dict, optional
        ``{name: (lo, hi)}`` boxes overriding the default mix of scales.
    budget : float
        Seconds after which slow symbolic steps are skipped.
    also : sequence of sympy.Expr
        Further expressions that must be real and finite (and clear of
        kinks) at every sampled point, e.g. the function being differentiated.
    n_points, n_points_proven : int
        Points to compare when no proof was found / after a proof.

    Returns
    -------
    Equality

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> decide_equal(sp.sin(2 * x), 2 * sp.sin(x) * sp.cos(x), [x]).kind
    'equal'
    >>> outcome = decide_equal(2 * x, 2 * x + sp.Float("1e-9"), [x])
    >>> outcome.kind, sorted(outcome.witness)
    ('different', ['x'])
    >>> decide_equal(sp.log(x), 2 * sp.log(x), [x], domain={"x": (-2, -1)}).kind
    'undecided'
    """
    from derivcheck.claims import sampling

    start = time.perf_counter()
    deadline = start + budget
    symbols = list(symbols)
    own = {k for e in also for k in kink_set(e)} if also else set(kink_set(a) + kink_set(b))
    switches = sorted((set(kink_set(a)) | set(kink_set(b))) - own, key=sp.default_sort_key)
    hard = sorted(own, key=sp.default_sort_key)
    kinks = sorted(own | set(switches), key=sp.default_sort_key)
    proof = prove_zero(a - b, deadline=deadline, allow_simplify=False)
    exprs = [a, b, *also]
    n = n_points_proven if proof else n_points
    # the function's kinks are kept clear of (central differences must not straddle
    # them); switches only the two sides have are merely missed exactly
    draw = sampling.draw(
        exprs, symbols, n=n, seed=seed, domain=domain, kinks=hard, deadline=deadline,
        switch_points=True, soft_kinks=switches,
    )
    outcome = Equality(kind="undecided", kinks=kinks, tried=draw.tried, reason=draw.reason)
    outcome.points = draw.points
    outcome.values = [(v[0], v[1]) for v in draw.values]
    outcome.extra_values = [tuple(v[2:]) for v in draw.values]
    outcome.near_kink = list(draw.near_kink)
    if not draw.points:
        if proof:
            outcome.kind, outcome.method = proof
            outcome.proven = True
        return outcome
    # the sampled values are compared even after a proof: a point where they differ
    # (at 30 and at 60 digits) outranks a proof, which could only come from a bug
    inexact = _has_float([a, b])
    differing = [
        i for i, (va, vb) in enumerate(outcome.values) if values_differ(va, vb, inexact=inexact)
    ]
    # of the points where the claim fails, show the easiest to read: coordinates
    # closest to magnitude 1 (x = 1.3 rather than x = 32.2 or x = -0.0395)
    differing.sort(key=lambda i: _readability(draw.points[i]))
    outcome.differing = len(differing)
    for i in differing:
        confirmed = _confirm_difference(a, b, symbols, draw.points[i], inexact=inexact)
        if confirmed is not None:
            outcome.kind = "different"
            outcome.method = f"{DPS}-digit evaluation"
            outcome.witness = draw.points[i]
            outcome.witness_values = confirmed
            outcome.witness_index = i
            return outcome
    if proof:
        outcome.kind, outcome.method = proof
        outcome.proven = True
        return outcome
    outcome.kind = "equal"
    outcome.method = f"{DPS}-digit evaluation"
    if time.perf_counter() < deadline:
        late = prove_zero(a - b, deadline=deadline, allow_simplify=True)
        if late:
            outcome.kind, outcome.method = late
            outcome.proven = True
    return outcome


def _readability(point: dict[str, float]) -> float:
    """How far the point's coordinates are from magnitude 1 (smaller reads better)."""
    return max((abs(math.log10(abs(v))) for v in point.values() if v), default=0.0)


def _confirm_difference(
    a: sp.Expr, b: sp.Expr, symbols: Sequence[sp.Symbol], point: dict[str, float], *, inexact: bool
) -> tuple[Any, Any] | None:
    """Re-evaluate at 60 digits; return both values if they still differ."""
    fn = mp_function([a, b], symbols)
    with mpmath.workdps(DPS_CONFIRM):
        try:
            va, vb = (to_real(v) for v in fn(*[mpmath.mpf(point[str(s)]) for s in symbols]))
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            return None
        if va is None or vb is None:
            return None
        if values_differ(va, vb, inexact=inexact):
            return (va, vb)
    return None
