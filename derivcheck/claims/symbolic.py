"""The SymPy side: derivatives, kink sets, proofs of zero, high-precision evaluation.

Everything here works on SymPy expressions whose symbols are real.
:func:`prove_zero` tries ``expand(a - b) == 0`` first, then the same after
rewriting kink functions (``Max``, ``Abs``, ``Heaviside``, ``Piecewise``, ...)
into one canonical form that differs from the original only on the kink set,
then cheap normalisers and a bounded ``simplify``.  Deciding equality from
sampled points is :mod:`derivcheck.claims.decide`'s job (DESIGN.md, "Deciding
equality").

>>> import sympy as sp
>>> x, y = sp.symbols("x y", real=True)
>>> derivative(sp.Max(x, y), x)
Heaviside(x - y)
>>> kink_set(sp.Max(x, y) + sp.Abs(x))
[x, x - y]
>>> prove_zero(derivative(sp.Max(x, y), x) - sp.Piecewise((1, x > y), (0, True)))[0]
'equal_except_at_kinks'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.core.relational import Relational
from sympy.logic.boolalg import BooleanAtom

__all__ = [
    "derivative",
    "float_function",
    "instantiate",
    "kink_set",
    "mp_function",
    "placeholders",
    "prove_zero",
    "term_scale",
    "to_real",
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
    u = normalise_kinks(u)
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


def normalise_kinks(expr: sp.Expr) -> sp.Expr:
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
        u = normalise_kinks(expr.args[0])
        return u * (2 * _indicator_of_positive(expr.args[0]) - 1)
    if isinstance(expr, (sp.Max, sp.Min)):
        args = list(expr.args)
        acc = normalise_kinks(args[0])
        current = args[0]
        for a in args[1:]:
            na = normalise_kinks(a)
            diff = (current - a) if isinstance(expr, sp.Max) else (a - current)
            acc = na + (acc - na) * _indicator_of_positive(diff)
            current = type(expr)(current, a)
        return acc
    if isinstance(expr, sp.Piecewise):
        result: sp.Expr = sp.Integer(0)
        remaining = sp.Integer(1)
        for value, cond in expr.args:
            ind = _indicator(cond)
            result += remaining * ind * normalise_kinks(value)
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
    return expr.func(*[normalise_kinks(a) for a in expr.args])


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
    """A cheap upper estimate of the number of terms ``expand(expr)`` produces.

    ``expand`` also works inside function arguments, so a huge expansion there
    (``log(1 + (1 + exp(c))**1000000)``, which SymPy itself makes out of
    ``exp(10**6 * log(1 + exp(c)))``) makes the whole estimate infinite.
    """
    if expr.is_Add:
        return sum(_expansion_size(a) for a in expr.args)
    if expr.is_Mul:
        prod = 1.0
        for a in expr.args:
            prod *= _expansion_size(a)
        return prod
    if expr.is_Pow and expr.exp.is_Integer:
        from math import comb

        k = _expansion_size(expr.base)
        n = abs(int(expr.exp))
        if k <= 1.0:
            return 1.0
        if n >= 10_000 or k > 1_000:
            return float("inf")
        return float(comb(n + int(k) - 1, int(k) - 1))
    inner = max((_expansion_size(a) for a in expr.args), default=1.0)
    return 1.0 if inner <= _MAX_EXPANDED_TERMS else float("inf")


def expand_bounded(expr: sp.Expr) -> sp.Expr | None:
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
    expanded = expand_bounded(difference)
    if expanded is None:
        return None
    if expanded == 0:
        return ("equal", "expand")
    candidates: list[tuple[str, sp.Expr]] = [("equal", expanded)]
    if expanded.has(*_KINK_FUNCTIONS):
        try:
            normal = normalise_kinks(expanded)
        except _Unsupported:
            normal = None
        if normal is not None:
            normal_expanded = expand_bounded(normal)
            if normal_expanded is not None:
                normal_expanded = sp.expand(_reduce_indicator_powers(normal_expanded))
                if normal_expanded == 0:
                    return ("equal_except_at_kinks", "expand after rewriting kinks")
                candidates = [("equal_except_at_kinks", normal_expanded)]
    for kind, cand in candidates:
        if out_of_time():
            return None
        if cand.has(sp.Pow):
            powsimped = expand_bounded(sp.powsimp(cand))
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


def term_scale(expr: sp.Expr) -> sp.Expr:
    """The size of the terms `expr` adds up: its arithmetic with every term made
    non-negative (function calls are kept whole).

    Where ``|expr|`` is far below ``term_scale(expr)`` its terms cancel, and an
    evaluation to ``d`` digits carries only the digits above ``10**-d`` times the
    scale: ``1 - tanh(x)**2`` at x = 60 evaluates to 0 at 30 and at 60 digits
    alike, which shows nothing about a claim there.

    >>> x = sp.Symbol("x", real=True)
    >>> term_scale(1 - sp.tanh(x) ** 2)
    tanh(x)**2 + 1
    >>> term_scale(2 * x - 3)
    2*Abs(x) + 3
    """
    if expr.is_Add:
        return sp.Add(*[term_scale(t) for t in expr.args])
    if expr.is_Mul:
        return sp.Mul(*[term_scale(f) for f in expr.args])
    if expr.is_Pow and expr.exp.is_Integer and expr.exp > 0:
        return term_scale(expr.base) ** expr.exp
    if expr.is_Number:
        return abs(expr)
    return sp.Abs(expr)


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
