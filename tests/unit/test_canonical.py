"""RFC 8785 canonical JSON: the encoder's exact bytes and the strict decoder's refusals."""

from __future__ import annotations

import json
import math
import sys
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import (
    MAX_SAFE_INTEGER,
    _check,
    _plain,
    _reference_bytes,
    canonical_bytes,
    canonical_bytes_of_decoded,
    decode_canonical,
    is_canonical,
)
from ledger.errors import MalformedRecord
from ledger.timeutil import format_utc, parse_utc

# --- encoding -------------------------------------------------------------------------------


def test_keys_are_sorted_by_utf16_code_units_so_an_astral_character_sorts_before_u_ffff() -> None:
    # Code point order would put U+FFFF (0xFFFF) before U+1F600; UTF-16 compares the lead
    # surrogate 0xD83D with 0xFFFF, so the emoji-keyed entry comes first.
    assert canonical_bytes({"\uffff": 2, "\U0001f600": 1}) == '{"\U0001f600":1,"\uffff":2}'.encode()


def test_the_rfc_8785_sorting_example_comes_out_in_the_published_order() -> None:
    # RFC 8785 section 3.2.3.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    order = list(json.loads(canonical_bytes(value)).values())
    assert order == [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ]


def test_nested_objects_are_sorted_by_utf16_code_units_too() -> None:
    value = {"z": [{"\uffff": 1, "\U0001f600": 2, "a": 3}], "\U0001f600": {"\uffff": 0, "\U00010000": 0}}
    expected = '{"z":[{"a":3,"\U0001f600":2,"\uffff":1}],"\U0001f600":{"\U00010000":0,"\uffff":0}}'
    assert canonical_bytes(value) == expected.encode()


def test_there_is_no_insignificant_whitespace() -> None:
    value = {"b": {"c": None, "d": [1, 2, True, False]}, "a": "x y"}
    assert canonical_bytes(value) == b'{"a":"x y","b":{"c":null,"d":[1,2,true,false]}}'


def test_a_tuple_is_written_as_an_array() -> None:
    assert canonical_bytes((1, "a", ())) == b'[1,"a",[]]'


def test_the_rfc_8785_string_example_is_escaped_exactly() -> None:
    # RFC 8785 section 3.2.2.2: "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"
    value = "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/"
    assert canonical_bytes(value) == r'''"€$\u000f\nA'B\"\\\\\"/"'''.encode()


_SHORT_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}


@pytest.mark.parametrize("code", range(0x20))
def test_each_control_character_has_its_one_escape_short_or_lowercase_u00xx(code: int) -> None:
    expected = _SHORT_ESCAPES.get(code, f"\\u{code:04x}")
    assert canonical_bytes(chr(code)) == f'"{expected}"'.encode()


def test_the_hex_digits_of_a_control_escape_are_lowercase() -> None:
    assert canonical_bytes("\x1f\x0b") == b'"\\u001f\\u000b"'


def test_non_ascii_text_is_written_as_raw_utf8_not_escaped() -> None:
    text = "排污权 é \x7f \u2028 \U0001f600"
    assert canonical_bytes(text) == b'"' + text.encode("utf-8") + b'"'


def test_booleans_are_written_as_true_and_false_not_as_integers() -> None:
    assert canonical_bytes([True, False, 1, 0]) == b"[true,false,1,0]"


def test_the_largest_safe_integers_are_written_in_full() -> None:
    assert canonical_bytes([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]) == b"[9007199254740991,-9007199254740991]"


@pytest.mark.parametrize("value", [1.0, 0.5, -0.0, {"a": [1.5]}, [1, 2.0]])
def test_a_float_is_refused_by_type(value: object) -> None:
    with pytest.raises(TypeError):
        canonical_bytes(value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused(value: float) -> None:
    with pytest.raises(TypeError):
        canonical_bytes({"x": value})


@pytest.mark.parametrize("value", [2**53, -(2**53), 2**64, {"a": [2**53]}])
def test_an_integer_beyond_two_to_the_53_minus_one_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="safe range"):
        canonical_bytes(value)


