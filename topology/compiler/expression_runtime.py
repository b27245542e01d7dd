"""Value helpers shared by compiled expressions: conversions, LIKE matching, bounds, time.

Kept apart from ``expressions`` so the AST compiler stays readable. Everything here works on
decoded JSON values only (dict, list, str, int, float, bool, None).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_DOWN, ROUND_HALF_UP, Context, Decimal
from functools import lru_cache
from typing import Any

import orjson

from topology.compiler import datetime_patterns as patterns
from topology.compiler.datetime_patterns import JavaPattern

# A computed string longer than this is refused instead of built: one expression must not be
# able to turn a small record into a huge allocation (``REPLACE`` and ``CONCAT`` amplify).
MAX_STRING_RESULT = 1_000_000
# Integers outside the signed 64-bit range are refused: that is what Kafka's ``long`` format
# and every downstream SQL engine can hold, and it keeps big-int arithmetic cheap.
MAX_INT = 2**63 - 1
MIN_INT = -(2**63)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ExpressionRuntimeError(ValueError):
    """An expression could not be evaluated over one record (bounds, bad CAST).

    The runtime treats it like any per-record processing error (error policy / DLQ).
    """

    def __init__(self, message: str, position: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


NUMBER_TYPES = frozenset((int, float))


def check_int(value: int, position: int) -> int:
    if MIN_INT <= value <= MAX_INT:
        return value
    raise ExpressionRuntimeError("integer result outside the 64-bit range", position)


def check_number(value, position: int):
    if value.__class__ is int:
        if MIN_INT <= value <= MAX_INT:
            return value
        raise ExpressionRuntimeError("integer result outside the 64-bit range", position)
    if math.isfinite(value):
        return value
    raise ExpressionRuntimeError("numeric result is not finite", position)


def check_length(length: int, position: int) -> None:
    if length > MAX_STRING_RESULT:
        raise ExpressionRuntimeError(
            f"string result would be {length} characters, more than the limit of {MAX_STRING_RESULT}",
            position,
        )


def to_string(value) -> str | None:
    """SQL CAST(x AS VARCHAR) over JSON values: booleans as true/false, objects as JSON."""
    cls = value.__class__
    if cls is str:
        return value
    if value is None:
        return None
    if cls is bool:
        return "true" if value else "false"
    if cls is int or cls is float:
        return repr(value)
    return orjson.dumps(value).decode()


def to_int(value, position: int) -> int | None:
    cls = value.__class__
    if value is None:
        return None
    if cls is int:
        return value
    if cls is bool:
        return int(value)
    if cls is float:
        if not math.isfinite(value):
            raise ExpressionRuntimeError("cannot CAST a non-finite number to an integer", position)
        return check_int(int(value), position)
    if cls is str:
        text = value.strip()
        if len(text) > 40:
            raise ExpressionRuntimeError("cannot CAST a long string to an integer", position)
        try:
            return check_int(int(text), position)
        except ValueError:
            try:
                return to_int(float(text), position)
            except ValueError:
                raise ExpressionRuntimeError(f"cannot CAST {text[:40]!r} to an integer", position) from None
    raise ExpressionRuntimeError(f"cannot CAST a {type_name(value)} to an integer", position)


def to_float(value, position: int) -> float | None:
    cls = value.__class__
    if value is None:
        return None
    if cls is float:
        return value
    if cls is int or cls is bool:
        return float(value)
    if cls is str:
        text = value.strip()
        if len(text) > 400:
            raise ExpressionRuntimeError("cannot CAST a long string to a number", position)
        try:
            return float(text)
        except ValueError:
            raise ExpressionRuntimeError(f"cannot CAST {text[:40]!r} to a number", position) from None
    raise ExpressionRuntimeError(f"cannot CAST a {type_name(value)} to a number", position)


_TRUE = frozenset(("true", "t", "yes", "y", "1"))
_FALSE = frozenset(("false", "f", "no", "n", "0"))


def to_bool(value, position: int) -> bool | None:
    cls = value.__class__
    if value is None or cls is bool:
        return value
    if cls is int or cls is float:
        return value != 0
    if cls is str:
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ExpressionRuntimeError(f"cannot CAST {value[:40]!r} to a boolean", position)
    raise ExpressionRuntimeError(f"cannot CAST a {type_name(value)} to a boolean", position)


def type_name(value) -> str:
    if value is None:
        return "null"
    cls = value.__class__
    if cls is bool:
        return "boolean"
    if cls is int:
        return "integer"
    if cls is float:
        return "double"
    if cls is str:
        return "string"
    if cls is dict:
        return "object"
    if cls is list:
        return "array"
    return "value"


# --- LIKE --------------------------------------------------------------------------------------
# LIKE is matched segment by segment (split at ``%``), never through a backtracking regex, so
# a pattern like ``%a%a%a%a%b`` costs O(len(text) * len(pattern)) rather than exponential time.


@lru_cache(maxsize=512)
def like_matcher(pattern: str, case_insensitive: bool = False):
    if case_insensitive:
        pattern = pattern.lower()
    segments = pattern.split("%")
    compiled = [_segment(s) for s in segments]
    anchored_start = compiled[0]
    anchored_end = compiled[-1] if len(compiled) > 1 else None
    middle = compiled[1:-1]

    def match(text: str) -> bool:
        if case_insensitive:
            text = text.lower()
        if anchored_end is None:
            # no % at all: the whole text must match the one segment
            return len(text) == anchored_start[1] and anchored_start[0](text, 0) == 0
        first_find, first_len = anchored_start
        last_find, last_len = anchored_end
        if len(text) < first_len + last_len:
            return False
        if first_len and first_find(text, 0, exact=True) != 0:
            return False
        end_limit = len(text) - last_len
        if last_len and last_find(text, end_limit, exact=True) != end_limit:
            return False
        position = first_len
        for find, length in middle:
            if not length:
                continue
            found = find(text, position, limit=end_limit)
            if found < 0:
                return False
            position = found + length
        return position <= end_limit

    return match


def _segment(segment: str):
    """A finder for one %-free segment: returns the first index >= start where it matches."""
    length = len(segment)
    if "_" not in segment:

        def find_plain(text: str, start: int, exact: bool = False, limit: int | None = None) -> int:
            if exact:
                return start if text.startswith(segment, start) else -1
            end = len(text) if limit is None else limit
            return text.find(segment, start, end)

        return find_plain, length
    regex = re.compile("".join("." if ch == "_" else re.escape(ch) for ch in segment), re.DOTALL)

    def find_wild(text: str, start: int, exact: bool = False, limit: int | None = None) -> int:
        if exact:
            return start if regex.match(text, start) else -1
        end = len(text) if limit is None else limit
        found = regex.search(text, start, end)
        return found.start() if found else -1

    return find_wild, length


# --- time -------------------------------------------------------------------------------------


def moment_of(ms: Any, zone: tzinfo, what: str, position: int) -> datetime:
    """Epoch milliseconds as an aware datetime in ``zone`` (shared by every formatting function)."""
    if not isinstance(ms, int | float) or isinstance(ms, bool):
        raise ExpressionRuntimeError(f"{what} expects epoch milliseconds", position)
    try:
        # Exact (no float seconds): 'SSS' must print the milliseconds that were given.
        return (_EPOCH + timedelta(milliseconds=ms)).astimezone(zone)
    except (OverflowError, OSError, ValueError):
        raise ExpressionRuntimeError("timestamp out of range", position) from None


def timestamp_to_string(ms: Any, fmt: str | None, position: int) -> str | None:
    if ms is None:
        return None
    moment = moment_of(ms, UTC, "TIMESTAMP_TO_STRING", position)
    if fmt is None:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime(fmt)


def java_pattern(text: Any, position: int) -> JavaPattern:
    """A pattern computed per record (a constant one is read once, at compile time)."""
    if text.__class__ is not str:
        text = to_string(text)
    try:
        return patterns.java_pattern(text)
    except patterns.PatternError as error:
        raise ExpressionRuntimeError(error.message, position) from None


def time_zone(name: Any, position: int) -> tzinfo:
    if name.__class__ is not str:
        raise ExpressionRuntimeError("a time zone must be a string", position)
    try:
        return patterns.time_zone(name)
    except ValueError as error:
        raise ExpressionRuntimeError(str(error), position) from None


def format_timestamp(ms: Any, pattern: JavaPattern, zone: tzinfo, what: str, position: int) -> str:
    """TIMESTAMPTOSTRING / FORMAT_TIMESTAMP: epoch ms in a Java pattern."""
    return pattern.format(moment_of(ms, zone, what, position))


def parse_timestamp(text: Any, pattern: JavaPattern, zone: tzinfo, what: str, position: int) -> int:
    """STRINGTOTIMESTAMP / PARSE_TIMESTAMP: text in a Java pattern → epoch ms."""
    if text.__class__ is not str:
        raise ExpressionRuntimeError(f"{what} expects a string", position)
    if len(text) > patterns.MAX_PATTERN_LENGTH:
        raise ExpressionRuntimeError("timestamp text too long", position)
    try:
        moment = pattern.parse(text, zone)
    except (ValueError, OverflowError) as error:
        raise ExpressionRuntimeError(f"{what}: {error}", position) from None
    return check_int(_epoch_ms(moment), position)


def _epoch_ms(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def string_to_timestamp(text, position: int) -> int | None:
    if text is None:
        return None
    if text.__class__ is not str:
        raise ExpressionRuntimeError("STRING_TO_TIMESTAMP expects an ISO-8601 string", position)
    raw = text.strip()
    if len(raw) > 64:
        raise ExpressionRuntimeError("timestamp text too long", position)
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ExpressionRuntimeError(f"{text[:64]!r} is not an ISO-8601 timestamp", position) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def ksql_round(value, digits: int | None, position: int):
    """ROUND as ksqlDB's: halves go up, towards positive infinity (Java's ``Math.round``:
    ROUND(2.5) = 3, ROUND(-2.5) = -2). Without digits the result is an integer; with digits
    it is a double, rounded in decimal (``BigDecimal.valueOf``), so ROUND(1.005, 2) = 1.01."""
    if digits is None:
        if value.__class__ is int:
            return value
        floor = math.floor(value)
        return check_int(floor + 1 if value - floor >= 0.5 else floor, position)
    exact = Decimal(value) if value.__class__ is int else Decimal(repr(value))
    mode = ROUND_HALF_UP if value > 0 else ROUND_HALF_DOWN
    return float(exact.quantize(Decimal(1).scaleb(-digits), rounding=mode, context=_ROUND_CONTEXT))


# Enough digits for any double's integer part (up to 309) and the largest allowed ROUND digits.
_ROUND_CONTEXT = Context(prec=400)
