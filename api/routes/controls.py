"""A party's named users and its controls over HTTP: who may act for it (clerk, approver), above
which quantities a second user must approve (双人审批), and its trusted-account list (additions are
four-eyes proposals in effect after the registry's delay; removals at once). Parses, authorizes, calls
one service function.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from accounts.custody import Vault
from accounts.errors import NoCustodyKey, PermissionDenied
from accounts.model import Participant, Role
from accounts.users import add_user, users_of
from api.deps import ActorDep, ReaderDep
from api.proposed import ACCEPTED, answer, user_of
from api.schemas import ErrorOut
from api.schemas.controls import ControlsIn, ControlsOut, IssuedUserOut, UserIn, UserOut
from api.schemas.foureyes import TrustIn
from api.schemas.issuance import RecordOut
from api.schemas.participants import CredentialOut
from api.schemas.proposals import ProposalOut
from api.write import Write, WriteDep
from ledger.service import controls_of
from market.foureyes import service as foureyes

router = APIRouter(prefix="/v1", tags=["controls"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 403, 404, 409, 422)}


def _own(actor: Participant, party: str, *, read: bool = False) -> None:
    """A party manages its own users and controls; the operator and auditors may read them."""
    if actor.party == party or (read and actor.role in (Role.OPERATOR, Role.AUDITOR)):
        return
    raise PermissionDenied(
        f"{actor.party} may not manage the users or controls of {party}",
        rule="own_party_only",
        action="manage_controls",
        actor=actor.party,
    )


def _vault(w: Write) -> Vault:
    if w.vault is None:
        raise NoCustodyKey("the registry holds no custody keys, so it cannot sign controls", field="party")
    return w.vault


@router.get("/participants/{party}/users", response_model=list[UserOut], responses=ERRORS)
def get_users(party: str, actor: ActorDep, session: ReaderDep) -> list[UserOut]:
    """The party's named users in the order they were created."""
    _own(actor, party, read=True)
    return [UserOut.of(u) for u in users_of(session, party=party)]


@router.post("/participants/{party}/users", response_model=IssuedUserOut, responses=ERRORS)
def post_user(party: str, payload: UserIn, w: WriteDep) -> IssuedUserOut:
    """A new named user with an API key of its own (administrator key only); the journal lists it."""
    _own(w.actor, party)
    token: list[str] = []

    def run() -> IssuedUserOut:
        user, issued = add_user(
            w.session,
            registry=w.registry,
            vault=_vault(w),
            actor=w.actor,
            acting_user=getattr(w.request.state, "api_user", None),
            user_id=payload.user_id,
            name=payload.name,
            role=payload.role,
        )
        token.append(issued.token)
        return IssuedUserOut(
            user=UserOut.of(user), credential=CredentialOut.of(issued.credential), token=None
        )

    # As with credentials: the token never enters the idempotency store.
    done = w.once(payload, IssuedUserOut, run)
    return done.model_copy(update={"token": token[0] if token else None})


@router.get("/participants/{party}/controls", response_model=ControlsOut, responses=ERRORS)
def get_controls(party: str, actor: ActorDep, session: ReaderDep) -> ControlsOut:
    """The party's users, four-eyes thresholds and trusted list as the journal holds them."""
    _own(actor, party, read=True)
    return ControlsOut.of(party, controls_of(session, party=party))


@router.post("/participants/{party}/controls", response_model=ControlsOut, responses={**ERRORS, **ACCEPTED})
def post_controls(party: str, payload: ControlsIn, w: WriteDep) -> ControlsOut | JSONResponse:
    """Set the party's thresholds and trusted-list switch (a ``controls.set`` record): 200 with the
    controls now in force; once controls are in force, a named user's change answers 202 with a
    proposal that an approver (复核人) other than that user signs (``POST /v1/proposals/{id}/sign``),
    and the administrator key's change is refused (``four_eyes_required``)."""
    _own(w.actor, party)
    return answer(
        w,
        payload,
        ControlsOut,
        lambda: foureyes.change_controls(
            w.session,
            registry=w.registry,
            vault=_vault(w),
            actor=w.actor,
            user=user_of(w.request),
            four_eyes_kg=payload.four_eyes_kg,
            trusted_list=payload.trusted_list,
        ),
        lambda _: ControlsOut.of(party, controls_of(w.session, party=party)),
    )


@router.post(
    "/participants/{party}/trusted",
    response_model=ProposalOut,
    status_code=202,
    responses={**ERRORS, 202: {"description": ACCEPTED[202]["description"]}},
)
def post_trusted(party: str, payload: TrustIn, w: WriteDep) -> ProposalOut:
    """Propose adding an account to the party's trusted list (a named user's key): a second user, an
    approver, approves it, and it takes effect after the registry's working-day delay (EU 2019/1122
    art. 23). Always 202: an addition is never in effect at once."""
    _own(w.actor, party)
    return w.once(
        payload,
        ProposalOut,
        lambda: ProposalOut.of(
            foureyes.propose_trust(
                w.session,
                registry=w.registry,
                actor=w.actor,
                user=user_of(w.request),
                account=payload.account,
            )
        ),
    )


@router.post("/participants/{party}/trusted/{account}/remove", response_model=RecordOut, responses=ERRORS)
def post_untrusted(party: str, account: str, w: WriteDep) -> RecordOut:
    """Take an account off the party's trusted list, at once (one user, or the administrator key)."""
    _own(w.actor, party)
    return w.once(
        None,
        RecordOut,
        lambda: RecordOut.of(
            foureyes.remove_trusted(
                w.session,
                registry=w.registry,
                vault=_vault(w),
                actor=w.actor,
                user=user_of(w.request),
                account=account,
            )
        ),
    )