@pytest.mark.parametrize("key", [1, True, None, ("a",), b"a"])
def test_a_non_string_object_key_is_refused(key: object) -> None:
    with pytest.raises(TypeError, match="not a string"):
        canonical_bytes({key: 1})


@pytest.mark.parametrize("value", ["\ud800", "a\udfffb", {"\ud83d": 1}, ["ok", "\udc00"]])
def test_a_lone_surrogate_is_refused_in_values_and_keys(value: object) -> None:
    with pytest.raises(ValueError, match="not valid Unicode"):
        canonical_bytes(value)


@pytest.mark.parametrize("value", [b"bytes", {1, 2}, object()])
def test_a_value_json_cannot_hold_is_refused(value: object) -> None:
    with pytest.raises(TypeError):
        canonical_bytes(value)


# --- strict decoding ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b'{"a": 1}', id="space-after-colon"),
        pytest.param(b'{ "a":1}', id="space-after-brace"),
        pytest.param(b"[1, 2]", id="space-after-comma"),
        pytest.param(b" 1", id="leading-space"),
        pytest.param(b"1\n", id="trailing-newline"),
        pytest.param(b'{"b":1,"a":2}', id="reordered-keys"),
        pytest.param('{"\uffff":2,"\U0001f600":1}'.encode(), id="code-point-order-not-utf16"),
        pytest.param(b'{"a":1,"a":1}', id="duplicate-keys-same-value"),
        pytest.param(b'{"a":1,"a":2}', id="duplicate-keys"),
        pytest.param(b"-0", id="minus-zero"),
        pytest.param(b"1.0", id="fraction"),
        pytest.param(b"1e2", id="exponent"),
        pytest.param(b"1E2", id="capital-exponent"),
        pytest.param(b"01", id="leading-zero"),
        pytest.param(b"NaN", id="nan"),
        pytest.param(b"-Infinity", id="infinity"),
        pytest.param(b"9007199254740992", id="unsafe-integer"),
        pytest.param(b"-9007199254740992", id="unsafe-negative-integer"),
        pytest.param(b"1" * 5000, id="five-thousand-digits"),
        pytest.param(b'"\xff"', id="invalid-utf8"),
        pytest.param(b'"\xc0\xaf"', id="overlong-utf8"),
        pytest.param(b'"\xed\xa0\x80"', id="utf8-encoded-surrogate"),
        pytest.param(b"\xef\xbb\xbf1", id="byte-order-mark"),
        pytest.param(b'"\\u0041"', id="needless-escape"),
        pytest.param(b'"\\/"', id="escaped-solidus"),
        pytest.param(b'"\\u001F"', id="uppercase-escape"),
        pytest.param(b'"\\u000a"', id="long-form-of-short-escape"),
        pytest.param(b'"\\ud83d\\ude00"', id="escaped-astral-character"),
        pytest.param(b'"\\ud800"', id="escaped-lone-surrogate"),
        pytest.param(b'"\x01"', id="raw-control-character"),
        pytest.param(b"[1,2,]", id="trailing-comma"),
        pytest.param(b"{}{}", id="two-values"),
        pytest.param(b"", id="empty"),
    ],
)
def test_decode_refuses_anything_that_is_not_exactly_canonical(data: bytes) -> None:
    with pytest.raises(MalformedRecord) as caught:
        decode_canonical(data)
    assert caught.value.field == "$"
    assert not is_canonical(data)


def test_decode_accepts_the_canonical_form_of_every_kind_of_value() -> None:
    data = '{"a":[1,-2,true,false,null,"x\\n\U0001f600"],"b":{},"c":[]}'.encode()
    assert decode_canonical(data) == {"a": [1, -2, True, False, None, "x\n\U0001f600"], "b": {}, "c": []}
    assert is_canonical(data)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.sampled_from("a\x00\x1f\u0080\uffff\ufb33\U0001f600\U00010000é"), max_size=3)
            | st.text(max_size=6),
            children,
            max_size=4,
        )
    ),
    max_leaves=16,
)


