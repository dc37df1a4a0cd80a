"""Texts of the console's history, to-do, filter, rejection, buy-back and expiry pages, in Chinese and
English; ``i18n.TEXT`` merges them, and its tests hold them to the same rules as every other text."""

from __future__ import annotations

from typing import Final

__all__ = ["PAGES_TEXT"]

_T = dict[str, dict[str, str]]

_REVIEW: _T = {
    "field.reject_reason": {"zh": "驳回理由", "en": "Reason for refusal"},
    "approvals.reject": {"zh": "驳回", "en": "Refuse"},
    "flash.pledge_rejected": {"zh": "已驳回抵质押申请 {id}。", "en": "Pledge application {id} refused."},
    "field.decline_reason": {"zh": "拒绝理由", "en": "Reason"},
    "pledges.bank_decline": {"zh": "拒绝放贷", "en": "Decline the loan"},
    "pledges.enterprise_decline": {"zh": "撤回 / 拒绝", "en": "Withdraw / decline"},
    "flash.pledge_declined": {
        "zh": "抵质押 {id} 已终止，理由已告知各方；未冻结任何指标。",
        "en": "Pledge {id} ended; the other parties see your reason. Nothing was held.",
    },
    "flash.transfer_refused": {"zh": "已驳回跨地市交易申请 {id}。", "en": "Cross-city request {id} refused."},
}

_LISTS: _T = {
    "list.search": {"zh": "搜索", "en": "Search"},
    "list.search_hint": {"zh": "名称、编号…", "en": "name, id…"},
    "list.search_lot": {"zh": "指标、地区代码、有效期…", "en": "instrument, division, validity…"},
    "list.all": {"zh": "全部", "en": "All"},
    "list.apply": {"zh": "筛选", "en": "Filter"},
    "list.clear": {"zh": "清除筛选", "en": "Clear"},
    "list.prev": {"zh": "上一页", "en": "Previous"},
    "list.next": {"zh": "下一页", "en": "Next"},
    "list.page": {
        "zh": "第 {page} / {pages} 页，共 {total} 条",
        "en": "page {page} of {pages}, {total} in all",
    },
    "list.none_match": {"zh": "没有符合条件的记录。", "en": "Nothing matches."},
}

_HISTORY: _T = {
    "nav.history": {"zh": "账户流水", "en": "History"},
    "history.hint": {
        "zh": "涉及本单位自有账户的每一条登记记录（最新在前）。每条记录可下载包含证明："
        "记录本身、到已签名检查点的默克尔路径及登记中心公钥，可用 ecoledger audit certificate 离线核验。",
        "en": "Every record that touched your own accounts, newest first. Each comes with a downloadable "
        "inclusion proof: the record, its Merkle path to a signed checkpoint and the registry's key, "
        "checked offline by ecoledger audit certificate.",
    },
    "history.seq": {"zh": "记录号", "en": "Record"},
    "history.kind": {"zh": "业务类型", "en": "Kind"},
    "history.moved": {"zh": "本单位账户变动", "en": "On your accounts"},
    "history.proof": {"zh": "包含证明", "en": "Proof"},
    "history.download": {"zh": "下载", "en": "Download"},
    "history.hold": {"zh": "冻结", "en": "Hold"},
    "history.since": {"zh": "起始日期", "en": "From"},
    "history.until": {"zh": "截止日期", "en": "To"},
    "history.none": {"zh": "没有符合条件的记录。", "en": "No records match."},
    "account.reserve": {"zh": "政府储备", "en": "Reserve"},
    "account.cap": {"zh": "总量账户", "en": "Cap account"},
    "account.issuance": {"zh": "总量账户", "en": "Cap account"},
    "account.escrow": {"zh": "托管账户", "en": "Escrow"},
    "account.buffer": {"zh": "缓冲池", "en": "Buffer pool"},
    "account.settlement": {"zh": "结算账户", "en": "Settlement"},
}

