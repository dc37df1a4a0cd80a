"""Database access for the ledger: the sequencer lock, a cached view, and batched writes.

SQLAlchemy Core, not the ORM, on the hot path (the ORM is several times slower per row
here). A batch reads each row it needs once, applies records in memory, writes once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

import orjson
from sqlalchemy import Connection, Table, bindparam, insert, select, text, tuple_, update
from sqlmodel import Session

from ledger.auction_book import AuctionBook, AuctionChange
from ledger.auction_rules import commit_change
from ledger.auction_store import load_book, write_changes
from ledger.canonical import canonical_bytes
from ledger.checkpoint import Checkpoint
from ledger.claim_store import load_claim, load_pledge_loan, write_claims
from ledger.control_store import load_controls, load_registry_controls, write_controls
from ledger.controls import Controls, RegistryControls
from ledger.forced_sale import ForcedClaim
from ledger.household_rules import HouseholdChange
from ledger.household_store import load_attribution, load_roster
from ledger.household_store import write_changes as write_household_changes
from ledger.households import Attribution, Roster
from ledger.journal import SealedRecord
from ledger.merkle import Frontier
from ledger.model import REGISTRY, AccountKind, BalanceKey, Posting, TxBody
from ledger.pledge_terms import PledgeLoan
from ledger.rules import AccountInfo, Effect, Hold, KeyInfo, PartyInfo, Position
from ledger.tables import (
    CONTROL_RECORDS,
    AccountRow,
    BalanceRow,
    CheckpointRow,
    HeadRow,
    HoldRow,
    IdempotencyRow,
    JournalRow,
    KeyRow,
    PartyRow,
    PostingRow,
)
from ledger.timeutil import format_utc, parse_utc

__all__ = ["KEYS_WITH_CORE", "DbView", "Head", "key_info", "table"]


def table(row: type[Any]) -> Table:
    return cast(Table, row.__table__)


J, P, B, H = table(JournalRow), table(PostingRow), table(BalanceRow), table(HoldRow)
A, PA, K, HD = table(AccountRow), table(PartyRow), table(KeyRow), table(HeadRow)
CP, ID = table(CheckpointRow), table(IdempotencyRow)


# Built once: constructing SQLAlchemy expressions per call cost more than executing them.
_HEAD_FOR_UPDATE = select(HD).where(HD.c.id == 1).with_for_update()
_ACCOUNT_BY_ID = select(A).where(A.c.id == bindparam("id"))
_ACCOUNTS_IN = select(A).where(A.c.id.in_(bindparam("ids", expanding=True)))
_POSITIONS_IN = select(B.c.account, B.c.instrument, B.c.lot, B.c.total, B.c.held).where(
    tuple_(B.c.account, B.c.instrument, B.c.lot).in_(bindparam("keys", expanding=True))
)
_POSITION_KEY = ("account", "instrument", "lot")
_HOLD_BY_ID = select(H).where(H.c.id == bindparam("id"))
_PARTY_BY_ID = select(PA.c.id, PA.c.role, PA.c.profile).where(PA.c.id == bindparam("id"))
_BUREAUS = select(PA.c.id, PA.c.role, PA.c.profile).where(PA.c.role == "bureau").order_by(PA.c.registered_seq)
# A key with the core of the record that registered it: whether that record says custody.
KEYS_WITH_CORE = select(K, J.c.core.label("registered_core")).select_from(
    K.join(J, J.c.seq == K.c.registered_seq)
)
_KEY_BY_ID = KEYS_WITH_CORE.where(K.c.key_id == bindparam("id"))
_DIGEST = select(J.c.seq).where(J.c.body_digest == bindparam("digest"))
_IDEMPOTENT = select(ID.c.request_digest, ID.c.response).where(
    ID.c.scope == bindparam("scope"), ID.c.key == bindparam("key")
)
_IDEMPOTENT_IN = select(ID.c.scope, ID.c.key, ID.c.request_digest, ID.c.response).where(
    tuple_(ID.c.scope, ID.c.key).in_(bindparam("pairs", expanding=True))
)

_IDEMPOTENCY_KEY = ("scope", "key")


@lru_cache(maxsize=64)
def _sqlite_rows_in(stmt: Any, key: tuple[str, ...], count: int, quote: Callable[[str], str]) -> str:
    """``stmt``'s ``SELECT columns FROM table``, where the key equals one of ``count`` tuples.

    SQLite plans a row-value IN list, ``(a, b) IN ((?, ?), ...)``, as a scan of the whole index: a
    batch's lookup grew with the table (2.2 ms at 20,000 idempotency keys, 0.1 s at a million). An
    OR of equalities is one index search per tuple (50 µs for 50 of them, at any size)."""
    columns = ", ".join(quote(col.name) for col in stmt.selected_columns)
    match = "(" + " AND ".join(f"{quote(c)} = ?" for c in key) + ")"
    return f"SELECT {columns} FROM {quote(stmt.get_final_froms()[0].name)} WHERE " + " OR ".join(
        [match] * count
    )


def _rows_in(c: Connection, stmt: Any, param: str, key: tuple[str, ...], tuples: list[Any]) -> Any:
    """``stmt`` (a row-value IN over ``param``) on ``tuples``; on SQLite, as ``_sqlite_rows_in``.
    The count is rounded up to a power of two, repeating the last tuple (an OR of equalities
    yields each row once), so a few statements serve every batch size."""
    if c.dialect.name != "sqlite" or not tuples:
        return c.execute(stmt, {param: tuples})
    count = 1 << (len(tuples) - 1).bit_length()
    padded = tuples + [tuples[-1]] * (count - len(tuples))
    sql = _sqlite_rows_in(stmt, key, count, c.dialect.identifier_preparer.quote)
    return c.exec_driver_sql(sql, tuple(v for t in padded for v in t))


# The very predicate of the partial index ix_journal_controls, as literal SQL, so both engines use it.
_ANY_CONTROLS = select(J.c.seq).where(text(CONTROL_RECORDS)).limit(1)
_DIGESTS_IN = select(J.c.body_digest).where(J.c.body_digest.in_(bindparam("digests", expanding=True)))
# The same on PostgreSQL over one binary array: no statement built a batch, no text escaping of
# each digest (``_PG_HOT``'s reason).
_PG_DIGESTS_IN = "SELECT body_digest FROM journal WHERE body_digest = ANY(%b::bytea[])"
# A batch's two "seen before?" reads in one round trip on PostgreSQL: its digests already in the
# journal (rows without a scope), then the stored answers of its idempotency keys. Two statements a
# batch were two round trips and two passes through SQLAlchemy and psycopg, under the head's lock.
_PG_SEEN = (
    "SELECT NULL::text, NULL::text, body_digest, NULL::text FROM journal WHERE body_digest = ANY(%b::bytea[])"
    " UNION ALL SELECT i.scope, i.key, i.request_digest, i.response FROM idempotency AS i"
    " JOIN unnest(%b::text[], %b::text[]) AS w (scope, key) ON i.scope = w.scope AND i.key = w.key"
)
_RULES_ADOPTED = select(J.c.core).where(J.c.type == "rules.adopt").order_by(J.c.seq.desc()).limit(1)
_UPDATE_HEAD = update(HD).where(HD.c.id == 1)
# ``WarmView.catch_up``: another process's records since the kept head, and the balances they moved.
_RECORDS_SINCE = (
    select(J.c.seq, J.c.type, J.c.action, J.c.core, J.c.hash, J.c.prev)
    .where(J.c.seq >= bindparam("since"), J.c.seq < bindparam("until"))
    .order_by(J.c.seq)
)
_POSTED_SINCE = (
    select(P.c.account, P.c.instrument, P.c.lot)
    .where(P.c.seq >= bindparam("since"), P.c.seq < bindparam("until"))
    .distinct()
)
CAUGHT_UP_ACTIONS = frozenset({"transfer", "trade"})  # with no hold operation: balances move, nothing else
CATCH_UP_LIMIT = 2000  # records another process wrote; beyond, reading them costs more than a cold start
_INSERT = {t.name: insert(t) for t in (J, P, B, H, A, PA, K, CP, ID)}

# The three statements every transfer writes, as plain driver SQL over rows of tuples: compiling
# and processing one dictionary of parameters per row cost more than the rest of the flush
# (SQLAlchemy's ``construct_params`` and its bytes processor; bench/ledger_bench.py, profile). On
# PostgreSQL the three and the head's update are one statement for the whole batch (``_PG_HOT``).
_JOURNAL_COLUMNS = ("seq", "time", "type", "action", "core", "hash", "prev", "registry_sig", "body_digest")
_POSTING_COLUMNS = ("seq", "idx", "account", "instrument", "lot", "amount")
_IDEMPOTENCY_COLUMNS = ("scope", "key", "request_digest", "seq", "response")


_HOT_TYPES = {  # PostgreSQL casts of each column, for the arrays of ``_PG_HOT``
    "journal": ("bigint", "text", "text", "text", "bytea", "bytea", "bytea", "bytea", "bytea"),
    "posting": ("bigint", "integer", "text", "text", "text", "bigint"),
    "balance": ("bigint", "bigint", "text", "text", "text"),  # total, held, then the key
    "idempotency": ("text", "text", "bytea", "bigint", "text"),
}


def _hot_insert(table: str, columns: tuple[str, ...], values: str) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}"


@lru_cache(maxsize=8)
def _sqlite_sql(statement: str) -> str:
    """One row's statement, for ``executemany`` (in process, it costs no round trip a row)."""
    row = "(" + ", ".join("?" * len(_HOT_TYPES[statement])) + ")"
    if statement == "journal":
        return _hot_insert("journal", _JOURNAL_COLUMNS, row)
    if statement == "posting":
        return _hot_insert("posting", _POSTING_COLUMNS, row)
    return "UPDATE balance SET total = ?, held = ? WHERE account = ? AND instrument = ? AND lot = ?"


