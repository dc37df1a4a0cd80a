"""Replay's cost per record: each part of a line is encoded once, workers hand back typed bodies,
and the lots a journal repeats are parsed once; none of it changes what replay accepts."""

from __future__ import annotations

from typing import Any

import pytest

import ledger.journal as journal
from ledger.errors import InvalidLot, MalformedRecord
from ledger.journal import parse_line
from ledger.model import Lot, TxBody, parse_body
from ledger.replay_scale import _prepare_batch, _unwire
from tests.unit.test_replay_pure import TRANSFER_SEQ, build


def test_parsing_a_line_encodes_its_body_and_every_other_part_once(monkeypatch: pytest.MonkeyPatch) -> None:
    line = build().lines[TRANSFER_SEQ]
    encoded: list[Any] = []
    real = journal.canonical_bytes_of_decoded

    def counting(value: Any) -> bytes:
        encoded.append(value)
        return real(value)

    monkeypatch.setattr(journal, "canonical_bytes_of_decoded", counting)
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


def test_workers_hand_back_the_typed_body_replay_would_parse() -> None:
    lines = build().lines
    for wire in _prepare_batch(lines, ()):
        prep = _unwire(wire, ())
        assert prep.record is not None
        assert prep.body == parse_body(prep.record.body)


def test_a_worker_leaves_an_invalid_body_for_the_replayer_to_name() -> None:
    lines = build().lines
    rec = parse_line(lines[TRANSFER_SEQ])
    assert isinstance(parse_body(rec.body), TxBody)
    broken = _unwire(
        _prepare_batch([lines[TRANSFER_SEQ].replace(b'"amount":250', b'"amount":0', 1)], ())[0], ()
    )
    assert broken.record is not None
    assert broken.body is None


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
