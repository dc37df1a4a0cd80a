"""Participants, their signing keys and API credentials (operator and bureaus register; each party
rotates its own keys).

Each route parses, calls one service function and returns its result; rules live in the services."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from accounts.credentials import issue_credential, revoke_credential
from accounts.custody import Vault, new_custody_key, register_with_custody
from accounts.errors import NoCustodyKey
from accounts.keys import add_key, revoke_key, rotate_key
from accounts.model import Role
from accounts.service import accounts_of, register_participant, visible_participant, visible_participants
from api.deps import ActorDep, MaybeCustodyKeyDep, PageDep, ReaderDep
from api.schemas import ErrorOut, Page
from api.schemas.participants import (
    AccountOut,
    CredentialIn,
    CredentialOut,
    IssuedCredentialOut,
    KeyEventOut,
    KeyIn,
    MeOut,
    ParticipantOut,
    RegistrationIn,
    RevokeKeyIn,
    raw_public_key,
)
from api.write import WriteDep
from ledger.crypto import SigningKey

router = APIRouter(prefix="/v1", tags=["participants"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 403, 404, 409, 422)}
RoleQuery = Annotated[Role | None, Query(description="only participants of this role")]
JurisdictionQuery = Annotated[str | None, Query(max_length=6, description="6-digit division code")]


@router.get("/me", response_model=MeOut, responses=ERRORS)
def get_me(actor: ActorDep, session: ReaderDep) -> MeOut:
    """Who the token belongs to: party, role, jurisdiction and ledger accounts."""
    return MeOut(
        participant=ParticipantOut.of(actor),
        accounts=[AccountOut.of(a) for a in accounts_of(session, party=actor.party)],
    )


@router.get("/participants", response_model=Page[ParticipantOut], responses=ERRORS)
def list_participants(
    actor: ActorDep,
    session: ReaderDep,
    page: PageDep,
    role: RoleQuery = None,
    jurisdiction: JurisdictionQuery = None,
) -> Page[ParticipantOut]:
    """The participant directory as the caller may see it (the operator and auditors: everyone)."""
    found = visible_participants(session, actor=actor, role=role, jurisdiction=jurisdiction)
    return Page[ParticipantOut].cut(found, page, ParticipantOut.of)


@router.get("/participants/{party}", response_model=ParticipantOut, responses=ERRORS)
def get_participant_route(party: str, actor: ActorDep, session: ReaderDep) -> ParticipantOut:
    """One participant, if the caller may see it (404 otherwise)."""
    return ParticipantOut.of(visible_participant(session, actor=actor, party=party))


@router.post("/participants", response_model=ParticipantOut, responses=ERRORS)
def post_participant(payload: Annotated[RegistrationIn, Body()], w: WriteDep) -> ParticipantOut:
    """Register a participant with its accounts; without ``public_key`` its key is held in custody."""

    def run() -> ParticipantOut:
        spec = payload.spec()
        if payload.public_key is not None:
            public = raw_public_key(payload.public_key)
            done = register_participant(
                w.session, registry=w.registry, spec=spec, public_key=public, actor=w.actor
            )
        else:
            done = register_with_custody(
                w.session, registry=w.registry, vault=_vault(w.vault), spec=spec, actor=w.actor
            )
        return ParticipantOut.of(done)

    return w.once(payload, ParticipantOut, run)


def _vault(vault: Vault | None) -> Vault:
    if vault is None:
        raise NoCustodyKey("this registry holds no keys in custody: give public_key", party="registry")
    return vault


def _own(actor_party: str, party: str, key: SigningKey | None) -> SigningKey | None:
    # A party signs its own key events with its current key; the operator acts alone (lost key).
    return key if actor_party == party else None


@router.post("/participants/{party}/keys", response_model=KeyEventOut, responses=ERRORS)
def post_key(party: str, payload: KeyIn, key: MaybeCustodyKeyDep, w: WriteDep) -> KeyEventOut:
    """Register a new signing key (rotation when ``replaces`` names the old one), signed by the
    party's current key in custody; without ``public_key`` the registry generates and holds it."""
    signed_by = _own(w.actor.party, party, key)

    def run() -> KeyEventOut:
        if payload.public_key is None:
            event = new_custody_key(
                w.session,
                registry=w.registry,
                vault=_vault(w.vault),
                actor=w.actor,
                party=party,
                replaces=payload.replaces,
                signed_by=signed_by,
            )
        elif payload.replaces is None:
            event = add_key(
                w.session,
                registry=w.registry,
                actor=w.actor,
                party=party,
                public_key=raw_public_key(payload.public_key),
                signed_by=signed_by,
                custody=signed_by is not None,
            )
        else:
            event = rotate_key(
                w.session,
                registry=w.registry,
                actor=w.actor,
                party=party,
                old_key_id=payload.replaces,
                new_public_key=raw_public_key(payload.public_key),
                signed_by=signed_by,
                custody=signed_by is not None,
            )
        return KeyEventOut.of(event)

    return w.once(payload, KeyEventOut, run)


@router.post("/participants/{party}/keys/{key_id}/revoke", response_model=KeyEventOut, responses=ERRORS)
def post_key_revocation(
    party: str, key_id: str, payload: RevokeKeyIn, key: MaybeCustodyKeyDep, w: WriteDep
) -> KeyEventOut:
    """Revoke a signing key now: later signatures with it are refused, earlier ones stay valid."""
    signed_by = _own(w.actor.party, party, key)
    return w.once(
        payload,
        KeyEventOut,
        lambda: KeyEventOut.of(
            revoke_key(
                w.session,
                registry=w.registry,
                actor=w.actor,
                party=party,
                key_id=key_id,
                reason=payload.reason,
                signed_by=signed_by,
                custody=signed_by is not None,
            )
        ),
    )


@router.post("/participants/{party}/credentials", response_model=IssuedCredentialOut, responses=ERRORS)
def post_credential(party: str, payload: CredentialIn, w: WriteDep) -> IssuedCredentialOut:
    """Issue an API key: its token is in this response only (a replay returns it without the token)."""
    token: list[str] = []

    def run() -> CredentialOut:
        issued = issue_credential(
            w.session,
            party=party,
            label=payload.label,
            actor=w.actor,
            now=w.registry.clock(),
            acting_user=getattr(w.request.state, "api_user", None),
        )
        token.append(issued.token)
        return CredentialOut.of(issued.credential)

    # Only the credential, never the token, goes into the idempotency store: the registry keeps
    # nothing from which the secret could be read back.
    credential = w.once(payload, CredentialOut, run)
    return IssuedCredentialOut(credential=credential, token=token[0] if token else None)


@router.post(
    "/participants/{party}/credentials/{credential_id}/revoke", response_model=CredentialOut, responses=ERRORS
)
def post_credential_revocation(party: str, credential_id: str, w: WriteDep) -> CredentialOut:
    """Revoke an API key at once (cached tokens stop working within seconds)."""
    return w.once(
        None,
        CredentialOut,
        lambda: CredentialOut.of(
            revoke_credential(
                w.session,
                credential_id=credential_id,
                party=party,
                actor=w.actor,
                now=w.registry.clock(),
                acting_user=getattr(w.request.state, "api_user", None),
            )
        ),
    )
