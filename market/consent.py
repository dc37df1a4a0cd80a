"""A party's consent to what a workflow step asks it to sign: its key (custody) or its own signatures,
verified when given; and the form the workflow rows keep signatures in. Shared by every workflow."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from accounts.keys import valid_keys
from ledger.canonical import canonical_bytes
from ledger.crypto import SigningKey, verify
from ledger.errors import BadSignature, InvalidInput, KeyNotValid, MissingSignature
from ledger.model import Signature
from market.pledges.record import Signable, message_of, sign_document

__all__ = ["Consent", "consent", "dump_signatures", "load_signatures"]

Consent = SigningKey | Sequence[Signature]
"""A party's consent to the bodies a step names: its key (held in custody, or a test's demo key),
with which the step signs them; or its signatures over them, made by the client, in that order."""


# -- consent: a party's signatures, checked when given (the ledger checks them again) ---------------


def consent(
    session: Session, *, bodies: Sequence[Signable], party: str, signed_by: Consent, at: datetime
) -> tuple[Signature, ...]:
    """``party``'s signatures over ``bodies`` (bodies, or a bureau's approval statement), made with its
    key or given, each verified under one of its keys valid at ``at``: a wrong key is refused at the
    step, not later at settlement."""
    if isinstance(signed_by, SigningKey):
        sigs = tuple(sign_document(b, party, signed_by) for b in bodies)
    else:
        sigs = tuple(signed_by)
        if len(sigs) != len(bodies):
            raise InvalidInput(f"this step needs {len(bodies)} signature(s) of {party}", field="signed_by")
    keys = {k.key_id: k for k in valid_keys(session, party=party, at=at)}
    for i, (body, sig) in enumerate(zip(bodies, sigs, strict=True)):
        if sig.party != party:
            raise MissingSignature(f"needs the signature of {party}", field="signed_by", missing=[party])
        key = keys.get(sig.key_id)
        if key is None:
            raise KeyNotValid(
                f"{party} has no key {sig.key_id} valid now", key_id=sig.key_id, field=f"signed_by[{i}]"
            )
        if not verify(key.public_key, *message_of(body), sig.sig):
            raise BadSignature(f"signature of {party} does not verify", party=party, field=f"signed_by[{i}]")
    return sigs


def dump_signatures(sigs: dict[str, Signature]) -> str:
    """Signatures by party as canonical JSON text, the form the workflow rows keep them in."""
    return canonical_bytes({party: s.to_json() for party, s in sigs.items()}).decode()


def load_signatures(text: str) -> dict[str, Signature]:
    raw: dict[str, Any] = json.loads(text)
    return {party: Signature.parse(value, f"signatures.{party}") for party, value in raw.items()}
