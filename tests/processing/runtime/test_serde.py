import struct

import pytest

from processing.runtime import serde


def test_long_is_eight_byte_big_endian_like_kafkas_long_serializer():
    assert serde.value_encoder("long")(1) == b"\x00\x00\x00\x00\x00\x00\x00\x01"
    assert serde.value_encoder("long")(-2) == struct.pack(">q", -2)
    assert serde.decoder("long")(struct.pack(">q", -(2**63))) == -(2**63)


def test_double_is_eight_byte_ieee_big_endian():
    assert serde.value_encoder("double")(1.5) == struct.pack(">d", 1.5)
    assert serde.decoder("double")(struct.pack(">d", -0.25)) == -0.25


def test_long_refuses_wrong_length_and_non_integers():
    with pytest.raises(serde.SerdeError, match="8 bytes"):
        serde.decoder("long")(b"\x00\x01")
    with pytest.raises(serde.SerdeError, match="integer"):
        serde.value_encoder("long")(1.5)
    with pytest.raises(serde.SerdeError, match="64-bit"):
        serde.value_encoder("long")(2**63)


def test_json_keys_are_canonical_so_equal_keys_give_equal_bytes():
    encode = serde.key_encoder("json")
    assert encode({"b": 1, "a": [1, 2]}) == encode({"a": [1, 2], "b": 1}) == b'{"a":[1,2],"b":1}'


def test_string_format_writes_structured_keys_as_canonical_json():
    assert serde.key_encoder("string")({"window_start": 0, "key": "k"}) == b'{"key":"k","window_start":0}'
    assert serde.key_encoder("string")("héllo") == "héllo".encode()


def test_null_is_null_on_the_wire_in_every_format():
    for fmt in ("json", "string", "long", "double", "bytes"):
        assert serde.value_encoder(fmt)(None) is None
        assert serde.decoder(fmt)(None) is None


def test_invalid_json_and_utf8_raise_serde_errors():
    with pytest.raises(serde.SerdeError, match="invalid JSON"):
        serde.decoder("json")(b"{nope")
    with pytest.raises(serde.SerdeError, match="UTF-8"):
        serde.decoder("string")(b"\xff\xfe")


def test_murmur2_matches_kafkas_reference_values():
    # Values from Kafka's UtilsTest.testMurmur2.
    assert serde.murmur2(b"21") == -973932308
    assert serde.murmur2(b"foobar") == -790332482
    assert serde.murmur2(b"a-little-bit-long-string") == -985981536
    assert serde.murmur2(b"a-little-bit-longer-string") == -1486304829
    assert serde.murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971
    assert serde.murmur2(b"abc") == 479470107


def test_hashable_keys_round_trip_through_changelog_bytes():
    for key in ("k", 7, 1.5, True, None, {"b": 2, "a": 1}, [1, "x"], b"\x00raw"):
        hkey = serde.hashable_key(key)
        hash(hkey)
        assert serde.key_from_hashable(hkey) == key
        assert serde.hashable_from_bytes(serde.hashable_to_bytes(hkey)) == hkey


def test_a_string_that_looks_like_json_never_collides_with_a_dict_key():
    assert serde.hashable_key('{"a":1}') != serde.hashable_key({"a": 1})


def test_display_keys_are_json_friendly():
    assert serde.display_key(serde.hashable_key("k")) == "k"
    assert (
        serde.display_key(serde.hashable_key({"window_start": 0, "key": "k"}))
        == '{"key":"k","window_start":0}'
    )
    assert serde.display_key(serde.hashable_key(b"\x00")) == '{"$bytes":"AA=="}'