def _unnest(statement: str) -> str:
    return "unnest(" + ", ".join(f"%b::{t}[]" for t in _HOT_TYPES[statement]) + ")"


# On PostgreSQL a batch's journal rows, their postings, the balances they moved, its idempotency
# answers and the head go in ONE statement (data-modifying CTEs), each table's rows as one array a
# column (``unnest``): one round trip a batch instead of five, with a text that never depends on the
# number of rows, so psycopg prepares it once per connection. Parameters go in binary (``%b``):
# psycopg's text form of a bytea array cost 2 ms a batch of 50 on the client, the binary form 0.25 ms.
# Every part runs, whether or not the main statement reads it; no foreign key ties these tables, and
# a CHECK on balance still refuses the whole statement.
_PG_HOT = (
    f"WITH j AS (INSERT INTO journal ({', '.join(_JOURNAL_COLUMNS)}) SELECT * FROM {_unnest('journal')}),"
    f" p AS (INSERT INTO posting ({', '.join(_POSTING_COLUMNS)}) SELECT * FROM {_unnest('posting')}),"
    f" i AS (INSERT INTO idempotency ({', '.join(_IDEMPOTENCY_COLUMNS)})"
    f" SELECT * FROM {_unnest('idempotency')}),"
    " b AS (UPDATE balance SET total = v.total, held = v.held"
    f" FROM {_unnest('balance')} AS v (total, held, account, instrument, lot)"
    " WHERE balance.account = v.account AND balance.instrument = v.instrument AND balance.lot = v.lot)"
    " UPDATE journal_head SET next_seq = %b, hash = %b, time = %b, frontier = %b WHERE id = 1"
)


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as one list a column (psycopg sends a list as an array), empty lists for no rows."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def _executemany(c: Connection, statement: str, rows: list[tuple[Any, ...]]) -> None:
    """SQLite's hot statements, one row a parameter set (in process: no round trip a row)."""
    c.exec_driver_sql(_sqlite_sql(statement), rows)


