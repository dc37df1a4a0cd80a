"""Four-eyes approval (双人审批) and the trusted-account list as workflows: one user of a party proposes,
a second user approves, and only then does the registry sign and record it with both users named.

Both are kinds of the one proposal model (``market.proposals``): one signer slot of the proposer's own
party, for an approver (复核人) who is not the proposing user. The rules the records must satisfy live
in ``ledger.control_rules``, which replay runs again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from accounts.custody import Vault, custody_key
from accounts.model import Participant
from accounts.permissions import Action, authorize
from accounts.service import get_participant, pinned_registry, target_for_party
from accounts.users import set_controls
from ledger.controls import (
    APPROVED_BY,
    CONTROLS_SET,
    TRUST_ADD,
    TRUST_REMOVE,
    Controls,
    add_working_days,
    parse_thresholds,
)
from ledger.crypto import SigningKey
from ledger.errors import InvalidInput
from ledger.model import Lot, Posting, TxBody, check_id
from ledger.service import (
    Instruction,
    Receipt,
    Registry,
    controls_of,
    find_account,
    new_nonce,
    registry_controls,
    sign_body,
    submit,
)
from ledger.timeutil import format_utc
from ledger.units import instrument as instrument_of
from market.consent import Consent
from market.proposals import service as proposals
from market.proposals.errors import ProposalClosed, UnknownProposal
from market.proposals.model import Proposal, SignerSlot
from market.proposals.service import Applied, ProposalKind, register, user_role
from market.trades.transfers import transfer

__all__ = [
    "KINDS",
    "LIFETIME",
    "Proposal",
    "ProposalClosed",
    "UnknownProposal",
    "approve",
    "change_controls",
    "proposals_of",
    "propose_transfer",
    "propose_trust",
    "reject",
    "remove_trusted",
    "send_units",
    "to_do",
    "withdraw",
]

LIFETIME = timedelta(days=7)  # a proposal nobody approves in a week lapses
TRANSFER = "transfer"
ALLOCATION = "allocation"  # its kind is defined in market.foureyes.allocation
BC_TRANSFER = "bc.transfer"  # its kind is defined in market.foureyes.credits
KINDS = (TRANSFER, TRUST_ADD, ALLOCATION, BC_TRANSFER, CONTROLS_SET)
APPROVER = "approver"


def _sign(party: str, key: SigningKey, body: TxBody) -> Instruction:
    return Instruction(body, (sign_body(body, party, key, custody=True),), scope=party)


def _key(given: Consent, party: str) -> SigningKey:
    key = given.keys.get(party)
    if key is None:  # the approver's step always brings the party's custody key (``approve``)
        raise InvalidInput(f"approving needs {party}'s key in custody", field="signed_by")
    return key


def _submit_own(
    session: Session, *, registry: Registry, actor: Participant, body: TxBody, key: SigningKey
) -> Receipt:
    """A control record of the actor's own trusted list (it names no account the actor owns, so the
    permission is checked on the party itself), signed with its custody key."""
    authorize(actor, Action.TRANSFER_UNITS, target_for_party(session, party=actor.party))
    return submit(session, _sign(actor.party, key, body), registry=registry)


def _transfer_body(party: str, terms: Mapping[str, Any], users: Sequence[str]) -> TxBody:
    lot = Lot.from_key(terms["lot"])
    quantity = terms["quantity_kg"]
    return TxBody(
        TRANSFER,
        new_nonce(),
        (
            Posting(f"{party}.holding", terms["instrument"], lot, -quantity),
            Posting(terms["to"], terms["instrument"], lot, quantity),
        ),
        meta={APPROVED_BY: {party: list(users)}} if users else {},
    )


def _users(proposal: Proposal) -> list[str]:
    assert proposal.proposed_by is not None  # four-eyes proposals are always made by a named user
    return [proposal.proposed_by, *proposal.approvers]


def _apply_transfer(session: Session, registry: Registry, proposal: Proposal, given: Consent) -> Applied:
    """The transfer with both users named, signed with the party's custody key and recorded."""
    party = proposal.party
    signed = _sign(party, _key(given, party), _transfer_body(party, proposal.terms, _users(proposal)))
    receipt = transfer(
        session, registry=registry, actor=get_participant(session, party=party), instruction=signed
    )
    return Applied(receipt.seq, receipt)


