"""The auditor's exports through HTTP: the journal as a tar bundle that verifies offline, and the
same verification run by the registry for the console; only auditors and the operator get either,
and a rewritten record is named by the replay."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.audit import verify_bundle
from ledger.db import create_schema
from tests.api.conftest import HttpWorld, error_of
from tests.api.module_world import grant, module_http

# One worker runs the whole module in a row (xdist loadgroup): its world would not survive another
# module truncating the same PostgreSQL schema in between.
pytestmark = pytest.mark.xdist_group("api_exports")
http = module_http  # one demo world per engine for this module


def test_only_auditors_and_the_operator_export_the_journal(http: HttpWorld) -> None:
    for path in ("/v1/exports/bundle", "/v1/exports/verification"):
        assert http.client.get(path).status_code == 401
        for alias in ("yuyao_chem", "yuyao", "province", "bank_ningbo"):
            r = http.get(alias, path)
            assert (r.status_code, error_of(r)["details"]["rule"]) == (403, "journal_readers_only"), alias


def test_the_bundle_is_a_tar_that_verifies_offline_with_the_registry_key(
    http: HttpWorld, tmp_path: Path
) -> None:
    grant(http, "yuyao", "yuyao_chem", 1_000, until=date(2030, 6, 30))
    size = http.head()
    r = http.get("auditor", "/v1/exports/bundle")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-tar"
    assert f"ecoledger-bundle-{size}.tar" in r.headers["content-disposition"]
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        names = set(tar.getnames())
        manifest_file = tar.extractfile("manifest.json")
        assert manifest_file is not None
        manifest = json.loads(manifest_file.read())
    assert {"manifest.json", "journal.jsonl", "checkpoints.jsonl", "keys.jsonl"} <= names
    assert manifest["records"] == size
    bundle = tmp_path / "bundle.tar"
    bundle.write_bytes(r.content)
    summary = verify_bundle(bundle, registry_key=http.registry.key.public, workers=1)
    assert summary.ok, summary.render()
    assert summary.run is not None
    assert summary.run.report.records == size
    assert http.get("operator", "/v1/exports/bundle").status_code == 200
    assert http.head() == size  # exporting writes nothing


def test_the_verification_replays_the_journal_and_summarizes_it(http: HttpWorld) -> None:
    size = http.head()
    r = http.get("auditor", "/v1/exports/verification")
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["ok"], out["records"], out["manifest_records"], out["failure"]) == (True, size, size, None)
    assert out["registry_key_id"] == http.registry.key.key_id
    assert out["checkpoints"] == size // 5  # the test registry signs a checkpoint every 5 records
    assert out["signatures"] > size
    assert "VERIFIED" in out["summary"]
    assert "\n  serials       " in out["summary"]  # the serial book was rebuilt too (none issued here)
    assert http.get("operator", "/v1/exports/verification").json()["ok"] is True


# Rewriting the journal means dropping its append-only trigger: done on the test's own SQLite file only.
@pytest.mark.parametrize("http", ["sqlite"], indirect=True)
def test_a_rewritten_record_is_named_by_the_verification(http: HttpWorld) -> None:
    grant(http, "yuyao", "yuyao_chem", 1_234, until=date(2030, 7, 1))
    seq = http.head() - 1  # the allocation of 1,234 kg, rewritten below as 9,234 kg
    rewrite = "UPDATE journal SET core = :core WHERE seq = :seq"
    with http.engine.begin() as conn:
        core = conn.execute(text("SELECT core FROM journal WHERE seq = :seq"), {"seq": seq}).scalar_one()
        assert b"1234" in core
        conn.execute(text("DROP TRIGGER journal_no_update"))
        conn.execute(text(rewrite), {"core": core.replace(b"1234", b"9234"), "seq": seq})
    try:
        out = http.get("auditor", "/v1/exports/verification").json()
    finally:  # the module's other tests share this journal: put the record and the trigger back
        with http.engine.begin() as conn:
            conn.execute(text(rewrite), {"core": core, "seq": seq})
        create_schema(http.engine)
    assert out["ok"] is False
    assert out["failure"]["seq"] == seq
    assert f"record        {seq}" in out["summary"]
    assert "FAILED" in out["summary"]
    assert http.get("auditor", "/v1/exports/verification").json()["ok"] is True