def conn(session: Session) -> Connection:
    return session.connection()


@dataclass
class Head:
    next_seq: int
    hash: bytes
    time: str | None
    frontier: Frontier
    existed: bool = True
    moment: datetime | None = None  # ``time`` parsed once per batch, not once per record
    rule_set: int = 1  # the rule set in force (``ledger.movements``), raised by ``rules.adopt``

    @classmethod
    def lock(cls, session: Session, warm: WarmView | None = None) -> Head | None:
        """Take the sequencer lock (a no-op on SQLite, which already holds the write lock). With
        ``warm`` still current, the rule set in force is its view's, not read again."""
        return cls.locked(conn(session), warm)

    @classmethod
    def locked(cls, c: Connection, warm: WarmView | None = None) -> Head | None:
        """``lock`` on a connection: the head row, locked for the rest of ``c``'s transaction."""
        row = c.execute(_HEAD_FOR_UPDATE).first()
        if row is None:
            return None
        nodes = [row.frontier[i : i + 32] for i in range(0, len(row.frontier), 32)]
        moment = parse_utc(row.time) if row.time else None
        frontier = Frontier(row.next_seq, nodes)
        if warm is not None:
            warm.catch_up(c, row.next_seq, bytes(row.hash))
        rule_set = warm.rule_set_at(row.next_seq, bytes(row.hash)) if warm is not None else None
        if rule_set is None:
            adopted = c.execute(_RULES_ADOPTED).scalar()
            rule_set = int(json.loads(adopted)["body"]["version"]) if adopted is not None else 1
        return cls(row.next_seq, row.hash, row.time, frontier, moment=moment, rule_set=rule_set)

    def values(self) -> dict[str, Any]:
        return {
            "next_seq": self.next_seq,
            "hash": self.hash,
            "time": self.time,
            "frontier": b"".join(self.frontier.nodes),
        }


