"""The typed-movement table (ledger.movements): its printed form in docs is the table itself, and
every body type the workflows write has an entry."""

from __future__ import annotations

import re
from pathlib import Path

from ledger.model import AccountKind
from ledger.movements import KIND_INSTRUMENTS, MOVEMENTS, describe

ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_page_prints_the_table_the_rules_read() -> None:
    page = (ROOT / "docs" / "typed-movements.md").read_text(encoding="utf-8")
    assert describe() in page


def test_every_body_type_a_workflow_writes_is_in_the_table() -> None:
    """Action names written as literals by market/ and api/ (TxBody("...") or an *_ACTION constant)."""
    written: set[str] = set()
    for path in [*(ROOT / "market").rglob("*.py"), *(ROOT / "api").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        written |= set(re.findall(r'TxBody\(\s*"([a-z_.]+)"', text))
        written |= set(re.findall(r'_ACTION = "([a-z_.]+)"', text))
    assert written, "the scan found no body types: the pattern is stale"
    assert written <= set(MOVEMENTS), sorted(written - set(MOVEMENTS))


def test_every_account_kind_says_what_it_may_hold() -> None:
    assert set(KIND_INSTRUMENTS) == set(AccountKind)
