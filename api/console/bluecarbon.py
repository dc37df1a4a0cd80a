"""Serialized credits in the console (蓝碳, 竹林碳汇): the cooperative registers its mussel-farm project and
submits harvest reports, or a bamboo stand's survey (a bamboo project registers through the API), and sees the
methodology's computation step by step with its sources; the bureau issues; the holder sees its serial
ranges (credit, project, vintage, start-end apart) and transfers or retires them."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from accounts.identifiers import account_id
from accounts.model import Role
from accounts.service import account_balances
from api.console import forms
from api.console.web import PREFIX, Console, ConsoleRoute, Done, FormDep, ReadConsole, WriteConsole, act, page
from ledger.errors import InvalidInput
from market.bluecarbon import service as bc
from market.bluecarbon.reads import held_ranges, projects_for, retirements_of
from methodologies import bamboo_stock_change, bivalve_hyt0305
from methodologies.bamboo_stock_change import BambooSpecies
from methodologies.bivalve_hyt0305 import MusselSpecies

router = APIRouter(prefix=PREFIX + "/bluecarbon", route_class=ConsoleRoute, include_in_schema=False)

_OWNERS = (Role.COOPERATIVE, Role.ENTERPRISE)
SPECIES = tuple(s.value for s in MusselSpecies)
BAMBOO_SPECIES = tuple(s.value for s in BambooSpecies)
# The methodologies whose reports the console's harvest form (period, area, fresh weight, species) fills.
HARVEST_FORMS = frozenset({bivalve_hyt0305.METHODOLOGY.id})
# Those whose reports its stand form (period, area, species, two plot-survey biomass totals, the
# measured root-to-shoot ratio with its source, baseline removals) fills: 竹林碳汇.
STAND_FORMS = frozenset({bamboo_stock_change.METHODOLOGY.id})


def _page(c: Console, **extra: object) -> HTMLResponse:
    mine = [account_id(c.me.party, kind) for kind in ("holding", "retirement")]
    for acc in mine:
        account_balances(c.session, actor=c.me, account=acc)  # may it read them: its own, always
    ranges = held_ranges(c.session, accounts=mine) if c.me.role in _OWNERS else []
    return page(
        c,
        "bluecarbon.html",
        projects=projects_for(c.session, actor=c.me),
        held=[r for r in ranges if r.account == mine[0]],
        retired=[r for r in ranges if r.account == mine[1]],
        retirements=retirements_of(c.session, account=mine[1]) if c.me.role in _OWNERS else [],
        species=SPECIES,
        bamboo_species=BAMBOO_SPECIES,
        harvest_forms=HARVEST_FORMS,
        stand_forms=STAND_FORMS,
        **extra,
    )


@router.get("", response_class=HTMLResponse)
def home(c: ReadConsole) -> HTMLResponse:
    """Projects, monitoring reports, batches and serial ranges; the forms each role uses."""
    c.need(Role.COOPERATIVE, Role.ENTERPRISE, Role.BUREAU)
    return _page(c)


def _decimal(form: dict[str, str], name: str) -> Decimal:
    raw = forms.text(form, name)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise InvalidInput(f"{name} must be a number such as 22000 or 1.5", field=name) from None
    if not value.is_finite():
        raise InvalidInput(f"{name} must be a number", field=name)
    return value


@router.post("/projects")
def register(c: WriteConsole, form: FormDep) -> Response:
    """Register a mussel-farm project (贻贝养殖碳汇项目); the bureau over its waters verifies it."""
    c.need(*_OWNERS)

    def run() -> Done:
        spec = bc.ProjectSpec(
            project=forms.text(form, "project"),
            name=forms.text(form, "name"),
            location=forms.text(form, "location"),
            area_mu=_decimal(form, "area_mu"),
            households=forms.whole(form, "households", low=1, high=10**7),
            division=forms.text(form, "division", optional=True) or None,
        )
        bc.register_project(c.session, actor=c.me, spec=spec)
        return Done(to=PREFIX + "/bluecarbon", message="flash.bc_project", args={"id": spec.project})

    return act(c, form, run, lambda exc: _page(c, error=exc, values=form, failed="project"))


def _submit(
    c: Console, form: dict[str, str], project: str, fields: dict[str, Callable[[], object]]
) -> Response:
    """A monitoring report of ``project``: the period and area every methodology names, then
    ``fields``, read from the form inside the turn (a missing one is refused with the rest)."""
    c.need(*_OWNERS)

    def run() -> Done:
        data = {
            "project_id": project,
            "monitoring_start": forms.text(form, "monitoring_start"),
            "monitoring_end": forms.text(form, "monitoring_end"),
            "farm_area_mu": forms.text(form, "farm_area_mu"),
            **{name: read() for name, read in fields.items()},
        }
        done = bc.submit_report(c.session, actor=c.me, project=project, data=data)
        return Done(
            to=f"{PREFIX}/bluecarbon/reports/{done.id}", message="flash.bc_report", args={"id": done.id}
        )

    return act(c, form, run, lambda exc: _page(c, error=exc, values=form, failed=project))


@router.post("/projects/{project}/reports")
def report(project: str, c: WriteConsole, form: FormDep) -> Response:
    """Submit a monitoring report: the period, the farm area and the harvest (fresh weight)."""
    return _submit(
        c,
        form,
        project,
        {
            "harvested_wet_kg": lambda: forms.text(form, "harvested_wet_kg"),
            "species": lambda: forms.choice(form, "species", SPECIES),
        },
    )


@router.post("/projects/{project}/stand-reports")
def stand_report(project: str, c: WriteConsole, form: FormDep) -> Response:
    """Submit a bamboo stand's monitoring report (竹林碳汇监测报告): the period, the stand's area and
    species, the above-ground dry biomass at its start and end, the measured root-to-shoot ratio
    and where it was measured, and the baseline removals; the methodology checks each."""
    return _submit(
        c,
        form,
        project,
        {
            "species": lambda: forms.choice(form, "species", BAMBOO_SPECIES),
            "biomass_start_kg": lambda: forms.text(form, "biomass_start_kg"),
            "biomass_end_kg": lambda: forms.text(form, "biomass_end_kg"),
            "root_shoot_ratio": lambda: {
                "value": forms.text(form, "root_shoot_ratio"),
                "source": forms.text(form, "root_shoot_source"),
            },
            "baseline_co2_kg": lambda: forms.text(form, "baseline_co2_kg"),
        },
    )


@router.get("/reports/{report_id}", response_class=HTMLResponse)
def show_report(report_id: str, c: ReadConsole) -> HTMLResponse:
    """The methodology's computation of a report, step by step, each parameter with its source."""
    c.need(Role.COOPERATIVE, Role.ENTERPRISE, Role.BUREAU, Role.AUDITOR)
    row = bc.get_report(c.session, report=report_id)
    project = bc.get_project(c.session, project=row.project)
    return page(c, "bluecarbon_report.html", report=row, project=project, result=row.result)