@dataclass
class DbView:
    """A ``LedgerView`` over the tables plus everything the current batch has applied."""

    session: Session
    accounts: dict[str, AccountInfo | None] = field(default_factory=dict)
    positions: dict[BalanceKey, Position] = field(default_factory=dict)
    stored_positions: set[BalanceKey] = field(default_factory=set)
    holds: dict[str, Hold | None] = field(default_factory=dict)
    stored_holds: set[str] = field(default_factory=set)
    parties: dict[str, PartyInfo | None] = field(default_factory=dict)
    bureaus: dict[str, str] | None = None  # jurisdiction -> bureau, loaded on first use
    rule_set: int = 1
    keys: dict[str, KeyInfo | None] = field(default_factory=dict)
    digests: dict[bytes, bool] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], tuple[bytes, str] | None] = field(default_factory=dict)
    auctions: dict[str, AuctionBook | None] = field(default_factory=dict)
    controls: dict[str, Controls | None] = field(default_factory=dict)
    registry: RegistryControls | None = None  # loaded on first use
    # Whether the journal holds any control record: until one exists, no party has controls and no
    # batch reads the controls table (one indexed probe a batch).
    any_controls: bool | None = None
    pledge_loans: dict[str, PledgeLoan | None] = field(default_factory=dict)
    claims: dict[str, ForcedClaim | None] = field(default_factory=dict)
    stored_claims: set[str] = field(default_factory=set)
    rosters: dict[str, Roster | None] = field(default_factory=dict)
    attributions: dict[str, Attribution | None] = field(default_factory=dict)

    # -- reads -----------------------------------------------------------------
    def find_account(self, account_id: str) -> AccountInfo | None:
        if account_id not in self.accounts:
            row = conn(self.session).execute(_ACCOUNT_BY_ID, {"id": account_id}).first()
            self.accounts[account_id] = AccountInfo(row.id, row.owner, AccountKind(row.kind)) if row else None
        return self.accounts[account_id]

    def position(self, key: BalanceKey) -> Position:
        if key not in self.positions:
            self.prefetch_positions([key])
        return self.positions[key]

    def prefetch_positions(self, keys: Iterable[BalanceKey]) -> None:
        wanted = [k for k in set(keys) if k not in self.positions]
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = _rows_in(conn(self.session), _POSITIONS_IN, "keys", _POSITION_KEY, chunk)
            for r in rows:
                key = (r.account, r.instrument, r.lot)
                self.positions[key] = Position(r.total, r.held)
                self.stored_positions.add(key)
            for key in chunk:
                self.positions.setdefault(key, Position())

    def prefetch_accounts(self, ids: Iterable[str]) -> None:
        wanted = [i for i in set(ids) if i not in self.accounts]
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for row in conn(self.session).execute(_ACCOUNTS_IN, {"ids": chunk}):
                self.accounts[row.id] = AccountInfo(row.id, row.owner, AccountKind(row.kind))
            for i in chunk:
                self.accounts.setdefault(i, None)

    def prefetch(self, bodies: Sequence[Any]) -> None:
        """Load in two queries what a batch of transactions will read, instead of 2 per record."""
        keys: list[BalanceKey] = []
        for body in bodies:
            if isinstance(body, TxBody):
                keys.extend(p.key for p in body.postings)
        self.prefetch_accounts(k[0] for k in keys)
        self.prefetch_positions(keys)
        # The controls of every party that may consent: signers named, and owners of the accounts.
        parties = {a.owner for a in self.accounts.values() if a is not None}
        parties.update(s for body in bodies if isinstance(body, TxBody) for s in body.signers)
        wanted = sorted(parties - set(self.controls))
        if wanted and self.has_controls():
            self.controls.update(load_controls(conn(self.session), wanted))

    def find_hold(self, hold_id: str) -> Hold | None:
        if hold_id not in self.holds:
            row = conn(self.session).execute(_HOLD_BY_ID, {"id": hold_id}).first()
            self.holds[hold_id] = (
                Hold(
                    row.id,
                    row.account,
                    row.instrument,
                    row.lot,
                    row.amount,
                    row.reason,
                    row.controller,
                    row.status,
                )
                if row
                else None
            )
            if row:
                self.stored_holds.add(hold_id)
        return self.holds[hold_id]

    def has_party(self, party: str) -> bool:
        return self.find_party(party) is not None

    def find_party(self, party: str) -> PartyInfo | None:
        if party not in self.parties:
            row = conn(self.session).execute(_PARTY_BY_ID, {"id": party}).first()
            self.parties[party] = _party_info(row) if row else None
        return self.parties[party]

    def bureau_of(self, jurisdiction: str) -> str | None:
        if self.bureaus is None:
            self.bureaus = {}
            for row in conn(self.session).execute(_BUREAUS):
                info = _party_info(row)
                if info.jurisdiction is not None:
                    self.bureaus.setdefault(info.jurisdiction, info.id)
        return self.bureaus.get(jurisdiction)

    def find_auction(self, auction_id: str) -> AuctionBook | None:
        if auction_id not in self.auctions:
            self.auctions[auction_id] = load_book(conn(self.session), auction_id)
        return self.auctions[auction_id]

    def has_controls(self) -> bool:
        if self.any_controls is None:
            self.any_controls = conn(self.session).execute(_ANY_CONTROLS).first() is not None
        return self.any_controls

    def find_controls(self, party: str) -> Controls | None:
        if party not in self.controls:
            if not self.has_controls():
                return None
            self.controls.update(load_controls(conn(self.session), [party]))
        return self.controls[party]

    def registry_controls(self) -> RegistryControls:
        if self.registry is None:
            found = self.has_controls()
            self.registry = (
                load_registry_controls(conn(self.session), REGISTRY) if found else RegistryControls()
            )
        return self.registry

    def find_pledge_loan(self, pledge_id: str) -> PledgeLoan | None:
        if pledge_id not in self.pledge_loans:
            self.pledge_loans[pledge_id] = load_pledge_loan(conn(self.session), pledge_id)
        return self.pledge_loans[pledge_id]

    def find_claim(self, pledge_id: str) -> ForcedClaim | None:
        if pledge_id not in self.claims:
            self.claims[pledge_id] = load_claim(conn(self.session), pledge_id)
            if self.claims[pledge_id] is not None:
                self.stored_claims.add(pledge_id)
        return self.claims[pledge_id]

    def find_roster(self, roster: str) -> Roster | None:
        if roster not in self.rosters:
            self.rosters[roster] = load_roster(conn(self.session), roster)
        return self.rosters[roster]

    def find_attribution(self, batch: str) -> Attribution | None:
        if batch not in self.attributions:
            self.attributions[batch] = load_attribution(conn(self.session), batch)
        return self.attributions[batch]

    def find_key(self, key_id: str) -> KeyInfo | None:
        if key_id not in self.keys:
            row = conn(self.session).execute(_KEY_BY_ID, {"id": key_id}).first()
            self.keys[key_id] = key_info(row) if row else None
        return self.keys[key_id]

    def prefetch_digests(self, digests: Sequence[bytes]) -> None:
        wanted = [d for d in set(digests) if d not in self.digests]
        c = conn(self.session)
        if c.dialect.name == "postgresql" and wanted:  # one array in binary, however many
            found = {bytes(r[0]) for r in c.exec_driver_sql(_PG_DIGESTS_IN, (wanted,))}
            for d in wanted:
                self.digests[d] = d in found
            return
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            found = {r.body_digest for r in c.execute(_DIGESTS_IN, {"digests": chunk})}
            for d in chunk:
                self.digests[d] = d in found

    def digest_seen(self, digest: bytes) -> bool:
        if digest not in self.digests:
            row = conn(self.session).execute(_DIGEST, {"digest": digest}).first()
            self.digests[digest] = row is not None
        return self.digests[digest]

    def prefetch_seen(self, digests: Sequence[bytes], pairs: Iterable[tuple[str, str]]) -> None:
        """``prefetch_digests`` and ``prefetch_idempotency``; on PostgreSQL in one statement."""
        c = conn(self.session)
        if c.dialect.name != "postgresql":
            self.prefetch_digests(digests)
            self.prefetch_idempotency(pairs)
            return
        wanted = [d for d in set(digests) if d not in self.digests]
        asked = [p for p in set(pairs) if p not in self.idempotency]
        if not wanted and not asked:
            return
        found: set[bytes] = set()
        params = (wanted, [p[0] for p in asked], [p[1] for p in asked])
        for scope, key, digest, response in c.exec_driver_sql(_PG_SEEN, params):
            if scope is None:
                found.add(bytes(digest))
            else:
                self.idempotency[(scope, key)] = (bytes(digest), response)
        for d in wanted:
            self.digests[d] = d in found
        for p in asked:
            self.idempotency.setdefault(p, None)

    def prefetch_idempotency(self, pairs: Iterable[tuple[str, str]]) -> None:
        """The stored answers of a batch's idempotency keys in one query per 500, not one per record."""
        wanted = [p for p in set(pairs) if p not in self.idempotency]
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for r in _rows_in(conn(self.session), _IDEMPOTENT_IN, "pairs", _IDEMPOTENCY_KEY, chunk):
                self.idempotency[(r.scope, r.key)] = (r.request_digest, r.response)
            for p in chunk:
                self.idempotency.setdefault(p, None)

    def find_idempotent(self, scope: str, key: str) -> tuple[bytes, str] | None:
        if (scope, key) not in self.idempotency:
            row = conn(self.session).execute(_IDEMPOTENT, {"scope": scope, "key": key}).first()
            self.idempotency[(scope, key)] = (row.request_digest, row.response) if row else None
        return self.idempotency[(scope, key)]


