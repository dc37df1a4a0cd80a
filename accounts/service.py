"""Use cases of participants: register one with its key and accounts, find it, and act or read
as it under the permission table. Every function takes a Session, flushes and never commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select
from sqlmodel import Session
from sqlmodel import select as sm_select

from accounts.errors import PermissionDenied, UnknownParticipant
from accounts.model import AccountRef, Participant, ParticipantSpec, Role, account_plan
from accounts.permissions import Action, Target, authorize, participant_visible, party_target, target_of
from accounts.tables import ParticipantRow
from ledger.bundle import Manifest, export_bundle
from ledger.crypto import SigningKey, key_id_for
from ledger.errors import DuplicateParty, InvalidInput, MissingSignature
from ledger.model import Body, OpenAccount, RegisterKey, RegisterParty, Signature, check_public_key
from ledger.sequencer import KNOWN_FACTS
from ledger.service import (
    Balance,
    Instruction,
    Receipt,
    Registry,
    accounts_of_owner,
    balance_as_of,
    balances,
    find_account,
    find_hold,
    journal_lines,
    lock_head_time,
    new_nonce,
    submit,
    submit_all,
)

__all__ = [
    "SessionDirectory",
    "account_balance_as_of",
    "account_balances",
    "accounts_of",
    "check_submission",
    "export_journal",
    "find_participant",
    "get_participant",
    "participants",
    "pinned_registry",
    "read_journal",
    "register_in_custody",
    "register_participant",
    "require_own_signature",
    "submit_all",
    "submit_as",
    "target_for_account",
    "target_for_party",
    "visible_participant",
    "visible_participants",
]


_PARTICIPANTS = ParticipantRow.__table__  # type: ignore[attr-defined]
_JURISDICTION = select(_PARTICIPANTS.c.jurisdiction).where(_PARTICIPANTS.c.party == bindparam("party"))


class SessionDirectory:
    """The ``Directory`` permissions resolve targets through: ledger accounts and holds, and
    participants' jurisdictions, read in the caller's session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.jurisdictions: dict[str, str | None] = {}
        # The sequencer's memo (``KNOWN_FACTS``) when this runs in its turn: an account's owner and
        # a registered party's jurisdiction never change, so they are read once, not per check.
        self.known: dict[tuple[str, str], Any] | None = session.info.get(KNOWN_FACTS)

    def owner_of(self, account: str) -> str | None:
        known = self.known.get(("owner", account)) if self.known is not None else None
        if known is not None:
            return str(known)
        info = find_account(self.session, account=account)
        if info is None:
            return None  # not kept: the account may be opened later
        if self.known is not None:
            self.known[("owner", account)] = info.owner
        return info.owner

    def jurisdiction_of(self, party: str) -> str | None:
        if party not in self.jurisdictions:
            key = ("jurisdiction", party)
            if self.known is not None and key in self.known:
                self.jurisdictions[party] = self.known[key]
                return self.jurisdictions[party]
            row = self.session.connection().execute(_JURISDICTION, {"party": party}).first()
            self.jurisdictions[party] = row.jurisdiction if row is not None else None
            if row is not None and self.known is not None:  # an unknown party may register later
                self.known[key] = row.jurisdiction
        return self.jurisdictions[party]

    def hold_of(self, hold: str) -> tuple[str, str] | None:
        found = find_hold(self.session, hold=hold)
        return (found.account, found.controller) if found is not None else None


def pinned_registry(session: Session, *, registry: Registry) -> tuple[Registry, datetime]:
    """The registry with its clock fixed at one instant no earlier than the journal's head.

    Takes the sequencer lock first (as every ledger write does), so no other writer moves the
    head before this batch: a key event made "now" then carries exactly the record's time, and
    the ledger's rule that a revocation cannot be backdated holds for a revocation made now.
    """
    head_time = lock_head_time(session)
    now = registry.clock()
    if head_time is not None:
        now = max(now, head_time)
    return replace(registry, clock=lambda: now), now


def _row_to_participant(row: ParticipantRow) -> Participant:
    return Participant(
        party=row.party,
        role=Role(row.role),
        name=row.name,
        jurisdiction=row.jurisdiction,
        credit_code=row.credit_code,
        permit_number=row.permit_number,
        branch=row.branch,
        registered_seq=row.registered_seq,
    )


def find_participant(session: Session, *, party: str) -> Participant | None:
    row = session.get(ParticipantRow, party)
    return _row_to_participant(row) if row is not None else None


