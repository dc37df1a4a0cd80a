"""The caller's consent to a write, as the API receives it: signatures its client made, the key the
registry holds for it in custody (托管密钥), or both; one ``market.consent.Consent`` for the workflow."""

from __future__ import annotations

from collections.abc import Sequence

from accounts.errors import NoCustodyKey
from api.schemas import SignatureIn
from api.schemas.issuance import client_signatures
from ledger.crypto import SigningKey
from market.consent import Consent

__all__ = ["consent_of", "consent_with"]


def consent_of(signatures: Sequence[SignatureIn] | None, key: SigningKey | None, party: str) -> Consent:
    """The caller's consent: the signatures it sent, else its custody key (``NoCustodyKey`` if none)."""
    if signatures is not None:
        return Consent.given(client_signatures(list(signatures)))
    if key is None:
        raise NoCustodyKey("the registry holds no key of yours: send signatures", party=party)
    return Consent.custody(party, key)


def consent_with(party: str, key: SigningKey | None, signatures: Sequence[SignatureIn]) -> Consent:
    """The caller's custody key, if the registry holds one, and the signatures its client sent (a
    counterparty's, or the caller's own when it keeps its key): a step signed by both sides at once."""
    return Consent.custody(party, key) + Consent.given(client_signatures(list(signatures)))
