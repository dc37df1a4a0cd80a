"""The enterprise's view (排污单位): holdings (total, held, available per instrument and lot), its
pledges (apply, confirm), and transfers across cities around the project-demand list (项目需求库)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from accounts.identifiers import account_id
from accounts.model import Role
from accounts.service import account_balances, participants
from api.console import forms
from api.console.lists import ListQuery, narrow, read_query
from api.console.proposals import Outcome, take_step
from api.console.todo import todo_of
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
    yuan,
)
from ledger.model import Lot
from ledger.service import Balance
from ledger.units import INSTRUMENTS
from market.auctions import service as auctions
from market.auctions.standing import need_standing
from market.crosscity import service as crosscity
from market.issuance.offers import ALLOCATION_OFFER, allocation_offers_of
from market.issuance.service import Allocation
from market.pledges import service as pledge
from market.pledges.service import PledgeStatus
from market.reserve.offers import buy_back_offers_of
from market.trades.offers import OfferStatus

router = APIRouter(prefix=PREFIX + "/enterprise", route_class=ConsoleRoute, include_in_schema=False)

RIGHTS = tuple(code for code, inst in INSTRUMENTS.items() if inst.scoped_to_jurisdiction)
_ACCOUNTS = ("holding", "cash", "retirement")


def _balances(c: Console) -> dict[str, list[Balance]]:
    """Every non-empty position of the participant's own accounts, by account kind."""
    return {
        kind: [
            b
            for b in account_balances(c.session, actor=c.me, account=account_id(c.me.party, kind))
            if b.total
        ]
        for kind in _ACCOUNTS
        if not (kind == "retirement" and c.me.role is Role.BANK)
    }


def _rights(c: Console) -> list[Balance]:
    """Free positions in rights that could be pledged or offered: instrument and lot with a validity end."""
    return [
        b
        for b in account_balances(c.session, actor=c.me, account=account_id(c.me.party, "holding"))
        if b.instrument in RIGHTS and b.available > 0 and Lot.from_key(b.lot).valid_until is not None
    ]


@router.get("", response_class=HTMLResponse)
def holdings(c: ReadConsole) -> HTMLResponse:
    """Balances per instrument and lot, the pledges, the approved project needs."""
    c.need(Role.ENTERPRISE, Role.COOPERATIVE)
    return _holdings_page(c)


def _narrowed(c: Console, query: ListQuery) -> dict[str, list[Balance]]:
    """The balances the search and the instrument filter keep (a holding has few enough lots that
    every match shows on one page)."""
    return {
        kind: narrow(
            rows, query, text=lambda b: (b.instrument, b.lot), fields={"instrument": lambda b: b.instrument}
        ).items
        for kind, rows in _balances(c).items()
    }


def _holdings_page(c: Console, **extra: object) -> HTMLResponse:
    query = read_query(c.request, ("instrument",), per_page=10_000)
    needs = (
        auctions.needs_of(c.session, actor=c.me, enterprise=c.me.party)
        if c.me.role is Role.ENTERPRISE
        else []
    )
    offers = allocation_offers_of(c.session, actor=c.me, status=OfferStatus.PENDING)
    return page(
        c,
        "enterprise_holdings.html",
        balances=_narrowed(c, query),
        query=query,
        filters=[("instrument", "col.instrument", [(code, code) for code in INSTRUMENTS])],
        pledges=pledge.list_pledges(c.session, actor=c.me),
        needs=needs,
        standing=need_standing(c.session, actor=c.me, enterprise=c.me.party) if needs else [],
        offers=offers,
        buy_backs=buy_back_offers_of(c.session, actor=c.me, status=OfferStatus.PENDING),
        todo=todo_of(c),
        **extra,
    )


