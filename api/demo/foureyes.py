"""The demo's internal controls (内部复核): 宁波示例纺织 names a clerk and an approver, sets a four-eyes
threshold of 10 t for transfers and keeps a trusted-account list; one addition waits out its delay
and one 12 t transfer waits for the approver's signature (Delegated Regulation (EU) 2019/1122 art. 23)."""

from __future__ import annotations

from sqlmodel import Session

from accounts.users import add_user, set_controls
from api.demo.stage import Login, Stage
from ledger.model import Lot
from ledger.service import balances
from market.foureyes import service as foureyes

__all__ = ["CLERK", "THRESHOLD_KG", "four_eyes"]

CLERK, APPROVER = "wang.fang", "li.ming"
THRESHOLD_KG = 10_000  # 10 t: above it, a transfer needs the approver


def four_eyes(stage: Stage) -> tuple[str, str]:
    """Users, controls, an approved trusted-list addition still in its delay and a pending transfer:
    the proposal's id and the summary line."""
    textile, petro = stage.p("ningbo_textile"), stage.p("ningbo_petro")
    stage.clock.at(-1, 17, 30)
    for user, name, role in ((CLERK, "王芳", "clerk"), (APPROVER, "李明", "approver")):
        _, issued = stage.call(
            add_user, vault=stage.vault, actor=textile, acting_user=None, user_id=user, name=name, role=role
        )
        label = f"{textile.name} · {name}（{'经办人' if role == 'clerk' else '复核人'}）"
        stage.logins.append(Login(f"ningbo_textile.{user}", "enterprise", label, textile.party, issued.token))
    stage.call(
        set_controls,
        vault=stage.vault,
        actor=textile,
        four_eyes_kg={"transfer": THRESHOLD_KG},
        trusted_list=True,
    )
    account = f"{petro.party}.holding"
    proposed = stage.call(foureyes.propose_trust, actor=textile, user=CLERK, account=account)
    stage.clock.at(-1, 17, 40)
    stage.call(foureyes.approve, vault=stage.vault, actor=textile, user=APPROVER, proposal_id=proposed.id)
    with Session(stage.engine) as s:
        lot = next(b.lot for b in balances(s, account=f"{textile.party}.holding") if b.instrument == "COD")
    pending = stage.call(
        foureyes.propose_transfer,
        vault=stage.vault,
        actor=textile,
        user=CLERK,
        to=account,
        instrument="COD",
        lot=Lot.from_key(lot).key(),
        quantity_kg=12_000,
    )
    if not isinstance(pending, foureyes.Proposal):  # 12 t is above the threshold: it must wait
        raise RuntimeError("the demo's four-eyes transfer was recorded without a second user")
    return pending.id, (
        f"four-eyes (双人审批) at {textile.name}: 12 t COD to {petro.name} awaiting approver 李明 "
        f"({pending.id}); its addition to the trusted list approved, in its 4-working-day delay"
    )
