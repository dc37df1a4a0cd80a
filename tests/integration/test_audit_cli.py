"""The auditor's commands as an operator and an auditor use them: export, verify, report, certificates.

Also the methodology plug-in the command registers: a blue-carbon issuance must recompute.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from api.cli import main
from ledger.audit import verify_bundle
from ledger.bundle import JOURNAL, write_bundle
from ledger.crypto import SigningKey, b64e
from ledger.model import Posting, TxBody
from ledger.state import LedgerState
from methodologies import evaluate, get
from methodologies.registry import methodology_check
from tests.audit_demo import build_demo_dir
from tests.integration.test_audit_reports import BC23, ZHOUSHAN, at, scenario, tx
from tests.unit.test_methodologies_registry import MUSSELS

TRANSFER = 20


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small fixed journal of ``tests.audit_demo`` (20 records), where the full demo's would move."""
    return build_demo_dir(tmp_path_factory.mktemp("cli"))


def db(root: Path) -> list[str]:
    return ["--db", f"sqlite:///{root / 'demo.db'}", "--key", str(root / "registry-key.pem")]


def registry_key(root: Path) -> str:
    return b64e(SigningKey.from_pem((root / "registry-key.pem").read_bytes()).public)


def test_export_then_verify_with_a_pinned_key(
    demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*db(demo_dir), "export", str(tmp_path / "b"), "--tar"]) == 0
    assert "exported 22 records" in capsys.readouterr().out
    assert main(["audit", "verify", str(tmp_path / "b.tar"), f"--registry-key={registry_key(demo_dir)}"]) == 0
    out = capsys.readouterr().out
    assert "VERIFIED" in out
    assert "pinned by --registry-key" in out


def test_verify_names_the_record_rule_and_evidence_of_a_tampered_bundle(
    demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main([*db(demo_dir), "export", str(tmp_path / "b")])
    journal = tmp_path / "b" / JOURNAL
    lines = journal.read_bytes().splitlines()
    lines[TRANSFER], lines[TRANSFER + 1] = lines[TRANSFER + 1], lines[TRANSFER]
    journal.write_bytes(b"".join(x + b"\n" for x in lines))
    capsys.readouterr()
    assert main(["audit", "verify", str(tmp_path / "b"), "--progress"]) == 1
    captured = capsys.readouterr()
    assert f"record        {TRANSFER}" in captured.out
    assert "rule          sequence" in captured.out
    assert '{"found":21}' in captured.out
    assert "records" in captured.err  # the progress bar, forced on


def test_verify_checks_checkpoints_the_auditor_kept(
    demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main([*db(demo_dir), "export", str(tmp_path / "b")])
    kept = tmp_path / "kept.jsonl"
    kept.write_bytes((tmp_path / "b" / "checkpoints.jsonl").read_bytes())
    assert main(["audit", "verify", str(tmp_path / "b"), "--checkpoints", str(kept)]) == 0
    assert "2 verified" in capsys.readouterr().out  # the bundle's own and the kept copy


def test_a_registry_key_that_is_not_base64url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--registry-key"):
        main(["audit", "verify", str(tmp_path), "--registry-key", "not a key!"])


def test_report_writes_csv_and_charts(
    demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main([*db(demo_dir), "export", str(tmp_path / "b")])
    assert (
        main(["audit", "report", str(tmp_path / "b"), "--as-of", "2099-12-31", "--out", str(tmp_path / "r")])
        == 0
    )
    assert "holdings.csv" in capsys.readouterr().out
    meta = json.loads((tmp_path / "r" / "report.json").read_text())
    assert meta["records_included"] == 22
    assert meta["as_of"] == "end of 2099-12-31 (UTC+8)"
    assert (tmp_path / "r" / "cap_use.png").exists()


def test_prove_then_verify_a_certificate(
    demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = tmp_path / "cert.json"
    assert main([*db(demo_dir), "prove", str(TRANSFER), str(cert)]) == 0
    assert main(["audit", "certificate", str(cert), f"--registry-key={registry_key(demo_dir)}"]) == 0
    out = capsys.readouterr().out
    assert f"OK: record {TRANSFER} is in the journal" in out
    obj = json.loads(cert.read_text())
    obj["record"] = obj["record"].replace('"amount":3000', '"amount":9000')
    cert.write_text(json.dumps(obj))
    assert main(["audit", "certificate", str(cert)]) == 1
    assert "FAILED: registry_signature" in capsys.readouterr().out


# --- the methodology plug-in ---------------------------------------------------------------------


def issuance(meta: dict[str, Any], credited: int) -> dict[str, Any]:
    return TxBody(
        "issuance.blue_carbon",
        "n-bc",
        (
            Posting(f"{ZHOUSHAN}.cap.BC", "BC", BC23, -credited),
            Posting("farm:coop.holding", "BC", BC23, credited),
        ),
        meta=meta,
    ).to_json()


def test_the_methodology_check_recomputes_a_recorded_issuance() -> None:
    meta = evaluate(get("hyt0305-bivalve", "1.0"), MUSSELS).record_meta()
    sink = meta["sink_kg_co2e"]
    state = LedgerState()
    assert methodology_check(7, issuance(meta, sink), state) is None
    assert methodology_check(7, {"type": "tx", "meta": {}}, state) is None
    inflated = methodology_check(7, issuance({**meta, "sink_kg_co2e": sink * 2}, sink * 2), state)
    assert inflated is not None
    assert (inflated.seq, inflated.rule) == (7, "methodology_replay_mismatch")
    over = methodology_check(7, issuance(meta, sink + 1), state)
    assert over is not None
    assert (over.rule, over.evidence) == (
        "methodology_overissued",
        {"credited": sink + 1, "recomputed": sink},
    )


def test_verify_refuses_a_signed_issuance_whose_methodology_does_not_recompute(tmp_path: Path) -> None:
    meta = evaluate(get("hyt0305-bivalve", "1.0"), MUSSELS).record_meta()
    fudged = {**meta, "inputs": {**meta["inputs"], "harvested_wet_kg": "900000"}}
    b = scenario()
    b.records.pop()  # end before the December record, so times stay in order
    sink = meta["sink_kg_co2e"]
    legs = [(f"{ZHOUSHAN}.cap.BC", "BC", BC23, -sink), ("farm:coop.holding", "BC", BC23, sink)]
    record = tx("issuance.blue_carbon", "n-bc", legs, meta=fudged)
    b.add(at(10, 1), record, ZHOUSHAN)
    write_bundle(tmp_path / "b", [r.line() for r in b.records], [])
    assert verify_bundle(tmp_path / "b").ok  # every signature and ledger rule holds...
    summary = verify_bundle(tmp_path / "b", checks=[methodology_check])
    assert summary.failure is not None  # ...but the issued quantity is not what the data give
    assert (summary.failure.seq, summary.failure.rule) == (len(b.records) - 1, "methodology_replay_mismatch")
    assert "input hash differs" in summary.failure.message