def _apply_trust(session: Session, registry: Registry, proposal: Proposal, given: Consent) -> Applied:
    """The trusted-list addition, effective after the registry's delay from this approval."""
    party = proposal.party
    effective = add_working_days(registry.clock(), registry_controls(session).trust_delay_working_days)
    meta = {
        "party": party,
        "account": proposal.terms["account"],
        "effective_at": format_utc(effective),
        APPROVED_BY: {party: _users(proposal)},
    }
    body = TxBody(TRUST_ADD, new_nonce(), signers=(party,), meta=meta)
    actor = get_participant(session, party=party)
    receipt = _submit_own(session, registry=registry, actor=actor, body=body, key=_key(given, party))
    return Applied(receipt.seq, receipt)


def _apply_controls(session: Session, registry: Registry, proposal: Proposal, given: Consent) -> Applied:
    """The change of thresholds or of the trusted-list switch, with both users named."""
    party, terms = proposal.party, proposal.terms
    receipt = set_controls(
        session,
        registry=registry,
        vault=None,
        key=_key(given, party),
        actor=get_participant(session, party=party),
        approved_by=tuple(_users(proposal)),
        four_eyes_kg=terms.get("four_eyes_kg"),
        trusted_list=terms.get("trusted_list"),
    )
    return Applied(receipt.seq, receipt)


def _no_body(session: Session, terms: Mapping[str, Any]) -> None:
    """Drawn up at approval, when both users can be named in it."""
    return


register(ProposalKind(TRANSFER, _no_body, _apply_transfer, lifetime=LIFETIME))
register(ProposalKind(TRUST_ADD, _no_body, _apply_trust, lifetime=LIFETIME))
register(ProposalKind(CONTROLS_SET, _no_body, _apply_controls, lifetime=LIFETIME))


def _store(
    session: Session, actor: Participant, kind: str, terms: dict[str, Any], user: str, now: datetime
) -> Proposal:
    slot = SignerSlot(actor.party, role=APPROVER, excluded_user=user)
    return proposals.propose(session, kind=kind, actor=actor, terms=terms, signers=[slot], now=now, user=user)


def _checked_lot(code: str, key: str) -> str:
    """The lot key of a position, checked now: a proposal must not wait a week to fail on a typo."""
    instrument_of(code)
    try:
        lot = Lot.from_key(key)
    except (ValueError, KeyError):
        raise InvalidInput(
            f"{key!r} is not a lot key as balances show it (e.g. j=330281;u=2030-12-31)", field="lot"
        ) from None
    lot.check_for(code, path="lot")
    return lot.key()


def _transfer_terms(session: Session, to: str, instrument: str, lot: str, quantity_kg: int) -> dict[str, Any]:
    check_id(to, field="to")
    if isinstance(quantity_kg, bool) or not isinstance(quantity_kg, int) or quantity_kg <= 0:
        raise InvalidInput("quantity must be a positive whole number of kg", field="quantity_kg")
    if find_account(session, account=to) is None:
        raise InvalidInput(f"no account {to}", field="to")
    return {
        "to": to,
        "instrument": instrument,
        "lot": _checked_lot(instrument, lot),
        "quantity_kg": quantity_kg,
    }