def get_participant(session: Session, *, party: str) -> Participant:
    """The participant ``party``, or ``UnknownParticipant``."""
    found = find_participant(session, party=party)
    if found is None:
        raise UnknownParticipant(f"no participant {party}", party=party, field="party")
    return found


def participants(
    session: Session, *, role: Role | None = None, jurisdiction: str | None = None
) -> list[Participant]:
    """Registered participants, optionally of one role or one jurisdiction, ordered by id."""
    stmt = sm_select(ParticipantRow)
    if role is not None:
        stmt = stmt.where(ParticipantRow.role == role.value)
    if jurisdiction is not None:
        stmt = stmt.where(ParticipantRow.jurisdiction == jurisdiction)
    return [_row_to_participant(r) for r in session.exec(stmt.order_by(ParticipantRow.party))]


def visible_participants(
    session: Session, *, actor: Participant, role: Role | None = None, jurisdiction: str | None = None
) -> list[Participant]:
    """The participants ``actor`` may see in the directory (``participant_visible``), filtered."""
    return [
        p
        for p in participants(session, role=role, jurisdiction=jurisdiction)
        if participant_visible(actor, p)
    ]


def visible_participant(session: Session, *, actor: Participant, party: str) -> Participant:
    """The participant ``party`` if ``actor`` may see it; ``UnknownParticipant`` otherwise, so a
    guessed id tells nothing about who is registered."""
    found = find_participant(session, party=party)
    if found is None or not participant_visible(actor, found):
        raise UnknownParticipant(f"no participant {party}", party=party, field="party")
    return found


def accounts_of(session: Session, *, party: str) -> list[AccountRef]:
    """Every ledger account ``party`` owns, including any opened after registration."""
    get_participant(session, party=party)
    return [AccountRef(a.id, a.kind) for a in accounts_of_owner(session, owner=party)]


def _check_public_key(public_key: object) -> bytes:
    if not isinstance(public_key, bytes) or len(public_key) != 32:
        raise InvalidInput("public_key must be the 32 raw bytes of an Ed25519 key", field="public_key")
    return check_public_key(public_key, field="public_key")


def register_participant(
    session: Session,
    *,
    registry: Registry,
    spec: ParticipantSpec,
    public_key: bytes,
    actor: Participant | None = None,
    custody: bool = False,
) -> Participant:
    """Register a participant, its first signing key and its role's accounts, in one journal batch.
    ``custody``: the registry generated the key and holds it (the key record says so).

    Writes ``party.register`` (with the profile), ``key.register`` and one ``account.open`` per
    account of ``account_plan``; all or none. ``actor`` is the operator doing it (checked against
    the permission table); ``None`` means the registry itself (bootstrap, CLI), never a request.
    """
    participant = spec.participant()
    if actor is not None:
        _authorize_registration(actor, participant)
    _check_public_key(public_key)
    if find_participant(session, party=participant.party) is not None:
        raise DuplicateParty(f"party {participant.party} is already registered", party=participant.party)
    pinned, now = pinned_registry(session, registry=registry)
    bodies: list[Body] = [
        RegisterParty(participant.party, participant.role.value, participant.profile(), new_nonce()),
        RegisterKey(participant.party, key_id_for(public_key), public_key, now, new_nonce(), custody=custody),
        *[
            OpenAccount(ref.account, participant.party, ref.kind, new_nonce())
            for ref in account_plan(participant)
        ],
    ]
    with session.begin_nested():
        receipts = submit_all(session, [Instruction(b) for b in bodies], registry=pinned)
        registered = replace(participant, registered_seq=receipts[0].seq)
        session.add(_participant_row(registered, receipts[0].seq))
        session.flush()
    return registered


def _authorize_registration(actor: Participant, participant: Participant) -> None:
    """The operator registers anyone; a bureau only enterprises and cooperatives of its jurisdiction."""
    where = participant.jurisdiction
    target = Target(
        owners=frozenset({participant.party}),
        jurisdictions=frozenset({where}) if where else frozenset(),
        placeless=frozenset() if where else frozenset({participant.party}),
    )
    authorize(actor, Action.REGISTER_PARTICIPANT, target)
    if actor.role is Role.BUREAU and participant.role not in (Role.ENTERPRISE, Role.COOPERATIVE):
        raise PermissionDenied(
            f"{actor.party} may not {Action.REGISTER_PARTICIPANT.value}: a bureau registers enterprises "
            "and cooperatives of its jurisdiction (rule bureau_registers_its_enterprises)",
            rule="bureau_registers_its_enterprises",
            action=Action.REGISTER_PARTICIPANT.value,
            actor=actor.party,
        )


