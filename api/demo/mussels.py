"""The demo's mussel blue-carbon project at Shengsi (贻贝养殖碳汇): registered by the cooperative, a
year's monitoring report computed by HY/T 0305-2021 (bivalve), its 518 households' roster confirmed by
Zhoushan, verified and issued with the sink attributed to them, sold with the proceeds split to them, retired.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from api.demo import households
from api.demo.stage import Stage
from market.bluecarbon import service as bluecarbon
from market.households import service as members

__all__ = ["PROJECT", "mussel_project"]

PROJECT: Final = "SS-MUSSEL-01"
# The first mussel blue-carbon deal in Zhoushan covered 22,000 mu of farms and 518 farming households
# (DESIGN.md, from the bureau's report). The harvest is the demo's assumption: 2,000 kg of fresh
# mussel per mu, well under the methodology's plausibility bound.
AREA_MU: Final = 22_000
HOUSEHOLDS: Final = 518
HARVEST_KG_PER_MU: Final = 2_000
# Shengsi's deal cleared at 100 CNY per tonne (DESIGN.md): the demo's sale uses that price.
PRICE_FEN_PER_T: Final = 10_000
SOLD_T: Final = 3_000


def mussel_project(stage: Stage) -> str:
    """Register, report a year's harvest, the 518 households' roster (registered by the cooperative,
    confirmed by Zhoushan), verify and issue (10% to the buffer pool; the sink attributed to the
    households by area), then the first deal: 3,000 t sold at 100 CNY/t to a Zhoushan storage firm,
    the proceeds less the 3% fee split to the households in the sale's record; the firm retires 1,000 t."""
    coop, zhoushan = stage.p("shengsi_coop"), stage.p("zhoushan")
    stage.clock.at(-22, 9)
    spec = bluecarbon.ProjectSpec(
        project=PROJECT,
        name="嵊泗贻贝养殖碳汇项目（示例）",
        location="嵊泗列岛贻贝养殖海域",
        area_mu=Decimal(AREA_MU),
        households=HOUSEHOLDS,
    )
    stage.call(bluecarbon.register_project, actor=coop, spec=spec)
    stage.clock.at(-21, 10)
    year = stage.clock.date_at(-21).year - 1
    data = {
        "project_id": PROJECT,
        "monitoring_start": f"{year}-01-01",
        "monitoring_end": f"{year}-12-31",
        "farm_area_mu": str(AREA_MU),
        "harvested_wet_kg": str(AREA_MU * HARVEST_KG_PER_MU),
        "species": "Mytilus coruscus",
    }
    report = stage.call(bluecarbon.submit_report, actor=coop, project=PROJECT, data=data)
    roster = stage.call(
        members.register_roster,
        actor=coop,
        project=PROJECT,
        period_start=report.monitoring_start,
        period_end=report.monitoring_end,
        fee_bp=households.FEE_BP,
        members=households.members(),
    )
    stage.clock.at(-20, 11)
    stage.call(members.confirm_roster, actor=zhoushan, roster=roster.roster)
    stage.clock.at(-20, 15)
    issued = stage.call(bluecarbon.issue_credits, actor=zhoushan, report=report.id)
    stage.clock.at(-19, 10)
    buyer = stage.p("zhoushan_tank")
    sale = stage.call(
        members.sell_credits,
        actor=coop,
        batch=issued.batch,
        tonnes=SOLD_T,
        price_fen_per_t=PRICE_FEN_PER_T,
        buyer=buyer.party,
    )
    assert sale.distribution is not None
    stage.clock.at(-18, 10)
    stage.call(
        bluecarbon.retire_credits,
        actor=buyer,
        batch=issued.batch,
        tonnes=1_000,
        beneficiary=buyer.name,
        reason="抵消储运作业排放（示例）",
    )
    return (
        f"mussel blue carbon, 嵊泗 {AREA_MU:,} mu, {HOUSEHOLDS} households: {issued.batch} verified, "
        f"{issued.split.issued_t:,} t CO2e, serials {issued.serials.start}-{issued.serials.end} "
        f"({issued.split.buffer_t:,} t buffer); roster of {households.HOUSEHOLDS} confirmed; "
        f"{SOLD_T:,} t sold at {PRICE_FEN_PER_T // 100} CNY/t, "
        f"{sale.distribution['members_fen'] // 100:,} CNY to the households after the "
        f"{households.FEE_BP // 100}% fee; 1,000 t retired"
    )
