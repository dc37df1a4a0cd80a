"""Rows of the blue-carbon workflow: projects, monitoring reports, batches and live serial blocks.
Dumb storage: the rules live in ``service`` and ``serials`` beside this module; the journal is the truth.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, String, Text
from sqlmodel import Field, SQLModel

from accounts import tables as _accounts_tables  # noqa: F401  (bc_project.owner refers to participant)

__all__ = ["BlueCarbonBatchRow", "BlueCarbonProjectRow", "MonitoringReportRow", "SerialBlockRow"]


def _bigint(*, primary_key: bool = False, unique: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(BigInteger, primary_key=primary_key, nullable=False, autoincrement=False, unique=unique)


class BlueCarbonProjectRow(SQLModel, table=True):
    """A mussel-farm project (贻贝养殖碳汇项目); ``bureau`` is the one that verifies its reports."""

    __tablename__ = "bc_project"
    project: str = Field(primary_key=True)
    name: str
    location: str
    division: str  # where the farm is (GB/T 2260), e.g. 330922 嵊泗县
    bureau: str = Field(index=True)  # party id of the nearest registered bureau covering ``division``
    jurisdiction: str  # that bureau's division: the lot jurisdiction of its credits
    area_mu: str  # decimal text
    households: int
    owner: str = Field(sa_column=Column(String, ForeignKey("participant.party"), nullable=False, index=True))
    methodology: str
    version: str
    registered_at: str  # the ledger's UTC text form


class MonitoringReportRow(SQLModel, table=True):
    """A monitoring report (监测报告) with its validated inputs and the methodology's full result."""

    __tablename__ = "bc_monitoring_report"
    id: str = Field(primary_key=True)
    project: str = Field(
        sa_column=Column(String, ForeignKey("bc_project.project"), nullable=False, index=True)
    )
    monitoring_start: str  # YYYY-MM-DD
    monitoring_end: str
    submitted_by: str
    submitted_at: str
    inputs_json: str = Field(sa_column=Column(Text, nullable=False))
    result_json: str = Field(sa_column=Column(Text, nullable=False))
    input_hash: str
    sink_kg_co2e: int = Field(sa_column=_bigint())
    status: str  # submitted | issued
    batch: str | None = None


class BlueCarbonBatchRow(SQLModel, table=True):
    """A vintage batch issued from one verified report, with its serial range."""

    __tablename__ = "bc_batch"
    batch: str = Field(primary_key=True)
    project: str = Field(
        sa_column=Column(String, ForeignKey("bc_project.project"), nullable=False, index=True)
    )
    report: str = Field(
        sa_column=Column(String, ForeignKey("bc_monitoring_report.id"), nullable=False, unique=True)
    )
    vintage: int
    jurisdiction: str
    serial_start: int = Field(sa_column=_bigint(unique=True))
    serial_end: int = Field(sa_column=_bigint(unique=True))
    issued_kg: int = Field(sa_column=_bigint())
    buffer_kg: int = Field(sa_column=_bigint())
    buffer_bps: int
    issued_seq: int = Field(sa_column=_bigint())


class SerialBlockRow(SQLModel, table=True):
    """A live serial block: serials ``start``..``end`` of ``batch`` held by ``account``."""

    __tablename__ = "serial_block"
    batch: str = Field(sa_column=Column(String, ForeignKey("bc_batch.batch"), primary_key=True))
    start: int = Field(sa_column=_bigint(primary_key=True))
    end: int = Field(sa_column=_bigint())
    account: str = Field(index=True)
