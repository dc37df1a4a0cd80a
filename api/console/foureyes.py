"""The console's internal controls (内部复核): a user's to-do list (待办) of proposals awaiting their
signature with approve, reject and withdraw; transfers that wait for a second user above the party's
threshold; the trusted-account list; and, for the party's administrator key, users and thresholds.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from accounts.custody import Vault
from accounts.identifiers import account_id
from accounts.model import Role
from accounts.service import account_balances, participants
from accounts.users import add_user, users_of
from api.console import forms
from api.console.proposals import Outcome, take_step
from api.console.web import (
    PREFIX,
    Console,
    ConsoleRoute,
    Done,
    FormDep,
    ReadConsole,
    WriteConsole,
    act,
    page,
)
from ledger.controls import USER_ROLES, Controls
from ledger.errors import DomainError, InvalidInput
from ledger.service import Balance, controls_of
from ledger.units import INSTRUMENTS
from market.foureyes import service as foureyes
from market.foureyes.service import Proposal

HERE = PREFIX + "/controls"
router = APIRouter(prefix=HERE, route_class=ConsoleRoute, include_in_schema=False)
_HOLDERS = (Role.ENTERPRISE, Role.COOPERATIVE)


def _vault(c: Console) -> Vault:
    if c.app.vault is None:
        c.key()  # raises NoCustodyKey: this registry keeps no keys
    assert c.app.vault is not None
    return c.app.vault


def _positions(c: Console) -> list[Balance]:
    return [
        b
        for b in account_balances(c.session, actor=c.me, account=account_id(c.me.party, "holding"))
        if INSTRUMENTS[b.instrument].scoped_to_jurisdiction and b.available > 0
    ]


def _destinations(c: Console) -> list[tuple[str, str]]:
    """Holdings of the other enterprises of the party's jurisdiction: where a plain transfer may go."""
    if c.me.jurisdiction is None:
        return []
    found = participants(c.session, role=Role.ENTERPRISE, jurisdiction=c.me.jurisdiction)
    return [(account_id(p.party, "holding"), p.name) for p in found if p.party != c.me.party]


def _page(c: Console, *, issued: str | None = None, **extra: object) -> HTMLResponse:
    controls = controls_of(c.session, party=c.me.party) or Controls()
    proposals = foureyes.proposals_of(c.session, actor=c.me, now=c.now)
    return page(
        c,
        "controls.html",
        user=c.user,
        role=controls.users.get(c.user or "", ""),
        controls=controls,
        users=users_of(c.session, party=c.me.party),
        todo=foureyes.to_do(c.session, actor=c.me, user=c.user, now=c.now),
        mine=[p for p in proposals if p.status == "pending" and p.proposed_by == c.user],
        recent=proposals[:20],
        positions=_positions(c),
        destinations=_destinations(c),
        trusted=sorted(controls.trusted.items()),
        in_effect={a: t <= c.now for a, t in controls.trusted.items()},
        account_names=dict(_destinations(c)),
        roles=[(r, c.t(f"user_role.{r}")) for r in USER_ROLES],
        issued=issued,
        now=c.now,
        **extra,
    )


@router.get("", response_class=HTMLResponse)
def controls_page(c: ReadConsole) -> HTMLResponse:
    """To-do list, transfers, the trusted-account list and (administrator) users and thresholds."""
    c.need(*_HOLDERS)
    return _page(c)


def _position(form: Mapping[str, str]) -> tuple[str, str]:
    code, _, key = forms.text(form, "position").partition("@")
    if code not in INSTRUMENTS or not key:
        raise InvalidInput("position is not one of your holdings", field="position")
    return code, forms.lot({"position": key}, "position").key()


