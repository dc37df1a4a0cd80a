"""The console's texts of the household pages (社员分配), in Chinese and English; merged into
``api.console.i18n.TEXT``, whose test checks both languages and every key the templates use."""

from __future__ import annotations

from typing import Final

__all__ = ["HOUSEHOLDS"]

HOUSEHOLDS: Final[dict[str, dict[str, str]]] = {
    "err.invalid_household_record": {
        "zh": "社员名册、碳汇归属或收益分配与规则不符（份额须恰好合计、无人遗漏、服务费按约定）",
        "en": "The roster, the attribution or the split of proceeds breaks the rule "
        "(shares sum exactly, nobody omitted, the fee as agreed)",
    },
    "err.member_identity_mismatch": {
        "zh": "社员姓名或身份证号与名册登记不符",
        "en": "The member's name or ID-card number does not match the register",
    },
    "err.roster_already_confirmed": {
        "zh": "该名册已由生态环境局确认",
        "en": "The roster is confirmed already",
    },
    "err.unknown_member": {"zh": "名册中没有该社员", "en": "No such member on the roster"},
    "err.unknown_roster": {"zh": "没有该社员名册", "en": "No such roster"},
    "nav.households": {"zh": "社员分配", "en": "Member households"},
    "hh.title": {"zh": "社员名册与碳汇收益", "en": "Member households and their carbon proceeds"},
    "hh.rosters": {"zh": "已登记名册", "en": "Rosters"},
    "hh.members": {"zh": "社员", "en": "Members"},
    "hh.member": {"zh": "社员编号", "en": "Member id"},
    "hh.name": {"zh": "姓名", "en": "Name"},
    "hh.area": {"zh": "养殖面积（亩）", "en": "Farming area (mu)"},
    "hh.rafts": {"zh": "筏架", "en": "Rafts"},
    "hh.longlines": {"zh": "延绳", "en": "Longlines"},
    "hh.harvest": {"zh": "实测产量（千克）", "en": "Measured harvest (kg)"},
    "hh.period": {"zh": "监测期", "en": "Monitoring period"},
    "hh.fee": {"zh": "合作社管理费率", "en": "Cooperative fee"},
    "hh.status.submitted": {"zh": "待生态环境局确认", "en": "Awaiting the bureau"},
    "hh.status.confirmed": {"zh": "已确认上链", "en": "Confirmed on the journal"},
    "hh.statement": {"zh": "社员碳汇收益对账单", "en": "Member's blue-carbon statement"},
    "hh.open_statement": {"zh": "对账单", "en": "Statement"},
    "hh.cooperative": {"zh": "合作社", "en": "Cooperative"},
    "hh.identity": {"zh": "身份摘要（加盐 SHA-256）", "en": "Identity hash (salted SHA-256)"},
    "hh.account": {"zh": "社员账户", "en": "Member account"},
    "hh.attributed": {"zh": "核算归属碳汇（吨二氧化碳当量）", "en": "Attributed sink (t CO2e)"},
    "hh.received": {"zh": "已分配收益", "en": "Proceeds received"},
    "hh.balance": {"zh": "账户余额", "en": "Account balance"},
    "hh.lines": {"zh": "逐笔记录", "en": "Record by record"},
    "hh.kind": {"zh": "事项", "en": "Entry"},
    "hh.kind.roster": {"zh": "名册确认", "en": "Roster confirmed"},
    "hh.kind.attribution": {"zh": "签发归属", "en": "Attributed at issuance"},
    "hh.kind.sale": {"zh": "出售分配", "en": "Sale, split paid"},
    "hh.seq": {"zh": "记录号", "en": "Record"},
    "hh.detail": {"zh": "内容", "en": "What it says"},
    "hh.proof": {"zh": "包含证明", "en": "Inclusion proof"},
    "hh.proof.ok": {"zh": "检查点 {size} 已签名，路径 {n} 步", "en": "signed checkpoint {size}, path of {n}"},
    "hh.proof.none": {"zh": "尚无检查点覆盖", "en": "no checkpoint covers it yet"},
    "hh.batch": {"zh": "批次", "en": "Batch"},
    "hh.buyer": {"zh": "买方", "en": "Buyer"},
    "hh.sold": {"zh": "出售", "en": "Sold"},
    "hh.proceeds": {"zh": "成交金额", "en": "Proceeds"},
    "hh.fee_paid": {"zh": "管理费", "en": "Fee"},
    "hh.share": {"zh": "本户所得", "en": "This household's share"},
    "hh.print": {"zh": "打印对账单", "en": "Print the statement"},
    "hh.rule": {
        "zh": "碳汇按养殖面积（或全部社员实测产量）归属，取整采用最大余额法，同余额按社员编号；"
        "收益扣除名册约定的管理费（向下取整到分）后按归属量分配，规则同上。每一行均可凭包含证明向签名检查点核验。",
        "en": "The sink is attributed by farming area (or by every member's measured harvest), "
        "rounded by the largest remainder, ties by member id; proceeds less the roster's agreed fee "
        "(rounded down to the fen) are split by the attributed tonnes, the same way. Each line can be "
        "checked against a signed checkpoint with its inclusion proof.",
    },
    "hh.none": {"zh": "尚无社员名册", "en": "No roster yet"},
}
