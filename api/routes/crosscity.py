"""Cross-city transfers: the demand list, offers, two-bureau approval and settlement across caps.

Each route parses, calls one service function and returns its result; rules live in the services."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["crosscity"])
