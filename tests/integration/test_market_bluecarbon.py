"""Blue carbon from mussel farming, end to end on both engines: a Shengsi project's monitoring
report verified by the Zhoushan bureau and issued as a vintage batch with serials and a buffer
share; bad data refused per field; transfers and retirements that keep serials exact.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from accounts.demo import DemoParticipant, register_demo
from accounts.errors import PermissionDenied
from ledger.errors import AccountCannotSend, InvalidInput
from ledger.journal import parse_line
from ledger.model import Lot, Posting, TxBody, parse_body
from ledger.service import (
    Instruction,
    Registry,
    balances,
    find_account,
    head_size,
    init_ledger,
    journal_lines,
    new_nonce,
    replay_database,
    submit,
)
from market.bluecarbon.errors import OverlappingMonitoringPeriod, ReportAlreadyIssued, SerialsNotHeld
from market.bluecarbon.serials import SerialBlock, SerialRange, recheck_issuance, replay_serials
from market.bluecarbon.service import (
    ProjectSpec,
    get_batch,
    get_report,
    issue_credits,
    register_project,
    retire_credits,
    serials_of,
    submit_report,
    transfer_credits,
)
from market.bluecarbon.tables import BlueCarbonBatchRow, MonitoringReportRow
from market.consent import Consent
from methodologies.errors import InputHashMismatch, InvalidMonitoringData, QuantityMismatch
from methodologies.registry import recompute

Demo = dict[str, DemoParticipant]
PROJECT = "SS-MUSSEL-01"
COOP_HOLDING = "coop:{}.holding"
BUFFER = "bureau:330900.buffer"


@pytest.fixture
def demo(engine: Engine, registry: Registry) -> Demo:
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="ecoledger blue carbon test")
        out = register_demo(s, registry=registry)
        s.commit()
    return out


def _keys(demo: Demo) -> dict[str, Any]:
    return {d.party: d.key for d in demo.values()}


def _data(**changes: Any) -> dict[str, Any]:
    """A year of harvest from the Shengsi raft farms: 2,000 kg of fresh mussel per mu."""
    data: dict[str, Any] = {
        "project_id": PROJECT,
        "monitoring_start": "2023-01-01",
        "monitoring_end": "2023-12-31",
        "farm_area_mu": "22000",
        "harvested_wet_kg": "44000000",
        "species": "Mytilus coruscus",
    }
    return data | changes


def _project(s: Session, demo: Demo) -> None:
    spec = ProjectSpec(
        project=PROJECT,
        name="嵊泗贻贝养殖碳汇项目（示例）",
        location="嵊泗列岛贻贝养殖海域",
        area_mu=Decimal("22000"),
        households=518,
    )
    register_project(s, actor=demo["shengsi_coop"].participant, spec=spec)


def _issued(engine: Engine, registry: Registry, demo: Demo, data: dict[str, Any] | None = None) -> Any:
    with Session(engine) as s:
        _project(s, demo)
        report = submit_report(
            s, actor=demo["shengsi_coop"].participant, project=PROJECT, data=data or _data()
        )
        issuance = issue_credits(
            s,
            registry=registry,
            actor=demo["zhoushan"].participant,
            signed_by=Consent(_keys(demo)),
            report=report.id,
        )
        s.commit()
    return issuance


def _bc(s: Session) -> dict[str, int]:
    return {b.account: b.total for b in balances(s) if b.instrument == "BC"}


def test_a_shengsi_mussel_project_is_verified_and_issued_with_its_buffer_share_and_serials(
    engine: Engine, registry: Registry, demo: Demo
) -> None:
    coop = demo["shengsi_coop"].party
    issuance = _issued(engine, registry, demo)
    # 44,000 t fresh -> 17,640.388 t CO2e -> 17,640 whole tonnes; 10% buffer = 1,764 t (rounded down)
    assert issuance.batch == f"{PROJECT}-2023-1"
    assert (issuance.split.issued_t, issuance.split.buffer_t, issuance.split.owner_t) == (
        17_640,
        1_764,
        15_876,
    )
    assert issuance.serials == SerialRange(1, 17_640)
    assert issuance.lot.jurisdiction == "330900"
    assert issuance.lot.vintage == 2023
    with Session(engine) as s:
        assert _bc(s) == {
            "bureau:330900.cap.BC": -17_640_000,
            f"{coop}.holding": 15_876_000,
            BUFFER: 1_764_000,
        }
        assert serials_of(s, account=f"{coop}.holding") == [
            SerialBlock(issuance.batch, 1, 15_876, f"{coop}.holding")
        ]
        assert serials_of(s, account=BUFFER) == [SerialBlock(issuance.batch, 15_877, 17_640, BUFFER)]
        report = get_report(s, report=f"{PROJECT}-R1")
        assert report.status == "issued"
        assert report.batch == issuance.batch
        steps = {step["name"]: step["value"] for step in report.result["steps"]}
        assert steps["dry_kg"] == "33123200"
        assert steps["co2_kg"].startswith("17640388.")
        batch = get_batch(s, batch=issuance.batch)
        assert (batch.serial_start, batch.serial_end, batch.buffer_kg) == (1, 17_640, 1_764_000)
    meta = issuance.meta
    assert meta["project_info"]["households"] == 518
    assert meta["project_info"]["area_mu"] == "22000"
    assert {
        "methodology",
        "version",
        "inputs",
        "input_hash",
        "sink_kg_co2e",
        "serial_start",
        "serial_end",
    } <= set(meta)
    assert recompute(meta).sink_kg_co2e == 17_640_388
    assert recheck_issuance(meta).issued_kg == 17_640_000


def test_a_recorded_issuance_whose_inputs_or_quantity_were_altered_does_not_recompute(
    engine: Engine, registry: Registry, demo: Demo
) -> None:
    meta = _issued(engine, registry, demo).meta
    with pytest.raises(InputHashMismatch):
        recheck_issuance(meta | {"inputs": meta["inputs"] | {"harvested_wet_kg": "45000000"}})
    with pytest.raises(QuantityMismatch):
        recheck_issuance(meta | {"issued_kg": meta["issued_kg"] + 1000})


def test_later_batches_continue_the_serial_numbers_and_count_per_vintage(
    engine: Engine, registry: Registry, demo: Demo
) -> None:
    first = _issued(engine, registry, demo, _data(monitoring_end="2023-06-30", harvested_wet_kg="10000000"))
    coop, bureau = demo["shengsi_coop"].participant, demo["zhoushan"].participant
    with Session(engine) as s:
        second = submit_report(s, actor=coop, project=PROJECT, data=_data(monitoring_start="2023-07-01"))
        third = submit_report(
            s,
            actor=coop,
            project=PROJECT,
            data=_data(monitoring_start="2024-01-01", monitoring_end="2024-12-31"),
        )
        b2 = issue_credits(
            s, registry=registry, actor=bureau, signed_by=Consent(_keys(demo)), report=second.id, buffer_bps=0
        )
        b3 = issue_credits(
            s, registry=registry, actor=bureau, signed_by=Consent(_keys(demo)), report=third.id
        )
        s.commit()
    assert (first.batch, b2.batch, b3.batch) == (
        f"{PROJECT}-2023-1",
        f"{PROJECT}-2023-2",
        f"{PROJECT}-2024-1",
    )
    assert b2.serials.start == first.serials.end + 1
    assert b3.serials.start == b2.serials.end + 1
    assert b2.split.buffer_t == 0


def test_bad_monitoring_data_is_refused_with_a_message_per_field_and_nothing_stored(
    engine: Engine, demo: Demo
) -> None:
    bad = _data(
        harvested_wet_kg="-5",
        farm_area_mu="0",
        species="Perna viridis",
        overrides={"dry_wet_ratio": {"value": "0.99", "source": "our own scale"}},
    )
    with Session(engine) as s:
        _project(s, demo)
        with pytest.raises(InvalidMonitoringData) as exc:
            submit_report(s, actor=demo["shengsi_coop"].participant, project=PROJECT, data=bad)
        problems = {p.field: p.message for p in exc.value.problems}
        assert set(problems) == {"harvested_wet_kg", "farm_area_mu", "species", "overrides.dry_wet_ratio"}
        assert "greater than 0" in problems["harvested_wet_kg"]
        assert "greater than 0" in problems["farm_area_mu"]
        assert "Mytilus coruscus" in problems["species"]
        assert "outside the plausible range" in problems["overrides.dry_wet_ratio"]
        with pytest.raises(InvalidMonitoringData) as exc:
            submit_report(
                s,
                actor=demo["shengsi_coop"].participant,
                project=PROJECT,
                data=_data(project_id="OTHER-FARM", farm_area_mu="30000", harvested_wet_kg="1000"),
            )
        assert {p.field for p in exc.value.problems} == {"project_id", "farm_area_mu"}
        assert s.exec(select(MonitoringReportRow)).all() == []


def test_overlapping_periods_and_a_second_issuance_of_one_report_are_refused(
    engine: Engine, registry: Registry, demo: Demo
) -> None:
    _issued(engine, registry, demo)
    coop = demo["shengsi_coop"].participant
    with Session(engine) as s:
        with pytest.raises(OverlappingMonitoringPeriod):
            submit_report(
                s,
                actor=coop,
                project=PROJECT,
                data=_data(monitoring_start="2023-12-31", monitoring_end="2024-03-31"),
            )
        size = head_size(s)
        with pytest.raises(ReportAlreadyIssued):
            issue_credits(
                s,
                registry=registry,
                actor=demo["zhoushan"].participant,
                signed_by=Consent(_keys(demo)),
                report=f"{PROJECT}-R1",
            )
        assert head_size(s) == size


def test_only_the_bureau_over_the_project_issues_and_only_the_owner_reports(
    engine: Engine, registry: Registry, demo: Demo
) -> None:
    with Session(engine) as s:
        _project(s, demo)
        with pytest.raises(PermissionDenied) as refused:
            submit_report(s, actor=demo["zhoushan_ship"].participant, project=PROJECT, data=_data())
        assert refused.value.rule == "own_project_only"
        report = submit_report(s, actor=demo["shengsi_coop"].participant, project=PROJECT, data=_data())
        size = head_size(s)
        for alias, rule in (
            ("wenzhou", "bureau_own_jurisdiction"),
            ("province", "bureau_own_jurisdiction"),
            ("shengsi_coop", "action_not_granted_to_role"),
        ):
            with pytest.raises(PermissionDenied) as refused:
                issue_credits(
                    s,
                    registry=registry,
                    actor=demo[alias].participant,
                    signed_by=Consent(_keys(demo)),
                    report=report.id,
                )
            assert refused.value.rule == rule
        assert head_size(s) == size
        assert get_report(s, report=report.id).status == "submitted"


def test_transfers_move_the_lowest_serials_and_blocks_split_and_merge(
    engine: Engine, registry: Registry, demo: Demo
) -> None:
    batch = _issued(engine, registry, demo).batch
    coop, ship = demo["shengsi_coop"], demo["zhoushan_ship"]
    ship_holding = f"{ship.party}.holding"
    with Session(engine) as s:
        first = transfer_credits(
            s,
            registry=registry,
            actor=coop.participant,
            signed_by=Consent(_keys(demo)),
            batch=batch,
            tonnes=100,
            to_account=ship_holding,
        )
        transfer_credits(
            s,
            registry=registry,
            actor=coop.participant,
            signed_by=Consent(_keys(demo)),
            batch=batch,
            tonnes=50,
            to_account=ship_holding,
        )
        back = transfer_credits(
            s,
            registry=registry,
            actor=ship.participant,
            signed_by=Consent(_keys(demo)),
            batch=batch,
            tonnes=30,
            to_account=f"{coop.party}.holding",
        )
        s.commit()
    assert first.serials == (SerialRange(1, 100),)
    assert back.serials == (SerialRange(1, 30),)
    with Session(engine) as s:
        assert [(b.start, b.end) for b in serials_of(s, account=ship_holding)] == [(31, 150)]
        assert [(b.start, b.end) for b in serials_of(s, account=f"{coop.party}.holding")] == [
            (1, 30),
            (151, 15_876),
        ]
        with pytest.raises(SerialsNotHeld):
            transfer_credits(
                s,
                registry=registry,
                actor=ship.participant,
                signed_by=Consent(_keys(demo)),
                batch=batch,
                tonnes=121,
                to_account=f"{coop.party}.holding",
            )
        with pytest.raises(InvalidInput):
            transfer_credits(
                s,
                registry=registry,
                actor=ship.participant,
                signed_by=Consent(_keys(demo)),
                batch=batch,
                tonnes=0,
                to_account=f"{coop.party}.holding",
            )


def test_retired_serials_are_recorded_and_never_move_again(
    engine: Engine, registry: Registry, demo: Demo
) -> None:
    batch = _issued(engine, registry, demo).batch
    coop = demo["shengsi_coop"]
    retirement = f"{coop.party}.retirement"
    with Session(engine) as s:
        retired = retire_credits(
            s,
            registry=registry,
            actor=coop.participant,
            signed_by=Consent(_keys(demo)),
            batch=batch,
            tonnes=10,
            beneficiary="舟山示例船舶修造有限公司",
            reason="2023 年度碳中和",
        )
        s.commit()
    assert retired.serials == (SerialRange(1, 10),)
    with Session(engine) as s:
        line = next(journal_lines(s, start=retired.receipt.seq, stop=retired.receipt.seq + 1))
        meta = parse_line(line).body["meta"]
        assert meta["serials"] == [[1, 10]]
        assert meta["beneficiary"] == "舟山示例船舶修造有限公司"
        lot = get_batch(s, batch=batch)
        bc_lot = Lot(jurisdiction=lot.jurisdiction, vintage=lot.vintage, batch=batch)
        escape = TxBody(
            "bc.transfer",
            new_nonce(),
            (Posting(retirement, "BC", bc_lot, -1000), Posting(f"{coop.party}.holding", "BC", bc_lot, 1000)),
        )
        with pytest.raises(AccountCannotSend):
            submit(s, Instruction.signed(escape, (coop.party, coop.key)), registry=registry)
        assert serials_of(s, account=retirement) == [SerialBlock(batch, 1, 10, retirement)]


def test_the_journal_replays_to_the_same_serial_blocks_and_balances(
    engine: Engine, registry: Registry, demo: Demo
) -> None:
    batch = _issued(engine, registry, demo).batch
    coop, ship = demo["shengsi_coop"], demo["zhoushan_ship"]
    with Session(engine) as s:
        transfer_credits(
            s,
            registry=registry,
            actor=coop.participant,
            signed_by=Consent(_keys(demo)),
            batch=batch,
            tonnes=700,
            to_account=f"{ship.party}.holding",
        )
        retire_credits(
            s,
            registry=registry,
            actor=ship.participant,
            signed_by=Consent(_keys(demo)),
            batch=batch,
            tonnes=200,
            beneficiary="x",
            reason="y",
        )
        s.commit()
    with Session(engine) as s:
        book = replay_serials(parse_body(parse_line(line).body) for line in journal_lines(s))
        live = sorted(
            b
            for acc in {b.account for b in balances(s) if b.instrument == "BC"}
            for b in serials_of(s, account=acc)
        )
        assert book.blocks() == live
        report, diff = replay_database(s)
        assert report.ok
        assert diff == {}


def test_a_fault_mid_issuance_leaves_no_record_no_buffer_account_and_no_batch(
    engine: Engine, registry: Registry, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("disk full while writing serial blocks")

    monkeypatch.setattr("market.bluecarbon.service._write_blocks", broken)
    with Session(engine) as s:
        _project(s, demo)
        report = submit_report(s, actor=demo["shengsi_coop"].participant, project=PROJECT, data=_data())
        size = head_size(s)
        with pytest.raises(RuntimeError):
            issue_credits(
                s,
                registry=registry,
                actor=demo["zhoushan"].participant,
                signed_by=Consent(_keys(demo)),
                report=report.id,
            )
        s.commit()  # even a caller that commits after the failure keeps nothing of it
    with Session(engine) as s:
        assert head_size(s) == size
        assert find_account(s, account=BUFFER) is None
        assert get_report(s, report=report.id).status == "submitted"
        assert s.exec(select(BlueCarbonBatchRow)).all() == []
        assert _bc(s) == {}
