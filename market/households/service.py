"""The household workflow: the cooperative registers its members for a monitoring period (signed), the
bureau confirms the roster onto the journal, and a sale of attributed credits pays the members.

Who does what: the project's owner (a cooperative) registers; the project's bureau confirms, opening
each member's account (``AccountKind.MEMBER``, owned by the cooperative as the members' agent) in
the same batch; the cooperative sells, the buyer consents, and the proceeds less the agreed fee land
in the member accounts in the sale's own record (``ledger.households`` states the rules).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, select

from accounts.identifiers import account_id
from accounts.model import Participant, Role
from accounts.permissions import Action, authorize, party_target
from accounts.service import SessionDirectory, get_participant, target_for_account
from ledger.canonical import canonical_bytes
from ledger.errors import InvalidInput
from ledger.households import (
    ROSTER_ACTION,
    SALE_ACTION,
    Member,
    Roster,
    distribution_meta,
    parse_roster,
    roster_id,
    roster_meta,
)
from ledger.model import AccountKind, Lot, OpenAccount, Posting, Signature, TxBody
from ledger.service import (
    Instruction,
    Receipt,
    Registry,
    find_account,
    find_attribution,
    find_roster,
    lock_head_time,
    new_nonce,
    submit_all,
)
from ledger.timeutil import format_utc, utc_now
from ledger.units import check_amount
from market.bluecarbon.projects import batch_credit
from market.bluecarbon.serials import SERIAL_KG, SerialBook
from market.bluecarbon.service import get_batch, get_project
from market.bluecarbon.store import read_blocks, write_blocks
from market.consent import Consent, consent, signed_instruction, submit_consented
from market.households.errors import MemberIdentityMismatch, RosterAlreadyConfirmed, UnknownRoster
from market.households.model import SALT_BYTES, MemberEntry, identity_hash
from market.households.tables import HouseholdMemberRow, HouseholdRosterRow, HouseholdSaleRow
from market.issuance.service import bureau_of

__all__ = [
    "RosterInfo",
    "Sale",
    "confirm_roster",
    "get_roster",
    "get_roster_row",
    "member_account",
    "register_roster",
    "rosters_of",
    "sell_credits",
]


def member_account(cooperative: str, member: str) -> str:
    """The member's CNY account at its cooperative: ``<cooperative>.member.<member>``."""
    return account_id(cooperative, "member", member)


@dataclass(frozen=True, slots=True)
class RosterInfo:
    """A registered roster: ``status`` submitted (signed by the cooperative) or confirmed (on the journal
    at ``confirmed_seq``); ``meta`` is the record's meta."""

    roster: str
    project: str
    cooperative: str
    bureau: str
    status: str
    fee_bp: int
    members: int
    nonce: str
    confirmed_seq: int | None
    meta: dict[str, Any]

    @classmethod
    def of(cls, row: HouseholdRosterRow) -> RosterInfo:
        meta = json.loads(row.meta)
        return cls(
            row.roster,
            row.project,
            row.cooperative,
            row.bureau,
            row.status,
            int(meta["fee_bp"]),
            len(meta["members"]),
            row.nonce,
            row.confirmed_seq,
            meta,
        )


def get_roster(session: Session, *, roster: str) -> RosterInfo:
    """The roster ``roster`` as registered (and perhaps confirmed), or ``UnknownRoster``."""
    return RosterInfo.of(get_roster_row(session, roster=roster))


def get_roster_row(session: Session, *, roster: str) -> HouseholdRosterRow:
    """The roster ``roster`` as registered (and perhaps confirmed), or ``UnknownRoster``."""
    row = session.get(HouseholdRosterRow, roster)
    if row is None:
        raise UnknownRoster(f"no roster {roster}", field="roster", roster=roster)
    return row


def _member_row(session: Session, cooperative: str, entry: MemberEntry, now: str) -> HouseholdMemberRow:
    """The member's register row: made with a fresh salt the first time; the same person after."""
    row = session.get(HouseholdMemberRow, (cooperative, entry.member))
    if row is None:
        salt = secrets.token_bytes(SALT_BYTES)
        row = HouseholdMemberRow(
            cooperative=cooperative,
            member=entry.member,
            name=entry.name,
            id_card=entry.id_card,
            salt=salt.hex(),
            identity_hash=identity_hash(entry.name, entry.id_card, salt),
            account=member_account(cooperative, entry.member),
            registered_at=now,
        )
        session.add(row)
    elif (row.name, row.id_card) != (entry.name, entry.id_card):
        raise MemberIdentityMismatch(
            f"member {entry.member} already stands for another household", field="member", member=entry.member
        )
    return row


