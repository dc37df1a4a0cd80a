"""The public registry (公开信息): pages at /public and JSON at /v1/public/..., without a login, read-only,
cached for a short TTL with ETags, and rate-limited per client address; every table of a page also
downloads as an Excel workbook (``?xlsx=N``, the console's export: the same page, cache and limit)."""

from __future__ import annotations

from fastapi import FastAPI

from api.console.xlsx import ConsoleExport
from api.public import api, pages

__all__ = ["install"]


def install(app: FastAPI) -> None:
    app.include_router(api.router)
    app.include_router(pages.router)
    # A workbook is made from the page the same request renders: the page's rate limit applies to each
    # download and its data comes from the same short-lived cache, so an export costs no extra read.
    app.add_middleware(ConsoleExport, prefix=pages.PUBLIC)