_ACTIONS: _T = {
    "action.tx": {"zh": "交易", "en": "Transaction"},
    "action.genesis": {"zh": "创世记录", "en": "Genesis"},
    "action.transfer": {"zh": "转让", "en": "Transfer"},
    "action.trade": {"zh": "协议转让（钱货两清）", "en": "Trade (DvP)"},
    "action.cap.set": {"zh": "核定总量", "en": "Cap raised"},
    "action.allocation.initial": {"zh": "初始分配", "en": "Initial allocation"},
    "action.allocation.major_project": {"zh": "重大项目分配", "en": "Major-project allocation"},
    "action.reserve.buy_back": {"zh": "收储", "en": "Buy-back"},
    "action.auction.open": {"zh": "发起竞价", "en": "Auction opened"},
    "action.auction.bid": {"zh": "竞价报价（保证金冻结）", "en": "Bid (deposit held)"},
    "action.auction.result": {"zh": "竞价结果", "en": "Auction result"},
    "action.auction.settle": {"zh": "竞价结算", "en": "Auction settlement"},
    "action.auction.forfeit": {"zh": "保证金没收", "en": "Deposit forfeited"},
    "action.pledge.register": {"zh": "抵质押登记", "en": "Pledge registered"},
    "action.pledge.release": {"zh": "解押", "en": "Pledge released"},
    "action.pledge.enforce": {"zh": "抵质押处置", "en": "Pledge enforced"},
    "action.crosscity.hold": {"zh": "跨地市交易冻结", "en": "Cross-city hold"},
    "action.crosscity.release": {"zh": "跨地市交易解冻", "en": "Cross-city release"},
    "action.crosscity.settle": {"zh": "跨地市交割", "en": "Cross-city settlement"},
    "action.bc.issue": {"zh": "蓝碳签发", "en": "Blue carbon issued"},
    "action.bc.transfer": {"zh": "蓝碳转让", "en": "Blue carbon transferred"},
    "action.bc.retire": {"zh": "蓝碳注销", "en": "Blue carbon retired"},
    "action.cash.deposit": {"zh": "资金入账", "en": "Cash deposit"},
    "action.expiry": {"zh": "到期注销", "en": "Expiry"},
    "action.account.open": {"zh": "开立账户", "en": "Account opened"},
    "action.party.register": {"zh": "参与方登记", "en": "Participant registered"},
    "action.key.register": {"zh": "登记密钥", "en": "Key registered"},
    "action.key.revoke": {"zh": "撤销密钥", "en": "Key revoked"},
    "action.rules.adopt": {"zh": "采用规则版本", "en": "Rule set adopted"},
}

_TODO: _T = {
    "todo.title": {"zh": "待办事项", "en": "To do"},
    "todo.none": {"zh": "暂无待办。", "en": "Nothing waits for you."},
    "todo.paid_use_offers": {"zh": "有偿使用要约待您确认", "en": "paid-use offers await your consent"},
    "todo.buy_back_offers": {"zh": "收储要约待您答复", "en": "buy-back offers await your answer"},
    "todo.approvals": {"zh": "事项待您复核批准", "en": "proposals await your approval"},
    "todo.trade_offers": {"zh": "协议转让报价待您接受或拒绝", "en": "trade offers await your answer"},
    "todo.transfers_to_offer": {
        "zh": "跨地市交易申请待您签名报出",
        "en": "cross-city requests to sign and offer",
    },
    "todo.transfers_to_accept": {
        "zh": "跨地市交易报价待您接受",
        "en": "cross-city offers await your acceptance",
    },
    "todo.pledges_to_confirm": {"zh": "抵质押贷款待您确认", "en": "pledge loans await your confirmation"},
    "todo.awards_to_pay": {"zh": "竞得指标待缴款", "en": "auction awards to pay"},
    "auction.pay_title": {"zh": "支付成交价款", "en": "Pay the award"},
    "auction.pay": {"zh": "支付成交价款", "en": "Pay the award"},
    "auction.pay_hint": {
        "zh": "成交价款 {amount}，保证金 {deposit} 抵作价款，另付 {balance}；"
        "请于 {due} 前支付，逾期保证金不予退还。生态环境局已在截止时签署，您的签名即完成钱货两清。",
        "en": "The award comes to {amount}; your deposit of {deposit} counts toward it and {balance} more is "
        "due before {due}, after which the deposit is forfeit. The bureau signed at the close: your "
        "signature settles it, delivery versus payment.",
    },
    "flash.award_paid": {
        "zh": "已支付成交价款 {amount}，钱货两清（记录 {seq}）。",
        "en": "Award of {amount} paid, delivery versus payment (record {seq}).",
    },
    "todo.loans_to_record": {"zh": "已核准的抵质押待录入贷款", "en": "approved pledges await the loan"},
    "todo.pledges_to_approve": {"zh": "抵质押申请待核准", "en": "pledge applications await approval"},
    "todo.transfers_to_approve": {
        "zh": "跨地市交易待审批签名",
        "en": "cross-city transfers await your signature",
    },
    "todo.auctions_to_close": {
        "zh": "竞价已到截止时间，待出具结果",
        "en": "auctions past their close, to close",
    },
    "todo.auctions_to_settle": {"zh": "竞价待结算", "en": "auctions to settle"},
}

