"""The public registry's wording in Chinese and English (the console's own table, api.console.i18n, for
everything shared: units, instrument and design names, the footer)."""

from __future__ import annotations

from typing import Final

from api.console.i18n import translate

__all__ = ["public_text"]

TEXT: Final[dict[str, dict[str, str]]] = {
    "pub.title": {"zh": "公开信息", "en": "Public registry"},
    "pub.intro": {
        "zh": "无需登录即可查阅：海洋碳汇项目、签发与注销（按序列号段）、竞价成交公示、各地总量与使用。"
        "数据每 30 秒更新一次；企业的账户、余额与质押不公开。",
        "en": "Open to all, no login: blue-carbon projects, issuances and retirements by serial range, "
        "auction results, and caps and their use per city. Refreshed every 30 seconds; enterprises' "
        "accounts, balances and pledges are not published.",
    },
    "pub.nav.caps": {"zh": "总量与使用", "en": "Caps and use"},
    "pub.nav.bluecarbon": {"zh": "碳汇", "en": "Carbon credits"},
    "pub.nav.auctions": {"zh": "成交公示", "en": "Auction results"},
    "pub.nav.json": {"zh": "JSON 数据", "en": "JSON data"},
    "pub.nav.login": {"zh": "登录控制台", "en": "Console login"},
    "pub.caps": {"zh": "各地总量与使用", "en": "Caps and their use per city"},
    "pub.city": {"zh": "地区", "en": "City / county"},
    "pub.instrument": {"zh": "指标", "en": "Instrument"},
    "pub.valid_until": {"zh": "有效期至", "en": "Valid until"},
    "pub.cap": {"zh": "总量", "en": "Cap"},
    "pub.allocated": {"zh": "已分配", "en": "Allocated"},
    "pub.reserve": {"zh": "储备", "en": "In reserve"},
    "pub.held": {"zh": "其中竞价冻结", "en": "of which on hold"},
    "pub.projects": {
        "zh": "碳汇项目（蓝碳、竹林碳汇）",
        "en": "Carbon-credit projects (blue carbon, bamboo carbon)",
    },
    "pub.project": {"zh": "项目", "en": "Project"},
    "pub.location": {"zh": "地点", "en": "Location"},
    "pub.area": {"zh": "面积（亩）", "en": "Area (mu)"},
    "pub.households": {"zh": "养殖户", "en": "Households"},
    "pub.owner": {"zh": "业主", "en": "Owner"},
    "pub.verifier": {"zh": "核证部门", "en": "Verified by"},
    "pub.methodology": {"zh": "方法学", "en": "Methodology"},
    "pub.credit": {"zh": "碳汇品种", "en": "Credit"},
    "pub.issuances": {"zh": "签发批次（序列号段）", "en": "Issuances (serial ranges)"},
    "pub.batch": {"zh": "批次", "en": "Batch"},
    "pub.vintage": {"zh": "年份", "en": "Vintage"},
    "pub.serials": {"zh": "序列号", "en": "Serials"},
    "pub.issued": {"zh": "签发量（tCO2e）", "en": "Issued (tCO2e)"},
    "pub.buffer": {"zh": "缓冲池（tCO2e）", "en": "Buffer (tCO2e)"},
    "pub.issued_at": {"zh": "签发时间", "en": "Issued at"},
    "pub.retirements": {"zh": "注销记录", "en": "Retirements"},
    "pub.tonnes": {"zh": "数量（tCO2e）", "en": "Quantity (tCO2e)"},
    "pub.beneficiary": {"zh": "受益方", "en": "Beneficiary"},
    "pub.reason": {"zh": "注销原因", "en": "Reason"},
    "pub.record": {"zh": "账本记录", "en": "Record"},
    "pub.time": {"zh": "时间", "en": "Time"},
    "pub.auctions": {"zh": "竞价成交公示", "en": "Auction results"},
    "pub.auction": {"zh": "竞价编号", "en": "Auction"},
    "pub.bureau": {"zh": "出让方", "en": "Seller"},
    "pub.design": {"zh": "方式", "en": "Design"},
    "pub.offered": {"zh": "出让量", "en": "Offered"},
    "pub.sold": {"zh": "成交量", "en": "Sold"},
    "pub.clearing": {"zh": "成交价", "en": "Clearing price"},
    "pub.price_range": {"zh": "最低 / 最高成交价", "en": "Lowest / highest price"},
    "pub.revenue": {"zh": "成交总额", "en": "Proceeds"},
    "pub.closed_at": {"zh": "截止时间", "en": "Closed at"},
    "pub.winners": {"zh": "竞得人", "en": "Winners"},
    "pub.winner": {"zh": "竞得单位", "en": "Winner"},
    "pub.quantity": {"zh": "竞得数量", "en": "Quantity"},
    "pub.price": {"zh": "成交单价", "en": "Price"},
    "pub.amount": {"zh": "成交金额", "en": "Amount"},
    "pub.none": {"zh": "暂无", "en": "None yet"},
    "pub.rule": {
        "zh": "竞价截止并记录结果后方予公示；每位竞得人按其最终报价成交（网络竞价），"
        "统一价格竞价按统一成交价。未竞得的出价不公开。",
        "en": "Published only once bidding has closed and the result is recorded. In 网络竞价 each "
        "winner pays its own final bid; in uniform-price auctions all pay the clearing price. Losing "
        "bids are not published.",
    },
}


def public_text(lang: str, key: str, **args: object) -> str:
    """The public page's text of ``key``; the console's table for any key not found here."""
    entry = TEXT.get(key)
    if entry is None:
        return translate(lang, key, **args)
    text = entry.get(lang) or entry["zh"]
    return text.format(**args) if args else text
