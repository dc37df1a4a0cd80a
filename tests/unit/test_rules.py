"""The ledger rules as one pure function, exercised against an in-memory ``LedgerState``."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from ledger.canonical import canonical_bytes
from ledger.crypto import TAG_BODY, TAG_RECORD, SigningKey
from ledger.errors import (
    AccountCannotSend,
    BadSignature,
    DomainError,
    DuplicateAccount,
    DuplicateHold,
    DuplicateKey,
    DuplicateParty,
    ExpiredUnits,
    HoldNotOpen,
    HoldNotPermitted,
    InsufficientBalance,
    InvalidInput,
    InvalidQuantity,
    KeyNotValid,
    MissingSignature,
    UnitsEncumbered,
    UnknownAccount,
    UnknownHold,
    UnknownKey,
    UnknownParty,
)
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
    RevokeKey,
    Signature,
    TxBody,
)
from ledger.rules import Effect, Position, apply, check_signatures
from ledger.state import LedgerState

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
LOT = Lot(jurisdiction="330281", valid_until=date(2030, 12, 31))
REGISTRY_KEY = SigningKey.from_seed(b"r" * 32)
KEYS = {party: SigningKey.from_seed(party.encode().ljust(32, b"\x00")) for party in ("alice", "bob", "bank")}
_nonces = itertools.count()


def nonce() -> str:
    return f"n-{next(_nonces)}"


def commit(state: LedgerState, body: Body, at: datetime = NOW) -> Effect:
    effect = apply(body, state, at)
    state.commit(effect)
    return effect


def tx(
    *postings: Posting, holds: tuple = (), action: str = "transfer", signers: tuple[str, ...] = ()
) -> TxBody:
    return TxBody(action, nonce(), tuple(postings), holds, signers)


def move(src: str, dst: str, amount: int, lot: Lot = LOT, instrument: str = "COD", **kw) -> TxBody:
    return tx(Posting(src, instrument, lot, -amount), Posting(dst, instrument, lot, amount), **kw)


def place(hold: str, account: str, amount: int, lot: Lot = LOT, controller: str = "bank") -> TxBody:
    return tx(holds=(HoldPlace(hold, account, "COD", lot, amount, "pledge", controller),))


def settle(op: str, hold: str, amount: int, *postings: Posting) -> TxBody:
    return tx(*postings, holds=(HoldSettle(op, hold, amount),))  # type: ignore[arg-type]


def pos(state: LedgerState, account: str, lot: Lot = LOT, instrument: str = "COD") -> Position:
    return state.position((account, instrument, lot.key()))


@pytest.fixture
def state() -> LedgerState:
    """A bureau with a cap, alice holding 1000 kg of COD, bob with nothing, a bank, a gateway."""
    s = LedgerState()
    commit(
        s,
        Genesis("test registry", REGISTRY_KEY.key_id, REGISTRY_KEY.public, nonce()),
        NOW - timedelta(days=30),
    )
    for party in ("bureau", "alice", "bob", "bank", "gateway"):
        commit(s, RegisterParty(party, "role", {}, nonce()))
    for account, owner, kind in [
        ("cap", "bureau", AccountKind.ISSUANCE),
        ("retired", "bureau", AccountKind.RETIREMENT),
        ("alice.h", "alice", AccountKind.HOLDING),
        ("alice.cash", "alice", AccountKind.CASH),
        ("bob.h", "bob", AccountKind.HOLDING),
        ("bank.h", "bank", AccountKind.HOLDING),
        ("gw", "gateway", AccountKind.SETTLEMENT),
    ]:
        commit(s, OpenAccount(account, owner, kind, nonce()))
    for party, key in KEYS.items():
        commit(s, RegisterKey(party, key.key_id, key.public, NOW - timedelta(days=1), nonce()))
    commit(s, move("cap", "alice.h", 1000, action="issue"))
    return s


# --- balances -------------------------------------------------------------------------------


def test_an_issuance_account_may_run_negative_and_the_units_arrive(state: LedgerState) -> None:
    assert pos(state, "cap") == Position(-1000, 0)
    assert pos(state, "alice.h") == Position(1000, 0)
    assert state.totals() == {("COD", LOT.key()): 0}


def test_a_settlement_account_may_run_negative(state: LedgerState) -> None:
    commit(state, move("gw", "alice.cash", 500, Lot(), "CNY", action="deposit"))
    assert pos(state, "gw", Lot(), "CNY").total == -500


def test_sending_more_than_the_account_owns_is_insufficient_balance(state: LedgerState) -> None:
    with pytest.raises(InsufficientBalance) as caught:
        apply(move("alice.h", "bob.h", 1001), state, NOW)
    assert caught.value.details["account"] == "alice.h"
    assert caught.value.details["available"] == 1000


def test_an_empty_account_cannot_send_a_single_unit(state: LedgerState) -> None:
    with pytest.raises(InsufficientBalance) as caught:
        apply(move("bob.h", "alice.h", 1), state, NOW)
    assert caught.value.details["available"] == 0


def test_a_holding_account_cannot_send_units_of_a_lot_it_does_not_hold(state: LedgerState) -> None:
    other = Lot(jurisdiction="330282", valid_until=date(2030, 12, 31))
    with pytest.raises(InsufficientBalance):
        apply(move("alice.h", "bob.h", 1, lot=other), state, NOW)


def test_owned_but_held_units_are_encumbered_not_insufficient(state: LedgerState) -> None:
    commit(state, place("h1", "alice.h", 600))
    with pytest.raises(UnitsEncumbered) as caught:
        apply(move("alice.h", "bob.h", 401), state, NOW)
    assert caught.value.details == {
        "account": "alice.h",
        "instrument": "COD",
        "lot": LOT.key(),
        "held": 600,
        "total": 599,
    }
    commit(state, move("alice.h", "bob.h", 400))
    assert pos(state, "alice.h") == Position(600, 600)


def test_sending_more_than_the_account_owns_is_insufficient_even_when_units_are_held(
    state: LedgerState,
) -> None:
    commit(state, place("h1", "alice.h", 600))
    with pytest.raises(InsufficientBalance) as caught:
        apply(move("alice.h", "bob.h", 1001), state, NOW)
    assert caught.value.details["available"] == 400


def test_a_retirement_account_can_receive_but_never_send(state: LedgerState) -> None:
    commit(state, move("alice.h", "retired", 100, action="retire"))
    assert pos(state, "retired").total == 100
    with pytest.raises(AccountCannotSend) as caught:
        apply(move("retired", "bob.h", 1), state, NOW)
    assert caught.value.details["field"] == "postings[0].account"


def test_a_posting_to_an_unknown_account_is_refused_naming_the_posting(state: LedgerState) -> None:
    with pytest.raises(UnknownAccount) as caught:
        apply(move("alice.h", "nobody.h", 1), state, NOW)
    assert caught.value.details["field"] == "postings[1].account"


# --- holds ----------------------------------------------------------------------------------


def test_placing_a_hold_encumbers_units_and_needs_the_owner(state: LedgerState) -> None:
    effect = commit(state, place("h1", "alice.h", 600))
    assert effect.required_signers == {"alice"}
    assert pos(state, "alice.h") == Position(1000, 600)
    hold = state.holds["h1"]
    assert (hold.amount, hold.status, hold.controller) == (600, "open", "bank")


def test_a_hold_larger_than_the_balance_is_encumbered(state: LedgerState) -> None:
    with pytest.raises(UnitsEncumbered):
        apply(place("h1", "alice.h", 1001), state, NOW)


@pytest.mark.parametrize("account", ["cap", "gw", "retired"])
def test_units_in_issuance_settlement_or_retirement_accounts_cannot_be_held(
    state: LedgerState, account: str
) -> None:
    with pytest.raises(HoldNotPermitted) as caught:
        apply(place("h1", account, 1), state, NOW)
    assert caught.value.details["field"] == "holds[0].account"


def test_a_hold_id_already_used_is_a_duplicate_even_after_release(state: LedgerState) -> None:
    commit(state, place("h1", "alice.h", 100))
    with pytest.raises(DuplicateHold):
        apply(place("h1", "alice.h", 100), state, NOW)
    commit(state, settle("release", "h1", 100))
    with pytest.raises(DuplicateHold):
        apply(place("h1", "alice.h", 100), state, NOW)


def test_two_holds_with_one_id_in_one_transaction_are_duplicates(state: LedgerState) -> None:
    op = HoldPlace("h1", "alice.h", "COD", LOT, 1, "pledge", "bank")
    with pytest.raises(DuplicateHold):
        apply(tx(holds=(op, op)), state, NOW)


@pytest.mark.parametrize("op", ["release", "capture"])
def test_settling_an_unknown_hold_is_refused(state: LedgerState, op: str) -> None:
    with pytest.raises(UnknownHold) as caught:
        apply(settle(op, "nope", 1), state, NOW)
    assert caught.value.details["field"] == "holds[0].hold"


def test_a_full_release_frees_the_units_and_closes_the_hold(state: LedgerState) -> None:
    commit(state, place("h1", "alice.h", 600))
    effect = commit(state, settle("release", "h1", 600))
    assert effect.required_signers == {"bank"}
    assert pos(state, "alice.h") == Position(1000, 0)
    assert (state.holds["h1"].status, state.holds["h1"].amount) == ("released", 0)
    with pytest.raises(HoldNotOpen):
        apply(settle("release", "h1", 1), state, NOW)
    with pytest.raises(HoldNotOpen):
        apply(settle("capture", "h1", 1), state, NOW)


def test_a_partial_release_leaves_the_rest_held_and_the_hold_open(state: LedgerState) -> None:
    commit(state, place("h1", "alice.h", 600))
    commit(state, settle("release", "h1", 200))
    assert pos(state, "alice.h") == Position(1000, 400)
    assert (state.holds["h1"].status, state.holds["h1"].amount) == ("open", 400)
    commit(state, move("alice.h", "bob.h", 600))
    with pytest.raises(UnitsEncumbered):
        apply(move("alice.h", "bob.h", 1), state, NOW)


def test_releasing_more_than_is_left_on_a_hold_is_refused(state: LedgerState) -> None:
    commit(state, place("h1", "alice.h", 600))
    commit(state, settle("release", "h1", 200))
    with pytest.raises(InvalidQuantity) as caught:
        apply(settle("release", "h1", 401), state, NOW)
    assert caught.value.field == "holds[0].amount"


def test_a_capture_lets_the_controller_move_held_units_without_the_owner(state: LedgerState) -> None:
    commit(state, place("h1", "alice.h", 600))
    body = settle(
        "capture", "h1", 600, Posting("alice.h", "COD", LOT, -600), Posting("bank.h", "COD", LOT, 600)
    )
    effect = commit(state, body)
    assert effect.required_signers == {"bank"}
    assert "alice" not in effect.required_signers
    assert pos(state, "alice.h") == Position(400, 0)
    assert pos(state, "bank.h") == Position(600, 0)
    assert state.holds["h1"].status == "captured"


def test_debiting_more_than_the_capture_needs_the_owner_as_well(state: LedgerState) -> None:
    commit(state, place("h1", "alice.h", 600))
    body = settle(
        "capture", "h1", 100, Posting("alice.h", "COD", LOT, -200), Posting("bank.h", "COD", LOT, 200)
    )
    assert apply(body, state, NOW).required_signers == {"bank", "alice"}


def test_a_plain_transfer_of_held_units_is_refused_even_with_the_controller_signing(
    state: LedgerState,
) -> None:
    commit(state, place("h1", "alice.h", 1000))
    with pytest.raises(UnitsEncumbered):
        apply(move("alice.h", "bank.h", 600, signers=("bank",)), state, NOW)


# --- validity -------------------------------------------------------------------------------

EXPIRED = Lot(jurisdiction="330281", valid_until=date(2025, 5, 31))


@pytest.fixture
def expired_state(state: LedgerState) -> LedgerState:
    commit(state, move("cap", "alice.h", 100, lot=EXPIRED, action="issue"), NOW - timedelta(days=60))
    return state


def test_units_past_their_validity_cannot_be_transferred(expired_state: LedgerState) -> None:
    with pytest.raises(ExpiredUnits) as caught:
        apply(move("alice.h", "bob.h", 1, lot=EXPIRED), expired_state, NOW)
    assert caught.value.details["field"] == "postings[0].lot"
    assert caught.value.details["valid_until"] == "2025-05-31"


def test_an_expiry_run_may_move_expired_units(expired_state: LedgerState) -> None:
    commit(expired_state, move("alice.h", "retired", 100, lot=EXPIRED, action="expiry"))
    assert pos(expired_state, "retired", EXPIRED).total == 100


def test_expired_units_cannot_be_held(expired_state: LedgerState) -> None:
    with pytest.raises(ExpiredUnits) as caught:
        apply(place("h1", "alice.h", 1, lot=EXPIRED), expired_state, NOW)
    assert caught.value.details["field"] == "holds[0].lot"


def test_expired_units_cannot_be_issued(state: LedgerState) -> None:
    with pytest.raises(ExpiredUnits):
        apply(move("cap", "alice.h", 1, lot=EXPIRED, action="issue"), state, NOW)


def test_units_are_still_valid_on_their_last_day(state: LedgerState) -> None:
    last_day = Lot(jurisdiction="330281", valid_until=NOW.date())
    commit(state, move("cap", "alice.h", 5, lot=last_day, action="issue"))
    commit(state, move("alice.h", "bob.h", 5, lot=last_day))
    assert pos(state, "bob.h", last_day).total == 5


# --- required signers -----------------------------------------------------------------------


def test_required_signers_are_owners_of_debited_accounts_plus_named_signers_minus_the_registry(
    state: LedgerState,
) -> None:
    effect = apply(move("alice.h", "bob.h", 5, signers=("registry", "carol")), state, NOW)
    assert effect.required_signers == {"alice", "carol"}


def test_issuance_needs_the_bureau_that_owns_the_cap_and_not_the_receiver(state: LedgerState) -> None:
    assert apply(move("cap", "bob.h", 5, action="issue"), state, NOW).required_signers == {"bureau"}


def test_every_debited_owner_must_sign(state: LedgerState) -> None:
    commit(state, move("alice.h", "bob.h", 100))
    body = tx(
        Posting("alice.h", "COD", LOT, -10),
        Posting("bob.h", "COD", LOT, -10),
        Posting("bank.h", "COD", LOT, 20),
    )
    assert apply(body, state, NOW).required_signers == {"alice", "bob"}


# --- registration bodies --------------------------------------------------------------------


def test_registration_bodies_refuse_duplicates_and_unknown_parties(state: LedgerState) -> None:
    with pytest.raises(DuplicateParty):
        apply(RegisterParty("alice", "role", {}, nonce()), state, NOW)
    with pytest.raises(DuplicateAccount):
        apply(OpenAccount("alice.h", "alice", AccountKind.HOLDING, nonce()), state, NOW)
    with pytest.raises(UnknownParty):
        apply(OpenAccount("carol.h", "carol", AccountKind.HOLDING, nonce()), state, NOW)
    with pytest.raises(UnknownParty):
        apply(RegisterKey("carol", "k", KEYS["alice"].public, NOW, nonce()), state, NOW)
    key = KEYS["alice"]
    with pytest.raises(DuplicateKey):
        apply(RegisterKey("alice", key.key_id, key.public, NOW, nonce()), state, NOW)


def test_a_key_can_be_revoked_once_by_its_own_party_and_never_backdated(state: LedgerState) -> None:
    key_id = KEYS["alice"].key_id
    with pytest.raises(UnknownKey):
        apply(RevokeKey("bob", key_id, NOW, "lost", nonce()), state, NOW)
    with pytest.raises(InvalidInput) as caught:
        apply(RevokeKey("alice", key_id, NOW - timedelta(seconds=1), "lost", nonce()), state, NOW)
    assert caught.value.field == "body.revoked_at"
    commit(state, RevokeKey("alice", key_id, NOW, "lost", nonce()))
    assert state.keys[key_id].revoked_at == NOW
    with pytest.raises(KeyNotValid):
        apply(RevokeKey("alice", key_id, NOW, "again", nonce()), state, NOW)


# --- the view is never changed --------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: move("alice.h", "bob.h", 1001), InsufficientBalance),
        (lambda: move("alice.h", "nobody.h", 1), UnknownAccount),
        (
            lambda: settle(
                "capture", "h1", 700, Posting("alice.h", "COD", LOT, -700), Posting("bob.h", "COD", LOT, 700)
            ),
            InvalidQuantity,
        ),
        (
            lambda: settle(
                "release",
                "h1",
                600,
                Posting("alice.h", "COD", LOT, -1001),
                Posting("bob.h", "COD", LOT, 1001),
            ),
            InsufficientBalance,
        ),
        (
            lambda: tx(
                holds=(
                    HoldSettle("release", "h1", 100),
                    HoldPlace("h1", "alice.h", "COD", LOT, 1, "x", "bank"),
                )
            ),
            DuplicateHold,
        ),
        (lambda: move("retired", "bob.h", 1), AccountCannotSend),
    ],
)
def test_a_refused_apply_leaves_the_state_exactly_as_it_was(state: LedgerState, make, error) -> None:
    commit(state, place("h1", "alice.h", 600))
    before = copy.deepcopy(state)
    with pytest.raises(error):
        apply(make(), state, NOW)
    assert state == before


def test_an_accepted_apply_changes_nothing_until_its_effect_is_committed(state: LedgerState) -> None:
    commit(state, place("h1", "alice.h", 600))
    before = copy.deepcopy(state)
    body = settle(
        "capture", "h1", 600, Posting("alice.h", "COD", LOT, -600), Posting("bob.h", "COD", LOT, 600)
    )
    effect = apply(body, state, NOW)
    assert state == before
    assert effect.holds["h1"].status == "captured"


def test_committing_a_position_that_returns_to_zero_drops_it(state: LedgerState) -> None:
    commit(state, move("alice.h", "bob.h", 1000))
    assert ("alice.h", "COD", LOT.key()) not in state.balances()
    assert pos(state, "alice.h") == Position(0, 0)


# --- signatures -----------------------------------------------------------------------------

BODY = move("alice.h", "bob.h", 5)
BODY_BYTES = canonical_bytes(BODY.to_json())


def sign(party: str, data: bytes = BODY_BYTES, key: SigningKey | None = None) -> Signature:
    k = key or KEYS[party]
    return Signature(party, k.key_id, k.sign(TAG_BODY, data))


def test_a_valid_signature_of_every_required_party_passes(state: LedgerState) -> None:
    check_signatures(BODY_BYTES, [sign("alice"), sign("bank")], {"alice"}, state, NOW)


def test_a_signature_under_an_unregistered_key_is_unknown_key(state: LedgerState) -> None:
    stranger = SigningKey.from_seed(bytes(32))
    with pytest.raises(UnknownKey) as caught:
        check_signatures(BODY_BYTES, [sign("bank"), sign("alice", key=stranger)], {"alice"}, state, NOW)
    assert caught.value.details["field"] == "signatures[1].key_id"


def test_a_signature_claiming_another_partys_key_is_unknown_key(state: LedgerState) -> None:
    sig = sign("bob")
    forged = Signature("alice", sig.key_id, sig.sig)
    with pytest.raises(UnknownKey):
        check_signatures(BODY_BYTES, [forged], {"alice"}, state, NOW)


def test_a_signature_by_a_key_revoked_at_or_before_the_instant_is_key_not_valid(state: LedgerState) -> None:
    commit(state, RevokeKey("alice", KEYS["alice"].key_id, NOW, "lost", nonce()))
    check_signatures(BODY_BYTES, [sign("alice")], {"alice"}, state, NOW - timedelta(microseconds=1))
    for at in (NOW, NOW + timedelta(days=1)):
        with pytest.raises(KeyNotValid, match="revoked") as caught:
            check_signatures(BODY_BYTES, [sign("alice")], {"alice"}, state, at)
        assert caught.value.details["field"] == "signatures[0].key_id"


def test_a_signature_by_a_key_not_yet_valid_is_key_not_valid(state: LedgerState) -> None:
    valid_from = NOW - timedelta(days=1)
    check_signatures(BODY_BYTES, [sign("alice")], {"alice"}, state, valid_from)
    with pytest.raises(KeyNotValid, match="not yet valid"):
        check_signatures(
            BODY_BYTES, [sign("alice")], {"alice"}, state, valid_from - timedelta(microseconds=1)
        )


@pytest.mark.parametrize(
    "sig",
    [
        pytest.param(lambda: sign("alice", b"other body"), id="other-body"),
        pytest.param(
            lambda: Signature("alice", KEYS["alice"].key_id, KEYS["alice"].sign(TAG_RECORD, BODY_BYTES)),
            id="other-tag",
        ),
        pytest.param(lambda: Signature("alice", KEYS["alice"].key_id, bytes(64)), id="zeros"),
    ],
)
def test_a_signature_that_does_not_verify_is_bad_signature(state: LedgerState, sig) -> None:
    with pytest.raises(BadSignature) as caught:
        check_signatures(BODY_BYTES, [sig()], {"alice"}, state, NOW)
    assert caught.value.details["field"] == "signatures[0].sig"


def test_a_required_party_that_did_not_sign_is_missing_signature(state: LedgerState) -> None:
    with pytest.raises(MissingSignature) as caught:
        check_signatures(BODY_BYTES, [sign("alice")], {"alice", "bob", "bank"}, state, NOW)
    assert caught.value.details["missing"] == ["bank", "bob"]
    with pytest.raises(MissingSignature):
        check_signatures(BODY_BYTES, [], {"alice"}, state, NOW)


def test_signatures_are_checked_before_missing_parties_are_reported(state: LedgerState) -> None:
    with pytest.raises(BadSignature):
        check_signatures(BODY_BYTES, [sign("alice", b"x")], {"alice", "bob"}, state, NOW)


def test_every_rule_error_is_a_domain_error_with_a_stable_code() -> None:
    codes = {
        InsufficientBalance: "insufficient_balance",
        UnitsEncumbered: "units_encumbered",
        AccountCannotSend: "account_cannot_send",
        ExpiredUnits: "expired_units",
        HoldNotPermitted: "hold_not_permitted",
        HoldNotOpen: "hold_not_open",
        DuplicateHold: "duplicate_hold",
        UnknownHold: "unknown_hold",
        UnknownKey: "unknown_key",
        KeyNotValid: "key_not_valid",
        BadSignature: "bad_signature",
        MissingSignature: "missing_signature",
    }
    for error, code in codes.items():
        assert issubclass(error, DomainError)
        assert error.code == code
        assert error("m").to_dict()["code"] == code
