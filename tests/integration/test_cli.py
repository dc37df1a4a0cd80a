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
    assert "http://127.0.0.1:8000/console" in out
    for name in ("宁波市生态环境局余姚分局", "示例银行宁波分行", "嵊泗示例贻贝养殖专业合作社"):
        assert name in out, "the logins are printed"
    logins = tmp_path / "logins.txt"
    assert logins.stat().st_mode & 0o077 == 0
    assert (tmp_path / "custody-secret").stat().st_mode & 0o077 == 0
    assert len(logins.read_text().splitlines()) == 24  # a header, 21 participants, 2 named users
    assert (
        main(
            [
                "--db",
                f"sqlite:///{tmp_path / 'demo.db'}",
                "--key",
                str(tmp_path / "registry-key.pem"),
                "verify",
            ]
        )
        == 0
    )
    assert "1 checkpoints verified" in capsys.readouterr().out


# The demo's first initial allocation: 80 t (80000 kg) of COD to 余姚示例化工.
FIRST_ALLOCATION = "SELECT seq FROM journal WHERE CAST(core AS TEXT) LIKE '%allocation.initial%' ORDER BY seq"


def test_verify_fails_when_a_stored_record_was_rewritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["demo", "--no-serve", "--dir", str(tmp_path)])
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    with engine.begin() as conn:
        seq = conn.execute(text(FIRST_ALLOCATION)).scalar()
        conn.execute(text("DROP TRIGGER journal_no_update"))
        conn.execute(
            text("UPDATE journal SET core = CAST(replace(core, '80000', '90000') AS BLOB) WHERE seq = :seq"),
            {"seq": seq},
        )
    engine.dispose()
    capsys.readouterr()
    assert (
        main(
            [
                "--db",
                f"sqlite:///{tmp_path / 'demo.db'}",
                "--key",
                str(tmp_path / "registry-key.pem"),
                "verify",
            ]
        )
        == 1
    )
    assert f"record {seq}" in capsys.readouterr().out


def test_verify_reports_a_record_whose_bytes_were_rewritten_as_text(tmp_path: Path) -> None:
    main(["demo", "--no-serve", "--dir", str(tmp_path)])
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    with engine.begin() as conn:
        seq = conn.execute(text(FIRST_ALLOCATION)).scalar()
        conn.execute(text("DROP TRIGGER journal_no_update"))
        conn.execute(
            text("UPDATE journal SET core = replace(core, '80000', '90000') WHERE seq = :seq"), {"seq": seq}
        )
    engine.dispose()
    assert (
        main(
            [
                "--db",
                f"sqlite:///{tmp_path / 'demo.db'}",
                "--key",
                str(tmp_path / "registry-key.pem"),
                "verify",
            ]
        )
        == 1
    )


def test_keygen_writes_a_private_key_only_its_owner_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "k.pem"
    assert main(["keygen", str(out)]) == 0
    assert out.stat().st_mode & 0o077 == 0
    assert capsys.readouterr().out.startswith("key_id ")
