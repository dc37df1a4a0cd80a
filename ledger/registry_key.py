"""Which key may seal records and checkpoints: record 0's, or after a rotation a registry key valid
now. Commands and the app check the configured key here before they write anything.

A record sealed with any other key fails replay, permanently, in an append-only journal; so the
check runs once at start (``check_registry_key``) and again, for free, on every write
(``check_sealing_key``, against the batch's cached view).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, inspect, select

from ledger.canonical import decode_canonical
from ledger.crypto import SigningKey, key_id_for
from ledger.errors import DomainError, RegistryKeyMismatch
from ledger.model import REGISTRY, Genesis, parse_body
from ledger.repository import HD, J, K
from ledger.rules import KeyInfo, LedgerView
from ledger.timeutil import parse_utc

__all__ = ["RegistryKeys", "check_registry_key", "check_sealing_key", "registry_keys"]


@dataclass(frozen=True)
class RegistryKeys:
    """Record 0's key and the registry keys valid at the instant asked (after any rotation)."""

    genesis: bytes
    valid: tuple[KeyInfo, ...]

    def accepts(self, public_key: bytes) -> bool:
        return any(k.public_key == public_key for k in self.valid)

    def describe(self) -> str:
        ids = ", ".join(k.key_id for k in self.valid) or "none"
        return f"record 0 names key {key_id_for(self.genesis)}; registry keys valid now: {ids}"


def _genesis_key(core: bytes) -> bytes:
    try:
        body = parse_body(decode_canonical(core).get("body"))
    except (DomainError, AttributeError) as exc:
        raise RegistryKeyMismatch(f"record 0 cannot be read as a genesis record: {exc}") from None
    if not isinstance(body, Genesis):
        raise RegistryKeyMismatch("record 0 is not a genesis record: run `ecoledger verify`")
    return body.public_key


def registry_keys(conn: Connection, *, at: datetime) -> RegistryKeys | None:
    """The registry's keys as the journal in ``conn``'s database has them; None when it has no
    journal yet (no table, or no record 0). Reads only columns of the first schema revision, so
    it runs before any migration (which would be a write)."""
    if not inspect(conn).has_table(J.name):
        return None
    row = conn.execute(select(J.c.core).where(J.c.seq == 0)).first()
    if row is None:
        return None
    genesis = _genesis_key(bytes(row.core))
    head = conn.execute(select(HD.c.time).where(HD.c.id == 1)).scalar()
    moment = max(at, parse_utc(head)) if head else at  # the journal's clock never runs backwards
    rows = conn.execute(
        select(K.c.key_id, K.c.public_key, K.c.valid_from, K.c.revoked_at).where(K.c.party == REGISTRY)
    ).all()
    keys = [
        KeyInfo(
            REGISTRY,
            r.key_id,
            bytes(r.public_key),
            parse_utc(r.valid_from),
            parse_utc(r.revoked_at) if r.revoked_at else None,
        )
        for r in rows
    ]
    if not any(k.public_key == genesis for k in keys):
        raise RegistryKeyMismatch(
            "the key table does not hold record 0's key: the database is damaged (run `ecoledger verify`)"
        )
    return RegistryKeys(genesis, tuple(k for k in keys if k.valid_at(moment)))


def check_registry_key(conn: Connection, *, public_key: bytes, at: datetime) -> RegistryKeys | None:
    """Refuse (``RegistryKeyMismatch``) a configured registry key that is not record 0's key, or,
    after a rotation, not a registry key valid at ``at``. None when there is no journal yet."""
    keys = registry_keys(conn, at=at)
    if keys is not None and not keys.accepts(public_key):
        raise RegistryKeyMismatch(
            f"the configured registry key {key_id_for(public_key)} is not this journal's: {keys.describe()}",
            given=key_id_for(public_key),
            genesis=key_id_for(keys.genesis),
            valid=[k.key_id for k in keys.valid],
        )
    return keys


def check_sealing_key(view: LedgerView, key: SigningKey, at: datetime) -> None:
    """Before a record or checkpoint is sealed at ``at``: ``key`` is a registry key valid then."""
    info = view.find_key(key.key_id)
    if info is None or info.party != REGISTRY or info.public_key != key.public or not info.valid_at(at):
        raise RegistryKeyMismatch(
            f"the registry key {key.key_id} is not a registry key of this journal valid at {at.isoformat()}: "
            "nothing is sealed with it",
            given=key.key_id,
        )
