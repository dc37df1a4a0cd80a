"""Excel export of the console's tables over the demo: every table of a page has its link, the workbook
opens with openpyxl, amounts are exact numbers with their unit in the header and format, and nobody gets
a table through the export that the page would not show them."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session

from accounts.custody import Vault
from api import demo
from api.app import create_app
from api.console.xlsx import Table, read_tables, workbook
from ledger.service import Registry
from market.auctions.state import get_auction
from market.issuance.service import cap_position
from tests.api.conftest import console_login

LINK = re.compile(r'<p class="export-xlsx"><a href="([^"]+)" download>')


@pytest.fixture
def site(sqlite_engine: Engine, registry: Registry) -> tuple[TestClient, demo.DemoFacts]:
    facts = demo.load(sqlite_engine, registry, Vault.generate())
    return TestClient(create_app(sqlite_engine, registry, Vault.generate()), follow_redirects=False), facts


def _login(client: TestClient, facts: demo.DemoFacts, alias: str) -> None:
    token = next(x.token for x in facts.logins if x.alias == alias)
    assert console_login(client, token).status_code == 303


def _exact(value: object) -> Decimal:
    """A number read back from the sheet, as the exact decimal it was written as."""
    assert isinstance(value, int | float)
    return Decimal(repr(value))


def test_every_table_on_the_bureau_page_exports_with_exact_amounts(site, sqlite_engine: Engine) -> None:
    client, facts = site
    _login(client, facts, "yuyao")
    page = client.get("/console/bureau")
    links = LINK.findall(page.text)
    assert len(links) == page.text.count("<table") == 2  # cap position and auctions
    cap = client.get("/console/bureau" + links[0].replace("&amp;", "&"))
    assert cap.status_code == 200
    assert cap.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="bureau-1.xlsx"' in cap.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(cap.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("指标", "批次", "总量 (t/a)")
    cod = next(r for r in rows[1:] if r[0] == "COD")
    lot = next(c for c in sheet.iter_rows(min_row=2) if c[0].value == "COD")
    with Session(sqlite_engine) as s:
        valid_until = date.fromisoformat(str(cod[1]).rsplit(" ", 1)[-1])
        p = cap_position(s, jurisdiction="330281", instrument="COD", valid_until=valid_until)
    assert [_exact(v) for v in cod[2:7]] == [
        Decimal(kg) / 1000
        for kg in (p.cap_kg, p.allocated_kg, p.reserve_kg, p.reserve_held_kg, p.available_kg)
    ]
    assert lot[2].number_format == '#,##0.000" t/a"'

    auctions = load_workbook(io.BytesIO(client.get("/console/bureau?xlsx=1").content)).active
    header, *lines = list(auctions.iter_rows(values_only=True))
    settled = next(r for r in lines if r[0] == facts.settled_auction)
    with Session(sqlite_engine) as s:
        terms = get_auction(s, auction_id=facts.settled_auction).terms
    price = header.index(next(h for h in header if "元/t" in str(h)))
    assert _exact(settled[price]) == Decimal(terms.reserve_price_fen_per_t) / 100  # fen -> yuan, exactly
    assert client.get("/console/bureau?xlsx=9").status_code == 404


def test_an_export_is_only_what_the_page_would_show_its_reader(site) -> None:
    client, facts = site
    logged_out = client.get("/console/bureau?xlsx=0")
    assert logged_out.status_code == 303  # to the login page, no workbook
    assert "spreadsheetml" not in logged_out.headers.get("content-type", "")
    _login(client, facts, "yuyao_chem")
    other_role = client.get("/console/bureau?xlsx=0")
    assert other_role.status_code == 403
    assert "spreadsheetml" not in other_role.headers["content-type"]
    own = client.get("/console/enterprise")
    assert LINK.search(own.text)


def test_a_table_becomes_a_sheet_with_numbers_units_and_escaped_text() -> None:
    (table,) = read_tables(
        "<table><thead><tr><th>名称</th><th>金额</th><th>数量</th><th>笔数</th></tr></thead><tbody>"
        "<tr><td>=HYPERLINK(&quot;x&quot;)</td><td>79,180.00 元</td><td>1.500 t/a</td><td>1,234</td></tr>"
        "<tr><td>b<br>c</td><td>0.10 元</td><td>17,640.000 tCO2e</td><td>7</td></tr>"
        "</tbody></table><table><tr><td>second</td></tr></table>"
    )[:1]
    assert table.header == ["名称", "金额", "数量", "笔数"]
    assert table.rows[1][0] == "b\nc"
    sheet = load_workbook(io.BytesIO(workbook(table, "t"))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("名称", "金额 (元)", "数量", "笔数")  # a column of mixed units names none
    assert rows[1][0] == '\'=HYPERLINK("x")'  # never a formula
    assert (_exact(rows[1][1]), _exact(rows[2][1])) == (Decimal("79180.00"), Decimal("0.10"))
    assert (_exact(rows[1][2]), _exact(rows[2][2])) == (Decimal("1.500"), Decimal("17640.000"))
    assert (rows[1][3], rows[2][3]) == (1234, 7)
    assert sheet["C3"].number_format == '#,##0.000" tCO2e"'
    assert sheet["B2"].number_format == '#,##0.00" 元"'


def test_read_tables_keeps_a_table_inside_a_cell_in_its_cell() -> None:
    tables = read_tables("<table><tr><td>a<table><tr><td>b</td></tr></table></td></tr></table>")
    assert len(tables) == 1
    assert tables[0].rows == [["ab"]]
    assert Table().rows == []