@dataclass
class BatchWriter:
    """Collects a batch's rows and writes each table once, with executemany."""

    journal: list[tuple[Any, ...]] = field(default_factory=list)  # in _JOURNAL_COLUMNS order
    postings: list[tuple[Any, ...]] = field(default_factory=list)  # in _POSTING_COLUMNS order
    dirty_positions: set[BalanceKey] = field(default_factory=set)
    dirty_holds: dict[str, int] = field(default_factory=dict)  # hold id -> seq of last change
    accounts: list[dict[str, Any]] = field(default_factory=list)
    parties: list[dict[str, Any]] = field(default_factory=list)
    new_keys: list[dict[str, Any]] = field(default_factory=list)
    revoked: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    idempotency: list[dict[str, Any]] = field(default_factory=list)
    auction_changes: list[tuple[int, AuctionChange]] = field(default_factory=list)
    control_changes: list[tuple[int, str, Controls | RegistryControls]] = field(default_factory=list)
    claims: list[tuple[int, ForcedClaim, bool]] = field(default_factory=list)
    household_changes: list[tuple[int, HouseholdChange]] = field(default_factory=list)

    def add(
        self, view: DbView, record: SealedRecord, body: Any, effect: Effect, digest: bytes, stamp: str
    ) -> None:
        seq = record.seq
        self.journal.append(
            (
                seq,
                stamp,
                body.type,
                body.action if isinstance(body, TxBody) else None,
                record.core,
                record.hash,
                _prev_of(record),
                record.registry_sig,
                digest,
            )
        )
        if isinstance(body, TxBody):
            self.postings.extend(_posting_rows(seq, body.postings))
        self._apply_to_view(view, seq, effect, digest)

    def _apply_to_view(self, view: DbView, seq: int, effect: Effect, digest: bytes) -> None:
        view.digests[digest] = True
        for key, pos in effect.positions.items():
            view.positions[key] = pos
            self.dirty_positions.add(key)
        for hold_id, hold in effect.holds.items():
            view.holds[hold_id] = hold
            self.dirty_holds[hold_id] = seq
        if effect.account is not None:
            view.accounts[effect.account.id] = effect.account
            self.accounts.append(
                {
                    "id": effect.account.id,
                    "owner": effect.account.owner,
                    "kind": effect.account.kind.value,
                    "opened_seq": seq,
                }
            )
        if effect.rule_set is not None:
            view.rule_set = effect.rule_set
        if effect.auction is not None:
            commit_change(view.auctions, effect.auction)
            self.auction_changes.append((seq, effect.auction))
        if effect.controls is not None:
            view.registry_controls()  # read before the first change, which a later read would undo
            view.any_controls = True
            party, state = effect.controls
            if isinstance(state, RegistryControls):
                view.registry = state
            else:
                view.controls[party] = state
            self.control_changes.append((seq, party, state))
        if effect.pledge_loan is not None:
            view.pledge_loans[effect.pledge_loan[0]] = effect.pledge_loan[1]
        if effect.claim is not None:
            stored = effect.claim.pledge in view.stored_claims
            view.claims[effect.claim.pledge] = effect.claim
            view.stored_claims.add(effect.claim.pledge)
            self.claims.append((seq, effect.claim, not stored))
        if effect.household is not None:
            if effect.household.roster is not None:
                view.rosters[effect.household.roster.id] = effect.household.roster
            if effect.household.attribution is not None:
                view.attributions[effect.household.attribution.batch] = effect.household.attribution
            self.household_changes.append((seq, effect.household))
        if effect.party is not None:
            info = PartyInfo.of(effect.party.party, effect.party.role, effect.party.profile)
            view.parties[info.id] = info
            if info.role == "bureau" and info.jurisdiction is not None and view.bureaus is not None:
                view.bureaus.setdefault(info.jurisdiction, info.id)
            self.parties.append(
                {
                    "id": effect.party.party,
                    "role": effect.party.role,
                    "profile": canonical_bytes(effect.party.profile).decode(),
                    "registered_seq": seq,
                }
            )
        if effect.key is not None:
            self._key_event(view, seq, effect.key)

    def _key_event(self, view: DbView, seq: int, key: KeyInfo) -> None:
        is_new = view.keys.get(key.key_id) is None
        view.keys[key.key_id] = key
        if is_new:
            self.new_keys.append(
                {
                    "key_id": key.key_id,
                    "party": key.party,
                    "public_key": key.public_key,
                    "valid_from": format_utc(key.valid_from),
                    "revoked_at": None,
                    "registered_seq": seq,
                }
            )
        else:
            assert key.revoked_at is not None
            self.revoked.append({"b_key_id": key.key_id, "revoked_at": format_utc(key.revoked_at)})

    def flush(self, session: Session, view: DbView, head: Head) -> None:
        c = conn(session)
        # Parties, accounts and keys first: the journal rows below may refer to them.
        for tbl, rows in ((PA, self.parties), (A, self.accounts), (K, self.new_keys)):
            if rows:
                c.execute(_INSERT[tbl.name], rows)
        if self.revoked:
            c.execute(
                update(K)
                .where(K.c.key_id == bindparam("b_key_id"))
                .values(revoked_at=bindparam("revoked_at")),
                self.revoked,
            )
        updates, inserts = self._positions(view)
        pg = c.dialect.name == "postgresql"
        if pg:
            if not head.existed:  # genesis: the row ``_PG_HOT`` updates
                c.execute(insert(HD).values(id=1, **head.values()))
                head.existed = True
            c.exec_driver_sql(
                _PG_HOT,
                (
                    *_columns(self.journal, len(_JOURNAL_COLUMNS)),
                    *_columns(self.postings, len(_POSTING_COLUMNS)),
                    *_columns(
                        [tuple(row[c] for c in _IDEMPOTENCY_COLUMNS) for row in self.idempotency],
                        len(_IDEMPOTENCY_COLUMNS),
                    ),
                    *_columns(updates, len(_HOT_TYPES["balance"])),
                    *head.values().values(),
                ),
            )
        else:
            if self.journal:
                _executemany(c, "journal", self.journal)
            if self.postings:
                _executemany(c, "posting", self.postings)
            if updates:
                _executemany(c, "balance", updates)  # total, held, then the key
        if inserts:
            c.execute(_INSERT[B.name], inserts)
        self._flush_holds(c, view)
        if self.checkpoints:
            c.execute(_INSERT[CP.name], self.checkpoints)
        if self.idempotency and not pg:  # on PostgreSQL in ``_PG_HOT``
            c.execute(_INSERT[ID.name], self.idempotency)
        if self.auction_changes:
            write_changes(c, self.auction_changes)
        if self.control_changes:
            write_controls(c, self.control_changes)
        if self.claims:
            write_claims(c, self.claims)
        if self.household_changes:
            write_household_changes(c, self.household_changes)
        if not pg:
            values = head.values()
            if head.existed:
                c.execute(_UPDATE_HEAD, values)
            else:
                c.execute(insert(HD).values(id=1, **values))
                head.existed = True

    def _positions(self, view: DbView) -> tuple[list[tuple[Any, ...]], list[dict[str, Any]]]:
        """The dirty positions: updates of stored rows (total, held, then the key), and new rows."""
        updates: list[tuple[Any, ...]] = []
        inserts: list[dict[str, Any]] = []
        for key in self.dirty_positions:
            pos = view.positions[key]
            if key in view.stored_positions:
                updates.append((pos.total, pos.held, key[0], key[1], key[2]))
            else:
                info = view.accounts[key[0]]
                assert info is not None
                inserts.append(
                    {
                        "account": key[0],
                        "instrument": key[1],
                        "lot": key[2],
                        "total": pos.total,
                        "held": pos.held,
                        "floor_zero": not info.kind.may_be_negative,
                    }
                )
                view.stored_positions.add(key)
        return updates, inserts

    def _flush_holds(self, c: Connection, view: DbView) -> None:
        updates, inserts = [], []
        for hold_id, seq in self.dirty_holds.items():
            hold = view.holds[hold_id]
            assert hold is not None
            closed = None if hold.status == "open" else seq
            if hold_id in view.stored_holds:
                updates.append(
                    {"b_id": hold_id, "amount": hold.amount, "status": hold.status, "closed_seq": closed}
                )
            else:
                inserts.append(
                    {
                        "id": hold_id,
                        "account": hold.account,
                        "instrument": hold.instrument,
                        "lot": hold.lot_key,
                        "amount": hold.amount,
                        "reason": hold.reason,
                        "controller": hold.controller,
                        "status": hold.status,
                        "placed_seq": seq,
                        "closed_seq": closed,
                    }
                )
                view.stored_holds.add(hold_id)
        if updates:
            c.execute(
                update(H)
                .where(H.c.id == bindparam("b_id"))
                .values(
                    amount=bindparam("amount"), status=bindparam("status"), closed_seq=bindparam("closed_seq")
                ),
                updates,
            )
        if inserts:
            c.execute(_INSERT[H.name], inserts)

    def add_checkpoint(self, cp: Checkpoint) -> None:
        self.checkpoints.append(
            {
                "tree_size": cp.tree_size,
                "root": cp.root,
                "time": format_utc(cp.time),
                "key_id": cp.key_id,
                "signature": cp.signature,
            }
        )

    def add_idempotency(
        self, view: DbView, scope: str, key: str, digest: bytes, seq: int, response: dict[str, Any]
    ) -> None:
        text = json.dumps(response, sort_keys=True)
        view.idempotency[(scope, key)] = (digest, text)
        self.idempotency.append(
            {"scope": scope, "key": key, "request_digest": digest, "seq": seq, "response": text}
        )


