"""Replay's cost per record: each part of a line is encoded once, workers hand back typed bodies,
and the lots a journal repeats are parsed once; none of it changes what replay accepts."""

from __future__ import annotations

from typing import Any

import pytest

import ledger.journal as journal
from ledger.crypto import b64d, b64e
from ledger.errors import InvalidInput, InvalidLot, MalformedRecord
from ledger.journal import parse_line
from ledger.model import Lot, Signature, TxBody, parse_body
from ledger.replay_scale import _prepare_batch, _unwire
from tests.unit.test_replay_pure import TRANSFER_SEQ, build


@pytest.mark.parametrize("path", ["native", "strict"])
def test_parsing_a_line_encodes_its_body_and_every_other_part_once(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    line = build().lines[TRANSFER_SEQ]
    encoded: list[Any] = []
    name = "_canon" if path == "native" else "canonical_bytes_of_decoded"
    real = getattr(journal, name)

    def counting(value: Any) -> bytes:
        encoded.append(value)
        return real(value)

    monkeypatch.setattr(journal, name, counting)
    if path == "strict":
        monkeypatch.setattr(journal, "_fast_assembly", lambda line: None)
    rec = parse_line(line)
    bodies = [v for v in encoded if isinstance(v, dict) and v.get("type") == "tx"]
    assert len(bodies) == 1, "the body is encoded exactly once"
    assert len(encoded) == 6, "body, prev, seq, sigs, time and the seal: one encoding each"
    assert rec.body_bytes in line
    assert line.startswith(b'{"record":{"body":' + rec.body_bytes)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda line: line.replace(b'{"record":', b'{ "record":', 1),
        lambda line: line.replace(b'"prev":', b'"prev" :', 1),
        lambda line: line[:-1] + b',"record":{}}',  # a duplicate key: the decoder keeps the last
        lambda line: line.replace(b'"registry_sig":"', b'"registry_sig":"\\u0041', 1),
    ],
)
def test_a_line_that_is_not_its_canonical_assembly_is_refused(mutate: Any) -> None:
    line = build().lines[TRANSFER_SEQ]
    with pytest.raises(MalformedRecord):
        parse_line(mutate(line))


