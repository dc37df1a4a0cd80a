"""Crash recovery of a transfer between two journals on two PostgreSQL clusters of the test's own: the
coordinator is SIGKILLed after every step in turn; recovery then completes or voids the transfer, never
both and never neither, so the units exist exactly once across the two journals, and the pair audits."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session

from ledger.bundle import export_bundle
from ledger.db import create_schema, make_engine
from ledger.federation import Coordinator, Member, cross_checkpoint
from ledger.federation_audit import verify_pair
from ledger.federation_store import find_receipt, open_federation_holds
from tests.federation_support import NINGBO, START_KG, YUYAO, found_journal, units
from tests.integration.pg_cluster import PgCluster
from tests.integration.pg_pair import why_not

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.xdist_group("federation")]
ROOT = Path(__file__).resolve().parents[2]
COMPLETE_STEPS = ["hold_flushed", "hold", "credit_flushed", "credit", "complete_flushed", "complete"]
VOID_STEPS = ["hold", "void_flushed", "void"]


@dataclass
class Federation:
    a: Member
    b: Member
    urls: tuple[str, str]


@pytest.fixture(scope="module")
def federation() -> Iterator[Federation]:
    """Yuyao's journal on one cluster, Ningbo's on another, started once for the module."""
    reason = why_not()
    if reason:
        pytest.skip(reason)
    clusters: list[PgCluster] = []
    try:
        for name in ("yuyao", "ningbo"):
            clusters.append(PgCluster.start(name))
        members = []
        for cluster, (j, rights) in zip(clusters, ((YUYAO, START_KG), (NINGBO, 0)), strict=True):
            engine = make_engine(cluster.url, pool_size=2)
            create_schema(engine)
            members.append(found_journal(engine, j, rights_kg=rights))
        yield Federation(members[0], members[1], (clusters[0].url, clusters[1].url))
        for m in members:
            m.engine.dispose()
    finally:
        for c in clusters:
            c.stop()


def killed_at(fed: Federation, transfer: str, amount: int, step: str, receiver: str = "-") -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "tests.integration.federation_crash",
        *fed.urls,
        transfer,
        str(amount),
        receiver,
        step,
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == -9, (
        f"not killed at {step}: {done.returncode}\n{done.stdout}\n{done.stderr[-2000:]}"
    )
    return done.stdout.split()


@pytest.mark.parametrize("step", COMPLETE_STEPS)
def test_a_coordinator_killed_after_any_step_is_finished_by_recovery_exactly_once(
    federation: Federation, step: str
) -> None:
    a, b = federation.a, federation.b
    before = units(a, b)
    transfer, amount = f"c-{step}", 1_000
    assert killed_at(federation, transfer, amount, step)[-1] == step
    results = Coordinator(a, b).recover()
    after = units(a, b)
    assert after.seller_held == 0, "a hold left open: neither completed nor voided"
    moved = before.seller_total - after.seller_total
    assert moved == after.receiver_total - before.receiver_total, (
        "units created or destroyed across the journals"
    )
    with Session(a.engine) as s:
        ended = find_receipt(s, scope="federation", key=f"{transfer}:end")
    if step == "hold_flushed":  # nothing committed: the transfer never began, nothing to recover
        assert (moved, results, ended) == (0, [], None)
        return
    assert moved == amount, f"recovery after {step} should complete the transfer"
    assert ended is not None
    assert [r.outcome for r in results] == ([] if step == "complete" else ["completed"])


@pytest.mark.parametrize("step", VOID_STEPS)
def test_a_refused_transfer_killed_after_any_step_is_voided_by_recovery_exactly_once(
    federation: Federation, step: str
) -> None:
    a, b = federation.a, federation.b
    before = units(a, b)
    transfer = f"v-{step}"
    killed_at(federation, transfer, 700, step, receiver="nobody.holding")
    results = Coordinator(a, b).recover()
    assert units(a, b) == before, "a refused transfer moved units"
    assert [r.outcome for r in results] == ([] if step == "void" else ["voided"])
    with Session(a.engine) as s:
        assert open_federation_holds(s) == []


def test_after_the_crashes_both_journals_and_every_cross_reference_verify(
    federation: Federation, tmp_path: Path
) -> None:
    a, b = federation.a, federation.b
    checkpoint = cross_checkpoint([a, b])
    paths = []
    for name, m in (("A", a), ("B", b)):
        with Session(m.engine) as s:
            export_bundle(s, tmp_path / name)
        paths.append(tmp_path / name)
    checked = verify_pair(paths, checkpoint, registry_keys=[a.registry.key.public, b.registry.key.public])
    assert checked.ok, checked.render()
    assert checked.cross.in_flight == 0