class WarmView:
    """What one writer's last batch read and wrote (accounts, positions, holds, keys, parties,
    controls...), kept for its next batch while the journal's head is still where that batch left
    it, as (seq, hash): then no record was written since, by this process or another, and every
    table the view mirrors (written only with a record, in ``BatchWriter.flush``) holds what the
    view holds. Another head (another process's group, a workflow's records, a batch or group rolled
    back) and the next batch starts cold. Saves a batch the reads of its parties, keys, accounts and
    balances: a dozen round trips on PostgreSQL. Used by one writer at a time (the sequencer's turn).
    """

    def __init__(self, limit: int = 20_000) -> None:
        self.limit = limit  # entries kept at most (digests and idempotency answers are not kept)
        self._view: DbView | None = None
        self._at: tuple[int, bytes] | None = None

    def rule_set_at(self, next_seq: int, head_hash: bytes) -> int | None:
        """The rule set in force, when the head is where the kept view left it; else None."""
        if self._view is None or self._at != (next_seq, head_hash):
            self._view = self._at = None
            return None
        return self._view.rule_set

    def catch_up(self, c: Connection, next_seq: int, head_hash: bytes) -> None:
        """Bring the kept view to the head another process moved, when what it wrote since can be
        told apart: plain transfers and trades (``CAUGHT_UP_ACTIONS``) with no hold operation change
        nothing the view mirrors but balances, so their balances are dropped, to be read again, and
        the rest stays. Anything else, a gap in the chain from the kept head, or more than
        ``CATCH_UP_LIMIT`` records, and the view is left as it was: the next batch starts cold."""
        if self._view is None or self._at is None:
            return
        kept_seq, kept_hash = self._at
        if not kept_seq < next_seq <= kept_seq + CATCH_UP_LIMIT:
            return
        since = {"since": kept_seq, "until": next_seq}
        link = kept_hash
        for row in c.execute(_RECORDS_SINCE, since).all():  # read to the end: no statement left open
            if row.type != "tx" or row.action not in CAUGHT_UP_ACTIONS or bytes(row.prev) != link:
                return
            if orjson.loads(bytes(row.core))["body"].get("holds"):
                return
            link = bytes(row.hash)
        if link != head_hash:  # a record missing: the chain from the kept head does not reach it
            return
        view = self._view
        for account, instrument, lot in c.execute(_POSTED_SINCE, since):
            view.positions.pop((account, instrument, lot), None)
            view.stored_positions.discard((account, instrument, lot))
        self._at = (next_seq, head_hash)

    def take(self, session: Session, head: Head) -> DbView:
        """The kept view for this batch if the head has not moved, else a cold one."""
        view = self._view
        current = view is not None and self._at == (head.next_seq, bytes(head.hash))
        self._view = self._at = None  # handed out: kept again only by ``keep`` after the flush
        if view is None or not current:
            return DbView(session, rule_set=head.rule_set)
        view.session = session
        return view

    def keep(self, view: DbView, head: Head) -> None:
        view.digests.clear()
        view.idempotency.clear()
        size = len(view.accounts) + len(view.positions) + len(view.holds) + len(view.keys) + len(view.parties)
        if size <= self.limit:
            self._view, self._at = view, (head.next_seq, bytes(head.hash))

    def forget(self) -> None:
        self._view = self._at = None


