"""The rules of a party's controls (``ledger.controls``), run by ``ledger.rules.apply`` on every
transaction, live and in replay: who approved, four-eyes thresholds, and trusted-list destinations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ledger.controls import (
    APPROVED_BY,
    CONTROL_ACTIONS,
    CONTROLS_SET,
    REGISTRY_CONTROLS,
    TRUST_ADD,
    TRUSTED_ACTIONS,
    Controls,
    RegistryControls,
    add_working_days,
    parse_thresholds,
    parse_users,
)
from ledger.errors import (
    AccountNotTrusted,
    FourEyesRequired,
    InvalidInput,
    TrustDelayNotMet,
    UnknownAccount,
    UnknownParty,
    UnknownUser,
)
from ledger.model import REGISTRY, AccountKind, HoldPlace, TxBody, check_id
from ledger.timeutil import format_utc, parse_utc
from ledger.units import instrument

if TYPE_CHECKING:
    from ledger.rules import Effect, LedgerView

__all__ = ["approvals_of", "check_controls", "record_size_kg"]

_FIELD = f"body.meta.{APPROVED_BY}"
_SIZED = (AccountKind.HOLDING, AccountKind.RESERVE)


def approvals_of(meta: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """``meta.approved_by``: for each party, the distinct users who approved, the proposer first."""
    raw = meta.get(APPROVED_BY)
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > 8:
        raise InvalidInput(f"{_FIELD} must be an object of party -> user ids", field=_FIELD)
    out: dict[str, tuple[str, ...]] = {}
    for party, users in raw.items():
        path = f"{_FIELD}.{party}"
        if not isinstance(users, list) or not 1 <= len(users) <= 5 or len(set(map(str, users))) != len(users):
            raise InvalidInput(f"{path} must list 1 to 5 distinct user ids, the proposer first", field=path)
        out[party] = tuple(check_id(u, field=path) for u in users)
    return out


def record_size_kg(body: TxBody, view: LedgerView) -> int:
    """What a record moves, for thresholds: the units (not money) it takes out of holdings and
    reserves, or holds there (a pledge, an auction lot)."""
    total = 0
    for p in body.postings:
        if p.amount < 0 and not instrument(p.instrument).money:
            info = view.find_account(p.account)
            if info is not None and info.kind in _SIZED:
                total -= p.amount
    for op in body.holds:
        if isinstance(op, HoldPlace) and not instrument(op.instrument).money:
            info = view.find_account(op.account)
            if info is not None and info.kind in _SIZED:
                total += op.amount
    return total


def _two_users(party: str, users: tuple[str, ...], controls: Controls, what: str) -> None:
    """Four eyes: a proposer and at least one other user of ``party`` who is an approver (复核人)."""
    if len(users) < 2 or not any(controls.users.get(u) == "approver" for u in users[1:]):
        by = users[0] if users else "nobody"
        raise FourEyesRequired(
            f"{what} needs the approval of a second user of {party}, an approver (approved by: {by} alone)",
            field=_FIELD,
            party=party,
            users=list(users),
        )


def check_controls(body: TxBody, view: LedgerView, at: datetime, effect: Effect) -> Effect:
    """Check ``body`` against the controls of every party that consents to it; a control record
    also changes them (``effect.controls``)."""
    approvals = approvals_of(body.meta)
    if body.action in CONTROL_ACTIONS:
        _control_record(body, view, at, effect, approvals)
    for party, users in approvals.items():
        if party not in effect.required_signers:
            raise InvalidInput(f"{party} approves a record it does not sign", field=f"{_FIELD}.{party}")
        controls = view.find_controls(party)
        for user in users:
            if controls is None or user not in controls.users:
                raise UnknownUser(f"{user} is not a user of {party}", field=f"{_FIELD}.{party}", user=user)
    size: int | None = None  # measured only when some signer has a threshold for this action
    for party in sorted(effect.required_signers):
        controls = view.find_controls(party)
        limit = controls.four_eyes_kg.get(body.action) if controls is not None else None
        if controls is None or limit is None:
            continue
        size = record_size_kg(body, view) if size is None else size
        if size > limit:
            _two_users(
                party, approvals.get(party, ()), controls, f"a {body.action} of {size} kg (over {limit} kg)"
            )
    if body.action in TRUSTED_ACTIONS:
        _check_trusted(body, view, at)
    return effect


def _check_trusted(body: TxBody, view: LedgerView, at: datetime) -> None:
    """A sender that keeps a trusted list sends units only to accounts on it and in effect, or, up to
    the registry's per-transaction limit, outside it."""
    senders: set[str] = set()
    received: dict[str, int] = defaultdict(int)
    where: dict[str, int] = {}
    for i, p in enumerate(body.postings):
        if instrument(p.instrument).money:
            continue
        info = view.find_account(p.account)
        if info is None:
            continue
        if p.amount < 0:
            senders.add(info.owner)
        else:
            received[p.account] += p.amount
            where.setdefault(p.account, i)
    for sender in sorted(senders):
        controls = view.find_controls(sender)
        if controls is None or not controls.trusted_list:
            continue
        limit = view.registry_controls().outside_list_limit_kg
        for account, amount in received.items():
            info = view.find_account(account)
            if info is None or info.owner == sender or controls.trusted_at(account, at) or amount <= limit:
                continue
            since = controls.trusted.get(account)
            raise AccountNotTrusted(
                f"{account} is not on {sender}'s trusted list"
                + (f" until {format_utc(since)}" if since is not None else "")
                + f"; outside it one transfer may send at most {limit} kg",
                field=f"postings[{where[account]}].account",
                account=account,
                effective_at=format_utc(since) if since is not None else None,
            )