def register_roster(
    session: Session,
    *,
    actor: Participant,
    signed_by: Consent,
    project: str,
    period_start: date,
    period_end: date,
    fee_bp: int,
    members: Sequence[MemberEntry],
) -> RosterInfo:
    """The project's owner registers its member households for a monitoring period and signs the
    roster record; nothing reaches the journal until the bureau confirms it. Names and ID-card
    numbers stay in the member register; the record carries each member's salted hash."""
    proj = get_project(session, project=project)
    authorize(actor, Action.REGISTER_PROJECT, party_target(proj.owner, SessionDirectory(session)))
    if isinstance(fee_bp, bool) or not isinstance(fee_bp, int) or not 0 <= fee_bp <= 10_000:
        raise InvalidInput("fee_bp must be 0 to 10000 basis points", field="fee_bp")
    rid = roster_id(project, period_start, period_end)
    lock_head_time(session)
    if session.get(HouseholdRosterRow, rid) is not None:
        raise RosterAlreadyConfirmed(f"roster {rid} is already registered", field="period_start", roster=rid)
    now = format_utc(utc_now())
    rows = [_member_row(session, actor.party, m, now) for m in members]
    roster = Roster(
        cooperative=actor.party,
        bureau=proj.bureau,
        project=project,
        start=period_start,
        end=period_end,
        fee_bp=fee_bp,
        members=tuple(
            Member(m.member, r.identity_hash, m.area_cmu, m.rafts, m.longlines, r.account, m.harvest_kg)
            for m, r in zip(members, rows, strict=True)
        ),
    )
    meta = roster_meta(roster)
    parse_roster(
        meta, path="roster"
    )  # what the ledger will check of it, refused now rather than at confirmation
    body = TxBody(ROSTER_ACTION, new_nonce(), signers=(actor.party, proj.bureau), meta=meta)
    (signature,) = consent(session, bodies=[body], party=actor.party, signed_by=signed_by, at=utc_now())
    row = HouseholdRosterRow(
        roster=rid,
        project=project,
        cooperative=actor.party,
        bureau=proj.bureau,
        meta=canonical_bytes(meta).decode(),
        nonce=body.nonce,
        signatures=json.dumps([signature.to_json()]),
        status="submitted",
        submitted_at=now,
    )
    session.add(row)
    session.flush()
    return RosterInfo.of(row)


def _roster_body(row: HouseholdRosterRow) -> TxBody:
    return TxBody(ROSTER_ACTION, row.nonce, signers=(row.cooperative, row.bureau), meta=json.loads(row.meta))


def confirm_roster(
    session: Session, *, registry: Registry, actor: Participant, signed_by: Consent, roster: str
) -> Receipt:
    """The project's bureau confirms a registered roster: one record signed by the cooperative (when it
    registered) and the bureau, after the records opening the members' accounts not yet open."""
    bureau_of(actor, Action.ISSUE_CREDITS)
    row = get_roster_row(session, roster=roster)
    authorize(actor, Action.ISSUE_CREDITS, party_target(row.bureau, SessionDirectory(session)))
    lock_head_time(session)
    if row.status != "submitted":
        raise RosterAlreadyConfirmed(f"roster {roster} is already confirmed", field="roster", roster=roster)
    body = _roster_body(row)
    coop = Consent.given(Signature.parse(s, "signatures") for s in json.loads(row.signatures))
    ins = signed_instruction(
        session, actor=actor, body=body, signed_by=signed_by + coop, signers=[row.bureau]
    )
    opens = [
        Instruction(OpenAccount(m["account"], row.cooperative, AccountKind.MEMBER, new_nonce()))
        for m in body.meta["members"]
        if find_account(session, account=m["account"]) is None
    ]
    receipt = submit_all(session, [*opens, ins], registry=registry)[-1]
    row.status, row.confirmed_seq = "confirmed", receipt.seq
    session.add(row)
    session.flush()
    return receipt


@dataclass(frozen=True, slots=True)
class Sale:
    """A sale recorded: the record, the proceeds, and the split when the credits were attributed."""

    receipt: Receipt
    batch: str
    tonnes: int
    proceeds_fen: int
    distribution: dict[str, Any] | None


def _sale_postings(
    code: str,
    seller: str,
    buyer: str,
    to_account: str,
    lot: Lot,
    tonnes: int,
    proceeds: int,
    split: dict[str, Any] | None,
) -> list[Posting]:
    postings = [
        Posting(account_id(seller, "holding"), code, lot, -tonnes * SERIAL_KG),
        Posting(to_account, code, lot, tonnes * SERIAL_KG),
        Posting(account_id(buyer, "cash"), "CNY", Lot(), -proceeds),
    ]
    if split is None:
        return [*postings, Posting(account_id(seller, "cash"), "CNY", Lot(), proceeds)]
    if split["fee_fen"]:
        postings.append(Posting(account_id(seller, "cash"), "CNY", Lot(), split["fee_fen"]))
    postings += [
        Posting(member_account(seller, s["member"]), "CNY", Lot(), s["fen"])
        for s in split["shares"]
        if s["fen"]
    ]
    return postings