@settings(max_examples=150, database=None, deadline=None)
@given(json_values)
def test_decode_accepts_exactly_what_canonical_bytes_produces_and_gives_the_value_back(value: object) -> None:
    data = canonical_bytes(value)
    assert decode_canonical(data) == value
    assert canonical_bytes(decode_canonical(data)) == data
    assert json.loads(data) == value


@settings(max_examples=100, database=None, deadline=None)
@given(st.dictionaries(st.text(max_size=4), st.integers(0, 9), min_size=2, max_size=6))
def test_object_keys_come_out_in_utf16_order_and_any_other_order_is_refused(value: dict[str, int]) -> None:
    data = canonical_bytes(value)
    keys = list(json.loads(data))
    assert keys == sorted(value, key=lambda k: k.encode("utf-16-be"))
    reversed_order = (
        "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{value[k]}" for k in keys[::-1]) + "}"
    )
    assert not is_canonical(reversed_order.encode())


def test_decode_refuses_deep_nesting_with_malformed_record_at_every_depth() -> None:
    for depth in range(max(1, sys.getrecursionlimit() - 300), sys.getrecursionlimit() + 10):
        data = b"[" * depth + b"]" * depth
        try:
            decode_canonical(data)
        except MalformedRecord:
            pass
        except RecursionError:
            pytest.fail(f"a bare RecursionError escaped at nesting depth {depth}")


# --- the native encoder against the reference one ---------------------------------------------


def test_the_native_encoder_writes_every_character_up_to_u_ffff_as_the_reference_encoder_does() -> None:
    # canonical_bytes_of_decoded lets orjson write values whose characters are all within
    # U+FFFF; one differing escape would let a non-canonical record through, so check each one.
    chars = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
    for c in chars:
        assert orjson.dumps(c) == _reference_bytes(c), hex(ord(c))
        assert canonical_bytes({c: [c]}) == _reference_bytes({c: [c]}), hex(ord(c))


@settings(max_examples=300, database=None, deadline=None)
@given(json_values)
def test_the_native_path_and_the_reference_encoder_give_the_same_bytes(value: object) -> None:
    assert canonical_bytes(value) == _reference_bytes(value)


@pytest.mark.parametrize(
    "value",
    [2**53, -(2**53), {"a": 2**60}, "\ud800", {"\U0001f600": 1, "\uffff": 2}, [[[[[]]]]]],
)
def test_what_the_native_encoder_declines_is_encoded_by_the_reference_encoder(value: object) -> None:
    try:
        expected: bytes | type[Exception] = _reference_bytes(value)
    except ValueError:
        expected = ValueError
    if expected is ValueError:
        with pytest.raises(ValueError):
            canonical_bytes_of_decoded(value)
    else:
        assert canonical_bytes_of_decoded(value) == expected


@pytest.mark.parametrize(
    "value",
    [{"a": [1, {"b": None}]}, [True, "x", -MAX_SAFE_INTEGER], {"a": 1.5}, {1: 2}, [2**53], {"a": {"b": {1}}}],
)
def test_the_quick_walk_accepts_exactly_what_the_checked_walk_accepts(value: object) -> None:
    try:
        _check(value, "$")
        accepted = True
    except (TypeError, ValueError):
        accepted = False
    assert _plain(value) is accepted


_NAIVE_BOUND = datetime(1, 1, 2)  # noqa: DTZ001 (hypothesis bounds are naive; one day keeps +08:00 in range)


@settings(max_examples=300, database=None, deadline=None)
@given(
    st.datetimes(timezones=st.just(UTC))
    | st.datetimes(min_value=_NAIVE_BOUND, timezones=st.just(timezone(timedelta(hours=8))))
)
def test_instants_are_written_as_strftime_writes_them_and_read_back(moment: datetime) -> None:
    expected = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert format_utc(moment) == expected
    if moment.astimezone(UTC).year >= 1000:
        assert parse_utc(format_utc(moment)) == moment
