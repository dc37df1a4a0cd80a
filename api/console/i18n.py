"""Every text the console shows, in Chinese and English: one table, key -> {zh, en}; a test checks
that both languages have every key and that every key the templates use is here."""

from __future__ import annotations

from typing import Final

from api.console.foureyes_text import CONTROLS_TEXT
from api.console.household_text import HOUSEHOLDS as _HOUSEHOLDS
from api.console.i18n_defaults import DEFAULTS
from api.console.i18n_pages import PAGES_TEXT
from api.console.proposals_text import PROPOSALS_TEXT

__all__ = ["LANGS", "TEXT", "field_input", "field_label", "translate"]

LANGS: Final = ("zh", "en")

_T = dict[str, dict[str, str]]

_FRAME: _T = {
    "app.name": {"zh": "排污权与蓝碳登记簿", "en": "ecoledger registry"},
    "nav.dashboard": {"zh": "总览", "en": "Overview"},
    "nav.issue": {"zh": "核定与分配", "en": "Cap & allocation"},
    "nav.needs": {"zh": "项目需求", "en": "Project needs"},
    "nav.open_auction": {"zh": "发起竞价", "en": "Open auction"},
    "nav.approvals": {"zh": "待审批", "en": "Approvals"},
    "nav.holdings": {"zh": "持有", "en": "Holdings"},
    "nav.pledges": {"zh": "抵质押", "en": "Pledges"},
    "nav.transfers": {"zh": "跨地市交易", "en": "Cross-city transfers"},
    "nav.certificate": {"zh": "证书核验", "en": "Check a certificate"},
    "nav.audit": {"zh": "审计", "en": "Audit"},
    "nav.auctions": {"zh": "竞价", "en": "Auctions"},
    "nav.logout": {"zh": "退出", "en": "Log out"},
    "role.bureau": {"zh": "生态环境局", "en": "Bureau"},
    "role.enterprise": {"zh": "排污单位", "en": "Enterprise"},
    "role.bank": {"zh": "银行", "en": "Bank"},
    "role.auditor": {"zh": "审计方", "en": "Auditor"},
    "role.cooperative": {"zh": "合作社", "en": "Cooperative"},
    "role.operator": {"zh": "登记中心", "en": "Operator"},
    "footer.units": {
        "zh": "数量以吨/年（t/a）显示，由登记簿的整数千克精确换算；"
        "金额以元显示，由整数分精确换算。时间为北京时间（UTC+8）。",
        "en": "Quantities in tonnes per year (t/a), converted exactly from the registry's whole kilograms; "
        "amounts in yuan, exactly from whole fen. Times are China Standard Time (UTC+8).",
    },
    "unit.yuan": {"zh": "元", "en": "CNY"},
    "unit.months": {"zh": "个月", "en": "months"},
    "lot.until": {"zh": "有效至", "en": "valid until"},
    "login.title": {"zh": "登录", "en": "Log in"},
    "login.hint": {
        "zh": "请粘贴您的访问密钥（以 ek_ 开头）。登录后浏览器只保存一个会话编号，不保存密钥；退出即失效。",
        "en": "Paste your access key (it starts with ek_). The browser then keeps only a session id, never "
        "the key; logging out ends it.",
    },
    "login.submit": {"zh": "登录", "en": "Log in"},
    "login.public": {"zh": "公开信息（无需登录）", "en": "Public registry (no login)"},
    "error.title": {"zh": "无法完成请求", "en": "The request could not be completed"},
    "error.wrong_role": {
        "zh": "此页面不属于您的角色（403）。",
        "en": "This page belongs to another role's view (403).",
    },
    "error.back": {"zh": "返回首页", "en": "Back to your overview"},
    "err.field": {"zh": "字段", "en": "Field"},
}

_COLUMNS: _T = {
    "col.action": {"zh": "操作", "en": "Action"},
    "col.allocated": {"zh": "已分配", "en": "Allocated"},
    "col.amount": {"zh": "金额", "en": "Amount"},
    "col.applied": {"zh": "申请量", "en": "Applied"},
    "col.approved": {"zh": "核准量", "en": "Approved"},
    "col.auction": {"zh": "竞价编号", "en": "Auction"},
    "col.available": {"zh": "可用", "en": "Available"},
    "col.bank": {"zh": "银行", "en": "Bank"},
    "col.bidder": {"zh": "竞买人", "en": "Bidder"},
    "col.bureau": {"zh": "组织单位", "en": "Run by"},
    "col.buyer": {"zh": "买方", "en": "Buyer"},
    "col.cap": {"zh": "总量", "en": "Cap"},
    "col.city": {"zh": "地区", "en": "City"},
    "col.closes": {"zh": "截止", "en": "Closes"},
    "col.deposit": {"zh": "保证金", "en": "Deposit"},
    "col.design": {"zh": "方式", "en": "Design"},
    "col.enterprise": {"zh": "企业", "en": "Enterprise"},
    "col.held": {"zh": "冻结", "en": "Held"},
    "col.instrument": {"zh": "指标", "en": "Instrument"},
    "col.lacking": {"zh": "尚缺", "en": "Still needed"},
    "col.loan": {"zh": "贷款", "en": "Loan"},
    "col.lot": {"zh": "批次", "en": "Lot"},
    "col.max_price": {"zh": "最高价", "en": "Price ceiling"},
    "col.opens": {"zh": "开始", "en": "Opens"},
    "col.pledge": {"zh": "抵押编号", "en": "Pledge"},
    "col.price": {"zh": "价格", "en": "Price"},
    "col.project": {"zh": "项目", "en": "Project"},
    "col.quantity": {"zh": "数量", "en": "Quantity"},
    "col.request": {"zh": "申请编号", "en": "Request"},
    "col.reserve": {"zh": "政府储备", "en": "Reserve"},
    "col.reserve_price": {"zh": "底价", "en": "Reserve price"},
    "col.route": {"zh": "调出 → 调入", "en": "From → to"},
    "col.seller": {"zh": "卖方", "en": "Seller"},
    "col.sold": {"zh": "成交量", "en": "Sold"},
    "col.status": {"zh": "状态", "en": "Status"},
    "col.time": {"zh": "时间", "en": "Time"},
    "col.total": {"zh": "合计", "en": "Total"},
    "col.use": {"zh": "使用率", "en": "Use"},
    "col.winner": {"zh": "中标人", "en": "Winner"},
}

