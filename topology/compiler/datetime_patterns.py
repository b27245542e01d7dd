"""Java ``DateTimeFormatter`` patterns (ksqlDB's TIMESTAMPTOSTRING, STRINGTOTIMESTAMP, ...) read
into a small formatter and parser of our own: nothing of the pattern reaches ``strftime`` or a
regex unescaped.

``java_pattern("yyyy-MM-dd'T'HH:mm:ss.SSSX")`` returns a ``JavaPattern`` with
``format(moment)`` and ``parse(text, zone)``. Letters outside the supported set (and Java's
optional sections ``[ ]`` and reserved ``# { }``) are refused with ``PatternError`` naming
the letter and its offset in the pattern, so a constant pattern fails at compile time.

Supported, as in ``java.time.format.DateTimeFormatter`` (English names):

======  ==================================  =========================
letter  meaning                             counts
======  ==================================  =========================
y, u    year (``yy``: two digits, 2000-)    any
M, L    month: 1, 01, Jan, January          1-4
d       day of month                        1-2
D       day of year                         1-3
E       day of week: Mon, Monday            1-4
a       AM / PM                             1
H       hour 0-23                           1-2
k       hour 1-24                           1-2
K       hour 0-11 (with a)                  1-2
h       hour 1-12 (with a)                  1-2
m, s    minute, second                      1-2
S       fraction of a second (n digits)     1-9
X, x    offset: Z / +01 / +0130 / +01:30    1-5 (X writes Z for zero)
Z       offset: +0130 (1-3), +01:30 (5)     1-3, 5
'...'   literal text (``''`` is a quote)
======  ==================================  =========================

Parsing is strict about widths (``MM`` takes two digits) and fills what the pattern leaves out
as ksqlDB's StringToTimestampParser does: 1970-01-01 00:00:00.000 in the given zone (UTC when
none is given and the text has no offset).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_PATTERN_LENGTH = 200

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# letter -> (largest count, what it is); the count limits are Java's.
_LETTERS = {
    "y": (19, "year"),
    "u": (19, "year"),
    "M": (4, "month"),
    "L": (4, "month"),
    "d": (2, "day of month"),
    "D": (3, "day of year"),
    "E": (4, "day of week"),
    "a": (1, "AM/PM"),
    "H": (2, "hour"),
    "k": (2, "hour"),
    "K": (2, "hour"),
    "h": (2, "hour"),
    "m": (2, "minute"),
    "s": (2, "second"),
    "S": (9, "fraction of a second"),
    "X": (5, "offset"),
    "x": (5, "offset"),
    "Z": (5, "offset"),
}
_HINTS = {
    "z": "time-zone names are not supported; use X or Z for an offset, or pass the zone as an argument",
    "V": "zone ids are not supported; use X or Z for an offset, or pass the zone as an argument",
    "O": "localized offsets are not supported; use X or Z",
    "n": "use S for fractions of a second",
    "N": "use S for fractions of a second",
    "A": "use H, m, s and S",
    "Y": "week-based years are not supported; use y",
}


class PatternError(ValueError):
    """A pattern that cannot be read; ``offset`` is the character in the pattern."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


Piece = tuple[str, int] | str  # (letter, count) or literal text


