"""One consent model for every workflow step: a party consents by a key the registry holds for it
(custody, 托管密钥) or by its own signatures; verified once, kept as signatures, submitted by one gateway.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session

from accounts.keys import valid_keys
from accounts.model import Participant
from accounts.permissions import Action, authorize, target_of
from accounts.service import SessionDirectory, require_own_signature
from ledger.canonical import canonical_bytes
from ledger.crypto import TAG_BODY, SigningKey, verify
from ledger.errors import BadSignature, InvalidInput, KeyNotValid, MissingSignature
from ledger.model import Body, Signature, TxBody
from ledger.service import Instruction, Receipt, Registry, sign_body, submit

__all__ = [
    "Consent",
    "Signable",
    "Statement",
    "consent",
    "dump_signatures",
    "load_signatures",
    "message_of",
    "sign_document",
    "signed_instruction",
    "submit_consented",
]


class Statement(Protocol):
    """A document signed under its own tag that no ledger would take for an instruction (e.g. a
    bureau's approval of a pledge on its electronic certificate)."""

    @property
    def tag(self) -> bytes: ...

    def to_json(self) -> dict[str, Any]: ...


Signable = TxBody | Statement
"""What a workflow step asks a party to sign: a record body, or a statement under its own tag."""


@dataclass(frozen=True, slots=True)
class Consent:
    """Consent to what a step asks: keys the registry may sign with, by party (custody keys of console
    users, or a test's demo keys), and signatures made elsewhere (a party's own client), in order.

    One type for every step, whoever signs: the step signs with a key it is given for a party that
    must sign, and takes that party's given signatures otherwise.
    """

    keys: Mapping[str, SigningKey] = field(default_factory=dict)
    signatures: tuple[Signature, ...] = ()

    @classmethod
    def custody(cls, party: str, key: SigningKey | None) -> Consent:
        """``party``'s consent by the key the registry holds for it (none: no consent at all)."""
        return cls(keys={party: key} if key is not None else {})

    @classmethod
    def given(cls, signatures: Iterable[Signature]) -> Consent:
        """Consent by signatures a client made, in the order the step lists its documents."""
        return cls(signatures=tuple(signatures))

    def __add__(self, other: Consent) -> Consent:
        return Consent({**self.keys, **other.keys}, self.signatures + other.signatures)


def message_of(doc: Signable) -> tuple[bytes, bytes]:
    """The tag and the canonical bytes a signature over ``doc`` covers."""
    if isinstance(doc, TxBody):
        return TAG_BODY, canonical_bytes(doc.to_json())
    return doc.tag, canonical_bytes(doc.to_json())


def sign_document(doc: Signable, party: str, key: SigningKey) -> Signature:
    """``party``'s signature over ``doc`` with ``key`` (marked ``custody`` when the registry holds it)."""
    tag, message = message_of(doc)
    return Signature(party, key.key_id, key.sign(tag, message), custody=key.custody)


def consent(
    session: Session, *, bodies: Sequence[Signable], party: str, signed_by: Consent, at: datetime
) -> tuple[Signature, ...]:
    """``party``'s signatures over ``bodies`` (in order), made with its key or given, each verified
    under one of its keys valid at ``at``: a wrong key is refused at the step, not later at settlement."""
    key = signed_by.keys.get(party)
    if key is not None:
        sigs = tuple(sign_document(b, party, key) for b in bodies)
    else:
        sigs = signed_by.signatures
        if len(sigs) != len(bodies):
            raise InvalidInput(f"this step needs {len(bodies)} signature(s) of {party}", field="signed_by")
    keys = {k.key_id: k for k in valid_keys(session, party=party, at=at)}
    for i, (body, sig) in enumerate(zip(bodies, sigs, strict=True)):
        if sig.party != party:
            raise MissingSignature(f"needs the signature of {party}", field="signed_by", missing=[party])
        known = keys.get(sig.key_id)
        if known is None:
            raise KeyNotValid(
                f"{party} has no key {sig.key_id} valid now", key_id=sig.key_id, field=f"signed_by[{i}]"
            )
        if not verify(known.public_key, *message_of(body), sig.sig):
            raise BadSignature(f"signature of {party} does not verify", party=party, field=f"signed_by[{i}]")
    return sigs


# -- the one gateway: sign, authorize, check the submitter signed, submit ------------------------


class _Directory(SessionDirectory):
    """The registry's records, plus accounts about to be opened in the same batch."""

    def __init__(self, session: Session, opening: Mapping[str, str]) -> None:
        super().__init__(session)
        self.opening = opening

    def owner_of(self, account: str) -> str | None:
        return self.opening.get(account) or super().owner_of(account)


def signed_instruction(
    session: Session,
    *,
    actor: Participant,
    body: Body,
    signed_by: Consent,
    signers: Sequence[str] = (),
    action: Action | None = None,
    opening: Mapping[str, str] | None = None,
) -> Instruction:
    """``body`` signed with the keys ``signed_by`` holds for ``actor`` and ``signers``, plus its given
    signatures of other parties (verified by the ledger), in ``actor``'s name. With ``action``, the
    actor must be allowed it on what the body touches (targets from the records; ``opening`` maps
    accounts the same batch opens first to their owners). The actor must sign what it submits.

    Writes nothing: refusals (``PermissionDenied`` naming the rule, ``MissingSignature``) come first.
    """
    parties = [p for p in dict.fromkeys([actor.party, *signers]) if p in signed_by.keys]
    made = tuple(sign_body(body, p, signed_by.keys[p]) for p in parties)
    have = {s.party for s in made}
    sigs = made + tuple(s for s in signed_by.signatures if s.party not in have)
    if action is not None:
        authorize(actor, action, target_of(body, sigs, _Directory(session, opening or {})))
    require_own_signature(actor, sigs)
    return Instruction(body, sigs, scope=actor.party)


def submit_consented(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    body: Body,
    signed_by: Consent,
    signers: Sequence[str] = (),
    action: Action | None = None,
) -> Receipt:
    """``signed_instruction`` submitted to the ledger, which verifies every signature again."""
    ins = signed_instruction(
        session, actor=actor, body=body, signed_by=signed_by, signers=signers, action=action
    )
    return submit(session, ins, registry=registry)


# -- how workflow rows keep signatures --------------------------------------------------------------


def dump_signatures(sigs: dict[str, Signature]) -> str:
    """Signatures by party as canonical JSON text, the form the workflow rows keep them in."""
    return canonical_bytes({party: s.to_json() for party, s in sigs.items()}).decode()


def load_signatures(text: str) -> dict[str, Signature]:
    raw: dict[str, Any] = json.loads(text)
    return {party: Signature.parse(value, f"signatures.{party}") for party, value in raw.items()}
