"""The ``integer`` format: Kafka's IntegerSerializer (4-byte big-endian), ksqlDB's KAFKA ``INT`` key."""

import pytest

from processing.runtime.serde import SerdeError, key_encoder
from processing.runtime.serde import decoder as key_decoder


def test_integer_keys_are_four_big_endian_bytes_both_ways():
    encode, decode = key_encoder("integer"), key_decoder("integer")
    assert encode(1) == b"\x00\x00\x00\x01"
    assert encode(-2) == b"\xff\xff\xff\xfe"
    assert decode(b"\x00\x00\x01\x00") == 256
    assert decode(None) is None and encode(None) is None


@pytest.mark.parametrize("bad", [2**31, "7", 1.5, True])
def test_values_an_integer_cannot_hold_are_refused(bad):
    with pytest.raises(SerdeError):
        key_encoder("integer")(bad)


def test_a_long_is_not_read_as_an_integer():
    with pytest.raises(SerdeError, match="4 bytes"):
        key_decoder("integer")(b"\x00" * 8)
