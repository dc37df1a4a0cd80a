"""Request and response models of the blue-carbon routes (贻贝养殖碳汇): projects, monitoring reports
with the methodology's every figure (exact decimals as text), issuance with serials and the buffer
pool, transfer, retirement, serial blocks, and the methodologies themselves."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from api.schemas import StrictIn
from api.schemas.pledges import I_JSON_MAX, SafeInt
from market.bluecarbon.serials import SerialBlock
from market.bluecarbon.service import CreditMove, Issuance, MonitoringReport, ProjectSpec, project_credit
from market.bluecarbon.tables import BlueCarbonProjectRow
from methodologies.base import Methodology

__all__ = [
    "CreditMoveOut",
    "IssuanceOut",
    "IssueIn",
    "MethodologyOut",
    "ProjectIn",
    "ProjectOut",
    "ReportIn",
    "ReportOut",
    "RetireIn",
    "SerialBlockOut",
    "TransferCreditsIn",
]

_TONNES = "whole tonnes CO2e: one serial per tonne"


def _check_exact(value: Any, path: str) -> None:
    if isinstance(value, float):
        raise ValueError(f'{path}: give decimals as text (e.g. "22000.5"), never as a float')
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > I_JSON_MAX:
        raise ValueError(f"{path}: the integer is too large; give it as text")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_exact(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_exact(item, f"{path}[{i}]")


class ProjectIn(StrictIn):
    """A credit project owned by the caller (a cooperative or an enterprise): a mussel farm by default;
    its methodology decides the credit it is issued in (``bamboo-stock-change``: bamboo carbon, BBC)."""

    project: str = Field(max_length=48, description="1-48 letters, digits and inner hyphens")
    name: str = Field(max_length=200)
    location: str = Field(max_length=200)
    area_mu: str = Field(max_length=20, description='farm area in mu (亩) as decimal text, e.g. "22000"')
    households: SafeInt = Field(description="farming households in the project")
    methodology: str = Field(default="hyt0305-bivalve", max_length=64)
    version: str = Field(default="1.0", max_length=16)
    division: str | None = Field(
        default=None, max_length=6, description="where the farm lies; default the owner's jurisdiction"
    )

    def spec(self) -> ProjectSpec:
        """The validated spec (``InvalidInput`` names the field; an unknown methodology is refused)."""
        return ProjectSpec(
            project=self.project,
            name=self.name,
            location=self.location,
            area_mu=self.area_mu,  # type: ignore[arg-type]  # ProjectSpec parses decimal text exactly
            households=self.households,
            methodology=self.methodology,
            version=self.version,
            division=self.division,
        )


class ProjectOut(BaseModel):
    project: str
    name: str
    location: str
    division: str
    bureau: str = Field(description="the bureau that verifies its reports and issues its credits")
    jurisdiction: str = Field(description="the lot jurisdiction of its credits")
    area_mu: str
    households: int
    owner: str
    methodology: str
    version: str
    registered_at: str
    instrument: str = Field(
        description="the serialized credit its methodology issues: BC (蓝碳), BBC (竹林碳汇)"
    )

    @classmethod
    def of(cls, row: BlueCarbonProjectRow) -> ProjectOut:
        return cls(
            project=row.project,
            name=row.name,
            location=row.location,
            division=row.division,
            bureau=row.bureau,
            jurisdiction=row.jurisdiction,
            area_mu=row.area_mu,
            households=row.households,
            owner=row.owner,
            methodology=row.methodology,
            version=row.version,
            registered_at=row.registered_at,
            instrument=project_credit(row),
        )


class ReportIn(StrictIn):
    """Monitoring data (监测数据) for one period, as the project's methodology defines them (see
    ``GET /v1/methodologies/{id}``): decimals as text or integers, never floats."""

    data: dict[str, Any] = Field(
        description="for a mussel farm: project_id, monitoring_start, monitoring_end, farm_area_mu, "
        "harvested_wet_kg, species; for a bamboo stand: see the methodology's input_schema"
    )

    @field_validator("data")
    @classmethod
    def _exact_numbers(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Numbers are decimal text or integers JSON carries exactly: a float is refused here, naming
        where it is, as the methodology would refuse it (and no float reaches the canonical digest)."""
        _check_exact(data, "data")
        return data


