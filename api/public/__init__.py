"""The public registry (公开信息): pages at /public and JSON at /v1/public/..., without a login, read-only,
cached for a short TTL with ETags, and rate-limited per client address."""

from __future__ import annotations

from fastapi import FastAPI

from api.public import api, pages

__all__ = ["install"]


def install(app: FastAPI) -> None:
    app.include_router(api.router)
    app.include_router(pages.router)
