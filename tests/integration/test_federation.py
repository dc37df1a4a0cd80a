"""Transfers between two journals (ledger.federation) on two SQLite files: hold, credit, complete or
void; the rules each journal's replay checks alone; and ``audit verify A B`` over both bundles, which a
forged cross-reference fails. The crash tests on two PostgreSQL clusters are in test_federation_crash.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from api.cli import main
from ledger.bundle import export_bundle
from ledger.crypto import b64e
from ledger.db import create_schema, make_engine
from ledger.errors import InvalidFederationRecord, MissingSignature
from ledger.federation import Coordinator, Member, cross_checkpoint
from ledger.federation_audit import CrossCheckpoint, PairAudit, verify_pair
from ledger.journal import parse_line, seal
from ledger.model import HoldSettle, Lot, Posting, TxBody
from ledger.replay import RecordCheck, ReplayFailure, replay_lines
from ledger.service import Instruction, journal_lines, new_nonce, sign_body, submit
from tests.federation_support import (
    NINGBO,
    START_KG,
    UNTIL,
    YUYAO,
    coordinator,
    found_journal,
    holding,
    key_of,
    signed_hold,
    units,
)


@dataclass
class Pair:
    a: Member
    b: Member


@pytest.fixture
def pair(tmp_path: Path) -> Pair:
    journals = []
    for j, rights in ((YUYAO, START_KG), (NINGBO, 0)):
        engine = make_engine(f"sqlite:///{tmp_path / j}.db")
        create_schema(engine)
        journals.append(found_journal(engine, j, rights_kg=rights))
    return Pair(*journals)


def audit(pair: Pair, tmp_path: Path, checkpoint: CrossCheckpoint | None = None) -> PairAudit:
    checkpoint = checkpoint or cross_checkpoint([pair.a, pair.b])
    paths = []
    for name, m in (("A", pair.a), ("B", pair.b)):
        with Session(m.engine) as s:
            export_bundle(s, tmp_path / name)
        paths.append(tmp_path / name)
    return verify_pair(
        paths, checkpoint, registry_keys=[pair.a.registry.key.public, pair.b.registry.key.public]
    )


def test_a_transfer_holds_credits_and_completes_so_the_units_exist_once(pair: Pair, tmp_path: Path) -> None:
    result = coordinator(pair.a, pair.b).transfer(signed_hold(pair.a, pair.b, "t1", 7_000))
    assert result.outcome == "completed"
    assert units(pair.a, pair.b) == (START_KG - 7_000, 0, 7_000)
    assert result.credit is not None
    assert result.end.seq == result.hold.seq + 1
    checked = audit(pair, tmp_path)
    assert checked.ok, checked.render()
    assert (checked.cross.completed, checked.cross.voided, checked.cross.in_flight) == (1, 0, 0)
    assert "VERIFIED: both journals" in checked.render()


def test_a_credit_the_destination_refuses_voids_the_hold_and_the_units_stay(
    pair: Pair, tmp_path: Path
) -> None:
    result = coordinator(pair.a, pair.b).transfer(signed_hold(pair.a, pair.b, "t2", 500, receiver="no.such"))
    assert (result.outcome, result.refusal, result.credit) == ("voided", "unknown_account", None)
    assert units(pair.a, pair.b) == (START_KG, 0, 0)
    checked = audit(pair, tmp_path)
    assert checked.ok, checked.render()
    assert checked.cross.voided == 1


def test_the_same_request_sent_again_answers_as_before_and_moves_nothing(pair: Pair) -> None:
    request = signed_hold(pair.a, pair.b, "t3", 1_000)
    first = coordinator(pair.a, pair.b).transfer(request)
    again = coordinator(pair.a, pair.b).transfer(request)
    assert again == first
    assert units(pair.a, pair.b) == (START_KG - 1_000, 0, 1_000)


def test_a_hold_needs_the_sellers_bureau_and_is_controlled_by_the_registry(pair: Pair) -> None:
    request = signed_hold(pair.a, pair.b, "t4", 1_000)
    with pytest.raises(MissingSignature):
        coordinator(pair.a, pair.b).transfer(Instruction(request.body, request.signatures[:1]))
    assert units(pair.a, pair.b) == (START_KG, 0, 0)


def forged_credit(pair: Pair, meta: dict[str, object], amount: int = 300) -> TxBody:
    lot = Lot(jurisdiction=NINGBO, valid_until=UNTIL)
    postings = (
        Posting(f"bureau:{NINGBO}.cap.COD", "COD", lot, -amount),
        Posting(holding(NINGBO), "COD", lot, amount),
    )
    return TxBody("federation.credit", new_nonce(), postings, meta={"federation": meta} if meta else {})


def test_the_destination_refuses_a_credit_that_cites_no_source_record_live_and_in_replay(pair: Pair) -> None:
    body = forged_credit(pair, {})
    ins = Instruction.signed(body, (pair.b.bureau, key_of(pair.b.bureau)))
    with Session(pair.b.engine) as s, pytest.raises(InvalidFederationRecord):
        submit(s, ins, registry=pair.b.registry)
    # sealed by an insider holding the registry key, the record still fails the auditor's replay
    with Session(pair.b.engine) as s:
        lines = list(journal_lines(s))
    last = parse_line(lines[-1])
    record = seal(
        seq=last.seq + 1,
        prev=last.hash,
        time=last.time + timedelta(seconds=1),
        body=body.to_json(),
        sigs=[sign_body(body, pair.b.bureau, key_of(pair.b.bureau))],
        registry=pair.b.registry.key,
    )
    report = replay_lines([*lines, record.line()])
    assert report.failure is not None
    assert (report.failure.seq, report.failure.rule) == (record.seq, "invalid_federation_record")


def test_a_forged_credit_citing_a_hold_it_does_not_match_fails_audit_verify_a_b(
    pair: Pair, tmp_path: Path
) -> None:
    done = coordinator(pair.a, pair.b).transfer(signed_hold(pair.a, pair.b, "t5", 2_000))
    # the destination's insider credits the same transfer a second time, citing the real hold
    meta = {
        "transfer": "t5",
        "source": pair.a.id,
        "hold_seq": done.hold.seq,
        "hold_hash": done.hold.hash,
        "hold": "fed:t5",
        "instrument": "COD",
        "amount": 300,
        "valid_until": UNTIL.isoformat(),
    }
    with Session(pair.b.engine) as s:
        submit(
            s,
            Instruction.signed(forged_credit(pair, meta), (pair.b.bureau, key_of(pair.b.bureau))),
            registry=pair.b.registry,
        )
        s.commit()
    checked = audit(pair, tmp_path)
    assert not checked.ok
    text = "\n".join(checked.cross.problems)
    assert "credits 300 COD" in text
    assert "the hold it cites holds 2000 COD" in text
    assert "transfer t5 is credited 2 times" in text
    assert all(s.ok for s in checked.summaries), "each journal alone still verifies: only the pair shows it"


def test_a_credit_citing_a_hold_that_never_was_fails_audit_verify_a_b(pair: Pair, tmp_path: Path) -> None:
    meta = {
        "transfer": "ghost",
        "source": pair.a.id,
        "hold_seq": 5,
        "hold_hash": "ab" * 32,
        "hold": "fed:ghost",
        "instrument": "COD",
        "amount": 300,
        "valid_until": UNTIL.isoformat(),
    }
    with Session(pair.b.engine) as s:
        submit(
            s,
            Instruction.signed(forged_credit(pair, meta), (pair.b.bureau, key_of(pair.b.bureau))),
            registry=pair.b.registry,
        )
        s.commit()
    checked = audit(pair, tmp_path)
    assert not checked.ok
    assert any("which is not the other journal's hold of transfer ghost" in p for p in checked.cross.problems)


def test_a_cross_checkpoint_not_signed_by_both_registries_fails(pair: Pair, tmp_path: Path) -> None:
    coordinator(pair.a, pair.b).transfer(signed_hold(pair.a, pair.b, "t6", 100))
    good = cross_checkpoint([pair.a, pair.b])
    forged = CrossCheckpoint.sign(good.time, good.journals, [pair.a.registry.key, pair.a.registry.key])
    checked = audit(pair, tmp_path, forged)
    assert not checked.ok
    assert any("is not its registry key" in p for p in checked.checkpoint_problems)
    assert CrossCheckpoint.from_json(good.to_json()) == good


def test_the_pair_audit_gives_each_bundle_fresh_replay_plug_ins_and_fails_on_their_refusal(
    pair: Pair, tmp_path: Path
) -> None:
    coordinator(pair.a, pair.b).transfer(signed_hold(pair.a, pair.b, "t3", 1_000))
    checkpoint = cross_checkpoint([pair.a, pair.b])
    paths = []
    for name, m in (("A", pair.a), ("B", pair.b)):
        with Session(m.engine) as s:
            export_bundle(s, tmp_path / name)
        paths.append(tmp_path / name)
    keys = [pair.a.registry.key.public, pair.b.registry.key.public]
    fed: list[list[str]] = []

    def watching() -> list[RecordCheck]:
        seen: list[str] = []
        fed.append(seen)
        return [lambda _seq, body, _state: seen.append(str(body.get("action"))) or None]

    assert verify_pair(paths, checkpoint, registry_keys=keys, checks=watching).ok
    assert len(fed) == 2, "one fresh set per bundle"
    assert "federation.hold" in fed[0]
    assert "federation.credit" in fed[1]

    def refusing() -> list[RecordCheck]:
        def check(seq: int, body: dict[str, Any], _state: Any) -> ReplayFailure | None:
            cited = body.get("action") == "federation.credit"
            return ReplayFailure(seq, "test_refusal", "refused by the test", {}) if cited else None

        return [check]

    refused = verify_pair(paths, checkpoint, registry_keys=keys, checks=refusing)
    assert not refused.ok
    assert "test_refusal" in refused.render()


def test_the_command_line_signs_the_cross_checkpoint_and_audits_the_pair(
    pair: Pair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    coordinator(pair.a, pair.b).transfer(signed_hold(pair.a, pair.b, "t7", 900))
    journals, keys, bundles = [], [], []
    for name, m in (("A", pair.a), ("B", pair.b)):
        key_file = tmp_path / f"{name}.pem"
        key_file.write_bytes(m.registry.key.to_pem())
        journals += ["--journal", f"{m.engine.url.render_as_string(hide_password=False)}={key_file}"]
        keys.append(f"--registry-key={b64e(m.registry.key.public)}")
        with Session(m.engine) as s:
            export_bundle(s, tmp_path / name)
        bundles.append(str(tmp_path / name))
    statement = str(tmp_path / "cross.json")
    assert main(["federation", "checkpoint", statement, *journals]) == 0
    assert "signed by 2 registries" in capsys.readouterr().out
    assert main(["audit", "verify", *bundles, "--federation-checkpoint", statement, *keys]) == 0
    out = capsys.readouterr().out
    assert "1 completed, 0 voided, 0 in flight" in out
    assert "RESULT        VERIFIED: both journals" in out
    assert out.count("  serials  ") == 2, "each bundle's replay ran the auditor's plug-ins"
    # a statement whose tree head of B was altered: B's replay does not meet it, and the pair fails
    doc = json.loads(Path(statement).read_text())
    doc["journals"][1]["checkpoint"]["root"] = "00" * 32
    Path(statement).write_text(json.dumps(doc))
    assert main(["audit", "verify", *bundles, "--federation-checkpoint", statement, *keys]) == 1
    out = capsys.readouterr().out
    assert "checkpoint_signature" in out
    assert "RESULT        FAILED" in out


class Stop(BaseException):
    """The coordinator dying after the hold committed."""


def test_a_completion_citing_a_credit_the_destination_never_wrote_fails_audit_verify_a_b(
    pair: Pair, tmp_path: Path
) -> None:
    def die_after_hold(step: str) -> None:
        if step == "hold":
            raise Stop

    with pytest.raises(Stop):
        Coordinator(pair.a, pair.b, step=die_after_hold).transfer(signed_hold(pair.a, pair.b, "t8", 400))
    # the source's insider completes the transfer without any credit in the destination
    lot = Lot(jurisdiction=YUYAO, valid_until=UNTIL)
    body = TxBody(
        "federation.complete",
        new_nonce(),
        (Posting(holding(YUYAO), "COD", lot, -400), Posting(f"bureau:{YUYAO}.cap.COD", "COD", lot, 400)),
        (HoldSettle("capture", "fed:t8", 400),),
        meta={
            "federation": {
                "transfer": "t8",
                "destination": pair.b.id,
                "credit_seq": 9,
                "credit_hash": "cd" * 32,
            }
        },
    )
    with Session(pair.a.engine) as s:
        submit(s, Instruction.signed(body, (pair.a.bureau, key_of(pair.a.bureau))), registry=pair.a.registry)
        s.commit()
    assert units(pair.a, pair.b) == (START_KG - 400, 0, 0), "the units are gone from both journals"
    checked = audit(pair, tmp_path)
    assert all(s.ok for s in checked.summaries)
    assert any("completes transfer t8 citing credit 9" in p for p in checked.cross.problems)
    assert "RESULT        FAILED" in checked.render()
