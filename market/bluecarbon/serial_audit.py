"""The serial book as a replay plug-in: the auditor's replay rebuilds which account holds which serials,
record by record, and fails at the first record that moves serials it cannot (``serials.SerialBook``).
"""

from __future__ import annotations

from typing import Any

from ledger.errors import DomainError
from ledger.model import AccountKind, TxBody, parse_body
from ledger.replay import ReplayFailure
from ledger.state import LedgerState
from market.bluecarbon.serials import SerialBook, serialized

__all__ = ["SerialAudit"]


class SerialAudit:
    """A ``ledger.replay.RecordCheck`` that holds the serial book a replay rebuilds: the same book
    ``serials.replay_serials`` builds from the bodies, fed every transaction in journal order.

    Stateful: make one per replay, never share one between runs.
    """

    def __init__(self) -> None:
        self.book = SerialBook()
        self.records = 0  # transactions that moved serialized credits

    def __call__(self, seq: int, body: dict[str, Any], state: LedgerState) -> ReplayFailure | None:
        postings = body.get("postings")
        if not isinstance(postings, list) or not any(
            isinstance(p, dict) and serialized(str(p.get("instrument"))) for p in postings
        ):
            return None
        try:
            tx = parse_body(body)  # replay parsed it strictly already; typed again only for these records
            if not isinstance(tx, TxBody):
                return None
            # Sinks from the replay's own accounts: a debited account exists before its record, and an
            # account's kind never changes, so this is the set replay_serials builds from account.open.
            for p in tx.postings:
                info = state.find_account(p.account)
                if info is not None and info.kind is AccountKind.RETIREMENT:
                    self.book.sinks.add(p.account)
            self.book.apply_body(tx)
        except DomainError as exc:
            return ReplayFailure(seq, exc.code, exc.message, dict(exc.details))
        self.records += 1
        return None

    def summary_line(self) -> tuple[str, str]:
        """What the audit summary says was rebuilt: batches, serials, and where they are."""
        minted = sum(r.tonnes for r in self.book.minted.values())
        blocks = self.book.blocks()
        retired = sum(b.tonnes for b in blocks if b.account in self.book.sinks)
        batches = len(self.book.minted)
        return (
            "serials",
            f"{minted:,} serials of {batches:,} batch{'' if batches == 1 else 'es'} rebuilt over "
            f"{self.records:,} records: {len(blocks):,} blocks, {retired:,} retired",
        )
