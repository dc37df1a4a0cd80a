"""The SELECT statements a block of code runs, and how SQLite plans them: for tests that a read
costs what it returns (index searches), not what the registry has ever stored (a scan)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

_SCAN = re.compile(r"SCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?")


@contextmanager
def selects(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Each SELECT run on ``engine`` inside the block, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def log(_conn: Any, _cursor: Any, sql: str, params: Any, _context: Any, _many: bool) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            seen.append((sql, params))

    event.listen(engine, "before_cursor_execute", log)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", log)


def table_scans(engine: Engine, statements: Iterable[tuple[str, Any]], tables: Iterable[str]) -> list[str]:
    """The steps of SQLite's plans for ``statements`` that scan one of ``tables``, other than through
    a partial index (which holds only the rows it is for: scanning it reads what matches)."""
    wanted = set(tables)
    found = []
    with engine.connect() as c:
        partial = {
            r[0] for r in c.exec_driver_sql("SELECT name FROM sqlite_master WHERE sql LIKE '% WHERE %'")
        }
        for sql, params in statements:
            for row in c.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params):
                m = _SCAN.match(row[-1])
                if m and m.group(1) in wanted and m.group(2) not in partial:
                    found.append(row[-1])
    return found
