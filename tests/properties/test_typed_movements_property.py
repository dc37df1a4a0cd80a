"""Random typed bodies against rule set 2 (pure: ``rules.apply`` on an in-memory state, as replay runs
it): whatever is accepted, units never sit outside their jurisdiction except through an approved
cross-city settlement (or a bank's enforcement), and no cap or reserve changes without its bureau."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import DomainError
from ledger.model import (
    REGISTRY,
    AccountKind,
    AdoptRules,
    HoldPlace,
    HoldSettle,
    Lot,
    OpenAccount,
    Posting,
    RegisterParty,
    TxBody,
)
from ledger.movements import MOVEMENTS
from ledger.rules import apply
from ledger.state import LedgerState
from ledger.units import instrument

T0 = datetime(2027, 1, 1, tzinfo=UTC)
UNTIL = date(2030, 12, 31)
CITIES = {"A": "330281", "B": "330200"}
LOTS = [Lot(jurisdiction=j, valid_until=UNTIL) for j in CITIES.values()]
PARTIES = {
    "bureau:A": ("bureau", "A"),
    "bureau:B": ("bureau", "B"),
    "ent:a1": ("enterprise", "A"),
    "ent:a2": ("enterprise", "A"),
    "ent:b1": ("enterprise", "B"),
    "bank:a": ("bank", "A"),
    "operator": ("operator", None),
}
KINDS = {
    "bureau": [AccountKind.ISSUANCE, AccountKind.RESERVE, AccountKind.RETIREMENT, AccountKind.CASH],
    "enterprise": [AccountKind.HOLDING, AccountKind.CASH, AccountKind.RETIREMENT],
    "bank": [AccountKind.HOLDING, AccountKind.CASH],
    "operator": [AccountKind.SETTLEMENT, AccountKind.ESCROW],
}
ACCOUNTS = [f"{p}.{k.value}" for p, (role, _) in PARTIES.items() for k in KINDS[role]]
ACTIONS = [
    *sorted(MOVEMENTS),
    "gift",
    *["transfer", "trade", "allocation.initial", "cap.set", "crosscity.settle"] * 3,
]


def _world() -> LedgerState:
    state = LedgerState()
    bodies: list[object] = [RegisterParty(REGISTRY, "registry", {}, "n0"), AdoptRules(2, "n1")]
    for party, (role, city) in PARTIES.items():
        profile = {"jurisdiction": CITIES[city]} if city else {}
        bodies.append(RegisterParty(party, role, profile, f"p-{party}"))
        bodies += [
            OpenAccount(f"{party}.{k.value}", party, k, f"a-{party}-{k.value}")
            for k in KINDS[PARTIES[party][0]]
        ]
    for body in bodies:
        state.commit(apply(body, state, T0))  # type: ignore[arg-type]
    for city, lot in zip(CITIES, LOTS, strict=True):
        _accept(
            state,
            _pair("cap.set", f"bureau:{city}.issuance", f"bureau:{city}.reserve", "COD", lot, 10_000),
            {f"bureau:{city}"},
        )
    _accept(
        state,
        _pair("allocation.initial", "bureau:A.reserve", "ent:a1.holding", "COD", LOTS[0], 5_000),
        {"bureau:A"},
    )
    _accept(
        state,
        _pair("allocation.initial", "bureau:B.reserve", "ent:b1.holding", "COD", LOTS[1], 5_000),
        {"bureau:B"},
    )
    for who in ("ent:a1", "ent:a2", "ent:b1", "bureau:A", "bureau:B"):
        _accept(
            state,
            _pair("cash.deposit", "operator.settlement", f"{who}.cash", "CNY", Lot(), 1_000_000),
            {"operator"},
        )
    return state


def _pair(action: str, src: str, dst: str, code: str, lot: Lot, amount: int) -> TxBody:
    return TxBody(
        action,
        f"n-{action}-{src}-{dst}-{amount}",
        (Posting(src, code, lot, -amount), Posting(dst, code, lot, amount)),
    )


def _accept(state: LedgerState, body: TxBody, signers: set[str]) -> bool:
    """Apply as the live ledger would: the rules, then the consent they ask for."""
    try:
        effect = apply(body, state, T0 + timedelta(days=1))
    except DomainError:
        return False
    if not effect.required_signers <= signers:
        return False
    state.commit(effect)
    return True


def _owner(account: str) -> str:
    return account.rsplit(".", 1)[0]


# A small universe biased towards what could do harm, so that a harmful acceptance is found if the
# rules allow one: funded sources, and destinations across cities and account kinds.
SOURCES = ["ent:a1.holding", "bureau:A.reserve", "bureau:A.issuance", "ent:a1.cash"]
TARGETS = [
    "ent:a2.holding",
    "ent:b1.holding",
    "bureau:A.reserve",
    "bureau:B.reserve",
    "bureau:B.issuance",
    "bank:a.holding",
    "ent:a1.cash",
    "bureau:A.issuance",
]
legs = st.tuples(
    st.sampled_from(SOURCES),
    st.sampled_from(TARGETS),
    st.sampled_from(["COD", "COD", "COD", "CNY"]),
    st.sampled_from([LOTS[0], LOTS[0], LOTS[1], Lot()]),
    st.integers(1, 3_000),
)
bodies = st.tuples(
    st.sampled_from(ACTIONS),
    st.lists(legs, min_size=1, max_size=2),
    st.sets(st.sampled_from(sorted(PARTIES)), max_size=3),
    st.booleans(),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(bodies, min_size=1, max_size=30))
def test_accepted_bodies_never_move_units_out_of_their_jurisdiction_or_touch_a_cap_unsigned(
    steps: list[tuple[str, list[tuple[str, str, str, Lot, int]], set[str], bool]],
) -> None:
    state = _world()
    for n, (action, pairs, others, hold) in enumerate(steps):
        signers = others | {_owner(src) for src, *_ in pairs}  # the senders consent, and maybe others
        postings: list[Posting] = []
        for src, dst, code, lot, amount in pairs:
            if src == dst:
                continue
            postings += [Posting(src, code, lot, -amount), Posting(dst, code, lot, amount)]
        holds: tuple[HoldPlace | HoldSettle, ...] = ()
        if hold and pairs:
            src, _, code, lot, amount = pairs[0]
            holds = (HoldPlace(f"h{n}", src, code, lot, amount, "test", sorted(signers or {"operator"})[0]),)
        try:
            body = TxBody(action, f"n{n}", tuple(postings), holds=holds)
        except DomainError:
            continue  # not even a well-formed body (unbalanced, empty)
        if not _accept(state, body, signers):
            continue
        touched = {p.lot.jurisdiction for p in postings if instrument(p.instrument).scoped_to_jurisdiction}
        if len(touched) > 1:
            assert action == "crosscity.settle"
            assert {"bureau:A", "bureau:B"} <= signers
        for p in postings:
            kind = state.accounts[p.account].kind
            if kind in (AccountKind.ISSUANCE, AccountKind.RESERVE):
                assert _owner(p.account) in signers, (action, p)
        _check_placement(state)


def _check_placement(state: LedgerState) -> None:
    for (account, code, lot_key), pos in state.positions.items():
        if pos.total == 0 or not instrument(code).scoped_to_jurisdiction:
            continue
        owner = _owner(account)
        role, city = PARTIES[owner]
        lot = Lot.from_key(lot_key)
        if role == "bank":
            continue  # a bank comes to hold rights of any city by enforcing a pledge
        assert city is not None, account
        assert CITIES[city] == lot.jurisdiction, (account, lot_key, pos)