class JavaPattern:
    __slots__ = ("pieces", "regex", "fields", "text")

    def __init__(self, text: str, pieces: list[Piece]) -> None:
        self.text = text
        self.pieces = tuple(pieces)
        self.fields = tuple(p for p in pieces if isinstance(p, tuple))
        self.regex = re.compile("".join(_piece_regex(p) for p in pieces), re.IGNORECASE)

    def format(self, moment: datetime) -> str:
        return "".join(
            piece if isinstance(piece, str) else _format_field(moment, *piece) for piece in self.pieces
        )

    def parse(self, text: str, zone: tzinfo | None) -> datetime:
        """The moment ``text`` stands for; ValueError when it does not match the pattern."""
        match = self.regex.fullmatch(text)
        if match is None:
            raise ValueError(f"{text[:64]!r} does not match the pattern {self.text!r}")
        values = {"year": 1970, "month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0, "micro": 0}
        day_of_year = None
        half = None  # 0 AM, 1 PM
        twelve_hour = None
        offset = None
        for (letter, count), raw in zip(self.fields, match.groups(), strict=True):
            if letter in "yu":
                values["year"] = 2000 + int(raw) if count == 2 else int(raw)
            elif letter in "ML":
                values["month"] = int(raw) if count <= 2 else _name_index(_MONTHS, raw) + 1
            elif letter == "d":
                values["day"] = int(raw)
            elif letter == "D":
                day_of_year = int(raw)
            elif letter == "a":
                half = 0 if raw.upper() == "AM" else 1
            elif letter == "H":
                values["hour"] = int(raw)
            elif letter == "k":
                values["hour"] = int(raw) % 24
            elif letter in "hK":
                twelve_hour = int(raw) % 12
            elif letter == "m":
                values["minute"] = int(raw)
            elif letter == "s":
                values["second"] = int(raw)
            elif letter == "S":
                values["micro"] = int((raw + "000000")[:6])
            elif letter in "XxZ":
                offset = _offset(raw)
        if twelve_hour is not None:
            values["hour"] = twelve_hour + 12 * (half or 0)
        elif half is not None and values["hour"] < 12:
            values["hour"] += 12 * half
        where = offset if offset is not None else (zone or UTC)
        moment = datetime(
            values["year"],
            values["month"],
            values["day"],
            values["hour"],
            values["minute"],
            values["second"],
            values["micro"],
            tzinfo=where,
        )
        if day_of_year is not None:
            moment = moment.replace(month=1, day=1) + timedelta(days=day_of_year - 1)
            if moment.year != values["year"]:
                raise ValueError(f"day of year {day_of_year} is outside {values['year']}")
        return moment


@lru_cache(maxsize=256)
def java_pattern(text: str) -> JavaPattern:
    if len(text) > MAX_PATTERN_LENGTH:
        raise PatternError(
            f"timestamp pattern longer than {MAX_PATTERN_LENGTH} characters", MAX_PATTERN_LENGTH
        )
    pieces: list[Piece] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "'":
            if index + 1 < len(text) and text[index + 1] == "'":
                literal.append("'")  # '' outside a quoted run is one quote
                index += 2
                continue
            end = index + 1
            quoted: list[str] = []
            while True:
                if end >= len(text):
                    raise PatternError("unclosed quote in the timestamp pattern", index)
                if text[end] == "'":
                    if end + 1 < len(text) and text[end + 1] == "'":
                        quoted.append("'")
                        end += 2
                        continue
                    break
                quoted.append(text[end])
                end += 1
            literal.append("".join(quoted))
            index = end + 1
            continue
        if char.isascii() and char.isalpha():
            count = 1
            while index + count < len(text) and text[index + count] == char:
                count += 1
            _check_letter(char, count, index)
            if literal:
                pieces.append("".join(literal))
                literal = []
            pieces.append((char, count))
            index += count
            continue
        if char in "[]{}#":
            raise PatternError(
                f"{char!r} in a timestamp pattern is not supported (optional sections and reserved characters)",
                index,
            )
        literal.append(char)
        index += 1
    if literal:
        pieces.append("".join(literal))
    return JavaPattern(text, pieces)


def _check_letter(letter: str, count: int, offset: int) -> None:
    known = _LETTERS.get(letter)
    if known is None:
        hint = _HINTS.get(letter, "supported letters: " + " ".join(sorted(_LETTERS, key=str.lower)))
        raise PatternError(f"unknown pattern letter {letter!r} in the timestamp pattern; {hint}", offset)
    largest, what = known
    if count > largest or (letter == "Z" and count == 4):
        raise PatternError(f"too many pattern letters {letter * count!r} ({what})", offset)


# --- formatting ----------------------------------------------------------------------------


def _format_field(moment: datetime, letter: str, count: int) -> str:
    if letter in "yu":
        year = moment.year
        return f"{year % 100:02d}" if count == 2 else str(year).zfill(count)
    if letter in "ML":
        return _text_or_number(moment.month, count, _MONTHS)
    if letter == "d":
        return str(moment.day).zfill(count)
    if letter == "D":
        return str(moment.timetuple().tm_yday).zfill(count)
    if letter == "E":
        name = _DAYS[moment.weekday()]
        return name if count == 4 else name[:3]
    if letter == "a":
        return "AM" if moment.hour < 12 else "PM"
    if letter == "H":
        return str(moment.hour).zfill(count)
    if letter == "k":
        return str(moment.hour or 24).zfill(count)
    if letter == "K":
        return str(moment.hour % 12).zfill(count)
    if letter == "h":
        return str(moment.hour % 12 or 12).zfill(count)
    if letter == "m":
        return str(moment.minute).zfill(count)
    if letter == "s":
        return str(moment.second).zfill(count)
    if letter == "S":
        return f"{moment.microsecond:06d}000"[:count]
    return _format_offset(moment.utcoffset() or timedelta(0), letter, count)


def _text_or_number(value: int, count: int, names: tuple[str, ...]) -> str:
    if count <= 2:
        return str(value).zfill(count)
    name = names[value - 1]
    return name if count == 4 else name[:3]


def _format_offset(offset: timedelta, letter: str, count: int) -> str:
    seconds = int(offset.total_seconds())
    if seconds == 0 and (letter == "X" or (letter == "Z" and count == 5)):
        return "Z"
    sign = "-" if seconds < 0 else "+"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    if letter == "Z":
        return f"{sign}{hours:02d}:{minutes:02d}" if count == 5 else f"{sign}{hours:02d}{minutes:02d}"
    if count == 1:
        return f"{sign}{hours:02d}" + (f"{minutes:02d}" if minutes else "")
    if count in (2, 4):
        return f"{sign}{hours:02d}{minutes:02d}"
    return f"{sign}{hours:02d}:{minutes:02d}"


# --- parsing -------------------------------------------------------------------------------


def _piece_regex(piece: Piece) -> str:
    if isinstance(piece, str):
        return re.escape(piece)
    letter, count = piece
    if letter in "yu":
        return r"(\d{2})" if count == 2 else (r"(\d{1,9})" if count == 1 else rf"(\d{{{count}}})")
    if letter in "ML" and count >= 3:
        return _names_regex(_MONTHS, count)
    if letter == "E":
        return _names_regex(_DAYS, count)
    if letter == "a":
        return "(AM|PM)"
    if letter == "S":
        return rf"(\d{{{count}}})"
    if letter in "XxZ":
        return r"(Z|[+-]\d{2}(?::?\d{2})?)"
    widest = _LETTERS[letter][0]
    return rf"(\d{{1,{widest}}})" if count == 1 else rf"(\d{{{count}}})"


def _names_regex(names: tuple[str, ...], count: int) -> str:
    words = names if count == 4 else tuple(name[:3] for name in names)
    return "(" + "|".join(re.escape(word) for word in words) + ")"


def _name_index(names: tuple[str, ...], raw: str) -> int:
    lowered = raw.lower()
    for index, name in enumerate(names):
        if name.lower() == lowered or name[:3].lower() == lowered:
            return index
    raise ValueError(f"unknown name {raw!r}")


def _offset(raw: str) -> tzinfo:
    if raw.upper() == "Z":
        return UTC
    sign = -1 if raw[0] == "-" else 1
    digits = raw[1:].replace(":", "")
    hours = int(digits[:2])
    minutes = int(digits[2:4] or 0)
    if hours > 18 or minutes > 59:
        raise ValueError(f"offset {raw!r} out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


_FIXED_ZONE = re.compile(r"(?:UTC|GMT|UT)?([+-])(\d{1,2})(?::?(\d{2}))?")


@lru_cache(maxsize=256)
def time_zone(name: str) -> tzinfo:
    """A Java ``ZoneId``: ``UTC``, ``Z``, ``+01:00``, ``UTC+1``, ``GMT-05:30`` or a region
    (``Europe/Oslo``); ValueError for anything else."""
    text = name.strip()
    if text.upper() in ("UTC", "Z", "GMT", "UT"):
        return UTC
    fixed = _FIXED_ZONE.fullmatch(text)
    if fixed is not None:
        sign, hours, minutes = fixed.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta > timedelta(hours=18):
            raise ValueError(f"time zone offset {name[:40]!r} out of range")
        return timezone(-delta if sign == "-" else delta)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*", text) or len(text) > 64:
        raise ValueError(f"unknown time zone {name[:40]!r}")
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name[:40]!r}") from None


__all__ = ["MAX_PATTERN_LENGTH", "JavaPattern", "PatternError", "java_pattern", "time_zone"]
