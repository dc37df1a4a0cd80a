"""Who may do what: one table from (role, action) to the rules that must hold, and ``authorize``,
the single place every handler asks. Every refusal names its rule.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from accounts.errors import PermissionDenied
from accounts.identifiers import covers
from accounts.model import Participant, Role
from ledger.model import (
    REGISTRY,
    Body,
    Genesis,
    HoldPlace,
    OpenAccount,
    RegisterKey,
    RegisterParty,
    RevokeKey,
    Signature,
    TxBody,
)

__all__ = [
    "RULES",
    "Action",
    "Directory",
    "Rule",
    "Target",
    "authorize",
    "denied",
    "participant_visible",
    "party_target",
    "rules_for",
    "target_of",
]


class Action(StrEnum):
    ISSUE_RIGHTS = "issue_rights"
    ISSUE_CREDITS = "issue_credits"
    BUY_BACK_RESERVE = "buy_back_reserve"
    OPEN_AUCTION = "open_auction"
    APPROVE_CROSS_CITY = "approve_cross_city"
    REGISTER_PLEDGE = "register_pledge"
    RELEASE_PLEDGE = "release_pledge"
    ENFORCE_PLEDGE = "enforce_pledge"
    TRANSFER_UNITS = "transfer_units"
    RETIRE_UNITS = "retire_units"
    BID = "bid"
    READ_JOURNAL = "read_journal"
    READ_ACCOUNT = "read_account"
    REGISTER_KEY = "register_key"
    REVOKE_KEY = "revoke_key"
    REGISTER_PARTICIPANT = "register_participant"
    MANAGE_CREDENTIALS = "manage_credentials"  # issue an API key (which acts as its party)
    ADMINISTER_CREDENTIALS = "administer_credentials"  # list and revoke them
    RUN_EXPIRY = "run_expiry"
    POST_NEED = "post_need"
    REGISTER_PROJECT = "register_project"
    SUBMIT_MONITORING = "submit_monitoring"

    @property
    def writes(self) -> bool:
        return self not in (Action.READ_JOURNAL, Action.READ_ACCOUNT)


@dataclass(frozen=True, slots=True)
class Target:
    """What an action touches, as the registry's records describe it.

    ``owners``: parties whose units are debited or held, or whose keys, account or credentials
    it is; ``jurisdictions``: the divisions those owners and the units' lots belong to;
    ``destinations``: divisions of the owners of credited accounts; ``consents``: parties whose
    signatures the request carries; ``controllers``: controllers of the holds it places or
    settles; ``unresolved``: ids the registry does not know (nothing can be shown to be yours).
    """

    owners: frozenset[str] = frozenset()
    jurisdictions: frozenset[str] = frozenset()
    destinations: frozenset[str] = frozenset()
    consents: frozenset[str] = frozenset()
    controllers: frozenset[str] = frozenset()
    unresolved: frozenset[str] = frozenset()
    placeless: frozenset[str] = frozenset()  # owners with no jurisdiction (operator, auditor, ...)


@dataclass(frozen=True, slots=True)
class Rule:
    """A named condition on (actor, target); ``describe`` says what it demands."""

    name: str
    describe: str
    holds: Callable[[Participant, Target], bool]


def _only_own(actor: Participant, t: Target) -> bool:
    return not t.unresolved and t.owners == {actor.party}


def _in_own_jurisdiction(actor: Participant, t: Target) -> bool:
    return (
        actor.jurisdiction is not None
        and not t.unresolved
        and not t.placeless
        and t.jurisdictions == {actor.jurisdiction}
    )


def _either_side(actor: Participant, t: Target) -> bool:
    return not t.unresolved and actor.jurisdiction in t.jurisdictions | t.destinations


def _owner_consents(_: Participant, t: Target) -> bool:
    return not t.unresolved and bool(t.owners) and t.owners <= t.consents


def _controls(actor: Participant, t: Target) -> bool:
    return not t.unresolved and t.controllers == {actor.party}


def _visible(actor: Participant, t: Target) -> bool:
    if t.unresolved or not t.owners:
        return False
    if t.owners == {actor.party}:
        return True
    return (
        actor.role is Role.BUREAU
        and actor.jurisdiction is not None
        and bool(t.jurisdictions)
        and all(covers(actor.jurisdiction, j) for j in t.jurisdictions)
    )


def _never(_: Participant, __: Target) -> bool:
    return False


BUREAU_OWN_JURISDICTION = Rule(
    "bureau_own_jurisdiction",
    "a bureau acts only on units and accounts of its own jurisdiction",
    _in_own_jurisdiction,
)
BUREAU_PARTY_TO_CROSS_CITY = Rule(
    "bureau_party_to_cross_city",
    "a cross-city transfer is approved only by the bureau of its source or destination",
    _either_side,
)
OWN_UNITS_ONLY = Rule("own_units_only", "a participant moves only units in its own accounts", _only_own)
OWN_KEYS_ONLY = Rule("own_keys_only", "a participant manages only its own signing keys", _only_own)
OWN_CREDENTIALS_ONLY = Rule(
    "own_credentials_only", "a participant manages only its own API credentials", _only_own
)
PLEDGE_NEEDS_OWNER_CONSENT = Rule(
    "pledge_needs_owner_consent",
    "a pledge is registered only with the signed consent of the owner of the pledged units",
    _owner_consents,
)
PLEDGE_UNDER_OWN_CONTROL = Rule(
    "pledge_under_own_control", "a bank registers pledges only under its own control", _controls
)
PLEDGE_CONTROLLER_ONLY = Rule(
    "pledge_controller_only", "only the bank that controls a pledge releases or enforces it", _controls
)
ACCOUNT_VISIBILITY = Rule(
    "account_visibility",
    "an account is visible to its owner, auditors, the operator and the bureaus over its jurisdiction",
    _visible,
)
OWN_NEEDS_ONLY = Rule(
    "own_needs_only", "an enterprise posts needs on the demand list only for itself", _only_own
)
OWN_PROJECT_ONLY = Rule(
    "own_project_only",
    "a participant registers projects and reports monitoring data only as the project's owner",
    _only_own,
)
AUDITOR_WRITES_NOTHING = Rule(
    "auditor_writes_nothing", "an auditor reads everything and writes nothing", _never
)
JOURNAL_READERS_ONLY = Rule(
    "journal_readers_only", "the whole journal is read only by auditors and the registry operator", _never
)
NOT_GRANTED = Rule("action_not_granted_to_role", "this role is not granted this action", _never)

_A = Action
_OWN = (OWN_UNITS_ONLY,)
_KEYS = {_A.REGISTER_KEY: (OWN_KEYS_ONLY,), _A.REVOKE_KEY: (OWN_KEYS_ONLY,)}
_SELF_SERVICE = {
    **_KEYS,
    _A.MANAGE_CREDENTIALS: (OWN_CREDENTIALS_ONLY,),
    _A.ADMINISTER_CREDENTIALS: (OWN_CREDENTIALS_ONLY,),
    _A.READ_ACCOUNT: (ACCOUNT_VISIBILITY,),
}
_PROJECT_OWNER = {_A.REGISTER_PROJECT: (OWN_PROJECT_ONLY,), _A.SUBMIT_MONITORING: (OWN_PROJECT_ONLY,)}

# Decisions recorded here:
# - A bureau *writes* only in exactly its own jurisdiction: the province (330000) and a city do not
#   issue, buy back, auction or approve in a county's name (each jurisdiction's total quantity
#   control is its own). A bureau *reads* the accounts of its jurisdiction and of the divisions
#   below it (Ningbo reads Yuyao, the province reads all): supervision, not action.
# - A cross-city transfer is approved by the bureau of either side; the workflow collects both.
# - The whole journal is everyone's data, so only auditors and the registry operator read it;
#   a participant proves its own records with inclusion proofs.
# - The operator registers participants and keys and revokes anyone's credentials, but it cannot act
#   as a participant: it issues API keys only for itself (a key acts as its party, and a custody
#   party's key would let it sign with that party's custody key) and moves no one's units. A new
#   participant's first key comes from the registry's host (``ecoledger credential issue``), whose
#   administrator holds the custody secret anyway.
# - An auditor holds no keys of its own to manage: the operator registers them.
# - A bureau registers participants of exactly its own jurisdiction (enterprises and cooperatives:
#   ``accounts.service.register_participant`` refuses other roles); the operator registers anyone.
# - Only the operator starts an expiry run (the registry's own scheduled job needs no actor).
# - Only an enterprise posts a need on the cross-city demand list (项目需求库), for itself (the target
#   is its own cash account: it pays for what it receives).
# - Blue-carbon projects are registered, and their monitoring data reported, by their owners: a
#   cooperative or an enterprise (the target is the project's owner); bureaus verify and issue.
# - The target is built from the registry's records (``target_of``), never from what a caller
#   says it is acting on, so a forged account id cannot widen what an actor may touch.
#
# The grants: an empty tuple means granted on any target; an absent pair is refused (see RULES).
_GRANTS: dict[Role, dict[Action, tuple[Rule, ...]]] = {
    Role.BUREAU: {
        _A.ISSUE_RIGHTS: (BUREAU_OWN_JURISDICTION,),
        _A.ISSUE_CREDITS: (BUREAU_OWN_JURISDICTION,),
        _A.BUY_BACK_RESERVE: (BUREAU_OWN_JURISDICTION,),
        _A.OPEN_AUCTION: (BUREAU_OWN_JURISDICTION,),
        _A.APPROVE_CROSS_CITY: (BUREAU_PARTY_TO_CROSS_CITY,),
        _A.REGISTER_PLEDGE: (BUREAU_OWN_JURISDICTION, PLEDGE_NEEDS_OWNER_CONSENT),
        _A.TRANSFER_UNITS: (OWN_UNITS_ONLY, BUREAU_OWN_JURISDICTION),
        _A.REGISTER_PARTICIPANT: (BUREAU_OWN_JURISDICTION,),
        **_SELF_SERVICE,
    },
    Role.ENTERPRISE: {
        _A.TRANSFER_UNITS: _OWN,
        _A.RETIRE_UNITS: _OWN,
        _A.BID: _OWN,
        _A.POST_NEED: (OWN_NEEDS_ONLY,),
        **_PROJECT_OWNER,
        **_SELF_SERVICE,
    },
    Role.BANK: {
        _A.REGISTER_PLEDGE: (PLEDGE_NEEDS_OWNER_CONSENT, PLEDGE_UNDER_OWN_CONTROL),
        _A.RELEASE_PLEDGE: (PLEDGE_CONTROLLER_ONLY,),
        _A.ENFORCE_PLEDGE: (PLEDGE_CONTROLLER_ONLY,),
        _A.TRANSFER_UNITS: _OWN,
        **_SELF_SERVICE,
    },
    Role.COOPERATIVE: {_A.TRANSFER_UNITS: _OWN, _A.RETIRE_UNITS: _OWN, **_PROJECT_OWNER, **_SELF_SERVICE},
    Role.AUDITOR: {_A.READ_JOURNAL: (), _A.READ_ACCOUNT: ()},
    Role.OPERATOR: {
        _A.READ_JOURNAL: (),
        _A.READ_ACCOUNT: (),
        _A.REGISTER_PARTICIPANT: (),
        _A.REGISTER_KEY: (),
        _A.REVOKE_KEY: (),
        _A.MANAGE_CREDENTIALS: (OWN_CREDENTIALS_ONLY,),
        _A.ADMINISTER_CREDENTIALS: (),
        _A.RUN_EXPIRY: (),
    },
}


def _refusal(role: Role, action: Action) -> Rule:
    if role is Role.AUDITOR:
        return AUDITOR_WRITES_NOTHING
    if action is Action.READ_JOURNAL:
        return JOURNAL_READERS_ONLY
    return NOT_GRANTED


def _table() -> dict[tuple[Role, Action], tuple[Rule, ...]]:
    table: dict[tuple[Role, Action], tuple[Rule, ...]] = {}
    for role in Role:
        for action in Action:
            grant = _GRANTS[role].get(action)
            table[(role, action)] = grant if grant is not None else (_refusal(role, action),)
    return table


RULES: dict[tuple[Role, Action], tuple[Rule, ...]] = _table()
"""Every (role, action) pair, each with the rules that must all hold: the one permission table."""


def rules_for(role: Role, action: Action) -> tuple[Rule, ...]:
    return RULES[(role, action)]


def authorize(actor: Participant, action: Action, target: Target) -> None:
    """Allow ``actor`` to do ``action`` on ``target``, or raise ``PermissionDenied`` naming the rule.

    The message names the actor and the action but not the target's owners, so a refusal does
    not tell one participant who owns an id it guessed.
    """
    for rule in RULES[(actor.role, Action(action))]:
        if not rule.holds(actor, target):
            raise denied(actor, Action(action), rule.name, rule.describe)


def denied(actor: Participant, action: Action, rule: str, why: str) -> PermissionDenied:
    """The refusal of ``action`` under ``rule`` (``why``: what it says), as ``authorize`` raises it; a
    workflow's own object-level rule (only the owner confirms its pledge) is refused the same way."""
    return PermissionDenied(
        f"{actor.party} may not {action.value}: {why} (rule {rule})",
        rule=rule,
        action=action.value,
        actor=actor.party,
    )