_FIELDS: _T = {
    "field.access_key": {"zh": "访问密钥", "en": "Access key"},
    "field.amount_yuan": {"zh": "贷款金额（元）", "en": "Loan amount (CNY)"},
    "field.approved_t": {"zh": "核准数量（吨/年）", "en": "Approved quantity (t/a)"},
    "field.auction_id": {"zh": "竞价编号", "en": "Auction id"},
    "field.bank": {"zh": "质权银行", "en": "Pledgee bank"},
    "field.basis": {"zh": "依据文件", "en": "Basis (decision)"},
    "field.certificate": {"zh": "证书（JSON）", "en": "Certificate (JSON)"},
    "field.certificate_no": {"zh": "电子证书号", "en": "Certificate no."},
    "field.closes_at": {"zh": "报价截止（北京时间）", "en": "Bidding closes (China time)"},
    "field.days": {"zh": "有效天数", "en": "Valid for (days)"},
    "field.demand_until": {"zh": "需求有效至", "en": "Need open until"},
    "field.deposit": {"zh": "保证金（元/户）", "en": "Deposit (CNY per bidder)"},
    "field.design": {"zh": "竞价方式", "en": "Auction design"},
    "field.enterprise": {"zh": "企业", "en": "Enterprise"},
    "field.extension_min": {"zh": "延时（分钟）", "en": "Extension (minutes)"},
    "field.form_token": {"zh": "表单令牌", "en": "Form token"},
    "field.increment": {"zh": "加价幅度（元/吨）", "en": "Increment (CNY/t)"},
    "field.instrument": {"zh": "指标", "en": "Instrument"},
    "field.loan_id": {"zh": "贷款编号", "en": "Loan id"},
    "field.lot": {"zh": "储备批次", "en": "Reserve lot"},
    "field.max_price": {"zh": "最高价（元/吨）", "en": "Price ceiling (CNY/t)"},
    "field.position": {"zh": "持有批次", "en": "Position"},
    "field.price_yuan_t": {"zh": "报价（元/吨）", "en": "Price (CNY/t)"},
    "field.project": {"zh": "项目名称", "en": "Project"},
    "field.purpose": {"zh": "用途", "en": "Purpose"},
    "field.quantity_t": {"zh": "数量（吨/年）", "en": "Quantity (t/a)"},
    "field.rate": {"zh": "年利率（%）", "en": "Annual rate (%)"},
    "field.reason": {"zh": "理由", "en": "Reason"},
    "field.release_t": {"zh": "解押数量（吨/年，留空为全部）", "en": "Release (t/a, empty: all)"},
    "field.reserve_price": {"zh": "底价（元/吨）", "en": "Reserve price (CNY/t)"},
    "field.start_price": {"zh": "起始价（元/吨）", "en": "Start price (CNY/t)"},
    "field.term_months": {"zh": "期限（月）", "en": "Term (months)"},
    "field.valid_until": {"zh": "有效期至", "en": "Valid until"},
    "field.bidder": {"zh": "竞买人", "en": "Bidder"},
    "field.at": {"zh": "报价时间", "en": "Bid time"},
    "purpose.initial": {"zh": "初始分配（依排污许可证）", "en": "Initial allocation (under the permit)"},
    "purpose.major_project": {"zh": "重大项目", "en": "Major project"},
}

_STATES: _T = {
    "design.online_bidding": {
        "zh": "网络竞价（前70%竞得，按报价成交）",
        "en": "Online bidding (top 70%, pay as bid)",
    },
    "design.uniform_price": {"zh": "统一价格密封竞价", "en": "Sealed, uniform price"},
    "design.pay_as_bid": {"zh": "按报价成交密封竞价", "en": "Sealed, pay as bid"},
    "design.ascending": {"zh": "增价竞价（限时延时）", "en": "Ascending (timed, extends on bids)"},
    "status.open": {"zh": "竞价中", "en": "open"},
    "status.closed": {"zh": "已截止", "en": "closed"},
    "status.settled": {"zh": "已结算", "en": "settled"},
    "award.pending": {"zh": "待缴款", "en": "pending"},
    "award.settled": {"zh": "已结算", "en": "settled"},
    "award.forfeited": {"zh": "保证金没收", "en": "forfeited"},
    "pledge.applied": {"zh": "已申请", "en": "applied"},
    "pledge.approved": {"zh": "已核准（待录入贷款）", "en": "approved (loan to record)"},
    "pledge.loan_recorded": {"zh": "已录入贷款（待企业确认）", "en": "loan recorded (to confirm)"},
    "pledge.active": {"zh": "已登记", "en": "registered"},
    "pledge.released": {"zh": "已解押", "en": "released"},
    "pledge.enforced": {"zh": "已强制执行", "en": "enforced"},
    "pledge.forced_auction": {"zh": "拍卖处置中", "en": "forced auction"},
    "pledge.disposed": {"zh": "处置完毕", "en": "disposed"},
    "pledge.cancelled": {"zh": "已撤销", "en": "cancelled"},
    "transfer.draft": {"zh": "草稿", "en": "draft"},
    "transfer.offered": {"zh": "已报出", "en": "offered"},
    "transfer.accepted": {"zh": "买方已接受", "en": "accepted"},
    "transfer.settled": {"zh": "已交割", "en": "settled"},
    "transfer.rejected": {"zh": "已拒绝/撤回", "en": "rejected"},
    "transfer.expired": {"zh": "已过期", "en": "expired"},
    "account.holding": {"zh": "持有账户", "en": "Holding account"},
    "account.cash": {"zh": "资金账户", "en": "Cash account"},
    "account.retirement": {"zh": "注销账户", "en": "Retirement account"},
}

