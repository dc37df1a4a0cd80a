"""The ledger's checks of the household records (``ledger.households``): a roster the bureau confirms,
an issuance's attribution to its members, a sale's split of the proceeds. Run by ``rules.apply``.

Checked whenever such a record is present, under any rule set: the body types (``household.roster``,
``bc.sale``) and ``meta.attribution`` are new, so journals written before them replay as they did.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from ledger.errors import InvalidHouseholdRecord, InvalidInput
from ledger.households import (
    ROSTER_ACTION,
    SALE_ACTION,
    Attribution,
    Roster,
    attribution_meta,
    distribution_meta,
    parse_attribution,
    parse_roster,
    roster_id,
)
from ledger.model import AccountKind, TxBody
from ledger.timeutil import parse_date
from ledger.units import instrument

if TYPE_CHECKING:
    from ledger.rules import AccountInfo, Effect, PartyInfo

__all__ = ["HOUSEHOLD_ACTIONS", "HouseholdChange", "HouseholdView", "check_households"]

ISSUE: Final = "bc.issue"
TRANSFER: Final = "bc.transfer"
HOUSEHOLD_ACTIONS: Final = frozenset({ROSTER_ACTION, ISSUE, SALE_ACTION, TRANSFER})
TONNE_KG: Final = 1_000  # one serial, one tonne


class HouseholdView(Protocol):
    def find_account(self, account_id: str) -> AccountInfo | None: ...
    def find_party(self, party: str) -> PartyInfo | None: ...
    def find_roster(self, roster: str) -> Roster | None: ...
    def find_attribution(self, batch: str) -> Attribution | None: ...


@dataclass(frozen=True, slots=True)
class HouseholdChange:
    """What a household record adds to the ledger's state: a confirmed roster, or a batch's attribution."""

    roster: Roster | None = None
    attribution: Attribution | None = None


def _fail(message: str, field: str = "body.meta", **details: Any) -> InvalidHouseholdRecord:
    return InvalidHouseholdRecord(message, field=field, **details)


def check_households(body: TxBody, view: HouseholdView, effect: Effect) -> None:
    """Check a household record against the state before it and note what it adds in ``effect``."""
    if body.action == ROSTER_ACTION:
        roster = _check_roster(body, view)
        effect.required_signers |= {roster.cooperative, roster.bureau}
        effect.household = HouseholdChange(roster=roster)
    elif body.action == ISSUE:
        attribution = _check_issue(body, view)
        if attribution is not None:
            effect.household = HouseholdChange(attribution=attribution)
    elif body.action == SALE_ACTION:
        _check_sale(body, view)
    elif body.action == TRANSFER:
        _check_transfer(body, view)


def _check_transfer(body: TxBody, view: HouseholdView) -> None:
    """Credits attributed to a cooperative's members leave its holding by sale (``bc.sale``, which pays
    them) or by its own retirement, never by a plain transfer whose price the journal would not see."""
    for i, p in enumerate(body.postings):
        if p.amount >= 0 or p.lot.batch is None:
            continue
        attribution = view.find_attribution(p.lot.batch)
        roster = view.find_roster(attribution.roster) if attribution is not None else None
        info = view.find_account(p.account)
        if roster is not None and info is not None and info.owner == roster.cooperative:
            raise _fail(
                f"batch {p.lot.batch} is attributed to the members of {roster.cooperative}: it leaves the "
                "cooperative by sale (bc.sale), which pays them, not by a plain transfer",
                f"body.postings[{i}]",
                batch=p.lot.batch,
            )


def _role(view: HouseholdView, party: str, role: str, field: str) -> None:
    info = view.find_party(party)
    if info is None or info.role != role:
        raise _fail(f"{party} is not a registered {role}", field)


def _check_roster(body: TxBody, view: HouseholdView) -> Roster:
    """The cooperative registers, its bureau confirms (both sign); one roster per project and period;
    every member's account is a member account of that cooperative."""
    if body.postings or body.holds:
        raise _fail("a roster moves nothing", "body.postings")
    roster = parse_roster(body.meta)
    _role(view, roster.cooperative, "cooperative", "body.meta.cooperative")
    _role(view, roster.bureau, "bureau", "body.meta.bureau")
    if view.find_roster(roster.id) is not None:
        raise _fail(f"roster {roster.id} is already confirmed", "body.meta.roster", roster=roster.id)
    for i, m in enumerate(roster.members):
        info = view.find_account(m.account)
        if info is None or info.kind is not AccountKind.MEMBER or info.owner != roster.cooperative:
            raise _fail(
                f"{m.account} is not a member account of {roster.cooperative}",
                f"body.meta.members[{i}].account",
            )
    return roster


