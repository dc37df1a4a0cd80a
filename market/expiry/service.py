"""The expiry run (有效期届满): rights and quotas whose lot validity ended are swept into the
retirement account of their jurisdiction's bureau, as ordinary journal records sealed by the registry.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from accounts.identifiers import account_id
from accounts.model import Participant
from accounts.permissions import Action, Target, authorize
from accounts.service import pinned_registry
from ledger.errors import InvalidInput
from ledger.model import Lot, Posting, TxBody
from ledger.rules import AccountInfo
from ledger.service import (
    Balance,
    Instruction,
    Receipt,
    Registry,
    balances,
    find_account,
    new_nonce,
    submit_all,
)
from ledger.units import instrument

__all__ = ["EXPIRY_ACTION", "ExpiredPosition", "ExpiryReport", "run_expiry"]

EXPIRY_ACTION = "expiry"  # the one action the ledger lets move expired units, unsigned by holders
_CHUNK = 200  # positions per record: bounded record size however many positions expire at once


@dataclass(frozen=True, slots=True)
class ExpiredPosition:
    """One expired position: ``swept_kg`` moved to ``retirement``; ``held_kg`` left in place
    because a pledge or escrow holds it (the ledger never moves held units without its controller)."""

    account: str
    instrument: str
    lot: Lot
    swept_kg: int
    held_kg: int
    retirement: str | None


@dataclass(frozen=True, slots=True)
class ExpiryReport:
    """What a run did: positions swept, positions (partly) left because held, positions left
    because their jurisdiction has no retirement account, and the records written."""

    as_of: date
    swept: tuple[ExpiredPosition, ...]
    held: tuple[ExpiredPosition, ...]
    unswept: tuple[ExpiredPosition, ...]
    receipts: tuple[Receipt, ...]


class _Accounts:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[str, AccountInfo | None] = {}

    def get(self, account: str) -> AccountInfo | None:
        if account not in self.cache:
            self.cache[account] = find_account(self.session, account=account)
        return self.cache[account]


def _expired(b: Balance, today: date, accounts: _Accounts) -> ExpiredPosition | None:
    lot = Lot.from_key(b.lot)
    if not instrument(b.instrument).has_validity:
        return None  # credits and money do not expire (and serialized credits move only with their serials)
    if lot.valid_until is None or lot.valid_until >= today or b.total <= 0:
        return None
    info = accounts.get(b.account)
    if info is None or info.kind.may_be_negative or not info.kind.may_send:
        return None  # cap accounts run negative; retirement accounts are already the end
    retirement = None
    if lot.jurisdiction is not None:
        candidate = account_id(f"bureau:{lot.jurisdiction}", "retirement")
        retirement = candidate if accounts.get(candidate) is not None else None
    return ExpiredPosition(b.account, b.instrument, lot, b.total - b.held, b.held, retirement)


def _sweep_body(positions: list[ExpiredPosition], retirement: str, today: date) -> TxBody:
    postings = [Posting(p.account, p.instrument, p.lot, -p.swept_kg) for p in positions]
    totals: dict[tuple[str, Lot], int] = defaultdict(int)
    for p in positions:
        totals[(p.instrument, p.lot)] += p.swept_kg
    postings += [Posting(retirement, code, lot, amount) for (code, lot), amount in totals.items()]
    meta = {"as_of": today.isoformat(), "rule": "validity ended (有效期届满): expired units are retired"}
    return TxBody(EXPIRY_ACTION, new_nonce(), tuple(postings), meta=meta)


def run_expiry(
    session: Session, *, registry: Registry, today: date | None = None, actor: Participant | None = None
) -> ExpiryReport:
    """Sweep every position whose lot is valid until a day before ``today`` (default: the
    journal's today) into ``bureau:<J>.retirement`` with action ``expiry``.

    No holder signs: the ledger lets an expiry record move only expired units, only into
    retirement accounts. Held (pledged, escrowed) units cannot be swept, so only the free part
    of a held position moves and the position is reported. ``actor`` None is the registry's own
    scheduled job; a participant may start a run only as the operator. Running twice sweeps
    nothing the second time.
    """
    if actor is not None:
        authorize(actor, Action.RUN_EXPIRY, Target())  # the permission table: the operator only
    pinned, now = pinned_registry(session, registry=registry)  # lock first: the read is what gets swept
    as_of = now.date() if today is None else today
    if as_of > now.date():
        raise InvalidInput(f"cannot expire as of {as_of}: the journal's today is {now.date()}", field="today")
    accounts = _Accounts(session)
    found = [p for b in balances(session) if (p := _expired(b, as_of, accounts)) is not None]
    by_retirement: dict[str, list[ExpiredPosition]] = defaultdict(list)
    for p in found:
        if p.retirement is not None and p.swept_kg > 0:
            by_retirement[p.retirement].append(p)
    bodies = [
        _sweep_body(group[i : i + _CHUNK], retirement, as_of)
        for retirement, group in sorted(by_retirement.items())
        for i in range(0, len(group), _CHUNK)
    ]
    receipts = submit_all(session, [Instruction(b) for b in bodies], registry=pinned) if bodies else []
    return ExpiryReport(
        as_of=as_of,
        swept=tuple(p for p in found if p.retirement is not None and p.swept_kg > 0),
        held=tuple(p for p in found if p.held_kg > 0),
        unswept=tuple(p for p in found if p.retirement is None),
        receipts=tuple(receipts),
    )
