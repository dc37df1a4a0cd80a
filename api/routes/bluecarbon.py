"""Blue-carbon projects: registration, monitoring reports run through a methodology, issuance with
serials, transfer, retirement.

Each route parses, calls one service function and returns its result; rules live in the services."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["bluecarbon"])