_BUREAU: _T = {
    "bureau.dashboard": {"zh": "总量与储备", "en": "Cap and reserve"},
    "bureau.pending": {"zh": "有 {n} 项待您审批", "en": "{n} item(s) wait for your approval"},
    "bureau.cap_position": {"zh": "总量控制与使用", "en": "Cap position and use"},
    "bureau.no_cap": {"zh": "尚未核定总量。", "en": "No cap has been set yet."},
    "bureau.auctions": {"zh": "本辖区竞价", "en": "Auctions in the jurisdiction"},
    "issue.cap_title": {"zh": "核定总量（入政府储备）", "en": "Raise the cap (into the reserve)"},
    "issue.cap_hint": {
        "zh": "总量账户转入政府储备，按有效期分批次。",
        "en": "Moves rights from the cap account into the government reserve, one lot per validity end.",
    },
    "issue.cap_submit": {"zh": "核定", "en": "Raise the cap"},
    "issue.allocate_title": {"zh": "分配排污权", "en": "Allocate rights"},
    "issue.allocate_hint": {
        "zh": "从政府储备分配给本辖区企业：无偿分配即时入账；有偿使用按基准价计费，发给企业确认，"
        "企业签署后排污权与使用费在同一条记录中转移。",
        "en": "From the reserve to an enterprise of the jurisdiction: a free allocation is recorded at "
        "once; paid use is charged at the base price and sent to the enterprise, whose consent moves "
        "the rights and the fee in one record.",
    },
    "issue.allocate_submit": {"zh": "分配", "en": "Allocate"},
    "needs.form_title": {"zh": "登记项目需求", "en": "Approve a project need"},
    "needs.hint": {
        "zh": "企业仅能就已核准的项目需求参与竞价，报价数量不超过需求。",
        "en": "An enterprise bids only for an approved project need, and for no more than it.",
    },
    "needs.submit": {"zh": "登记", "en": "Approve"},
    "needs.list": {"zh": "已登记需求", "en": "Approved needs"},
    "needs.none": {"zh": "暂无项目需求。", "en": "No project needs yet."},
    "needs.mine": {"zh": "我的项目需求", "en": "My project needs"},
    "approvals.pledges": {"zh": "抵质押申请（核准数量）", "en": "Pledge applications (approve the quantity)"},
    "approvals.pledges_hint": {
        "zh": "核准后由银行录入贷款信息，企业确认后登记生效（杭银发〔2022〕21号）。",
        "en": "After approval the bank records the loan and the enterprise confirms; then the pledge is "
        "registered (杭银发〔2022〕21号).",
    },
    "approvals.approve": {"zh": "核准并签名", "en": "Approve and sign"},
    "approvals.transfers": {"zh": "跨地市交易（待签）", "en": "Cross-city transfers to sign"},
    "approvals.sign": {"zh": "同意并签名", "en": "Approve and sign"},
    "approvals.none": {"zh": "暂无待办。", "en": "Nothing waits for you."},
}

