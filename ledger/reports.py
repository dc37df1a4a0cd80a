"""As-of reports from a bundle with pandas: holdings, auctions, pledges, cap use and blue carbon.

Rebuilt from the journal itself (verified on the way), written as Excel-friendly CSV and PNG charts.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]

from ledger.audit import replay_bundle
from ledger.bundle import Bundle
from ledger.crypto import b64d
from ledger.journal import ParsedRecord
from ledger.model import AccountKind, Body, HoldPlace, Lot, TxBody
from ledger.replay import RecordCheck
from ledger.report_charts import charts
from ledger.rules import Effect
from ledger.state import LedgerState
from ledger.timeutil import format_utc, parse_date
from ledger.units import INSTRUMENTS, is_money

__all__ = ["CHINA_STANDARD_TIME", "ReportError", "Reports", "build_reports", "escape_cell", "parse_as_of"]

# What the reports read from the journal (the workflows write it; all optional unless said):
# - accounts by kind: ISSUANCE is a cap (bureau:<division>.cap.<INST>, cap in force = -balance),
#   RESERVE a bureau reserve, RETIREMENT a sink (*.retirement), BUFFER the blue-carbon pool;
#   a lot's jurisdiction is the city, its vintage the blue-carbon vintage.
# - auctions: tx records whose action starts with "auction." and whose meta carries a price:
#   auction_id, design, instrument, jurisdiction, offered_kg, sold_kg, revenue_fen, and either
#   clearing_price_fen_per_t (uniform price) or allocations, a list of {bidder, quantity_kg,
#   price_fen_per_t, amount_fen} (pay-as-bid designs); with neither, the price implied by the
#   record's own CNY and rights postings.
# - pledges: open holds with reason "pledge"; the placing record's meta may carry loan_amount_fen.
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NOT_HOLDINGS = (AccountKind.ISSUANCE, AccountKind.SETTLEMENT, AccountKind.RETIREMENT)


class ReportError(Exception):
    """The bundle did not verify up to the report's date: no report is made from it."""


def parse_as_of(text: str) -> datetime:
    """The exclusive end of an as-of cut. A date ``YYYY-MM-DD`` means the end of that day in
    China Standard Time (UTC+8), the registry's jurisdiction; an ISO instant with an offset
    (or Z) includes records at exactly that instant."""
    if _DATE.fullmatch(text):
        day = parse_date(text) + timedelta(days=1)
        return datetime.combine(day, time(0), CHINA_STANDARD_TIME).astimezone(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"as-of must be YYYY-MM-DD or an ISO instant with an offset, got {text!r}") from None
    if moment.tzinfo is None:
        raise ValueError("an as-of instant needs an offset (e.g. Z or +08:00)")
    return moment.astimezone(UTC) + timedelta(microseconds=1)


def escape_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe (OWASP)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def display(amount: int, code: str) -> Decimal:
    """Minor units as an exact Decimal in the instrument's display unit (t, tCO2e, CNY)."""
    inst = INSTRUMENTS[code]
    return (Decimal(amount) / inst.minor_per_display).quantize(Decimal(1).scaleb(-inst.display_places))


def frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """A table whose whole-number columns stay exact integers (nullable), never floats."""
    out = pd.DataFrame(rows, columns=list(columns), dtype=object)
    for name in out.columns:
        values = [v for v in out[name] if v is not None]
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            out[name] = out[name].astype("Int64")
    return out


def _pct(part: int, whole: int) -> Decimal | None:
    return None if whole <= 0 else (Decimal(100 * part) / whole).quantize(Decimal("0.1"))


def _cny_per_t(fen_per_t: int | None) -> Decimal | None:
    return None if fen_per_t is None else (Decimal(fen_per_t) / 100).quantize(Decimal("0.01"))


@dataclass
class _Collector:
    """Watches the replay for what the final state no longer shows: prices, flows, pledge dates."""

    auctions: list[dict[str, Any]] = field(default_factory=list)
    # serialized credits (blue carbon, bamboo carbon) by (instrument, vintage)
    issued: dict[tuple[str, int | None], int] = field(default_factory=lambda: defaultdict(int))
    retired: dict[tuple[str, int | None], int] = field(default_factory=lambda: defaultdict(int))
    pledges: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __call__(self, rec: ParsedRecord, body: Body, effect: Effect, state: LedgerState) -> None:
        if not isinstance(body, TxBody):
            return
        for p in body.postings:
            if INSTRUMENTS[p.instrument].serialized:
                kind = state.accounts[p.account].kind
                if kind is AccountKind.ISSUANCE and p.amount < 0:
                    self.issued[(p.instrument, p.lot.vintage)] += -p.amount
                elif kind is AccountKind.RETIREMENT and p.amount > 0:
                    self.retired[(p.instrument, p.lot.vintage)] += p.amount
        for op in body.holds:
            if isinstance(op, HoldPlace) and op.reason == "pledge":
                self.pledges[op.hold] = {
                    "placed_seq": rec.seq,
                    "placed_at": format_utc(rec.time),
                    "loan_amount_fen": _int(body.meta, "loan_amount_fen"),
                }
        for hold_id, hold in effect.holds.items():
            if hold.status != "open":
                self.pledges.pop(hold_id, None)
        if body.action.startswith("auction."):
            row = _auction_row(rec, body)
            if row is not None:
                self.auctions.append(row)


