"""The live ledger's copy of parties' controls (``ledger.controls``) in the ``ledger_controls`` table:
read one party's for a record's checks, write what a batch of accepted control records changed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Connection, Table, bindparam, delete, insert, select

from ledger.canonical import canonical_bytes
from ledger.controls import Controls, RegistryControls
from ledger.tables import ControlsRow

__all__ = ["load_controls", "load_registry_controls", "read_controls", "write_controls"]

C = cast(Table, ControlsRow.__table__)  # type: ignore[attr-defined]
_IN = select(C.c.party, C.c.state).where(C.c.party.in_(bindparam("parties", expanding=True)))
_DROP = delete(C).where(C.c.party == bindparam("b_party"))


def load_controls(c: Connection, parties: Sequence[str]) -> dict[str, Controls | None]:
    """The controls of each of ``parties`` (None: it adopted none), in one read per 500."""
    out: dict[str, Controls | None] = dict.fromkeys(parties)
    for start in range(0, len(parties), 500):
        for row in c.execute(_IN, {"parties": list(parties[start : start + 500])}):
            out[row.party] = Controls.from_json(json.loads(row.state))
    return out


def load_registry_controls(c: Connection, registry: str) -> RegistryControls:
    """The registry's delay and limit, or their defaults if it never set any."""
    row = c.execute(_IN, {"parties": [registry]}).first()
    return RegistryControls.parse(json.loads(row.state)) if row is not None else RegistryControls()


def write_controls(c: Connection, changes: Sequence[tuple[int, str, Controls | RegistryControls]]) -> None:
    """Each changed party's last state in the batch, with the sequence number of its record."""
    last = {party: (seq, state) for seq, party, state in changes}
    c.execute(_DROP, [{"b_party": p} for p in last])
    c.execute(
        insert(C),
        [
            {"party": p, "state": canonical_bytes(s.to_json()).decode(), "changed_seq": seq}
            for p, (seq, s) in last.items()
        ],
    )


def read_controls(c: Connection, party: str) -> Controls | None:
    """One party's controls as the journal left them (None: it adopted none)."""
    return load_controls(c, [party])[party]