def propose_transfer(
    session: Session,
    *,
    registry: Registry,
    vault: Vault,
    actor: Participant,
    user: str | None,
    to: str,
    instrument: str,
    lot: str,
    quantity_kg: int,
) -> Proposal | Receipt:
    """Send units from the actor's holding: at or under the party's four-eyes threshold for
    transfers it is recorded now with this user named; above it, it waits for a second user."""
    user_role(session, actor.party, user)
    assert user is not None
    terms = _transfer_terms(session, to, instrument, lot, quantity_kg)
    controls = controls_of(session, party=actor.party)
    limit = controls.four_eyes_kg.get(TRANSFER) if controls is not None else None
    pinned, now = pinned_registry(session, registry=registry)
    if limit is None or quantity_kg <= limit:
        key = custody_key(session, vault=vault, party=actor.party, at=now)
        signed = _sign(actor.party, key, _transfer_body(actor.party, terms, [user]))
        return transfer(session, registry=pinned, actor=actor, instruction=signed)
    authorize(actor, Action.TRANSFER_UNITS, target_for_party(session, party=actor.party))
    return _store(session, actor, TRANSFER, terms, user, now)


def send_units(
    session: Session,
    *,
    registry: Registry,
    vault: Vault,
    actor: Participant,
    user: str | None,
    to: str,
    instrument: str,
    lot: str,
    quantity_kg: int,
) -> Proposal | Receipt:
    """A transfer asked for with the party's key in custody: a named user's goes through
    ``propose_transfer`` (a proposal above the threshold); the administrator's key (no user) is
    recorded at once naming nobody, so above a threshold the ledger refuses it (``four_eyes_required``:
    the journal must name two users, and the administrator is not one)."""
    if user is not None:
        return propose_transfer(
            session,
            registry=registry,
            vault=vault,
            actor=actor,
            user=user,
            to=to,
            instrument=instrument,
            lot=lot,
            quantity_kg=quantity_kg,
        )
    terms = _transfer_terms(session, to, instrument, lot, quantity_kg)
    pinned, now = pinned_registry(session, registry=registry)
    key = custody_key(session, vault=vault, party=actor.party, at=now)
    body = _transfer_body(actor.party, terms, [])
    return transfer(session, registry=pinned, actor=actor, instruction=_sign(actor.party, key, body))


def propose_trust(
    session: Session, *, registry: Registry, actor: Participant, user: str | None, account: str
) -> Proposal:
    """Propose adding ``account`` to the party's trusted list; a second user approves it, and it
    takes effect after the registry's delay from that approval (EU 2019/1122 art. 23)."""
    user_role(session, actor.party, user)
    assert user is not None
    authorize(actor, Action.TRANSFER_UNITS, target_for_party(session, party=actor.party))
    info = find_account(session, account=check_id(account, field="account"))
    if info is None or info.owner == actor.party:
        raise InvalidInput(f"{account} is not another party's account", field="account")
    _, now = pinned_registry(session, registry=registry)
    return _store(session, actor, TRUST_ADD, {"account": account}, user, now)


def change_controls(
    session: Session,
    *,
    registry: Registry,
    vault: Vault | None,
    actor: Participant,
    user: str | None,
    four_eyes_kg: dict[str, int] | None = None,
    trusted_list: bool | None = None,
) -> Proposal | Receipt:
    """Set the party's four-eyes thresholds or its trusted-list switch. While neither is in force,
    or when nothing of them would change, it is recorded at once (naming the user, if one asked).
    Once in force, a named user's change is a proposal a second user, an approver, applies; the
    administrator key's is recorded as asked, and the ledger refuses it (``four_eyes_required``)."""
    if user is not None:
        user_role(session, actor.party, user)
    authorize(actor, Action.MANAGE_CREDENTIALS, target_for_party(session, party=actor.party))
    if four_eyes_kg is not None:  # checked now: a proposal must not wait a week to fail on a typo
        four_eyes_kg = parse_thresholds(four_eyes_kg, "four_eyes_kg")
    current = controls_of(session, party=actor.party) or Controls()
    wanted = (
        current.four_eyes_kg if four_eyes_kg is None else four_eyes_kg,
        current.trusted_list if trusted_list is None else trusted_list,
    )
    if user is not None and current.in_force and wanted != (current.four_eyes_kg, current.trusted_list):
        terms: dict[str, Any] = {}
        if four_eyes_kg is not None:
            terms["four_eyes_kg"] = four_eyes_kg
        if trusted_list is not None:
            terms["trusted_list"] = trusted_list
        _, now = pinned_registry(session, registry=registry)
        return _store(session, actor, CONTROLS_SET, terms, user, now)
    return set_controls(
        session,
        registry=registry,
        vault=vault,
        actor=actor,
        approved_by=(user,) if user is not None else (),
        four_eyes_kg=four_eyes_kg,
        trusted_list=trusted_list,
    )


