"""``/metrics`` under ``serve --workers N`` counts the requests of every worker, not only its own."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from accounts.credentials import issue_credential
from accounts.demo import register_demo
from api.observability import FLUSH_S, Metrics, SharedFile
from ledger.crypto import SigningKey
from ledger.db import make_engine
from ledger.service import Registry
from tests.api.serving_support import serving_workers

ROOT = Path(__file__).resolve().parents[2]
HEALTH_200 = re.compile(
    r'^ecoledger_http_requests_total\{method="GET",route="/health",status="200"\} (\d+)$', re.M
)


def health_count(base: str, token: str, *, within_s: float = 10.0) -> int:
    """The /health answers counted over every worker, once the count is there (a worker still
    starting under a loaded machine may not have written its figures yet)."""
    deadline = time.monotonic() + within_s
    while True:
        metrics = httpx.get(f"{base}/metrics", timeout=10, headers={"Authorization": f"Bearer {token}"})
        assert metrics.status_code == 200, metrics.text
        found = HEALTH_200.findall(metrics.text)
        if found or time.monotonic() > deadline:
            assert found, metrics.text
            return int(found[0])
        time.sleep(FLUSH_S)


def operator_token(db: str, key: SigningKey) -> str:
    """The demo participants registered, and an API key for the operator (who alone reads /metrics)."""
    engine = make_engine(db)
    with Session(engine) as s:
        demo = register_demo(s, registry=Registry(key))
        token = issue_credential(s, party=demo["operator"].party).token
        s.commit()
    engine.dispose()
    return token


def test_shared_files_add_up_the_figures_of_every_worker(tmp_path: Path) -> None:
    one, two = Metrics(), Metrics()
    one.observe("GET", "/health", 200, 0.002)
    two.observe("GET", "/health", 200, 0.2)
    two.observe("POST", "/v1/instructions", 409, 0.01)
    two.errors_by_code["insufficient_balance"] += 1
    SharedFile(tmp_path, two).path.with_name("other.json").write_text(
        __import__("json").dumps(two.snapshot())
    )
    text = SharedFile(tmp_path, one).total().render(journal_size=7)
    assert HEALTH_200.findall(text) == ["2"]
    assert 'ecoledger_http_requests_total{method="POST",route="/v1/instructions",status="409"} 1' in text
    assert 'ecoledger_http_request_seconds_bucket{method="GET",route="/health",le="0.005"} 1' in text
    assert 'ecoledger_http_request_seconds_count{method="GET",route="/health"} 2' in text
    assert 'ecoledger_refusals_total{code="insufficient_balance"} 1' in text


@pytest.mark.slow
def test_metrics_from_any_worker_count_every_workers_requests(tmp_path: Path) -> None:
    db, key = f"sqlite:///{tmp_path / 'reg.db'}", tmp_path / "registry.pem"
    registry_key = SigningKey.generate()
    key.write_bytes(registry_key.to_pem())
    cli = [sys.executable, "-m", "api.cli", "--db", db, "--key", str(key)]
    subprocess.run([*cli, "init"], cwd=ROOT, check=True, capture_output=True, timeout=120)
    token = operator_token(db, registry_key)
    with serving_workers(cli, tmp_path / "serve.log") as (proc, base):
        time.sleep(3 * FLUSH_S)  # both workers have flushed the start-up probes' figures
        before = health_count(base, token)
        # a new connection each time: the kernel spreads them over both workers
        assert {httpx.get(f"{base}/health", timeout=10).status_code for _ in range(40)} == {200}
        time.sleep(3 * FLUSH_S)
        assert {health_count(base, token) for _ in range(10)} == {before + 40}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
