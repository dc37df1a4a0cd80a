"""Routes that act at once or propose (双人审批): 200 with what was recorded, or 202 Accepted with the
four-eyes proposal that now awaits a second user of the caller's party (``market.foureyes``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.schemas import ErrorOut
from api.schemas.foureyes import Outcome
from api.schemas.proposals import ProposalOut
from api.write import Write
from market.proposals.model import Proposal

__all__ = ["ACCEPTED", "ERRORS", "answer", "user_of"]

Done = TypeVar("Done", bound=BaseModel)
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 403, 404, 409, 422)}
ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {
        "model": ProposalOut,
        "description": "Accepted: above the party's four-eyes threshold the request is a proposal "
        "(status pending) awaiting the signer slot that is not yet signed: an approver (复核人) of the "
        "party other than the proposing user, who approves with POST /v1/proposals/{id}/sign",
    }
}


def user_of(request: Request) -> str | None:
    """The named user whose key authenticated the request (accounts.users), or None: the party's own."""
    user = getattr(request.state, "api_user", None)
    return user if isinstance(user, str) else None


def answer(
    w: Write,
    payload: BaseModel,
    out: type[Done],
    run: Callable[[], Any],
    show: Callable[[Any], Done],
) -> Done | JSONResponse:
    """``run()`` once per Idempotency-Key (``Write.once``); a ``Proposal`` answers 202 with it, any
    other result 200 with ``show(result)``, and a retry answers the same status and body."""

    def outcome() -> Outcome[Done]:
        result = run()
        if isinstance(result, Proposal):
            return Outcome[out](proposal=ProposalOut.of(result))  # type: ignore[valid-type]
        return Outcome[out](done=show(result))  # type: ignore[valid-type]

    kept = w.once(payload, Outcome[out], outcome)  # type: ignore[valid-type]
    if kept.proposal is not None:
        return JSONResponse(kept.proposal.model_dump(mode="json"), status_code=202)
    assert kept.done is not None
    return kept.done
