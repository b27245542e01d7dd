"""The Java DateTimeFormatter pattern reader behind ksqlDB's time functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topology.compiler.datetime_patterns import PatternError, java_pattern, time_zone

MOMENT = datetime(2024, 3, 5, 14, 7, 9, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("yyyy-MM-dd HH:mm:ss.SSS", "2024-03-05 14:07:09.123"),
        ("yyyy-MM-dd'T'HH:mm:ssX", "2024-03-05T14:07:09Z"),
        ("dd/MM/yyyy", "05/03/2024"),
        ("d/M/yy", "5/3/24"),
        ("y", "2024"),
        ("yyyyy", "02024"),
        ("MMM MMMM", "Mar March"),
        ("EEE EEEE", "Tue Tuesday"),
        ("D DDD", "65 065"),
        ("h:mm a", "2:07 PM"),
        ("K k", "2 14"),
        ("SSSSSS S SSSSSSSSS", "123456 1 123456000"),
        ("'It''s' HH 'o''clock'", "It's 14 o'clock"),
        ("''yyyy''", "'2024'"),
        ("'yyyy'", "yyyy"),
        ("HH.mm,ss - ", "14.07,09 - "),
    ],
)
def test_patterns_format_as_java_does(pattern, expected):
    assert java_pattern(pattern).format(MOMENT) == expected


@pytest.mark.parametrize(
    ("pattern", "offset", "expected"),
    [
        ("X", 0, "Z"),
        ("X", 90, "+0130"),
        ("X", 60, "+01"),
        ("XX", -300, "-0500"),
        ("XXX", 330, "+05:30"),
        ("x", 0, "+00"),
        ("xxx", 0, "+00:00"),
        ("Z", 0, "+0000"),
        ("ZZZZZ", 0, "Z"),
        ("ZZZZZ", -90, "-01:30"),
    ],
)
def test_offsets_format_as_java_does(pattern, offset, expected):
    moment = MOMENT.astimezone(timezone(timedelta(minutes=offset)))
    assert java_pattern(pattern).format(moment) == expected


def test_midnight_and_noon_on_twelve_hour_clocks():
    midnight = datetime(2024, 1, 1, 0, 30, tzinfo=UTC)
    noon = datetime(2024, 1, 1, 12, 30, tzinfo=UTC)
    pattern = java_pattern("hh:mm a|K|k")
    assert pattern.format(midnight) == "12:30 AM|0|24"
    assert pattern.format(noon) == "12:30 PM|0|12"
    assert java_pattern("yyyy hh:mm a").parse("2024 12:30 AM", None) == midnight.replace(month=1)
    assert java_pattern("yyyy hh:mm a").parse("2024 12:30 PM", None) == noon


def test_parsing_fills_what_the_pattern_leaves_out_from_1970_01_01_in_the_zone():
    oslo = time_zone("Europe/Oslo")
    assert java_pattern("HH:mm").parse("01:30", None) == datetime(1970, 1, 1, 1, 30, tzinfo=UTC)
    assert java_pattern("yyyy-MM").parse("2024-07", oslo) == datetime(2024, 7, 1, tzinfo=oslo)
    assert java_pattern("yyyy DDD").parse("2024 366", None) == datetime(2024, 12, 31, tzinfo=UTC)
    # an offset in the text wins over the zone argument
    parsed = java_pattern("yyyy-MM-dd HH:mmXXX").parse("2024-07-01 10:00+02:00", oslo)
    assert parsed.astimezone(UTC) == datetime(2024, 7, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("yyyy-MM-dd", "2024-3-05"),  # MM takes two digits
        ("yyyy-MM-dd", "2024-03-05 "),
        ("yyyy", "20245"),
        ("MMM", "Mrz"),
        ("yyyy DDD", "2023 366"),
        ("HH", "24"),
    ],
)
def test_text_outside_the_pattern_is_refused(pattern, text):
    with pytest.raises(ValueError):
        java_pattern(pattern).parse(text, None)


@pytest.mark.parametrize(
    ("pattern", "offset", "letter"),
    [
        ("yyyy-ww", 5, "'w'"),
        ("G yyyy", 0, "'G'"),
        ("yyyy-MM-dd'T'HH:mm:ss zzz", 22, "'z'"),
        ("MMMMM", 0, "'MMMMM'"),
        ("aa", 0, "'aa'"),
        ("ZZZZ", 0, "'ZZZZ'"),
        ("yyyy#", 4, "'#'"),
        ("yyyy-'MM", 5, "unclosed"),
    ],
)
def test_unknown_letters_and_bad_counts_name_the_letter_and_its_offset(pattern, offset, letter):
    with pytest.raises(PatternError) as caught:
        java_pattern(pattern)
    assert caught.value.offset == offset
    assert letter in caught.value.message


@pytest.mark.parametrize(
    ("name", "offset_minutes"),
    [("UTC", 0), ("Z", 0), ("GMT", 0), ("+01:00", 60), ("-0530", -330), ("UTC+2", 120), ("GMT-03:30", -210)],
)
def test_fixed_zones_read_as_java_zone_ids(name, offset_minutes):
    assert time_zone(name).utcoffset(None) == timedelta(minutes=offset_minutes)


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "+19:00", "", "Europe/"])
def test_unknown_zones_are_refused(name):
    with pytest.raises(ValueError):
        time_zone(name)


ROUND_TRIP_PATTERNS = [
    "yyyy-MM-dd HH:mm:ss.SSS",
    "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
    "dd MMMM yyyy hh:mm:ss.SSS a",
    "EEE, d MMM yyyy HH:mm:ss.SSS Z",
    "yyyyDDD HHmmssSSS",
]


@settings(max_examples=200, deadline=None)
@given(
    ms=st.integers(min_value=0, max_value=253370764800000),  # 1970 .. 9998
    pattern=st.sampled_from(ROUND_TRIP_PATTERNS),
    offset=st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_every_moment_formats_and_parses_back_to_itself(ms, pattern, offset):
    zone = timezone(timedelta(minutes=offset))
    moment = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)).astimezone(zone)
    if moment.year < 1000 or moment.year > 9999:
        return
    compiled = java_pattern(pattern)
    assert compiled.parse(compiled.format(moment), zone) == moment
