"""Member households as the cooperative enters them: name and ID-card number (kept off the journal),
farm figures, and the salted hash that stands for the person on the journal.

The identity hash (documented in docs/households.md): per member, 32 random bytes of salt drawn once
when the member is first registered and kept off the journal with the name; the hash is
SHA-256(tag "ecoledger-member-v1" framed as ``ledger.crypto.tagged`` does, then the salt, then the RFC
8785 canonical JSON of {"id_card": ..., "name": ...}), in lowercase hex. Without the salt, nobody can
test a guessed name or ID number against the journal; with it, the cooperative can show a member (or
a court) that the hash on the journal is theirs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from ledger.canonical import canonical_bytes
from ledger.crypto import sha256, tagged
from ledger.errors import InvalidInput
from ledger.model import check_id

__all__ = ["SALT_BYTES", "TAG_MEMBER", "MemberEntry", "area_cmu", "identity_hash", "mask_name"]

TAG_MEMBER: Final = b"ecoledger-member-v1"
SALT_BYTES: Final = 32
_ID_CARD = re.compile(r"[0-9]{17}[0-9X]")  # 居民身份证号码, GB 11643: 17 digits and a check character
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def identity_hash(name: str, id_card: str, salt: bytes) -> str:
    """The member's identity hash on the journal (see the module docstring)."""
    if len(salt) != SALT_BYTES:
        raise ValueError("a member's salt is 32 bytes")
    return sha256(tagged(TAG_MEMBER, salt + canonical_bytes({"id_card": id_card, "name": name}))).hex()


def check_id_card(value: object, *, field: str) -> str:
    """An 18-character resident ID number whose check character (GB 11643-1999, ISO 7064 MOD 11-2) fits."""
    if not isinstance(value, str) or not _ID_CARD.fullmatch(value):
        raise InvalidInput(f"{field} must be an 18-character resident ID number", field=field)
    total = sum(int(d) * w for d, w in zip(value[:17], _WEIGHTS, strict=True))
    if _CHECK[total % 11] != value[17]:
        raise InvalidInput(f"{field}: the check character does not fit", field=field)
    return value


def id_card_with_check(first17: str) -> str:
    """The full number for 17 digits (test and demo data)."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return first17 + _CHECK[total % 11]


def area_cmu(value: object, *, field: str = "area_mu") -> int:
    """An area in mu (Decimal, decimal text or int, never float) as whole hundredths of a mu."""
    if isinstance(value, float):
        raise TypeError("floats are not accepted for an area: give a str or Decimal")
    try:
        area = Decimal(value) if isinstance(value, str | int) and not isinstance(value, bool) else value
    except InvalidOperation:
        area = None
    if (
        not isinstance(area, Decimal)
        or not area.is_finite()
        or area <= 0
        or area != area.quantize(Decimal("0.01"))
    ):
        raise InvalidInput(f"{field} must be a positive number of mu with at most 2 decimals", field=field)
    return int(area * 100)


def mask_name(name: str) -> str:
    """The name as a printed statement shows it: the family name and a star per other character."""
    return name[:1] + "*" * max(len(name) - 1, 1)


@dataclass(frozen=True, slots=True)
class MemberEntry:
    """One member household as the cooperative registers it for a monitoring period; validated on
    construction. ``name`` and ``id_card`` never reach the journal."""

    member: str
    name: str
    id_card: str
    area_mu: Decimal
    rafts: int = 0
    longlines: int = 0
    harvest_kg: int | None = None

    def __post_init__(self) -> None:
        check_id(self.member, field="member")
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 64:
            raise InvalidInput("name must be 1-64 characters", field="name")
        check_id_card(self.id_card, field="id_card")
        object.__setattr__(self, "area_mu", Decimal(area_cmu(self.area_mu)) / 100)  # text or Decimal in
        for name in ("rafts", "longlines"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**6:
                raise InvalidInput(f"{name} must be a whole number from 0 to 1000000", field=name)
        h = self.harvest_kg
        if h is not None and (isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= 10**12):
            raise InvalidInput("harvest_kg must be a positive whole number of kg", field="harvest_kg")

    @property
    def area_cmu(self) -> int:
        return area_cmu(self.area_mu)
