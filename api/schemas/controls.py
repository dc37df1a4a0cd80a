"""Request and response models of a party's named users (经办人/复核人) and its controls (thresholds
for four-eyes approval, the trusted-account list), as the journal's ``controls.set`` records hold them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from accounts.users import User
from api.schemas import StrictIn
from api.schemas.participants import CredentialOut
from ledger.controls import Controls

__all__ = ["ControlsIn", "ControlsOut", "IssuedUserOut", "UserIn", "UserOut"]


class UserIn(StrictIn):
    user_id: str = Field(min_length=1, max_length=32, description="letters, digits and . _ : -")
    name: str = Field(min_length=1, max_length=100)
    role: Literal["clerk", "approver"] = Field(description="clerk (经办人) or approver (复核人)")


class UserOut(BaseModel):
    party: str
    user_id: str
    name: str
    role: str

    @classmethod
    def of(cls, u: User) -> UserOut:
        return cls(party=u.party, user_id=u.user_id, name=u.name, role=u.role)


class IssuedUserOut(BaseModel):
    user: UserOut
    credential: CredentialOut | None = None
    token: str | None = Field(
        description="the user's bearer token, shown this once; null on an idempotent replay, since the "
        "registry keeps only its hash"
    )


class ControlsIn(StrictIn):
    four_eyes_kg: dict[str, int] | None = Field(
        default=None,
        description="body type -> kg above which a record needs two of the party's users, "
        'e.g. {"transfer": 100000} for 100 t',
    )
    trusted_list: bool | None = Field(
        default=None, description="whether the party's transfers go only to its trusted accounts"
    )


class ControlsOut(BaseModel):
    party: str
    users: dict[str, str] = Field(description="user id -> role, as the journal records them")
    four_eyes_kg: dict[str, int]
    trusted_list: bool
    trusted: dict[str, datetime] = Field(description="account -> when its trust takes (or took) effect")

    @classmethod
    def of(cls, party: str, c: Controls | None) -> ControlsOut:
        c = c or Controls()
        return cls(
            party=party,
            users=dict(c.users),
            four_eyes_kg=dict(c.four_eyes_kg),
            trusted_list=c.trusted_list,
            trusted=dict(c.trusted),
        )
