"""Record bodies: ``parse_body`` names the field of every refusal, and ``to_json`` round-trips."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from ledger.canonical import canonical_bytes
from ledger.crypto import SigningKey, b64e
from ledger.errors import InvalidInput, InvalidLot, InvalidQuantity, UnbalancedTransaction, UnknownInstrument
from ledger.model import (
    AccountKind,
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
    check_id,
    parse_body,
)

YUYAO = "330281"
COD_LOT = {"jurisdiction": YUYAO, "valid_until": "2030-12-31"}
KEY = SigningKey.from_seed(bytes(range(32)))


def posting(account: str, amount: Any, instrument: str = "COD", lot: Any = COD_LOT) -> dict[str, Any]:
    out = {"account": account, "instrument": instrument, "amount": amount}
    if lot is not None:
        out["lot"] = lot
    return out


def tx(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "tx",
        "action": "transfer",
        "nonce": "n-1",
        "postings": [posting("ent:a.h", -5), posting("ent:b.h", 5)],
    }
    body.update(changes)
    return body


def hold(**changes: Any) -> dict[str, Any]:
    op: dict[str, Any] = {
        "op": "place",
        "hold": "pledge-1",
        "account": "ent:a.h",
        "instrument": "COD",
        "lot": COD_LOT,
        "amount": 5,
        "reason": "pledge",
        "controller": "bank:x",
    }
    op.update(changes)
    return op


def key_register(**changes: Any) -> dict[str, Any]:
    body = {
        "type": "key.register",
        "party": "ent:a",
        "key_id": KEY.key_id,
        "public_key": b64e(KEY.public),
        "valid_from": "2025-01-01T00:00:00.000000Z",
        "nonce": "n-2",
    }
    body.update(changes)
    return body


def genesis(**changes: Any) -> dict[str, Any]:
    body = {
        "type": "genesis",
        "registry": "registry",
        "name": "test registry",
        "key_id": KEY.key_id,
        "public_key": b64e(KEY.public),
        "nonce": "n-0",
    }
    body.update(changes)
    return body


def refusal(value: object, error: type[InvalidInput] = InvalidInput) -> InvalidInput:
    with pytest.raises(error) as caught:
        parse_body(value)
    return caught.value


# --- a valid transaction --------------------------------------------------------------------


def test_a_balanced_transfer_parses_into_typed_postings() -> None:
    body = parse_body(tx())
    assert isinstance(body, TxBody)
    lot = Lot(jurisdiction=YUYAO, valid_until=date(2030, 12, 31))
    assert body.postings == (Posting("ent:a.h", "COD", lot, -5), Posting("ent:b.h", "COD", lot, 5))
    assert body.holds == ()
    assert body.signers == ()
    assert body.meta == {}


# --- balance --------------------------------------------------------------------------------


def test_unbalanced_postings_are_refused_with_the_residual() -> None:
    exc = refusal(tx(postings=[posting("ent:a.h", -5), posting("ent:b.h", 4)]), UnbalancedTransaction)
    assert exc.field == "postings"
    assert exc.details["residual"] == -1
    assert exc.details["instrument"] == "COD"
    assert exc.details["lot"] == "j=330281;u=2030-12-31"


def test_postings_balance_per_lot_not_per_instrument() -> None:
    other_lot = {"jurisdiction": "330282", "valid_until": "2030-12-31"}
    body = tx(postings=[posting("ent:a.h", -5), posting("ent:b.h", 5, lot=other_lot)])
    exc = refusal(body, UnbalancedTransaction)
    assert abs(exc.details["residual"]) == 5


def test_postings_balance_per_instrument() -> None:
    body = tx(postings=[posting("ent:a.h", -5), posting("ent:b.h", 5, instrument="NOX")])
    assert refusal(body, UnbalancedTransaction).details["residual"] in (-5, 5)


def test_constructing_an_unbalanced_body_directly_is_refused_too() -> None:
    with pytest.raises(UnbalancedTransaction):
        TxBody("transfer", "n", (Posting("ent:a.h", "CNY", Lot(), -5),))


def test_many_legs_that_net_to_zero_per_lot_are_accepted() -> None:
    legs = [
        posting("a", -7),
        posting("b", 3),
        posting("c", 4),
        posting("d", -2, "CNY", None),
        posting("e", 2, "CNY", None),
    ]
    assert len(parse_body(tx(postings=legs)).postings) == 5


# --- fields named on refusal ----------------------------------------------------------------


def test_an_unknown_instrument_is_refused_naming_the_posting_field() -> None:
    exc = refusal(tx(postings=[posting("ent:a.h", -5, "PM25"), posting("ent:b.h", 5)]), UnknownInstrument)
    assert exc.field == "body.postings[0].instrument"


@pytest.mark.parametrize(
    "amount",
    [0, 1.5, -5.0, True, False, "5", None],
    ids=["zero", "float", "neg-float", "true", "false", "str", "none"],
)
def test_a_posting_amount_that_is_not_a_non_zero_int_is_refused_naming_the_field(amount: object) -> None:
    exc = refusal(tx(postings=[posting("ent:a.h", amount), posting("ent:b.h", 5)]))
    assert exc.field == "body.postings[0].amount"


@pytest.mark.parametrize("amount", [2**53, -(2**53), 2**70])
def test_a_posting_amount_beyond_the_canonical_range_is_refused_naming_the_field(amount: int) -> None:
    exc = refusal(tx(postings=[posting("ent:a.h", amount), posting("ent:b.h", -amount)]), InvalidQuantity)
    assert exc.field == "body.postings[0].amount"


@pytest.mark.parametrize("amount", [0, -5, 1.5, True, 2**53])
def test_a_hold_amount_that_is_not_a_positive_int_is_refused_naming_the_field(amount: object) -> None:
    exc = refusal(tx(postings=[], holds=[hold(amount=amount)]), InvalidQuantity)
    assert exc.field == "body.holds[0].amount"


@pytest.mark.parametrize(
    ("lot", "field"),
    [
        ({"jurisdiction": "33028", "valid_until": "2030-12-31"}, "jurisdiction"),
        ({"jurisdiction": "3302810", "valid_until": "2030-12-31"}, "jurisdiction"),
        ({"jurisdiction": "33028a", "valid_until": "2030-12-31"}, "jurisdiction"),
        ({"jurisdiction": 330281, "valid_until": "2030-12-31"}, "jurisdiction"),
        ({"valid_until": "2030-12-31"}, "jurisdiction"),
        ({}, "jurisdiction"),
        ({"jurisdiction": YUYAO, "valid_until": "2030-13-01"}, "valid_until"),
        ({"jurisdiction": YUYAO, "valid_until": "31/12/2030"}, "valid_until"),
        ({"jurisdiction": YUYAO, "valid_until": 20301231}, "valid_until"),
        ({"jurisdiction": YUYAO, "vintage": True}, "vintage"),
        ({"jurisdiction": YUYAO, "vintage": 1899}, "vintage"),
        ({"jurisdiction": YUYAO, "vintage": "2024"}, "vintage"),
    ],
)
def test_a_bad_lot_is_refused_naming_the_lot_field(lot: dict[str, Any], field: str) -> None:
    body = tx(postings=[posting("ent:a.h", -5, lot=lot), posting("ent:b.h", 5, lot=lot)])
    exc = refusal(body, InvalidLot)
    assert exc.field == f"body.postings[0].lot.{field}"


def test_a_cod_posting_without_any_lot_is_refused_for_want_of_a_jurisdiction() -> None:
    exc = refusal(
        tx(postings=[posting("ent:a.h", -5, lot=None), posting("ent:b.h", 5, lot=None)]), InvalidLot
    )
    assert exc.field == "body.postings[0].lot.jurisdiction"


@pytest.mark.parametrize("lot", [{"jurisdiction": YUYAO}, {"vintage": 2024}, {"batch": "b1"}])
def test_cny_with_a_lot_is_refused(lot: dict[str, Any]) -> None:
    body = tx(postings=[posting("ent:a.cash", -5, "CNY", lot), posting("ent:b.cash", 5, "CNY", lot)])
    exc = refusal(body, InvalidLot)
    assert exc.field == "body.postings[0].lot"


def test_a_blue_carbon_credit_needs_no_jurisdiction() -> None:
    lot = {"vintage": 2024, "batch": "HYT0305-001"}
    body = parse_body(tx(postings=[posting("a", -5, "BC", lot), posting("b", 5, "BC", lot)]))
    assert isinstance(body, TxBody)
    assert body.postings[0].lot == Lot(vintage=2024, batch="HYT0305-001")


def test_a_lot_batch_that_is_not_an_id_is_refused_naming_the_field() -> None:
    lot = {"batch": "bad batch"}
    exc = refusal(tx(postings=[posting("a", -5, "BC", lot), posting("b", 5, "BC", lot)]))
    assert exc.field == "body.postings[0].lot.batch"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (tx(memo="x"), "body.memo"),
        (tx(postings=[{**posting("a", -5), "memo": 1}, posting("b", 5)]), "body.postings[0].memo"),
        (
            tx(postings=[posting("a", -5, lot={**COD_LOT, "colour": "green"}), posting("b", 5)]),
            "body.postings[0].lot.colour",
        ),
        (tx(postings=[], holds=[hold(memo="x")]), "body.holds[0].memo"),
        (
            tx(postings=[], holds=[{"op": "release", "hold": "h", "amount": 1, "account": "a"}]),
            "body.holds[0].account",
        ),
        ({"type": "party.register", "party": "p", "role": "r", "nonce": "n", "x": 1}, "body.x"),
        ({**key_register(), "extra": True}, "body.extra"),
        ({**genesis(), "extra": True}, "body.extra"),
    ],
)
def test_an_unknown_extra_field_is_refused_by_name(body: dict[str, Any], field: str) -> None:
    assert refusal(body).field == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (tx(postings=[], holds=[]), "body.postings"),
        (tx(postings={"a": 1}), "body.postings"),
        (tx(postings=["x"]), "body.postings[0]"),
        (tx(postings=[posting("", -5), posting("b", 5)]), "body.postings[0].account"),
        (tx(postings=[posting("a/b", -5), posting("b", 5)]), "body.postings[0].account"),
        (tx(postings=[posting("a", -5), posting("b" * 129, 5)]), "body.postings[1].account"),
        (tx(action=""), "body.action"),
        (tx(action="a" * 65), "body.action"),
        (tx(nonce=None), "body.nonce"),
        (tx(signers=["ent:a", "not an id"]), "body.signers[1]"),
        (tx(signers="ent:a"), "body.signers"),
        (tx(meta=[]), "body.meta"),
        (tx(postings=[], holds=[hold(op="seize")]), "body.holds[0].op"),
        (tx(postings=[], holds=[hold(hold="")]), "body.holds[0].hold"),
        (tx(postings=[], holds=[hold(reason="r" * 65)]), "body.holds[0].reason"),
        (tx(postings=[], holds=[hold(controller=None)]), "body.holds[0].controller"),
        (tx(postings=[], holds=[hold(instrument="XYZ")]), "body.holds[0].instrument"),
        (tx(postings=[], holds=[hold(lot={})]), "body.holds[0].lot.jurisdiction"),
        (
            {"type": "account.open", "account": "a", "owner": "p", "kind": "savings", "nonce": "n"},
            "body.kind",
        ),
        (
            {"type": "account.open", "account": "a", "owner": "p q", "kind": "holding", "nonce": "n"},
            "body.owner",
        ),
        ({"type": "party.register", "party": "p", "role": "", "nonce": "n"}, "body.role"),
        ({"type": "party.register", "party": "p", "role": "r", "profile": "x", "nonce": "n"}, "body.profile"),
        (key_register(valid_from="2025-01-01T00:00:00Z"), "body.valid_from"),
        (key_register(valid_from="2025-01-01T00:00:00.000000+00:00"), "body.valid_from"),
        (
            {
                "type": "key.revoke",
                "party": "p",
                "key_id": "k",
                "revoked_at": "x",
                "reason": "lost",
                "nonce": "n",
            },
            "body.revoked_at",
        ),
        (
            {
                "type": "key.revoke",
                "party": "p",
                "key_id": "k",
                "revoked_at": "2025-01-01T00:00:00.000000Z",
                "nonce": "n",
            },
            "body.reason",
        ),
    ],
)
def test_each_malformed_field_is_named_in_the_refusal(body: dict[str, Any], field: str) -> None:
    assert refusal(body).field == field


def test_a_key_id_that_does_not_match_the_public_key_is_refused() -> None:
    other = SigningKey.from_seed(bytes(32))
    assert refusal(key_register(key_id=other.key_id)).field == "body.key_id"
    assert refusal(genesis(key_id=other.key_id)).field == "body.key_id"


@pytest.mark.parametrize("public_key", [b64e(bytes(31)), b64e(bytes(33)), b64e(KEY.public) + "=", "", None])
def test_a_public_key_that_is_not_32_bytes_of_canonical_base64url_is_refused(public_key: object) -> None:
    assert refusal(key_register(public_key=public_key)).field == "body.public_key"


def test_a_genesis_for_another_registry_party_is_refused() -> None:
    assert refusal(genesis(registry="operator")).field == "body.registry"


@pytest.mark.parametrize("kind", ["ledger.rewrite", None, 7])
def test_an_unknown_record_type_is_refused_naming_the_type(kind: object) -> None:
    assert refusal({"type": kind, "nonce": "n"}).field == "body.type"


@pytest.mark.parametrize("value", [[], "tx", None])
def test_a_body_that_is_not_an_object_is_refused(value: object) -> None:
    assert refusal(value).field == "body"


# --- signatures -----------------------------------------------------------------------------


def test_a_signature_round_trips_and_marks_custody_only_when_set() -> None:
    sig = Signature("ent:a", KEY.key_id, bytes(range(64)), custody=True)
    assert Signature.parse(sig.to_json(), "s") == sig
    plain = Signature("ent:a", KEY.key_id, bytes(64))
    assert "custody" not in plain.to_json()
    assert Signature.parse(plain.to_json(), "s") == plain


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sig": b64e(bytes(63))}, "sigs[0].sig"),
        ({"sig": b64e(bytes(64)) + "="}, "sigs[0].sig"),
        ({"custody": "yes"}, "sigs[0].custody"),
        ({"party": "a b"}, "sigs[0].party"),
        ({"key_id": ""}, "sigs[0].key_id"),
        ({"extra": 1}, "sigs[0].extra"),
    ],
)
def test_a_malformed_signature_is_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    value = {**Signature("ent:a", KEY.key_id, bytes(64)).to_json(), **changes}
    with pytest.raises(InvalidInput) as caught:
        Signature.parse(value, "sigs[0]")
    assert caught.value.field == field


# --- round trips ----------------------------------------------------------------------------

LOT = Lot(jurisdiction=YUYAO, valid_until=date(2030, 12, 31), vintage=2024, batch="B-1")
BODIES = [
    TxBody(
        action="pledge.open",
        nonce="n-10",
        postings=(
            Posting("ent:a.h", "COD", LOT, -1500),
            Posting("ent:b.h", "COD", LOT, 1500),
            Posting("ent:b.cash", "CNY", Lot(), -99),
            Posting("ent:a.cash", "CNY", Lot(), 99),
        ),
        holds=(
            HoldPlace("h-1", "ent:b.h", "COD", LOT, 700, "pledge", "bank:x"),
            HoldSettle("release", "h-0", 5),
            HoldSettle("capture", "h-2", 6),
        ),
        signers=("bank:x", "ent:a"),
        meta={"loan": {"id": "L-1", "rate_bp": 345, "ok": True, "note": None}, "tags": ["a", "排污权"]},
    ),
    TxBody(
        action="escrow",
        nonce="n-11",
        holds=(HoldPlace("h-3", "a", "BC", Lot(vintage=2023), 1, "bid", "registry"),),
    ),
    Genesis(name="浙江 registry", key_id=KEY.key_id, public_key=KEY.public, nonce="n-0"),
    RegisterParty(party="ent:a", role="enterprise", profile={"credit_code": "91330281MA2xxxxx"}, nonce="n-1"),
    OpenAccount(account="ent:a.h", owner="ent:a", kind=AccountKind.RETIREMENT, nonce="n-2"),
    RegisterKey(
        party="ent:a",
        key_id=KEY.key_id,
        public_key=KEY.public,
        valid_from=datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=UTC),
        nonce="n-3",
    ),
    RevokeKey(
        party="ent:a",
        key_id=KEY.key_id,
        revoked_at=datetime(2026, 1, 1, tzinfo=UTC),
        reason="key lost",
        nonce="n-4",
    ),
]


@pytest.mark.parametrize("body", BODIES, ids=lambda b: type(b).__name__)
def test_every_body_type_round_trips_through_its_canonical_json(body: Any) -> None:
    data = canonical_bytes(body.to_json())
    assert parse_body(json.loads(data)) == body
    assert parse_body(body.to_json()) == body


@pytest.mark.parametrize("kind", list(AccountKind))
def test_every_account_kind_round_trips(kind: AccountKind) -> None:
    body = OpenAccount("acc", "owner", kind, "n")
    assert parse_body(body.to_json()) == body


@pytest.mark.parametrize(
    "lot",
    [
        Lot(),
        LOT,
        Lot(jurisdiction=YUYAO),
        Lot(valid_until=date(2030, 1, 1)),
        Lot(vintage=2024),
        Lot(batch="x:y.z-1_2"),
    ],
)
def test_a_lot_key_round_trips_to_the_same_lot(lot: Lot) -> None:
    assert Lot.from_key(lot.key()) == lot


def test_lots_that_differ_in_any_attribute_have_different_keys() -> None:
    lots = [
        Lot(),
        LOT,
        Lot(jurisdiction=YUYAO),
        Lot(jurisdiction="330282"),
        Lot(vintage=2024),
        Lot(vintage=2025),
    ]
    assert len({lot.key() for lot in lots}) == len(lots)


# --- strictness gaps ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["ent:a.h\n", "ent:a\n"])
def test_an_id_with_a_trailing_newline_is_refused(value: str) -> None:
    with pytest.raises(InvalidInput):
        check_id(value, field="account")


@pytest.mark.parametrize("jurisdiction", ["３３０２８１", "٣٣٠٢٨١", "330281\n"])
def test_a_jurisdiction_of_anything_but_six_ascii_digits_is_refused(jurisdiction: str) -> None:
    lot = {"jurisdiction": jurisdiction}
    with pytest.raises(InvalidLot):
        parse_body(tx(postings=[posting("a", -5, lot=lot), posting("b", 5, lot=lot)]))


@pytest.mark.parametrize("valid_until", ["2030-W01-1", "20301231  "])
def test_a_valid_until_in_any_spelling_but_yyyy_mm_dd_is_refused(valid_until: str) -> None:
    lot = {"jurisdiction": YUYAO, "valid_until": valid_until}
    with pytest.raises(InvalidLot):
        parse_body(tx(postings=[posting("a", -5, lot=lot), posting("b", 5, lot=lot)]))


@pytest.mark.parametrize(
    "body",
    [
        tx(meta={"rate": 1.5}),
        tx(meta={"loan": {"principal_fen": 2**53}}),
        {"type": "party.register", "party": "p", "role": "r", "profile": {"area_ha": 0.5}, "nonce": "n"},
    ],
    ids=["float-in-meta", "huge-int-in-meta", "float-in-profile"],
)
def test_free_form_meta_and_profile_must_have_a_canonical_form(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_body(body)
    assert caught.value.field.startswith(("body.meta", "body.profile"))
