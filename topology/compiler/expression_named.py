"""Named functions sqlglot parses as anonymous calls: MOD, the time functions (Weir's ISO /
strftime ones and ksqlDB's Java-pattern ones), GEO_DISTANCE and UNIX_TIMESTAMP.

Split from ``expression_functions`` (the functions sqlglot has nodes for) to keep each module
small. A constant pattern, time zone or unit is read once, at compile time, so a bad one is a
located compile error rather than a failure on every record.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, tzinfo
from typing import Any

from sqlglot import exp

from topology.compiler import datetime_patterns as patterns
from topology.compiler import expression_runtime as rt
from topology.compiler.expression_compiler import (
    AGGREGATE_FUNCTIONS,
    NUMERIC,
    ExpressionError,
    Fn,
    _fail,
    _pos,
    _to_string,
    _unknown_function,
)
from topology.compiler.expression_operators import _OperatorHandlers
from topology.compiler.expression_runtime import ExpressionRuntimeError

_NUM = rt.NUMBER_TYPES
_STRING = frozenset(("string",))

# ksqlDB's GEO_DISTANCE radii and unit names (case-insensitive; none or '' is kilometres).
EARTH_RADIUS = {"km": 6371.0, "mi": 3959.0}
_UNITS = {
    **dict.fromkeys(("mi", "mile", "miles"), "mi"),
    **dict.fromkeys(("km", "kilometer", "kilometers", "kilometre", "kilometres"), "km"),
}

# ksqlDB name → (result, what the first argument is): TIMESTAMPTOSTRING and FORMAT_TIMESTAMP
# format epoch ms, STRINGTOTIMESTAMP and PARSE_TIMESTAMP parse text (Weir has no TIMESTAMP
# type: a ksqlDB TIMESTAMP is epoch ms, as its JSON format writes it).
_JAVA_TIME = {
    "TIMESTAMPTOSTRING": "format",
    "FORMAT_TIMESTAMP": "format",
    "STRINGTOTIMESTAMP": "parse",
    "PARSE_TIMESTAMP": "parse",
}


class _NamedFunctions(_OperatorHandlers):
    def _anonymous(self, node: exp.Anonymous) -> tuple[Fn, str]:
        name = str(node.this).upper()
        arguments = node.expressions
        position = _pos(node)
        if name.startswith("__"):
            raise _fail(f"function name {name.lower()!r} is not allowed", node, "expression.forbidden_name")
        if name in AGGREGATE_FUNCTIONS:
            raise _fail(
                f"{name} is an aggregation; use it in an aggregate node", node, "expression.unsupported"
            )
        if name == "MOD":
            if len(arguments) != 2:
                raise _fail("MOD takes two arguments", node, "expression.syntax")
            return self._arithmetic(exp.Mod(this=arguments[0], expression=arguments[1]))
        if name in _JAVA_TIME:
            return self._java_time(name, _JAVA_TIME[name], node)
        if name == "GEO_DISTANCE":
            return self._geo_distance(node)
        if name == "UNIX_TIMESTAMP":
            return self._unix_timestamp(node)
        if name == "TIMESTAMP_TO_STRING":
            if len(arguments) not in (1, 2):
                raise _fail(
                    "TIMESTAMP_TO_STRING takes epoch ms and an optional format", node, "expression.syntax"
                )
            ms, ms_type = self._child(arguments[0], node)
            self._expect(ms_type, NUMERIC, arguments[0], "TIMESTAMP_TO_STRING needs epoch milliseconds")
            fmt = self._child(arguments[1], node)[0] if len(arguments) == 2 else None

            def timestamp_to_string(v, k, t, p, o):
                pattern = None
                if fmt is not None:
                    pattern = fmt(v, k, t, p, o)
                    if pattern is None:
                        return None
                    pattern = _to_string(pattern)
                return rt.timestamp_to_string(ms(v, k, t, p, o), pattern, position)

            return timestamp_to_string, "string"
        if name == "STRING_TO_TIMESTAMP":
            if len(arguments) != 1:
                raise _fail("STRING_TO_TIMESTAMP takes one ISO-8601 string", node, "expression.syntax")
            text, _ = self._child(arguments[0], node)
            return (lambda v, k, t, p, o: rt.string_to_timestamp(text(v, k, t, p, o), position)), "integer"
        if name == "FROM_UNIXTIME":
            if len(arguments) != 1:
                raise _fail("FROM_UNIXTIME takes epoch seconds", node, "expression.syntax")
            seconds, seconds_type = self._child(arguments[0], node)
            self._expect(seconds_type, NUMERIC, arguments[0], "FROM_UNIXTIME needs epoch seconds")

            def from_unixtime(v, k, t, p, o):
                s = seconds(v, k, t, p, o)
                if s is None:
                    return None
                if s.__class__ not in _NUM:
                    raise ExpressionRuntimeError("FROM_UNIXTIME needs epoch seconds", position)
                return rt.timestamp_to_string(s * 1000, None, position)

            return from_unixtime, "string"
        raise _unknown_function(name, node)

    # --- ksqlDB's Java-pattern time functions ---------------------------------------------------

    def _java_time(self, name: str, direction: str, node: exp.Anonymous) -> tuple[Fn, str]:
        arguments = node.expressions
        subject = "epoch ms" if direction == "format" else "a string"
        if len(arguments) not in (2, 3):
            raise _fail(
                f"{name} takes {subject}, a pattern and an optional time zone "
                f"(got {len(arguments)} argument{'s' if len(arguments) != 1 else ''})",
                node,
                "expression.syntax",
            )
        value, value_type = self._child(arguments[0], node)
        if direction == "format":
            self._expect(value_type, NUMERIC, arguments[0], f"{name} needs epoch milliseconds")
        else:
            self._expect(value_type, _STRING, arguments[0], f"{name} needs a string")
        pattern_of = self._pattern(name, arguments[1], node)
        zone_of = self._zone(name, arguments[2], node) if len(arguments) == 3 else (lambda v, k, t, p, o: UTC)
        position = _pos(node)

        if direction == "format":

            def format_timestamp(v, k, t, p, o):
                ms = value(v, k, t, p, o)
                pattern = pattern_of(v, k, t, p, o)
                zone = zone_of(v, k, t, p, o)
                if ms is None or pattern is None or zone is None:
                    return None
                return rt.format_timestamp(ms, pattern, zone, name, position)

            return format_timestamp, "string"

        def parse_timestamp(v, k, t, p, o):
            text = value(v, k, t, p, o)
            pattern = pattern_of(v, k, t, p, o)
            zone = zone_of(v, k, t, p, o)
            if text is None or pattern is None or zone is None:
                return None
            return rt.parse_timestamp(text, pattern, zone, name, position)

        return parse_timestamp, "integer"

    def _pattern(self, name: str, argument: exp.Expr, node: exp.Expr) -> Callable[..., Any]:
        """The pattern argument as a closure giving a ``JavaPattern`` (or None for NULL)."""
        fn, type_ = self._child(argument, node)
        self._expect(type_, _STRING, argument, f"{name} needs a string pattern")
        position = _pos(argument)
        if fn in self._constants:
            text = self._constants[fn]
            if text is None:
                return lambda v, k, t, p, o: None
            try:
                compiled = patterns.java_pattern(text)
            except patterns.PatternError as error:
                # +1: past the opening quote of the literal
                raise ExpressionError(
                    f"{name}: {error.message}", position + 1 + error.offset, "expression.unsupported"
                ) from None
            return lambda v, k, t, p, o: compiled

        def pattern(v, k, t, p, o):
            text = fn(v, k, t, p, o)
            return None if text is None else rt.java_pattern(text, position)

        return pattern

    def _zone(self, name: str, argument: exp.Expr, node: exp.Expr) -> Callable[..., tzinfo | None]:
        fn, type_ = self._child(argument, node)
        self._expect(type_, _STRING, argument, f"{name} needs a string time zone")
        position = _pos(argument)
        if fn in self._constants:
            text = self._constants[fn]
            if text is None:
                return lambda v, k, t, p, o: None
            try:
                zone = patterns.time_zone(text)
            except ValueError as error:
                raise ExpressionError(f"{name}: {error}", position, "expression.unsupported") from None
            return lambda v, k, t, p, o: zone

        def zone_of(v, k, t, p, o):
            text = fn(v, k, t, p, o)
            return None if text is None else rt.time_zone(text, position)

        return zone_of

    # --- GEO_DISTANCE and UNIX_TIMESTAMP ---------------------------------------------------------

    def _geo_distance(self, node: exp.Anonymous) -> tuple[Fn, str]:
        arguments = node.expressions
        if len(arguments) not in (4, 5):
            raise _fail(
                "GEO_DISTANCE takes lat1, lon1, lat2, lon2 and an optional unit ('KM' or 'MI')",
                node,
                "expression.syntax",
            )
        points = []
        for argument in arguments[:4]:
            fn, type_ = self._child(argument, node)
            self._expect(type_, NUMERIC, argument, "GEO_DISTANCE needs numbers (decimal degrees)")
            points.append(fn)
        lat1_of, lon1_of, lat2_of, lon2_of = points
        position = _pos(node)
        radius_of: Callable[..., float] = lambda v, k, t, p, o: EARTH_RADIUS["km"]  # noqa: E731
        if len(arguments) == 5:
            unit_fn, unit_type = self._child(arguments[4], node)
            self._expect(unit_type, _STRING, arguments[4], "GEO_DISTANCE needs a unit string ('KM' or 'MI')")
            if unit_fn in self._constants:
                unit = self._constants[unit_fn]
                try:
                    radius = _radius(unit)
                except ValueError as error:
                    raise ExpressionError(str(error), _pos(arguments[4]), "expression.unsupported") from None
                radius_of = lambda v, k, t, p, o: radius  # noqa: E731
            else:

                def radius_of(v, k, t, p, o):
                    unit = unit_fn(v, k, t, p, o)
                    try:
                        return _radius(unit)
                    except ValueError as error:
                        raise ExpressionRuntimeError(str(error), position) from None

        def geo_distance(v, k, t, p, o):
            lat1 = lat1_of(v, k, t, p, o)
            lon1 = lon1_of(v, k, t, p, o)
            lat2 = lat2_of(v, k, t, p, o)
            lon2 = lon2_of(v, k, t, p, o)
            if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
                return None
            return haversine(lat1, lon1, lat2, lon2, radius_of(v, k, t, p, o), position)

        return geo_distance, "double"

    def _unix_timestamp(self, node: exp.Anonymous) -> tuple[Fn, str]:
        arguments = node.expressions
        if len(arguments) > 1:
            raise _fail(
                "UNIX_TIMESTAMP takes no argument or a timestamp (epoch ms)", node, "expression.syntax"
            )
        if not arguments:
            # The clock: never folded into a constant at compile time.
            self._field_refs += 1
            return (lambda v, k, t, p, o: time.time_ns() // 1_000_000), "integer"
        ms_of, ms_type = self._child(arguments[0], node)
        self._expect(ms_type, NUMERIC, arguments[0], "UNIX_TIMESTAMP needs a timestamp (epoch ms)")
        position = _pos(node)

        def unix_timestamp(v, k, t, p, o):
            ms = ms_of(v, k, t, p, o)
            if ms is None:
                return None
            if ms.__class__ is int:
                return ms
            if ms.__class__ is float and math.isfinite(ms):
                return rt.check_int(math.trunc(ms), position)
            raise ExpressionRuntimeError("UNIX_TIMESTAMP needs a timestamp (epoch ms)", position)

        return unix_timestamp, "integer"


def _radius(unit: Any) -> float:
    """ksqlDB's: a NULL or blank unit is kilometres."""
    if unit is None:
        return EARTH_RADIUS["km"]
    text = unit.strip().lower() if unit.__class__ is str else ""
    if unit.__class__ is str and not text:
        return EARTH_RADIUS["km"]
    key = _UNITS.get(text)
    if key is None:
        raise ValueError(
            f"GEO_DISTANCE unit must be KM or MI (or mile(s), kilometer(s)), got {str(unit)[:40]!r}"
        )
    return EARTH_RADIUS[key]


def haversine(lat1: Any, lon1: Any, lat2: Any, lon2: Any, radius: float, position: int) -> float:
    """Great-circle distance, ksqlDB's GEO_DISTANCE formula (haversine on a sphere)."""
    for value in (lat1, lon1, lat2, lon2):
        if value.__class__ not in _NUM:
            raise ExpressionRuntimeError(f"GEO_DISTANCE needs numbers, got {rt.type_name(value)}", position)
    if not (-90 <= lat1 <= 90 and -90 <= lat2 <= 90):
        raise ExpressionRuntimeError("GEO_DISTANCE latitudes must be within -90 and 90 degrees", position)
    if not (-180 <= lon1 <= 180 and -180 <= lon2 <= 180):
        raise ExpressionRuntimeError("GEO_DISTANCE longitudes must be within -180 and 180 degrees", position)
    delta_lat = math.radians(lat2 - lat1)
    delta_lon = math.radians(lon2 - lon1)
    a = math.sin(delta_lat / 2) ** 2 + math.sin(delta_lon / 2) ** 2 * math.cos(math.radians(lat1)) * math.cos(
        math.radians(lat2)
    )
    return 2 * math.asin(math.sqrt(a)) * radius