def approve(
    session: Session,
    *,
    registry: Registry,
    vault: Vault,
    actor: Participant,
    user: str | None,
    proposal_id: str,
) -> Receipt:
    """The second user's approval: the registry signs the proposed body with both users named and
    records it. The second user cannot be the first, and must be an approver (复核人)."""
    user_role(session, actor.party, user)
    pinned, now = pinned_registry(session, registry=registry)
    key = custody_key(session, vault=vault, party=actor.party, at=now)
    done = proposals.sign(
        session,
        registry=pinned,
        actor=actor,
        proposal_id=proposal_id,
        signed_by=Consent.custody(actor.party, key),
        now=now,
        user=user,
    )
    assert done.applied is not None  # one slot: its signature applies it
    receipt = getattr(done.applied.result, "receipt", done.applied.result)  # an Allocation carries one
    assert isinstance(receipt, Receipt)
    return receipt


def reject(
    session: Session, *, actor: Participant, user: str | None, proposal_id: str, now: datetime
) -> Proposal:
    """An approver other than the proposer turns a proposal down; nothing reaches the journal."""
    user_role(session, actor.party, user)
    return proposals.reject(session, actor=actor, proposal_id=proposal_id, now=now, user=user)


def withdraw(
    session: Session, *, actor: Participant, user: str | None, proposal_id: str, now: datetime
) -> Proposal:
    """The proposer takes a proposal back before anyone approved it."""
    user_role(session, actor.party, user)
    return proposals.withdraw(session, actor=actor, proposal_id=proposal_id, now=now, user=user)


def remove_trusted(
    session: Session, *, registry: Registry, vault: Vault, actor: Participant, user: str | None, account: str
) -> Receipt:
    """Take ``account`` off the party's trusted list, at once: one user is enough to reduce risk, and
    so is the party's administrator key (``user`` None: the record names no user)."""
    if user is not None:
        user_role(session, actor.party, user)
    controls = controls_of(session, party=actor.party)
    if controls is None or check_id(account, field="account") not in controls.trusted:
        raise InvalidInput(f"{account} is not on {actor.party}'s trusted list", field="account")
    pinned, now = pinned_registry(session, registry=registry)
    meta: dict[str, Any] = {"party": actor.party, "account": account}
    if user is not None:
        meta[APPROVED_BY] = {actor.party: [user]}
    body = TxBody(TRUST_REMOVE, new_nonce(), signers=(actor.party,), meta=meta)
    key = custody_key(session, vault=vault, party=actor.party, at=now)
    return _submit_own(session, registry=pinned, actor=actor, body=body, key=key)


def proposals_of(session: Session, *, actor: Participant, now: datetime) -> list[Proposal]:
    """Every four-eyes proposal of the actor's party, newest first."""
    return proposals.proposals_of(session, actor=actor, now=now, kind=KINDS)


def to_do(session: Session, *, actor: Participant, user: str | None, now: datetime) -> list[Proposal]:
    """待办: the pending four-eyes proposals awaiting this user's approval."""
    return proposals.proposals_of(
        session, actor=actor, now=now, kind=KINDS, awaiting=True, awaiting_user=user
    )
