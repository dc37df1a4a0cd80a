"""The bureau's view (生态环境局): cap position and charts, issuance, project needs, opening auctions,
and the approvals waiting for it (pledge quantities, cross-city transfers)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from accounts.identifiers import account_id
from accounts.model import Role
from accounts.service import account_balances, participants
from api.console import charts, forms
from api.console.proposals import Outcome, take_step
from api.console.todo import todo_of
from api.console.web import (
    CST,
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
from ledger.units import INSTRUMENTS
from market.auctions import service as auctions
from market.auctions.model import AuctionDesign, AuctionTerms, FixedDeposit
from market.auctions.standing import need_standing
from market.crosscity import service as crosscity
from market.crosscity.service import TransferStatus
from market.foureyes.allocation import allocate_or_propose
from market.issuance import service as issuance
from market.issuance.offers import ALLOCATION_OFFER, allocation_offers_of, offer_allocation
from market.pledges import service as pledge
from market.pledges.service import PledgeStatus
from market.proposals.model import Proposal
from market.trades.offers import OfferStatus

router = APIRouter(prefix=PREFIX + "/bureau", route_class=ConsoleRoute, include_in_schema=False)

RIGHTS = tuple(code for code, inst in INSTRUMENTS.items() if inst.scoped_to_jurisdiction)
DESIGNS = tuple(d.value for d in AuctionDesign)


def _jurisdiction(c: Console) -> str:
    assert c.me.jurisdiction is not None  # every bureau has one (BureauSpec)
    return c.me.jurisdiction


def _positions(c: Console) -> list[issuance.CapPosition]:
    """The cap position of every lot the bureau's reserve or caps have seen, by instrument and lot."""
    lots: set[tuple[str, str]] = set()
    for code in RIGHTS:
        for b in account_balances(c.session, actor=c.me, account=account_id(c.me.party, "cap", code)):
            lots.add((b.instrument, b.lot))
    out = []
    for code, key in sorted(lots):
        lot = Lot.from_key(key)
        if lot.valid_until is not None:
            out.append(
                issuance.cap_position(
                    c.session, jurisdiction=_jurisdiction(c), instrument=code, valid_until=lot.valid_until
                )
            )
    return out


def _pending(c: Console) -> tuple[list[pledge.Pledge], list[crosscity.TransferRequest]]:
    pledges = [
        p
        for p in pledge.list_pledges(c.session, actor=c.me, status=PledgeStatus.APPLIED)
        if p.bureau == c.me.party
    ]
    transfers = [
        t
        for t in crosscity.list_transfers(c.session, actor=c.me, status=TransferStatus.ACCEPTED)
        if c.me.party in (t.source_bureau, t.destination_bureau) and c.me.party not in t.signed_by
    ]
    return pledges, transfers


@router.get("", response_class=HTMLResponse)
def dashboard(c: ReadConsole) -> HTMLResponse:
    """Cap position and cap use per instrument, the reserve, auctions and what waits for approval."""
    c.need(Role.BUREAU)
    positions = _positions(c)
    mine = auctions.list_auctions(c.session, actor=c.me, jurisdiction=_jurisdiction(c))
    pledges, transfers = _pending(c)
    return page(
        c,
        "bureau_dashboard.html",
        positions=positions,
        auctions=mine,
        pending=len(pledges) + len(transfers),
        todo=todo_of(c),
        cap_chart=charts.cap_use(c.lang, positions),
        price_chart=charts.prices(c.lang, mine),
    )


# -- issuance: cap and allocation ----------------------------------------------------------------


def _enterprises(c: Console) -> list[tuple[str, str]]:
    return [
        (p.party, p.name)
        for p in participants(c.session, role=Role.ENTERPRISE, jurisdiction=_jurisdiction(c))
    ]


def _issue_page(c: Console, **extra: object) -> HTMLResponse:
    return page(
        c,
        "bureau_issue.html",
        rights=RIGHTS,
        enterprises=_enterprises(c),
        positions=_positions(c),
        default_until=f"{c.now.year + 5}-12-31",
        offers=allocation_offers_of(c.session, actor=c.me, status=OfferStatus.PENDING),
        **extra,
    )


@router.get("/issue", response_class=HTMLResponse)
def issue_form(c: ReadConsole) -> HTMLResponse:
    """Raise the cap (总量控制) into the reserve; allocate rights to an enterprise."""
    c.need(Role.BUREAU)
    return _issue_page(c)


@router.post("/cap")
def raise_cap(c: WriteConsole, form: FormDep) -> Response:
    """Raise the cap by a quantity of one right, valid until a date (cap.set)."""
    c.need(Role.BUREAU)

    def run() -> Done:
        code = forms.choice(form, "instrument", RIGHTS)
        receipt = issuance.set_cap(
            c.session,
            registry=c.app.registry,
            actor=c.me,
            signed_by=c.consent(),
            instrument=code,
            quantity_kg=forms.kg(form, "quantity", code),
            valid_until=forms.day(form, "valid_until"),
            basis=forms.text(form, "basis", optional=True) or None,
        )
        return Done(to=PREFIX + "/bureau", message="flash.cap_raised", args={"seq": str(receipt.seq)})

    return act(c, form, run, lambda exc: _issue_page(c, error=exc, values=form, failed="cap"))


