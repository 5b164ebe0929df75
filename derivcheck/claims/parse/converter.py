"""The converter: a whitelist walk of the syntax tree that builds SymPy objects itself.

Only the node types below are accepted; anything else raises
:class:`~derivcheck.errors.UnsafeInputError` naming the construct.  Nothing in
the tree is ever evaluated by Python.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable
from typing import Any, NoReturn

import sympy

from derivcheck.claims.parse.messages import (
    MAX_EXPONENT,
    MAX_NUMBER_BITS,
    MAX_OPERATOR_DEPTH,
    MSG_ARITY,
    MSG_BITWISE,
    MSG_CALL_BUILTIN,
    MSG_CALL_CONSTANT,
    MSG_CONDITION_AS_VALUE,
    MSG_EXPONENT,
    MSG_FUNCTION_AS_SYMBOL,
    MSG_NAME_CLASH,
    MSG_NESTING,
    MSG_NO_ARGUMENTS,
    MSG_NUMBER_SIZE,
    MSG_PIECEWISE_ARGUMENT,
    MSG_SYMPY_FUNCTION,
    MSG_SYMPY_REJECTED,
    MSG_UNDERSCORE,
    MSG_UNSAFE,
    MSG_VALUE_AS_CONDITION,
)
from derivcheck.claims.parse.scanner import INDICATOR, NUMBER, PRIME_NAME
from derivcheck.claims.parse.vocabulary import ARITY, KNOWN_CONSTANTS, KNOWN_FUNCTIONS
from derivcheck.errors import InputError, ParseError, UnsafeInputError

# Node types named in "not allowed" messages.
CONSTRUCT_NAMES: dict[type, str] = {
    ast.Attribute: "attribute access (.name)",
    ast.Subscript: "subscript [...]",
    ast.Slice: "slice",
    ast.Lambda: "lambda",
    ast.ListComp: "list comprehension",
    ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension",
    ast.GeneratorExp: "generator expression",
    ast.List: "list [...]",
    ast.Set: "set {...}",
    ast.Dict: "dict {...}",
    ast.Tuple: "a tuple (tuples are only Piecewise arguments)",
    ast.JoinedStr: "f-string",
    ast.FormattedValue: "f-string",
    ast.NamedExpr: "assignment expression (:=)",
    ast.Starred: "starred argument (*)",
    ast.IfExp: "conditional expression (if/else)",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}
OPERATOR_NAMES: dict[type, str] = {
    ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<",
    ast.RShift: ">>", ast.BitXor: "xor", ast.BitAnd: "&", ast.BitOr: "|",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
    ast.Invert: "~", ast.Not: "not",
}  # fmt: skip


def is_sympy_function(name: str) -> bool:
    """Is `name` (longer than one letter) a SymPy function or class, like cot or Derivative?"""
    if len(name) == 1:  # f, g, N, O: placeholder names people use
        return False
    obj = getattr(sympy, name, None)
    if isinstance(obj, type):
        return issubclass(obj, sympy.Basic)
    return callable(obj)



def is_condition(node: ast.AST) -> bool:
    """Does this node read as a condition (comparison, and/or/not, True/False)?"""
    if isinstance(node, (ast.Compare, ast.BoolOp)):
        return True
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, (ast.Not, ast.Invert))
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, (ast.BitAnd, ast.BitOr))
    return isinstance(node, ast.Constant) and isinstance(node.value, bool)


def decimal(digits: str, exponent: int) -> sympy.Rational:
    """The exact value of a decimal literal: digits * 10**exponent."""
    if exponent >= 0:
        return sympy.Rational(int(digits) * 10**exponent)
    return sympy.Rational(int(digits), 10**-exponent)



class Converter:
    """The converting half of the parser: a mixin of
    :class:`~derivcheck.claims.parse.expression.Parser`, which provides `fail_at` and `source`."""

    names: dict[str, str]
    number_bits: int

    def fail_at(self, cls: type[InputError], template: str, node: ast.AST, **kw: Any) -> NoReturn:
        raise NotImplementedError

    def source(self, node: ast.AST) -> str:
        raise NotImplementedError

    def value(self, node: ast.AST, depth: int) -> sympy.Expr:
        """Convert a node that must be a number-valued expression."""
        if depth > MAX_OPERATOR_DEPTH:
            self.fail_at(InputError, MSG_NESTING, node, limit=MAX_OPERATOR_DEPTH)
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp):
            return self.binop(node, depth)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -self.value(node.operand, depth + 1)
            if isinstance(node.op, ast.UAdd):
                return self.value(node.operand, depth + 1)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        if is_condition(node):
            condition = self.source(node)
            self.fail_at(UnsafeInputError, MSG_CONDITION_AS_VALUE, node, condition=condition)
        self.unsupported(node)

    def unsupported(self, node: ast.AST) -> NoReturn:
        construct = CONSTRUCT_NAMES.get(type(node))
        if construct is None:
            operator = getattr(node, "op", None)
            if operator is not None and type(operator) in OPERATOR_NAMES:
                construct = f"the operator {OPERATOR_NAMES[type(operator)]}"
            else:
                construct = type(node).__name__
        self.fail_at(UnsafeInputError, MSG_UNSAFE, node, construct=construct)

    def constant(self, node: ast.Constant) -> sympy.Expr:
        value = node.value
        if isinstance(value, bool):
            self.fail_at(UnsafeInputError, MSG_CONDITION_AS_VALUE, node, condition=repr(value))
        if isinstance(value, int):
            return sympy.Integer(value)
        if isinstance(value, float):
            match = NUMBER.fullmatch(self.source(node))
            if match is None:  # pragma: no cover - the scanner wrote the literal
                self.unsupported(node)
            whole = (match.group(1) or "") + (match.group(3) or "")
            fraction = (match.group(2) or "") + (match.group(4) or "")
            exponent = int(match.group(5) or 0) - len(fraction)
            return decimal(whole + fraction, exponent)
        kinds = {str: "a string literal", bytes: "a bytes literal", type(None): "None",
                 type(...): "Ellipsis (...)", complex: "a complex literal"}  # fmt: skip
        self.fail_at(
            UnsafeInputError,
            MSG_UNSAFE,
            node,
            construct=kinds.get(type(value), type(value).__name__),
        )

    def use(self, name: str, kind: str, node: ast.AST) -> None:
        previous = self.names.setdefault(name, kind)
        if previous != kind:
            self.fail_at(ParseError, MSG_NAME_CLASH, node, name=name)

    def name(self, node: ast.Name) -> sympy.Expr:
        name = node.id
        if name.startswith("_"):  # internal names are only written before '('
            self.fail_at(UnsafeInputError, MSG_UNDERSCORE, node, name=name)
        if name in KNOWN_CONSTANTS:
            return KNOWN_CONSTANTS[name]
        if name in KNOWN_FUNCTIONS:
            self.fail_at(ParseError, MSG_FUNCTION_AS_SYMBOL, node, name=name)
        self.use(name, "variable", node)
        return sympy.Symbol(name, real=True)

    def binop(self, node: ast.BinOp, depth: int) -> sympy.Expr:
        operator = type(node.op)
        if operator in (ast.Add, ast.Sub):
            terms = []
            for negate, operand in self.chain(node, (ast.Add, ast.Sub), ast.Sub):
                term = self.value(operand, depth + 1)
                terms.append(-term if negate else term)
            return self.build(sympy.Add, node, *terms)
        if operator in (ast.Mult, ast.Div):
            factors = []
            for divide, operand in self.chain(node, (ast.Mult, ast.Div), ast.Div):
                factor = self.value(operand, depth + 1)
                factors.append(self.power(factor, sympy.S.NegativeOne, node) if divide else factor)
            return self.build(sympy.Mul, node, *factors)
        if operator is ast.Pow:
            base = self.value(node.left, depth + 1)
            exponent = self.value(node.right, depth + 1)
            return self.power(base, exponent, node)
        if is_condition(node):
            self.fail_at(UnsafeInputError, MSG_BITWISE, node, condition=self.source(node))
        self.unsupported(node)

    @staticmethod
    def chain(
        node: ast.BinOp, operators: tuple[type, ...], inverse: type
    ) -> list[tuple[bool, ast.AST]]:
        """Flatten a left-nested chain ``a - b + c`` into [(False, a), (True, b), (False, c)];
        iterative, so long sums do not recurse."""
        items: list[tuple[bool, ast.AST]] = []
        current: ast.AST = node
        while isinstance(current, ast.BinOp) and isinstance(current.op, operators):
            items.append((isinstance(current.op, inverse), current.right))
            current = current.left
        items.append((False, current))
        items.reverse()
        return items

    def power(self, base: sympy.Expr, exponent: sympy.Expr, node: ast.AST) -> sympy.Expr:
        if exponent.is_Rational:
            if abs(exponent) > MAX_EXPONENT:
                self.fail_at(InputError, MSG_EXPONENT, node, exponent=exponent, limit=MAX_EXPONENT)
            if base.is_Rational or not base.is_Atom:
                # SymPy evaluates powers of numbers (also inside products), making
                # them longer: budget the bits so (10**999)**999... cannot hang
                rationals = [base] if base.is_Rational else base.atoms(sympy.Rational)
                bits = sum(int(r.p).bit_length() + int(r.q).bit_length() for r in rationals)
                self.number_bits += int(bits * abs(exponent))
                if self.number_bits > MAX_NUMBER_BITS:
                    self.fail_at(
                        InputError, MSG_NUMBER_SIZE, node, digits=int(MAX_NUMBER_BITS * 0.30103)
                    )
        return self.build(sympy.Pow, node, base, exponent)

    def build(self, builder: Callable[..., Any], node: ast.AST, *args: Any) -> Any:
        """Call a SymPy constructor; its complaints become ParseErrors at `node`."""
        try:
            return builder(*args)
        except (TypeError, ValueError, ZeroDivisionError) as error:
            self.fail_at(ParseError, MSG_SYMPY_REJECTED, node, reason=error)

    def call(self, node: ast.Call, depth: int) -> sympy.Expr:
        if not isinstance(node.func, ast.Name):
            self.fail_at(
                UnsafeInputError,
                MSG_UNSAFE,
                node,
                construct="a call of something that is not a name",
            )
        for keyword_node in node.keywords:
            self.fail_at(
                UnsafeInputError,
                MSG_UNSAFE,
                keyword_node,
                construct="a keyword argument (name=...)",
            )
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                self.unsupported(argument)
        name = node.func.id
        args = node.args
        if name == INDICATOR:
            if len(args) != 1:
                self.fail_at(
                    ParseError, MSG_ARITY, node, name="1", expected="1 argument", got=len(args)
                )
            if is_condition(args[0]):
                condition = self.condition(args[0], depth + 1)
                return self.build(sympy.Piecewise, node, (1, condition), (0, True))
            return self.value(args[0], depth + 1)
        prime = PRIME_NAME.fullmatch(name)
        if prime is not None:
            return self.derivative_call(node, prime.group(2), int(prime.group(1)), depth)
        if name.startswith("_"):
            self.fail_at(UnsafeInputError, MSG_UNDERSCORE, node, name=name)
        if name in KNOWN_CONSTANTS:
            self.fail_at(ParseError, MSG_CALL_CONSTANT, node, name=name)
        if name in KNOWN_FUNCTIONS:
            self.check_arity(node, name)
            if name == "Piecewise":
                pairs = [self.piecewise_pair(arg, depth + 1) for arg in args]
                return self.build(sympy.Piecewise, node, *pairs)
            values = [self.value(arg, depth + 1) for arg in args]
            return self.build(KNOWN_FUNCTIONS[name], node, *values)
        function = self.placeholder(node, name)
        if not args:
            self.fail_at(ParseError, MSG_NO_ARGUMENTS, node, name=name)
        values = [self.value(arg, depth + 1) for arg in args]
        return self.build(function, node, *values)

    def placeholder(self, node: ast.Call, name: str) -> Any:
        if hasattr(builtins, name):
            self.fail_at(UnsafeInputError, MSG_CALL_BUILTIN, node, name=name)
        if is_sympy_function(name):
            # cot(x) as an arbitrary function would turn a true claim into a refuted rule
            self.fail_at(ParseError, MSG_SYMPY_FUNCTION, node, name=name)
        self.use(name, "function", node)
        return sympy.Function(name, real=True)

    def check_arity(self, node: ast.Call, name: str, got: int | None = None) -> None:
        fewest, most = ARITY[name]
        got = len(node.args) if got is None else got
        if got < fewest or (most is not None and got > most):
            if most == fewest:
                expected = f"{fewest} argument" + ("s" if fewest != 1 else "")
            elif most is None:
                expected = f"at least {fewest} argument" + ("s" if fewest != 1 else "")
            else:
                expected = f"{fewest} to {most} arguments"
            self.fail_at(ParseError, MSG_ARITY, node, name=name, expected=expected, got=got)

    def derivative_call(self, node: ast.Call, name: str, order: int, depth: int) -> sympy.Expr:
        """``f'(u)``: the derivative of f evaluated at u."""
        shown = name + "'" * order
        if name in KNOWN_CONSTANTS:
            self.fail_at(ParseError, MSG_CALL_CONSTANT, node, name=name)
        if len(node.args) != 1:
            self.fail_at(
                ParseError, MSG_ARITY, node, name=shown, expected="1 argument", got=len(node.args)
            )
        if name in KNOWN_FUNCTIONS:
            self.check_arity(node, name, got=1)
            if name == "Piecewise":
                self.fail_at(ParseError, MSG_PIECEWISE_ARGUMENT, node)
            function: Callable[..., Any] = KNOWN_FUNCTIONS[name]
        else:
            function = self.placeholder(node, name)
        point = self.value(node.args[0], depth + 1)
        dummy = sympy.Dummy("d", real=True)
        if name in KNOWN_FUNCTIONS:
            derivative = self.build(sympy.diff, node, function(dummy), dummy, order)
            return derivative.xreplace({dummy: point})
        # What Subs(Derivative(f(d), (d, n)), d, point).doit() gives, and what
        # sympy.diff(f(g(x)), x) builds, without doit's milliseconds: a derivative
        # with respect to the point where SymPy allows that (x, g(x)), else the Subs.
        if point._diff_wrt:
            return sympy.Derivative(function(point), (point, order))
        return sympy.Subs(sympy.Derivative(function(dummy), (dummy, order)), dummy, point)

    def piecewise_pair(self, node: ast.AST, depth: int) -> tuple[sympy.Expr, Any]:
        if not isinstance(node, ast.Tuple) or len(node.elts) != 2:
            self.fail_at(ParseError, MSG_PIECEWISE_ARGUMENT, node)
        value_node, condition_node = node.elts
        return self.value(value_node, depth + 1), self.condition(condition_node, depth + 1)

    def condition(self, node: ast.AST, depth: int) -> Any:
        """Convert a node that must be a condition (a SymPy Boolean)."""
        if depth > MAX_OPERATOR_DEPTH:
            self.fail_at(InputError, MSG_NESTING, node, limit=MAX_OPERATOR_DEPTH)
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return sympy.true if node.value else sympy.false
        if isinstance(node, ast.Compare):
            relations = {ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt,
                         ast.GtE: sympy.Ge, ast.Eq: sympy.Eq, ast.NotEq: sympy.Ne}  # fmt: skip
            left = self.value(node.left, depth + 1)
            parts = []
            for operator, right_node in zip(node.ops, node.comparators, strict=True):
                relation = relations.get(type(operator))
                if relation is None:
                    self.fail_at(
                        UnsafeInputError,
                        MSG_UNSAFE,
                        right_node,
                        construct=f"the operator {OPERATOR_NAMES[type(operator)]}",
                    )
                right = self.value(right_node, depth + 1)
                parts.append(self.build(relation, node, left, right))
                left = right
            return parts[0] if len(parts) == 1 else self.build(sympy.And, node, *parts)
        if isinstance(node, ast.BoolOp):
            combine = sympy.And if isinstance(node.op, ast.And) else sympy.Or
            values = [self.condition(v, depth + 1) for v in node.values]
            return self.build(combine, node, *values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
            combine = sympy.And if isinstance(node.op, ast.BitAnd) else sympy.Or
            left = self.condition(node.left, depth + 1)
            right = self.condition(node.right, depth + 1)
            return self.build(combine, node, left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert)):
            return self.build(sympy.Not, node, self.condition(node.operand, depth + 1))
        if isinstance(node, (ast.Constant, ast.Name, ast.BinOp, ast.UnaryOp, ast.Call)):
            self.fail_at(ParseError, MSG_VALUE_AS_CONDITION, node, value=self.source(node))
        self.unsupported(node)
