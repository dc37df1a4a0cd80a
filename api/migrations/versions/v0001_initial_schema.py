"""Initial schema: every table as `create_schema` built it before migrations, and the
append-only triggers on the journal, its postings and checkpoints. Frozen: never edit it.

Written out by hand (reviewed against autogenerate on SQLite and PostgreSQL), not read from the
live models, so that it keeps describing the schema of this revision when the models move on.
Strings are plain ``sa.String()`` (what SQLModel's AutoString is on both engines).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.migrations import forward_only
from ledger.db import append_only_statements

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables whose rows are never updated or deleted (rule 4, promise P5).
APPEND_ONLY = ("journal", "posting", "checkpoint")


def upgrade() -> None:
    # ledger.tables: the journal, its postings and checkpoints, and the state replay rebuilds
    op.create_table(
        "journal",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("time", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=True),
        sa.Column("core", sa.LargeBinary(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.Column("prev", sa.LargeBinary(), nullable=False),
        sa.Column("registry_sig", sa.LargeBinary(), nullable=False),
        sa.Column("body_digest", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("hash"),
        sa.UniqueConstraint("prev"),
        sa.UniqueConstraint("body_digest"),
    )
    op.create_index("ix_journal_time", "journal", ["time"])
    op.create_table(
        "posting",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("instrument", sa.String(), nullable=False),
        sa.Column("lot", sa.String(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", "idx"),
    )
    op.create_index("ix_posting_account_seq", "posting", ["account", "seq"])
    op.create_table(
        "checkpoint",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("time", sa.String(), nullable=False),
        sa.Column("key_id", sa.String(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size"),
    )
    op.create_table(
        "journal_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("next_seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.Column("time", sa.String(), nullable=True),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "balance",
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("instrument", sa.String(), nullable=False),
        sa.Column("lot", sa.String(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("held", sa.BigInteger(), nullable=False),
        sa.Column("floor_zero", sa.Boolean(), nullable=False),
        sa.CheckConstraint("held >= 0", name="ck_balance_held_nonnegative"),
        sa.CheckConstraint("NOT floor_zero OR (total >= 0 AND held <= total)", name="ck_balance_floor"),
        sa.PrimaryKeyConstraint("account", "instrument", "lot"),
    )
    op.create_table(
        "hold",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("instrument", sa.String(), nullable=False),
        sa.Column("lot", sa.String(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("controller", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("placed_seq", sa.BigInteger(), nullable=False),
        sa.Column("closed_seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_hold_account", "hold", ["account"])
    op.create_table(
        "account",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("opened_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_account_owner", "account", ["owner"])
    op.create_table(
        "party",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("profile", sa.String(), nullable=False),
        sa.Column("registered_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "party_key",
        sa.Column("key_id", sa.String(), nullable=False),
        sa.Column("party", sa.String(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("valid_from", sa.String(), nullable=False),
        sa.Column("revoked_at", sa.String(), nullable=True),
        sa.Column("registered_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_index("ix_party_key_party", "party_key", ["party"])
    op.create_table(
        "idempotency",
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("request_digest", sa.LargeBinary(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("response", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
    # accounts.tables: participants' profiles and hashed API credentials
    op.create_table(
        "participant",
        sa.Column("party", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("jurisdiction", sa.String(), nullable=True),
        sa.Column("credit_code", sa.String(), nullable=True),
        sa.Column("permit_number", sa.String(), nullable=True),
        sa.Column("branch", sa.String(), nullable=True),
        sa.Column("registered_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("party"),
        sa.UniqueConstraint("role", "credit_code", name="uq_participant_role_credit_code"),
        sa.ForeignKeyConstraint(["party"], ["party.id"]),
    )
    op.create_index("ix_participant_credit_code", "participant", ["credit_code"])
    op.create_index("ix_participant_jurisdiction", "participant", ["jurisdiction"])
    op.create_index("ix_participant_role", "participant", ["role"])
    op.create_table(
        "api_credential",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("party", sa.String(), nullable=False),
        sa.Column("label", sa.String(), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(), nullable=False),
        sa.Column("scrypt_n", sa.Integer(), nullable=False),
        sa.Column("scrypt_r", sa.Integer(), nullable=False),
        sa.Column("scrypt_p", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(), nullable=False),
        sa.Column("revoked_at", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["party"], ["participant.party"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_api_credential_party", "api_credential", ["party"])
    # market.issuance_tables: blue-carbon projects, reports, batches and serial blocks
    op.create_table(
        "bc_project",
        sa.Column("project", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("location", sa.String(), nullable=False),
        sa.Column("division", sa.String(), nullable=False),
        sa.Column("bureau", sa.String(), nullable=False),
        sa.Column("jurisdiction", sa.String(), nullable=False),
        sa.Column("area_mu", sa.String(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("methodology", sa.String(), nullable=False),
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("registered_at", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["owner"], ["participant.party"]),
        sa.PrimaryKeyConstraint("project"),
    )
    op.create_index("ix_bc_project_bureau", "bc_project", ["bureau"])
    op.create_index("ix_bc_project_owner", "bc_project", ["owner"])
    op.create_table(
        "bc_monitoring_report",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("project", sa.String(), nullable=False),
        sa.Column("monitoring_start", sa.String(), nullable=False),
        sa.Column("monitoring_end", sa.String(), nullable=False),
        sa.Column("submitted_by", sa.String(), nullable=False),
        sa.Column("submitted_at", sa.String(), nullable=False),
        sa.Column("inputs_json", sa.Text(), nullable=False),
        sa.Column("result_json", sa.Text(), nullable=False),
        sa.Column("input_hash", sa.String(), nullable=False),
        sa.Column("sink_kg_co2e", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("batch", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["project"], ["bc_project.project"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_bc_monitoring_report_project", "bc_monitoring_report", ["project"])
    op.create_table(
        "bc_batch",
        sa.Column("batch", sa.String(), nullable=False),
        sa.Column("project", sa.String(), nullable=False),
        sa.Column("report", sa.String(), nullable=False),
        sa.Column("vintage", sa.Integer(), nullable=False),
        sa.Column("jurisdiction", sa.String(), nullable=False),
        sa.Column("serial_start", sa.BigInteger(), nullable=False),
        sa.Column("serial_end", sa.BigInteger(), nullable=False),
        sa.Column("issued_kg", sa.BigInteger(), nullable=False),
        sa.Column("buffer_kg", sa.BigInteger(), nullable=False),
        sa.Column("buffer_bps", sa.Integer(), nullable=False),
        sa.Column("issued_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("batch"),
        sa.ForeignKeyConstraint(["project"], ["bc_project.project"]),
        sa.UniqueConstraint("report"),
        sa.ForeignKeyConstraint(["report"], ["bc_monitoring_report.id"]),
        sa.UniqueConstraint("serial_start"),
        sa.UniqueConstraint("serial_end"),
    )
    op.create_index("ix_bc_batch_project", "bc_batch", ["project"])
    op.create_table(
        "serial_block",
        sa.Column("batch", sa.String(), nullable=False),
        sa.Column("start", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("end", sa.BigInteger(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["batch"], ["bc_batch.batch"]),
        sa.PrimaryKeyConstraint("batch", "start"),
    )
    op.create_index("ix_serial_block_account", "serial_block", ["account"])
    # market.auction_tables: auctions, project needs, bids, allocations and awards
    op.create_table(
        "auction",
        sa.Column("auction_id", sa.String(), nullable=False),
        sa.Column("bureau", sa.String(), nullable=False),
        sa.Column("instrument", sa.String(), nullable=False),
        sa.Column("jurisdiction", sa.String(), nullable=False),
        sa.Column("valid_until", sa.String(), nullable=False),
        sa.Column("quantity_kg", sa.BigInteger(), nullable=False),
        sa.Column("reserve_price_fen_per_t", sa.BigInteger(), nullable=False),
        sa.Column("design", sa.String(), nullable=False),
        sa.Column("opens_at", sa.String(), nullable=False),
        sa.Column("closes_at", sa.String(), nullable=False),
        sa.Column("deposit_kind", sa.String(), nullable=False),
        sa.Column("deposit_amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("deposit_ratio_bp", sa.Integer(), nullable=True),
        sa.Column("deposit_years", sa.Integer(), nullable=True),
        sa.Column("base_price_fen_per_t", sa.BigInteger(), nullable=True),
        sa.Column("max_bids_per_bidder", sa.Integer(), nullable=True),
        sa.Column("start_price_fen_per_t", sa.BigInteger(), nullable=True),
        sa.Column("increment_fen_per_t", sa.BigInteger(), nullable=True),
        sa.Column("extension_us", sa.BigInteger(), nullable=False),
        sa.Column("payment_window_us", sa.BigInteger(), nullable=False),
        sa.Column("hold", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("opened_seq", sa.BigInteger(), nullable=False),
        sa.Column("result_seq", sa.BigInteger(), nullable=True),
        sa.Column("closed_at", sa.String(), nullable=True),
        sa.Column("payment_due", sa.String(), nullable=True),
        sa.Column("clearing_price_fen_per_t", sa.BigInteger(), nullable=True),
        sa.Column("winning_share", sa.Integer(), nullable=True),
        sa.Column("sold_kg", sa.BigInteger(), nullable=True),
        sa.Column("unsold_kg", sa.BigInteger(), nullable=True),
        sa.Column("revenue_fen", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("auction_id"),
    )
    op.create_index("ix_auction_bureau", "auction", ["bureau"])
    op.create_index("ix_auction_jurisdiction", "auction", ["jurisdiction"])
    op.create_table(
        "auction_project_need",
        sa.Column("need_id", sa.Integer(), nullable=False),
        sa.Column("enterprise", sa.String(), nullable=False),
        sa.Column("bureau", sa.String(), nullable=False),
        sa.Column("instrument", sa.String(), nullable=False),
        sa.Column("jurisdiction", sa.String(), nullable=False),
        sa.Column("approved_kg", sa.BigInteger(), nullable=False),
        sa.Column("project", sa.String(), nullable=False),
        sa.Column("approved_at", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("need_id"),
    )
    op.create_index("ix_auction_project_need_enterprise", "auction_project_need", ["enterprise"])
    op.create_table(
        "auction_bid",
        sa.Column("auction_id", sa.String(), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("bidder", sa.String(), nullable=False),
        sa.Column("price_fen_per_t", sa.BigInteger(), nullable=False),
        sa.Column("quantity_kg", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.String(), nullable=False),
        sa.Column("deposit_fen", sa.BigInteger(), nullable=False),
        sa.Column("deposit_hold", sa.String(), nullable=True),
        sa.Column("deposit_seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["auction_id"], ["auction.auction_id"]),
        sa.PrimaryKeyConstraint("auction_id", "seq"),
    )
    op.create_index("ix_auction_bid_bidder", "auction_bid", ["bidder"])
    op.create_table(
        "auction_allocation",
        sa.Column("auction_id", sa.String(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("bidder", sa.String(), nullable=False),
        sa.Column("quantity_kg", sa.BigInteger(), nullable=False),
        sa.Column("price_fen_per_t", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("bid_seqs", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["auction_id"], ["auction.auction_id"]),
        sa.PrimaryKeyConstraint("auction_id", "idx"),
    )
    op.create_table(
        "auction_award",
        sa.Column("auction_id", sa.String(), nullable=False),
        sa.Column("bidder", sa.String(), nullable=False),
        sa.Column("quantity_kg", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("deposit_fen", sa.BigInteger(), nullable=False),
        sa.Column("hold", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("done_seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["auction_id"], ["auction.auction_id"]),
        sa.PrimaryKeyConstraint("auction_id", "bidder"),
    )
    # market.collateral_tables: the project-demand list, cross-city transfers and pledges
    op.create_table(
        "crosscity_demand",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("buyer", sa.String(), nullable=False),
        sa.Column("jurisdiction", sa.String(), nullable=False),
        sa.Column("instrument", sa.String(), nullable=False),
        sa.Column("quantity_kg", sa.BigInteger(), nullable=False),
        sa.Column("filled_kg", sa.BigInteger(), nullable=False),
        sa.Column("max_price_fen_per_tonne", sa.BigInteger(), nullable=False),
        sa.Column("valid_until", sa.String(), nullable=False),
        sa.Column("project", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("posted_at", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_crosscity_demand_buyer", "crosscity_demand", ["buyer"])
    op.create_index("ix_crosscity_demand_jurisdiction", "crosscity_demand", ["jurisdiction"])
    op.create_index("ix_crosscity_demand_status", "crosscity_demand", ["status"])
    op.create_table(
        "crosscity_transfer",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("demand_id", sa.String(), nullable=False),
        sa.Column("seller", sa.String(), nullable=False),
        sa.Column("buyer", sa.String(), nullable=False),
        sa.Column("from_account", sa.String(), nullable=False),
        sa.Column("instrument", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("destination", sa.String(), nullable=False),
        sa.Column("valid_until", sa.String(), nullable=False),
        sa.Column("quantity_kg", sa.BigInteger(), nullable=False),
        sa.Column("ratio_bp", sa.Integer(), nullable=False),
        sa.Column("price_fen_per_tonne", sa.BigInteger(), nullable=False),
        sa.Column("fee_bp", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("signatures", sa.String(), nullable=False),
        sa.Column("created_at", sa.String(), nullable=False),
        sa.Column("hold_seq", sa.BigInteger(), nullable=True),
        sa.Column("settled_seq", sa.BigInteger(), nullable=True),
        sa.Column("closed_seq", sa.BigInteger(), nullable=True),
        sa.Column("closed_by", sa.String(), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_crosscity_transfer_buyer", "crosscity_transfer", ["buyer"])
    op.create_index("ix_crosscity_transfer_demand_id", "crosscity_transfer", ["demand_id"])
    op.create_index("ix_crosscity_transfer_destination", "crosscity_transfer", ["destination"])
    op.create_index("ix_crosscity_transfer_expires_at", "crosscity_transfer", ["expires_at"])
    op.create_index("ix_crosscity_transfer_seller", "crosscity_transfer", ["seller"])
    op.create_index("ix_crosscity_transfer_source", "crosscity_transfer", ["source"])
    op.create_index("ix_crosscity_transfer_status", "crosscity_transfer", ["status"])
    op.create_table(
        "pledge",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("enterprise", sa.String(), nullable=False),
        sa.Column("bank", sa.String(), nullable=False),
        sa.Column("bureau", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("instrument", sa.String(), nullable=False),
        sa.Column("lot", sa.String(), nullable=False),
        sa.Column("applied_kg", sa.BigInteger(), nullable=False),
        sa.Column("approved_kg", sa.BigInteger(), nullable=True),
        sa.Column("certificate_no", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("signatures", sa.String(), nullable=False),
        sa.Column("applied_at", sa.String(), nullable=False),
        sa.Column("loan_id", sa.String(), nullable=True),
        sa.Column("loan_amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("rate_bp", sa.Integer(), nullable=True),
        sa.Column("term_months", sa.Integer(), nullable=True),
        sa.Column("loan_start", sa.String(), nullable=True),
        sa.Column("price_fen_per_tonne", sa.BigInteger(), nullable=True),
        sa.Column("price_source", sa.String(), nullable=True),
        sa.Column("appraised_fen", sa.BigInteger(), nullable=True),
        sa.Column("max_ltv_bp", sa.Integer(), nullable=True),
        sa.Column("held_kg", sa.BigInteger(), nullable=False),
        sa.Column("released_kg", sa.BigInteger(), nullable=False),
        sa.Column("enforced_kg", sa.BigInteger(), nullable=False),
        sa.Column("settlements", sa.Integer(), nullable=False),
        sa.Column("record_seq", sa.BigInteger(), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=True),
        sa.Column("claim_fen", sa.BigInteger(), nullable=True),
        sa.Column("closed_by", sa.String(), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pledge_account", "pledge", ["account"])
    op.create_index("ix_pledge_bank", "pledge", ["bank"])
    op.create_index("ix_pledge_bureau", "pledge", ["bureau"])
    op.create_index("ix_pledge_enterprise", "pledge", ["enterprise"])
    op.create_index("ix_pledge_status", "pledge", ["status"])

    # The same trigger DDL `create_schema` runs, for the tables this revision made append-only.
    for statement in append_only_statements(op.get_context().dialect.name, APPEND_ONLY):
        op.execute(statement)


def downgrade() -> None:
    forward_only(revision)