_PUBLIC_ROLES = (Role.BUREAU, Role.BANK, Role.OPERATOR)


def participant_visible(actor: Participant, other: Participant) -> bool:
    """Who sees whom in the participant directory: the operator and auditors see everyone; a bureau
    sees the participants of its jurisdiction and the divisions below it; everyone sees itself and
    the public institutions (bureaus, banks, the operator), whose names are published anyway."""
    if actor.role in (Role.OPERATOR, Role.AUDITOR) or other.party == actor.party:
        return True
    if other.role in _PUBLIC_ROLES:
        return True
    return (
        actor.role is Role.BUREAU
        and actor.jurisdiction is not None
        and other.jurisdiction is not None
        and covers(actor.jurisdiction, other.jurisdiction)
    )


class Directory(Protocol):
    """What ``target_of`` reads from the registry's records."""

    def owner_of(self, account: str) -> str | None: ...
    def jurisdiction_of(self, party: str) -> str | None: ...
    def hold_of(self, hold: str) -> tuple[str, str] | None:
        """(account, controller) of a hold."""
        ...


def target_of(body: Body, signatures: Sequence[Signature], directory: Directory) -> Target:
    """The target of an instruction, resolved through the registry's own records."""
    consents = frozenset(s.party for s in signatures)
    if isinstance(body, TxBody):
        return _TxTarget(directory).build(body, consents)
    if isinstance(body, RegisterKey | RevokeKey | RegisterParty):
        return party_target(body.party, directory, consents=consents)
    if isinstance(body, OpenAccount):
        return party_target(body.owner, directory, consents=consents)
    assert isinstance(body, Genesis)
    return party_target(REGISTRY, directory, consents=consents)


