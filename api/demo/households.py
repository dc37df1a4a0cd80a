"""The demo cooperative's 518 member households (嵊泗, 22,000 mu): synthetic, reproducible people and farms.

The count and the total area are the 2023 deal's (DESIGN.md: 舟山市生态环境局 2023 work review, "涉及贻贝
养殖面积 2.2 万亩，惠及贻贝养殖渔民 518 户"). Everything else is the demo's assumption: farm sizes drawn
around the mean of 42.5 mu and scaled to exactly 22,000 mu (largest remainder, in hundredths of a mu);
one raft (筏架) per 2.5 mu and two longlines (延绳) per raft; names and ID numbers are invented.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

from ledger.households import largest_remainder
from market.households.model import MemberEntry, id_card_with_check

__all__ = ["FEE_BP", "HOUSEHOLDS", "TOTAL_AREA_MU", "members"]

HOUSEHOLDS: Final = 518
TOTAL_AREA_MU: Final = 22_000
FEE_BP: Final = 300  # the cooperative's fee the members agreed in the demo: 3% of each sale
_SURNAMES: Final = (
    "王李张陈林黄周吴徐孙胡朱高何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋"
    "蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段钱汤尹黎易常武乔贺赖龚文"
)
_GIVEN: Final = "海波涛洋帆舟渔明华建国军平伟强志勇杰磊斌兵春秋冬梅兰英芳秀丽红霞燕玲娟桂珍凤琴云"


def members(seed: int = 22_000_518) -> list[MemberEntry]:
    """The 518 member households, the same on every run: areas summing to exactly 22,000 mu."""
    rnd = random.Random(seed)
    weights = [(f"SS{i:04d}", rnd.randint(15, 70)) for i in range(1, HOUSEHOLDS + 1)]
    cmu = dict(largest_remainder(TOTAL_AREA_MU * 100, weights))
    born = date(1955, 1, 1)
    out = []
    for i, (member, _) in enumerate(weights, start=1):
        area = Decimal(cmu[member]) / 100
        rafts = max(1, int(area / Decimal("2.5")))
        birth = born + timedelta(days=rnd.randint(0, 365 * 40))
        name = rnd.choice(_SURNAMES) + "".join(rnd.choice(_GIVEN) for _ in range(rnd.randint(1, 2)))
        first17 = f"330922{birth:%Y%m%d}{i % 1000:03d}"
        out.append(
            MemberEntry(
                member=member,
                name=name,
                id_card=id_card_with_check(first17),
                area_mu=area,
                rafts=rafts,
                longlines=2 * rafts,
            )
        )
    return out
