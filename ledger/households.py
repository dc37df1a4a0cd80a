"""Farming households of a blue-carbon cooperative on the journal (社员分配): the roster the bureau
confirms, the attribution of a report's sink to members, and the split of a sale's proceeds.

Pure. ``market.households`` builds its records with these functions and ``ledger.household_rules``
checks them with the same ones, live and in replay, so the two disagree only on a forged record.

The rules, stated once (docs/households.md):
- attribution: a report's sink (kg CO2e) is split over the confirmed roster's members in proportion
  to their measured harvest (kg) when the roster gives one for every member, else to their farming
  area (hundredths of a mu); each member gets the floor of its exact share, and the kilograms left
  over go one each to the largest fractional remainders, ties to the smaller member id (最大余额法);
- distribution: of a sale's proceeds (fen) the cooperative keeps ``fee_bp`` basis points, rounded
  down (the rounding goes to the households); the rest is split by the members' attributed
  kilograms of the batch sold, by the same largest-remainder rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from ledger.errors import InvalidHouseholdRecord
from ledger.model import check_id

__all__ = [
    "BP_WHOLE",
    "ROSTER_ACTION",
    "SALE_ACTION",
    "Attribution",
    "Member",
    "Roster",
    "attribution_meta",
    "distribution_meta",
    "fee_fen",
    "largest_remainder",
    "parse_attribution",
    "parse_roster",
    "roster_id",
    "roster_meta",
]

ROSTER_ACTION: Final = "household.roster"  # the roster the cooperative registers and the bureau confirms
SALE_ACTION: Final = "bc.sale"  # blue carbon sold for CNY, its proceeds split in the same record
BP_WHOLE: Final = 10_000  # basis points in a whole
MAX_MEMBERS: Final = 5_000  # a cooperative's roster; bounds the record (518 in the Shengsi deal)
_HASH_HEX: Final = 64


def _fail(message: str, field: str) -> InvalidHouseholdRecord:
    return InvalidHouseholdRecord(message, field=field)


def _int(obj: dict[str, Any], name: str, path: str, *, low: int, high: int) -> int:
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(f"{path}.{name} must be a whole number from {low} to {high}", f"{path}.{name}")
    return value


def _date(obj: dict[str, Any], name: str, path: str) -> date:
    value = obj.get(name)
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise _fail(f"{path}.{name} must be a date YYYY-MM-DD", f"{path}.{name}") from None


def _obj(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(f"{path} must be an object", path)
    return value


def roster_id(project: str, start: date, end: date) -> str:
    """One roster per project and monitoring period: its id names both."""
    return check_id(f"{project}:{start.isoformat()}:{end.isoformat()}", field="roster")


@dataclass(frozen=True, slots=True)
class Member:
    """A member household as the journal knows it: a pseudonymous id, the salted hash of its name and
    ID-card number (both kept off the journal), its farm in the period and its cash account."""

    member: str
    identity_hash: str  # hex SHA-256, see market.households.model.identity_hash
    area_cmu: int  # farming area in hundredths of a mu (亩)
    rafts: int  # 筏架
    longlines: int  # 延绳
    account: str  # its member account (AccountKind.MEMBER) at the cooperative
    harvest_kg: int | None = None  # measured fresh harvest in the period, when weighed per member

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "member": self.member,
            "identity_hash": self.identity_hash,
            "area_cmu": self.area_cmu,
            "rafts": self.rafts,
            "longlines": self.longlines,
            "account": self.account,
        }
        if self.harvest_kg is not None:
            out["harvest_kg"] = self.harvest_kg
        return out


@dataclass(frozen=True, slots=True)
class Roster:
    """A cooperative's members for one project and monitoring period, with the fee they agreed."""

    cooperative: str
    bureau: str
    project: str
    start: date
    end: date
    fee_bp: int
    members: tuple[Member, ...]

    @property
    def id(self) -> str:
        return roster_id(self.project, self.start, self.end)

    @property
    def rule(self) -> str:
        """``harvest`` when every member's harvest was weighed, else ``area``."""
        return "harvest" if all(m.harvest_kg is not None for m in self.members) else "area"

    def weights(self) -> list[tuple[str, int]]:
        if self.rule == "harvest":
            return [(m.member, int(m.harvest_kg or 0)) for m in self.members]
        return [(m.member, m.area_cmu) for m in self.members]

    def member(self, member: str) -> Member | None:
        return next((m for m in self.members if m.member == member), None)


def roster_meta(roster: Roster) -> dict[str, Any]:
    """The meta of a ``household.roster`` record."""
    return {
        "roster": roster.id,
        "cooperative": roster.cooperative,
        "bureau": roster.bureau,
        "project": roster.project,
        "period": {"start": roster.start.isoformat(), "end": roster.end.isoformat()},
        "fee_bp": roster.fee_bp,
        "rule": roster.rule,
        "total_area_cmu": sum(m.area_cmu for m in roster.members),
        "members": [m.to_json() for m in roster.members],
    }


