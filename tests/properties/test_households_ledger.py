"""The household rules in the ledger itself (``rules.apply`` on an in-memory state, as replay runs them):
for any roster and any sequence of sales, every split the rule gives is accepted, the members' accounts
plus the cooperative's fees hold exactly what buyers paid, and a split one fen off is refused.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidHouseholdRecord
from ledger.households import (
    ROSTER_ACTION,
    SALE_ACTION,
    Member,
    Roster,
    attribution_meta,
    distribution_meta,
    parse_attribution,
    roster_meta,
)
from ledger.model import AccountKind, Body, Lot, OpenAccount, Posting, RegisterParty, TxBody
from ledger.rules import apply
from ledger.state import LedgerState

AT = datetime(2025, 3, 1, tzinfo=UTC)
COOP, BUREAU, BUYER, OPERATOR = "coop:X", "bureau:330900", "ent:B", "operator:O"
LOT = Lot(jurisdiction="330900", vintage=2024, batch="P-1-2024-1")
HASH = "cd" * 32


def _run(state: LedgerState, body: Body) -> None:
    state.commit(apply(body, state, AT))


def _world(roster: Roster, issued_t: int, cash_fen: int) -> LedgerState:
    state = LedgerState(rule_set=2)
    for party, role, profile in (
        (OPERATOR, "operator", {}),
        (BUREAU, "bureau", {"jurisdiction": "330900"}),
        (COOP, "cooperative", {"jurisdiction": "330922"}),
        (BUYER, "enterprise", {"jurisdiction": "330900"}),
    ):
        _run(state, RegisterParty(party, role, profile, "n"))
    accounts = [
        (f"{OPERATOR}.settlement", OPERATOR, AccountKind.SETTLEMENT),
        (f"{BUREAU}.cap.BC", BUREAU, AccountKind.ISSUANCE),
        (f"{COOP}.holding", COOP, AccountKind.HOLDING),
        (f"{COOP}.cash", COOP, AccountKind.CASH),
        (f"{BUYER}.holding", BUYER, AccountKind.HOLDING),
        (f"{BUYER}.cash", BUYER, AccountKind.CASH),
        *((m.account, COOP, AccountKind.MEMBER) for m in roster.members),
    ]
    for account, owner, kind in accounts:
        _run(state, OpenAccount(account, owner, kind, "n"))
    money = (
        Posting(f"{OPERATOR}.settlement", "CNY", Lot(), -cash_fen),
        Posting(f"{BUYER}.cash", "CNY", Lot(), cash_fen),
    )
    _run(state, TxBody("cash.deposit", "n", money))
    _run(state, TxBody(ROSTER_ACTION, "n", signers=(COOP, BUREAU), meta=roster_meta(roster)))
    return state


def _issue(roster: Roster, sink_kg: int, issued_t: int) -> TxBody:
    meta = {
        "project": roster.project,
        "inputs": {"monitoring_start": roster.start.isoformat(), "monitoring_end": roster.end.isoformat()},
        "sink_kg_co2e": sink_kg,
        "attribution": attribution_meta(roster, sink_kg),
    }
    kg = issued_t * 1000
    postings = (Posting(f"{BUREAU}.cap.BC", "BC", LOT, -kg), Posting(f"{COOP}.holding", "BC", LOT, kg))
    return TxBody("bc.issue", "n", postings, signers=(BUREAU,), meta=meta)


def _sale(roster: Roster, split: dict[str, Any], tonnes: int, price: int, nonce: str) -> TxBody:
    proceeds = tonnes * price
    postings = [
        Posting(f"{COOP}.holding", "BC", LOT, -tonnes * 1000),
        Posting(f"{BUYER}.holding", "BC", LOT, tonnes * 1000),
        Posting(f"{BUYER}.cash", "CNY", Lot(), -proceeds),
    ]
    if split["fee_fen"]:
        postings.append(Posting(f"{COOP}.cash", "CNY", Lot(), split["fee_fen"]))
    accounts = {m.member: m.account for m in roster.members}
    postings += [Posting(accounts[s["member"]], "CNY", Lot(), s["fen"]) for s in split["shares"] if s["fen"]]
    meta = {
        "batch": LOT.batch,
        "tonnes": tonnes,
        "price_fen_per_t": price,
        "proceeds_fen": proceeds,
        "distribution": split,
    }
    return TxBody(SALE_ACTION, nonce, tuple(postings), signers=(COOP, BUYER), meta=meta)


@st.composite
def rosters(draw: st.DrawFn) -> Roster:
    n = draw(st.integers(1, 12))
    areas = draw(st.lists(st.integers(1, 100_000), min_size=n, max_size=n))
    members = tuple(
        Member(f"M{i:02d}", HASH, a, 2, 4, f"{COOP}.member.M{i:02d}") for i, a in enumerate(areas)
    )
    fee = draw(st.integers(0, 10_000))
    return Roster(COOP, BUREAU, "P-1", date(2024, 1, 1), date(2024, 12, 31), fee, members)


@settings(max_examples=60, deadline=None)
@given(
    roster=rosters(),
    sink_kg=st.integers(1_000, 10**8),
    sales=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 10**7)), min_size=1, max_size=6),
)
def test_the_ledger_accepts_every_split_the_rule_gives_and_money_is_conserved_to_the_fen(
    roster: Roster, sink_kg: int, sales: list[tuple[int, int]]
) -> None:
    issued_t = sum(t for t, _ in sales)
    paid = sum(t * p for t, p in sales)
    state = _world(roster, issued_t, paid)
    _run(state, _issue(roster, sink_kg, issued_t))
    attribution = parse_attribution(str(LOT.batch), attribution_meta(roster, sink_kg))
    assert state.find_attribution(str(LOT.batch)) == attribution
    fees = 0
    owed = {m.account: 0 for m in roster.members}
    for i, (tonnes, price) in enumerate(sales):
        split = distribution_meta(roster, attribution, tonnes * price)
        fees += split["fee_fen"]
        for share in split["shares"]:
            owed[f"{COOP}.member.{share['member']}"] += share["fen"]
        if split["members_fen"]:
            bad = {**split, "shares": [dict(s) for s in split["shares"]]}
            worst = max(range(len(bad["shares"])), key=lambda j: bad["shares"][j]["fen"])
            bad["shares"][worst]["fen"] -= 1  # one fen short for one member, the fee one fen more
            bad["fee_fen"] += 1
            with pytest.raises(InvalidHouseholdRecord):
                apply(_sale(roster, bad, tonnes, price, f"bad{i}"), state, AT)
        _run(state, _sale(roster, split, tonnes, price, f"s{i}"))
    cash = {k[0]: p.total for k, p in state.positions.items() if k[1] == "CNY"}
    assert {a: cash.get(a, 0) for a in owed} == owed
    assert cash.get(f"{COOP}.cash", 0) == fees
    assert sum(owed.values()) + fees == paid
    assert cash.get(f"{BUYER}.cash", 0) == 0