@router.post("/allocation-offers/{offer_id}/{step}")
def allocation_offer_step(offer_id: str, step: str, c: WriteConsole, form: FormDep) -> Response:
    """``accept``: consent to a paid-use allocation with the custody key, rights and fee move;
    ``decline``: nothing moves, the bureau's signature is never used."""
    c.need(Role.ENTERPRISE)
    outcome = Outcome(
        to=PREFIX + "/enterprise",
        signed="flash.allocation_accepted",
        rejected="flash.allocation_declined",
        kind=ALLOCATION_OFFER,
        extra=lambda result: {"fee": yuan(result.fee_fen, c.lang) if isinstance(result, Allocation) else ""},
    )
    if step not in ("accept", "decline"):  # the enterprise neither withdraws nor closes here
        step = "?"
    failed = lambda exc: _holdings_page(c, error=exc, values=form, failed=offer_id)  # noqa: E731
    return take_step(c, form, proposal_id=offer_id, step=step, outcome=outcome, on_error=failed)


# -- pledges (排污权抵质押) ------------------------------------------------------------------------------


def _pledge_page(c: Console, **extra: object) -> HTMLResponse:
    banks = [(p.party, p.name) for p in participants(c.session, role=Role.BANK)]
    query = read_query(c.request, ("status",))
    paged = narrow(
        pledge.list_pledges(c.session, actor=c.me),
        query,
        text=lambda p: (p.id, p.certificate_no or "", c.names.get(p.bank, p.bank), p.instrument),
        fields={"status": lambda p: p.status.value},
    )
    statuses = [(s.value, c.t(f"pledge.{s.value}")) for s in PledgeStatus]
    return page(
        c,
        "enterprise_pledge.html",
        banks=banks,
        rights=_rights(c),
        pledges=paged.items,
        paged=paged,
        filters=[("status", "col.status", statuses)],
        **extra,
    )


@router.get("/pledges", response_class=HTMLResponse)
def pledge_form(c: ReadConsole) -> HTMLResponse:
    """Apply to pledge rights to a bank; confirm a loan the bank recorded."""
    c.need(Role.ENTERPRISE)
    return _pledge_page(c)


@router.post("/pledges")
def apply(c: WriteConsole, form: FormDep) -> Response:
    """Step 1 (企业申请): apply to pledge a quantity of one position to a bank."""
    c.need(Role.ENTERPRISE)

    def run() -> Done:
        code, _, key = forms.text(form, "position").partition("@")
        applied = pledge.apply_for_pledge(
            c.session,
            registry=c.app.registry,
            actor=c.me,
            bank=forms.text(form, "bank"),
            instrument_code=code,
            lot=forms.lot({"position": key}, "position"),
            quantity_kg=forms.kg(form, "quantity", code),
        )
        return Done(
            to=PREFIX + "/enterprise/pledges", message="flash.pledge_applied", args={"id": applied.id}
        )

    return act(c, form, run, lambda exc: _pledge_page(c, error=exc, values=form))


@router.post("/pledges/{pledge_id}/confirm")
def confirm(pledge_id: str, c: WriteConsole, form: FormDep) -> Response:
    """Step 4 (企业确认): confirm the loan; one record, signed by all three, places the pledge's hold."""
    c.need(Role.ENTERPRISE)

    def run() -> Done:
        pledge.confirm_pledge(
            c.session, registry=c.app.registry, actor=c.me, pledge_id=pledge_id, signed_by=c.consent()
        )
        return Done(
            to=PREFIX + "/enterprise/pledges", message="flash.pledge_confirmed", args={"id": pledge_id}
        )

    return act(c, form, run, lambda exc: _pledge_page(c, error=exc, values=form, failed=pledge_id))


# -- cross-city transfers (排污权跨地市交易) ---------------------------------------------------------


def _transfers_page(c: Console, **extra: object) -> HTMLResponse:
    demands = crosscity.open_demands(c.session, on=c.now.date())
    query = read_query(c.request, ("status",))
    paged = narrow(
        crosscity.list_transfers(c.session, actor=c.me),
        query,
        text=lambda r: (
            r.id,
            r.instrument,
            r.source,
            r.destination,
            c.names.get(r.seller, r.seller),
            c.names.get(r.buyer, r.buyer),
        ),
        fields={"status": lambda r: r.status.value},
    )
    statuses = [(s.value, c.t(f"transfer.{s.value}")) for s in crosscity.TransferStatus]
    return page(
        c,
        "enterprise_transfers.html",
        rights=RIGHTS,
        demands=demands,
        positions=_rights(c),
        requests=paged.items,
        paged=paged,
        filters=[("status", "col.status", statuses)],
        default_until=f"{c.now.year + 5}-12-31",
        **extra,
    )


