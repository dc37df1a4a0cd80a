"""The ledger's rules as one pure function: apply a body to a view of the state.

The live service (with a view loaded from the database) and the auditor's replay (with a
view held in memory) call the same ``apply``, so replay reproduces live balances by
construction, and every refusal is the same refusal in both places.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal, Protocol

from ledger.auction_book import AuctionBook, AuctionChange
from ledger.auction_rules import check_auction
from ledger.crypto import TAG_BODY, verify
from ledger.errors import (
    AccountCannotSend,
    BadSignature,
    CustodyNotHeld,
    DuplicateAccount,
    DuplicateHold,
    DuplicateKey,
    DuplicateParty,
    DuplicateSignature,
    ExpiredUnits,
    HoldNotOpen,
    HoldNotPermitted,
    InsufficientBalance,
    InvalidInput,
    InvalidQuantity,
    KeyNotValid,
    MissingSignature,
    MovementNotAllowed,
    UnitsEncumbered,
    UnknownAccount,
    UnknownHold,
    UnknownKey,
    UnknownParty,
    UnknownRuleSet,
    WrongJurisdiction,
)
from ledger.model import (
    REGISTRY,
    AccountKind,
    AdoptRules,
    BalanceKey,
    Body,
    Genesis,
    HoldPlace,
    HoldSettle,
    Lot,
    OpenAccount,
    RegisterKey,
    RegisterParty,
    RevokeKey,
    Signature,
    TxBody,
)
from ledger.movements import KIND_INSTRUMENTS, MOVEMENTS, RULE_SETS, Movement, Signer
from ledger.pledge_terms import PLEDGE_REGISTER, check_registration, has_signed_terms
from ledger.units import instrument

__all__ = [
    "AccountInfo",
    "Effect",
    "Hold",
    "KeyInfo",
    "LedgerView",
    "PartyInfo",
    "Position",
    "apply",
    "check_signatures",
]


@dataclass(frozen=True, slots=True)
class Position:
    """Units of one lot in one account: ``total`` owned, of which ``held`` are encumbered."""

    total: int = 0
    held: int = 0

    @property
    def available(self) -> int:
        return self.total - self.held


@dataclass(frozen=True, slots=True)
class AccountInfo:
    id: str
    owner: str
    kind: AccountKind


@dataclass(frozen=True, slots=True)
class PartyInfo:
    """What the rules read of a party: its role and the jurisdiction (division code) it belongs to."""

    id: str
    role: str
    jurisdiction: str | None

    @classmethod
    def of(cls, party: str, role: str, profile: dict[str, object]) -> PartyInfo:
        jurisdiction = profile.get("jurisdiction")
        return cls(party, role, jurisdiction if isinstance(jurisdiction, str) else None)


@dataclass(frozen=True, slots=True)
class Hold:
    id: str
    account: str
    instrument: str
    lot_key: str
    amount: int  # still held
    reason: str
    controller: str
    status: Literal["open", "released", "captured"] = "open"

    @property
    def key(self) -> BalanceKey:
        return (self.account, self.instrument, self.lot_key)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    party: str
    key_id: str
    public_key: bytes
    valid_from: datetime
    revoked_at: datetime | None = None
    custody: bool = False  # its key.register record says the registry holds it

    def valid_at(self, moment: datetime) -> bool:
        return self.valid_from <= moment and (self.revoked_at is None or moment < self.revoked_at)


class LedgerView(Protocol):
    """What ``apply`` may read: the state just before the record."""

    def find_account(self, account_id: str) -> AccountInfo | None: ...
    def position(self, key: BalanceKey) -> Position: ...
    def find_hold(self, hold_id: str) -> Hold | None: ...
    def has_party(self, party: str) -> bool: ...
    def find_key(self, key_id: str) -> KeyInfo | None: ...
    def find_party(self, party: str) -> PartyInfo | None: ...
    def bureau_of(self, jurisdiction: str) -> str | None: ...
    def find_auction(self, auction_id: str) -> AuctionBook | None: ...
    @property
    def rule_set(self) -> int: ...


@dataclass
class Effect:
    """What a record changes; the caller writes it (to tables, or to memory)."""

    positions: dict[BalanceKey, Position] = field(default_factory=dict)
    holds: dict[str, Hold] = field(default_factory=dict)
    account: AccountInfo | None = None
    party: RegisterParty | None = None
    key: KeyInfo | None = None
    required_signers: set[str] = field(default_factory=set)
    rule_set: int | None = None  # a ``rules.adopt`` record: the rule set from the next record on
    auction: AuctionChange | None = None  # an auction record: opened, a bid, or closed (ledger.auction_rules)


def apply(body: Body, view: LedgerView, at: datetime) -> Effect:
    """Check ``body`` against every ledger rule at instant ``at`` and return its effect.

    Raises the specific domain error of the first rule broken; the view is never changed.
    """
    if isinstance(body, TxBody):
        return check_auction(body, view, at, _Tx(body, view, at).run())
    if isinstance(body, RegisterParty):
        if view.has_party(body.party):
            raise DuplicateParty(f"party {body.party} is already registered", party=body.party)
        if view.rule_set >= 2 and body.role == "bureau":
            _check_new_bureau(body, view)
        return Effect(party=body)
    if isinstance(body, AdoptRules):
        if body.version not in RULE_SETS or body.version <= view.rule_set:
            raise UnknownRuleSet(
                f"rule set {body.version} cannot follow rule set {view.rule_set} "
                f"(known: {', '.join(map(str, sorted(RULE_SETS)))})",
                field="body.version",
                version=body.version,
                in_force=view.rule_set,
            )
        return Effect(rule_set=body.version)
    if isinstance(body, OpenAccount):
        if view.find_account(body.account) is not None:
            raise DuplicateAccount(f"account {body.account} already exists", account=body.account)
        if not view.has_party(body.owner):
            raise UnknownParty(f"owner {body.owner} is not a registered party", party=body.owner)
        return Effect(account=AccountInfo(body.account, body.owner, body.kind))
    if isinstance(body, RegisterKey):
        if not view.has_party(body.party):
            raise UnknownParty(f"party {body.party} is not registered", party=body.party)
        if view.find_key(body.key_id) is not None:
            raise DuplicateKey(f"key {body.key_id} is already registered", key_id=body.key_id)
        return Effect(
            key=KeyInfo(body.party, body.key_id, body.public_key, body.valid_from, custody=body.custody)
        )
    if isinstance(body, RevokeKey):
        return Effect(key=_revoked(body, view, at))
    if isinstance(body, Genesis):
        return Effect(
            party=RegisterParty(REGISTRY, "registry", {"name": body.name}, body.nonce),
            key=KeyInfo(REGISTRY, body.key_id, body.public_key, at),
        )
    raise TypeError(f"unhandled body {type(body).__name__}")


def _check_new_bureau(body: RegisterParty, view: LedgerView) -> None:
    """A bureau answers for one jurisdiction, and a jurisdiction has one bureau: the rules ask
    "the bureau of this lot's jurisdiction" and must get one answer."""
    info = PartyInfo.of(body.party, body.role, body.profile)
    if info.jurisdiction is None:
        raise WrongJurisdiction(
            "a bureau's profile names its jurisdiction", field="body.profile.jurisdiction"
        )
    other = view.bureau_of(info.jurisdiction)
    if other is not None:
        raise WrongJurisdiction(
            f"jurisdiction {info.jurisdiction} already has a bureau, {other}",
            field="body.profile.jurisdiction",
            bureau=other,
        )


def _revoked(body: RevokeKey, view: LedgerView, at: datetime) -> KeyInfo:
    key = view.find_key(body.key_id)
    if key is None or key.party != body.party:
        raise UnknownKey(f"{body.party} has no key {body.key_id}", key_id=body.key_id)
    if key.revoked_at is not None:
        raise KeyNotValid(f"key {body.key_id} is already revoked", key_id=body.key_id)
    effective = at if body.revoked_at is None else body.revoked_at
    if effective < at:
        # Backdating would silently invalidate records already accepted under the key.
        raise InvalidInput("revoked_at cannot be earlier than now", field="body.revoked_at")
    return replace(key, revoked_at=effective)


class _Tx:
    """One transaction's application: settle holds, post, place holds, then check."""

    def __init__(self, body: TxBody, view: LedgerView, at: datetime) -> None:
        self.body, self.view, self.at = body, view, at
        self.effect = Effect(required_signers=set(body.signers))
        self.accounts: dict[str, AccountInfo] = {}
        self.captured: dict[BalanceKey, int] = defaultdict(int)
        self.net: dict[BalanceKey, int] = defaultdict(int)

    def account(self, account_id: str, field: str) -> AccountInfo:
        info = self.accounts.get(account_id) or self.view.find_account(account_id)
        if info is None:
            raise UnknownAccount(f"no account {account_id}", account=account_id, field=field)
        self.accounts[account_id] = info
        return info

    def position(self, key: BalanceKey) -> Position:
        return self.effect.positions.get(key) or self.view.position(key)

    def hold(self, hold_id: str) -> Hold | None:
        return self.effect.holds.get(hold_id) or self.view.find_hold(hold_id)

    def check_not_expired(self, lot: Lot, field: str) -> None:
        if lot.valid_until is not None and lot.valid_until < self.at.date() and self.body.action != "expiry":
            raise ExpiredUnits(
                f"units valid until {lot.valid_until} have expired; only an expiry run moves them",
                field=field,
                valid_until=lot.valid_until.isoformat(),
            )

    def run(self) -> Effect:
        for i, op in enumerate(self.body.holds):
            if isinstance(op, HoldSettle):
                self.settle(op, f"holds[{i}]")
        for i, p in enumerate(self.body.postings):
            info = self.account(p.account, f"postings[{i}].account")
            if p.amount < 0:
                if not info.kind.may_send:
                    raise AccountCannotSend(
                        f"{p.account} is a {info.kind.value} account; its units never move again",
                        account=p.account,
                        field=f"postings[{i}].account",
                    )
                self.check_not_expired(p.lot, f"postings[{i}].lot")
            cur = self.position(p.key)
            self.effect.positions[p.key] = Position(cur.total + p.amount, cur.held)
            self.net[p.key] += p.amount
        for i, op in enumerate(self.body.holds):
            if isinstance(op, HoldPlace):
                self.place(op, f"holds[{i}]")
        self.check_positions()
        if self.view.rule_set >= 2:
            _Typed(self, self.movement()).check()
        self.collect_signers()
        if self.body.action == PLEDGE_REGISTER and (self.view.rule_set >= 2 or has_signed_terms(self.body)):
            check_registration(self.body, self.view, self.at)  # its loan terms and the bureau's approval
        return self.effect

    def movement(self) -> Movement:
        found = MOVEMENTS.get(self.body.action)
        if found is None:
            raise MovementNotAllowed(
                f"{self.body.action!r} is not a body type of this registry", field="body.action"
            )
        return found

    def settle(self, op: HoldSettle, field: str) -> None:
        hold = self.hold(op.hold)
        if hold is None:
            raise UnknownHold(f"no hold {op.hold}", hold=op.hold, field=f"{field}.hold")
        if hold.status != "open":
            raise HoldNotOpen(f"hold {op.hold} is {hold.status}", hold=op.hold, field=f"{field}.hold")
        if op.amount > hold.amount:
            raise InvalidQuantity(
                f"hold {op.hold} has {hold.amount} left, cannot {op.op} {op.amount}",
                field=f"{field}.amount",
            )
        left = hold.amount - op.amount
        status: Literal["open", "released", "captured"] = (
            "open" if left else ("captured" if op.op == "capture" else "released")
        )
        self.effect.holds[hold.id] = replace(hold, amount=left, status=status)
        cur = self.position(hold.key)
        self.effect.positions[hold.key] = Position(cur.total, cur.held - op.amount)
        if op.op == "capture":
            self.captured[hold.key] += op.amount
        self.effect.required_signers.add(hold.controller)

    def place(self, op: HoldPlace, field: str) -> None:
        info = self.account(op.account, f"{field}.account")
        if info.kind.may_be_negative or not info.kind.may_send:
            raise HoldNotPermitted(
                f"units in a {info.kind.value} account cannot be held", field=f"{field}.account"
            )
        if not self.view.has_party(op.controller):
            # A hold nobody can release would lock the units for good.
            raise UnknownParty(
                f"hold controller {op.controller} is not a registered party", field=f"{field}.controller"
            )
        if self.hold(op.hold) is not None:
            raise DuplicateHold(f"hold {op.hold} already exists", hold=op.hold, field=f"{field}.hold")
        self.check_not_expired(op.lot, f"{field}.lot")
        cur = self.position(op.key)
        self.effect.positions[op.key] = Position(cur.total, cur.held + op.amount)
        self.effect.holds[op.hold] = Hold(
            op.hold, op.account, op.instrument, op.lot.key(), op.amount, op.reason, op.controller
        )
        self.effect.required_signers.add(info.owner)

    def check_positions(self) -> None:
        for key, pos in self.effect.positions.items():
            info = self.accounts.get(key[0]) or self.account(key[0], "postings")
            if info.kind.may_be_negative:
                continue
            if pos.total < 0:
                before = self.view.position(key)
                raise InsufficientBalance(
                    f"{key[0]} has {before.available} {key[1]} available in lot {key[2] or '-'}, "
                    f"needs {before.available - pos.total + pos.held}",
                    account=key[0],
                    instrument=key[1],
                    lot=key[2],
                    available=before.available,
                )
            if pos.held > pos.total:
                raise UnitsEncumbered(
                    f"{pos.held} of {key[0]}'s {key[1]} in lot {key[2] or '-'} are held "
                    f"(pledge or escrow) and cannot be moved",
                    account=key[0],
                    instrument=key[1],
                    lot=key[2],
                    held=pos.held,
                    total=pos.total,
                )

    def collect_signers(self) -> None:
        """Consent: owners of debited units, unless the debit captures a hold they granted,
        or the units have expired and an expiry run (sealed by the registry) sweeps them."""
        if self.body.action == "expiry":
            self.check_expiry_sweep()
            return
        for key, amount in self.net.items():
            if amount < 0 and -amount > self.captured.get(key, 0):
                self.effect.required_signers.add(self.accounts[key[0]].owner)
        self.effect.required_signers.discard(REGISTRY)

    def check_expiry_sweep(self) -> None:
        """An expiry run moves only expired, unheld units, and only into retirement accounts."""
        for i, p in enumerate(self.body.postings):
            expired = p.lot.valid_until is not None and p.lot.valid_until < self.at.date()
            if not expired:
                raise InvalidInput(
                    "an expiry run moves only units past their validity end", field=f"postings[{i}].lot"
                )
            if p.amount > 0 and self.accounts[p.account].kind is not AccountKind.RETIREMENT:
                raise InvalidInput(
                    "an expiry run moves units into a retirement account only", field=f"postings[{i}].account"
                )
        if self.body.holds:
            raise InvalidInput("an expiry run places or settles no holds", field="holds")
        self.effect.required_signers.discard(REGISTRY)


