"""The journal record: its canonical bytes, its hash link and the registry's seal.

A record's *core* is ``{seq, prev, time, body, sigs}`` in RFC 8785 form; its hash is
SHA-256 over a tagged core, the next record's ``prev``, and the Merkle leaf. The registry
signs the hash. A bundle line is the canonical ``{"record": core, "registry_sig": ...}``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from ledger.canonical import canonical_bytes, canonical_bytes_of_decoded, decode_json
from ledger.crypto import TAG_RECORD, TAG_REGISTRY, SigningKey, b64d, b64e, sha256, tagged
from ledger.errors import InvalidInput, MalformedRecord
from ledger.merkle import leaf_hash
from ledger.model import Signature, check_id
from ledger.timeutil import format_utc, parse_utc

__all__ = ["GENESIS_PREV", "ParsedRecord", "SealedRecord", "parse_line", "seal"]

GENESIS_PREV = bytes(32)


@dataclass(frozen=True, slots=True)
class SealedRecord:
    """A record as the registry commits it."""

    seq: int
    time: datetime
    core: bytes
    hash: bytes
    registry_sig: bytes

    @property
    def leaf(self) -> bytes:
        return leaf_hash(self.hash)

    def line(self) -> bytes:
        """The bundle form; embedding the core keeps the auditor's bytes identical to ours."""
        return b'{"record":' + self.core + b',"registry_sig":"' + b64e(self.registry_sig).encode() + b'"}'


def record_hash(core: bytes) -> bytes:
    return sha256(tagged(TAG_RECORD, core))


def seal(
    *,
    seq: int,
    prev: bytes,
    time: datetime,
    body: dict[str, Any],
    sigs: Sequence[Signature],
    registry: SigningKey,
    body_bytes: bytes | None = None,
    stamp: str | None = None,
) -> SealedRecord:
    """Seal a record. ``body_bytes``, when the caller already has ``canonical_bytes(body)``,
    is spliced in rather than encoded again (the hot path; a test checks both agree); so is
    ``stamp``, ``format_utc(time)``, which the registry also stores beside the record."""
    if body_bytes is None:
        body_bytes = canonical_bytes(body)
    if stamp is None:
        stamp = format_utc(time)
    # RFC 8785 key order of the core: body, prev, seq, sigs, time.
    core = b"".join(
        (
            b'{"body":',
            body_bytes,
            b',"prev":"',
            prev.hex().encode(),
            b'","seq":',
            str(seq).encode(),
            b',"sigs":',
            canonical_bytes([s.to_json() for s in sigs]),
            b',"time":"',
            stamp.encode(),
            b'"}',
        )
    )
    digest = record_hash(core)
    return SealedRecord(seq, time, core, digest, registry.sign(TAG_REGISTRY, digest))


class ParsedRecord(NamedTuple):
    """A bundle line taken apart and checked for form (not yet for meaning). A named tuple, not a
    frozen dataclass: as immutable, and made in a third of the time, once per record replayed."""

    seq: int
    prev: bytes
    time: datetime
    body: dict[str, Any]
    body_bytes: bytes
    sigs: tuple[Signature, ...]
    hash: bytes
    registry_sig: bytes


def parse_line(line: bytes) -> ParsedRecord:
    """Strictly parse one bundle line; any deviation from canonical form is ``MalformedRecord``.

    Canonical form is proven by encoding each part once (the body, the signatures, the scalars) and
    comparing the line assembled from them, as ``seal`` assembles it, with the line itself: the body
    bytes and the core come out of that proof, so no part of a record is encoded twice.
    """
    proven = _fast_assembly(line)
    if proven is not None:
        outer, core, body_bytes = proven
        core_obj = outer["record"]
    else:  # the strict path decides, and names, everything the fast one did not prove
        outer = decode_json(line)
        if not isinstance(outer, dict) or set(outer) != {"record", "registry_sig"}:
            _require_canonical(line, outer)
            raise MalformedRecord("a line holds exactly record and registry_sig", field="$")
        core_obj = outer["record"]
        if not isinstance(core_obj, dict) or set(core_obj) != _CORE_KEYS:
            _require_canonical(line, outer)
            raise MalformedRecord("a record holds exactly seq, prev, time, body, sigs", field="record")
        core, body_bytes = _assemble(line, core_obj, outer["registry_sig"])
    seq, prev, time = core_obj["seq"], core_obj["prev"], core_obj["time"]
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise MalformedRecord("seq must be a non-negative integer", field="record.seq")
    try:
        prev_bytes = bytes.fromhex(prev) if isinstance(prev, str) and len(prev) == 64 else b""
        when = parse_utc(time)
        registry_sig = _signature_bytes(outer["registry_sig"])
    except ValueError as exc:
        raise MalformedRecord(f"bad field: {exc}", field="record") from None
    if len(prev_bytes) != 32 or prev != prev_bytes.hex():
        raise MalformedRecord("prev must be 64 lowercase hex digits", field="record.prev")
    body = core_obj["body"]
    if not isinstance(body, dict) or not isinstance(core_obj["sigs"], list):
        raise MalformedRecord("body must be an object and sigs a list", field="record.body")
    try:
        sigs = tuple(_signature(s, i) for i, s in enumerate(core_obj["sigs"]))
    except Exception as exc:  # an InvalidInput here is a malformed record, not bad user input
        raise MalformedRecord(str(exc), field="record.sigs") from None
    return ParsedRecord(
        seq=seq,
        prev=prev_bytes,
        time=when,
        body=body,
        body_bytes=body_bytes,
        sigs=sigs,
        hash=record_hash(core),
        registry_sig=registry_sig,
    )