_AUCTION: _T = {
    "auction.title": {"zh": "竞价", "en": "Auction"},
    "auction.none": {"zh": "暂无竞价。", "en": "No auctions yet."},
    "auction.no_reserve": {"zh": "政府储备中没有可竞价的排污权。", "en": "The reserve holds no free rights."},
    "auction.ascending_terms": {"zh": "增价竞价参数", "en": "Ascending design only"},
    "auction.open_hint": {
        "zh": "发起后，竞价数量在政府储备中冻结，直至截止结算。",
        "en": "Opening puts the offered quantity on hold in the reserve until the result settles.",
    },
    "auction.open_submit": {"zh": "发起竞价", "en": "Open the auction"},
    "auction.terms": {"zh": "竞价公告", "en": "Terms"},
    "auction.live": {"zh": "实时状态", "en": "Live"},
    "auction.effective_close": {"zh": "截止时间（含延时）", "en": "Closes (with extensions)"},
    "auction.standing": {"zh": "当前最高价", "en": "Standing price"},
    "auction.next": {"zh": "下一有效报价", "en": "Next acceptable bid"},
    "auction.bid_count": {"zh": "报价次数", "en": "Bids"},
    "auction.sealed": {
        "zh": "密封竞价：截止前不公开报价。",
        "en": "Sealed bids: prices stay secret until the close.",
    },
    "auction.sealed_counts": {
        "zh": "已收到 {bids} 份密封报价，来自 {bidders} 家竞买人；价格与竞买人在出具结果时公开。",
        "en": "{bids} sealed bids from {bidders} bidders so far; prices and bidders show with the result.",
    },
    "auction.bidder_count": {"zh": "竞买人数", "en": "Bidders"},
    "auction.close": {"zh": "截止并出具结果", "en": "Close and record the result"},
    "auction.close_wait": {"zh": "报价期尚未结束", "en": "Bidding has not ended yet"},
    "auction.settle": {"zh": "结算（钱货两清）", "en": "Settle (delivery versus payment)"},
    "auction.bid_title": {"zh": "报价", "en": "Bid"},
    "auction.need": {"zh": "您的可竞数量：{need}", "en": "Your approved need: {need}"},
    "auction.no_need": {
        "zh": "您在本辖区没有此指标的项目需求，不能报价。",
        "en": "You have no approved need for this right here and cannot bid.",
    },
    "auction.bid_submit": {"zh": "提交报价", "en": "Place the bid"},
    "auction.bids": {"zh": "全部报价", "en": "All bids"},
    "auction.my_bids": {"zh": "我的报价", "en": "My bids"},
    "auction.result": {"zh": "成交结果", "en": "Result"},
    "auction.unsold": {"zh": "流拍量", "en": "Unsold"},
    "auction.revenue": {"zh": "成交金额", "en": "Revenue"},
    "auction.price": {"zh": "成交均价", "en": "Price"},
    "auction.payment_due": {"zh": "缴款截止", "en": "Payment due"},
    "chart.cap_use": {"zh": "总量使用（吨/年）", "en": "Cap use (t/a)"},
    "chart.allocated": {"zh": "已分配", "en": "allocated"},
    "chart.held": {"zh": "竞价冻结", "en": "on hold"},
    "chart.available": {"zh": "储备可用", "en": "free in reserve"},
    "chart.prices": {"zh": "成交价走势（元/吨）", "en": "Clearing prices (CNY/t)"},
    "chart.cap_use_in": {"zh": "总量使用（{unit}）", "en": "Cap use ({unit})"},
    "chart.day_mean": {"zh": "日成交均价（按量加权）", "en": "daily volume-weighted mean"},
    "chart.day_range": {"zh": "当日最低–最高", "en": "day's low–high"},
    "unit.t_a": {"zh": "吨/年", "en": "t/a"},
    "unit.tco2e": {"zh": "吨二氧化碳当量", "en": "tCO2e"},
}

