"""Fifty clients take the same proposal at once (a buyer's double-click storm, retries without an
Idempotency-Key, two approvers at the same moment): it applies exactly once, every other attempt is
refused as closed, and the journal gains exactly one record. Both engines."""

from __future__ import annotations

import threading
from collections import Counter

from sqlmodel import Session

from ledger.errors import DomainError
from ledger.service import head_size
from market.consent import Consent
from market.trades.offers import accept_offer, get_offer
from tests.api.conftest import HttpWorld
from tests.api.test_console_pages import allocate, http
from tests.api.test_console_todo import _trade_offer

__all__ = ["http"]

CLIENTS = 50


def test_fifty_buyers_accepting_one_offer_at_once_record_one_trade(http: HttpWorld) -> None:
    allocate(http, "yuyao_chem", 1_000)
    offer_id = _trade_offer(http, 500)
    dye = http.who("yuyao_dye")
    with Session(http.engine) as s:
        before = head_size(s)
    start = threading.Barrier(CLIENTS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def take() -> None:
        start.wait()
        with Session(http.engine) as s:
            try:
                done = accept_offer(
                    s,
                    registry=http.registry,
                    actor=dye.participant,
                    offer_id=offer_id,
                    signed_by=Consent.custody(dye.party, dye.key),
                    now=http.registry.clock(),
                )
                s.commit()
                outcome = f"applied {done.seq}"
            except DomainError as exc:
                s.rollback()
                outcome = exc.code
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=take) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    counts = Counter(o.split(" ")[0] for o in outcomes)
    assert len(outcomes) == CLIENTS
    assert counts["applied"] == 1, counts
    assert set(counts) <= {"applied", "trade_offer_not_pending"}, counts
    with Session(http.engine) as s:
        assert head_size(s) == before + 1  # one trade record, nothing half-applied
        assert get_offer(s, actor=dye.participant, offer_id=offer_id).status.value == "accepted"