# The canonical unpadded base64url of 64 bytes: 85 characters and one carrying 2 bits, whose 4
# unused low bits are zero; exactly the texts ``b64d(text, length=64)`` accepts.
_SIGNATURE_TEXT = re.compile(r"[A-Za-z0-9_-]{85}[AQgw]").fullmatch
_SIGNATURE_KEYS = frozenset({"party", "key_id", "sig"})


def _signature_bytes(text: Any) -> bytes:
    if type(text) is str and _SIGNATURE_TEXT(text):
        return base64.urlsafe_b64decode(text + "==")
    return b64d(text, length=64)  # accepts nothing more; names what is wrong


def _signature(value: Any, i: int) -> Signature:
    """``Signature.parse`` of a party signature, taking the common shape (no custody flag) directly;
    anything else, accepted or refused, is left to ``Signature.parse`` itself."""
    if type(value) is dict and value.keys() == _SIGNATURE_KEYS:
        party, key_id, sig = value["party"], value["key_id"], value["sig"]
        if type(key_id) is str and 0 < len(key_id) <= 64 and type(sig) is str and _SIGNATURE_TEXT(sig):
            try:
                check_id(party, field="party")
            except InvalidInput:
                pass
            else:
                return Signature(party, key_id, base64.urlsafe_b64decode(sig + "=="))
    return Signature.parse(value, f"record.sigs[{i}]")


_CORE_KEYS = frozenset({"seq", "prev", "time", "body", "sigs"})
_OUTER_KEYS = frozenset({"record", "registry_sig"})
# A number that is not an integer: digits followed by a fraction or an exponent. In a canonical
# line a number starts right after a key's closing quote and colon, an opening bracket or (in an
# array) a comma; a string may hold the same characters, and then the fast path merely steps aside.
# Three searches, each led by a literal, scan several times faster than one with alternatives.
_AFTER_KEY, _FIRST_ITEM, _NEXT_ITEM = (
    re.compile(lead + rb"-?[0-9]+[.eE]").search for lead in (rb'":', rb"\[", rb",")
)
_ASTRAL = re.compile(rb"[\xf0-\xf4]")
_SORTED_SAFE = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def _canon(value: Any) -> bytes:
    """orjson's encoding with sorted keys, refusing integers beyond +/-(2**53 - 1). For the values a
    line can decode to once floats and characters above U+FFFF are ruled out, this is byte for
    byte ``canonical_bytes_of_decoded`` (tests/unit/test_replay_encoding.py checks every code point,
    key order and the integer bounds)."""
    return orjson.dumps(value, option=_SORTED_SAFE)


def _fast_assembly(line: bytes) -> tuple[dict[str, Any], bytes, bytes] | None:
    """The decoded line, its core and its body's bytes when a native decoder and encoder prove the
    line canonical; None whenever they cannot (then the strict path, which names the fault,
    decides). It only ever accepts: floats (the pattern above), big integers (the encoder refuses
    them), duplicate keys, escapes, white space and order (the bytes differ) and key order under
    UTF-16 (no astral characters) all fall through to the strict path."""
    if _AFTER_KEY(line) or _FIRST_ITEM(line) or _NEXT_ITEM(line):
        return None
    if not line.isascii() and _ASTRAL.search(line):
        return None
    try:
        outer = orjson.loads(line)
        if type(outer) is not dict or outer.keys() != _OUTER_KEYS:
            return None
        core_obj = outer["record"]
        if type(core_obj) is not dict or core_obj.keys() != _CORE_KEYS:
            return None
        body_bytes = _canon(core_obj["body"])
        core = b"".join(
            (
                b'{"body":',
                body_bytes,
                b',"prev":',
                _canon(core_obj["prev"]),
                b',"seq":',
                _canon(core_obj["seq"]),
                b',"sigs":',
                _canon(core_obj["sigs"]),
                b',"time":',
                _canon(core_obj["time"]),
                b"}",
            )
        )
        whole = b'{"record":' + core + b',"registry_sig":' + _canon(outer["registry_sig"]) + b"}"
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, RecursionError):
        return None
    return (outer, core, body_bytes) if whole == line else None


def _assemble(line: bytes, core_obj: dict[str, Any], registry_sig: Any) -> tuple[bytes, bytes]:
    """The core and the body's bytes, once the line is proven to be their canonical assembly."""
    try:
        body_bytes = canonical_bytes_of_decoded(core_obj["body"])
        core = b"".join(
            (
                b'{"body":',
                body_bytes,
                b',"prev":',
                canonical_bytes_of_decoded(core_obj["prev"]),
                b',"seq":',
                canonical_bytes_of_decoded(core_obj["seq"]),
                b',"sigs":',
                canonical_bytes_of_decoded(core_obj["sigs"]),
                b',"time":',
                canonical_bytes_of_decoded(core_obj["time"]),
                b"}",
            )
        )
        whole = b'{"record":' + core + b',"registry_sig":' + canonical_bytes_of_decoded(registry_sig) + b"}"
    except (TypeError, ValueError, RecursionError) as exc:
        raise MalformedRecord(f"not canonical: {exc}", field="$") from None
    if whole != line:
        raise MalformedRecord("bytes are not in RFC 8785 canonical form", field="$")
    return core, body_bytes


def _require_canonical(line: bytes, value: Any) -> None:
    # A line of the wrong shape is first of all refused as non-canonical when it is that too.
    try:
        again = canonical_bytes_of_decoded(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise MalformedRecord(f"not canonical: {exc}", field="$") from None
    if again != line:
        raise MalformedRecord("bytes are not in RFC 8785 canonical form", field="$")
