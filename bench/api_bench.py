"""Requests/s and p50/p99 latency of the HTTP API over real HTTP on loopback: balance reads and
client-signed transfers by 50 concurrent clients, on SQLite and (if reachable) PostgreSQL.

The server is started as a subprocess (``ecoledger serve``, or uvicorn with several workers) over a
prepared database of funded enterprises; each client is a thread with its own keep-alive
connection, using ``api.client.Client`` (transfers are built and signed client-side). Target: p99
under 50 ms for reads.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlmodel import Session

from accounts.credentials import issue_credential
from accounts.demo import register_demo
from accounts.identifiers import complete_credit_code
from accounts.model import EnterpriseSpec
from accounts.service import register_participant
from api import migrations
from api.client import ApiError, Client
from ledger.crypto import SigningKey
from ledger.db import make_engine
from ledger.model import Lot, Posting, TxBody
from ledger.service import Instruction, Registry, init_ledger, new_nonce, submit_batch

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("ECOLEDGER_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_SCHEMA = "ecoledger_api_bench"
LOT = Lot(jurisdiction="330281")
FUNDS_KG = 10_000_000
TARGET_READ_P99_MS = 50.0


@dataclass(frozen=True)
class Enterprise:
    party: str
    token: str
    key: SigningKey

    @property
    def holding(self) -> str:
        return f"{self.party}.holding"


@dataclass
class Stats:
    latencies_s: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0

    def percentile_ms(self, q: float) -> float:
        xs = sorted(self.latencies_s)
        return 1000 * xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")

    @property
    def rate(self) -> float:
        return len(self.latencies_s) / self.elapsed_s if self.elapsed_s else 0.0


def prepare(url: str, enterprises: int, workdir: Path) -> list[Enterprise]:
    """A database at ``url`` through the migrations, with the demo bureaus and ``enterprises``
    funded enterprises, each with an API token; the registry key is written to ``workdir``."""
    engine = make_engine(url)
    migrations.upgrade(engine)
    registry = Registry(SigningKey.generate())
    (workdir / "registry-key.pem").write_bytes(registry.key.to_pem())
    out: list[Enterprise] = []
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="api bench")
        bureau = register_demo(s, registry=registry)["yuyao"]
        for i in range(enterprises):
            spec = EnterpriseSpec(
                complete_credit_code("91", "330281", f"BENCH{i:03d}"), f"基准企业{i}", "330281"
            )
            key = SigningKey.from_seed(hashlib.sha256(f"api-bench-{i}".encode()).digest())
            who = register_participant(s, registry=registry, spec=spec, public_key=key.public)
            out.append(Enterprise(who.party, issue_credential(s, party=who.party).token, key))
        funding = [
            Instruction.signed(
                TxBody(
                    "allocation",
                    new_nonce(),
                    (
                        Posting("bureau:330281.cap.COD", "COD", LOT, -FUNDS_KG),
                        Posting(e.holding, "COD", LOT, FUNDS_KG),
                    ),
                ),
                (bureau.party, bureau.key),
            )
            for e in out
        ]
        submit_batch(s, funding, registry=registry)
        s.commit()
    engine.dispose()
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(url: str, workdir: Path, mode: str) -> Iterator[str]:
    """The API on a free loopback port, for the duration of the block. ``mode``: ``serve`` is the
    default ``ecoledger serve``; ``workers=N`` runs uvicorn with N processes and no access log."""
    port = free_port()
    key = str(workdir / "registry-key.pem")
    if mode == "serve":
        cmd = [sys.executable, "-m", "api.cli", "--db", url, "--key", key, "serve", "--port", str(port)]
    elif mode == "ceiling":
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.api_bench:ceiling_app",
            "--port",
            str(port),
        ]
        cmd += ["--host", "127.0.0.1", "--no-access-log", "--log-level=warning"]
    else:
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.api_bench:app_from_env",
            "--port",
            str(port),
        ]
        cmd += [
            "--host",
            "127.0.0.1",
            "--workers",
            mode.split("=")[1],
            "--no-access-log",
            "--log-level=warning",
        ]
    env = {
        **os.environ,
        "ECOLEDGER_DATABASE_URL": url,
        "ECOLEDGER_REGISTRY_KEY": key,
        "PYTHONPATH": str(ROOT),
    }
    log = (workdir / f"server-{port}.log").open("wb")
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; see {log.name}")
            time.sleep(0.2)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the uvicorn supervisor and its workers
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def app_from_env() -> object:
    """The app over $ECOLEDGER_DATABASE_URL and $ECOLEDGER_REGISTRY_KEY (for uvicorn ``--factory``)."""
    from api.app import create_app
    from api.cli import open_registry

    engine, registry = open_registry(None, None)
    return create_app(engine, registry)


def ceiling_app() -> object:
    """A FastAPI app whose balance route does nothing (no auth, no database): the same load against
    it measures what this machine, this stack and this load generator allow at best."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/accounts/{account}/balances")
    def balances(account: str) -> list[dict[str, object]]:
        return []

    return app


Operation = Callable[[Client, Enterprise, random.Random], object]


def read_balances(api: Client, me: Enterprise, _: random.Random) -> object:
    return api.balances(me.holding)


