"""An instrument is a data entry (``ledger.units.INSTRUMENTS``): no module outside ``ledger/units.py``
branches on an instrument's code or kind; code asks the instrument's properties (``capped``,
``serialized``, ``money`` ...). A scan of the source and the console templates keeps it so.
"""

from __future__ import annotations

import re
from pathlib import Path

from ledger.units import INSTRUMENTS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ledger", "market", "api", "accounts", "methodologies")
# The demo scenario (api/demo/) names the instruments it trades by code, as data; it does not branch.
EXEMPT = {ROOT / "ledger" / "units.py", *(ROOT / "api" / "demo").rglob("*.py")}

_CODE = "|".join(re.escape(code) for code in INSTRUMENTS)
_QUOTED = rf"[\"']({_CODE})[\"']"
# A test of a code: x == "BC", "CNY" != x, x in ("COD", ...), an alias BC = "BC", or the kind enum.
PATTERNS = (
    re.compile(rf"(==|!=)\s*{_QUOTED}"),
    re.compile(rf"{_QUOTED}\s*(==|!=)"),
    re.compile(rf"\bin\s*[(\[{{]\s*{_QUOTED}"),
    re.compile(rf"\b({_CODE})\s*=\s*{_QUOTED}"),
    re.compile(r"\bInstrumentKind\."),
)


def _sources() -> list[Path]:
    files = [p for pkg in PACKAGES for ext in ("*.py", "*.html") for p in (ROOT / pkg).rglob(ext)]
    return sorted(p for p in files if p not in EXEMPT)


def offending_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if any(p.search(line) for p in PATTERNS)]


def test_the_scan_catches_each_shape_of_a_literal_test() -> None:
    caught = [
        'if p.instrument == "BC":',
        "{{ yuan(b.total) if b.instrument == 'CNY' else qty(b.total, b.instrument) }}",
        'if "COD" != code:',
        'if code in ("COD", "NH3-N"):',
        'BC = "BC"',
        "if inst.kind is InstrumentKind.BLUE_CARBON:",
    ]
    assert [offending_lines(line) for line in caught] == [[line] for line in caught]
    fine = ['Posting(account_id(buyer, "cash"), "CNY", Lot(), -amount)', "if inst.serialized:"]
    assert [offending_lines(line) for line in fine] == [[], []]


def test_no_module_outside_ledger_units_tests_an_instrument_code() -> None:
    sources = _sources()
    assert len(sources) > 100, "the scan found too few files: the paths are stale"
    found = {
        str(path.relative_to(ROOT)): lines
        for path in sources
        if (lines := offending_lines(path.read_text(encoding="utf-8")))
    }
    assert found == {}