def _owners(body: TxBody, view: HouseholdView, *, credit: bool) -> set[str]:
    """Owners of the accounts the record credits (or debits) with serialized credits."""
    out = set()
    for p in body.postings:
        if (p.amount > 0) == credit and instrument(p.instrument).serialized:
            info = view.find_account(p.account)
            if info is not None:
                out.add(info.owner)
    return out


def _issue_period(meta: dict[str, Any]) -> str | None:
    """The roster id an issuance's project and monitoring period would have (None: not given)."""
    try:
        inputs = meta["inputs"]
        start, end = parse_date(inputs["monitoring_start"]), parse_date(inputs["monitoring_end"])
        return roster_id(str(meta["project"]), start, end)
    except (KeyError, TypeError, ValueError, InvalidInput):  # not given, or no id a roster can have
        return None


def _check_issue(body: TxBody, view: HouseholdView) -> Attribution | None:
    """An issuance for a project and period with a confirmed roster attributes the sink to every
    member by the roster's rule, exactly; an issuance without one attributes nothing."""
    wanted = _issue_period(body.meta)
    roster = view.find_roster(wanted) if wanted is not None else None
    given = body.meta.get("attribution")
    if given is None:
        if roster is not None:
            raise _fail(
                f"the members of roster {roster.id} are left out: the issuance carries no attribution",
                "body.meta.attribution",
                roster=roster.id,
            )
        return None
    if roster is None or not isinstance(given, dict) or given.get("roster") != roster.id:
        raise _fail(
            "the attribution cites no confirmed roster of this project and period", "body.meta.attribution"
        )
    if _owners(body, view, credit=True) - {roster.bureau} != {roster.cooperative}:
        raise _fail(f"the credits of roster {roster.id} are issued to {roster.cooperative}", "body.postings")
    if _owners(body, view, credit=False) != {roster.bureau}:
        raise _fail(f"roster {roster.id} was confirmed by {roster.bureau}, which issues", "body.postings")
    sink = body.meta.get("sink_kg_co2e")
    if isinstance(sink, bool) or not isinstance(sink, int) or sink < 0:
        raise _fail("the issuance states no sink to attribute", "body.meta.sink_kg_co2e")
    expected = attribution_meta(roster, sink)
    if given != expected:
        raise _fail(_first_difference(given, expected, "kg_co2e"), "body.meta.attribution", roster=roster.id)
    batches = {p.lot.batch for p in body.postings}
    if len(batches) != 1 or None in batches:
        raise _fail("an attributed issuance is of one batch", "body.postings")
    return parse_attribution(str(batches.pop()), expected)


def _first_difference(given: Any, expected: dict[str, Any], unit: str) -> str:
    """Which member a wrong split shortchanges or leaves out, for the refusal's message."""
    shares = given.get("shares") if isinstance(given, dict) else None
    listed = (
        {s.get("member"): s.get(unit) for s in shares if isinstance(s, dict)}
        if isinstance(shares, list)
        else {}
    )
    for share in expected["shares"]:
        if share["member"] not in listed:
            return f"member {share['member']} is left out of the split"
    for share in expected["shares"]:
        member = share["member"]
        if listed[member] != share[unit]:
            return (
                f"member {member} is due {share[unit]} {unit.split('_')[0]}, the record says {listed[member]}"
            )
    for name in ("fee_fen", "fee_bp", "proceeds_fen", "members_fen", "rule", "sink_kg_co2e", "batch"):
        if name in expected and given.get(name) != expected[name]:
            return f"{name} is {given.get(name)!r}, the rule gives {expected[name]!r}"
    return "the split is not the one the rule gives (extra members or fields)"


