"""The shape issue #17 gave market/: one package per domain, no module over 400 lines, and the
modules it retired (the mirrored offer stores) gone for good."""

from __future__ import annotations

from pathlib import Path

MARKET = Path(__file__).resolve().parents[2] / "market"
LIMIT = 400


def test_no_market_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(MARKET)): n
        for p in MARKET.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > LIMIT
    }
    assert long == {}, f"split these before adding to them: {long}"


def test_market_is_packages_only_with_no_flat_workflow_modules() -> None:
    flat = sorted(p.name for p in MARKET.glob("*.py") if p.name not in {"__init__.py", "consent.py"})
    assert flat == []
    for package in (p for p in MARKET.iterdir() if p.is_dir() and p.name != "__pycache__"):
        assert (package / "__init__.py").exists(), package.name


def test_the_offer_stores_live_only_in_the_proposal_model() -> None:
    for gone in ("trades/tables.py", "issuance/tables.py", "reserve/tables.py", "foureyes/tables.py"):
        assert not (MARKET / gone).exists(), gone
    tables = "\n".join(p.read_text(encoding="utf-8") for p in MARKET.rglob("tables.py"))
    for name in ("trade_offer", "allocation_offer", "buyback_offer", "four_eyes_proposal"):
        assert f'"{name}"' not in tables, name