@router.get("/transfers", response_class=HTMLResponse)
def transfers(c: ReadConsole) -> HTMLResponse:
    """The demand list, a need to post, offers to make, and this enterprise's requests."""
    c.need(Role.ENTERPRISE)
    return _transfers_page(c)


@router.post("/demands")
def post_demand(c: WriteConsole, form: FormDep) -> Response:
    """Post a project's need on the demand list (项目需求库)."""
    c.need(Role.ENTERPRISE)

    def run() -> Done:
        code = forms.choice(form, "instrument", RIGHTS)
        crosscity.post_demand(
            c.session,
            registry=c.app.registry,
            actor=c.me,
            instrument_code=code,
            quantity_kg=forms.kg(form, "quantity", code),
            max_price_fen_per_tonne=forms.yuan_fen(form, "max_price"),
            valid_until=forms.day(form, "valid_until"),
            project=forms.text(form, "project"),
        )
        return Done(to=PREFIX + "/enterprise/transfers", message="flash.demand_posted")

    return act(c, form, run, lambda exc: _transfers_page(c, error=exc, values=form, failed="demand"))


@router.post("/demands/{demand_id}/offer")
def open_offer(demand_id: str, c: WriteConsole, form: FormDep) -> Response:
    """Draft an offer against a need of another city (nothing is held until the seller signs)."""
    c.need(Role.ENTERPRISE)

    def run() -> Done:
        code, _, key = forms.text(form, "position").partition("@")
        req = crosscity.open_transfer(
            c.session,
            registry=c.app.registry,
            actor=c.me,
            demand_id=demand_id,
            lot=forms.lot({"position": key}, "position"),
            quantity_kg=forms.kg(form, "quantity", code),
            price_fen_per_tonne=forms.yuan_fen(form, "price"),
            expires_at=c.now + timedelta(days=forms.whole(form, "days", low=1, high=90)),
        )
        return Done(
            to=PREFIX + "/enterprise/transfers", message="flash.transfer_drafted", args={"id": req.id}
        )

    return act(c, form, run, lambda exc: _transfers_page(c, error=exc, values=form, failed=demand_id))


def _step(c: Console, request_id: str, form: dict[str, str], step: str) -> Response:
    """Sign one step of a request: the seller offers (its units go on hold), the buyer accepts."""
    c.need(Role.ENTERPRISE)
    service = {"offer": crosscity.offer_transfer, "accept": crosscity.accept_transfer}[step]

    def run() -> Done:
        service(c.session, registry=c.app.registry, actor=c.me, request_id=request_id, signed_by=c.consent())
        return Done(
            to=PREFIX + "/enterprise/transfers", message=f"flash.transfer_{step}", args={"id": request_id}
        )

    return act(c, form, run, lambda exc: _transfers_page(c, error=exc, values=form, failed=request_id))


@router.post("/transfers/{request_id}/offer")
def offer(request_id: str, c: WriteConsole, form: FormDep) -> Response:
    """The seller signs its offer; one record holds its units for the request."""
    return _step(c, request_id, form, "offer")


@router.post("/transfers/{request_id}/accept")
def accept(request_id: str, c: WriteConsole, form: FormDep) -> Response:
    """The buyer signs the settlement it will pay; then both bureaus approve."""
    return _step(c, request_id, form, "accept")


@router.post("/transfers/{request_id}/reject")
def reject(request_id: str, c: WriteConsole, form: FormDep) -> Response:
    """Withdraw (seller) or decline (buyer) an open request; held units are released."""
    c.need(Role.ENTERPRISE)

    def run() -> Done:
        crosscity.reject_transfer(
            c.session,
            registry=c.app.registry,
            actor=c.me,
            request_id=request_id,
            reason=forms.text(form, "reason"),
        )
        return Done(
            to=PREFIX + "/enterprise/transfers", message="flash.transfer_rejected", args={"id": request_id}
        )

    return act(c, form, run, lambda exc: _transfers_page(c, error=exc, values=form, failed=request_id))
