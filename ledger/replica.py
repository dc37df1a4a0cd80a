"""How far a read-only replica's journal is behind the primary's, for reads and audits served by it.

Compared by journal head (records), by latest signed checkpoint, and by PostgreSQL's replay delay.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import Session

from ledger.service import head_size, latest_checkpoint
from ledger.timeutil import format_utc

__all__ = ["ReplicaLag", "ReplicaStamp", "replay_lag_ms", "replica_lag", "replica_stamp"]

# A standby that has applied all the WAL it received is 0 ms behind what it knows of; otherwise, the
# age of the last transaction it replayed (pg_last_xact_replay_timestamp alone keeps growing while the
# primary is idle, though nothing is missing). NULL on a primary (not in recovery).
_REPLAY_LAG_MS = text(
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL "
    "WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE CAST(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000 AS BIGINT) END"
)


def replay_lag_ms(session: Session) -> int | None:
    """Milliseconds the replica's replay is behind (PostgreSQL standby), or None (not a standby)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    value = session.execute(_REPLAY_LAG_MS).scalar()
    return None if value is None else max(0, int(value))


@dataclass(frozen=True)
class ReplicaStamp:
    """What one answer read from a replica reflects: the journal's first ``head`` records, the latest
    checkpoint among them, and how far the replica's replay was behind when it was read."""

    head: int
    checkpoint: int  # tree size of the latest checkpoint (0: none yet)
    replay_lag_ms: int | None

    def headers(self) -> dict[str, str]:
        out = {
            "X-Ecoledger-Replica-Head": str(self.head),
            "X-Ecoledger-Replica-Checkpoint": str(self.checkpoint),
        }
        if self.replay_lag_ms is not None:
            ms = self.replay_lag_ms
            out["X-Ecoledger-Replica-Lag"] = f"{ms // 1000}.{ms % 1000:03d}"  # seconds, exact to the ms
        return out


def replica_stamp(session: Session) -> ReplicaStamp:
    """The stamp of reads made in ``session`` (in one snapshot, so it matches them)."""
    cp = latest_checkpoint(session)
    return ReplicaStamp(head_size(session), 0 if cp is None else cp.tree_size, replay_lag_ms(session))


@dataclass(frozen=True)
class ReplicaLag:
    replica_records: int
    primary_records: int | None  # None: the primary was not reachable, so the lag is unknown
    replica_checkpoint: int  # tree size of the replica's latest checkpoint (0: none yet)
    replica_checkpoint_time: str | None
    replay_lag_ms: int | None = None  # PostgreSQL's replay delay on the standby (None: not a standby)

    @property
    def records_behind(self) -> int | None:
        return None if self.primary_records is None else max(0, self.primary_records - self.replica_records)

    def describe(self) -> str:
        behind = (
            "primary not reachable: lag unknown"
            if self.records_behind is None
            else f"{self.records_behind} records behind the primary ({self.primary_records})"
        )
        checkpoint = (
            f"latest checkpoint {self.replica_checkpoint} at {self.replica_checkpoint_time}"
            if self.replica_checkpoint_time
            else "no checkpoint yet"
        )
        replay = "" if self.replay_lag_ms is None else f"; replay {self.replay_lag_ms} ms behind"
        return f"read from a replica: journal head {self.replica_records}, {behind}; {checkpoint}{replay}"


def replica_lag(replica: Session, primary: Session | None) -> ReplicaLag:
    """The replica's journal head and latest checkpoint against the primary's head."""
    cp = latest_checkpoint(replica)
    return ReplicaLag(
        replica_records=head_size(replica),
        primary_records=None if primary is None else head_size(primary),
        replica_checkpoint=0 if cp is None else cp.tree_size,
        replica_checkpoint_time=None if cp is None else format_utc(cp.time),
        replay_lag_ms=replay_lag_ms(replica),
    )
