"""Requests/s and p50/p99 latency of the HTTP API over real HTTP on loopback: balance reads and
client-signed transfers from 50 concurrent connections, on SQLite and (if reachable) PostgreSQL.

The server is ``ecoledger serve --workers N`` over a prepared database of funded enterprises. The
load comes from wrk (Debian's ``wrk``: a C program, so the cores stay the server's), 50 keep-alive
connections sending back to back, each request with the token of one of 50 enterprises in turn.
Transfers are built and signed beforehand with ``api.client`` (as a client does before it sends),
a fresh nonce and Idempotency-Key each; a few seconds of other transfers warm the server up first (as
a short run of reads does before reads are measured); afterwards the journal is replayed and its new
records are counted against the 2xx answers. Target: p99 under 50 ms for reads.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
from api.client import Client, new_idempotency_key, transfer_body
from ledger.crypto import SigningKey
from ledger.db import make_engine
from ledger.model import Lot, Posting, TxBody
from ledger.service import (
    Instruction,
    Registry,
    head_size,
    init_ledger,
    new_nonce,
    replay_database,
    submit_batch,
)

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("ECOLEDGER_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_SCHEMA = "ecoledger_api_bench"
LOT = Lot(jurisdiction="330281")
FUNDS_KG = 10_000_000
TARGET_READ_P99_MS = 50.0
# Issue 16's targets for signed transfers at 50 connections (printed, not in the exit status).
TARGET_TRANSFERS_PER_S = {"sqlite": 1_500, "postgresql": 1_000}
TARGET_TRANSFER_P99_MS = 100.0
WARM_UP_S = 3  # untimed transfers before each measured run (fresh ones of their own)
# The abuse limits on writes (api.limits: 20/s per key, 1,000/s per address and worker) guard against
# one client flooding the registry; here 50 enterprises send from one address as fast as they can,
# so the bench's server lifts them. Every other check stays on.
LIFTED = {
    "ECOLEDGER_LIMIT_WRITES_PER_S_CREDENTIAL": "100000",
    "ECOLEDGER_LIMIT_WRITE_BURST_CREDENTIAL": "100000",
    "ECOLEDGER_LIMIT_WRITES_PER_S_ADDRESS": "100000",
    "ECOLEDGER_LIMIT_WRITE_BURST_ADDRESS": "100000",
}


@dataclass(frozen=True)
class Enterprise:
    party: str
    token: str
    key: SigningKey

    @property
    def holding(self) -> str:
        return f"{self.party}.holding"


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
        total = FUNDS_KG * len(out)
        cap = TxBody(
            "cap.set",
            new_nonce(),
            (
                Posting("bureau:330281.cap.COD", "COD", LOT, -total),
                Posting("bureau:330281.reserve", "COD", LOT, total),
            ),
        )
        funding = [Instruction.signed(cap, (bureau.party, bureau.key))] + [
            Instruction.signed(
                TxBody(
                    "allocation.initial",
                    new_nonce(),
                    (
                        Posting("bureau:330281.reserve", "COD", LOT, -FUNDS_KG),
                        Posting(e.holding, "COD", LOT, FUNDS_KG),
                    ),
                ),
                (bureau.party, bureau.key),
            )
            for e in out
        ]
        refused = [r for r in submit_batch(s, funding, registry=registry) if isinstance(r, Exception)]
        if refused:
            raise SystemExit(f"funding the bench's enterprises was refused: {refused[0]}")
        s.commit()
    engine.dispose()
    return out


LUA_COMMON = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50=%d p90=%d p99=%d max=%d status=%d socket=%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
"""
LUA_READS = """
local reqs = {}
for line in io.lines("%(file)s") do
  local path, auth = line:match("([^\\t]+)\\t([^\\t]+)")
  reqs[#reqs + 1] = wrk.format("GET", path, {Authorization = auth})
end
local i = 0
request = function()
  i = i %% #reqs + 1
  return reqs[i]
end
"""
LUA_POSTS = """
local reqs = {}
for line in io.lines("%(file)s") do
  local auth, key, body = line:match("([^\\t]+)\\t([^\\t]+)\\t(.+)")
  reqs[#reqs + 1] = wrk.format("POST", "/v1/instructions",
    {Authorization = auth, ["Idempotency-Key"] = key, ["Content-Type"] = "application/json"}, body)
end
local i = 0
request = function()
  i = i + 1
  if i > #reqs then i = 1; io.stderr:write("EXHAUSTED\\n") end  -- a repeat is refused: a miscount
  return reqs[i]
end
"""


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: int
    exhausted: bool = False

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk(base: str, script: Path, *, clients: int, seconds: float) -> Result:
    """Run wrk with ``clients`` connections for ``seconds``; its figures, parsed."""
    cmd = ["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "--timeout", "30s", "-s", str(script), base]
    run = subprocess.run(cmd, capture_output=True, text=True, check=True)
    line = next(x for x in run.stdout.splitlines() if x.startswith("RESULT "))
    f = {k: int(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
    return Result(
        requests=f["requests"],
        seconds=f["duration_us"] / 1e6,
        p50_ms=f["p50"] / 1000,
        p90_ms=f["p90"] / 1000,
        p99_ms=f["p99"] / 1000,
        max_ms=f["max"] / 1000,
        non_2xx=f["status"],
        socket_errors=f["socket"],
        exhausted="EXHAUSTED" in run.stderr,
    )


def reads_script(workdir: Path, everyone: list[Enterprise]) -> Path:
    rows = workdir / "reads.tsv"
    rows.write_text("".join(f"/v1/accounts/{e.holding}/balances\tBearer {e.token}\n" for e in everyone))
    script = workdir / "reads.lua"
    script.write_text(LUA_READS % {"file": rows} + LUA_COMMON)
    return script


def transfers_script(workdir: Path, everyone: list[Enterprise], count: int, name: str = "transfers") -> Path:
    """``count`` transfers, each built and signed by its sender with ``api.client``, in turn."""
    rng = random.Random(7)
    signers = {e.party: Client("http://unused", e.token, key=e.key, party=e.party) for e in everyone}
    lines = []
    for i in range(count):
        me = everyone[i % len(everyone)]
        to = rng.choice([e for e in everyone if e is not me])
        body = transfer_body(me.holding, to.holding, "COD", LOT, rng.randint(1, 50))
        payload = json.dumps(signers[me.party].instruction(body), separators=(",", ":"))
        lines.append(f"Bearer {me.token}\t{new_idempotency_key()}\t{payload}\n")
    for signer in signers.values():
        signer.close()
    rows = workdir / f"{name}-{count}.tsv"
    rows.write_text("".join(lines))
    script = workdir / f"{name}-{count}.lua"
    script.write_text(LUA_POSTS % {"file": rows} + LUA_COMMON)
    return script


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(url: str, workdir: Path, workers: int) -> Iterator[str]:
    """``ecoledger serve --workers N`` on a free loopback port, for the duration of the block."""
    port = free_port()
    key = str(workdir / "registry-key.pem")
    cmd = [sys.executable, "-m", "api.cli", "--db", url, "--key", key, "serve"]
    cmd += ["--port", str(port), "--workers", str(workers), "--no-access-log"]
    log = (workdir / f"server-{port}.log").open("wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=os.environ | LIFTED)
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
        proc.terminate()  # the supervisor stops its workers
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def warm_up(base: str, everyone: list[Enterprise], workers: int) -> None:
    """Each token verified by every worker (scrypt, 75 ms, once), as a long-lived client has it: a
    new connection per request, which the kernel hands to a worker at random."""
    for _ in range(3 * workers):
        for e in everyone:
            auth = {"Authorization": f"Bearer {e.token}", "Connection": "close"}
            httpx.get(f"{base}/v1/accounts/{e.holding}/balances", headers=auth, timeout=30)


def journal_check(url: str) -> tuple[int, bool]:
    """The journal's size and whether it replays to the live balances."""
    engine = make_engine(url)
    with Session(engine) as s:
        report, diff = replay_database(s)
        size = head_size(s)
    engine.dispose()
    return size, report.ok and not diff


def settled_size(url: str) -> int:
    """The journal's size once it stopped growing for half a second (requests in flight when wrk
    stopped still commit)."""
    engine = make_engine(url)
    try:
        size = -1
        while True:
            with Session(engine) as s:
                now = head_size(s)
            if now == size:
                return size
            size = now
            time.sleep(0.5)
    finally:
        engine.dispose()


def report(engine: str, workers: int, workload: str, r: Result, note: str = "") -> bool:
    ok = True
    verdict = ""
    if workload == "reads":
        ok = r.p99_ms < TARGET_READ_P99_MS and not r.non_2xx and not r.socket_errors
        verdict = f"  {'PASS' if ok else 'FAIL'} p99 < {TARGET_READ_P99_MS:.0f} ms"
    elif engine in TARGET_TRANSFERS_PER_S:
        target = TARGET_TRANSFERS_PER_S[engine]
        # a refusal (a 429 from a throttle, say) is not a transfer: only clean runs count
        met = r.rate >= target and r.p99_ms < TARGET_TRANSFER_P99_MS and not r.non_2xx and not r.socket_errors
        verdict = f"  {'met' if met else 'MISSED'} >= {target:,}/s with p99 < {TARGET_TRANSFER_P99_MS:.0f} ms"
    errors = f"{r.non_2xx} non-2xx, {r.socket_errors} socket"
    print(
        f"{engine:<10} {workers} worker{'s' if workers > 1 else ' '} {workload:<9} {r.rate:>7,.0f} req/s  "
        f"p50 {r.p50_ms:>5.1f}  p90 {r.p90_ms:>5.1f}  p99 {r.p99_ms:>6.1f}  max {r.max_ms:>6.1f} ms  "
        f"errors: {errors}{verdict}{note}",
        flush=True,
    )
    return ok


def run_engine(engine: str, url: str | None, args: argparse.Namespace) -> bool:
    """Both workloads for each worker count; ``url`` None: a SQLite file in a temporary folder."""
    workdir = Path(tempfile.mkdtemp(prefix=f"ecoledger-api-bench-{engine}-"))
    url = url or f"sqlite:///{workdir / 'api.db'}"
    try:
        t0 = time.perf_counter()
        everyone = prepare(url, args.enterprises, workdir)
        print(f"{engine}: prepared {len(everyone)} funded enterprises in {time.perf_counter() - t0:.1f} s")
        reads = reads_script(workdir, everyone)
        ok = True
        for workers in args.workers:
            with server(url, workdir, workers) as base:
                warm_up(base, everyone, workers)
                wrk(base, reads, clients=args.clients, seconds=1)  # connections and caches warm
                r = wrk(base, reads, clients=args.clients, seconds=args.duration)
                ok &= report(engine, workers, "reads", r)
                if args.no_transfers:
                    continue
                # enough signed transfers for the run (they are slower than reads), made untimed
                count = max(2_000, int(1.5 * r.rate * args.duration))
                t0 = time.perf_counter()
                transfers = transfers_script(workdir, everyone, count)
                signing = time.perf_counter() - t0
                # A warm-up of other transfers first, as the reads have one: a server's first seconds
                # of writes measured slower than the next (1,402 then 1,774/s in two 10 s windows,
                # SQLite, 2 workers), and the figure is the server's steady rate.
                warm = transfers_script(workdir, everyone, max(2_000, int(1.5 * r.rate * WARM_UP_S)), "warm")
                wrk(base, warm, clients=args.clients, seconds=WARM_UP_S)
                before = settled_size(url)  # the warm-up's last requests are still committing
                w = wrk(base, transfers, clients=args.clients, seconds=args.duration)
            after, replayed = journal_check(url)
            committed, answered = after - before, w.requests - w.non_2xx
            # wrk stops with up to one request per connection in flight, which may still commit
            counted = 0 <= committed - answered <= args.clients
            note = (
                f"  [{count:,} signed beforehand in {signing:.1f} s; {answered:,} 2xx answers, "
                f"{committed:,} records committed{'' if counted else ' (MISCOUNT)'}; "
                f"replay {'ok' if replayed else 'FAILED'}{'; RAN OUT of transfers' if w.exhausted else ''}]"
            )
            report(engine, workers, "transfers", w, note)
            ok &= replayed and counted and not w.exhausted
            if w.non_2xx or w.socket_errors:
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
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="server processes, each run")
    parser.add_argument("--no-transfers", action="store_true", help="reads only")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--log-lines", type=int, default=15, help="server log lines shown after errors")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("api_bench needs wrk, the HTTP load generator: apt-get install -y wrk", file=sys.stderr)
        return 2
    load = os.getloadavg()[0]
    print(f"{args.clients} connections, {args.duration:.0f} s a run, {os.cpu_count()} CPUs, load {load:.1f}")
    print("the server's abuse limits on writes per key and per address are lifted (LIFTED)")
    ok = run_engine("sqlite", None, args)
    url = None if args.no_pg else pg_url()
    if url is not None:
        try:
            ok &= run_engine("postgresql", url, args)
        finally:
            drop_pg_schema()
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