def _strict(line: bytes, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as m:
        m.setattr(journal, "_fast_assembly", lambda line: None)
        try:
            return parse_line(line)
        except MalformedRecord as exc:
            return ("refused", exc.message)


def test_the_native_path_parses_every_line_of_a_journal_as_the_strict_path_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for line in build().lines:
        assert journal._fast_assembly(line) is not None, "a plain record takes the native path"
        assert parse_line(line) == _strict(line, monkeypatch)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda line: line.replace(b'"amount":250', b'"amount":250.0', 1),  # a float, canonical to orjson
        lambda line: line.replace(b'"amount":250', b'"amount":2.5e2', 1),
        lambda line: line.replace(b'"amount":250', b'"amount":9007199254740993', 1),  # beyond 2**53
        lambda line: line.replace(b'"amount":250', b'"amount":18446744073709551616', 1),  # beyond 2**64
        lambda line: line.replace(b'"amount":250', b'"amount":-0', 1),
        lambda line: line.replace(b'"nonce":"', b'"nonce":"\\u0041', 1),
        lambda line: line.replace(b'"nonce":"', b'"nonce":"\\ud800', 1),  # a lone surrogate
        lambda line: line.replace(b'"meta":{}', b'"meta":{"b":1,"a":2}', 1),  # keys out of order
        lambda line: line.replace(b'"meta":{}', b'"meta":{"a":1,"a":1}', 1),  # a duplicate key
        lambda line: line.replace(b'"meta":{}', '"meta":{"\uffff":1,"\U0001f600":2}'.encode(), 1),
        lambda line: line.replace(b'"meta":{}', b'"meta":{"x":[1.5]}', 1),  # a float first in an array
        lambda line: line.replace(b'"meta":{}', b'"meta":{"x":[1,1E3]}', 1),  # and later in one
        lambda line: line.replace(b'"meta":{}', b'"meta":{"x":"\x01"}', 1),  # a raw control character
        lambda line: line.replace(b'{"record":', b'\xef\xbb\xbf{"record":', 1),
        lambda line: line.replace(b'"meta":{}', b'"meta":{"x":"\xff"}', 1),  # not UTF-8
        lambda line: line + b" ",
    ],
)
def test_the_native_path_declines_what_is_not_canonical_and_the_strict_path_names_it(
    mutate: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = mutate(build().lines[TRANSFER_SEQ])
    assert journal._fast_assembly(bad) is None
    with pytest.raises(MalformedRecord):
        parse_line(bad)


def test_a_canonical_line_whose_strings_look_like_numbers_is_parsed_the_same_either_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Strings holding ":1.5", "[2e3" or ",3.0", and characters above U+FFFF, make the native path
    # step aside; the record is still accepted, by the strict path.
    line = build().lines[TRANSFER_SEQ]
    for value in ['":1.5', "[2e3", "a,3.0", "\U0001f600"]:
        meta = b'"meta":{"note":' + journal._canon(value) + b"}"
        changed = line.replace(b'"meta":{}', meta, 1)
        parsed = _strict(changed, monkeypatch)
        assert journal._fast_assembly(changed) is None
        assert isinstance(parsed, journal.ParsedRecord)
        assert parse_line(changed) == parsed


def test_workers_hand_back_the_body_as_its_bytes_and_the_replayer_types_it() -> None:
    lines = build().lines
    for line, wire in zip(lines, _prepare_batch(lines, ()), strict=True):
        prep = _unwire(wire, ())
        assert prep.record is not None
        assert prep.body is None, "typed bodies cost more to pickle than to parse again"
        assert prep.record == parse_line(line)


def test_a_worker_leaves_an_invalid_body_for_the_replayer_to_name() -> None:
    lines = build().lines
    rec = parse_line(lines[TRANSFER_SEQ])
    assert isinstance(parse_body(rec.body), TxBody)
    broken = _unwire(
        _prepare_batch([lines[TRANSFER_SEQ].replace(b'"amount":250', b'"amount":0', 1)], ())[0], ()
    )
    assert broken.record is not None
    with pytest.raises(InvalidInput):
        parse_body(broken.record.body)


def test_a_lot_parsed_again_is_the_same_lot_and_a_refused_one_is_refused_again() -> None:
    value = {"jurisdiction": "330281", "valid_until": "2030-12-31"}
    first = Lot.parse(dict(value), instrument_code="COD", path="lot")
    again = Lot.parse(dict(value), instrument_code="COD", path="postings[1].lot")
    assert again is first
    assert first.key() == "j=330281;u=2030-12-31"
    for _ in range(2):
        with pytest.raises(InvalidLot) as refused:
            Lot.parse({"valid_until": "2030-12-31"}, instrument_code="COD", path="postings[3].lot")
        assert refused.value.details["field"] == "postings[3].lot.jurisdiction"
    # the same fields for another instrument are checked for that instrument
    with pytest.raises(InvalidLot):
        Lot.parse(dict(value), instrument_code="CNY", path="lot")


def _outcome(parse: Any, *args: Any) -> Any:
    try:
        return parse(*args)
    except (InvalidInput, ValueError) as exc:
        return type(exc).__name__


_SIG = b64e(bytes(range(64)))


@pytest.mark.parametrize(
    "value",
    [
        {"party": "ent:a", "key_id": "k1", "sig": _SIG},
        {"party": "ent:a", "key_id": "k1", "sig": _SIG, "custody": True},
        {"party": "ent:a", "key_id": "k1", "sig": _SIG, "custody": False},
        {"party": "ent:a", "key_id": "k1", "sig": _SIG, "extra": 1},
        {"party": "ent:a", "key_id": "k1", "sig": _SIG + "=="},
        {"party": "ent:a", "key_id": "k1", "sig": _SIG[:-1] + "B"},  # unused low bits set
        {"party": "ent:a", "key_id": "k1", "sig": b64e(bytes(63))},
        {"party": "ent:a", "key_id": "k1", "sig": _SIG.replace("A", "+", 1)},
        {"party": "ent:a", "key_id": "", "sig": _SIG},
        {"party": "ent:a", "key_id": "k" * 65, "sig": _SIG},
        {"party": "ent a", "key_id": "k1", "sig": _SIG},
        {"party": 5, "key_id": "k1", "sig": _SIG},
        {"party": "ent:a", "key_id": "k1", "sig": 5},
        ["ent:a", "k1", _SIG],
    ],
)
def test_a_signature_is_parsed_as_signature_parse_parses_it(value: Any) -> None:
    assert _outcome(journal._signature, value, 0) == _outcome(Signature.parse, value, "record.sigs[0]")


@pytest.mark.parametrize(
    "text", [_SIG, _SIG + "==", _SIG[:-1] + "Q", _SIG[:-1] + "R", _SIG[:-2], "", 5, _SIG.replace("A", "/", 1)]
)
def test_a_seal_is_decoded_as_b64d_decodes_it(text: Any) -> None:
    assert _outcome(journal._signature_bytes, text) == _outcome(lambda t: b64d(t, length=64), text)
