"""Exports for auditors: the signed journal as a bundle (tar) that `ecoledger audit verify` checks offline.

Each route parses, calls one service function and returns its result; rules live in the services."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["exports"])
