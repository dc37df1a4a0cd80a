"""Pledges of discharge rights to banks (排污权抵质押): apply, approve, loan, confirm, release, enforce;
certificates.

Each route parses, calls one service function and returns its result; rules live in the services."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["pledges"])
