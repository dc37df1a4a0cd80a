"""`ecoledger serve --workers N` as a subprocess on a free port, for the tests that need real
worker processes: started, waited for until /health answers, and killed if a test leaves it running."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def serving_workers(
    cli: list[str], log_path: Path, *, workers: int = 2
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The running server and its base URL; its output goes to ``log_path`` (shown if it dies)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*cli, "serve", "--port", str(port), "--workers", str(workers), "--no-access-log"],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "no answer from /health within 60 s"
                time.sleep(0.2)
            yield proc, base
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