def _int(meta: dict[str, Any], key: str) -> int | None:
    value = meta.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _auction_row(rec: ParsedRecord, body: TxBody) -> dict[str, Any] | None:
    """One row per priced auction record: the clearing price, else the allocations' prices,
    else the price its own postings imply (CNY paid per tonne delivered)."""
    meta = body.meta
    rights = [p for p in body.postings if not INSTRUMENTS[p.instrument].money]
    instrument = meta.get("instrument") or (rights[0].instrument if rights else None)
    jurisdiction = meta.get("jurisdiction") or (rights[0].lot.jurisdiction if rights else None)
    sold = _int(meta, "sold_kg")
    clearing = _int(meta, "clearing_price_fen_per_t")
    prices: list[tuple[int, int]] = []  # (price fen/t, kg)
    allocations = meta.get("allocations")
    if isinstance(allocations, list):
        for a in allocations:
            if isinstance(a, dict) and _int(a, "price_fen_per_t") and _int(a, "quantity_kg"):
                prices.append((a["price_fen_per_t"], a["quantity_kg"]))
    source = "clearing" if clearing is not None else ("allocations" if prices else "postings")
    if clearing is None and not prices:
        delivered = sum(p.amount for p in rights if p.amount > 0)
        paid = sum(p.amount for p in body.postings if is_money(p.instrument) and p.amount > 0)
        if not delivered or not paid:
            return None
        prices = [(paid * 1000 // delivered, delivered)]
    kg = sum(q for _, q in prices)
    average = clearing if clearing is not None else sum(p * q for p, q in prices) // max(kg, 1)
    return {
        "seq": rec.seq,
        "time": format_utc(rec.time),
        "action": body.action,
        "auction_id": meta.get("auction_id"),
        "design": meta.get("design"),
        "instrument": instrument,
        "jurisdiction": jurisdiction,
        "offered_kg": _int(meta, "offered_kg"),
        "sold_kg": sold if sold is not None else (kg or None),
        "clearing_price_fen_per_t": clearing,
        "average_price_fen_per_t": average,
        "min_price_fen_per_t": min((p for p, _ in prices), default=clearing),
        "max_price_fen_per_t": max((p for p, _ in prices), default=clearing),
        "price_cny_per_t": _cny_per_t(average),
        "revenue_fen": _int(meta, "revenue_fen"),
        "price_source": source,
    }


@dataclass
class Reports:
    """Every table of one as-of cut, as DataFrames; ``write`` puts them on disk."""

    as_of: datetime
    records: int
    head_hash: str
    checkpoints_verified: int
    tables: dict[str, pd.DataFrame]
    label: str  # the as-of as the user gave it

    def write(self, out_dir: Path) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for name, frame in self.tables.items():
            path = out_dir / f"{name}.csv"
            frame.map(escape_cell).to_csv(path, index=False, encoding="utf-8-sig")
            written.append(path)
        written += charts(self.tables, out_dir, self.label)
        meta = {
            "as_of": self.label,
            "as_of_exclusive": format_utc(self.as_of),
            "records_included": self.records,
            "head_hash_at_cut": self.head_hash,
            "checkpoints_verified": self.checkpoints_verified,
            "files": [p.name for p in written],
        }
        (out_dir / "report.json").write_text(json.dumps(meta, indent=2) + "\n")
        return [*written, out_dir / "report.json"]


def build_reports(
    bundle_path: Path,
    *,
    as_of: datetime,
    registry_key: bytes | None = None,
    workers: int = 1,
    checks: Sequence[RecordCheck] = (),
    label: str | None = None,
) -> Reports:
    """Replay the bundle's records before ``as_of`` (verifying each) and tabulate the state."""
    collector = _Collector()
    with Bundle(bundle_path) as bundle:
        pin = registry_key or b64d(str(bundle.manifest.get("registry_public_key")), length=32)
        run = replay_bundle(
            bundle, registry_key=pin, workers=workers, checks=checks, observers=[collector], until=as_of
        )
    report = run.report
    if report.failure is not None:
        raise ReportError(f"the bundle does not verify before {format_utc(as_of)}: {report.failure}")
    state = report.state
    detail = _holdings_detail(state)
    tables = {
        "holdings": _holdings(detail),
        "holdings_detail": detail,
        "auctions": frame(collector.auctions, _AUCTION_COLUMNS),
        "pledges": _pledges(state, collector),
        "cap_usage": _cap_usage(state),
        "blue_carbon_vintages": _blue_carbon(state, collector),
    }
    tables["pledges_by_bank"] = _pledges_by_bank(tables["pledges"])
    return Reports(
        as_of,
        report.records,
        report.head_hash.hex(),
        report.checkpoints_verified,
        tables,
        label or f"{format_utc(as_of)} (exclusive)",
    )


_AUCTION_COLUMNS = [
    "seq", "time", "action", "auction_id", "design", "instrument", "jurisdiction", "offered_kg", "sold_kg",
    "clearing_price_fen_per_t", "average_price_fen_per_t", "min_price_fen_per_t", "max_price_fen_per_t",
    "price_cny_per_t", "revenue_fen", "price_source",
]  # fmt: skip


def _name(state: LedgerState, party: str) -> str:
    return str(state.parties.get(party, {}).get("name", ""))


def _holdings_detail(state: LedgerState) -> pd.DataFrame:
    rows = []
    for (account, code, lot_key), pos in sorted(state.positions.items()):
        info = state.accounts[account]
        lot = Lot.from_key(lot_key)
        rows.append(
            {
                "participant": info.owner,
                "name": _name(state, info.owner),
                "role": state.parties.get(info.owner, {}).get("role", ""),
                "account": account,
                "account_kind": info.kind.value,
                "instrument": code,
                "lot": lot_key,
                "jurisdiction": lot.jurisdiction,
                "valid_until": None if lot.valid_until is None else lot.valid_until.isoformat(),
                "vintage": lot.vintage,
                "total_minor": pos.total,
                "held_minor": pos.held,
                "available_minor": pos.available,
                "total": display(pos.total, code),
                "unit": INSTRUMENTS[code].display_unit,
            }
        )
    return frame(rows, _DETAIL_COLUMNS)


_DETAIL_COLUMNS = [
    "participant", "name", "role", "account", "account_kind", "instrument", "lot", "jurisdiction",
    "valid_until", "vintage", "total_minor", "held_minor", "available_minor", "total", "unit",
]  # fmt: skip


def _holdings(detail: pd.DataFrame) -> pd.DataFrame:
    """Per participant and instrument; caps, gateways and retired units are not holdings."""
    columns = ["participant", "name", "role", "instrument", "total_minor", "held_minor", "available_minor"]
    kept = detail[~detail["account_kind"].isin([k.value for k in _NOT_HOLDINGS])]
    if kept.empty:
        return frame([], [*columns, "total", "available", "unit"])
    out = kept.groupby(columns[:4], as_index=False, sort=True)[columns[4:]].sum()
    out["total"] = [display(int(t), c) for t, c in zip(out["total_minor"], out["instrument"], strict=True)]
    out["available"] = [
        display(int(t), c) for t, c in zip(out["available_minor"], out["instrument"], strict=True)
    ]
    out["unit"] = [INSTRUMENTS[c].display_unit for c in out["instrument"]]
    return out


def _cap_usage(state: LedgerState) -> pd.DataFrame:
    """Per jurisdiction and instrument: the cap in force (-balance of the cap accounts), the
    bureau's reserve, units held by participants and retired, and the share used."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for (account, code, lot_key), pos in state.positions.items():
        lot = Lot.from_key(lot_key)
        if lot.jurisdiction is None or not INSTRUMENTS[code].capped:
            continue  # credits carry their bureau's jurisdiction too, but count against no cap (总量控制)
        info = state.accounts[account]
        g = groups.setdefault(
            (lot.jurisdiction, code), {"cap_in_force_kg": 0, "reserve_kg": 0, "held_kg": 0, "retired_kg": 0}
        )
        if info.kind is AccountKind.ISSUANCE:
            g["cap_in_force_kg"] -= pos.total
            g["bureau"] = info.owner
        elif info.kind is AccountKind.RESERVE:
            g["reserve_kg"] += pos.total
        elif info.kind is AccountKind.RETIREMENT:
            g["retired_kg"] += pos.total
        else:
            g["held_kg"] += pos.total
    rows = []
    for (jurisdiction, code), g in sorted(groups.items()):
        used = g["held_kg"] + g["retired_kg"]
        bureau = g.get("bureau", "")
        rows.append(
            {
                "jurisdiction": jurisdiction,
                "bureau": bureau,
                "bureau_name": _name(state, bureau),
                "instrument": code,
                "cap_in_force_kg": g["cap_in_force_kg"],
                "reserve_kg": g["reserve_kg"],
                "held_kg": g["held_kg"],
                "retired_kg": g["retired_kg"],
                "used_kg": used,
                "used_pct": _pct(used, g["cap_in_force_kg"]),
                "cap_in_force_t": display(g["cap_in_force_kg"], code),
                "used_t": display(used, code),
            }
        )
    columns = [
        "jurisdiction", "bureau", "bureau_name", "instrument", "cap_in_force_kg", "reserve_kg", "held_kg",
        "retired_kg", "used_kg", "used_pct", "cap_in_force_t", "used_t",
    ]  # fmt: skip
    return frame(rows, columns)


def _pledges(state: LedgerState, collector: _Collector) -> pd.DataFrame:
    rows = []
    for hold in sorted(state.holds.values(), key=lambda h: h.id):
        if hold.status != "open" or hold.reason != "pledge":
            continue
        owner = state.accounts[hold.account].owner
        lot = Lot.from_key(hold.lot_key)
        placed = collector.pledges.get(hold.id, {})
        loan = placed.get("loan_amount_fen")
        rows.append(
            {
                "bank": hold.controller,
                "bank_name": _name(state, hold.controller),
                "pledgor": owner,
                "pledgor_name": _name(state, owner),
                "hold": hold.id,
                "account": hold.account,
                "instrument": hold.instrument,
                "jurisdiction": lot.jurisdiction,
                "valid_until": None if lot.valid_until is None else lot.valid_until.isoformat(),
                "amount_kg": hold.amount,
                "amount_t": display(hold.amount, hold.instrument),
                "placed_seq": placed.get("placed_seq"),
                "placed_at": placed.get("placed_at"),
                "loan_amount_fen": loan,
                "loan_amount_cny": None if loan is None else display(loan, "CNY"),
            }
        )
    columns = [
        "bank", "bank_name", "pledgor", "pledgor_name", "hold", "account", "instrument", "jurisdiction",
        "valid_until", "amount_kg", "amount_t", "placed_seq", "placed_at", "loan_amount_fen",
        "loan_amount_cny",
    ]  # fmt: skip
    return frame(rows, columns)


def _pledges_by_bank(pledges: pd.DataFrame) -> pd.DataFrame:
    columns = ["bank", "bank_name", "instrument", "pledges", "amount_kg", "amount_t", "loan_amount_fen"]
    if pledges.empty:
        return frame([], columns)
    rows = []
    for (bank, name, code), group in pledges.groupby(["bank", "bank_name", "instrument"], sort=True):
        kg = int(group["amount_kg"].sum())
        loans = [int(v) for v in group["loan_amount_fen"] if v is not None and not pd.isna(v)]
        rows.append(
            {
                "bank": bank,
                "bank_name": name,
                "instrument": code,
                "pledges": len(group),
                "amount_kg": kg,
                "amount_t": display(kg, code),
                "loan_amount_fen": sum(loans) if loans else None,
            }
        )
    return frame(rows, columns)


def _blue_carbon(state: LedgerState, collector: _Collector) -> pd.DataFrame:
    """Serialized credits by instrument and vintage (the table keeps its first name, blue carbon)."""
    buffer: dict[tuple[str, int | None], int] = defaultdict(int)
    for (account, code, lot_key), pos in state.positions.items():
        if INSTRUMENTS[code].serialized and state.accounts[account].kind is AccountKind.BUFFER:
            buffer[(code, Lot.from_key(lot_key).vintage)] += pos.total
    keys = sorted(
        set(collector.issued) | set(collector.retired) | set(buffer), key=lambda k: (k[0], k[1] or 0)
    )
    rows = []
    for code, v in keys:
        issued, retired = collector.issued.get((code, v), 0), collector.retired.get((code, v), 0)
        rows.append(
            {
                "instrument": code,
                "vintage": v,
                "issued_kg_co2e": issued,
                "retired_kg_co2e": retired,
                "buffer_kg_co2e": buffer.get((code, v), 0),
                "outstanding_kg_co2e": issued - retired,
                "issued_t_co2e": display(issued, code),
                "retired_t_co2e": display(retired, code),
                "retired_pct": _pct(retired, issued),
            }
        )
    columns = [
        "instrument", "vintage", "issued_kg_co2e", "retired_kg_co2e", "buffer_kg_co2e", "outstanding_kg_co2e",
        "issued_t_co2e", "retired_t_co2e", "retired_pct",
    ]  # fmt: skip
    return frame(rows, columns)