_OTHERS: _T = {
    "holdings.empty": {"zh": "暂无持有。", "en": "Nothing held."},
    "pledges.none": {"zh": "暂无抵质押。", "en": "No pledges."},
    "pledges.apply_title": {"zh": "申请排污权抵质押", "en": "Apply to pledge rights"},
    "pledges.apply_hint": {
        "zh": "第一步：企业申请；随后生态环境局核准数量、银行录入贷款、企业确认。",
        "en": "Step 1 of 4: you apply; the bureau approves the quantity, the bank records the loan, "
        "you confirm.",
    },
    "pledges.apply": {"zh": "提交申请", "en": "Apply"},
    "pledges.no_rights": {"zh": "没有可抵押的排污权。", "en": "You hold no free rights to pledge."},
    "pledges.mine": {"zh": "我的抵质押", "en": "My pledges"},
    "pledges.confirm": {"zh": "确认并签名", "en": "Confirm and sign"},
    "pledges.certificate": {"zh": "下载登记证明", "en": "Download the certificate"},
    "transfers.hint": {
        "zh": "项目需求库：买方发布需求，另一城市的卖方报出，买方接受，两地生态环境局审批后一次交割。",
        "en": "Demand list: a buyer posts a need, a seller in another city offers, the buyer accepts, both "
        "bureaus approve, and it settles in one record.",
    },
    "transfers.demands": {"zh": "项目需求库", "en": "Demand list"},
    "transfers.no_demands": {"zh": "暂无公开需求。", "en": "No open needs."},
    "transfers.nothing_to_offer": {"zh": "无可报出的同类指标", "en": "Nothing of this right to offer"},
    "transfers.draft": {"zh": "拟报出", "en": "Draft an offer"},
    "transfers.post_title": {"zh": "发布项目需求", "en": "Post a need"},
    "transfers.post": {"zh": "发布", "en": "Post"},
    "transfers.mine": {"zh": "我的交易申请", "en": "My requests"},
    "transfers.none": {"zh": "暂无申请。", "en": "No requests."},
    "transfers.offer": {"zh": "签名报出", "en": "Sign the offer"},
    "transfers.accept": {"zh": "接受并签名", "en": "Accept and sign"},
    "transfers.withdraw": {"zh": "撤回", "en": "Withdraw"},
    "transfers.withdrawn": {"zh": "当事人撤回", "en": "withdrawn by a party"},
    "bank.title": {"zh": "抵质押登记", "en": "Pledges"},
    "bank.hint": {
        "zh": "贷款不超过评估价值的80%，期限不超过排污权有效期。",
        "en": "A loan is at most 80% of the appraised value and ends before the rights expire.",
    },
    "bank.record_loan": {"zh": "录入贷款并签名", "en": "Record the loan and sign"},
    "bank.release": {"zh": "解押", "en": "Release"},
    "bank.all": {"zh": "全部", "en": "all"},
    "cert.hint": {
        "zh": "粘贴抵质押登记证明文件（JSON）：用登记中心公钥核验，"
        "逐项核对所列内容与签名记录，并查询当前状态。",
        "en": "Paste a pledge certificate file (JSON): it is checked against the registry's public key, "
        "every field against the signed record, and the pledge's status now is looked up.",
    },
    "cert.check": {"zh": "核验", "en": "Check"},
    "cert.valid": {"zh": "证书有效", "en": "The certificate is valid"},
    "cert.invalid": {"zh": "证书无效", "en": "The certificate is NOT valid"},
    "cert.seq": {"zh": "记录序号 / 检查点", "en": "Record / checkpoint size"},
    "cert.scope": {
        "zh": "证书证明该质押已登记（离线可核验）；当前状态来自登记中心的实时日志。",
        "en": "The certificate proves the registration (offline, with the registry key); the status now "
        "comes from the registry's live journal.",
    },
    "cert.checkpoint_signed": {"zh": "检查点由登记中心签名", "en": "Checkpoint signed by the registry"},
    "cert.included": {"zh": "记录包含在检查点中", "en": "Record included under the checkpoint"},
    "cert.sealed": {"zh": "记录有登记中心签章", "en": "Record sealed by the registry"},
    "cert.signed": {
        "zh": "企业、银行已签名，生态环境局已核准",
        "en": "Signed by the enterprise and the bank, approved by the bureau",
    },
    "cert.matches": {"zh": "证书所列各项与签名记录一致", "en": "Every field shown matches the signed record"},
    "cert.bureau": {"zh": "核准机关", "en": "Approved by"},
    "cert.principal": {"zh": "贷款本金", "en": "Principal"},
    "cert.maturity": {"zh": "贷款期限", "en": "Loan term"},
    "cert.months": {"zh": "个月", "en": "months"},
    "cert.no_loan": {
        "zh": "登记记录未载明贷款条款（早期记录）",
        "en": "The record predates signed loan terms",
    },
    "cert.hash": {"zh": "记录哈希", "en": "Record hash"},
    "cert.now": {"zh": "当前状态（在线查询）", "en": "Status now (online)"},
    "cert.still_held": {"zh": "仍质押", "en": "still held"},
    "cert.by_record": {"zh": "依据记录", "en": "by record"},
    "cert.status.active": {"zh": "有效", "en": "active"},
    "cert.status.partly_released": {"zh": "部分解押", "en": "partly released"},
    "cert.status.released": {"zh": "已解押", "en": "released"},
    "cert.status.enforced": {"zh": "已强制执行", "en": "enforced"},
    "cert.status.forced_auction": {"zh": "拍卖处置中", "en": "marked for forced auction"},
    "cert.status.unknown": {"zh": "本登记中心无此登记", "en": "not registered here"},
    "pledges.certificate_pdf": {"zh": "打印登记证明（PDF）", "en": "Print the certificate (PDF)"},
    "audit.title": {"zh": "审计", "en": "Audit"},
    "audit.bundle": {"zh": "下载审计包", "en": "Download the bundle"},
    "audit.bundle_hint": {
        "zh": "完整签名日志及检查点，可用 ecoledger audit verify 离线核验。",
        "en": "The whole signed journal and its checkpoints, for offline verification with "
        "ecoledger audit verify.",
    },
    "audit.download": {"zh": "下载（{n} 条记录）", "en": "Download ({n} records)"},
    "audit.replay": {"zh": "在线重放核验", "en": "Replay of the live journal"},
    "audit.verified": {
        "zh": "核验通过：每条记录的编码、链接、签名、检查点与规则，以及全部余额。",
        "en": "Verified: every encoding, link, signature, checkpoint and rule, and every balance.",
    },
    "audit.failed": {"zh": "核验失败", "en": "Verification FAILED"},
    "audit.record": {"zh": "记录", "en": "record"},
    "audit.diff": {"zh": "{n} 个余额与重放结果不一致", "en": "{n} balance(s) differ from the replay"},
    "audit.records": {"zh": "记录数", "en": "Records"},
    "audit.checkpoints": {"zh": "已核验检查点", "en": "Checkpoints verified"},
    "audit.head": {"zh": "链头哈希", "en": "Head hash"},
    "audit.registry_key": {"zh": "登记中心公钥", "en": "Registry public key"},
}

_FLASH: _T = {
    "flash.cap_raised": {"zh": "总量已核定（记录 {seq}）。", "en": "Cap raised (record {seq})."},
    "flash.allocated": {"zh": "已分配（记录 {seq}）。", "en": "Allocated (record {seq})."},
    "flash.need_registered": {"zh": "项目需求已登记。", "en": "Project need approved."},
    "flash.auction_opened": {"zh": "竞价 {id} 已发起。", "en": "Auction {id} is open."},
    "flash.bid_placed": {"zh": "报价已提交（第 {seq} 号）。", "en": "Bid placed (no. {seq})."},
    "flash.bid_sealed": {
        "zh": "报价已密封提交（记录 {seq}）。",
        "en": "Sealed bid placed (record {seq}).",
    },
    "flash.auction_closed": {
        "zh": "竞价已截止，结果已记录。",
        "en": "Bidding closed; the result is recorded.",
    },
    "flash.auction_settled": {
        "zh": "已结算 {settled} 户，待缴款 {pending} 户。",
        "en": "{settled} winner(s) settled, {pending} still pending.",
    },
    "flash.pledge_applied": {"zh": "抵质押申请 {id} 已提交。", "en": "Pledge application {id} submitted."},
    "flash.pledge_approved": {"zh": "抵质押 {id} 已核准。", "en": "Pledge {id} approved."},
    "flash.loan_recorded": {"zh": "抵质押 {id} 贷款信息已录入。", "en": "Loan recorded for pledge {id}."},
    "flash.pledge_confirmed": {"zh": "抵质押 {id} 已登记生效。", "en": "Pledge {id} is registered."},
    "flash.pledge_released": {"zh": "抵质押 {id} 已全部解押。", "en": "Pledge {id} released in full."},
    "flash.pledge_partly_released": {"zh": "抵质押 {id} 已部分解押。", "en": "Pledge {id} partly released."},
    "flash.demand_posted": {"zh": "项目需求已发布。", "en": "Need posted on the demand list."},
    "flash.transfer_drafted": {
        "zh": "交易申请 {id} 已拟定，请签名报出。",
        "en": "Request {id} drafted; sign it to offer.",
    },
    "flash.transfer_offer": {
        "zh": "已签名报出 {id}，指标已冻结。",
        "en": "Offer {id} signed; units on hold.",
    },
    "flash.transfer_accept": {
        "zh": "已接受 {id}，待两地审批。",
        "en": "Accepted {id}; both bureaus now approve.",
    },
    "flash.transfer_rejected": {"zh": "申请 {id} 已撤回。", "en": "Request {id} withdrawn."},
    "flash.transfer_approved": {"zh": "已签名同意 {id}。", "en": "Approved {id}."},
    "flash.transfer_settled": {"zh": "申请 {id} 已交割。", "en": "Request {id} settled."},
}