@router.post("/allocate")
def allocate(c: WriteConsole, form: FormDep) -> Response:
    """Allocate rights from the reserve to an enterprise of the jurisdiction: free of charge at once,
    or for the paid-use fee (有偿使用) as an offer the enterprise consents to with its own signature."""
    c.need(Role.BUREAU)

    def run() -> Done:
        code = forms.choice(form, "instrument", RIGHTS)
        initial = forms.choice(form, "purpose", ("initial", "major_project")) == "initial"
        purpose: Literal["initial", "major_project"] = "initial" if initial else "major_project"
        enterprise, quantity_kg = forms.text(form, "enterprise"), forms.kg(form, "quantity", code)
        valid_until = forms.day(form, "valid_until")
        project = forms.text(form, "project", optional=True) or None
        if forms.choice(form, "paid_use", ("free", "paid"), default="free") == "paid":
            offer = offer_allocation(
                c.session,
                actor=c.me,
                enterprise=enterprise,
                instrument=code,
                quantity_kg=quantity_kg,
                valid_until=valid_until,
                purpose=purpose,
                project=project,
                signed_by=c.consent(),
                now=c.now,
            )
            args = {"id": offer.id, "fee": yuan(offer.fee_fen, c.lang)}
            return Done(to=PREFIX + "/bureau/issue", message="flash.allocation_offered", args=args)
        if c.user is not None and c.app.vault is not None:  # a named user: four-eyes above the threshold
            made = allocate_or_propose(
                c.session,
                registry=c.app.registry,
                vault=c.app.vault,
                actor=c.me,
                user=c.user,
                enterprise=enterprise,
                instrument=code,
                quantity_kg=quantity_kg,
                valid_until=valid_until,
                purpose=purpose,
                project=project,
            )
            if isinstance(made, Proposal):
                return Done(to=PREFIX + "/todo", message="flash.fe_proposed", args={"id": made.id})
            return Done(to=PREFIX + "/bureau", message="flash.allocated", args={"seq": str(made.receipt.seq)})
        done = issuance.allocate(
            c.session,
            registry=c.app.registry,
            actor=c.me,
            signed_by=c.consent(),
            enterprise=enterprise,
            instrument=code,
            quantity_kg=quantity_kg,
            valid_until=valid_until,
            purpose=purpose,
            project=project,
            paid_use=False,
        )
        return Done(to=PREFIX + "/bureau", message="flash.allocated", args={"seq": str(done.receipt.seq)})

    return act(c, form, run, lambda exc: _issue_page(c, error=exc, values=form, failed="allocate"))


@router.post("/allocation-offers/{offer_id}/withdraw")
def withdraw_allocation_offer(offer_id: str, c: WriteConsole, form: FormDep) -> Response:
    """Withdraw a paid-use offer the enterprise has not consented to."""
    c.need(Role.BUREAU)

    outcome = Outcome(
        to=PREFIX + "/bureau/issue", withdrawn="flash.allocation_withdrawn", kind=ALLOCATION_OFFER
    )
    return take_step(
        c,
        form,
        proposal_id=offer_id,
        step="withdraw",
        outcome=outcome,
        on_error=lambda exc: _issue_page(c, error=exc, values=form, failed=offer_id),
    )


# -- project needs -----------------------------------------------------------------------------


def _needs_page(c: Console, **extra: object) -> HTMLResponse:
    ents = _enterprises(c)
    needs = [n for party, _ in ents for n in auctions.needs_of(c.session, actor=c.me, enterprise=party)]
    standing = [s for party, _ in ents for s in need_standing(c.session, actor=c.me, enterprise=party)]
    return page(
        c, "bureau_needs.html", rights=RIGHTS, enterprises=ents, needs=needs, standing=standing, **extra
    )


@router.get("/needs", response_class=HTMLResponse)
def needs_form(c: ReadConsole) -> HTMLResponse:
    """Project needs (项目需求) approved in the jurisdiction, and the form to approve one."""
    c.need(Role.BUREAU)
    return _needs_page(c)


@router.post("/needs")
def register_need(c: WriteConsole, form: FormDep) -> Response:
    """Approve what an enterprise's new project may bid for."""
    c.need(Role.BUREAU)

    def run() -> Done:
        code = forms.choice(form, "instrument", RIGHTS)
        auctions.register_need(
            c.session,
            actor=c.me,
            enterprise=forms.text(form, "enterprise"),
            instrument=code,
            approved_kg=forms.kg(form, "quantity", code),
            project=forms.text(form, "project"),
            now=c.now,
        )
        return Done(to=PREFIX + "/bureau/needs", message="flash.need_registered")

    return act(c, form, run, lambda exc: _needs_page(c, error=exc, values=form))


# -- opening an auction -----------------------------------------------------------------------------


