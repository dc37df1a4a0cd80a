"""Concurrent writers on a few hot accounts, on both engines: no lost update, no fork.

Totals are checked on every read, not only at the end, so a transient violation fails too.
"""

from __future__ import annotations

import contextlib
import random
import threading

from sqlmodel import Session

from ledger import errors
from ledger.service import balances, replay_database
from tests.support import COD_YUYAO, World, transfer

HOT = ["ent:a.h", "ent:b.h", "bank:x.h"]
OWNER = {"ent:a.h": "ent:a", "ent:b.h": "ent:b", "bank:x.h": "bank:x"}


def test_eight_threads_transferring_between_hot_accounts_conserve_units_and_keep_one_chain(
    world: World,
) -> None:
    for account in HOT:
        world.issue(account, 300)
    failures: list[BaseException] = []
    observed_totals: set[int] = set()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(15):
                src, dst = rng.sample(HOT, 2)
                with contextlib.suppress(errors.InsufficientBalance, errors.UnitsEncumbered):
                    world.submit(transfer(src, dst, rng.randint(1, 200)), OWNER[src])
                with Session(world.engine) as s:
                    live = [b for b in balances(s) if b.account in HOT]
                assert all(b.total >= 0 for b in live)
                observed_totals.add(sum(b.total for b in live))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert observed_totals == {900}
    with Session(world.engine) as s:
        report, diff = replay_database(s)
    assert report.ok, report.failure
    assert diff == {}
    assert report.state.totals()[("COD", COD_YUYAO.key())] == 0
