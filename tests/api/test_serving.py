"""Serving over real HTTP: many concurrent readers always answered, concurrent writers answered from
one group commit, the listening sockets that ``serve --workers`` shares, and the CLI running two
worker processes on one SQLite file."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.server import listeners
from ledger.crypto import SigningKey
from ledger.model import Posting, TxBody
from ledger.sequencer import Sequencer
from ledger.service import new_nonce, sign_body
from tests.api.conftest import HttpWorld
from tests.api.module_world import grant, position
from tests.api.serving_support import serving_workers

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def served(app: object) -> Iterator[str]:
    """``app`` under uvicorn on a socket from ``listeners``, in a thread, for the block."""
    (sock,) = listeners("127.0.0.1", 0, 1)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, loop="asyncio", log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


def test_fifty_concurrent_readers_are_all_answered(http: HttpWorld) -> None:
    """50 clients at once on a sync read route (its session held through serialization). Before
    requests were admitted to the database in slots, the 40 threads all waited for the pool's
    connections while the requests holding them waited for a thread: nothing answered until the
    pool's 30 s timeout, then 500s."""
    paths = [("yuyao_chem", "/v1/me"), ("yuyao", "/v1/participants?limit=5"), ("bank_ningbo", "/v1/me")]
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    with served(http.client.app) as base:

        def client(i: int) -> None:
            alias, path = paths[i % len(paths)]
            with httpx.Client(base_url=base, timeout=25, headers=http.headers(alias)) as c:
                got = Counter(c.get(path).status_code for _ in range(8))
            with lock:
                statuses.update(got)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert statuses == Counter({200: 400})


def test_writes_posted_at_once_commit_in_one_group_and_each_gets_its_own_answer(http: HttpWorld) -> None:
    """While the test holds the sequencer's turn, clients post signed transfers (the group's batch),
    pledge applications (units of work, each a savepoint), an overdraft and a pledge beyond the
    holding. Released, they commit in one group: every write answered with its own receipt or its
    own refusal, the refused ones wrote nothing, their neighbours everything."""
    until = date(2031, 3, 1)
    lot = grant(http, "yuyao", "yuyao_chem", 10_000, until=until)
    chem = http.who("yuyao_chem")

    def transfer(kg: int) -> dict[str, Any]:
        body = TxBody(
            "transfer",
            new_nonce(),
            (
                Posting(f"{chem.party}.holding", "COD", lot, -kg),
                Posting(f"{http.party('yuyao_dye')}.holding", "COD", lot, kg),
            ),
        )
        return {"body": body.to_json(), "signatures": [sign_body(body, chem.party, chem.key).to_json()]}

    def pledge(kg: int) -> dict[str, Any]:
        lot_in = {"jurisdiction": "330281", "valid_until": until.isoformat()}
        return {"bank": http.party("bank_yuyao"), "instrument": "COD", "lot": lot_in, "quantity_kg": kg}

    requests = [("/v1/instructions", transfer(10)) for _ in range(4)]
    requests += [("/v1/instructions", transfer(1_000_000)), ("/v1/pledges", pledge(10_001))]
    requests += [("/v1/pledges", pledge(100)) for _ in range(3)]
    seq: Sequencer = http.client.app.state.ecoledger.sequencer  # type: ignore[attr-defined]
    answers: dict[int, httpx.Response] = {}
    with served(http.client.app) as base:
        # a first write verifies the token (scrypt, then cached) before the test holds the turn
        first = httpx.post(base + "/v1/instructions", json=transfer(1), headers=http.headers("yuyao_chem"))
        assert first.status_code == 200, first.text

        def post(i: int) -> None:
            path, payload = requests[i]
            answers[i] = httpx.post(base + path, json=payload, headers=http.headers("yuyao_chem"), timeout=60)

        before = seq.stats.groups
        threads = [threading.Thread(target=post, args=(i,)) for i in range(len(requests))]
        with seq.unit():
            for t in threads:
                t.start()
            deadline = time.monotonic() + 30
            while seq.waiting() != (4, 5):  # pledges wait for the turn; transfers for the batch
                assert time.monotonic() < deadline, seq.waiting()
                time.sleep(0.01)
        for t in threads:
            t.join()
        assert seq.stats.groups == before + 1, "the queued writes committed together"

    codes = [(answers[i].status_code, answers[i].json().get("error", {}).get("code")) for i in range(9)]
    assert (
        codes
        == [(200, None)] * 4
        + [(409, "insufficient_balance"), (409, "collateral_unavailable")]
        + [(200, None)] * 3
    )
    seqs = [answers[i].json()["seq"] for i in range(4)]
    assert len(set(seqs)) == 4
    assert position(http, f"{http.party('yuyao_dye')}.holding", "COD", lot) == (1 + 40, 0)
    pledges = http.get("yuyao_chem", "/v1/pledges", params={"limit": 50}).json()
    assert sorted(p["applied_kg"] for p in pledges["items"]) == [100, 100, 100]