def _auction_page(c: Console, **extra: object) -> HTMLResponse:
    closes = (c.now + timedelta(hours=1)).astimezone(CST).strftime("%Y-%m-%dT%H:%M")
    return page(
        c,
        "bureau_auction_new.html",
        rights=RIGHTS,
        designs=DESIGNS,
        positions=[p for p in _positions(c) if p.available_kg > 0],
        default_id=f"{_jurisdiction(c)}-{c.now.astimezone(CST):%Y%m%d}-{secrets.token_hex(2)}",
        default_close=closes,
        **extra,
    )


@router.get("/auctions/new", response_class=HTMLResponse)
def auction_form(c: ReadConsole) -> HTMLResponse:
    """The form to open an auction of reserve rights: design, reserve price, window, deposit."""
    c.need(Role.BUREAU)
    return _auction_page(c)


def _terms(c: Console, form: dict[str, str]) -> tuple[AuctionTerms, Lot]:
    code, _, lot_key = forms.text(form, "lot").partition("@")  # "COD@j=330281;u=2030-12-31"
    code = forms.choice({"lot": code}, "lot", RIGHTS)
    lot = forms.lot({"lot": lot_key}, "lot")
    design = AuctionDesign(forms.choice(form, "design", DESIGNS))
    ascending = design is AuctionDesign.ASCENDING
    terms = AuctionTerms(
        auction_id=forms.text(form, "auction_id"),
        instrument=code,
        jurisdiction=_jurisdiction(c),
        quantity_kg=forms.kg(form, "quantity", code),
        reserve_price_fen_per_t=forms.yuan_fen(form, "reserve_price"),
        design=design,
        opens_at=c.now,
        closes_at=forms.local_instant(form, "closes_at", CST),
        deposit_rule=FixedDeposit(forms.yuan_fen(form, "deposit")),
        max_bids_per_bidder=None if ascending else 10,  # 网络竞价's limit; none in an open outcry
        start_price_fen_per_t=forms.yuan_fen(form, "start_price") if ascending else None,
        increment_fen_per_t=forms.yuan_fen(form, "increment") if ascending else None,
        extension=timedelta(minutes=forms.whole(form, "extension_min", low=1, high=60))
        if ascending
        else timedelta(minutes=4),
    )
    return terms, lot


@router.post("/auctions")
def open_auction(c: WriteConsole, form: FormDep) -> Response:
    """Open the auction: the offered rights go on hold in the reserve (auction.open)."""
    c.need(Role.BUREAU)

    def run() -> Done:
        terms, lot = _terms(c, form)
        assert lot.valid_until is not None  # positions listed are lots with a validity end
        opened = auctions.open_auction(
            c.session,
            registry=c.app.registry,
            actor=c.me,
            signed_by=c.consent(),
            terms=terms,
            valid_until=lot.valid_until,
            now=c.now,
        )
        return Done(
            to=f"{PREFIX}/auctions/{opened.auction_id}",
            message="flash.auction_opened",
            args={"id": opened.auction_id},
        )

    return act(c, form, run, lambda exc: _auction_page(c, error=exc, values=form))


# -- approvals ---------------------------------------------------------------------------------------


def _approvals_page(c: Console, **extra: object) -> HTMLResponse:
    pledges, transfers = _pending(c)
    return page(c, "bureau_approvals.html", pledges=pledges, transfers=transfers, **extra)


@router.get("/approvals", response_class=HTMLResponse)
def approvals(c: ReadConsole) -> HTMLResponse:
    """Pledge applications waiting for the approved quantity; cross-city requests waiting to be signed."""
    c.need(Role.BUREAU)
    return _approvals_page(c)


@router.post("/pledges/{pledge_id}/approve")
def approve_pledge(pledge_id: str, c: WriteConsole, form: FormDep) -> Response:
    """Approve a pledge's quantity on the electronic certificate (生态环境部门审核) and sign it."""
    c.need(Role.BUREAU)

    def run() -> Done:
        current = pledge.get_pledge(c.session, actor=c.me, pledge_id=pledge_id)
        pledge.approve_pledge(
            c.session,
            registry=c.app.registry,
            actor=c.me,
            pledge_id=pledge_id,
            approved_kg=forms.kg(form, "quantity", current.instrument),
            certificate_no=forms.text(form, "certificate_no"),
            signed_by=c.consent(),
        )
        return Done(to=PREFIX + "/bureau/approvals", message="flash.pledge_approved", args={"id": pledge_id})

    return act(c, form, run, lambda exc: _approvals_page(c, error=exc, values=form, failed=pledge_id))


@router.post("/transfers/{request_id}/approve")
def approve_transfer(request_id: str, c: WriteConsole, form: FormDep) -> Response:
    """Sign a cross-city request; the second bureau's signature settles it in one record."""
    c.need(Role.BUREAU)

    def run() -> Done:
        done = crosscity.approve_transfer(
            c.session, registry=c.app.registry, actor=c.me, request_id=request_id, signed_by=c.consent()
        )
        return Done(
            to=PREFIX + "/bureau/approvals",
            message="flash.transfer_settled" if done.settled_seq else "flash.transfer_approved",
            args={"id": request_id},
        )

    return act(c, form, run, lambda exc: _approvals_page(c, error=exc, values=form, failed=request_id))
