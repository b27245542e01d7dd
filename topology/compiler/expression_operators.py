"""Operator handlers of the expression compiler: arithmetic, ``||``, comparisons, AND/OR/NOT,
IN, BETWEEN, LIKE and IS.

Split from ``expression_compiler`` (driver, fields and literals) to keep each module small. The
closures stay hand-specialised (field vs constant vs general comparison, one closure per
arithmetic shape) because filters run them per record.
"""

from __future__ import annotations

import math
import operator

from sqlglot import exp

from topology.compiler import expression_runtime as rt
from topology.compiler.expression_compiler import (
    _COMPARISONS,
    _LOOSE,
    _NUM,
    MAX_IN_LIST,
    NUMERIC,
    Fn,
    _check_number,
    _CompilerCore,
    _fail,
    _numeric_result,
    _pos,
    _to_string,
)
from topology.compiler.expression_runtime import ExpressionRuntimeError


class _OperatorHandlers(_CompilerCore):
    # --- arithmetic -----------------------------------------------------------------------------

    def _neg(self, node: exp.Neg) -> tuple[Fn, str]:
        inner, type_ = self._child(node.this, node)
        self._expect(type_, NUMERIC, node.this, "minus needs a number")
        position = _pos(node)

        def negate(v, k, t, p, o):
            a = inner(v, k, t, p, o)
            if a is None:
                return None
            if a.__class__ not in _NUM:
                raise ExpressionRuntimeError(f"minus needs a number, got {rt.type_name(a)}", position)
            return _check_number(-a, position)

        return negate, type_ if type_ in NUMERIC else "number"

    def _arithmetic(self, node: exp.Binary) -> tuple[Fn, str]:
        left, left_type = self._child(node.this, node)
        right, right_type = self._child(node.expression, node)
        symbol = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.IntDiv: "DIV", exp.Mod: "%"}[
            type(node)
        ]
        self._expect(left_type, NUMERIC, node.this, f"'{symbol}' needs numbers")
        self._expect(right_type, NUMERIC, node.expression, f"'{symbol}' needs numbers")
        position = _pos(node)
        message = f"'{symbol}' needs numbers"

        # DIV with a double operand is the double division of '/' (ksqlDB's INT / DOUBLE)
        if isinstance(node, exp.Div) or (
            isinstance(node, exp.IntDiv) and "double" in (left_type, right_type)
        ):

            def divide(v, k, t, p, o):
                a = left(v, k, t, p, o)
                b = right(v, k, t, p, o)
                if a is None or b is None:
                    return None
                if a.__class__ not in _NUM or b.__class__ not in _NUM:
                    raise ExpressionRuntimeError(message, position)
                if b == 0:
                    return None
                return _check_number(a / b, position)

            return divide, "double"

        if isinstance(node, exp.IntDiv):
            return self._ksql_divide(left, left_type, right, right_type, position, message)

        if isinstance(node, exp.Mod):

            def modulo(v, k, t, p, o):
                a = left(v, k, t, p, o)
                b = right(v, k, t, p, o)
                if a is None or b is None:
                    return None
                if a.__class__ not in _NUM or b.__class__ not in _NUM:
                    raise ExpressionRuntimeError(message, position)
                if b == 0:
                    return None
                if a.__class__ is int and b.__class__ is int:
                    # SQL: the sign follows the dividend (Python's % follows the divisor)
                    r = abs(a) % abs(b)
                    return -r if a < 0 else r
                return math.fmod(a, b)

            return modulo, _numeric_result(left_type, right_type)

        op = {exp.Add: operator.add, exp.Sub: operator.sub, exp.Mul: operator.mul}[type(node)]
        name = self._top_level_fields.get(left)
        constant = self._constants.get(right)
        if name is not None and right in self._constants and constant.__class__ in _NUM:
            # `field <op> number` (a map's `amount * 2`): one closure call per record, not three.
            def field_arithmetic(v, k, t, p, o):
                try:
                    a = v.get(name)
                except AttributeError:
                    return None
                if a is None:
                    return None
                if a.__class__ not in _NUM:
                    raise ExpressionRuntimeError(message, position)
                return _check_number(op(a, constant), position)

            return field_arithmetic, _numeric_result(left_type, right_type)

        def arithmetic(v, k, t, p, o):
            a = left(v, k, t, p, o)
            b = right(v, k, t, p, o)
            if a is None or b is None:
                return None
            if a.__class__ not in _NUM or b.__class__ not in _NUM:
                raise ExpressionRuntimeError(message, position)
            return _check_number(op(a, b), position)

        return arithmetic, _numeric_result(left_type, right_type)

    def _ksql_divide(
        self, left: Fn, left_type: str, right: Fn, right_type: str, position: int, message: str
    ) -> tuple[Fn, str]:
        """``a DIV b``, ksqlDB's ``/``: an integer by an integer is an integer, truncated toward
        zero (Java's ``long / long``); anything else is the double division of ``/``. By zero
        → NULL, as ``/``. Static types decide when they are known (``integer`` operands give an
        ``integer`` result); otherwise each record's values do (JSON ``7`` vs ``7.0``)."""
        # (a double operand never reaches here: _arithmetic gives it the division of '/')
        integers = True if left_type == "integer" and right_type == "integer" else None

        def ksql_divide(v, k, t, p, o):
            a = left(v, k, t, p, o)
            b = right(v, k, t, p, o)
            if a is None or b is None:
                return None
            if a.__class__ not in _NUM or b.__class__ not in _NUM:
                raise ExpressionRuntimeError(message, position)
            if b == 0:
                return None
            whole = integers if integers is not None else (a.__class__ is int and b.__class__ is int)
            if not whole:
                return _check_number(a / b, position)
            if a.__class__ is int and b.__class__ is int:
                quotient = abs(a) // abs(b)
                return _check_number(-quotient if (a < 0) != (b < 0) else quotient, position)
            return _check_number(math.trunc(a / b), position)  # a declared integer holding 7.0

        return ksql_divide, "number" if integers is None else "integer"

    def _dpipe(self, node: exp.DPipe) -> tuple[Fn, str]:
        left, _ = self._child(node.this, node)
        right, _ = self._child(node.expression, node)
        position = _pos(node)

        def pipe(v, k, t, p, o):
            a = left(v, k, t, p, o)
            if a is None:
                return None
            b = right(v, k, t, p, o)
            if b is None:
                return None
            if a.__class__ is not str:
                a = _to_string(a)
            if b.__class__ is not str:
                b = _to_string(b)
            rt.check_length(len(a) + len(b), position)
            return a + b

        return pipe, "string"

    def _power(self, node: exp.Pow) -> tuple[Fn, str]:
        base, base_type = self._child(node.this, node)
        exponent, exponent_type = self._child(node.expression, node)
        self._expect(base_type, NUMERIC, node.this, "POWER needs numbers")
        self._expect(exponent_type, NUMERIC, node.expression, "POWER needs numbers")
        position = _pos(node)

        def power(v, k, t, p, o):
            a = base(v, k, t, p, o)
            b = exponent(v, k, t, p, o)
            if a is None or b is None:
                return None
            if a.__class__ not in _NUM or b.__class__ not in _NUM:
                raise ExpressionRuntimeError("POWER needs numbers", position)
            if a.__class__ is int and b.__class__ is int and b >= 0:
                # Estimate the size before computing: 9 ** 387420489 must never be attempted.
                if abs(a) > 1 and b * math.log2(abs(a)) > 63:
                    raise ExpressionRuntimeError("POWER result outside the 64-bit range", position)
                return _check_number(a**b, position)
            try:
                result = math.pow(a, b)
            except OverflowError:
                raise ExpressionRuntimeError("POWER result too large", position) from None
            except ValueError:
                return None
            return _check_number(result, position)

        both_int = base_type == "integer" and exponent_type == "integer"
        return power, "number" if both_int else "double"

    # --- comparisons and logic --------------------------------------------------------------------

    def _comparable(self, left_type: str, right_type: str, node: exp.Expr) -> None:
        if left_type in _LOOSE or right_type in _LOOSE or left_type == right_type:
            return
        if left_type in NUMERIC and right_type in NUMERIC:
            return
        raise _fail(f"cannot compare {left_type} with {right_type}", node, "expression.type")

    def _comparison(self, node: exp.Binary) -> tuple[Fn, str]:
        left, left_type = self._child(node.this, node)
        right, right_type = self._child(node.expression, node)
        self._comparable(left_type, right_type, node)
        op = _COMPARISONS[type(node)]
        if right in self._constants:
            constant = self._constants[right]
            if constant is None:
                return self._constant(None), "null"
            name = self._top_level_fields.get(left)
            if name is not None:
                # `field <op> literal` is the most common filter: one closure call, not two.
                def compare_field(v, k, t, p, o):
                    try:
                        a = v.get(name)
                    except AttributeError:
                        return None
                    if a is None:
                        return None
                    try:
                        return op(a, constant)
                    except TypeError:
                        return None

                return compare_field, "boolean"

            def compare_constant(v, k, t, p, o):
                a = left(v, k, t, p, o)
                if a is None:
                    return None
                try:
                    return op(a, constant)
                except TypeError:
                    return None

            return compare_constant, "boolean"

        def compare(v, k, t, p, o):
            a = left(v, k, t, p, o)
            if a is None:
                return None
            b = right(v, k, t, p, o)
            if b is None:
                return None
            try:
                return op(a, b)
            except TypeError:
                return None

        return compare, "boolean"

    def _logic(self, node: exp.Connector) -> tuple[Fn, str]:
        # Flatten a AND b AND c (sqlglot nests them left-deep) into one loop.
        cls = type(node)
        operands: list[exp.Expr] = []
        stack = [node]
        while stack:
            current = stack.pop()
            if type(current) is cls:
                self._only_args(current)
                stack.append(current.expression)
                stack.append(current.this)
            else:
                operands.append(current)
        compiled = []
        for operand in operands:
            fn, type_ = self._child(operand, node)
            self._expect(
                type_, frozenset(("boolean",)), operand, f"{cls.__name__.upper()} needs boolean operands"
            )
            compiled.append(fn)
        parts = tuple(compiled)
        if cls is exp.And:

            def conjunction(v, k, t, p, o):
                unknown = False
                for part in parts:
                    value = part(v, k, t, p, o)
                    if value is None:
                        unknown = True
                    elif not value:
                        return False
                return None if unknown else True

            return conjunction, "boolean"

        def disjunction(v, k, t, p, o):
            unknown = False
            for part in parts:
                value = part(v, k, t, p, o)
                if value is None:
                    unknown = True
                elif value:
                    return True
            return None if unknown else False

        return disjunction, "boolean"

    def _not(self, node: exp.Not) -> tuple[Fn, str]:
        inner, type_ = self._child(node.this, node)
        self._expect(type_, frozenset(("boolean",)), node.this, "NOT needs a boolean operand")

        def negation(v, k, t, p, o):
            a = inner(v, k, t, p, o)
            return None if a is None else not a

        return negation, "boolean"

    def _in(self, node: exp.In) -> tuple[Fn, str]:
        subject, subject_type = self._child(node.this, node)
        items = node.expressions
        if not items:
            raise _fail("IN needs a list of values", node, "expression.unsupported")
        if len(items) > MAX_IN_LIST:
            raise _fail(f"IN list longer than {MAX_IN_LIST}", node, "expression.limit")
        compiled = []
        for item in items:
            fn, type_ = self._child(item, node)
            self._comparable(subject_type, type_, item)
            compiled.append(fn)
        if all(fn in self._constants for fn in compiled):
            values = [self._constants[fn] for fn in compiled]
            has_null = any(value is None for value in values)
            members = frozenset(value for value in values if value is not None)

            def in_constants(v, k, t, p, o):
                a = subject(v, k, t, p, o)
                if a is None:
                    return None
                try:
                    if a in members:
                        return True
                except TypeError:  # a dict or list is never a member
                    return None if has_null else False
                return None if has_null else False

            return in_constants, "boolean"
        parts = tuple(compiled)

        def in_values(v, k, t, p, o):
            a = subject(v, k, t, p, o)
            if a is None:
                return None
            unknown = False
            for part in parts:
                b = part(v, k, t, p, o)
                if b is None:
                    unknown = True
                elif a == b:
                    return True
            return None if unknown else False

        return in_values, "boolean"

    def _between(self, node: exp.Between) -> tuple[Fn, str]:
        subject, subject_type = self._child(node.this, node)
        low, low_type = self._child(node.args.get("low"), node)
        high, high_type = self._child(node.args.get("high"), node)
        self._comparable(subject_type, low_type, node)
        self._comparable(subject_type, high_type, node)

        def between(v, k, t, p, o):
            a = subject(v, k, t, p, o)
            lo = low(v, k, t, p, o)
            hi = high(v, k, t, p, o)
            if a is None or lo is None or hi is None:
                return None
            try:
                return lo <= a <= hi
            except TypeError:
                return None

        return between, "boolean"

    def _like(self, node: exp.Like | exp.ILike) -> tuple[Fn, str]:
        subject, subject_type = self._child(node.this, node)
        pattern, pattern_type = self._child(node.expression, node)
        self._expect(subject_type, frozenset(("string",)), node.this, "LIKE needs a string")
        self._expect(pattern_type, frozenset(("string",)), node.expression, "LIKE needs a string pattern")
        insensitive = isinstance(node, exp.ILike)
        negate = bool(node.args.get("negate"))
        if pattern in self._constants:
            constant = self._constants[pattern]
            if constant is None:
                return self._constant(None), "null"
            matcher = rt.like_matcher(_to_string(constant), insensitive)

            def like_constant(v, k, t, p, o):
                a = subject(v, k, t, p, o)
                if a is None:
                    return None
                if a.__class__ is not str:
                    a = _to_string(a)
                return matcher(a) is not negate

            return like_constant, "boolean"

        def like(v, k, t, p, o):
            a = subject(v, k, t, p, o)
            b = pattern(v, k, t, p, o)
            if a is None or b is None:
                return None
            if a.__class__ is not str:
                a = _to_string(a)
            if b.__class__ is not str:
                b = _to_string(b)
            return rt.like_matcher(b, insensitive)(a) is not negate

        return like, "boolean"

    def _is(self, node: exp.Is) -> tuple[Fn, str]:
        subject, _ = self._child(node.this, node)
        target = node.expression
        if isinstance(target, exp.Null):
            return (lambda v, k, t, p, o: subject(v, k, t, p, o) is None), "boolean"
        if isinstance(target, exp.Boolean):
            wanted = bool(target.this)
            return (lambda v, k, t, p, o: subject(v, k, t, p, o) is wanted), "boolean"
        raise _fail("IS must be followed by NULL, TRUE or FALSE", node, "expression.unsupported")