class ReportOut(BaseModel):
    """A stored report with the methodology's result: every parameter (with its source) and every
    intermediate step, exact decimals as text; ``sink_kg_co2e`` is the sink rounded down to the kg."""

    id: str
    project: str
    monitoring_start: str
    monitoring_end: str
    sink_kg_co2e: int
    sink_t_co2e: str = Field(description="exact decimal text")
    input_hash: str
    status: str = Field(description="submitted, or issued once a bureau verified it")
    batch: str | None
    result: dict[str, Any]

    @classmethod
    def of(cls, r: MonitoringReport) -> ReportOut:
        return cls(
            id=r.id,
            project=r.project,
            monitoring_start=r.monitoring_start.isoformat(),
            monitoring_end=r.monitoring_end.isoformat(),
            sink_kg_co2e=r.sink_kg_co2e,
            sink_t_co2e=str(r.result.get("sink_t_co2e", "")),
            input_hash=r.input_hash,
            status=r.status,
            batch=r.batch,
            result=r.result,
        )


class IssueIn(StrictIn):
    """Verification and issuance (核证签发) by the project's bureau."""

    buffer_bps: SafeInt = Field(default=1_000, description="share set aside in the buffer pool, basis points")


class IssuanceOut(BaseModel):
    """The batch issued: its record, lot, serial range and the split between buffer pool and owner."""

    seq: int
    hash: str
    batch: str
    lot: dict[str, Any]
    serial_start: int
    serial_end: int
    issued_t: int
    buffer_t: int
    owner_t: int
    sink_kg_co2e: int = Field(description="the methodology's sink, recomputed at issuance")

    @classmethod
    def of(cls, i: Issuance) -> IssuanceOut:
        return cls(
            seq=i.receipt.seq,
            hash=i.receipt.hash,
            batch=i.batch,
            lot=i.lot.to_json(),
            serial_start=i.serials.start,
            serial_end=i.serials.end,
            issued_t=i.split.issued_t,
            buffer_t=i.split.buffer_t,
            owner_t=i.split.owner_t,
            sink_kg_co2e=int(i.meta["sink_kg_co2e"]),
        )


class TransferCreditsIn(StrictIn):
    batch: str = Field(max_length=128)
    tonnes: SafeInt = Field(description=_TONNES)
    to_account: str = Field(max_length=256, description="a holding account, e.g. ent:<code>.holding")


class RetireIn(StrictIn):
    """Retirement (注销): the serials go to the caller's retirement account and never move again."""

    batch: str = Field(max_length=128)
    tonnes: SafeInt = Field(description=_TONNES)
    beneficiary: str = Field(max_length=200)
    reason: str = Field(max_length=200)


class CreditMoveOut(BaseModel):
    """A transfer or retirement recorded, with the serial ranges that moved (lowest first)."""

    seq: int
    hash: str
    batch: str
    tonnes: int
    serials: list[list[int]] = Field(description="[start, end] ranges, both included")

    @classmethod
    def of(cls, m: CreditMove) -> CreditMoveOut:
        return cls(
            seq=m.receipt.seq,
            hash=m.receipt.hash,
            batch=m.batch,
            tonnes=m.tonnes,
            serials=[r.to_json() for r in m.serials],
        )


class SerialBlockOut(BaseModel):
    batch: str
    start: int
    end: int
    tonnes: int

    @classmethod
    def of(cls, b: SerialBlock) -> SerialBlockOut:
        return cls(batch=b.batch, start=b.start, end=b.end, tonnes=b.tonnes)


class MethodologyOut(BaseModel):
    """A versioned methodology (碳汇计量方法): what it computes, and the JSON Schema of its inputs."""

    id: str
    version: str
    title: str
    description: str
    input_schema: dict[str, Any]
    instrument: str = Field(description="the serialized credit it issues")

    @classmethod
    def of(cls, m: Methodology[Any]) -> MethodologyOut:
        doc = (type(m).__doc__ or "").strip()
        title, _, rest = doc.partition("\n")
        return cls(
            id=m.id,
            version=m.version,
            title=title.strip(),
            description=" ".join(rest.split()),
            input_schema=m.input_model.model_json_schema(),
            instrument=m.instrument,
        )