def _meta(body: TxBody, allowed: set[str]) -> dict[str, Any]:
    extra = set(body.meta) - allowed - {APPROVED_BY}
    if extra:
        name = sorted(extra)[0]
        raise InvalidInput(f"body.meta.{name} is not a known field", field=f"body.meta.{name}")
    if body.postings or body.holds:
        raise InvalidInput(f"a {body.action} moves nothing", field="body.postings")
    return body.meta


def _control_record(
    body: TxBody, view: LedgerView, at: datetime, effect: Effect, approvals: dict[str, tuple[str, ...]]
) -> None:
    if body.action == REGISTRY_CONTROLS:
        meta = _meta(body, {"trust_delay_working_days", "outside_list_limit_kg"})
        if body.signers or APPROVED_BY in meta:
            raise InvalidInput("the registry alone sets its controls", field="body.signers")
        effect.controls = (REGISTRY, RegistryControls.parse(meta))
        return
    allowed = (
        {"party", "users", "four_eyes_kg", "trusted_list"}
        if body.action == CONTROLS_SET
        else {"party", "account"}
    )
    if body.action == TRUST_ADD:
        allowed.add("effective_at")
    meta = _meta(body, allowed)
    party = check_id(meta.get("party"), field="body.meta.party")
    if party == REGISTRY or not view.has_party(party):
        raise UnknownParty(f"{party} is not a registered party", field="body.meta.party", party=party)
    effect.required_signers.add(party)
    current = view.find_controls(party) or Controls()
    users = approvals.get(party, ())
    if body.action == CONTROLS_SET:
        new = Controls(
            parse_users(meta["users"], "body.meta.users") if "users" in meta else current.users,
            parse_thresholds(meta["four_eyes_kg"], "body.meta.four_eyes_kg")
            if "four_eyes_kg" in meta
            else current.four_eyes_kg,
            _flag(meta.get("trusted_list", current.trusted_list)),
            current.trusted,
        )
        if current.in_force and (new.four_eyes_kg, new.trusted_list) != (
            current.four_eyes_kg,
            current.trusted_list,
        ):
            _two_users(party, users, current, "a change of four-eyes thresholds or of the trusted list")
        effect.controls = (party, new)
        return
    account = check_id(meta.get("account"), field="body.meta.account")
    if body.action == TRUST_ADD:
        effect.controls = (party, _added(party, account, meta, current, view, at, users))
        return
    if account not in current.trusted:  # trust.remove: at once, one user is enough
        raise InvalidInput(f"{account} is not on {party}'s trusted list", field="body.meta.account")
    effect.controls = (
        party,
        replace(current, trusted={a: t for a, t in current.trusted.items() if a != account}),
    )


def _added(
    party: str,
    account: str,
    meta: Mapping[str, Any],
    current: Controls,
    view: LedgerView,
    at: datetime,
    users: tuple[str, ...],
) -> Controls:
    """A trusted-list addition: proposed by one user, approved by a second, in effect no earlier
    than the registry's delay after this record (EU 2019/1122 art. 23: 4 working days)."""
    info = view.find_account(account)
    if info is None or info.kind is not AccountKind.HOLDING or info.owner == party:
        raise UnknownAccount(f"{account} is not another party's holding account", field="body.meta.account")
    _two_users(party, users, current, "an addition to the trusted list")
    try:
        effective = parse_utc(meta.get("effective_at"))  # type: ignore[arg-type]
    except ValueError as exc:
        raise InvalidInput(f"body.meta.effective_at: {exc}", field="body.meta.effective_at") from None
    days = view.registry_controls().trust_delay_working_days
    earliest = add_working_days(at, days)
    if effective < earliest:
        raise TrustDelayNotMet(
            f"an addition takes effect {days} working days after it is recorded, at {format_utc(earliest)} "
            f"at the earliest",
            field="body.meta.effective_at",
            earliest=format_utc(earliest),
        )
    return replace(current, trusted={**current.trusted, account: effective})


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput("body.meta.trusted_list must be true or false", field="body.meta.trusted_list")
    return value
