"""Serving over real HTTP: many concurrent readers always answered, the listening sockets that
``serve --workers`` shares, and the CLI running two worker processes on one SQLite file."""

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
from pathlib import Path

import httpx
import pytest
import uvicorn

from api.server import listeners
from ledger.crypto import SigningKey
from tests.api.conftest import HttpWorld

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
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--workers", "2", "--no-access-log"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "no answer from /health within 60 s"
            time.sleep(0.2)
        workers = _workers(proc.pid)
        assert len(workers) == 2
        # a new connection each time: the kernel spreads them over both workers
        sizes = {httpx.get(f"{base}/health").json()["journal_size"] for _ in range(20)}
        assert sizes == {2}  # the genesis and the rule-set record, seen by whichever worker answered
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers)  # joined by the supervisor
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


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
