"""Project needs, auctions and bids: open, bid (deposits in escrow), close with a signed result,
settle each winner as DvP, forfeit.

Each route parses, calls one service function and returns its result; rules live in the services."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["auctions"])
