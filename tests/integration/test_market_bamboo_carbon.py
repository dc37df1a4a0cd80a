"""Bamboo forest carbon (竹林碳汇), a second serialized credit, through the same credit workflows as
mussel blue carbon, on both engines: project, monitoring report, issuance, transfer, retirement; the
journal then verifies as an auditor's ``audit verify`` does, methodology check included.

It proves the instrument is one ``INSTRUMENTS`` entry plus a methodology: nothing in the workflow
names ``BBC``; the project's methodology does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from accounts import model as accounts_model
from accounts.demo import DemoParticipant, register_demo
from ledger.audit import verify_bundle
from ledger.bundle import export_bundle
from ledger.journal import parse_line
from ledger.model import parse_body
from ledger.reports import build_reports
from ledger.service import Registry, balances, find_account, init_ledger, journal_lines, replay_database
from ledger.units import instrument
from market.bluecarbon.serials import SerialRange, replay_serials
from market.bluecarbon.service import (
    ProjectSpec,
    issue_credits,
    register_project,
    retire_credits,
    serials_of,
    submit_report,
    transfer_credits,
)
from market.consent import Consent
from market.public.service import public_batches, public_projects
from methodologies.errors import InvalidMonitoringData
from methodologies.registry import get, methodology_check

Demo = dict[str, DemoParticipant]
PROJECT = "AJ-BAMBOO-01"
MUSSELS = "SS-MUSSEL-01"


@pytest.fixture
def demo(engine: Engine, registry: Registry, monkeypatch: pytest.MonkeyPatch) -> Demo:
    """The demo registered as a journal begun before bamboo carbon existed: no bureau has a bamboo cap
    account, so the first issuance must open it."""
    before = tuple(c for c in accounts_model.CAPPED_INSTRUMENTS if c != "BBC")
    monkeypatch.setattr(accounts_model, "CAPPED_INSTRUMENTS", before)
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="ecoledger bamboo carbon test")
        out = register_demo(s, registry=registry)
        s.commit()
    return out


def _keys(demo: Demo) -> Consent:
    return Consent({d.party: d.key for d in demo.values()})


def _bamboo(**changes: Any) -> dict[str, Any]:
    """A year's growth of a 1,000-mu moso stand: 3,000 t to 3,400 t of above-ground dry biomass."""
    data: dict[str, Any] = {
        "project_id": PROJECT,
        "monitoring_start": "2024-01-01",
        "monitoring_end": "2024-12-31",
        "farm_area_mu": "1000",
        "species": "Phyllostachys edulis",
        "biomass_start_kg": "3000000",
        "biomass_end_kg": "3400000",
        "root_shoot_ratio": {"value": "0.5", "source": "plot survey, 30 sample plots, 2024"},
        "baseline_co2_kg": "100000",
    }
    return data | changes


def _mussels() -> dict[str, Any]:
    return {
        "project_id": MUSSELS,
        "monitoring_start": "2023-01-01",
        "monitoring_end": "2023-12-31",
        "farm_area_mu": "100",
        "harvested_wet_kg": "10000",
        "species": "Mytilus coruscus",
    }


def _register(s: Session, demo: Demo, project: str, methodology: str | None = None) -> None:
    spec = ProjectSpec(
        project=project,
        name=f"{project} 示例项目",
        location="舟山示例林地" if methodology else "嵊泗示例海域",
        area_mu=Decimal(1000) if methodology else Decimal(100),
        households=40,
        **({"methodology": methodology} if methodology else {}),
    )
    register_project(s, actor=demo["shengsi_coop"].participant, spec=spec)


def _credits(s: Session, code: str) -> dict[str, int]:
    return {b.account: b.total for b in balances(s) if b.instrument == code and b.total}


