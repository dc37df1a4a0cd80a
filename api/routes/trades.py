"""Bilateral trades between enterprises of one jurisdiction, delivery versus payment, both parties'
signatures.

Each route parses, calls one service function and returns its result; rules live in the services."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["trades"])
