"""The ledger's tables. Rows are dumb storage: every rule lives in ``rules`` and ``model``.

Amounts are BIGINT minor units in both engines (SQLite's NUMERIC would be floating point);
instants are the journal's own UTC text, which sorts in time order.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, LargeBinary, text
from sqlmodel import Field, SQLModel

__all__ = [
    "CONTROL_RECORDS",
    "AccountRow",
    "AuctionBookBidRow",
    "AuctionBookRow",
    "BalanceRow",
    "CheckpointRow",
    "ControlsRow",
    "HeadRow",
    "HoldRow",
    "IdempotencyRow",
    "JournalRow",
    "KeyRow",
    "PartyRow",
    "PledgeClaimRow",
    "PostingRow",
]


def _bigint(*, primary_key: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(BigInteger, primary_key=primary_key, nullable=False, autoincrement=False)


def _blob(*, unique: bool = False, nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(LargeBinary, unique=unique, nullable=nullable)


CONTROL_RECORDS = "action IN ('controls.set', 'trust.add', 'trust.remove', 'registry.controls')"
# The actions ``ledger.records`` reads back: blue carbon issued, retired and sold (the public registry's
# pages, a cooperative's sales), a few among the journal's transfers.
READ_BACK_ACTIONS = ("bc.issue", "bc.retire", "bc.sale")
READ_BACK_RECORDS = "action IN (" + ", ".join(f"'{a}'" for a in READ_BACK_ACTIONS) + ")"


class JournalRow(SQLModel, table=True):
    """One committed record. Append-only: triggers refuse UPDATE and DELETE."""

    __tablename__ = "journal"
    # The few ``rules.adopt`` records, found without a scan; partial, so appends pay almost nothing.
    __table_args__ = (
        Index(
            "ix_journal_rules_adopt",
            "seq",
            sqlite_where=text("type = 'rules.adopt'"),
            postgresql_where=text("type = 'rules.adopt'"),
        ),
        # Control records (ledger.controls): whether there are any decides if a batch reads controls.
        Index(
            "ix_journal_controls",
            "seq",
            sqlite_where=text(CONTROL_RECORDS),
            postgresql_where=text(CONTROL_RECORDS),
        ),
        # The records ``ledger.records`` reads back, newest first, without a scan of every transfer;
        # partial: an index over all actions cost 8% of SQLite's transfers at 50 clients.
        Index(
            "ix_journal_read_back",
            "seq",
            sqlite_where=text(READ_BACK_RECORDS),
            postgresql_where=text(READ_BACK_RECORDS),
        ),
    )
    seq: int = Field(sa_column=_bigint(primary_key=True))
    time: str = Field(index=True)
    type: str
    action: str | None = None
    core: bytes = Field(sa_column=_blob())
    # Not indexed: the chain guard (ledger.db.chain_guard_statements) refuses a record whose prev is
    # not its predecessor's hash, so no two records share a prev (a fork) nor, but by a SHA-256
    # collision, a hash; nothing reads a record by either.
    hash: bytes = Field(sa_column=_blob())
    prev: bytes = Field(sa_column=_blob())
    registry_sig: bytes = Field(sa_column=_blob())
    body_digest: bytes = Field(sa_column=_blob(unique=True))  # a signed body applies once


class PostingRow(SQLModel, table=True):
    __tablename__ = "posting"
    __table_args__ = (Index("ix_posting_account_seq", "account", "seq"),)
    seq: int = Field(sa_column=_bigint(primary_key=True))
    idx: int = Field(primary_key=True)
    account: str
    instrument: str
    lot: str
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))


class BalanceRow(SQLModel, table=True):
    """Live position per (account, instrument, lot); ``floor_zero`` copies the account rule."""

    __tablename__ = "balance"
    __table_args__ = (
        CheckConstraint("held >= 0", name="ck_balance_held_nonnegative"),
        CheckConstraint("NOT floor_zero OR (total >= 0 AND held <= total)", name="ck_balance_floor"),
    )
    account: str = Field(primary_key=True)
    instrument: str = Field(primary_key=True)
    lot: str = Field(primary_key=True)
    total: int = Field(sa_column=Column(BigInteger, nullable=False))
    held: int = Field(sa_column=Column(BigInteger, nullable=False))
    floor_zero: bool


# The holds still open, by when they were placed: what the federation coordinator must complete or
# void (ledger.federation_store), without reading every hold ever closed. Queries name this text.
OPEN_HOLDS = "status = 'open'"


class HoldRow(SQLModel, table=True):
    __tablename__ = "hold"
    __table_args__ = (
        Index("ix_hold_open", "placed_seq", sqlite_where=text(OPEN_HOLDS), postgresql_where=text(OPEN_HOLDS)),
    )
    id: str = Field(primary_key=True)
    account: str = Field(index=True)
    instrument: str
    lot: str
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    reason: str
    controller: str = Field(index=True)  # a bank's or a bureau's account history (ledger.history)
    status: str
    placed_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    closed_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class AccountRow(SQLModel, table=True):
    __tablename__ = "account"
    id: str = Field(primary_key=True)
    owner: str = Field(index=True)
    kind: str
    opened_seq: int = Field(sa_column=Column(BigInteger, nullable=False))


class PartyRow(SQLModel, table=True):
    __tablename__ = "party"
    id: str = Field(primary_key=True)
    role: str
    profile: str  # canonical JSON
    registered_seq: int = Field(sa_column=Column(BigInteger, nullable=False))


class KeyRow(SQLModel, table=True):
    __tablename__ = "party_key"
    key_id: str = Field(primary_key=True)
    party: str = Field(index=True)
    public_key: bytes = Field(sa_column=_blob())
    valid_from: str
    revoked_at: str | None = None
    registered_seq: int = Field(sa_column=Column(BigInteger, nullable=False))


class HeadRow(SQLModel, table=True):
    """The sequencer: one row, locked by every writer; the chain's tip and Merkle frontier."""

    __tablename__ = "journal_head"
    id: int = Field(primary_key=True)
    next_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    hash: bytes = Field(sa_column=_blob())
    time: str | None = None
    frontier: bytes = Field(sa_column=_blob())  # 32-byte nodes, largest subtree first


