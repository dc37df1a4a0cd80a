"""The one write seam of the API and the console: who acts, in which session, sealing with which key,
under which Idempotency-Key; a route hands it one service call and answers with what it returns.

Two doors lead to the same ``Write``. ``WriteDep``: a unit of work in a savepoint of the sequencer's
current group (``api.deps.get_session``), run at most once per key by ``Write.once`` against the one
idempotency store (``ledger.idempotency``). ``SubmitDep``: no session at all, for a signed instruction
that waits for the sequencer's next batch; the key travels in the instruction (``Write.instruction``)
and the ledger applies it at most once, in the same store, in the batch's transaction.
``read_submission`` opens the second door for a route that reads its own request (the signed
instruction's hot path, ``api.routes.ledger.HOT_ROUTES``), with the same checks and answers.

The console builds the same ``Write`` from its login instead of a bearer token (``api.console.web``);
its key is the per-form token every rendered form carries.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from accounts.custody import Vault
from accounts.model import Participant
from api.deps import (
    ActorDep,
    IdempotencyKeyDep,
    RegistryDep,
    SessionDep,
    authenticate,
    idempotency_key,
    state,
)
from api.security import is_json
from ledger.errors import IdempotencyKeyReused
from ledger.idempotency import find_answer, keep_answer
from ledger.model import Body, Signature
from ledger.sequencer import Sequencer
from ledger.service import Instruction, Registry

__all__ = ["SubmitDep", "Write", "WriteDep", "once", "read_submission", "request_digest"]

Out = TypeVar("Out", bound=BaseModel)
In = TypeVar("In", bound=BaseModel)
KEY_FIELD = "Idempotency-Key"  # what a refusal names: the header (the console's form token stands in)


@dataclass(frozen=True)
class Write:
    """One write request: ``actor`` acting, sealed with ``registry``'s key, ``key`` its Idempotency-Key
    (None: none was given, and the call simply runs). ``unit`` is the request's session, None for a
    route that only submits instructions to the sequencer."""

    request: Request
    actor: Participant
    registry: Registry
    key: str | None
    unit: Session | None = None

    @property
    def session(self) -> Session:
        """The request's write session: committed with its group before the answer is sent."""
        if self.unit is None:
            raise RuntimeError("a submitting route holds no session (SubmitDep); use WriteDep")
        return self.unit

    @property
    def sequencer(self) -> Sequencer:
        return state(self.request).sequencer

    @property
    def vault(self) -> Vault | None:
        """The custody vault, or None when the registry holds no keys."""
        return state(self.request).vault

    def once(
        self, payload: BaseModel | Mapping[str, Any] | None, out: type[Out], run: Callable[[], Out]
    ) -> Out:
        """``run()`` (one service call and the mapping of its result) at most once per (actor, key): a
        repeat of this request (method, path, ``payload``) answers what the first got; the key with
        another request is ``IdempotencyKeyReused`` (409)."""
        if payload is None:
            body: Any = {}
        elif isinstance(payload, BaseModel):
            body = payload.model_dump(mode="json")
        else:
            body = dict(payload)
        if self.key is None:
            return run()
        return once(
            self.session,
            scope=self.actor.party,
            key=self.key,
            digest=request_digest(self.request.method, self.request.url.path, body),
            out=out,
            run=run,
        )

    def instruction(self, body: Body, signatures: tuple[Signature, ...]) -> Instruction:
        """A signed instruction carrying this request's key, scoped to the actor: the ledger applies
        it at most once, keeping its answer in the same store and transaction as its record."""
        return Instruction(body, signatures, self.key, self.actor.party)


def request_digest(method: str, path: str, payload: Any) -> bytes:
    # Sorted-key JSON, not the ledger's canonical form: a request may hold what a record may not
    # (floats, integers past 2**53) and must be refused by its route, not by this digest.
    text = json.dumps(
        {"method": method, "path": path, "body": payload}, sort_keys=True, default=str, ensure_ascii=False
    )
    return hashlib.sha256(text.encode()).digest()


def once(
    session: Session, *, scope: str, key: str, digest: bytes, out: type[Out], run: Callable[[], Out]
) -> Out:
    """``run()`` once per ``(scope, key)`` in the one store (``ledger.idempotency``): the same request
    again (same ``digest``) answers what was stored; another request under the key is refused."""
    stored = find_answer(session, scope=scope, key=key)
    if stored is not None:
        if stored.digest != digest:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for a different request", field=KEY_FIELD
            )
        return out.model_validate_json(stored.response)
    result = run()
    keep_answer(
        session, scope=scope, key=key, digest=digest, response=result.model_dump_json(), field=KEY_FIELD
    )
    return result


async def get_write(
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    registry: RegistryDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> Write:
    return Write(request, actor, registry, idempotency_key, session)


async def get_submit(
    request: Request, actor: ActorDep, registry: RegistryDep, idempotency_key: IdempotencyKeyDep = None
) -> Write:
    # No session and no database slot: the route waits for the sequencer's next batch.
    return Write(request, actor, registry, idempotency_key)


WriteDep = Annotated[Write, Depends(get_write)]
SubmitDep = Annotated[Write, Depends(get_submit)]


async def read_submission(request: Request, model: type[In]) -> tuple[Write, In]:
    """What ``SubmitDep`` and a JSON body of ``model`` give a route, for one that reads its own request:
    the actor first (401, 429), then the Idempotency-Key and the body, whose problems are one
    ``RequestValidationError`` located as FastAPI locates them (``header``, ``body``).

    Why: FastAPI's routing and parameter handling (the body parsed, then validated) cost more than
    the transfer's own work; with this door and ``HOT_ROUTES``, CPU per signed transfer fell from
    about 1,030 to 800 us (measured in-process, 50 callers). Pydantic parses and validates at once."""
    actor = await authenticate(request)
    problems: list[Any] = []
    try:
        key = idempotency_key(request)
    except RequestValidationError as exc:
        key, problems = None, list(exc.errors())
    payload = None
    if not is_json(request.scope):
        problems.append(_NOT_AN_OBJECT)  # FastAPI reads such a body as bytes, never as JSON
    else:
        try:
            payload = model.model_validate_json(await request.body())
        except ValidationError as exc:
            problems += [{**err, "loc": ("body", *err["loc"])} for err in exc.errors(include_url=False)]
    if problems or payload is None:
        raise RequestValidationError(problems)
    return Write(request, actor, state(request).registry, key), payload


_NOT_AN_OBJECT = {
    "type": "model_attributes_type",
    "loc": ("body",),
    "msg": "Input should be a valid dictionary or object to extract fields from",
    "input": None,
}
