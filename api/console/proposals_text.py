"""The console's words for the one to-do list of proposals (待办), in Chinese and English:
api/console/proposals.py and proposals.html. Merged into ``i18n.TEXT``."""

from __future__ import annotations

from typing import Final

__all__ = ["PROPOSALS_TEXT"]

PROPOSALS_TEXT: Final[dict[str, dict[str, str]]] = {
    "nav.todo": {"zh": "待办", "en": "To do"},
    "proposal.title": {"zh": "待办事项", "en": "To do"},
    "proposal.hint": {
        "zh": "等待本单位（本用户）签署的各类事项：报价、有偿使用要约、收储要约、"
        "竞得后支付成交价款、抵质押登记、跨地市交易结算与双人审批。"
        "签署即以托管密钥签名，最后一个签名到达时事项登记入账；也可驳回。本单位发起的待处理事项可撤回。",
        "en": "Everything awaiting your signature: trade, paid-use and buy-back offers, auction awards to "
        "pay, pledge registrations, cross-city settlements and four-eyes approvals. Signing uses your "
        "key in custody; the last signature records it. You may reject instead, and withdraw what you "
        "proposed.",
    },
    "proposal.awaiting": {"zh": "等待我签署", "en": "Awaiting my signature"},
    "proposal.mine": {"zh": "我发起的待处理事项", "en": "My pending proposals"},
    "proposal.recent": {"zh": "最近事项", "en": "Recent proposals"},
    "proposal.none": {"zh": "暂无事项", "en": "Nothing here"},
    "proposal.mine_none": {"zh": "没有待处理的事项", "en": "No pending proposals"},
    "proposal.sign": {"zh": "签署同意", "en": "Approve (sign)"},
    "proposal.reject": {"zh": "驳回", "en": "Reject"},
    "proposal.withdraw": {"zh": "撤回", "en": "Withdraw"},
    "proposal_kind.trade_offer": {"zh": "排污权交易报价", "en": "Trade offer"},
    "proposal_kind.allocation_offer": {"zh": "有偿使用要约", "en": "Paid-use offer"},
    "proposal_kind.buyback_offer": {"zh": "收储要约", "en": "Buy-back offer"},
    "proposal_kind.transfer": {"zh": "转让（双人审批）", "en": "Transfer (four-eyes)"},
    "proposal_kind.trust.add": {"zh": "信任名单新增", "en": "Trusted-list addition"},
    "proposal_kind.allocation": {"zh": "分配（双人审批）", "en": "Allocation (four-eyes)"},
    "proposal_kind.bc.transfer": {"zh": "碳汇转让（双人审批）", "en": "Credit transfer (four-eyes)"},
    "proposal_kind.controls.set": {"zh": "内控设置变更（双人审批）", "en": "Change of controls (four-eyes)"},
    "proposal_kind.auction.payment": {"zh": "支付成交价款", "en": "Auction award payment"},
    "proposal_kind.pledge.registration": {
        "zh": "抵质押登记（确认贷款）",
        "en": "Pledge registration (confirm the loan)",
    },
    "proposal_kind.crosscity.settlement": {
        "zh": "排污权跨地市交易结算",
        "en": "Cross-city transfer settlement",
    },
    "err.proposal_out_of_order": {
        "zh": "须先由 {awaiting} 签署",
        "en": "{awaiting} must sign first",
    },
    "proposal.pay": {"zh": "支付", "en": "Pay"},
    "proposal_status.pending": {"zh": "待签署", "en": "pending"},
    "proposal_status.applied": {"zh": "已登记", "en": "applied"},
    "proposal_status.rejected": {"zh": "已驳回", "en": "rejected"},
    "proposal_status.withdrawn": {"zh": "已撤回", "en": "withdrawn"},
    "proposal_status.expired": {"zh": "已失效", "en": "expired"},
    "flash.proposal_signed": {
        "zh": "已签署事项 {id}。",
        "en": "Proposal {id} signed.",
    },
    "flash.proposal_rejected": {"zh": "已驳回事项 {id}。", "en": "Proposal {id} rejected."},
    "flash.proposal_withdrawn": {"zh": "已撤回事项 {id}。", "en": "Proposal {id} withdrawn."},
}
