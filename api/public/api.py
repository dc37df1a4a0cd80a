"""The public registry as JSON (/v1/public/...), without a login: read-only, cached, rate-limited per
address, each answer with an ETag (304 when unchanged) and a public Cache-Control."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, TypeAdapter

from api.public.cache import DEFAULT_TTL_S, cache_of, conditional
from api.public.reads import cap_row, guard, public_data
from api.schemas import ErrorOut
from api.schemas.public import (
    PublicAuctionOut,
    PublicBatchOut,
    PublicCapOut,
    PublicProjectOut,
    PublicRetirementOut,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/public", tags=["public registry"], dependencies=[Depends(guard)])
RESPONSES: dict[int | str, dict[str, Any]] = {
    304: {"description": "not modified: the ETag given in If-None-Match is still current"},
    429: {
        "model": ErrorOut,
        "description": "too many requests from this address (`rate_limited`, Retry-After)",
    },
}
MAX_AGE_S = int(DEFAULT_TTL_S)


def _answer(request: Request, kind: str, model: type[BaseModel]) -> Response:
    def encode() -> bytes:
        rows = public_data(request, kind)
        if kind == "caps":
            rows = [cap_row(p) for p in rows]
        adapter: TypeAdapter[list[Any]] = TypeAdapter(list[model])  # type: ignore[valid-type]
        return adapter.dump_json(adapter.validate_python(rows, from_attributes=True))

    body = cache_of(request).get(("json", kind), encode)
    return conditional(request, body, "application/json", MAX_AGE_S)


@router.get("/projects", response_model=list[PublicProjectOut], responses=RESPONSES)
def public_projects(request: Request) -> Response:
    """Blue-carbon projects (贻贝养殖碳汇项目): where, how large, who owns and who verifies them."""
    return _answer(request, "projects", PublicProjectOut)


@router.get("/issuances", response_model=list[PublicBatchOut], responses=RESPONSES)
def public_issuances(request: Request) -> Response:
    """Blue-carbon batches issued, by serial range (one serial per tonne CO2e), with the buffer share."""
    return _answer(request, "issuances", PublicBatchOut)


@router.get("/retirements", response_model=list[PublicRetirementOut], responses=RESPONSES)
def public_retirements(request: Request) -> Response:
    """Retirements (注销), newest first: serial ranges, beneficiary and reason, from the signed records."""
    return _answer(request, "retirements", PublicRetirementOut)


@router.get("/auctions", response_model=list[PublicAuctionOut], responses=RESPONSES)
def public_auctions(request: Request) -> Response:
    """Results of closed auctions (成交公示): quantities, prices and winners by name; never before close."""
    return _answer(request, "auctions", PublicAuctionOut)


@router.get("/caps", response_model=list[PublicCapOut], responses=RESPONSES)
def public_caps(request: Request) -> Response:
    """Caps in force per city, instrument and lot: allocated and in reserve (总量与使用)."""
    return _answer(request, "caps", PublicCapOut)
