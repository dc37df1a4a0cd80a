"""Issuance and the government reserve: caps, initial allocation with paid-use fees, buy-back,
major-project allocation, the expiry run.

Each route parses, calls one service function and returns its result; rules live in the services."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["issuance"])
