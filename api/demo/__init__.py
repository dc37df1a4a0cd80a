"""The demo scenario ``make demo`` loads, drawn from the Zhejiang bureaus' own reports, played through
the services on a registry clock that walks the last two months up to the moment the demo starts.
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from accounts.custody import Vault
from accounts.demo import DEMO_SPECS, SCENARIO_SPECS
from api.demo import bidding, collateral, foureyes, mussels, rights
from api.demo.stage import Login, Stage
from ledger.service import Registry, init_ledger
from ledger.timeutil import utc_now

__all__ = ["DemoFacts", "Login", "load", "logins_text", "write_private"]


@dataclass(frozen=True, slots=True)
class DemoFacts:
    """What the scenario left in the registry: the ids a person (or a test) looks for, one summary
    line per part of the story, everyone's login, and how long the load took."""

    participants: int
    summary: tuple[str, ...]
    logins: tuple[Login, ...]
    settled_auction: str
    live_auction: str
    active_pledge: str
    partly_released_pledge: str
    pending_pledge: str
    settled_transfer: str
    awaiting_transfer: str
    pending_trade_offer: str
    blue_carbon_project: str
    four_eyes_pending: str
    seconds: float


def _valid_until(stage: Stage) -> date:
    """Rights run for a 5-year term (Zhejiang): to the end of the fourth year after allocation."""
    return date(stage.clock.date_at(-58).year + 4, 12, 31)


def load(engine: Engine, registry: Registry, vault: Vault, *, start: datetime | None = None) -> DemoFacts:
    """Write the whole scenario into an empty database (schema created): genesis, participants with
    custody keys and logins, then each part of the story in the order it happened."""
    began = time.perf_counter()
    stage = Stage.create(engine, registry, vault, start or utc_now())
    stage.clock.at(-60, 9)
    with Session(engine) as s:
        init_ledger(s, registry=stage.registry, name="ecoledger demo registry (Zhejiang)")
        s.commit()
    stage.register({**DEMO_SPECS, **SCENARIO_SPECS})
    until = _valid_until(stage)
    stage.clock.at(-59, 10)
    rights.fund(stage)
    stage.clock.at(-58, 9)
    allocated = rights.allocate_rights(stage, until)
    vocs = rights.vocs_pilot(stage, until)
    auctioned = bidding.settled_auction(stage, until)
    pledges = collateral.pledges_confirmed(stage, until)
    mussel = mussels.mussel_project(stage)
    settled = collateral.cross_city_settled(stage, until)
    bought_back = rights.buy_back(stage, until)
    collateral.release_part(stage, pledges)
    awaiting = collateral.cross_city_awaiting(stage, until)
    pending = collateral.pledge_application(stage, until)
    live = bidding.live_auction(stage, until)
    offered = rights.trade_offered(stage, until)
    consent = rights.allocation_offered(stage, until)
    four_eyes_pending, four_eyes = foureyes.four_eyes(stage)
    summary = (
        allocated,
        consent,
        bought_back,
        vocs,
        f"bilateral offer (协议转让) {offered}: 余姚示例化工 → 余姚示例印染, 2 t COD at "
        f"{rights.OFFER_PRICE_FEN_PER_T // 100:,} CNY/t, signed, awaiting the buyer",
        auctioned,
        live,
        "pledges (排污权抵质押): 示例银行余姚支行 800,000 CNY on 60 t, active; 示例银行宁波分行 650,000 CNY "
        "on 50 t, 20 t released; 30 t awaiting the Yuyao bureau's approval",
        "Zhoushan→Ningbo from the demand list (项目需求库): 10 t COD settled; 6 t awaiting Ningbo's approval",
        mussel,
        four_eyes,
    )
    return DemoFacts(
        participants=len(stage.people),
        summary=summary,
        logins=tuple(stage.logins),
        settled_auction=bidding.SETTLED_AUCTION,
        live_auction=bidding.LIVE_AUCTION,
        active_pledge=pledges.active,
        partly_released_pledge=pledges.partly_released,
        pending_pledge=pending,
        settled_transfer=settled,
        awaiting_transfer=awaiting,
        pending_trade_offer=offered,
        blue_carbon_project=mussels.PROJECT,
        four_eyes_pending=four_eyes_pending,
        seconds=time.perf_counter() - began,
    )


_ROLE_ORDER = ("bureau", "enterprise", "bank", "cooperative", "auditor", "operator")


def _width(text: str) -> int:
    """Columns a terminal gives ``text``: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def logins_text(logins: tuple[Login, ...]) -> str:
    """The logins as a table: role, name, party id, access key (the API bearer token)."""
    ranked = sorted(logins, key=lambda x: (_ROLE_ORDER.index(x.role), x.party))
    rows = [("role", "name", "party", "access key")]
    rows += [(x.role, x.name, x.party, x.token) for x in ranked]
    widths = [max(_width(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join([*(_pad(r[i], widths[i]) for i in range(3)), r[3]]) for r in rows]
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str) -> None:
    """Write a secret file only its owner reads (0600), created so from the start."""
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text, encoding="utf-8")
