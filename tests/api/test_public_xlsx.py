"""Excel export of the public registry's pages, on SQLite and PostgreSQL: every table of /public,
/public/bluecarbon and /public/auctions downloads as a workbook without a login, with the page's rows;
each download is one more read under the page's rate limit, and a workbook carries no page ETag."""

from __future__ import annotations

import io
import re

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session

from accounts.custody import Vault
from api import demo
from api.app import create_app
from api.console.xlsx import XLSX
from api.limits import Limits
from ledger.service import Registry, init_ledger

PAGES = ("/public", "/public/bluecarbon", "/public/auctions")


def _rows(content: bytes) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_every_table_of_the_public_pages_downloads_as_a_workbook_without_a_login(
    engine: Engine, registry: Registry
) -> None:
    demo.load(engine, registry, Vault.generate())
    client = TestClient(create_app(engine, registry, None), raise_server_exceptions=False)
    for path in PAGES:
        page = client.get(path, params={"lang": "zh"})
        assert page.status_code == 200
        tables = len(re.findall(r"<table\b", page.text))
        links = re.findall(r'<p class="export-xlsx"><a href="([^"]+)"', page.text)
        assert tables >= 1
        assert len(links) == tables, path  # one download per table
        for i in range(tables):
            book = client.get(path, params={"lang": "zh", "xlsx": str(i)})
            assert book.status_code == 200, (path, i)
            assert book.headers["content-type"] == XLSX
            assert "etag" not in book.headers
            assert book.headers["cache-control"] == "public, max-age=30"  # as cacheable as its page
            assert _rows(book.content), (path, i)
        assert client.get(path, params={"xlsx": str(tables)}).status_code == 404

    retirements = client.get("/v1/public/retirements").json()
    assert retirements
    page = client.get("/public/bluecarbon", params={"lang": "zh"}).text
    index = [m.start() for m in re.finditer(r"<table\b", page)].index(page.index('<table id="retirements"'))
    rows = _rows(client.get("/public/bluecarbon", params={"lang": "zh", "xlsx": str(index)}).content)
    assert "受益方" in rows[0]
    beneficiary = rows[0].index("受益方")
    assert {r[beneficiary] for r in rows[1:]} == {r["beneficiary"] for r in retirements}

    (auction, *_) = client.get("/v1/public/auctions").json()
    winners = _rows(client.get("/public/auctions", params={"lang": "zh", "xlsx": "0"}).content)
    assert {w["name"] for w in auction["winners"]} <= {r[0] for r in winners[1:]}


def test_a_download_counts_against_the_public_rate_limit(sqlite_engine: Engine, registry: Registry) -> None:
    with Session(sqlite_engine) as s:
        init_ledger(s, registry=registry, name="public test")
        s.commit()
    limits = Limits(public_per_s_address=0.5, public_burst_address=2)
    client = TestClient(create_app(sqlite_engine, registry, None, limits), raise_server_exceptions=False)
    assert client.get("/public").status_code == 200
    # an empty registry's page has no table: the download is refused, but it was a read all the same
    assert client.get("/public", params={"xlsx": "0"}).status_code == 404
    refused = client.get("/public", params={"xlsx": "0"})
    assert refused.status_code == 429
    assert refused.headers["retry-after"]
