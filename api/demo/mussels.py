"""The demo's mussel blue-carbon project at Shengsi (贻贝养殖碳汇): registered by the cooperative, a
year's monitoring report computed by HY/T 0305-2021 (bivalve), verified and issued by Zhoushan, sold, retired.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from api.demo.stage import Stage
from market.bluecarbon import service as bluecarbon

__all__ = ["PROJECT", "mussel_project"]

PROJECT: Final = "SS-MUSSEL-01"
# The first mussel blue-carbon deal in Zhoushan covered 22,000 mu of farms and 518 farming households
# (DESIGN.md, from the bureau's report). The harvest is the demo's assumption: 2,000 kg of fresh
# mussel per mu, well under the methodology's plausibility bound.
AREA_MU: Final = 22_000
HOUSEHOLDS: Final = 518
HARVEST_KG_PER_MU: Final = 2_000


def mussel_project(stage: Stage) -> str:
    """Register, report a year's harvest, verify and issue (10% to the buffer pool), then the first
    deal: 3,000 t to a Zhoushan storage firm, which retires 1,000 t for its own emissions."""
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
    stage.clock.at(-20, 15)
    issued = stage.call(bluecarbon.issue_credits, actor=zhoushan, report=report.id)
    stage.clock.at(-19, 10)
    buyer = stage.p("zhoushan_tank")
    stage.call(
        bluecarbon.transfer_credits,
        actor=coop,
        batch=issued.batch,
        tonnes=3_000,
        to_account=f"{buyer.party}.holding",
    )
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
        f"({issued.split.buffer_t:,} t buffer); 3,000 t sold, 1,000 t retired"
    )