@router.post("/reports/{report_id}/issue")
def issue(report_id: str, c: WriteConsole, form: FormDep) -> Response:
    """The bureau verifies the report and issues its vintage batch with serials (bc.issue)."""
    c.need(Role.BUREAU)

    def run() -> Done:
        done = bc.issue_credits(
            c.session, registry=c.app.registry, actor=c.me, signed_by=c.consent(), report=report_id
        )
        return Done(to=PREFIX + "/bluecarbon", message="flash.bc_issued", args={"id": done.batch})

    return act(c, form, run, lambda exc: _page(c, error=exc, values=form, failed=report_id))


@router.post("/transfer")
def transfer(c: WriteConsole, form: FormDep) -> Response:
    """Transfer whole tonnes of a batch to another participant's holding; the lowest serials move."""
    c.need(*_OWNERS)

    def run() -> Done:
        done = bc.transfer_credits(
            c.session,
            registry=c.app.registry,
            actor=c.me,
            signed_by=c.consent(),
            batch=forms.text(form, "batch"),
            tonnes=forms.whole(form, "tonnes", low=1, high=10**9),
            to_account=account_id(forms.text(form, "to"), "holding"),
        )
        return Done(to=PREFIX + "/bluecarbon", message="flash.bc_moved", args={"n": str(done.tonnes)})

    return act(c, form, run, lambda exc: _page(c, error=exc, values=form, failed="transfer"))


@router.post("/retire")
def retire(c: WriteConsole, form: FormDep) -> Response:
    """Retire (注销) whole tonnes for a beneficiary, with the reason; the serials never move again."""
    c.need(*_OWNERS)

    def run() -> Done:
        done = bc.retire_credits(
            c.session,
            registry=c.app.registry,
            actor=c.me,
            signed_by=c.consent(),
            batch=forms.text(form, "batch"),
            tonnes=forms.whole(form, "tonnes", low=1, high=10**9),
            beneficiary=forms.text(form, "beneficiary"),
            reason=forms.text(form, "reason"),
        )
        return Done(to=PREFIX + "/bluecarbon", message="flash.bc_retired", args={"n": str(done.tonnes)})

    return act(c, form, run, lambda exc: _page(c, error=exc, values=form, failed="retire"))
