"""Fuzz the canonical decoder, the line parser and replay: they never crash and never accept a bad record.

Inputs: arbitrary bytes and one-change mutations of a real signed journal; hypothesis prints failures (P9).
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from ledger.canonical import MAX_SAFE_INTEGER, canonical_bytes, decode_canonical
from ledger.checkpoint import Checkpoint
from ledger.crypto import TAG_REGISTRY, SigningKey, b64e, verify
from ledger.db import create_schema, make_engine
from ledger.errors import MalformedRecord
from ledger.journal import GENESIS_PREV, parse_line, record_hash, seal
from ledger.model import Signature
from ledger.replay import replay_lines
from ledger.service import Registry, checkpoints, journal_lines, make_checkpoint
from tests.support import World, transfer

REGISTRY_KEY = SigningKey.from_seed(bytes(range(32)))
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Journal:
    lines: tuple[bytes, ...]
    checkpoints: dict[int, Checkpoint]


@cache
def journal() -> Journal:
    """A small real journal (about 25 records) with checkpoints, the last covering every record."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'fuzz.db'}")
        create_schema(engine)
        registry = Registry(REGISTRY_KEY, checkpoint_every=8)
        world = World.create(engine, registry)
        world.issue("ent:a.h", 500)
        world.issue("ent:b.h", 300)
        world.submit(transfer("ent:a.h", "ent:b.h", 120), "ent:a")
        world.submit(transfer("ent:b.h", "bank:x.h", 7), "ent:b")
        with Session(engine) as s:
            make_checkpoint(s, registry=registry)
            s.commit()
            lines = tuple(journal_lines(s))
            cps = {cp.tree_size: cp for cp in checkpoints(s)}
        engine.dispose()
    assert replay_lines(lines, cps).ok
    assert max(cps) == len(lines)
    return Journal(lines, cps)


@cache
def hand_sealed_lines() -> tuple[bytes, ...]:
    """Lines sealed directly, for shapes the journal lacks: custody signatures, astral and escaped text."""
    party_key = SigningKey.from_seed(b"fuzz-party".ljust(32, b"\x00"))
    sig = Signature("ent:a", party_key.key_id, party_key.sign(b"x", b"y"), custody=True)
    body = {
        "type": "tx",
        "action": "t\u00e9st",
        "nonce": '\U0001f600"\\\n',
        "meta": {"\uffff": 1, "\U00010000": [True, None]},
    }
    when = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    return tuple(
        seal(seq=seq, prev=prev, time=when, body=body, sigs=sigs, registry=REGISTRY_KEY).line()
        for seq, prev, sigs in [
            (0, GENESIS_PREV, ()),
            (41, bytes(range(32)), (sig,)),
            (MAX_SAFE_INTEGER, b"\xff" * 32, (sig, sig)),
        ]
    )


# --- strategies ------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)
json_ish_text = st.text(
    alphabet=st.sampled_from([*'{}[]",:-+.0123456789eEtrufalsn \\/u\t\x00\x7f', "\u00e9", "\U0001f600"]),
    max_size=60,
)
SIGNIFICANT = b' "\\{}[]:,0-1eE.ntfu\n\x00\x80\xff'


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with one byte flipped, inserted, deleted or replaced, or cut short."""
    op = draw(st.sampled_from(["flip", "insert", "delete", "replace", "truncate"]))
    if not data:
        return draw(st.binary(min_size=1, max_size=4))
    pos = draw(st.integers(0, len(data) - 1))
    if op == "flip":
        return data[:pos] + bytes([data[pos] ^ draw(st.integers(1, 255))]) + data[pos + 1 :]
    if op == "insert":
        byte = draw(st.sampled_from(list(SIGNIFICANT)) | st.integers(0, 255))
        return data[:pos] + bytes([byte]) + data[pos:]
    if op == "delete":
        return data[:pos] + data[pos + 1 :]
    if op == "replace":
        return data[:pos] + bytes([draw(st.sampled_from(list(SIGNIFICANT)))]) + data[pos + 1 :]
    return data[:pos]


def depths_near_the_recursion_limit() -> range:
    """Every nesting depth where the JSON decoder may just succeed and the re-encoder just fail."""
    frames, frame = 0, sys._getframe()
    while frame.f_back is not None:
        frames, frame = frames + 1, frame.f_back
    limit = sys.getrecursionlimit()
    return range(max(1, limit - frames - 50), limit + 50)


def decoded_or_refused(data: bytes) -> Any:
    """The decoder's whole contract: the value of exactly-canonical bytes, or ``MalformedRecord``."""
    try:
        value = decode_canonical(data)
    except MalformedRecord:
        return None
    assert canonical_bytes(value) == data, data
    return value


# --- (a) the canonical decoder ---------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=200))
def test_the_decoder_takes_arbitrary_bytes_only_as_exactly_canonical_json_or_refuses_them(
    data: bytes,
) -> None:
    decoded_or_refused(data)


@FUZZ
@given(json_ish_text)
def test_the_decoder_takes_json_like_text_only_as_exactly_canonical_json_or_refuses_it(text: str) -> None:
    decoded_or_refused(text.encode("utf-8"))


