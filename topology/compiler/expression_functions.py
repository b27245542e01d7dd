"""Function, conditional and conversion handlers of the expression compiler.

Split from ``expression_compiler`` (driver, fields, literals) and ``expression_operators`` to
keep each module small; ``_Compiler`` is the complete whitelist: a node type without a handler
here, in the operators or in the core is refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from sqlglot import exp

from topology.compiler import expression_runtime as rt
from topology.compiler.expression_compiler import (
    _CAST_TARGET,
    _HANDLER_NAMES,
    MAX_ROUND_DIGITS,
    NUMERIC,
    Fn,
    _common_type,
    _fail,
    _pos,
    _to_string,
)
from topology.compiler.expression_named import _NamedFunctions
from topology.compiler.expression_runtime import ExpressionRuntimeError

_NUM = rt.NUMBER_TYPES
_check_number = rt.check_number


class _Compiler(_NamedFunctions):
    # --- conditionals -------------------------------------------------------------------------------

    def _case(self, node: exp.Case) -> tuple[Fn, str]:
        operand = None
        operand_type = "any"
        if node.this is not None:
            operand, operand_type = self.compile(node.this)
        branches = []
        types = []
        for branch in node.args.get("ifs") or []:
            if not isinstance(branch, exp.If):
                raise _fail("unsupported CASE branch", branch, "expression.unsupported")
            self._only_args(branch)
            condition, condition_type = self._child(branch.this, branch)
            if operand is None:
                self._expect(condition_type, frozenset(("boolean",)), branch.this, "WHEN needs a condition")
            else:
                self._comparable(operand_type, condition_type, branch.this)
            result, result_type = self._child(branch.args.get("true"), branch)
            branches.append((condition, result))
            types.append(result_type)
        otherwise, otherwise_type = self._optional(node.args.get("default"))
        types.append(otherwise_type)
        arms = tuple(branches)
        if operand is None:

            def searched_case(v, k, t, p, o):
                for condition, result in arms:
                    if condition(v, k, t, p, o) is True:
                        return result(v, k, t, p, o)
                return otherwise(v, k, t, p, o)

            return searched_case, _common_type(types)
        subject = operand

        def simple_case(v, k, t, p, o):
            a = subject(v, k, t, p, o)
            if a is not None:
                for condition, result in arms:
                    if condition(v, k, t, p, o) == a:
                        return result(v, k, t, p, o)
            return otherwise(v, k, t, p, o)

        return simple_case, _common_type(types)

    def _if(self, node: exp.If) -> tuple[Fn, str]:
        condition, condition_type = self._child(node.this, node)
        self._expect(condition_type, frozenset(("boolean",)), node.this, "IF needs a condition")
        then, then_type = self._child(node.args.get("true"), node)
        otherwise, otherwise_type = self._optional(node.args.get("false"))

        def if_then(v, k, t, p, o):
            if condition(v, k, t, p, o) is True:
                return then(v, k, t, p, o)
            return otherwise(v, k, t, p, o)

        return if_then, _common_type([then_type, otherwise_type])

    def _cast(self, node: exp.Cast) -> tuple[Fn, str]:
        inner, _ = self._child(node.this, node)
        to = node.args.get("to")
        type_name = to.this.name if isinstance(to, exp.DataType) and hasattr(to.this, "name") else str(to)
        target = _CAST_TARGET.get(type_name)
        if target is None:
            raise _fail(
                f"cannot CAST to {type_name}; use one of {', '.join(sorted(_CAST_TARGET))}",
                node,
                "expression.type",
            )
        position = _pos(node)
        convert: Callable[[Any, int], Any]
        if target == "string":
            convert = lambda value, _position: _to_string(value)  # noqa: E731
        elif target == "integer":
            convert = rt.to_int
        elif target == "double":
            convert = rt.to_float
        else:
            convert = rt.to_bool
        if isinstance(node, exp.TryCast):

            def try_cast(v, k, t, p, o):
                try:
                    return convert(inner(v, k, t, p, o), position)
                except ExpressionRuntimeError:
                    return None

            return try_cast, target

        def cast(v, k, t, p, o):
            return convert(inner(v, k, t, p, o), position)

        return cast, target

    def _coalesce(self, node: exp.Coalesce) -> tuple[Fn, str]:
        operands = [node.this, *node.expressions]
        compiled = [self._child(operand, node) for operand in operands]
        parts = tuple(fn for fn, _ in compiled)

        def coalesce(v, k, t, p, o):
            for part in parts:
                value = part(v, k, t, p, o)
                if value is not None:
                    return value
            return None

        return coalesce, _common_type([type_ for _, type_ in compiled])

    def _nullif(self, node: exp.Nullif) -> tuple[Fn, str]:
        left, left_type = self._child(node.this, node)
        right, right_type = self._child(node.expression, node)
        self._comparable(left_type, right_type, node)

        def nullif(v, k, t, p, o):
            a = left(v, k, t, p, o)
            return None if a is not None and a == right(v, k, t, p, o) else a

        return nullif, left_type

    def _extreme(self, node: exp.Greatest | exp.Least) -> tuple[Fn, str]:
        compiled = [self._child(operand, node) for operand in [node.this, *node.expressions]]
        types = [type_ for _, type_ in compiled]
        for type_ in types[1:]:
            self._comparable(types[0], type_, node)
        parts = tuple(fn for fn, _ in compiled)
        pick = max if isinstance(node, exp.Greatest) else min

        def extreme(v, k, t, p, o):
            values = [value for value in (part(v, k, t, p, o) for part in parts) if value is not None]
            if not values:
                return None
            try:
                return pick(values)
            except TypeError:
                return None

        return extreme, _common_type(types)

    # --- strings --------------------------------------------------------------------------------------

    def _lower_upper(self, node: exp.Lower | exp.Upper) -> tuple[Fn, str]:
        inner, _ = self._child(node.this, node)
        lower = isinstance(node, exp.Lower)
        position = _pos(node)

        def change_case(v, k, t, p, o):
            a = inner(v, k, t, p, o)
            if a is None:
                return None
            if a.__class__ is not str:
                a = _to_string(a)
            result = a.lower() if lower else a.upper()
            rt.check_length(len(result), position)
            return result

        return change_case, "string"

    def _length(self, node: exp.Length) -> tuple[Fn, str]:
        inner, _ = self._child(node.this, node)

        def length(v, k, t, p, o):
            a = inner(v, k, t, p, o)
            if a is None:
                return None
            if a.__class__ is not str:
                a = _to_string(a)
            return len(a)

        return length, "integer"

    def _substring(self, node: exp.Substring) -> tuple[Fn, str]:
        inner, _ = self._child(node.this, node)
        start, start_type = self._child(node.args.get("start"), node)
        self._expect(start_type, NUMERIC, node, "SUBSTRING needs a numeric start")
        length_node = node.args.get("length")
        length, length_type = self.compile(length_node) if length_node is not None else (None, "null")
        if length_node is not None:
            self._expect(length_type, NUMERIC, length_node, "SUBSTRING needs a numeric length")
        position = _pos(node)

        def substring(v, k, t, p, o):
            # ksqlDB's: 1-based; a negative start counts from the end; 0 reads as 1; a length
            # past either end is cut, a negative one gives ''.
            a = inner(v, k, t, p, o)
            s = start(v, k, t, p, o)
            if a is None or s is None:
                return None
            if a.__class__ is not str:
                a = _to_string(a)
            s = rt.to_int(s, position)
            begin = max(len(a) + s, 0) if s < 0 else min(max(s - 1, 0), len(a))
            if length is None:
                return a[begin:]
            n = length(v, k, t, p, o)
            if n is None:
                return None
            n = rt.to_int(n, position)
            return a[begin : max(begin, begin + n)]

        return substring, "string"

    def _concat(self, node: exp.Concat) -> tuple[Fn, str]:
        parts = tuple(self._child(operand, node)[0] for operand in node.expressions)
        position = _pos(node)

        def concat(v, k, t, p, o):
            # CONCAT skips NULLs (as in PostgreSQL); '||' propagates them.
            pieces = []
            total = 0
            for part in parts:
                value = part(v, k, t, p, o)
                if value is None:
                    continue
                if value.__class__ is not str:
                    value = _to_string(value)
                total += len(value)
                rt.check_length(total, position)
                pieces.append(value)
            return "".join(pieces)

        return concat, "string"

    def _concat_ws(self, node: exp.ConcatWs) -> tuple[Fn, str]:
        if len(node.expressions) < 2:
            raise _fail("CONCAT_WS needs a separator and at least one value", node, "expression.syntax")
        separator, _ = self._child(node.expressions[0], node)
        parts = tuple(self._child(operand, node)[0] for operand in node.expressions[1:])
        position = _pos(node)

        def concat_ws(v, k, t, p, o):
            sep = separator(v, k, t, p, o)
            if sep is None:
                return None
            if sep.__class__ is not str:
                sep = _to_string(sep)
            pieces = []
            total = 0
            for part in parts:
                value = part(v, k, t, p, o)
                if value is None:
                    continue
                if value.__class__ is not str:
                    value = _to_string(value)
                total += len(value) + len(sep)
                rt.check_length(total, position)
                pieces.append(value)
            return sep.join(pieces)

        return concat_ws, "string"

    def _trim(self, node: exp.Trim) -> tuple[Fn, str]:
        inner, _ = self._child(node.this, node)
        chars_node = node.expression
        chars = self.compile(chars_node)[0] if chars_node is not None else None
        where = str(node.args.get("position") or "BOTH").upper()

        def trim(v, k, t, p, o):
            a = inner(v, k, t, p, o)
            if a is None:
                return None
            if a.__class__ is not str:
                a = _to_string(a)
            c = None
            if chars is not None:
                c = chars(v, k, t, p, o)
                if c is None:
                    return None
                if c.__class__ is not str:
                    c = _to_string(c)
            if where == "LEADING":
                return a.lstrip(c)
            if where == "TRAILING":
                return a.rstrip(c)
            return a.strip(c)

        return trim, "string"

    def _replace(self, node: exp.Replace) -> tuple[Fn, str]:
        inner, _ = self._child(node.this, node)
        old, _ = self._child(node.expression, node)
        new, _ = self._child(node.args.get("replacement"), node)
        position = _pos(node)

        def replace(v, k, t, p, o):
            a = inner(v, k, t, p, o)
            b = old(v, k, t, p, o)
            c = new(v, k, t, p, o)
            if a is None or b is None or c is None:
                return None
            if a.__class__ is not str:
                a = _to_string(a)
            if b.__class__ is not str:
                b = _to_string(b)
            if c.__class__ is not str:
                c = _to_string(c)
            if not b:
                return a
            # Size the result before building it: REPLACE is the classic amplifier.
            rt.check_length(len(a) + a.count(b) * (len(c) - len(b)), position)
            return a.replace(b, c)

        return replace, "string"

    # --- math ---------------------------------------------------------------------------------------

    def _math1(self, node: exp.Func) -> tuple[Fn, str]:
        inner, type_ = self._child(node.this, node)
        name = type(node).__name__.upper()
        self._expect(type_, NUMERIC, node.this, f"{name} needs a number")
        position = _pos(node)
        if node.args.get("decimals") is not None:
            raise _fail(f"{name} takes one argument", node, "expression.unsupported")
        function: Callable[[Any], Any] = {  # type: ignore[assignment]
            "ABS": abs,
            "FLOOR": math.floor,
            "CEIL": math.ceil,
            "SQRT": lambda x: math.sqrt(x) if x >= 0 else None,
            "SIGN": lambda x: (x > 0) - (x < 0),
        }[name]

        def unary_math(v, k, t, p, o):
            a = inner(v, k, t, p, o)
            if a is None:
                return None
            if a.__class__ not in _NUM:
                raise ExpressionRuntimeError(f"{name} needs a number, got {rt.type_name(a)}", position)
            try:
                result = function(a)
            except (OverflowError, ValueError):
                raise ExpressionRuntimeError(f"{name} of a non-finite number", position) from None
            return None if result is None else _check_number(result, position)

        result_type = {"FLOOR": "integer", "CEIL": "integer", "SIGN": "integer", "SQRT": "double"}.get(
            name, type_
        )
        return unary_math, result_type if result_type in NUMERIC else "number"

    def _round(self, node: exp.Round) -> tuple[Fn, str]:
        inner, type_ = self._child(node.this, node)
        self._expect(type_, NUMERIC, node.this, "ROUND needs a number")
        decimals_node = node.args.get("decimals")
        digits = None
        if decimals_node is not None:
            digits, digits_type = self.compile(decimals_node)
            self._expect(digits_type, frozenset(("integer",)), decimals_node, "ROUND needs integer digits")
        position = _pos(node)

        def round_(v, k, t, p, o):
            a = inner(v, k, t, p, o)
            if a is None:
                return None
            d = None
            if digits is not None:
                d = digits(v, k, t, p, o)
                if d is None:
                    return None
                if d.__class__ is not int:
                    raise ExpressionRuntimeError("ROUND needs integer digits", position)
                if not -MAX_ROUND_DIGITS <= d <= MAX_ROUND_DIGITS:
                    raise ExpressionRuntimeError(f"ROUND digits must be within ±{MAX_ROUND_DIGITS}", position)
            if a.__class__ not in _NUM:
                raise ExpressionRuntimeError(f"ROUND needs a number, got {rt.type_name(a)}", position)
            if a.__class__ is float and not math.isfinite(a):
                raise ExpressionRuntimeError("ROUND of a non-finite number", position)
            return rt.ksql_round(a, d, position)

        # ksqlDB's types: ROUND(x) is a BIGINT, ROUND(x, digits) a DOUBLE.
        return round_, "integer" if digits is None else "double"


_Compiler._HANDLERS = {cls: getattr(_Compiler, name) for cls, name in _HANDLER_NAMES.items()}