def _participant_row(p: Participant, seq: int) -> ParticipantRow:
    return ParticipantRow(
        party=p.party,
        role=p.role.value,
        name=p.name,
        jurisdiction=p.jurisdiction,
        credit_code=p.credit_code,
        permit_number=p.permit_number,
        branch=p.branch,
        registered_seq=seq,
    )


def register_in_custody(
    session: Session, *, registry: Registry, spec: ParticipantSpec, actor: Participant | None = None
) -> tuple[Participant, SigningKey]:
    """Register a participant whose signing key the registry generates and holds (web console).

    The caller keeps the returned key (storing it encrypted is outside this package), and signs
    with ``sign_body(..., custody=True)`` so each record says the registry held the key.
    """
    key = SigningKey.generate()
    participant = register_participant(
        session, registry=registry, spec=spec, public_key=key.public, actor=actor, custody=True
    )
    return participant, key


def target_for_party(session: Session, *, party: str) -> Target:
    """The target of acting on ``party``'s own things (keys, credentials)."""
    return party_target(party, SessionDirectory(session))


def target_for_account(session: Session, *, account: str) -> Target:
    """The target of reading ``account``: its owner and the owner's jurisdiction, from the records."""
    directory = SessionDirectory(session)
    owner = directory.owner_of(account)
    if owner is None:
        return Target(unresolved=frozenset({account}))
    return party_target(owner, directory)


def submit_as(
    session: Session, *, registry: Registry, actor: Participant, action: Action, instruction: Instruction
) -> Receipt:
    """Submit an instruction on behalf of ``actor``: authorize, then apply.

    The target comes from the registry's records for the instruction's accounts and holds. The
    actor must have signed it, so the journal shows who acted; its idempotency keys are its own.
    """
    check_submission(session, actor=actor, action=action, instruction=instruction)
    return submit(session, replace(instruction, scope=actor.party), registry=registry)


def check_submission(
    session: Session, *, actor: Participant, action: Action, instruction: Instruction
) -> None:
    """Refuse ``instruction`` unless ``actor`` may submit it: allowed ``action`` on the accounts and
    holds it names (owners and jurisdictions from the records) and the actor's own signature on it."""
    authorize(actor, action, target_of(instruction.body, instruction.signatures, SessionDirectory(session)))
    require_own_signature(actor, instruction.signatures)


def require_own_signature(actor: Participant, signatures: Iterable[Signature]) -> None:
    """The one place that says a participant must sign what it submits, so the journal shows who
    acted (``MissingSignature`` otherwise); every gateway that submits on an actor's behalf calls it."""
    if actor.party not in {s.party for s in signatures}:
        raise MissingSignature(
            f"{actor.party} must sign what it submits", field="signatures", missing=[actor.party]
        )


def account_balances(session: Session, *, actor: Participant, account: str) -> list[Balance]:
    """The live positions of ``account``, if ``actor`` may see it (object-level check)."""
    authorize(actor, Action.READ_ACCOUNT, target_for_account(session, account=account))
    return balances(session, account=account)


def account_balance_as_of(
    session: Session, *, actor: Participant, account: str, seq: int | None, at: datetime | None
) -> dict[tuple[str, str], int]:
    """Totals of ``account`` as of a record or an instant, if ``actor`` may see it."""
    authorize(actor, Action.READ_ACCOUNT, target_for_account(session, account=account))
    return balance_as_of(session, account=account, seq=seq, at=at)


def read_journal(
    session: Session, *, actor: Participant, start: int = 0, stop: int | None = None
) -> Iterator[bytes]:
    """The journal (or records ``start`` to ``stop``) as bundle lines, for those who may read
    everything."""
    authorize(actor, Action.READ_JOURNAL, Target())
    return journal_lines(session, start=start, stop=stop)


def export_journal(session: Session, *, actor: Participant, out_dir: Path, tar: bool = False) -> Manifest:
    """The journal as it stands now written to ``out_dir`` as an audit bundle (and packed as
    ``<out_dir>.tar`` with ``tar``), for those who may read everything (auditors, the operator)."""
    authorize(actor, Action.READ_JOURNAL, Target())
    return export_bundle(session, out_dir, tar=tar)
