"""Request and response models of the participant routes: registration by role, signing keys,
API credentials and "who am I"."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from accounts.credentials import Credential
from accounts.keys import KeyEvent
from accounts.model import (
    AccountRef,
    AuditorSpec,
    BankSpec,
    BureauSpec,
    CooperativeSpec,
    EnterpriseSpec,
    OperatorSpec,
    Participant,
    ParticipantSpec,
)
from api.schemas import StrictIn
from ledger.crypto import b64d
from ledger.errors import InvalidInput

__all__ = [
    "AccountOut",
    "CredentialIn",
    "CredentialOut",
    "IssuedCredentialOut",
    "KeyEventOut",
    "KeyIn",
    "MeOut",
    "ParticipantOut",
    "RegistrationIn",
    "RevokeKeyIn",
    "raw_public_key",
]

_NAME = Field(min_length=1, max_length=200)
_PUBLIC_KEY = Field(
    default=None,
    max_length=64,
    description="the raw 32-byte Ed25519 public key, unpadded base64url; omitted: the registry "
    "generates the key and holds it in custody (托管密钥)",
)


def raw_public_key(text: str, *, field: str = "public_key") -> bytes:
    """The 32 raw bytes of a base64url public key, or ``InvalidInput`` naming the field."""
    try:
        return b64d(text, length=32)
    except ValueError as exc:
        raise InvalidInput(
            f"{field} must be a 32-byte Ed25519 key in unpadded base64url: {exc}", field=field
        ) from None


class _Registration(StrictIn):
    name: str = _NAME
    public_key: str | None = _PUBLIC_KEY


class BureauIn(_Registration):
    role: Literal["bureau"]
    division: str = Field(max_length=6, description="6-digit administrative division code (行政区划代码)")

    def spec(self) -> ParticipantSpec:
        return BureauSpec(self.division, self.name)


class EnterpriseIn(_Registration):
    role: Literal["enterprise"]
    credit_code: str = Field(max_length=18, description="18-character unified social credit code")
    jurisdiction: str = Field(max_length=6)
    permit_number: str | None = Field(default=None, max_length=22, description="排污许可证编号")

    def spec(self) -> ParticipantSpec:
        return EnterpriseSpec(self.credit_code, self.name, self.jurisdiction, self.permit_number)


class BankIn(_Registration):
    role: Literal["bank"]
    credit_code: str = Field(max_length=18)
    branch: str = _NAME
    jurisdiction: str | None = Field(default=None, max_length=6)

    def spec(self) -> ParticipantSpec:
        return BankSpec(self.credit_code, self.name, self.branch, self.jurisdiction)


class CooperativeIn(_Registration):
    role: Literal["cooperative"]
    jurisdiction: str = Field(max_length=6)
    credit_code: str | None = Field(default=None, max_length=18)
    slug: str | None = Field(default=None, max_length=48)

    def spec(self) -> ParticipantSpec:
        return CooperativeSpec(self.name, self.jurisdiction, credit_code=self.credit_code, slug=self.slug)


class AuditorIn(_Registration):
    role: Literal["auditor"]
    slug: str = Field(max_length=48)

    def spec(self) -> ParticipantSpec:
        return AuditorSpec(self.slug, self.name)


class OperatorIn(_Registration):
    role: Literal["operator"]
    slug: str = Field(max_length=48)

    def spec(self) -> ParticipantSpec:
        return OperatorSpec(self.slug, self.name)


RegistrationIn = Annotated[
    BureauIn | EnterpriseIn | BankIn | CooperativeIn | AuditorIn | OperatorIn, Field(discriminator="role")
]


class ParticipantOut(BaseModel):
    party: str
    role: str
    name: str
    jurisdiction: str | None
    credit_code: str | None
    permit_number: str | None
    branch: str | None
    registered_seq: int | None = Field(description="journal record of its party.register")

    @classmethod
    def of(cls, p: Participant) -> ParticipantOut:
        return cls(
            party=p.party,
            role=p.role.value,
            name=p.name,
            jurisdiction=p.jurisdiction,
            credit_code=p.credit_code,
            permit_number=p.permit_number,
            branch=p.branch,
            registered_seq=p.registered_seq,
        )


class AccountOut(BaseModel):
    account: str
    kind: str

    @classmethod
    def of(cls, ref: AccountRef) -> AccountOut:
        return cls(account=ref.account, kind=ref.kind.value)


class MeOut(BaseModel):
    """The authenticated caller: its registration and its ledger accounts."""

    participant: ParticipantOut
    accounts: list[AccountOut]


class KeyIn(StrictIn):
    """A new signing key for the party: beside its others, or replacing ``replaces`` (rotation)."""

    public_key: str | None = _PUBLIC_KEY
    replaces: str | None = Field(default=None, max_length=64, description="key id the new key replaces")


class RevokeKeyIn(StrictIn):
    reason: str = Field(min_length=1, max_length=500)


class KeyEventOut(BaseModel):
    party: str
    key_id: str
    effective_at: datetime
    seq: int = Field(description="journal record of the key event")
    revoked_key_id: str | None

    @classmethod
    def of(cls, e: KeyEvent) -> KeyEventOut:
        return cls(
            party=e.party,
            key_id=e.key_id,
            effective_at=e.effective_at,
            seq=e.seq,
            revoked_key_id=e.revoked_key_id,
        )


class CredentialIn(StrictIn):
    label: str = Field(default="", max_length=100)


class CredentialOut(BaseModel):
    """An API key as listed: never its secret."""

    id: str
    party: str
    label: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, c: Credential) -> CredentialOut:
        return cls(id=c.id, party=c.party, label=c.label, created_at=c.created_at, revoked_at=c.revoked_at)


class IssuedCredentialOut(BaseModel):
    credential: CredentialOut
    token: str | None = Field(
        description="the bearer token, shown this once; null on an idempotent replay, since the "
        "registry keeps only its hash"
    )