def party_target(party: str, directory: Directory, *, consents: frozenset[str] = frozenset()) -> Target:
    """A target owned by ``party`` (its keys, credentials, registration)."""
    jurisdiction = directory.jurisdiction_of(party)
    return Target(
        owners=frozenset({party}),
        jurisdictions=frozenset({jurisdiction}) if jurisdiction else frozenset(),
        consents=consents,
        placeless=frozenset() if jurisdiction else frozenset({party}),
    )


class _TxTarget:
    """Owners of what a transaction debits or encumbers; divisions of what it credits."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.owners: set[str] = set()
        self.jurisdictions: set[str] = set()
        self.destinations: set[str] = set()
        self.controllers: set[str] = set()
        self.unresolved: set[str] = set()
        self.placeless: set[str] = set()

    def owner(self, account: str) -> str | None:
        owner = self.directory.owner_of(account)
        if owner is None:
            self.unresolved.add(account)
        return owner

    def debit(self, account: str) -> None:
        owner = self.owner(account)
        if owner is None:
            return
        self.owners.add(owner)
        jurisdiction = self.directory.jurisdiction_of(owner)
        if jurisdiction is None:
            self.placeless.add(owner)
        else:
            self.jurisdictions.add(jurisdiction)

    def credit(self, account: str) -> None:
        owner = self.owner(account)
        jurisdiction = self.directory.jurisdiction_of(owner) if owner is not None else None
        if jurisdiction is not None:
            self.destinations.add(jurisdiction)

    def build(self, body: TxBody, consents: frozenset[str]) -> Target:
        net: dict[tuple[str, str, str], int] = defaultdict(int)
        for p in body.postings:
            net[p.key] += p.amount
            if p.lot.jurisdiction is not None:
                self.jurisdictions.add(p.lot.jurisdiction)
        for (account, _, _), amount in sorted(net.items()):
            if amount < 0:
                self.debit(account)
            elif amount > 0:
                self.credit(account)
        for op in body.holds:
            if isinstance(op, HoldPlace):
                self.debit(op.account)
                self.controllers.add(op.controller)
                if op.lot.jurisdiction is not None:
                    self.jurisdictions.add(op.lot.jurisdiction)
                continue
            found = self.directory.hold_of(op.hold)
            if found is None:
                self.unresolved.add(op.hold)
                continue
            self.debit(found[0])
            self.controllers.add(found[1])
        return Target(
            owners=frozenset(self.owners),
            jurisdictions=frozenset(self.jurisdictions),
            destinations=frozenset(self.destinations),
            consents=consents,
            controllers=frozenset(self.controllers),
            unresolved=frozenset(self.unresolved),
            placeless=frozenset(self.placeless),
        )