def _member(value: object, path: str) -> Member:
    obj = _obj(value, path)
    allowed = {"member", "identity_hash", "area_cmu", "rafts", "longlines", "account", "harvest_kg"}
    extra = sorted(set(obj) - allowed)
    if extra:
        raise _fail(f"{path}.{extra[0]} is not a known field", f"{path}.{extra[0]}")
    digest = obj.get("identity_hash")
    if not isinstance(digest, str) or len(digest) != _HASH_HEX or digest.strip("0123456789abcdef"):
        raise _fail(f"{path}.identity_hash must be 64 lowercase hex digits", f"{path}.identity_hash")
    harvest = obj.get("harvest_kg")
    return Member(
        member=check_id(obj.get("member"), field=f"{path}.member"),
        identity_hash=digest,
        area_cmu=_int(obj, "area_cmu", path, low=1, high=10**10),
        rafts=_int(obj, "rafts", path, low=0, high=10**6),
        longlines=_int(obj, "longlines", path, low=0, high=10**6),
        account=check_id(obj.get("account"), field=f"{path}.account"),
        harvest_kg=None if harvest is None else _int(obj, "harvest_kg", path, low=1, high=10**12),
    )


def parse_roster(meta: dict[str, Any], path: str = "body.meta") -> Roster:
    """The roster a ``household.roster`` record carries, checked field by field and as a whole: member
    ids and accounts unique, the stated id, rule and total area the ones its members give."""
    period = _obj(meta.get("period"), f"{path}.period")
    members_raw = meta.get("members")
    if not isinstance(members_raw, list) or not 1 <= len(members_raw) <= MAX_MEMBERS:
        raise _fail(f"{path}.members must list 1 to {MAX_MEMBERS} members", f"{path}.members")
    members = tuple(_member(m, f"{path}.members[{i}]") for i, m in enumerate(members_raw))
    for name, values in (("member", [m.member for m in members]), ("account", [m.account for m in members])):
        if len(set(values)) != len(values):
            raise _fail(f"a roster names each {name} once", f"{path}.members")
    harvests = [m.harvest_kg is not None for m in members]
    if any(harvests) and not all(harvests):
        raise _fail("give every member's harvest, or none (attribution is then by area)", f"{path}.members")
    roster = Roster(
        cooperative=check_id(meta.get("cooperative"), field=f"{path}.cooperative"),
        bureau=check_id(meta.get("bureau"), field=f"{path}.bureau"),
        project=check_id(meta.get("project"), field=f"{path}.project"),
        start=_date(period, "start", f"{path}.period"),
        end=_date(period, "end", f"{path}.period"),
        fee_bp=_int(meta, "fee_bp", path, low=0, high=BP_WHOLE),
        members=members,
    )
    if roster.end < roster.start:
        raise _fail("the period ends before it starts", f"{path}.period.end")
    if roster_meta(roster) != meta:
        raise _fail("the roster's id, rule or total area is not the one its members give", path)
    return roster


def largest_remainder(total: int, weights: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """``total`` split in proportion to positive integer ``weights``, exactly: each gets the floor of
    its share, and what is left goes one unit each to the largest remainders, ties to the smaller id.
    Same order as ``weights``; the parts sum to ``total``."""
    whole = sum(w for _, w in weights)
    if total < 0 or whole <= 0 or any(w <= 0 for _, w in weights):
        raise ValueError("a split needs a total >= 0 and positive weights")
    floors = [(who, total * w // whole, total * w % whole) for who, w in weights]
    left = total - sum(f for _, f, _ in floors)
    lucky = {who for who, _, _ in sorted(floors, key=lambda x: (-x[2], x[0]))[:left]}
    return [(who, f + (1 if who in lucky else 0)) for who, f, _ in floors]


@dataclass(frozen=True, slots=True)
class Attribution:
    """A batch's sink attributed to the members of a roster: ``shares`` kg CO2e, in roster order."""

    batch: str
    roster: str
    shares: tuple[tuple[str, int], ...]


def attribution_meta(roster: Roster, sink_kg_co2e: int) -> dict[str, Any]:
    """``meta.attribution`` of a ``bc.issue`` record: the roster, the rule and every member's kg."""
    shares = largest_remainder(sink_kg_co2e, roster.weights())
    return {
        "roster": roster.id,
        "rule": roster.rule,
        "sink_kg_co2e": sink_kg_co2e,
        "shares": [{"member": who, "kg_co2e": kg} for who, kg in shares],
    }


def parse_attribution(batch: str, meta: dict[str, Any]) -> Attribution:
    """The attribution a (checked) ``bc.issue`` record carries, as the ledger keeps it."""
    shares = tuple((str(s["member"]), int(s["kg_co2e"])) for s in meta["shares"])
    return Attribution(batch, str(meta["roster"]), shares)


def fee_fen(proceeds_fen: int, fee_bp: int) -> int:
    """The cooperative's fee on ``proceeds_fen``: ``fee_bp`` basis points, rounded down."""
    return proceeds_fen * fee_bp // BP_WHOLE


def distribution_meta(roster: Roster, attribution: Attribution, proceeds_fen: int) -> dict[str, Any]:
    """``meta.distribution`` of a ``bc.sale`` record: the fee as agreed and every member's fen,
    split by attributed kg (a member attributed nothing, e.g. a sink of 0 kg, is weighted 0 and gets
    0; if nobody was attributed anything the split is by the roster's own rule)."""
    fee = fee_fen(proceeds_fen, roster.fee_bp)
    members_fen = proceeds_fen - fee
    weights = [(who, kg) for who, kg in attribution.shares if kg > 0] or roster.weights()
    paid = dict(largest_remainder(members_fen, weights))
    return {
        "roster": roster.id,
        "batch": attribution.batch,
        "proceeds_fen": proceeds_fen,
        "fee_bp": roster.fee_bp,
        "fee_fen": fee,
        "members_fen": members_fen,
        "shares": [{"member": m.member, "fen": paid.get(m.member, 0)} for m in roster.members],
    }
