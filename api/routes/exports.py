"""Exports for auditors: the signed journal as a bundle (tar) that `ecoledger audit verify` checks offline.

Each route parses, calls one service function and returns its result; rules live in the services."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from accounts.service import export_journal
from api.deps import ActorDep, ReaderDep, RegistryDep
from api.replay_checks import replay_checks
from api.schemas import ErrorOut
from api.schemas.exports import VerificationOut
from ledger.audit import verify_bundle

router = APIRouter(prefix="/v1", tags=["exports"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 403)}
TAR = "application/x-tar"


def _workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="ecoledger-export-"))


@router.get(
    "/exports/bundle",
    response_class=FileResponse,
    responses={200: {"content": {TAR: {}}, "description": "the audit bundle as a tar"}, **ERRORS},
)
def get_bundle(actor: ActorDep, session: ReaderDep) -> FileResponse:
    """The journal as it stands now, as an audit bundle (tar) that `ecoledger audit verify` checks
    offline: records, checkpoints, keys, manifest (auditors and the operator)."""
    work = _workdir()
    try:
        manifest = export_journal(session, actor=actor, out_dir=work / "bundle", tar=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    name = f"ecoledger-bundle-{manifest.data['records']}.tar"
    return FileResponse(
        work / "bundle.tar",
        media_type=TAR,
        filename=name,
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),  # once the file is sent
    )


@router.get("/exports/verification", response_model=VerificationOut, responses=ERRORS)
def get_verification(actor: ActorDep, session: ReaderDep, registry: RegistryDep) -> VerificationOut:
    """Replay the current journal exactly as the offline `ecoledger audit verify` does (every
    encoding, hash link, signature, checkpoint, rule, methodology and serial) and summarize it (auditors
    and the operator)."""
    work = _workdir()
    try:
        export_journal(session, actor=actor, out_dir=work / "bundle")
        summary = verify_bundle(
            work / "bundle", registry_key=registry.key.public, workers=1, checks=replay_checks()
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # The bundle was a scratch copy: name what was verified, never the server's temporary path.
    summary.bundle = "the registry's journal"
    out = VerificationOut.of(summary)
    return out.model_copy(
        update={
            "summary": out.summary.replace(str(work / "bundle"), "journal"),
            "problems": [p.replace(str(work / "bundle"), "journal") for p in out.problems],
        }
    )
