"""The serial book in the auditor's replay, on both engines: a real blue-carbon journal (issue, transfer,
retire) verifies with its serials rebuilt, and a record re-sealed with the registry's own key whose
serials conflict fails ``ecoledger audit verify`` at that record with the serial book's code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from accounts.demo import DemoParticipant, register_demo
from api.cli import main
from ledger.audit import verify_bundle
from ledger.bundle import export_bundle, write_bundle
from ledger.crypto import b64e
from ledger.journal import parse_line, seal
from ledger.model import Posting, TxBody, parse_body
from ledger.replay import ReplayFailure
from ledger.service import Registry, init_ledger, journal_lines, new_nonce, replay_database, sign_body
from market.bluecarbon.serial_audit import SerialAudit
from market.bluecarbon.serials import replay_serials
from market.bluecarbon.service import (
    Issuance,
    ProjectSpec,
    issue_credits,
    register_project,
    retire_credits,
    serials_of,
    submit_report,
    transfer_credits,
)
from market.consent import Consent
from methodologies.registry import methodology_check

PROJECT = "SS-MUSSEL-01"
# 44,000 t of fresh mussel: 17,640 t CO2e, serials 1-15,876 to the cooperative, 15,877-17,640 to the buffer
DATA = {
    "project_id": PROJECT,
    "monitoring_start": "2023-01-01",
    "monitoring_end": "2023-12-31",
    "farm_area_mu": "22000",
    "harvested_wet_kg": "44000000",
    "species": "Mytilus coruscus",
}


@dataclass
class Journal:
    engine: Engine
    registry: Registry
    demo: dict[str, DemoParticipant]
    issuance: Issuance

    def account(self, alias: str, kind: str = "holding") -> str:
        return f"{self.demo[alias].party}.{kind}"

    def lines(self) -> list[bytes]:
        with Session(self.engine) as s:
            return list(journal_lines(s))

    def forged(self, body: TxBody, alias: str) -> tuple[int, list[bytes]]:
        """The journal plus ``body``, signed by ``alias`` and sealed with the registry's own key (an
        insider holding both): every signature and hash link verifies."""
        lines = self.lines()
        last = parse_line(lines[-1])
        signer = self.demo[alias]
        record = seal(
            seq=last.seq + 1,
            prev=last.hash,
            time=last.time + timedelta(seconds=1),
            body=body.to_json(),
            sigs=[sign_body(body, signer.party, signer.key)],
            registry=self.registry.key,
        )
        return record.seq, [*lines, record.line()]


@pytest.fixture
def journal(engine: Engine, registry: Registry) -> Journal:
    """Issued to the Shengsi cooperative; 700 t transferred to a shipyard, which retires 200 t."""
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="ecoledger serial audit test")
        demo = register_demo(s, registry=registry)
        keys = Consent({d.party: d.key for d in demo.values()})
        coop, ship = demo["shengsi_coop"].participant, demo["zhoushan_ship"].participant
        spec = ProjectSpec(PROJECT, "嵊泗贻贝养殖碳汇项目（示例）", "嵊泗列岛", Decimal("22000"), 518)
        register_project(s, actor=coop, spec=spec)
        report = submit_report(s, actor=coop, project=PROJECT, data=DATA)
        bureau = demo["zhoushan"].participant
        issued = issue_credits(s, registry=registry, actor=bureau, signed_by=keys, report=report.id)
        to_ship = f"{ship.party}.holding"
        batch = issued.batch
        transfer_credits(
            s, registry=registry, actor=coop, signed_by=keys, batch=batch, tonnes=700, to_account=to_ship
        )
        retire_credits(
            s,
            registry=registry,
            actor=ship,
            signed_by=keys,
            batch=batch,
            tonnes=200,
            beneficiary="舟山示例船舶修造有限公司 2023 年度",
            reason="voluntary offset (自愿抵消)",
        )
        s.commit()
    return Journal(engine, registry, demo, issued)


def test_a_real_journal_verifies_with_its_serial_book_rebuilt(
    journal: Journal, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Session(journal.engine) as s:
        export_bundle(s, tmp_path / "bundle")
    key = b64e(journal.registry.key.public)
    for _ in range(2):  # the second run starts from an empty book: nothing of the first carries over
        capsys.readouterr()
        assert main(["audit", "verify", str(tmp_path / "bundle"), f"--registry-key={key}"]) == 0
        out = capsys.readouterr().out
        assert "VERIFIED" in out
        # issue, transfer, retire; the cooperative's, the shipyard's two and the buffer's: 4 blocks
        assert (
            "  serials       17,640 serials of 1 batch rebuilt over 3 records: 4 blocks, 200 retired" in out
        )
    audit = SerialAudit()
    assert verify_bundle(tmp_path / "bundle", checks=[audit]).ok
    with Session(journal.engine) as s:
        accounts = {b.account for b in audit.book.blocks()}
        live = sorted(b for a in accounts for b in serials_of(s, account=a))
    assert audit.book.blocks() == live
    assert (
        audit.book.blocks()
        == replay_serials(parse_body(parse_line(x).body) for x in journal.lines()).blocks()
    )
    assert audit.book.sinks == {journal.account("zhoushan_ship", "retirement")}  # found in the replay's state


def _lying_transfer(j: Journal) -> tuple[TxBody, str]:
    """The cooperative moves 100 t but names serials of the buffer pool, which it does not hold."""
    lot = j.issuance.lot
    body = TxBody(
        "bc.transfer",
        new_nonce(),
        (
            Posting(j.account("shengsi_coop"), "BC", lot, -100_000),
            Posting(j.account("zhoushan_ship"), "BC", lot, 100_000),
        ),
        signers=(j.demo["shengsi_coop"].party,),
        meta={"batch": j.issuance.batch, "tonnes": 100, "serials": [[15_877, 15_976]]},
    )
    return body, "shengsi_coop"


def _double_issuance(j: Journal) -> tuple[TxBody, str]:
    """The issuance again as a new batch over the same serials 1-17,640 (its methodology recomputes)."""
    issued = parse_body(parse_line(j.lines()[j.issuance.receipt.seq]).body)
    assert isinstance(issued, TxBody)
    lot = replace(j.issuance.lot, batch=f"{PROJECT}-2023-9")
    body = replace(
        issued,
        nonce=new_nonce(),
        postings=tuple(replace(p, lot=lot) for p in issued.postings),
        meta={**issued.meta, "batch": lot.batch},
    )
    return body, "zhoushan"


@pytest.mark.parametrize(
    ("forge", "says", "workers"),
    [
        (_lying_transfer, "meta.serials differs from the serials the postings move", "1"),
        (_double_issuance, "must start at serial 17641", "2"),
    ],
    ids=["serials-not-held", "double-issuance"],
)
def test_a_resealed_record_whose_serials_conflict_fails_audit_verify_at_that_record(
    journal: Journal,
    forge: Callable[[Journal], tuple[TxBody, str]],
    says: str,
    workers: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seq, lines = journal.forged(*forge(journal))
    bundle = tmp_path / "bundle"
    write_bundle(bundle, lines, [])
    key = journal.registry.key.public
    assert verify_bundle(bundle, registry_key=key, checks=[methodology_check]).ok  # every other rule holds
    capsys.readouterr()
    assert main(["audit", "verify", str(bundle), f"--registry-key={b64e(key)}", "--workers", workers]) == 1
    out = capsys.readouterr().out
    assert f"record        {seq}" in out
    assert "rule          serial_range_conflict" in out
    assert says in out
    args = ["--as-of", "2099-12-31", "--out", str(tmp_path / "r"), f"--registry-key={b64e(key)}"]
    assert main(["audit", "report", str(bundle), *args]) == 1  # the as-of reports replay it too
    assert f"record {seq}: serial_range_conflict" in capsys.readouterr().out


def test_ecoledger_verify_rebuilds_the_serial_book_of_the_stored_journal(
    journal: Journal, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``ecoledger verify`` (the stored journal, no bundle) runs the same plug-ins as ``audit verify``."""
    audit = SerialAudit()
    with Session(journal.engine) as s:
        report, diff = replay_database(s, checks=[audit])
    assert report.ok, report.failure
    assert diff == {}
    assert (
        audit.summary_line()[1] == "17,640 serials of 1 batch rebuilt over 3 records: 4 blocks, 200 retired"
    )

    def refuse_transfers(seq: int, body: dict[str, Any], _state: Any) -> ReplayFailure | None:
        refused = body.get("action") == "bc.transfer"
        return ReplayFailure(seq, "test_refusal", "refused by the test", {}) if refused else None

    with Session(journal.engine) as s:
        report, _ = replay_database(s, checks=[refuse_transfers])
    assert report.failure is not None
    assert report.failure.rule == "test_refusal"
    assert parse_body(parse_line(journal.lines()[report.failure.seq]).body).action == "bc.transfer"
    if journal.engine.dialect.name == "sqlite":  # the command itself, on the same file
        key = tmp_path / "registry-key.pem"
        key.write_bytes(journal.registry.key.to_pem())
        capsys.readouterr()
        url = journal.engine.url.render_as_string(hide_password=False)
        assert main(["--db", url, "--key", str(key), "verify"]) == 0
        out = capsys.readouterr().out
        assert "serials: 17,640 serials of 1 batch rebuilt over 3 records" in out
