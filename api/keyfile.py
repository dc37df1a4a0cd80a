"""The registry key file a command is given, and whether it is the journal's: checked against
record 0 (or the registry key valid after a rotation) before the command writes anything.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine

from ledger.crypto import SigningKey
from ledger.db import make_engine, read_only
from ledger.errors import DomainError
from ledger.registry_key import registry_keys
from ledger.timeutil import utc_now

__all__ = [
    "DEFAULT_KEY",
    "KEY_ENV",
    "checked_key",
    "load_key",
    "load_or_create_key",
    "open_database",
    "resolve_key_path",
    "write_secret",
]

DEFAULT_KEY = "var/registry-key.pem"
KEY_ENV = "ECOLEDGER_REGISTRY_KEY"


def resolve_key_path(given: str | None) -> Path:
    """The registry key's PEM file: ``--key``, else $ECOLEDGER_REGISTRY_KEY, else var/registry-key.pem."""
    return Path(given or os.environ.get(KEY_ENV, DEFAULT_KEY))


def write_secret(path: Path, data: bytes) -> None:
    """A key file only its owner reads: created 0600 (never briefly world-readable), replacing any."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def load_or_create_key(path: Path) -> SigningKey:
    """The key in ``path``, or a new one written there (mode 600): for a new journal only."""
    if path.exists():
        return SigningKey.from_pem(path.read_bytes())
    key = SigningKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_secret(path, key.to_pem())
    return key


def load_key(path: Path) -> SigningKey:
    try:
        return SigningKey.from_pem(path.read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise SystemExit(f"registry key {path}: {exc}") from None


def checked_key(engine: Engine, given: str | None, *, create: bool = False) -> SigningKey | None:
    """The registry key for a command on ``engine``'s database, checked before anything is written.

    On a journal (record 0 exists) the key must exist and be record 0's key or, after a rotation, a
    registry key valid now; otherwise the command stops here (exit status 1) with the key ids it
    found and expected. Without a journal, ``create`` (``init``, ``demo``) makes a key if the file
    does not exist; other commands get None when there is no key file (they have nothing to check).
    """
    path = resolve_key_path(given)
    with read_only(engine).connect() as conn:
        try:
            keys = registry_keys(conn, at=utc_now())
        except DomainError as exc:
            raise SystemExit(f"FAILED: {exc}") from None
    if keys is None:
        if path.exists():
            return load_key(path)
        return load_or_create_key(path) if create else None
    if not path.exists():
        raise SystemExit(
            f"FAILED: no registry key at {path}, and this database holds a journal ({keys.describe()}). "
            f"Pass --key FILE (or set {KEY_ENV}) with the registry's key; no key is created for an "
            "existing journal, and nothing was written."
        )
    key = load_key(path)
    if not keys.accepts(key.public):
        raise SystemExit(
            f"FAILED: the registry key in {path} ({key.key_id}) is not this journal's: {keys.describe()}. "
            "Anything sealed with it would fail replay for good; nothing was written."
        )
    return key


def open_database(url: str | None, given_key: str | None) -> Engine:
    """An engine for a command that reads or maintains a database: the key is checked first."""
    engine = make_engine(url)
    try:
        checked_key(engine, given_key)
    except BaseException:
        engine.dispose()
        raise
    return engine
