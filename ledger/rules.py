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
from typing import TYPE_CHECKING, Literal, Protocol

from ledger.auction_book import AuctionBook, AuctionChange
from ledger.auction_rules import check_auction
from ledger.control_rules import check_controls
from ledger.controls import Controls, RegistryControls
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
from ledger.federation_rules import FEDERATION_ACTIONS, check_federation
from ledger.household_rules import HOUSEHOLD_ACTIONS, HouseholdChange, check_households
from ledger.households import Attribution, Roster
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
from ledger.movement_rules import TypedMovement
from ledger.movements import MOVEMENTS, RULE_SETS, Movement
from ledger.pledge_terms import PLEDGE_REGISTER, PledgeLoan, check_registration, has_signed_terms

if TYPE_CHECKING:
    from ledger.forced_sale import ForcedClaim

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
    def find_controls(self, party: str) -> Controls | None: ...
    def registry_controls(self) -> RegistryControls: ...
    def find_pledge_loan(self, pledge_id: str) -> PledgeLoan | None: ...
    def find_claim(self, pledge_id: str) -> ForcedClaim | None: ...
    def find_roster(self, roster: str) -> Roster | None: ...
    def find_attribution(self, batch: str) -> Attribution | None: ...
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
    # a control record (ledger.controls): the party's controls from the next record on
    controls: tuple[str, Controls | RegistryControls] | None = None
    pledge_loan: tuple[str, PledgeLoan] | None = None  # a pledge registration's signed loan, by pledge id
    claim: ForcedClaim | None = (
        None  # a forced sale's claim as it stands after the record (ledger.forced_sale)
    )
    household: HouseholdChange | None = None  # a roster confirmed, or a batch attributed (ledger.households)


def apply(body: Body, view: LedgerView, at: datetime) -> Effect:
    """Check ``body`` against every ledger rule at instant ``at`` and return its effect.

    Raises the specific domain error of the first rule broken; the view is never changed.
    """
    if isinstance(body, TxBody):
        effect = check_controls(body, view, at, _Tx(body, view, at).run())
        return check_auction(body, view, at, effect)
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
            TypedMovement(self, self.movement()).check()
            if self.body.action in FEDERATION_ACTIONS:
                check_federation(self)  # the citation of the other journal's record (ledger.federation_rules)
        self.collect_signers()
        if self.body.action == PLEDGE_REGISTER and (self.view.rule_set >= 2 or has_signed_terms(self.body)):
            check_registration(self.body, self.view, self.at)  # its loan terms and the bureau's approval
            self.effect.pledge_loan = (self.body.meta["pledge"], PledgeLoan.parse(self.body.meta["loan"]))
        if self.body.action in HOUSEHOLD_ACTIONS:
            check_households(self.body, self.view, self.effect)  # roster, attribution, split of proceeds
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