def make_transfer(everyone: list[Enterprise]) -> Operation:
    def transfer(api: Client, me: Enterprise, rng: random.Random) -> object:
        to = rng.choice([e for e in everyone if e is not me] or everyone)
        return api.transfer(me.holding, to.holding, "COD", LOT, rng.randint(1, 50))

    return transfer


def load(base: str, clients: list[Enterprise], op: Operation, duration_s: float, warmup_s: float) -> Stats:
    """``len(clients)`` threads calling ``op`` back to back for ``duration_s`` after a warm-up
    (connections opened and tokens verified once, as a long-lived client would have them)."""
    stats, lock = Stats(), threading.Lock()
    timing: dict[str, float] = {}
    # the last thread to arrive sets the clock: every client starts and stops on the same instants
    start = threading.Barrier(
        len(clients), action=lambda: timing.update(stop=time.perf_counter() + duration_s)
    )

    def worker(i: int, me: Enterprise) -> None:
        rng = random.Random(i)
        wire = httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=1))
        api = Client(base, me.token, key=me.key, party=me.party, http=wire, retries=0)
        warm_until = time.monotonic() + warmup_s
        while time.monotonic() < warm_until:
            read_balances(api, me, rng)
        start.wait()
        mine: list[float] = []
        errors: Counter[str] = Counter()
        while time.perf_counter() < timing["stop"]:
            t0 = time.perf_counter()
            try:
                op(api, me, rng)
                mine.append(time.perf_counter() - t0)
            except ApiError as exc:
                errors[exc.code] += 1
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
        wire.close()
        with lock:
            stats.latencies_s += mine
            stats.errors += errors

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats.elapsed_s = duration_s + max(0.0, time.perf_counter() - timing["stop"])  # the last call overran
    return stats


def report(engine: str, mode: str, workload: str, stats: Stats) -> bool:
    p50, p99 = stats.percentile_ms(0.50), stats.percentile_ms(0.99)
    errors = ", ".join(f"{k} {v}" for k, v in stats.errors.most_common()) or "none"
    verdict = ""
    ok = True
    if workload == "reads":
        ok = p99 < TARGET_READ_P99_MS
        verdict = f"  {'PASS' if ok else 'FAIL'} p99 < {TARGET_READ_P99_MS:.0f} ms"
    print(
        f"{engine:<10} {mode:<9} {workload:<9} {stats.rate:>8,.0f} req/s  p50 {p50:>6.1f} ms  "
        f"p99 {p99:>6.1f} ms  errors: {errors}{verdict}",
        flush=True,
    )
    return ok


def run_engine(engine: str, url: str | None, args: argparse.Namespace) -> bool:
    """Both workloads under each server mode; ``url`` None: a SQLite file in a temporary folder."""
    workdir = Path(tempfile.mkdtemp(prefix=f"ecoledger-api-bench-{engine}-"))
    url = url or f"sqlite:///{workdir / 'api.db'}"
    try:
        t0 = time.perf_counter()
        everyone = prepare(url, args.enterprises, workdir)
        print(f"{engine}: prepared {len(everyone)} funded enterprises in {time.perf_counter() - t0:.1f} s")
        clients = [everyone[i % len(everyone)] for i in range(args.clients)]
        ok = True
        for mode in args.modes:
            if mode == "ceiling":
                with server(url, workdir, mode) as base:
                    report(
                        engine, mode, "no-op", load(base, clients, read_balances, args.duration, args.warmup)
                    )
                continue
            with server(url, workdir, mode) as base:
                reads = load(base, clients, read_balances, args.duration, args.warmup)
                ok &= report(engine, mode, "reads", reads)
                writes = load(base, clients, make_transfer(everyone), args.duration, min(args.warmup, 0.5))
                report(engine, mode, "transfers", writes)
            if reads.errors or writes.errors:
                for log in workdir.glob("server-*.log"):
                    tail = log.read_text(errors="replace").splitlines()[-args.log_lines :]
                    print(f"--- {log.name}, last lines:", *tail, sep="\n    ")
        return ok
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def pg_url() -> str | None:
    """A URL for a fresh private schema on the PostgreSQL server, or None when unreachable."""
    try:
        admin = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
        admin.dispose()
    except Exception as exc:
        print(f"postgresql: skipped ({type(exc).__name__}: not reachable at {PG_URL.split('@')[-1]})")
        return None
    # the server process gets the schema through the URL: libpq's options, passed by psycopg
    return f"{PG_URL}?options=-csearch_path%3D{PG_SCHEMA}"


def drop_pg_schema() -> None:
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
    admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--enterprises", type=int, default=50, help="funded enterprises (clients share them)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per workload")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of reads before timing")
    parser.add_argument(
        "--modes",
        nargs="+",
        default=["ceiling", "serve", "workers=2"],
        help="'ceiling' (a no-op app: the machine's bound), 'serve' (ecoledger serve), 'workers=N'",
    )
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--log-lines", type=int, default=15, help="server log lines shown after errors")
    args = parser.parse_args()
    load_avg = os.getloadavg()[0]
    print(f"{args.clients} clients, {args.duration:.0f} s each, {os.cpu_count()} CPUs, load {load_avg:.1f}")
    ok = run_engine("sqlite", None, args)
    url = None if args.no_pg else pg_url()
    if url is not None:
        try:
            ok &= run_engine("postgresql", url, args)
        finally:
            drop_pg_schema()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