def key_info(row: Any) -> KeyInfo:
    """A ``KEYS_WITH_CORE`` row as the rules see the key. Custody is read from the journal record
    that registered the key (its body's ``"custody": true``), the one source replay has too."""
    try:
        body = json.loads(_raw(row.registered_core))["body"]
    except (ValueError, KeyError, TypeError):  # a damaged row: replay names it, this read must not crash
        body = {}
    return KeyInfo(
        row.party,
        row.key_id,
        _raw(row.public_key),
        parse_utc(row.valid_from),
        parse_utc(row.revoked_at) if row.revoked_at else None,
        custody=body.get("type") == "key.register" and body.get("custody") is True,
    )


def _raw(value: Any) -> bytes:
    # bytes even if someone rewrote a BLOB as TEXT
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)


def _party_info(row: Any) -> PartyInfo:
    return PartyInfo.of(row.id, row.role, json.loads(row.profile))


def _prev_of(record: SealedRecord) -> bytes:
    # The core holds prev as hex; reading it back keeps one source of truth for the link.
    start = record.core.index(b'"prev":"') + 8
    return bytes.fromhex(record.core[start : start + 64].decode())


def _posting_rows(seq: int, postings: Sequence[Posting]) -> list[tuple[Any, ...]]:
    return [(seq, i, p.account, p.instrument, p.lot.key(), p.amount) for i, p in enumerate(postings)]
