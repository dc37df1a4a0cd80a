"""Excel (.xlsx) export of every table of the console and of the public registry's pages: each page's
tables get a download link, and the same page asked with ``?xlsx=N`` answers its N-th table as a
workbook (same route, same login, same rights; on /public the same cache and rate limit).

Amounts are numbers, never floats on the way: the page's exact text ("1.500 t/a", "4,000.00 元") is read
back as a ``Decimal`` and written as that decimal (openpyxl stores its exact digits), with a number format
that shows the unit and the places ("#,##0.000\" t/a\""); a column of one unit also names it in its header.
So money is written in yuan with two decimals, quantities in t/a (or tCO2e) with three. Spreadsheet programs
read them as binary doubles, which hold these figures exactly up to 15 significant digits. Text that a
spreadsheet would run as a formula gets a leading apostrophe (OWASP), as the audit reports do.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from decimal import Decimal
from html import escape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.reports import escape_cell

__all__ = ["ConsoleExport", "read_tables", "workbook"]

PARAM = "xlsx"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_AMOUNT = re.compile(r"(-?[0-9][0-9,]*(?:\.[0-9]+)?) ?(t/a|tCO2e|元/t|元|CNY/t|CNY|%)")
_INTEGER = re.compile(r"-?[0-9][0-9,]*")
_LINK_CLASS = "export-xlsx"


@dataclass
class Table:
    """One HTML table as text: the header row and the body rows, cell by cell."""

    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self._depth = 0
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_head = False
        self._only_th = False  # a row of <th> cells only: a header even without <thead>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._depth += 1
            if self._depth == 1:
                self.tables.append(Table())
        elif self._depth == 1 and tag == "thead":
            self._in_head = True
        elif self._depth == 1 and tag == "tr":
            self._row, self._only_th = [], True
        elif self._depth == 1 and tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._only_th = self._only_th and tag == "th"
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._depth -= 1
        elif self._depth == 1 and tag == "thead":
            self._in_head = False
        elif self._depth == 1 and tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("\n".join(" ".join(p.split()) for p in "".join(self._cell).split("\n")).strip())
            self._cell = None
        elif self._depth == 1 and tag == "tr" and self._row is not None:
            table = self.tables[-1]
            if self._in_head or (not table.header and not table.rows and self._only_th):
                table.header = self._row
            else:
                table.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def read_tables(html: str) -> list[Table]:
    """The page's top-level tables, in order (a table inside a table stays part of its cell)."""
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def _value(text: str) -> tuple[Any, str | None, str | None]:
    """A cell's value, its unit and number format: an exact Decimal for an amount, an int for a whole
    number, else the (escaped) text."""
    amount = _AMOUNT.fullmatch(text)
    if amount:
        number, unit = amount.group(1).replace(",", ""), amount.group(2)
        places = len(number.split(".", 1)[1]) if "." in number else 0
        pattern = "#,##0" + ("." + "0" * places if places else "")
        return Decimal(number), unit, f'{pattern}" {unit}"'
    if _INTEGER.fullmatch(text) and len(text) < 16:
        return int(text.replace(",", "")), None, "#,##0" if "," in text else "0"
    return escape_cell(text), None, None


def workbook(table: Table, title: str) -> bytes:
    """The table as an .xlsx workbook of one sheet; a column whose amounts share one unit names it."""
    from openpyxl import Workbook  # here, not at start-up: every server worker imports the console
    from openpyxl.styles import Font

    values = [[_value(cell) for cell in row] for row in table.rows]
    units: dict[int, set[str | None]] = {}
    for row in values:
        for i, (value, unit, _) in enumerate(row):
            if not isinstance(value, str) or value:
                units.setdefault(i, set()).add(unit)
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has its one sheet
    sheet.title = re.sub(r"[\\/*?:\[\]]", " ", title)[:31] or "table"
    header = [
        f"{name} ({next(iter(units[i]))})" if len(units.get(i, set())) == 1 and None not in units[i] else name
        for i, name in enumerate(table.header)
    ]
    if header:
        sheet.append([escape_cell(h) for h in header])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
    for row in values:
        sheet.append([value for value, _, _ in row])
        for cell, (_, _, number_format) in zip(sheet[sheet.max_row], row, strict=False):
            if number_format:
                cell.number_format = number_format
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _with_links(html: str, query: str) -> str:
    """Before each top-level table, a link to the same page's export of that table."""
    params = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != PARAM]
    out, count, depth, at = [], 0, 0, 0
    for match in re.finditer(r"<(/?)table\b", html):
        closing = match.group(1) == "/"
        if not closing and depth == 0:
            href = "?" + urlencode([*params, (PARAM, str(count))])
            out += [html[at : match.start()], f'<p class="{_LINK_CLASS}"><a href="{escape(href)}" download>']
            out.append("Excel (.xlsx)</a></p>")  # a file name and a format: the same in both languages
            at, count = match.start(), count + 1
        depth += -1 if closing else 1
    out.append(html[at:])
    return "".join(out)


class ConsoleExport:
    """ASGI middleware over /console pages (GET): adds the export links to HTML answers, and answers
    ``?xlsx=N`` with table N of the page the same request would have shown."""

    def __init__(self, app: ASGIApp, prefix: str = "/console") -> None:
        self.app, self.prefix = app, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] != "GET" or not path.startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        params = parse_qsl(query, keep_blank_values=True)
        wanted = next((v for k, v in params if k == PARAM), None)
        if wanted is not None:
            rest = urlencode([(k, v) for k, v in params if k != PARAM]).encode()
            scope = {**scope, "query_string": rest}
        start: Message | None = None
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            # only HTML pages are held back (to add links or export a table); a file streams through
            nonlocal start
            if message["type"] == "http.response.start":
                kind = dict(message.get("headers", [])).get(b"content-type", b"")
                if not kind.startswith(b"text/html"):
                    await send(message)
                    return
                start = message
            elif message["type"] == "http.response.body" and start is None:
                await send(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._answer(send, start, b"".join(chunks), path, query, wanted)
            else:
                await send(message)

        await self.app(scope, receive, keep)

    async def _answer(
        self, send: Send, start: Message | None, body: bytes, path: str, query: str, wanted: str | None
    ) -> None:
        assert start is not None
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
        if start["status"] == 200 and kind.startswith(b"text/html"):
            html = body.decode()
            if wanted is not None:
                tables = read_tables(html)
                index = int(wanted) if wanted.isdigit() else -1
                if 0 <= index < len(tables):
                    name = path.rstrip("/").rsplit("/", 1)[-1] or "console"
                    body = workbook(tables[index], f"{name} {index + 1}")
                    # the page's ETag names the page, not this file (whose bytes carry a timestamp)
                    headers = [(k, v) for k, v in headers if k.lower() not in (b"content-type", b"etag")]
                    headers += [
                        (b"content-type", XLSX.encode()),
                        (b"content-disposition", f'attachment; filename="{name}-{index + 1}.xlsx"'.encode()),
                    ]
                else:
                    start = {**start, "status": 404}
                    body = b"no such table"
                    headers = [(k, v) for k, v in headers if k.lower() != b"content-type"]
                    headers.append((b"content-type", b"text/plain; charset=utf-8"))
            else:
                body = _with_links(html, query).encode()
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})
