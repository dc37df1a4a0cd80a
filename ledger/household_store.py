"""The live ledger's index of household facts (``ledger.household_rules``) in ``ledger_household``: the
record that confirmed a roster or attributed a batch, read back from the journal. Replay needs none.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select

from ledger.household_rules import HouseholdChange
from ledger.households import Attribution, Roster, parse_attribution, parse_roster
from ledger.tables import HouseholdFactRow, JournalRow

__all__ = ["load_attribution", "load_roster", "write_changes"]

HF = cast(Table, HouseholdFactRow.__table__)  # type: ignore[attr-defined]
_J = cast(Table, JournalRow.__table__)  # type: ignore[attr-defined]
_CORE = select(_J.c.core).select_from(HF.join(_J, _J.c.seq == HF.c.seq)).where(HF.c.key == bindparam("key"))


def _meta(c: Connection, key: str) -> dict[str, Any] | None:
    core = c.execute(_CORE, {"key": key}).scalar()
    if core is None:
        return None
    raw = core.encode() if isinstance(core, str) else bytes(core)
    meta = json.loads(raw)["body"]["meta"]
    return meta if isinstance(meta, dict) else None


def load_roster(c: Connection, roster: str) -> Roster | None:
    """The roster ``roster`` as its confirming record states it, or None if none was confirmed."""
    meta = _meta(c, f"roster:{roster}")
    return parse_roster(meta) if meta is not None else None


def load_attribution(c: Connection, batch: str) -> Attribution | None:
    """The attribution the issuance of ``batch`` carried, or None."""
    meta = _meta(c, f"batch:{batch}")
    return parse_attribution(batch, meta["attribution"]) if meta is not None else None


def write_changes(c: Connection, changes: Sequence[tuple[int, HouseholdChange]]) -> None:
    """Index a batch's household facts, each under the sequence number of the record stating it."""
    rows: list[dict[str, Any]] = []
    for seq, change in changes:
        if change.roster is not None:
            rows.append({"key": f"roster:{change.roster.id}", "seq": seq})
        if change.attribution is not None:
            rows.append({"key": f"batch:{change.attribution.batch}", "seq": seq})
    if rows:
        c.execute(insert(HF), rows)