class _Typed:
    """Rule set 2: the record moves only what its body type may move (``ledger.movements``)."""

    def __init__(self, tx: _Tx, movement: Movement) -> None:
        self.tx, self.m = tx, movement
        self.action = tx.body.action
        self.jurisdictions: set[str] = set()

    def party(self, party: str) -> PartyInfo:
        info = self.tx.view.find_party(party)
        if info is None:
            raise UnknownParty(f"owner {party} is not a registered party", party=party)
        return info

    def check(self) -> None:
        for i, p in enumerate(self.tx.body.postings):
            self.posting(i, p.account, p.instrument, p.lot, p.amount)
        for i, op in enumerate(self.tx.body.holds):
            self.hold(i, op)
        if self.m.captured_only:
            self.check_captured()
        required = self.tx.effect.required_signers
        if Signer.LOT_BUREAUS in self.m.signers:
            for jurisdiction in sorted(self.jurisdictions):
                bureau = self.tx.view.bureau_of(jurisdiction)
                if bureau is None:
                    raise WrongJurisdiction(
                        f"jurisdiction {jurisdiction} has no bureau to approve a {self.action}",
                        field="body",
                        jurisdiction=jurisdiction,
                    )
                required.add(bureau)

    def check_captured(self) -> None:
        for i, p in enumerate(self.tx.body.postings):
            if p.amount < 0 and -self.tx.net[p.key] > self.tx.captured.get(p.key, 0):
                raise MovementNotAllowed(
                    f"a {self.action} moves only units a hold of this record captures",
                    field=f"postings[{i}].amount",
                )

    def posting(self, i: int, account: str, code: str, lot: Lot, amount: int) -> None:
        field = f"postings[{i}].account"
        info = self.tx.accounts[account]
        inst = instrument(code)
        if inst.kind not in KIND_INSTRUMENTS[info.kind]:
            raise MovementNotAllowed(
                f"a {info.kind.value} account cannot hold {code}", field=field, account=account
            )
        owner = self.party(info.owner)
        side, legs = ("debit", self.m.debits) if amount < 0 else ("credit", self.m.credits)
        leg = next((g for g in legs if g.admits(info.kind, owner.role, inst.kind)), None)
        if leg is None:
            raise MovementNotAllowed(
                f"a {self.action} may not {side} {code} in the {info.kind.value} account of a {owner.role} "
                f"({account})",
                field=field,
                account=account,
                action=self.action,
            )
        if inst.scoped_to_jurisdiction:
            if lot.jurisdiction is None:  # the parser refuses it; a body built in code must not slip by
                raise WrongJurisdiction(f"{code} units belong to a jurisdiction", field=f"postings[{i}].lot")
            self.jurisdictions.add(lot.jurisdiction)
            if leg.home and owner.jurisdiction != lot.jurisdiction:
                raise WrongJurisdiction(
                    f"{code} of jurisdiction {lot.jurisdiction} cannot be in {account} of "
                    f"{owner.jurisdiction or 'no jurisdiction'} by a {self.action}; units change "
                    f"jurisdiction only in a cross-city settlement both bureaus approve",
                    field=field,
                    account=account,
                    lot_jurisdiction=lot.jurisdiction,
                    owner_jurisdiction=owner.jurisdiction,
                )
        if amount > 0 and info.kind in (AccountKind.RESERVE, AccountKind.ISSUANCE):
            # A cap (总量控制) or a reserve grows only with its bureau's consent.
            self.tx.effect.required_signers.add(info.owner)

    def hold(self, i: int, op: HoldPlace | HoldSettle) -> None:
        if op.op not in self.m.holds:
            raise MovementNotAllowed(f"a {self.action} may not {op.op} a hold", field=f"holds[{i}].op")
        if not isinstance(op, HoldPlace):
            return
        info = self.tx.accounts[op.account]
        if info.kind not in self.m.hold_kinds:
            raise MovementNotAllowed(
                f"a {self.action} may not hold units in a {info.kind.value} account",
                field=f"holds[{i}].account",
            )
        if instrument(op.instrument).scoped_to_jurisdiction:
            if op.lot.jurisdiction is None:
                raise WrongJurisdiction(
                    f"{op.instrument} units belong to a jurisdiction", field=f"holds[{i}].lot"
                )
            self.jurisdictions.add(op.lot.jurisdiction)
        if Signer.HOLD_CONTROLLER in self.m.signers:
            self.tx.effect.required_signers.add(op.controller)


