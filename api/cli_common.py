"""What the ``ecoledger`` commands share: opening the registry for a command that writes (its key checked
against the journal, the schema upgraded, the current rules adopted) and reading a pinned registry key.
"""

from __future__ import annotations

import sys

from sqlalchemy import Engine
from sqlmodel import Session

from api import migrations
from api.keyfile import checked_key, resolve_key_path
from ledger.crypto import b64d
from ledger.db import make_engine
from ledger.errors import LedgerNotInitialized
from ledger.movements import CURRENT_RULE_SET
from ledger.service import Registry, adopt_rules

__all__ = ["REGISTRY_KEY_HELP", "adopt_current_rules", "open_registry", "registry_key_arg"]

# A base64url key may begin with "-", which argparse would take for an option: hence the = form.
REGISTRY_KEY_HELP = "the registry's public key (base64url), from a trusted source; write --registry-key=KEY"


def open_registry(url: str | None, key_path: str | None, *, create: bool = False) -> tuple[Engine, Registry]:
    """An engine and the registry's signing identity for a command that writes: the key is checked
    against record 0 (``checked_key``) before the schema is upgraded, which is itself a write."""
    engine = make_engine(url)
    try:
        key = checked_key(engine, key_path, create=create)
        if key is None:
            raise SystemExit(
                f"FAILED: no registry key at {resolve_key_path(key_path)}: run `ecoledger init` (it creates "
                "one for a new journal) or pass --key FILE"
            )
        # Through the migrations, so a database the registry writes to is always stamped.
        migrations.upgrade(engine)
        registry = Registry(key)
        adopt_current_rules(engine, registry)
    except BaseException:
        engine.dispose()
        raise
    return engine, registry


def adopt_current_rules(engine: Engine, registry: Registry) -> None:
    """An existing journal written under older rules is held to the current rule set from its next
    record on (a sealed ``rules.adopt``); the records before it replay under their own rules."""
    with Session(engine) as s:
        try:
            adopted = adopt_rules(s, registry=registry)
        except LedgerNotInitialized:
            return  # `init` writes the genesis and adopts the rule set itself
        if adopted is not None:
            s.commit()
            print(
                f"journal now held to rule set {CURRENT_RULE_SET} from record {adopted.seq}", file=sys.stderr
            )


def registry_key_arg(text: str | None) -> bytes | None:
    """A ``--registry-key`` value as the raw public key (None when not given); a bad one stops here."""
    if text is None:
        return None
    try:
        return b64d(text, length=32)
    except ValueError as exc:
        raise SystemExit(f"--registry-key: {exc} (give the key as `keygen` prints it)") from None