@router.post("/transfer")
def transfer(c: WriteConsole, form: FormDep) -> Response:
    """Send units: recorded now at or under the threshold, else a proposal for a second user."""
    c.need(*_HOLDERS)

    def run() -> Done:
        code, lot = _position(form)
        done = foureyes.propose_transfer(
            c.session,
            registry=c.app.registry,
            vault=_vault(c),
            actor=c.me,
            user=c.user,
            to=forms.text(form, "to"),
            instrument=code,
            lot=lot,
            quantity_kg=forms.kg(form, "quantity", code),
        )
        if isinstance(done, Proposal):
            return Done(to=HERE, message="flash.fe_proposed", args={"id": done.id})
        return Done(to=HERE, message="flash.fe_transferred", args={"seq": str(done.seq)})

    return act(c, form, run, lambda exc: _page(c, error=exc, values=form, failed="transfer"))


@router.post("/trust")
def trust(c: WriteConsole, form: FormDep) -> Response:
    """Propose adding an account to the trusted list (a second user approves; then the delay runs)."""
    c.need(*_HOLDERS)

    def run() -> Done:
        made = foureyes.propose_trust(
            c.session, registry=c.app.registry, actor=c.me, user=c.user, account=forms.text(form, "account")
        )
        return Done(to=HERE, message="flash.fe_proposed", args={"id": made.id})

    return act(c, form, run, lambda exc: _page(c, error=exc, values=form, failed="trust"))


@router.post("/trust/remove")
def untrust(c: WriteConsole, form: FormDep) -> Response:
    """Take an account off the trusted list, at once."""
    c.need(*_HOLDERS)

    def run() -> Done:
        account = forms.text(form, "account")
        receipt = foureyes.remove_trusted(
            c.session, registry=c.app.registry, vault=_vault(c), actor=c.me, user=c.user, account=account
        )
        return Done(to=HERE, message="flash.fe_untrusted", args={"seq": str(receipt.seq)})

    return act(c, form, run, lambda exc: _page(c, error=exc, values=form, failed=form.get("account")))


@router.post("/proposals/{proposal_id}/{step}")
def decide(proposal_id: str, step: str, c: WriteConsole, form: FormDep) -> Response:
    """Approve (signs and records it with both users), reject, or withdraw one proposal."""
    c.need(*_HOLDERS)
    outcome = Outcome(
        to=HERE, signed="flash.fe_approved", rejected="flash.fe_rejected", withdrawn="flash.fe_withdrawed"
    )
    return take_step(
        c,
        form,
        proposal_id=proposal_id,
        step={"approve": "sign"}.get(step, step if step in ("reject", "withdraw") else "?"),
        outcome=outcome,
        on_error=lambda exc: _page(c, error=exc, values=form, failed=proposal_id),
    )


@router.post("/users", response_class=HTMLResponse)
def new_user(c: WriteConsole, form: FormDep) -> HTMLResponse:
    """The administrator creates a named user; the user's access key is shown once, on this page
    (not through the form-token store, which would keep it)."""
    c.need(*_HOLDERS)
    try:
        user, issued = add_user(
            c.session,
            registry=c.app.registry,
            vault=_vault(c),
            actor=c.me,
            acting_user=c.user,
            user_id=forms.text(form, "user_id"),
            name=forms.text(form, "name"),
            role=forms.choice(form, "role", USER_ROLES),
        )
    except DomainError as exc:
        c.session.rollback()
        return _page(c, error=exc, values=form, failed="users")
    return _page(c, issued=issued.token, issued_user=user.user_id)


@router.post("/thresholds")
def thresholds(c: WriteConsole, form: FormDep) -> Response:
    """The party's four-eyes threshold for transfers and whether it keeps a trusted list."""
    c.need(*_HOLDERS)

    def run() -> Done:
        limit = forms.kg(form, "transfer_threshold", "COD")
        current = controls_of(c.session, party=c.me.party)
        done = foureyes.change_controls(
            c.session,
            registry=c.app.registry,
            vault=_vault(c),
            actor=c.me,
            user=c.user,
            four_eyes_kg={**(current.four_eyes_kg if current else {}), "transfer": limit},
            trusted_list=form.get("trusted_list") == "on",
        )
        if isinstance(done, Proposal):
            return Done(to=HERE, message="flash.fe_proposed", args={"id": done.id})
        return Done(to=HERE, message="flash.fe_controls_set", args={"seq": str(done.seq)})

    return act(c, form, run, lambda exc: _page(c, error=exc, values=form, failed="thresholds"))
