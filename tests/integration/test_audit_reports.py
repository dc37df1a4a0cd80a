"""As-of reports rebuilt from a bundle: holdings, auctions, pledges, cap use and blue carbon.

The journal is sealed by hand so that the dates are known: the report as of 31 October 2025
(China Standard Time) must not see the trade made on 1 December.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledger.bundle import write_bundle
from ledger.canonical import canonical_bytes
from ledger.checkpoint import Checkpoint
from ledger.crypto import TAG_BODY, SigningKey
from ledger.journal import GENESIS_PREV, SealedRecord, seal
from ledger.merkle import Frontier
from ledger.model import (
    AccountKind,
    Body,
    Genesis,
    HoldPlace,
    HoldSettle,
    Lot,
    OpenAccount,
    Posting,
    RegisterKey,
    RegisterParty,
    Signature,
    TxBody,
)
from ledger.reports import ReportError, build_reports, escape_cell, parse_as_of

REGISTRY = SigningKey.from_seed(b"R" * 32)
COD = Lot(jurisdiction="330281", valid_until=date(2030, 12, 31))
BC23 = Lot(vintage=2023, batch="ZS-SHENGSI-001")
BC24 = Lot(vintage=2024, batch="ZS-SHENGSI-002")
CNY = Lot()
YUYAO, ZHOUSHAN = "bureau:330281", "bureau:330902"
PARTIES: dict[str, dict[str, Any]] = {
    YUYAO: {"name": "余姚市生态环境局", "division": "330281"},
    ZHOUSHAN: {"name": "舟山市生态环境局", "division": "330902"},
    "ent:a": {"name": '=HYPERLINK("http://evil.example","click")'},
    "ent:b": {"name": "宁波 dyeing"},
    "bank:x": {"name": "demo bank"},
    "farm:coop": {"name": "嵊泗 mussel cooperative"},
    "gateway": {"name": "CNY gateway"},
}
KEYS = {p: SigningKey.from_seed(p.encode().ljust(32, b"-")[:32]) for p in PARTIES}
ACCOUNTS = [
    (f"{YUYAO}.cap.COD", YUYAO, AccountKind.ISSUANCE),
    (f"{YUYAO}.reserve", YUYAO, AccountKind.RESERVE),
    (f"{YUYAO}.cash", YUYAO, AccountKind.CASH),
    (f"{ZHOUSHAN}.cap.BC", ZHOUSHAN, AccountKind.ISSUANCE),
    (f"{ZHOUSHAN}.buffer", ZHOUSHAN, AccountKind.BUFFER),
    ("ent:a.holding", "ent:a", AccountKind.HOLDING),
    ("ent:a.cash", "ent:a", AccountKind.CASH),
    ("ent:b.holding", "ent:b", AccountKind.HOLDING),
    ("ent:b.cash", "ent:b", AccountKind.CASH),
    ("ent:b.retirement", "ent:b", AccountKind.RETIREMENT),
    ("farm:coop.holding", "farm:coop", AccountKind.HOLDING),
    ("gateway.cny", "gateway", AccountKind.SETTLEMENT),
]
AS_OF = "2025-10-31"


def at(month: int, day: int) -> datetime:
    return datetime(2025, month, day, 2, 0, tzinfo=UTC)


def tx(action: str, nonce: str, legs: list[tuple[str, str, Lot, int]], **kw: Any) -> TxBody:
    return TxBody(action, nonce, tuple(Posting(a, i, lot, n) for a, i, lot, n in legs), **kw)


class Builder:
    def __init__(self) -> None:
        self.records: list[SealedRecord] = []
        self.frontier = Frontier()
        self.checkpoints: list[Checkpoint] = []

    def add(self, when: datetime, body: Body, *signers: str) -> None:
        raw = body.to_json()
        sigs = [Signature(p, KEYS[p].key_id, KEYS[p].sign(TAG_BODY, canonical_bytes(raw))) for p in signers]
        prev = self.records[-1].hash if self.records else GENESIS_PREV
        rec = seal(seq=len(self.records), prev=prev, time=when, body=raw, sigs=sigs, registry=REGISTRY)
        self.records.append(rec)
        self.frontier.append(rec.leaf)
        if self.frontier.size % 10 == 0:
            self.checkpoints.append(
                Checkpoint.sign(
                    tree_size=self.frontier.size, root=self.frontier.root(), time=when, key=REGISTRY
                )
            )


def scenario() -> Builder:
    b, t0 = Builder(), at(1, 2)
    b.add(t0, Genesis("report test registry", REGISTRY.key_id, REGISTRY.public, "g"))
    for party, profile in PARTIES.items():
        b.add(t0, RegisterParty(party, party.split(":")[0], profile, f"p-{party}"))
        b.add(t0, RegisterKey(party, KEYS[party].key_id, KEYS[party].public, t0, f"k-{party}"))
    for account, owner, kind in ACCOUNTS:
        b.add(t0, OpenAccount(account, owner, kind, f"o-{account}"))
    reserve, cap = f"{YUYAO}.reserve", f"{YUYAO}.cap.COD"
    b.add(
        at(3, 1),
        tx("issuance.reserve", "i1", [(cap, "COD", COD, -100_000), (reserve, "COD", COD, 100_000)]),
        YUYAO,
    )
    for ent in ("ent:a", "ent:b"):
        b.add(
            at(3, 2),
            tx(
                "cash.deposit",
                f"f-{ent}",
                [("gateway.cny", "CNY", CNY, -50_000_000), (f"{ent}.cash", "CNY", CNY, 50_000_000)],
            ),
            "gateway",
        )
    clearing = {
        "auction_id": "YY-2025-01",
        "design": "zhejiang_online",
        "clearing_price_fen_per_t": 450_000,
        "sold_kg": 20_000,
    }
    b.add(
        at(4, 1),
        tx(
            "auction.settle",
            "a1",
            [
                (reserve, "COD", COD, -20_000),
                ("ent:a.holding", "COD", COD, 20_000),
                ("ent:a.cash", "CNY", CNY, -9_000_000),
                (f"{YUYAO}.cash", "CNY", CNY, 9_000_000),
            ],
            meta=clearing,
        ),
        YUYAO,
        "ent:a",
    )
    allocations = [
        {"bidder": "ent:b", "quantity_kg": 6_000, "price_fen_per_t": 480_000, "amount_fen": 2_880_000},
        {"bidder": "ent:b", "quantity_kg": 4_000, "price_fen_per_t": 470_000, "amount_fen": 1_880_000},
    ]
    b.add(
        at(5, 1),
        tx(
            "auction.settle",
            "a2",
            [
                (reserve, "COD", COD, -10_000),
                ("ent:b.holding", "COD", COD, 10_000),
                ("ent:b.cash", "CNY", CNY, -4_760_000),
                (f"{YUYAO}.cash", "CNY", CNY, 4_760_000),
            ],
            meta={"auction_id": "YY-2025-02", "design": "pay_as_bid", "allocations": allocations},
        ),
        YUYAO,
        "ent:b",
    )
    b.add(
        at(5, 2),
        tx(
            "auction.open",
            "a3",
            [],
            holds=(HoldPlace("dep-1", "ent:a.cash", "CNY", CNY, 100, "deposit", YUYAO),),
            meta={"auction_id": "YY-2025-03"},
        ),
        "ent:a",
    )
    pledge = HoldPlace("pledge-1", "ent:a.holding", "COD", COD, 15_000, "pledge", "bank:x")
    b.add(
        at(6, 1),
        TxBody("pledge.register", "pl1", holds=(pledge,), meta={"loan_amount_fen": 20_000_000}),
        "ent:a",
    )
    short = HoldPlace("pledge-2", "ent:b.holding", "COD", COD, 5_000, "pledge", "bank:x")
    b.add(at(6, 2), TxBody("pledge.register", "pl2", holds=(short,)), "ent:b")
    b.add(
        at(7, 1),
        TxBody("pledge.release", "pl2r", holds=(HoldSettle("release", "pledge-2", 5_000),)),
        "bank:x",
    )
    bc_cap, farm = f"{ZHOUSHAN}.cap.BC", "farm:coop.holding"
    b.add(
        at(8, 1),
        tx(
            "issuance.blue_carbon",
            "bc1",
            [
                (bc_cap, "BC", BC23, -5_000),
                (farm, "BC", BC23, 4_500),
                (f"{ZHOUSHAN}.buffer", "BC", BC23, 500),
            ],
        ),
        ZHOUSHAN,
    )
    b.add(
        at(8, 2),
        tx("issuance.blue_carbon", "bc2", [(bc_cap, "BC", BC24, -8_000), (farm, "BC", BC24, 8_000)]),
        ZHOUSHAN,
    )
    b.add(
        at(9, 1),
        tx("transfer", "t1", [(farm, "BC", BC23, -3_000), ("ent:b.holding", "BC", BC23, 3_000)]),
        "farm:coop",
    )
    b.add(
        at(9, 2),
        tx(
            "retirement",
            "r1",
            [("ent:b.holding", "BC", BC23, -2_000), ("ent:b.retirement", "BC", BC23, 2_000)],
        ),
        "ent:b",
    )
    b.add(
        at(12, 1),
        tx("transfer", "late", [("ent:a.holding", "COD", COD, -1_000), ("ent:b.holding", "COD", COD, 1_000)]),
        "ent:a",
    )
    return b


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    b = scenario()
    out = tmp_path_factory.mktemp("reports") / "bundle"
    write_bundle(out, [r.line() for r in b.records], b.checkpoints)
    return out


def row(frame: Any, **where: Any) -> dict[str, Any]:
    match = frame
    for column, value in where.items():
        match = match[match[column] == value]
    assert len(match) == 1, (where, match)
    return dict(match.iloc[0])


def test_as_of_a_date_means_the_end_of_that_day_in_china_standard_time() -> None:
    assert parse_as_of("2025-10-31") == datetime(2025, 10, 31, 16, 0, tzinfo=UTC)
    assert parse_as_of("2025-10-31T08:00:00+08:00") == datetime(2025, 10, 31, 0, 0, 0, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="offset"):
        parse_as_of("2025-10-31T08:00:00")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_as_of("31/10/2025")


def test_holdings_are_those_at_the_date_not_after(bundle: Path) -> None:
    reports = build_reports(bundle, as_of=parse_as_of(AS_OF), registry_key=REGISTRY.public)
    holdings = reports.tables["holdings"]
    a = row(holdings, participant="ent:a", instrument="COD")
    assert (a["total_minor"], a["held_minor"], a["available_minor"]) == (20_000, 15_000, 5_000)
    assert a["total"] == Decimal("20.000")
    assert row(holdings, participant="ent:b", instrument="COD")["total_minor"] == 10_000  # not 11,000
    assert row(holdings, participant=YUYAO, instrument="COD")["total_minor"] == 70_000  # the reserve
    assert row(holdings, participant="ent:b", instrument="BC")["total_minor"] == 1_000  # 3 t in, 2 t retired
    assert not (holdings["participant"] == "gateway").any()  # a gateway's negative balance is no holding


def test_auction_history_reads_clearing_prices_and_allocations(bundle: Path) -> None:
    auctions = build_reports(bundle, as_of=parse_as_of(AS_OF)).tables["auctions"]
    assert list(auctions["auction_id"]) == ["YY-2025-01", "YY-2025-02"]  # the deposit record has no price
    first = row(auctions, auction_id="YY-2025-01")
    assert (first["clearing_price_fen_per_t"], first["price_cny_per_t"], first["price_source"]) == (
        450_000,
        Decimal("4500.00"),
        "clearing",
    )
    second = row(auctions, auction_id="YY-2025-02")
    assert (
        second["average_price_fen_per_t"],
        second["min_price_fen_per_t"],
        second["max_price_fen_per_t"],
    ) == (
        476_000,
        470_000,
        480_000,
    )
    assert (second["sold_kg"], second["instrument"], second["jurisdiction"]) == (10_000, "COD", "330281")


def test_pledges_outstanding_are_the_open_ones_by_bank(bundle: Path) -> None:
    tables = build_reports(bundle, as_of=parse_as_of(AS_OF)).tables
    pledges = tables["pledges"]
    assert list(pledges["hold"]) == ["pledge-1"]
    only = row(pledges, hold="pledge-1")
    assert (only["bank"], only["pledgor"], only["amount_kg"], only["loan_amount_fen"]) == (
        "bank:x",
        "ent:a",
        15_000,
        20_000_000,
    )
    by_bank = row(tables["pledges_by_bank"], bank="bank:x")
    assert (by_bank["pledges"], by_bank["amount_t"], by_bank["loan_amount_fen"]) == (
        1,
        Decimal("15.000"),
        20_000_000,
    )


def test_cap_use_per_city_is_the_cap_in_force_less_the_reserve(bundle: Path) -> None:
    caps = build_reports(bundle, as_of=parse_as_of(AS_OF)).tables["cap_usage"]
    yuyao = row(caps, jurisdiction="330281", instrument="COD")
    assert (yuyao["cap_in_force_kg"], yuyao["reserve_kg"], yuyao["used_kg"]) == (100_000, 70_000, 30_000)
    assert (yuyao["used_pct"], yuyao["bureau"], yuyao["bureau_name"]) == (
        Decimal("30.0"),
        YUYAO,
        "余姚市生态环境局",
    )
    assert len(caps) == 1  # blue carbon has no jurisdiction cap


def test_blue_carbon_is_counted_by_vintage(bundle: Path) -> None:
    bc = build_reports(bundle, as_of=parse_as_of(AS_OF)).tables["blue_carbon_vintages"]
    v23 = row(bc, vintage=2023)
    assert (
        v23["issued_kg_co2e"],
        v23["retired_kg_co2e"],
        v23["buffer_kg_co2e"],
        v23["outstanding_kg_co2e"],
    ) == (
        5_000,
        2_000,
        500,
        3_000,
    )
    assert v23["retired_pct"] == Decimal("40.0")
    assert row(bc, vintage=2024)["issued_t_co2e"] == Decimal("8.000")


def test_an_earlier_date_sees_less(bundle: Path) -> None:
    tables = build_reports(bundle, as_of=parse_as_of("2025-04-30")).tables
    assert list(tables["auctions"]["auction_id"]) == ["YY-2025-01"]
    assert tables["pledges"].empty
    assert tables["blue_carbon_vintages"].empty


def test_the_files_are_excel_friendly_and_escape_formulas(bundle: Path, tmp_path: Path) -> None:
    reports = build_reports(bundle, as_of=parse_as_of(AS_OF))
    written = reports.write(tmp_path / "out")
    names = {p.name for p in written}
    assert {
        "holdings.csv",
        "auctions.csv",
        "pledges_by_bank.csv",
        "cap_usage.csv",
        "blue_carbon_vintages.csv",
    } <= names
    assert {"price_history.png", "cap_use.png", "report.json"} <= names
    raw = (tmp_path / "out" / "holdings.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads the Chinese names as UTF-8
    text = raw.decode("utf-8-sig")
    assert "'=HYPERLINK" in text
    assert ",=HYPERLINK" not in text
    assert "余姚市生态环境局" in text
    for png in ("price_history.png", "cap_use.png"):
        assert (tmp_path / "out" / png).read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("ok", "ok"),
        (-5, -5),
    ],
)
def test_cells_that_a_spreadsheet_would_run_are_escaped_and_numbers_are_not(
    value: Any, expected: Any
) -> None:
    assert escape_cell(value) == expected


def test_no_report_is_made_from_a_bundle_that_fails_before_the_date(bundle: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(bundle, bad)
    lines = (bad / "journal.jsonl").read_bytes().splitlines()
    seq = next(i for i, line in enumerate(lines) if b'"amount":-20000' in line)
    lines[seq] = lines[seq].replace(b'"amount":-20000', b'"amount":-2000')
    (bad / "journal.jsonl").write_bytes(b"".join(x + b"\n" for x in lines))
    with pytest.raises(ReportError, match=f"record {seq}: registry_signature"):
        build_reports(bad, as_of=parse_as_of(AS_OF))