def _check_sale(body: TxBody, view: HouseholdView) -> None:
    """A sale pays ``tonnes x price`` from the buyer's cash. Credits attributed to the seller's members
    pay them their split and the seller its agreed fee, nothing else; other credits pay the seller."""
    carbon = [p for p in body.postings if instrument(p.instrument).serialized]
    batches = {p.lot.batch for p in carbon}
    sellers = _owners(body, view, credit=False)
    buyers = _owners(body, view, credit=True)
    if len(batches) != 1 or None in batches or len(sellers) != 1 or len(buyers) != 1 or sellers == buyers:
        raise _fail("a sale moves one batch from one seller to one buyer", "body.postings")
    batch, seller, buyer = str(batches.pop()), sellers.pop(), buyers.pop()
    meta = body.meta
    tonnes, price = meta.get("tonnes"), meta.get("price_fen_per_t")
    sold_kg = sum(p.amount for p in carbon if p.amount > 0)
    if not isinstance(tonnes, int) or not isinstance(price, int) or tonnes * TONNE_KG != sold_kg or price < 1:
        raise _fail("tonnes and price_fen_per_t must state the units sold", "body.meta.tonnes")
    proceeds = tonnes * price
    if meta.get("proceeds_fen") != proceeds or meta.get("batch") != batch:
        raise _fail(f"the proceeds are {proceeds} fen for batch {batch}", "body.meta.proceeds_fen")
    debits, credits = _cash_legs(body, view)
    if debits != {(buyer, AccountKind.CASH): proceeds}:
        raise _fail(f"the buyer {buyer} pays {proceeds} fen from its cash account", "body.postings")
    attribution = view.find_attribution(batch)
    roster = view.find_roster(attribution.roster) if attribution is not None else None
    if attribution is None or roster is None or seller != roster.cooperative:
        if "distribution" in meta or credits != {_cash_of(seller): proceeds}:
            raise _fail(f"{seller} is paid {proceeds} fen into its cash account", "body.postings")
        return
    expected = distribution_meta(roster, attribution, proceeds)
    if meta.get("distribution") != expected:
        raise _fail(_first_difference(meta.get("distribution"), expected, "fen"), "body.meta.distribution")
    due: dict[str, int] = defaultdict(int)
    if expected["fee_fen"]:
        due[_cash_of(seller)] += expected["fee_fen"]
    members = {m.member: m.account for m in roster.members}
    for share in expected["shares"]:
        if share["fen"]:
            due[members[share["member"]]] += share["fen"]
    if credits != dict(due):
        raise _fail("the CNY credited is not the split the distribution states", "body.postings")


def _cash_of(party: str) -> str:
    return f"{party}|{AccountKind.CASH.value}"


def _cash_legs(
    body: TxBody, view: HouseholdView
) -> tuple[dict[tuple[str, AccountKind], int], dict[str, int]]:
    """CNY debited per (owner, kind), and credited per member account or else per "owner|kind"."""
    debits: dict[tuple[str, AccountKind], int] = defaultdict(int)
    credits: dict[str, int] = defaultdict(int)
    for p in body.postings:
        if not instrument(p.instrument).money:
            continue
        info = view.find_account(p.account)
        if info is None:
            raise _fail(f"no account {p.account}", "body.postings")
        if p.amount < 0:
            debits[(info.owner, info.kind)] -= p.amount
        else:
            key = p.account if info.kind is AccountKind.MEMBER else f"{info.owner}|{info.kind.value}"
            credits[key] += p.amount
    return dict(debits), dict(credits)