def test_listeners_share_one_port_over_tcp() -> None:
    socks = listeners("127.0.0.1", 0, 3)
    try:
        ports = {s.getsockname()[1] for s in socks}
        assert len(ports) == 1
        assert 0 not in ports
        for s in socks:
            # asyncio sets TCP_NODELAY on accepted connections only when the socket says TCP
            assert s.proto == socket.IPPROTO_TCP
            assert s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        with socket.create_connection(("127.0.0.1", ports.pop()), timeout=5):
            pass  # the kernel queued it on one of the three
    finally:
        for s in socks:
            s.close()


def test_a_busy_port_is_refused_with_oserror() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            listeners("127.0.0.1", taken.getsockname()[1], 2)


def _workers(pid: int) -> list[int]:
    """The worker processes under ``pid`` (not multiprocessing's resource tracker)."""
    children = [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


@pytest.mark.slow
def test_serve_with_two_workers_shares_one_sqlite_registry(tmp_path: Path) -> None:
    """``ecoledger serve --workers 2``: two processes answer on one port, a write made through one
    is read through the other, and SIGTERM stops both (exit 0)."""
    db, key = f"sqlite:///{tmp_path / 'reg.db'}", tmp_path / "registry.pem"
    key.write_bytes(SigningKey.generate().to_pem())
    cli = [sys.executable, "-m", "api.cli", "--db", db, "--key", str(key)]
    subprocess.run([*cli, "init"], cwd=ROOT, check=True, capture_output=True)
    with serving_workers(cli, tmp_path / "serve.log") as (proc, base):
        workers = _workers(proc.pid)
        assert len(workers) == 2
        # a new connection each time: the kernel spreads them over both workers
        sizes = {httpx.get(f"{base}/health").json()["journal_size"] for _ in range(20)}
        assert sizes == {2}  # the genesis and the rule-set record, seen by whichever worker answered
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers)  # joined by the supervisor


@pytest.mark.slow
def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    """SIGKILL leaves the supervisor no time to stop its workers; they notice and stop by themselves."""
    db, key = f"sqlite:///{tmp_path / 'reg.db'}", tmp_path / "registry.pem"
    key.write_bytes(SigningKey.generate().to_pem())
    cli = [sys.executable, "-m", "api.cli", "--db", db, "--key", str(key)]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--workers", "2"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while len(workers := _workers(proc.pid)) < 2:
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 20
        while any(Path(f"/proc/{pid}").exists() for pid in workers):
            assert time.monotonic() < deadline, "workers outlived their supervisor"
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def test_writers_in_two_processes_take_turns(tmp_path: Path) -> None:
    """The writer lock between processes: the second waits, then gives up with SQLite's own error."""
    from ledger.db import _WriterQueue

    lock_file = str(tmp_path / "reg.db-writer.lock")
    # two queues open the lock file twice, as two processes do
    first, second = _WriterQueue(5, lock_file), _WriterQueue(0.2, lock_file)
    first.acquire()
    started = time.monotonic()
    with pytest.raises(Exception, match="locked"):
        second.acquire()
    assert time.monotonic() - started >= 0.2
    first.release()
    second.acquire()  # free now
    second.release()