class CheckpointRow(SQLModel, table=True):
    __tablename__ = "checkpoint"
    tree_size: int = Field(sa_column=_bigint(primary_key=True))
    root: bytes = Field(sa_column=_blob())
    time: str
    key_id: str
    signature: bytes = Field(sa_column=_blob())


class IdempotencyRow(SQLModel, table=True):
    """Applied-at-most-once (``ledger.idempotency``, the one store): the key, the digest of what it
    carried, and the answer given; for a signed instruction, also the record it answered with."""

    __tablename__ = "idempotency"
    scope: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    request_digest: bytes = Field(sa_column=_blob())
    seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    response: str


class AuctionBookRow(SQLModel, table=True):
    """An auction the journal opened under rule set 2 (``ledger.auction_rules``): its terms as the open
    record states them (canonical JSON), the bureau and the hold on its reserve, and whether it is open."""

    __tablename__ = "ledger_auction"
    auction_id: str = Field(primary_key=True)
    bureau: str
    hold: str
    terms: str
    open: bool
    opened_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    pledge: str | None = None  # a forced auction (ledger.forced_sale): the defaulted pledge it sells
    dues: str | None = None  # once closed: each winner's amount due in fen, canonical JSON {bidder: fen}


class AuctionBookBidRow(SQLModel, table=True):
    """A bid record of such an auction: ``seq`` its arrival number in the auction, ``record_seq`` its
    journal record. Sealed designs keep only the commitment; ascending bids keep their terms."""

    __tablename__ = "ledger_auction_bid"
    auction_id: str = Field(primary_key=True)
    seq: int = Field(sa_column=_bigint(primary_key=True))
    record_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    bidder: str
    at: str
    need_kg: int = Field(sa_column=Column(BigInteger, nullable=False))
    deposit_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    deposit_hold: str | None = None
    commitment: str | None = None
    salt_held: bool
    price_fen_per_t: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    quantity_kg: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class ControlsRow(SQLModel, table=True):
    """A party's controls as its latest control record left them (``ledger.controls``, canonical JSON);
    the row of ``registry`` holds the registry's delay and limit. Rebuilt by replay from the journal."""

    __tablename__ = "ledger_controls"
    party: str = Field(primary_key=True)
    state: str
    changed_seq: int = Field(sa_column=Column(BigInteger, nullable=False))


class PledgeClaimRow(SQLModel, table=True):
    """A defaulted pledge's claim in forced sale (``ledger.forced_sale``): fixed by its first forced
    auction, ``recovered_fen`` raised by each forced settlement; replay rebuilds it from the journal."""

    __tablename__ = "ledger_pledge_claim"
    pledge: str = Field(primary_key=True)
    bank: str
    enterprise: str
    principal_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    interest_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    recovered_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    opened_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    changed_seq: int = Field(sa_column=Column(BigInteger, nullable=False))


class HouseholdFactRow(SQLModel, table=True):
    """Where the journal states a household fact the rules read (``ledger.household_rules``): ``key`` is
    ``roster:<id>`` (a confirmed roster) or ``batch:<batch>`` (an issuance's attribution), ``seq`` the
    record that states it. The fact itself is read back from that record, the one source replay has."""

    __tablename__ = "ledger_household"
    key: str = Field(primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