def _split(session: Session, seller: str, batch: str, proceeds: int) -> dict[str, Any] | None:
    """The split of a sale by ``seller`` of ``batch`` (None: the batch is not its members')."""
    attribution = find_attribution(session, batch=batch)
    roster = find_roster(session, roster=attribution.roster) if attribution is not None else None
    if attribution is None or roster is None or roster.cooperative != seller:
        return None
    return distribution_meta(roster, attribution, proceeds)


def sell_credits(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    batch: str,
    tonnes: int,
    price_fen_per_t: int,
    buyer: str,
    retire_for: str | None = None,
) -> Sale:
    """Sell whole tonnes of a batch for CNY, delivery versus payment, in one ``bc.sale`` record: the
    lowest serials the seller holds go to the buyer's holding (or, with ``retire_for`` naming the
    beneficiary, straight into the buyer's retirement account); the buyer pays tonnes x price. When the
    batch was attributed to the seller's members, the seller keeps the agreed fee and the members are
    paid their split in the same record; otherwise the seller is paid. Seller and buyer both sign
    (``signed_by``: their custody keys, or the buyer's own signature over the body)."""
    if isinstance(tonnes, bool) or not isinstance(tonnes, int) or tonnes < 1:
        raise InvalidInput("tonnes must be a positive whole number (one serial per tonne)", field="tonnes")
    check_amount(price_fen_per_t, field="price_fen_per_t")
    if buyer == actor.party:
        raise InvalidInput("seller and buyer must differ", field="buyer")
    buying = get_participant(session, party=buyer)
    if buying.role not in (Role.ENTERPRISE, Role.COOPERATIVE):
        raise InvalidInput(f"{buyer} is not an enterprise or cooperative", field="buyer")
    seller = actor.party
    authorize(
        actor, Action.TRANSFER_UNITS, target_for_account(session, account=account_id(seller, "holding"))
    )
    authorize(buying, Action.TRANSFER_UNITS, target_for_account(session, account=account_id(buyer, "cash")))
    row = get_batch(session, batch=batch)
    lot = Lot(jurisdiction=row.jurisdiction, vintage=row.vintage, batch=row.batch)
    to_account = account_id(buyer, "retirement" if retire_for is not None else "holding")
    proceeds = tonnes * price_fen_per_t
    check_amount(proceeds, field="price_fen_per_t")
    lock_head_time(session)  # the serials and the split are read under the sequencer lock
    split = _split(session, seller, batch, proceeds)
    code = batch_credit(session, row)  # the batch's serialized credit (blue carbon, bamboo carbon)
    postings = _sale_postings(code, seller, buyer, to_account, lot, tonnes, proceeds, split)
    touched = {(account_id(seller, "holding"), batch), (to_account, batch)}
    book = SerialBook(read_blocks(session, touched))
    serials = [r for m in book.apply(postings) for r in m.ranges]
    meta: dict[str, Any] = {
        "batch": batch,
        "tonnes": tonnes,
        "price_fen_per_t": price_fen_per_t,
        "proceeds_fen": proceeds,
        "serials": [r.to_json() for r in serials],
    }
    if retire_for is not None:
        meta["beneficiary"] = retire_for
    if split is not None:
        meta["distribution"] = split
    body = TxBody(SALE_ACTION, new_nonce(), tuple(postings), signers=(seller, buyer), meta=meta)
    with session.begin_nested():
        receipt = submit_consented(
            session, registry=registry, actor=actor, body=body, signed_by=signed_by, signers=[seller, buyer]
        )
        write_blocks(session, book, touched)
        if split is not None:
            _record_sale(
                session, receipt, seller, buyer, split, tonnes, price_fen_per_t, retire_for is not None
            )
    return Sale(receipt, batch, tonnes, proceeds, split)


def _record_sale(
    session: Session,
    receipt: Receipt,
    seller: str,
    buyer: str,
    split: dict[str, Any],
    tonnes: int,
    price: int,
    retired: bool,
) -> None:
    session.add(
        HouseholdSaleRow(
            seq=receipt.seq,
            cooperative=seller,
            roster=split["roster"],
            batch=split["batch"],
            buyer=buyer,
            tonnes=tonnes,
            price_fen_per_t=price,
            proceeds_fen=split["proceeds_fen"],
            fee_fen=split["fee_fen"],
            retired=retired,
            time=receipt.time,
        )
    )
    session.flush()


def rosters_of(session: Session, *, cooperative: str) -> list[RosterInfo]:
    """The rosters a cooperative registered, by period."""
    rows = session.exec(
        select(HouseholdRosterRow)
        .where(HouseholdRosterRow.cooperative == cooperative)
        .order_by(HouseholdRosterRow.roster)
    )
    return [RosterInfo.of(r) for r in rows]
