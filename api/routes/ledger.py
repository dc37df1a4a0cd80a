"""Ledger routes: balances (live and as-of), signed instructions, journal pages, checkpoints and proofs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

from accounts.service import account_balance_as_of, account_balances, read_journal
from api.deps import IDEMPOTENCY_KEY_PARAMETER, ActorDep, ReaderDep, in_thread, read_stamped
from api.docs import documented
from api.schemas import BalanceOut, ErrorOut, Instant, InstructionIn, ReceiptOut
from api.schemas.proofs import CheckpointOut, ConsistencyOut
from api.write import read_submission
from ledger.canonical import canonical_bytes
from ledger.errors import InvalidInput
from ledger.model import Signature, TxBody, parse_body
from ledger.service import consistency_between, latest_checkpoint, prove_inclusion
from market.trades.transfers import submit_transfer_async

router = APIRouter(prefix="/v1", tags=["ledger"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 403, 404, 409, 422)}
GENERIC_ACTIONS = {"transfer"}
MAX_SEQ = 2**53 - 1  # journal positions stay within JSON's exact integers (and the databases' BIGINT)
Seq = Annotated[int, Path(ge=0, le=MAX_SEQ, description="journal position")]


@router.get("/accounts/{account}/balances", response_model=list[BalanceOut], responses=ERRORS)
async def get_balances(
    account: str, actor: ActorDep, request: Request, response: Response
) -> list[BalanceOut]:
    """Live positions of an account the caller may see (its own, or as a supervisor); read from the
    replica when one is configured, with the journal head it reflects in X-Ecoledger-Replica-* headers."""
    found, stamp = await read_stamped(
        request, lambda session: account_balances(session, actor=actor, account=account)
    )
    if stamp is not None:
        response.headers.update(stamp.headers())
    return [
        BalanceOut(
            account=b.account,
            instrument=b.instrument,
            lot=b.lot,
            total=b.total,
            held=b.held,
            available=b.available,
        )
        for b in found
    ]


@router.get("/accounts/{account}/balances/as-of", responses=ERRORS)
async def get_balances_as_of(
    account: str,
    actor: ActorDep,
    request: Request,
    seq: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
    at: Annotated[Instant | None, Query(description="ISO 8601 with a UTC offset, 1970 to 2199")] = None,
) -> list[dict[str, Any]]:
    """Totals of an account after journal record ``seq``, or as of instant ``at``."""
    if at is not None and at.tzinfo is None:
        raise InvalidInput("at must carry a time zone (e.g. Z)", field="at")
    # in a thread: the sum over an account's postings grows with its history
    totals = await in_thread(
        request, lambda session: account_balance_as_of(session, actor=actor, account=account, seq=seq, at=at)
    )
    return [{"instrument": i, "lot": lot, "total": t} for (i, lot), t in sorted(totals.items())]


async def post_instruction(request: Request) -> Response:
    """Submit a signed transfer; workflows (auctions, pledges...) have their own routes."""
    # The hot path of the API: served ahead of FastAPI's routing (``HOT_ROUTES``); it reads its own
    # request, with the checks and answers of ``SubmitDep`` and an ``InstructionIn`` body.
    w, payload = await read_submission(request, InstructionIn)
    body = parse_body(payload.body)
    if not isinstance(body, TxBody) or body.action not in GENERIC_ACTIONS:
        raise InvalidInput(
            f"this endpoint takes {sorted(GENERIC_ACTIONS)}; use the workflow routes for others",
            field="body.action",
        )
    sigs = tuple(
        Signature.parse(s.model_dump(exclude_defaults=True), f"signatures[{i}]")
        for i, s in enumerate(payload.signatures)
    )
    # In the event loop: the instruction waits for its group without a thread of its own (50
    # threads waiting and waking cost more than the parsing here).
    receipt = await submit_transfer_async(
        w.sequencer, registry=w.registry, actor=w.actor, instruction=w.instruction(body, sigs)
    )
    out = ReceiptOut(seq=receipt.seq, hash=receipt.hash, time=receipt.time, replayed=receipt.replayed)
    return Response(out.model_dump_json(), media_type="application/json")


class NamedRoute(Route):
    """A Starlette route that names itself in the request's scope as FastAPI's routes do: the
    metrics and the request log label a request by its route's template (``api.observability``)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE:
            child["route"] = self
        return match, child


router.add_api_route(
    "/instructions",
    post_instruction,
    methods=["POST"],
    response_model=ReceiptOut,
    responses=ERRORS,
    openapi_extra=documented(body=InstructionIn, parameters=(IDEMPOTENCY_KEY_PARAMETER,)),
)
# Served before any other route: FastAPI's nested routing and parameter handling cost more than
# the parsing, signature check and group commit of the transfer itself. The APIRoute above is the
# same function; it documents the operation.
HOT_ROUTES = [NamedRoute("/v1/instructions", post_instruction, methods=["POST"])]


@router.get("/journal", response_class=PlainTextResponse, responses=ERRORS)
def get_journal(
    actor: ActorDep,
    session: ReaderDep,
    start: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> str:
    """A page of the journal as JSON Lines (auditors and the operator)."""
    return "".join(
        line.decode() + "\n" for line in read_journal(session, actor=actor, start=start, stop=start + limit)
    )


@router.get("/journal/{seq}/proof", responses=ERRORS)
def get_proof(seq: Seq, actor: ActorDep, session: ReaderDep) -> dict[str, Any]:
    """A record with its inclusion proof against the latest signed checkpoint covering it."""
    list(read_journal(session, actor=actor, start=seq, stop=seq))  # authorizes READ_JOURNAL
    return prove_inclusion(session, seq=seq).to_json()


def _canonical(data: bytes) -> Response:
    # The exact bytes that were signed: a client keeps them as they are (docs/journal-format.md).
    return Response(content=data, media_type="application/json")


@router.get(
    "/checkpoints/latest",
    response_model=CheckpointOut | None,
    responses={401: ERRORS[401]},
)
def get_latest_checkpoint(actor: ActorDep, session: ReaderDep) -> Response:
    """The registry's latest signed tree head as its canonical bytes (null before the first)."""
    cp = latest_checkpoint(session)
    return _canonical(cp.line() if cp else b"null")


@router.get(
    "/checkpoints/consistency",
    response_model=ConsistencyOut,
    responses={
        401: ERRORS[401],
        404: {"model": ErrorOut, "description": "no checkpoint of size `first` or `second`"},
        422: {"model": ErrorOut, "description": "`first` larger than `second`, or a bad query"},
    },
)
def get_consistency(
    actor: ActorDep,
    session: ReaderDep,
    first: Annotated[int, Query(ge=0, le=MAX_SEQ, description="tree size of the older checkpoint")],
    second: Annotated[
        int | None, Query(ge=0, le=MAX_SEQ, description="tree size of the newer one (default: latest)")
    ] = None,
) -> Response:
    """RFC 9162 consistency proof between two signed checkpoints (any authenticated participant):
    200, or 404 when either size has no checkpoint, 422 when first > second."""
    proof = consistency_between(session, first=first, second=second)
    return _canonical(canonical_bytes(proof.to_json()))