_NEEDS: _T = {
    "needs.remaining_title": {"zh": "需求余量", "en": "What remains of the needs"},
    "needs.remaining_hint": {
        "zh": "核准需求合计，减去已竞得（保证金没收的不计）和在进行中竞价里报价占用的数量。",
        "en": "Approved needs in all, less what auctions awarded (forfeits give it back) and what bids in "
        "open auctions reserve.",
    },
    "needs.awarded": {"zh": "已竞得", "en": "Awarded"},
    "needs.reserved": {"zh": "竞价占用", "en": "Reserved by bids"},
    "needs.remaining": {"zh": "剩余可竞", "en": "Remaining"},
}

_RESERVE: _T = {
    "nav.buyback": {"zh": "收储", "en": "Buy-back"},
    "nav.expiry": {"zh": "到期", "en": "Expiry"},
    "buyback.title": {"zh": "收储（回购入政府储备）", "en": "Buy-back into the reserve"},
    "buyback.offer_title": {"zh": "发出收储要约", "en": "Offer a buy-back"},
    "buyback.hint": {
        "zh": "以托管密钥签署收储要约：企业确认后，排污权转入政府储备、收储款付给企业，"
        "在同一条记录中完成（钱货两清）。确认前可撤回。",
        "en": "Signed with your key in custody: when the enterprise consents, its rights enter the reserve "
        "and the price is paid to it in one record (delivery versus payment). You may withdraw until then.",
    },
    "buyback.submit": {"zh": "签名发出要约", "en": "Sign and send the offer"},
    "buyback.no_positions": {
        "zh": "本辖区企业没有可收储的排污权。",
        "en": "No enterprise of yours holds free rights.",
    },
    "buyback.mine_title": {"zh": "生态环境局的收储要约", "en": "Buy-back offers from the bureau"},
    "buyback.offers": {"zh": "收储要约", "en": "Buy-back offers"},
    "buyback.none": {"zh": "暂无收储要约。", "en": "No buy-back offers."},
    "buyback.pending": {"zh": "待企业确认", "en": "awaiting the enterprise"},
    "buyback.accepted": {"zh": "已收储", "en": "bought back"},
    "buyback.withdrawn": {"zh": "已撤回/拒绝", "en": "withdrawn or declined"},
    "col.buyback_offer": {"zh": "要约编号", "en": "Offer"},
    "field.buyback_position": {"zh": "企业持有批次", "en": "Enterprise position"},
    "field.buyback_amount": {"zh": "收储款（元）", "en": "Price paid (CNY)"},
    "flash.buyback_offered": {
        "zh": "收储要约 {id} 已签名发出，待企业确认。",
        "en": "Buy-back offer {id} sent.",
    },
    "flash.buyback_withdrawn": {"zh": "已撤回收储要约 {id}。", "en": "Buy-back offer {id} withdrawn."},
    "expiry.title": {"zh": "排污权到期情况", "en": "Rights expiring and expired"},
    "expiry.hint": {
        "zh": "今天（{today}）起至 {horizon} 到期的，以及已过期尚未注销的排污权。"
        "过期后由到期注销作业转入注销账户；抵押或托管中的部分留待其控制方处理。",
        "en": "Rights whose validity ends between today ({today}) and {horizon}, and those already expired: "
        "the expiry run retires them; a part under a pledge or escrow waits for its controller.",
    },
    "expiry.state": {"zh": "状态", "en": "State"},
    "expiry.expired": {"zh": "已过期", "en": "expired"},
    "expiry.expiring": {"zh": "即将到期", "en": "expiring"},
    "expiry.days": {"zh": "天数范围", "en": "Within (days)"},
    "expiry.days_left": {"zh": "剩余 {days} 天", "en": "{days} days left"},
    "expiry.expired_since": {"zh": "已过期 {days} 天", "en": "expired {days} days ago"},
    "expiry.none": {"zh": "没有即将到期或已过期的排污权。", "en": "Nothing expires in this period."},
}

PAGES_TEXT: Final[_T] = {**_RESERVE, **_NEEDS, **_TODO, **_REVIEW, **_LISTS, **_HISTORY, **_ACTIONS}
