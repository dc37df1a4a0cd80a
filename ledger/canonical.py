"""RFC 8785 (JSON Canonicalization Scheme) for the ledger's values, and a strict decoder.

The ledger's JSON has no floats: integers within +/-(2**53 - 1), strings, booleans, null,
arrays and objects. For those, JCS is JSON with object keys sorted by UTF-16 code units, no
insignificant white space, and ECMAScript string escaping, which this module reproduces.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from ledger.errors import MalformedRecord

__all__ = [
    "MAX_SAFE_INTEGER",
    "canonical_bytes",
    "canonical_bytes_of_decoded",
    "decode_canonical",
    "decode_json",
    "is_canonical",
]

MAX_SAFE_INTEGER = 2**53 - 1
_ASTRAL = re.compile(rb"[\xf0-\xf4]")

_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode


def _plain(value: Any) -> bool:
    """True when ``value`` holds only exact JSON types (no subclasses), string keys and integers
    in the safe range: the common case, checked without building a path for every node. Anything
    else goes to ``_check``, which accepts subclasses and names what it refuses."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        if t is int:
            if -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
                continue
            return False
        if t is dict:
            for k in v:
                if type(k) is not str:
                    return False
            stack.extend(v.values())
        elif t is list or t is tuple:
            stack.extend(v)
        else:
            return False
    return True


def _check(value: Any, path: str) -> None:
    """Refuse what JCS cannot represent exactly: floats, big ints, non-string keys."""
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return
        raise ValueError(f"{path}: integer {value} is outside the I-JSON safe range")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: object key {key!r} is not a string")
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    raise TypeError(f"{path}: {type(value).__name__} has no canonical JSON form (floats never do)")


def _utf16_sorted(value: Any) -> Any:
    """Re-order object keys by UTF-16 code units, as RFC 8785 section 3.2.3 requires.

    Python sorts by code point; the two orders differ only for keys holding characters
    above U+FFFF, so this slow path runs only when such a character is present.
    """
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return _OrderedObject((k, _utf16_sorted(value[k])) for k in keys)
    if isinstance(value, (list, tuple)):
        return [_utf16_sorted(v) for v in value]
    return value


class _OrderedObject(dict[str, Any]):
    """A dict that json's encoder must not re-sort (it is already in UTF-16 order)."""


_ordered_dumps = json.JSONEncoder(
    ensure_ascii=False, sort_keys=False, separators=(",", ":"), allow_nan=False
).encode


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 encoding of ``value`` as UTF-8 bytes; raises on floats and lone surrogates."""
    if not _plain(value):
        _check(value, "$")
    return canonical_bytes_of_decoded(value)


_NATIVE = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def canonical_bytes_of_decoded(value: Any) -> bytes:
    """``canonical_bytes`` of a value ``decode_json`` produced, without walking it for floats, big
    integers or non-string keys first: that decoder refuses them all, and the walk (pure Python)
    cost more than the encoding itself on every replayed record.

    orjson writes these values (no floats) exactly as RFC 8785 does, escapes included, as long as
    every character is within U+FFFF (its keys are sorted by code point, which is UTF-16 order
    there): tests/unit/test_canonical.py compares the two encoders on every code point. Anything
    else it declines (a character above U+FFFF, a lone surrogate, an integer beyond 2**53, deep
    nesting) is encoded by the reference encoder below, as before."""
    try:
        data = orjson.dumps(value, option=_NATIVE)
    except orjson.JSONEncodeError:
        return _reference_bytes(value)
    if data.isascii() or not _ASTRAL.search(data):
        return data
    return _reference_bytes(value)


def _reference_bytes(value: Any) -> bytes:
    text = _dumps(value)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate has no UTF-8 form
        raise ValueError(f"string is not valid Unicode: {exc.reason}") from None
    if not data.isascii() and _ASTRAL.search(data):  # four-byte UTF-8: a character above U+FFFF
        data = _ordered_dumps(_utf16_sorted(value)).encode("utf-8")
    return data


def _no_float(text: str) -> Any:
    raise MalformedRecord(f"non-integer number {text!r} in a ledger record", field="$")


def _safe_int(text: str) -> int:
    value = int(text)
    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise MalformedRecord(f"integer {text} outside the I-JSON safe range", field="$")
    return value


_decoder = json.JSONDecoder(parse_float=_no_float, parse_int=_safe_int, parse_constant=_no_float, strict=True)


def decode_json(data: bytes) -> Any:
    """Parse JSON that may hold no floats and no integers beyond the safe range (not yet checked for
    canonical form); anything else is ``MalformedRecord``."""
    try:
        return _decoder.decode(data.decode("utf-8"))
    except MalformedRecord:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedRecord(f"not valid JSON: {exc}", field="$") from None


def decode_canonical(data: bytes) -> Any:
    """Parse bytes that must already be canonical; anything else is ``MalformedRecord``.

    Re-encoding and comparing catches every deviation at once: white space, key order,
    duplicate keys, escapes, ``-0``, exponents and invalid UTF-8.
    """
    value = decode_json(data)
    try:
        again = canonical_bytes_of_decoded(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise MalformedRecord(f"not canonical: {exc}", field="$") from None
    if again != data:
        raise MalformedRecord("bytes are not in RFC 8785 canonical form", field="$")
    return value


def is_canonical(data: bytes) -> bool:
    try:
        decode_canonical(data)
    except MalformedRecord:
        return False
    return True
