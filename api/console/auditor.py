"""The auditor's view: download the signed journal as a bundle (the tar ``ecoledger audit verify``
checks offline) and see the result of replaying the live journal against the live balances."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse
from starlette.background import BackgroundTask

from accounts.model import Role
from accounts.service import read_journal
from api.console.web import PREFIX, Console, ConsoleRoute, ReadConsole, page
from ledger.bundle import export_bundle
from ledger.crypto import b64e
from ledger.service import head_size, replay_database

router = APIRouter(prefix=PREFIX + "/auditor", route_class=ConsoleRoute, include_in_schema=False)


def _may_read_journal(c: Console) -> None:
    """Authorize reading the whole journal (auditors, the operator) through the service's check."""
    c.need(Role.AUDITOR, Role.OPERATOR)
    read_journal(c.session, actor=c.me, start=0, stop=0)


@router.get("", response_class=HTMLResponse)
def audit(c: ReadConsole) -> HTMLResponse:
    """The replay of the live journal: every link, signature, checkpoint and rule, and the balances."""
    _may_read_journal(c)
    report, diff = replay_database(c.session)
    return page(
        c,
        "auditor.html",
        report=report,
        diff=sorted(diff.items()),
        size=head_size(c.session),
        registry_key=b64e(c.app.registry.key.public),
    )


@router.get("/bundle.tar")
def bundle(c: ReadConsole) -> FileResponse:
    """The bundle as a tar: the same export as ``ecoledger export --tar`` and the API's bundle."""
    _may_read_journal(c)
    size = head_size(c.session)  # the export may see a few more records: the name is a label only
    work = Path(tempfile.mkdtemp(prefix="ecoledger-console-"))
    export_bundle(c.session, work / "bundle", tar=True)
    return FileResponse(
        work / "bundle.tar",
        media_type="application/x-tar",
        filename=f"ecoledger-bundle-{size}.tar",
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )
