"""Transfers with the party's key in custody (划转), for systems that integrate through the API: a
named user's transfer above the party's four-eyes threshold becomes a proposal (202) that a second
user approves (``POST /v1/proposals/{id}/sign``); a self-signed body goes to ``/v1/instructions``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from accounts.custody import Vault
from accounts.errors import NoCustodyKey
from api.proposed import ACCEPTED, ERRORS, answer, user_of
from api.schemas.foureyes import TransferIn
from api.schemas.issuance import RecordOut
from api.write import Write, WriteDep
from market.foureyes import service as foureyes

router = APIRouter(prefix="/v1", tags=["transfers"])


def vault_of(w: Write) -> Vault:
    if w.vault is None:
        raise NoCustodyKey("the registry holds no custody keys: sign the body yourself", field="party")
    return w.vault


@router.post("/transfers", response_model=RecordOut, responses={**ERRORS, **ACCEPTED})
def post_transfer(payload: TransferIn, w: WriteDep) -> RecordOut | JSONResponse:
    """Send units from the caller's holding, signed with its key in custody: 200 with the record, or
    202 with a four-eyes proposal when a named user's transfer is above the party's threshold."""
    return answer(
        w,
        payload,
        RecordOut,
        lambda: foureyes.send_units(
            w.session,
            registry=w.registry,
            vault=vault_of(w),
            actor=w.actor,
            user=user_of(w.request),
            to=payload.to,
            instrument=payload.instrument,
            lot=payload.lot,
            quantity_kg=payload.quantity_kg,
        ),
        RecordOut.of,
    )