def check_signatures(
    body_bytes: bytes,
    signatures: Sequence[Signature],
    required: set[str],
    view: LedgerView,
    at: datetime,
) -> None:
    """Every signature verifies under a key valid at ``at``; every required party signed. From rule
    set 2 on, also: no party (and no signature) twice, and ``custody`` only on a key whose
    ``key.register`` record says the registry holds it (journals of rule set 1 replay as written)."""
    signed: set[str] = set()
    strict = view.rule_set >= 2
    for i, s in enumerate(signatures):
        if strict and (s.party in signed or any(s.sig == other.sig for other in signatures[:i])):
            raise DuplicateSignature(
                f"signatures[{i}] repeats a party ({s.party}) or a signature already on this body",
                party=s.party,
                field=f"signatures[{i}]",
            )
        key = view.find_key(s.key_id)
        if key is None or key.party != s.party:
            raise UnknownKey(
                f"{s.party} has no key {s.key_id}", key_id=s.key_id, field=f"signatures[{i}].key_id"
            )
        if not key.valid_at(at):
            raise KeyNotValid(
                f"key {s.key_id} of {s.party} is not valid at {at.isoformat()}"
                + (" (revoked)" if key.revoked_at and key.revoked_at <= at else " (not yet valid)"),
                key_id=s.key_id,
                field=f"signatures[{i}].key_id",
            )
        if strict and s.custody and not key.custody:
            raise CustodyNotHeld(
                f"{s.party}'s key {s.key_id} is not held by the registry: its signature cannot say custody",
                key_id=s.key_id,
                field=f"signatures[{i}].custody",
            )
        if not verify(key.public_key, TAG_BODY, body_bytes, s.sig):
            raise BadSignature(
                f"signature of {s.party} does not verify", party=s.party, field=f"signatures[{i}].sig"
            )
        signed.add(s.party)
    missing = sorted(required - signed)
    if missing:
        raise MissingSignature(
            f"needs the signature of {', '.join(missing)}", field="signatures", missing=missing
        )