def test_a_bamboo_project_issues_transfers_and_retires_credits_and_the_journal_verifies(
    engine: Engine, registry: Registry, demo: Demo, tmp_path: Path
) -> None:
    coop, ship, bureau = demo["shengsi_coop"], demo["zhoushan_ship"], demo["zhoushan"]
    with Session(engine) as s:  # a mussel batch first: both credits share one serial numbering
        _register(s, demo, MUSSELS)
        mussel = submit_report(s, actor=coop.participant, project=MUSSELS, data=_mussels())
        first = issue_credits(
            s, registry=registry, actor=bureau.participant, signed_by=_keys(demo), report=mussel.id
        )
        _register(s, demo, PROJECT, "bamboo-stock-change")
        report = submit_report(s, actor=coop.participant, project=PROJECT, data=_bamboo())
        # growth 400 t, x1.5 with roots and rhizomes, x0.47 C, x44/12 = 1,034 t CO2, less 100 t baseline
        assert report.sink_kg_co2e == 934_000
        issued = issue_credits(
            s, registry=registry, actor=bureau.participant, signed_by=_keys(demo), report=report.id
        )
        s.commit()
    code = get("bamboo-stock-change", "1.0").instrument  # the project's credit is its methodology's
    assert code == "BBC"
    assert instrument(code).serialized
    assert not instrument(code).capped
    assert issued.batch == f"{PROJECT}-2024-1"
    assert (issued.split.issued_t, issued.split.buffer_t, issued.split.owner_t) == (934, 93, 841)
    assert issued.serials == SerialRange(first.serials.end + 1, first.serials.end + 934)
    with Session(engine) as s:
        # the bureau registered before bamboo carbon existed: the first issuance opened its cap
        assert find_account(s, account=f"{bureau.party}.cap.BBC") is not None
        assert _credits(s, "BBC") == {
            f"{bureau.party}.cap.BBC": -934_000,
            f"{bureau.party}.buffer": 93_000,
            f"{coop.party}.holding": 841_000,
        }
        transfer_credits(
            s,
            registry=registry,
            actor=coop.participant,
            signed_by=_keys(demo),
            batch=issued.batch,
            tonnes=300,
            to_account=f"{ship.party}.holding",
        )
        retired = retire_credits(
            s,
            registry=registry,
            actor=ship.participant,
            signed_by=_keys(demo),
            batch=issued.batch,
            tonnes=120,
            beneficiary="舟山示例船舶修造有限公司 2024 年度",
            reason="voluntary offset (自愿抵消)",
        )
        s.commit()
    start = issued.serials.start
    assert retired.serials == (SerialRange(start, start + 119),)  # the lowest serials it received
    with Session(engine) as s:
        assert _credits(s, "BBC")[f"{ship.party}.holding"] == 180_000
        assert _credits(s, "BBC")[f"{ship.party}.retirement"] == 120_000
        assert _credits(s, "BBC")[f"{coop.party}.holding"] == 541_000
        assert _credits(s, "BC")[f"{coop.party}.holding"] > 0  # the mussel credits untouched
        book = replay_serials(parse_body(parse_line(line).body) for line in journal_lines(s))
        live = sorted(b for acc in _credits(s, "BBC") for b in serials_of(s, account=acc))
        assert [b for b in book.blocks() if b.batch == issued.batch] == [
            b for b in live if b.batch == issued.batch
        ]
        report_, diff = replay_database(s)
        assert report_.ok
        assert diff == {}
        export_bundle(s, tmp_path / "bundle")
        projects = {p.project: p.instrument for p in public_projects(s)}
        batches = {b.batch: b.instrument for b in public_batches(s)}
    assert projects == {MUSSELS: "BC", PROJECT: "BBC"}
    assert batches[issued.batch] == "BBC"
    summary = verify_bundle(tmp_path / "bundle", checks=[methodology_check])
    assert summary.ok, summary.failure
    tables = build_reports(tmp_path / "bundle", as_of=datetime(2100, 1, 1, tzinfo=UTC)).tables
    vintages = tables["blue_carbon_vintages"]
    bamboo = vintages[vintages["instrument"] == "BBC"].iloc[0]
    assert (bamboo["vintage"], bamboo["issued_kg_co2e"], bamboo["retired_kg_co2e"]) == (
        2024,
        934_000,
        120_000,
    )
    assert bamboo["buffer_kg_co2e"] == 93_000
    assert set(vintages["instrument"]) == {"BC", "BBC"}
    assert not {"BC", "BBC"} & set(tables["cap_usage"]["instrument"])  # credits count against no cap


def test_bamboo_data_without_a_measured_root_ratio_or_growth_is_refused_per_field(
    engine: Engine, demo: Demo
) -> None:
    coop = demo["shengsi_coop"].participant
    with Session(engine) as s:
        _register(s, demo, PROJECT, "bamboo-stock-change")
        data = _bamboo(biomass_end_kg="2900000")
        del data["root_shoot_ratio"]
        with pytest.raises(InvalidMonitoringData) as caught:
            submit_report(s, actor=coop, project=PROJECT, data=data)
    fields = {p.field for p in caught.value.problems}
    assert {"root_shoot_ratio", "biomass_end_kg"} <= fields
