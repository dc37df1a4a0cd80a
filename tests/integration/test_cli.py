"""The ``ecoledger`` command as an operator uses it: demo, verify, keygen."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from api.cli import main
from ledger.db import make_engine


def test_the_demo_loads_a_scenario_that_replays_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--no-serve", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "replay verified" in out
    assert main(["--db", f"sqlite:///{tmp_path / 'demo.db'}", "verify"]) == 0
    assert "1 checkpoints verified" in capsys.readouterr().out


def test_verify_fails_when_a_stored_record_was_rewritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["demo", "--no-serve", "--dir", str(tmp_path)])
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER journal_no_update"))
        conn.execute(
            text("UPDATE journal SET core = CAST(replace(core, '12500', '92500') AS BLOB) WHERE seq = 16")
        )
    engine.dispose()
    capsys.readouterr()
    assert main(["--db", f"sqlite:///{tmp_path / 'demo.db'}", "verify"]) == 1
    assert "record 16" in capsys.readouterr().out


def test_verify_reports_a_record_whose_bytes_were_rewritten_as_text(tmp_path: Path) -> None:
    main(["demo", "--no-serve", "--dir", str(tmp_path)])
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER journal_no_update"))
        conn.execute(text("UPDATE journal SET core = replace(core, '12500', '92500') WHERE seq = 16"))
    engine.dispose()
    assert main(["--db", f"sqlite:///{tmp_path / 'demo.db'}", "verify"]) == 1


def test_keygen_writes_a_private_key_only_its_owner_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "k.pem"
    assert main(["keygen", str(out)]) == 0
    assert out.stat().st_mode & 0o077 == 0
    assert capsys.readouterr().out.startswith("key_id ")
