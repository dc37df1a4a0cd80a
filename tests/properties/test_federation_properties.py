"""Transfers between two journals, each interrupted at a random step (an exception where a crash would
be: what was not committed is rolled back) and then recovered: units are never created or destroyed
across the journals, no hold is left open, and the pair audits. Two SQLite journals per example."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from ledger.bundle import export_bundle
from ledger.db import create_schema, make_engine
from ledger.errors import InsufficientBalance
from ledger.federation import Coordinator, Member, cross_checkpoint
from ledger.federation_audit import verify_pair
from tests.federation_support import NINGBO, START_KG, YUYAO, found_journal, signed_hold, units

STEPS = ["hold_flushed", "hold", "credit_flushed", "credit", "complete_flushed", "void_flushed", None]


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way handles it."""


def interrupted_at(step: str | None) -> object:
    def hook(name: str) -> None:
        if name == step:
            raise Crash(name)

    return hook


transfers = st.lists(
    st.tuples(st.integers(1, 40_000), st.booleans(), st.sampled_from(STEPS)), min_size=1, max_size=5
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transfers)
def test_interrupted_transfers_recovered_leave_the_units_exactly_once(
    plan: list[tuple[int, bool, str | None]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        members: list[Member] = []
        for j, rights in ((YUYAO, START_KG), (NINGBO, 0)):
            engine = make_engine(f"sqlite:///{tmp}/{j}.db")
            create_schema(engine)
            members.append(found_journal(engine, j, rights_kg=rights))
        a, b = members
        moved = 0
        for i, (amount, known_receiver, step) in enumerate(plan):
            receiver = None if known_receiver else "nobody.holding"
            request = signed_hold(a, b, f"p{i}", amount, receiver)
            try:
                Coordinator(a, b, step=interrupted_at(step)).transfer(request)  # type: ignore[arg-type]
            except Crash:
                pass
            except InsufficientBalance:  # the hold itself refused (more than the seller has): nothing moved
                pass
            Coordinator(a, b).recover()
            now = units(a, b)
            assert now.seller_held == 0, "a hold left open after recovery"
            assert now.seller_total + now.receiver_total == START_KG, "units created or destroyed"
            assert now.receiver_total >= moved
            moved = now.receiver_total
        paths = []
        statement = cross_checkpoint([a, b])
        for name, m in (("A", a), ("B", b)):
            with Session(m.engine) as s:
                export_bundle(s, Path(tmp) / name)
            paths.append(Path(tmp) / name)
            m.engine.dispose()
        checked = verify_pair(paths, statement)
        assert checked.ok, checked.render()
