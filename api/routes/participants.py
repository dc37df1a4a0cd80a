"""Participants, their signing keys and API credentials (operator and bureaus register; each party
rotates its own keys).

Each route parses, calls one service function and returns its result; rules live in the services."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["participants"])