@FUZZ
@given(st.data())
def test_the_decoder_refuses_a_mutated_canonical_encoding_unless_it_is_canonical_again(
    data: st.DataObject,
) -> None:
    value = data.draw(json_values)
    original = canonical_bytes(value)
    assert decode_canonical(original) == value
    decoded_or_refused(data.draw(mutated(original)))


def test_the_decoder_refuses_or_accepts_nested_arrays_and_objects_at_every_depth_without_crashing() -> None:
    # Found by this file: at the one depth the JSON decoder manages and the re-encoder does not,
    # RecursionError used to escape decode_canonical.
    for depth in depths_near_the_recursion_limit():
        decoded_or_refused(b"[" * depth + b"]" * depth)
        decoded_or_refused(b'{"a":' * depth + b"1" + b"}" * depth)


# --- (b) the line parser ---------------------------------------------------------------------------------


def parsed_or_refused(line: bytes, original: bytes | None = None) -> None:
    """parse_line returns or raises MalformedRecord; a changed line it takes fails the registry's seal."""
    try:
        rec = parse_line(line)
    except MalformedRecord:
        return
    if original is not None and line != original:
        assert not verify(REGISTRY_KEY.public, TAG_REGISTRY, rec.hash, rec.registry_sig), line


@FUZZ
@given(st.binary(max_size=300))
def test_the_line_parser_takes_arbitrary_bytes_without_crashing(data: bytes) -> None:
    parsed_or_refused(data)


@FUZZ
@given(st.data())
def test_a_mutated_sealed_line_is_refused_or_fails_the_registry_seal(data: st.DataObject) -> None:
    original = data.draw(st.sampled_from(journal().lines + hand_sealed_lines()))
    rec = parse_line(original)
    assert verify(REGISTRY_KEY.public, TAG_REGISTRY, rec.hash, rec.registry_sig)
    parsed_or_refused(data.draw(mutated(original)), original)


@pytest.mark.parametrize(
    "spelling", ["2030-01-02t03:04:05.678901Z", "\u0662\u0660\u0663\u0660-01-02T03:04:05.678901Z"]
)
def test_a_record_whose_time_is_not_spelled_as_format_utc_writes_it_is_refused(spelling: str) -> None:
    core = canonical_bytes({"seq": 1, "prev": "00" * 32, "time": spelling, "body": {}, "sigs": []})
    sig = REGISTRY_KEY.sign(TAG_REGISTRY, record_hash(core))
    line = b'{"record":' + core + b',"registry_sig":"' + b64e(sig).encode() + b'"}'
    with pytest.raises(MalformedRecord):
        parse_line(line)


# --- (c) replay ------------------------------------------------------------------------------------------


@st.composite
def mutated_journal(draw: st.DrawFn) -> tuple[str, list[bytes]]:
    """The journal with ONE change: a byte flipped anywhere in the bundle (newlines too), a line
    deleted, duplicated or truncated, or two lines swapped."""
    lines = list(journal().lines)
    op = draw(st.sampled_from(["flip", "delete", "duplicate", "swap", "truncate"]))
    i = draw(st.integers(0, len(lines) - 1))
    if op == "flip":
        bundle = b"\n".join(lines)
        pos = draw(st.integers(0, len(bundle) - 1))
        bundle = bundle[:pos] + bytes([bundle[pos] ^ draw(st.integers(1, 255))]) + bundle[pos + 1 :]
        return op, bundle.split(b"\n")
    if op == "delete":
        del lines[i]
    elif op == "duplicate":
        lines.insert(i, lines[i])
    elif op == "swap":
        j = draw(st.integers(0, len(lines) - 1).filter(lambda j: j != i))
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines[i] = lines[i][: draw(st.integers(0, len(lines[i]) - 1))]
    return op, lines


def first_difference(a: list[bytes], b: list[bytes]) -> int:
    return next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


@FUZZ
@given(mutated_journal())
def test_replay_names_the_first_changed_record_of_a_journal_with_one_mutation(
    case: tuple[str, list[bytes]],
) -> None:
    op, lines = case
    original = list(journal().lines)
    report = replay_lines(lines, journal().checkpoints)
    if lines == original:
        assert report.ok
        return
    assert report.failure is not None, f"{op}: a changed journal replayed clean"
    assert report.failure.seq == first_difference(original, lines), (op, str(report.failure))


def test_the_unmutated_journal_replays_clean_and_every_checkpoint_verifies() -> None:
    report = replay_lines(journal().lines, journal().checkpoints)
    assert report.ok
    assert report.checkpoints_verified == len(journal().checkpoints) >= 2


def test_replay_reports_a_deeply_nested_line_as_malformed_instead_of_crashing() -> None:
    # The same depth used to crash replay: Replayer.feed catches DomainError, not RecursionError.
    for depth in depths_near_the_recursion_limit():
        line = b'{"record":' + b"[" * depth + b"]" * depth + b',"registry_sig":"x"}'
        report = replay_lines([line])
        assert report.failure is not None
        assert report.failure.seq == 0
