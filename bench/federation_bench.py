"""Cross-journal transfers/s: Yuyao's journal and Ningbo's on two PostgreSQL clusters of the bench's
own, each transfer a hold, a credit and a completion (three commits on two clusters) by the coordinator.

Run ``.venv/bin/python bench/federation_bench.py [--transfers N] [--threads T]``; prints the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import Session

from ledger.db import create_schema, make_engine
from ledger.federation import Coordinator, Member
from ledger.model import Lot, Posting, TxBody
from ledger.service import Instruction, new_nonce, submit
from tests.federation_support import NINGBO, UNTIL, YUYAO, found_journal, signed_hold, units
from tests.integration.pg_cluster import PgCluster
from tests.integration.pg_pair import why_not


def run(a: Member, b: Member, transfers: int, threads: int, tag: str) -> float:
    """Seconds to make ``transfers`` transfers of 1 kg, ``threads`` coordinators at once."""
    # Requests signed beforehand: the figure is the coordinator's and the databases', not the client's.
    requests = [signed_hold(a, b, f"{tag}-{i}", 1) for i in range(transfers)]
    chunks = [requests[i::threads] for i in range(threads)]
    failures: list[BaseException] = []

    def work(chunk: list[object]) -> None:
        coordinator = Coordinator(a, b)
        for request in chunk:
            try:
                coordinator.transfer(request)  # type: ignore[arg-type]
            except BaseException as exc:  # reported after the run
                failures.append(exc)

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if failures:
        raise RuntimeError(f"{len(failures)} transfers failed, e.g. {failures[0]!r}")
    return time.perf_counter() - started


def baseline(a: Member, n: int) -> float:
    """The same machine's rate for one record committed at a time in one journal (a bureau's cap.set):
    a cross-journal transfer is three such commits, on two clusters, plus the coordinator's reads."""
    lot = Lot(jurisdiction=a.jurisdiction, valid_until=UNTIL)
    started = time.perf_counter()
    for _ in range(n):
        body = TxBody(
            "cap.set",
            new_nonce(),
            (Posting(a.cap("COD"), "COD", lot, -1), Posting(f"{a.bureau}.reserve", "COD", lot, 1)),
        )
        with Session(a.engine) as s:
            submit(s, Instruction.signed(body, (a.bureau, a.bureau_key)), registry=a.registry)
            s.commit()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transfers", type=int, default=300)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    if reason := why_not():
        print(f"skipped: {reason}")
        return 0
    clusters = [PgCluster.start("bench-yuyao"), PgCluster.start("bench-ningbo")]
    try:
        members = []
        for cluster, (j, rights) in zip(clusters, ((YUYAO, 10**7), (NINGBO, 0)), strict=True):
            engine = make_engine(cluster.url)
            create_schema(engine)
            members.append(found_journal(engine, j, rights_kg=rights))
        a, b = members
        run(a, b, 20, 1, "warm")
        for threads in sorted({1, args.threads}):
            load = "/".join(f"{x:.1f}" for x in os.getloadavg())
            seconds = run(a, b, args.transfers, threads, f"t{threads}")
            rate = args.transfers / seconds
            print(
                f"{args.transfers} cross-journal transfers, {threads} coordinator thread(s): "
                f"{seconds:.1f} s, {rate:,.1f} transfers/s (load average before {load})"
            )
        load = "/".join(f"{x:.1f}" for x in os.getloadavg())
        seconds = baseline(a, args.transfers)
        print(
            f"baseline, one journal: {args.transfers} cap.set records committed one by one in "
            f"{seconds:.1f} s, {args.transfers / seconds:,.1f}/s (load average before {load})"
        )
        after = units(a, b)
        moved = 20 + args.transfers * len({1, args.threads})
        assert (after.seller_total, after.seller_held, after.receiver_total) == (10**7 - moved, 0, moved)
        print(
            f"units exactly once across the journals: {after.seller_total} + {after.receiver_total} = {10**7}"
        )
    finally:
        for c in clusters:
            c.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
