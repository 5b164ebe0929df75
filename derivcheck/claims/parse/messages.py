"""The parser's message templates and input limits.

Raised while parsing, before any report exists, as
:class:`~derivcheck.errors.InputError` subclasses whose caret points into the
user's text.  ``{what}`` is the argument's label ("expression", "`claimed`", ...).
"""

MSG_TYPE = "{what} must be a string or a SymPy expression, not {type}"
MSG_EMPTY = "{what} is empty"
MSG_TOO_LONG = "{what} is {length} characters long; the limit is {limit}"
MSG_SYNTAX = "{what}: invalid syntax ({reason})"
MSG_SYNTAX_PLAIN = "{what}: invalid syntax"
MSG_ENDS_EARLY = "the text ends too early"
MSG_MISSING_OPERATOR = "two terms side by side need an operator between them (write x*y)"
MSG_CHARACTER = "{what}: unexpected character {char!r} ({name})"
MSG_COMMENT = "{what}: '#' starts a comment; comments are not part of an expression"
MSG_EQUALS = (
    "{what}: '=' is not allowed in an expression; "
    "it separates the two sides of a claim, as in d/dx x^2 = 2*x"
)
MSG_UNDERSCORE = "{what}: names starting with '_' are not allowed ({name!r}); nothing was run"
MSG_DIGIT_SEPARATOR = "{what}: '_' inside a number is not supported; write the digits alone"
MSG_UNSAFE = "{what}: {construct} is not allowed in an expression; nothing was run"
MSG_PRIME = "{what}: a prime (') must be followed by an argument list, as in f'(x)"
MSG_SUPERSCRIPT = "{what}: superscript {text!r} is not an integer exponent (write x^(...))"
MSG_NESTING = "{what} is nested more than {limit} levels deep"
MSG_TREE_DEPTH = (
    "{what} builds a SymPy expression nested more than {limit} levels deep, "
    "too deep for SymPy to handle reliably"
)
MSG_TOO_COMPLEX = "{what} is too deeply nested, or too long a chain, for Python or SymPy"
MSG_INT_DIGITS = "{what}: an integer literal has {digits} digits; the limit is {limit}"
MSG_FLOAT_RANGE = "{what}: the number {literal} is outside the float64 range"
MSG_EXPONENT = "{what}: the exponent {exponent} is too large (|exponent| > {limit})"
MSG_NUMBER_SIZE = "{what}: numbers grow too large (more than about {digits} digits)"
MSG_ARITY = "{what}: {name}() takes {expected}, got {got}"
MSG_FUNCTION_AS_SYMBOL = "{what}: '{name}' is a function, not a variable; call it, as in {name}(x)"
MSG_CALL_CONSTANT = "{what}: '{name}' is a constant and cannot be called"
MSG_CALL_BUILTIN = "{what}: '{name}' is a Python builtin, not a supported function; nothing was run"
MSG_SYMPY_FUNCTION = (
    "{what}: {name}() is a SymPy function that derivcheck does not support; "
    "rewrite it with the supported functions, or use another name for an unknown function"
)
MSG_NO_ARGUMENTS = "{what}: {name}() needs at least one argument"
MSG_NAME_CLASH = "{what}: '{name}' is used both as a function and as a variable"
MSG_CONDITION_AS_VALUE = (
    "{what}: the condition {condition} is not a number; write 1({condition}) for its indicator"
)
MSG_BITWISE = (
    "{what}: & and | combine conditions, and bind tighter than comparisons; "
    "put each comparison in parentheses, as in 1((x > 0) & (y > 0))"
)
MSG_VALUE_AS_CONDITION = (
    "{what}: {value} is not a condition; expected a comparison such as x > 0, or True"
)
MSG_PIECEWISE_ARGUMENT = (
    "{what}: Piecewise takes (value, condition) pairs, as in Piecewise((x, x > 0), (0, True))"
)
MSG_SYMPY_REJECTED = "{what}: SymPy cannot build this: {reason}"
MSG_NOT_IDENTIFIER = "{what} must be a variable name such as x or w1, not {name!r}"
MSG_RESERVED_NAME = "{what} must be a variable name; {name!r} is {kind}"
MSG_CLAIM_TYPE = "a claim must be a string, not {type}"
MSG_CLAIM_NO_EQUALS = (
    "a claim needs '=' between the expression and its claimed derivative, as in d/dx x^2 = 2*x"
)
MSG_CLAIM_DOUBLE_EQUALS = "a claim uses a single '=', not '==', as in d/dx x^2 = 2*x"
MSG_CLAIM_UNCLOSED = "a claim's '=' must be outside brackets; this bracket is never closed"
MSG_CLAIM_NO_PREFIX = (
    "a claim starts with d/dx (or ∂/∂x) naming the variable, as in d/dx x^2 = 2*x "
    "or d(x^2)/dx = 2*x"
)
MSG_CLAIM_BAD_VARIABLE = "d/d must be followed by a variable name, as in d/dx or d/dw1"
MSG_CLAIM_EMPTY_SIDE = "the {side} of the claim is empty"

MAX_TEXT_LENGTH = 10_000
"""Longest text accepted, in characters."""
MAX_NESTING = 100
"""Deepest bracket nesting accepted."""
MAX_INT_DIGITS = 1000
"""Most digits in one number literal."""
MAX_EXPONENT = 1000
"""Largest ``|n|`` accepted in ``a**n`` when ``n`` is a number."""
# operators and calls nested inside each other (-(-(-x)), x**x**x, 1+2*(1+2*(...))):
# bounds the converter's recursion and SymPy's constructors, whose cost grows with
# the square of the depth (about 1 s at this limit for the worst patterns)
MAX_OPERATOR_DEPTH = 100
# SymPy's printer, sort keys, diff and lambdify recurse about 5 frames per level
# and hit Python's recursion limit near depth 200-300: refuse deeper results.
MAX_TREE_DEPTH = 150
# Bits that evaluating numeric powers may create in one parse (about 30,000
# digits): bounds the work SymPy does on ``(10**999)**999`` and friends.
MAX_NUMBER_BITS = 100_000