_ERRORS: _T = {
    "err.generic": {"zh": "请求被拒绝", "en": "The request was refused"},
    "err.invalid_input": {"zh": "输入不正确", "en": "Invalid input"},
    "err.invalid_quantity": {
        "zh": "数量不正确（须为正数，且小数位不超过 3 位）",
        "en": "Invalid quantity (positive, at most 3 decimals)",
    },
    "err.insufficient_balance": {"zh": "余额不足", "en": "Insufficient balance"},
    "err.units_encumbered": {
        "zh": "指标已冻结（抵押或托管中）",
        "en": "The units are held (pledge or escrow)",
    },
    "err.movement_not_allowed": {
        "zh": "该类业务不能这样划转指标（如普通转让只能在同一辖区的企业持有账户之间进行）",
        "en": "This kind of record cannot move units this way (a plain transfer stays between "
        "enterprises' holdings of one jurisdiction)",
    },
    "err.wrong_jurisdiction": {
        "zh": "指标不能离开其所属辖区；跨区域交易须经两地生态环境局批准",
        "en": "Units cannot leave their jurisdiction; a cross-city transfer needs both bureaus' approval",
    },
    "err.permission_denied": {"zh": "无此权限", "en": "Not permitted"},
    "err.invalid_credentials": {"zh": "访问密钥无效或已撤销", "en": "The access key is invalid or revoked"},
    "err.no_custody_key": {"zh": "登记中心未托管您的签名密钥", "en": "The registry holds no key of yours"},
    "err.idempotency_key_reused": {
        "zh": "该表单已用于另一请求，请刷新页面后重试",
        "en": "This form was already used for another request; reload the page",
    },
    "err.invalid_auction_terms": {"zh": "竞价条件不正确", "en": "Invalid auction terms"},
    "err.duplicate_auction": {"zh": "竞价编号已存在", "en": "This auction id exists already"},
    "err.not_eligible": {"zh": "没有对应的项目需求，不能报价", "en": "No approved need: not eligible to bid"},
    "err.bid_outside_window": {"zh": "不在报价时间内", "en": "Outside the bidding window"},
    "err.bid_below_reserve": {"zh": "报价低于底价", "en": "The bid is below the reserve price"},
    "err.bid_below_start_price": {"zh": "报价低于起始价", "en": "The bid is below the start price"},
    "err.bid_not_an_increment": {"zh": "报价须按加价幅度递增", "en": "The bid must rise by whole increments"},
    "err.bid_exceeds_need": {"zh": "报价数量超过项目需求", "en": "The quantity exceeds the approved need"},
    "err.too_many_bids": {"zh": "报价次数已达上限", "en": "Too many bids"},
    "err.auction_closed": {"zh": "竞价已截止", "en": "The auction is closed"},
    "err.auction_still_open": {"zh": "报价期尚未结束", "en": "Bidding has not ended yet"},
    "err.cap_exceeded": {"zh": "超出总量控制", "en": "The cap would be exceeded"},
    "err.not_in_jurisdiction": {"zh": "不属于本辖区", "en": "Not in the jurisdiction"},
    "err.permit_required": {"zh": "该企业没有排污许可证", "en": "The enterprise has no discharge permit"},
    "err.invalid_project_need": {"zh": "项目需求不正确", "en": "Invalid project need"},
    "err.collateral_unavailable": {"zh": "可抵押数量不足", "en": "Not enough free rights to pledge"},
    "err.pledge_state_conflict": {"zh": "抵质押当前状态不允许此操作", "en": "The pledge is not at this step"},
    "err.loan_exceeds_value": {
        "zh": "贷款超过评估价值的上限",
        "en": "The loan exceeds the allowed share of value",
    },
    "err.loan_term_beyond_validity": {
        "zh": "贷款期限超过排污权有效期",
        "en": "The loan outlives the rights' validity",
    },
    "err.invalid_loan_terms": {"zh": "贷款条件不正确", "en": "Invalid loan terms"},
    "err.malformed_certificate": {"zh": "不是有效的登记证明格式", "en": "Not a pledge certificate"},
    "err.demand_not_met": {"zh": "不符合该项目需求", "en": "The offer does not fit the need"},
    "err.invalid_transfer_terms": {"zh": "交易条件不正确", "en": "Invalid transfer terms"},
    "err.transfer_state_conflict": {
        "zh": "交易申请当前状态不允许此操作",
        "en": "The request is not at this step",
    },
    "err.transfer_expired": {"zh": "交易申请已过期", "en": "The request has expired"},
    "err.expired_units": {"zh": "排污权已过期", "en": "The rights have expired"},
    "err.unknown_auction": {"zh": "没有该竞价", "en": "No such auction"},
    "err.unknown_pledge": {"zh": "没有该抵质押", "en": "No such pledge"},
    "err.unknown_participant": {"zh": "没有该参与方", "en": "No such participant"},
    "err.missing_signature": {"zh": "缺少必要的签名", "en": "A required signature is missing"},
    "err.payment_overdue": {"zh": "已过缴款期限", "en": "Payment is overdue"},
    "err.award_not_pending": {"zh": "该成交已处理", "en": "This award is no longer pending"},
}

# Bilateral trade offers (协议转让): api/console/trades.py and enterprise_trades.html.
_TRADES: _T = {
    "nav.trades": {"zh": "协议转让", "en": "Trades"},
    "col.offer": {"zh": "报价编号", "en": "Offer"},
    "field.buyer": {"zh": "买方", "en": "Buyer"},
    "field.offer_id": {"zh": "报价编号", "en": "Offer id"},
    "trade_offer.pending": {"zh": "待买方接受", "en": "pending"},
    "trade_offer.accepted": {"zh": "已成交", "en": "accepted"},
    "trade_offer.withdrawn": {"zh": "已撤回/拒绝", "en": "withdrawn or declined"},
    "trades.hint": {
        "zh": "同一辖区内两家企业协议转让排污权：卖方报价并签名，买方接受并签名后一次交割（钱货两清）。"
        "报价不冻结指标，接受时须仍有足够的可用数量与资金。",
        "en": "Two enterprises of one jurisdiction trade rights by agreement: the seller offers and signs, "
        "the buyer accepts and signs, and it settles in one record (delivery versus payment). An offer "
        "holds nothing: the units and the cash must still be free when the buyer accepts.",
    },
    "trades.offer_title": {"zh": "向本辖区企业报价", "en": "Offer rights to an enterprise of your city"},
    "trades.offer_hint": {
        "zh": "以登记中心托管的密钥签名；有效期随所选批次。买方可接受或拒绝，您可在接受前撤回。",
        "en": "Signed with the key the registry keeps for you; the validity is the chosen lot's. The buyer "
        "accepts or declines; you may withdraw until it accepts.",
    },
    "trades.offer": {"zh": "签名报价", "en": "Sign the offer"},
    "trades.no_rights": {"zh": "没有可转让的本辖区排污权。", "en": "You hold no free rights of your city."},
    "trades.no_buyers": {"zh": "本辖区没有其他企业。", "en": "No other enterprise in your city."},
    "trades.outgoing": {"zh": "我发出的报价", "en": "Offers I made"},
    "trades.incoming": {"zh": "我收到的报价", "en": "Offers to me"},
    "trades.none": {"zh": "暂无报价。", "en": "No offers."},
    "trades.record": {"zh": "记录 {seq}", "en": "record {seq}"},
    "trades.accept": {"zh": "接受并签名", "en": "Accept and sign"},
    "trades.decline": {"zh": "拒绝", "en": "Decline"},
    "trades.withdraw": {"zh": "撤回", "en": "Withdraw"},
    "flash.trade_offered": {"zh": "报价 {id} 已签名发出。", "en": "Offer {id} signed and sent."},
    "flash.trade_accepted": {
        "zh": "已接受报价 {id}，交易已交割（记录 {seq}）。",
        "en": "Offer {id} accepted; the trade settled (record {seq}).",
    },
    "flash.trade_withdrawn": {"zh": "报价 {id} 已撤回。", "en": "Offer {id} withdrawn."},
    "flash.trade_declined": {"zh": "已拒绝报价 {id}。", "en": "Offer {id} declined."},
    "err.cross_jurisdiction_trade": {
        "zh": "买卖双方不在同一辖区（跨地市交易请走项目需求库）",
        "en": "Seller and buyer are in different cities (use a cross-city transfer)",
    },
    "err.invalid_trade": {"zh": "交易条件不正确", "en": "Invalid trade terms"},
    "err.unknown_trade_offer": {"zh": "没有该报价", "en": "No such offer"},
    "err.trade_offer_not_pending": {"zh": "该报价已成交或已撤回", "en": "The offer is no longer pending"},
}

_ALLOCATION_OFFERS: _T = {
    "field.paid_use": {"zh": "分配方式", "en": "Terms"},
    "paid_use.free": {"zh": "无偿分配（即时入账）", "en": "Free of charge (recorded at once)"},
    "paid_use.paid": {
        "zh": "有偿使用（按基准价计费，企业确认后生效）",
        "en": "Paid use (base price; takes effect when the enterprise consents)",
    },
    "alloc_offers.bureau_title": {"zh": "待企业确认的有偿使用", "en": "Paid-use offers awaiting consent"},
    "alloc_offers.mine_title": {"zh": "待您确认的有偿使用", "en": "Paid-use offers awaiting your consent"},
    "alloc_offers.hint": {
        "zh": "确认即以您托管的密钥签署：排污权入账与使用费支付在同一条记录中完成。",
        "en": "Accepting signs with your key in custody: the rights arrive and the fee is paid in one "
        "record.",
    },
    "alloc_offers.accept": {"zh": "确认并缴费", "en": "Accept and pay"},
    "alloc_offers.decline": {"zh": "拒绝", "en": "Decline"},
    "alloc_offers.withdraw": {"zh": "撤回", "en": "Withdraw"},
    "col.fee": {"zh": "使用费", "en": "Fee"},
    "col.term": {"zh": "有效期至 / 年限", "en": "Valid until / years"},
    "flash.allocation_offered": {
        "zh": "已向企业发出有偿使用要约 {id}（使用费 {fee}），待企业确认。",
        "en": "Paid-use offer {id} sent (fee {fee}); awaiting the enterprise's consent.",
    },
    "flash.allocation_accepted": {
        "zh": "已确认（记录 {seq}）：排污权已入账，使用费 {fee} 已支付。",
        "en": "Accepted (record {seq}): rights received, fee {fee} paid.",
    },
    "flash.allocation_declined": {"zh": "已拒绝要约 {id}。", "en": "Offer {id} declined."},
    "flash.allocation_withdrawn": {"zh": "已撤回要约 {id}。", "en": "Offer {id} withdrawn."},
    "err.unknown_allocation_offer": {"zh": "没有该有偿使用要约", "en": "No such paid-use offer"},
    "err.allocation_offer_not_pending": {
        "zh": "该要约已确认或已撤回",
        "en": "The offer is no longer pending",
    },
}

_SECURITY: _T = {
    "nav.security": {"zh": "账户安全", "en": "Security"},
    "field.otp": {"zh": "动态验证码", "en": "One-time code"},
    "login.otp_hint": {"zh": "已启用双因素认证时填写", "en": "only if you enabled a second factor"},
    "security.title": {"zh": "账户安全", "en": "Account security"},
    "security.not_offered": {
        "zh": "动态验证码（TOTP）面向生态环境局和银行的用户。",
        "en": "One-time codes (TOTP) are offered to the users of bureaus and banks.",
    },
    "security.is_enabled": {
        "zh": "已启用：每次登录都需要动态验证码。",
        "en": "Enabled: every login needs a one-time code.",
    },
    "security.off": {
        "zh": "未启用。启用后，登录除访问密钥外还需要验证器应用中的动态验证码。",
        "en": "Off. Once enabled, a login needs the code your authenticator app shows, besides the key.",
    },
    "security.begin": {"zh": "设置动态验证码", "en": "Set up a one-time code"},
    "security.scan": {
        "zh": "请在验证器应用中添加下面的密钥（或链接），然后输入它显示的 6 位数字。",
        "en": "Add the secret below (or the link) to your authenticator app, then type the 6 digits shown.",
    },
    "security.confirm": {"zh": "确认并启用", "en": "Confirm and enable"},
    "security.enabled": {"zh": "动态验证码已启用", "en": "One-time codes are enabled"},
    "err.csrf_refused": {
        "zh": "表单已失效或并非来自本页面，请刷新后重试",
        "en": "The form is stale or did not come from this page: reload it and try again",
    },
    "err.cross_origin_refused": {
        "zh": "拒绝来自其他网站的表单提交",
        "en": "A form sent from another site is refused",
    },
    "err.rate_limited": {"zh": "尝试次数过多，请稍后再试", "en": "Too many attempts: try again later"},
    "err.second_factor_required": {"zh": "请输入动态验证码", "en": "Enter your one-time code"},
    "err.second_factor_invalid": {
        "zh": "动态验证码错误或已使用",
        "en": "The one-time code is wrong or was already used",
    },
    "err.request_too_large": {"zh": "提交的内容过大", "en": "What was sent is too large"},
    "err.date_out_of_range": {"zh": "日期超出允许范围", "en": "The date is out of range"},
    "err.invalid_text": {
        "zh": "文字中含有控制字符或双向文本控制符",
        "en": "The text holds control or bidirectional-override characters",
    },
}

TEXT: Final[_T] = {
    **DEFAULTS,
    **_SECURITY,
    **_FRAME,
    **_COLUMNS,
    **_FIELDS,
    **_STATES,
    **_BUREAU,
    **_AUCTION,
    **_OTHERS,
    **_FLASH,
    **_ERRORS,
    **_TRADES,
    **_ALLOCATION_OFFERS,
    **CONTROLS_TEXT,
    **PROPOSALS_TEXT,
    **PAGES_TEXT,
    **_HOUSEHOLDS,
}

# Service errors name their own fields (``quantity_kg``); a form asks for tonnes (``quantity``).
_INPUT_OF: Final = {
    "quantity_kg": "quantity",
    "approved_kg": "quantity",
    "price_fen_per_t": "price",
    "price_fen_per_tonne": "price",
    "reserve_price_fen_per_t": "reserve_price",
    "start_price_fen_per_t": "start_price",
    "increment_fen_per_t": "increment",
    "max_price_fen_per_tonne": "max_price",
    "amount_fen": "amount",
    "rate_bp": "rate",
    "extension": "extension_min",
    "instrument_code": "position",
    "Idempotency-Key": "form_token",
}
_LABEL_OF: Final = {
    "quantity": "field.quantity_t",
    "price": "field.price_yuan_t",
    "amount": "field.amount_yuan",
}


def translate(lang: str, key: str, **args: object) -> str:
    """The text of ``key`` in ``lang`` with ``{name}`` filled in; the key itself if it has none."""
    entry = TEXT.get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry["zh"]
    return text.format(**args) if args else text


def field_input(name: str) -> str:
    """The form input a service's field name refers to."""
    return _INPUT_OF.get(name, name)


def field_label(lang: str, name: str) -> str:
    """A field's label as the form shows it, for an error that names the field."""
    inp = field_input(name)
    key = _LABEL_OF.get(inp, f"field.{inp}")
    return translate(lang, key) if key in TEXT else name
