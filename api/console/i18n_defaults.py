"""The console's texts for the end of a default (拍卖处置) and the bank's holdings, in Chinese and
English; merged into ``api.console.i18n.TEXT``."""

from __future__ import annotations

from typing import Final

__all__ = ["DEFAULTS"]

DEFAULTS: Final[dict[str, dict[str, str]]] = {
    "nav.bank_holdings": {"zh": "持有与处置", "en": "Holdings & defaults"},
    "default.holdings_hint": {
        "zh": "银行仅通过强制执行质押取得排污权，并且只能以拍卖处置方式出售；不得协议转让。",
        "en": "A bank comes to hold rights only by enforcing a pledge, and sells them only by forced "
        "auction, never bilaterally.",
    },
    "default.title": {"zh": "违约处置（拍卖处置）", "en": "Defaults (forced auction)"},
    "default.none": {"zh": "暂无违约处置。", "en": "No defaulted pledges."},
    "default.enforced": {"zh": "已强制执行", "en": "Enforced"},
    "default.claim": {"zh": "优先受偿额", "en": "Claim (paid first)"},
    "default.principal": {"zh": "本金", "en": "Principal"},
    "default.interest": {"zh": "利息", "en": "Interest"},
    "default.recovered": {"zh": "已受偿", "en": "Recovered"},
    "default.to_enterprise": {"zh": "余款归排污单位", "en": "Rest to the enterprise"},
    "default.auctions": {"zh": "处置拍卖", "en": "Forced auctions"},
    "default.start": {"zh": "发起拍卖处置", "en": "Start a forced auction"},
    "default.start_submit": {"zh": "强制执行并发起拍卖", "en": "Enforce and open the auction"},
    "default.enforce": {"zh": "强制执行", "en": "Enforce"},
    "nav.bureau_defaults": {"zh": "违约处置", "en": "Defaults"},
    "default.bureau_hint": {
        "zh": "银行强制执行质押后，若未发起拍卖处置，可由本局按现有竞价方式发起；优先受偿额为合同本金及计至"
        "发起之日的利息。",
        "en": "Once a bank has enforced a pledge, the bureau may start the forced auction under any of "
        "the auction designs if the bank has not; the claim is the signed principal and interest to "
        "the day it starts.",
    },
    "default.bureau_start_hint": {
        "zh": "拍卖标的为银行已强制执行、仍在其持有账户中的排污权；本局组织竞价并签署成交结果。",
        "en": "The lot is the enforced rights still free in the bank's holding; the bureau runs the "
        "auction and signs its result.",
    },
    "default.bureau_start_submit": {"zh": "发起拍卖处置", "en": "Open the forced auction"},
    "default.rule": {
        "zh": "成交价款先清偿银行的本金和利息（按合同年利率、实际天数/365计单利，计至首次处置拍卖之日），"
        "余款归排污单位；每位买受人的付款在同一笔登记记录中完成分配，审计重放逐笔核验。",
        "en": "The price pays the bank's principal and interest first (simple interest at the signed "
        "annual rate, actual days / 365, to the day of the first forced auction); the rest goes to the "
        "enterprise. Each winner's payment is split in one record, which replay checks.",
    },
    "default.start_hint": {
        "zh": "质押中的排污权先划入本行持有账户，再由所在地生态环境局按所选方式组织竞价；"
        "竞买人须有经核定的项目需求。",
        "en": "Rights still under the pledge move to the bank's holding first; the bureau of their "
        "jurisdiction then runs the auction; bidders need an approved project need.",
    },
    "flash.pledge_enforced": {
        "zh": "抵质押 {id} 已强制执行，排污权已划入本行持有账户。",
        "en": "Pledge {id} enforced: the rights are in the bank's holding.",
    },
    "flash.forced_auction_opened": {
        "zh": "处置拍卖 {id} 已发起，由所在地生态环境局组织。",
        "en": "Forced auction {id} opened, run by the rights' bureau.",
    },
    "field.bank_price": {"zh": "本行评估价（元/吨，可选）", "en": "Bank's own appraisal (CNY/t, optional)"},
    "valuation.optional": {"zh": "可不填", "en": "optional"},
    "valuation.value": {"zh": "评估值", "en": "Appraised"},
    "valuation.reference_price": {"zh": "登记簿参考价", "en": "Registry reference"},
    "valuation.bank_price": {"zh": "银行评估价", "en": "Bank's appraisal"},
    "valuation.market": {"zh": "近90日成交量加权均价", "en": "90-day volume-weighted market price"},
    "valuation.reference": {"zh": "主管部门公布参考价", "en": "published reference price"},
    "valuation.bank": {"zh": "银行评估价", "en": "bank's appraisal"},
    "valuation.auction": {"zh": "最近竞价成交价", "en": "latest auction clearing price"},
    "nav.bluecarbon": {"zh": "碳汇", "en": "Carbon credits"},
    "bc.title": {
        "zh": "碳汇（贻贝养殖蓝碳、竹林碳汇）",
        "en": "Carbon credits (mussel blue carbon, bamboo carbon)",
    },
    "bc.hint": {
        "zh": "项目登记 → 监测报告（按方法学逐步计算）→ 生态环境局核证签发 → 按序列号转让或注销。"
        "1 吨碳汇 = 1 个序列号。",
        "en": "Register a project → monitoring report (computed step by step by the methodology) → the "
        "bureau verifies and issues → transfer or retire by serial. One serial per tonne.",
    },
    "bc.location": {"zh": "养殖海域", "en": "Location"},
    "bc.area": {"zh": "养殖面积", "en": "Farm area"},
    "bc.mu": {"zh": "亩", "en": "mu"},
    "bc.households": {"zh": "养殖户数", "en": "Farming households"},
    "bc.methodology": {"zh": "方法学", "en": "Methodology"},
    "bc.instrument": {"zh": "碳汇品种", "en": "Credit"},
    "bc.hyt0305": {"zh": "HY/T 0305-2021 碳储量变化法", "en": "HY/T 0305-2021 carbon-stock-change method"},
    "bc.reports": {"zh": "监测报告", "en": "Monitoring reports"},
    "bc.report": {"zh": "监测报告", "en": "Monitoring report"},
    "bc.period": {"zh": "监测期", "en": "Monitoring period"},
    "bc.sink": {"zh": "碳汇量", "en": "Sink"},
    "bcstatus.submitted": {"zh": "待核证签发", "en": "awaiting issuance"},
    "bcstatus.issued": {"zh": "已签发", "en": "issued"},
    "bc.issue": {"zh": "核证并签发", "en": "Verify and issue"},
    "bc.no_reports": {"zh": "尚无监测报告。", "en": "No monitoring reports yet."},
    "bc.no_projects": {"zh": "尚无碳汇项目。", "en": "No carbon-credit projects."},
    "bc.batches": {"zh": "签发批次", "en": "Issued batches"},
    "bc.batch": {"zh": "批次", "en": "Batch"},
    "bc.vintage": {"zh": "年份", "en": "Vintage"},
    "bc.serial_start": {"zh": "起始序列号", "en": "First serial"},
    "bc.serial_end": {"zh": "终止序列号", "en": "Last serial"},
    "bc.issued": {"zh": "签发量", "en": "Issued"},
    "bc.buffer": {"zh": "缓冲池", "en": "Buffer pool"},
    "bc.new_report": {"zh": "提交监测报告", "en": "Submit a monitoring report"},
    "bc.submit_report": {"zh": "提交并计算", "en": "Submit and compute"},
    "bc.field.start": {"zh": "监测期起", "en": "Period start"},
    "bc.field.end": {"zh": "监测期止", "en": "Period end"},
    "bc.field.area": {"zh": "养殖面积（亩）", "en": "Farm area (mu)"},
    "bc.field.harvest": {"zh": "收获量（鲜重，千克）", "en": "Harvest (fresh weight, kg)"},
    "bc.field.species": {"zh": "品种", "en": "Species"},
    "bc.species.coruscus": {"zh": "厚壳贻贝", "en": "Mytilus coruscus"},
    "bc.species.galloprovincialis": {"zh": "紫贻贝", "en": "Mytilus galloprovincialis"},
    "bc.held": {"zh": "持有的碳汇（按序列号区间）", "en": "Carbon credits held (serial ranges)"},
    "bc.retired": {"zh": "已注销", "en": "Retired"},
    "bc.retirements": {"zh": "注销记录（受益方与原因）", "en": "Retirements (beneficiary and reason)"},
    "bc.serials": {"zh": "序列号区间", "en": "Serial ranges"},
    "bc.record": {"zh": "登记记录", "en": "Record"},
    "bc.project": {"zh": "项目", "en": "Project"},
    "bc.tonnes": {"zh": "数量", "en": "Quantity"},
    "bc.transfer": {"zh": "转让", "en": "Transfer"},
    "bc.retire": {"zh": "注销", "en": "Retire"},
    "bc.field.tonnes": {"zh": "数量（吨CO2e，整数）", "en": "Quantity (whole tCO2e)"},
    "bc.field.to": {"zh": "受让方（参与方编号）", "en": "To (participant id)"},
    "bc.field.beneficiary": {"zh": "受益方", "en": "Beneficiary"},
    "bc.field.reason": {"zh": "注销原因", "en": "Reason"},
    "bc.register": {"zh": "登记蓝碳项目", "en": "Register a project"},
    "bc.register_hint": {
        "zh": "由养殖海域所在地的生态环境局核证。",
        "en": "The bureau over the farm's waters verifies its reports.",
    },
    "bc.field.project": {"zh": "项目编号", "en": "Project id"},
    "bc.field.name": {"zh": "项目名称", "en": "Project name"},
    "bc.field.division": {"zh": "所在行政区划代码", "en": "Division code"},
    "bc.input_hash": {"zh": "输入数据摘要", "en": "Input hash"},
    "bc.parameters": {"zh": "参数及来源", "en": "Parameters and their sources"},
    "bc.parameter": {"zh": "参数", "en": "Parameter"},
    "bc.value": {"zh": "数值", "en": "Value"},
    "bc.unit": {"zh": "单位", "en": "Unit"},
    "bc.source": {"zh": "来源", "en": "Source"},
    "bc.measured": {"zh": "实测", "en": "measured"},
    "bc.steps": {"zh": "逐步计算", "en": "Computation, step by step"},
    "bc.step": {"zh": "步骤", "en": "Step"},
    "bc.formula": {"zh": "公式", "en": "Formula"},
    "bc.rounding": {
        "zh": "每一步均为精确十进制运算；签发量向下取整到千克，不高估碳汇。",
        "en": "Every step is exact decimal arithmetic; the issued quantity is rounded down to the kg.",
    },
    "bcp.dry_wet_ratio": {"zh": "干湿系数", "en": "Dry/wet ratio"},
    "bcp.shell_share": {"zh": "贝壳质量占比", "en": "Shell share of dry weight"},
    "bcp.tissue_share": {"zh": "软组织质量占比", "en": "Soft-tissue share of dry weight"},
    "bcp.shell_carbon_content": {"zh": "贝壳碳含量", "en": "Shell carbon content"},
    "bcp.tissue_carbon_content": {"zh": "软组织碳含量", "en": "Soft-tissue carbon content"},
    "bcs.dry_kg": {"zh": "干重", "en": "Dry weight"},
    "bcs.shell_dry_kg": {"zh": "贝壳干重", "en": "Shell dry weight"},
    "bcs.tissue_dry_kg": {"zh": "软组织干重", "en": "Soft-tissue dry weight"},
    "bcs.shell_carbon_kg": {"zh": "贝壳碳", "en": "Carbon in shells"},
    "bcs.tissue_carbon_kg": {"zh": "软组织碳", "en": "Carbon in soft tissue"},
    "bcs.carbon_kg": {"zh": "碳合计", "en": "Carbon"},
    "bcs.co2_kg": {"zh": "折算CO2当量", "en": "CO2 equivalent"},
    "bcs.yield_kg_per_mu": {"zh": "亩产（鲜重）", "en": "Yield per mu"},
    "bcs.co2_kg_per_mu": {"zh": "亩均碳汇", "en": "CO2e per mu"},
    "flash.bc_project": {"zh": "蓝碳项目 {id} 已登记。", "en": "Project {id} registered."},
    "flash.bc_report": {
        "zh": "监测报告 {id} 已提交，计算过程如下。",
        "en": "Report {id} submitted; its computation below.",
    },
    "flash.bc_issued": {"zh": "批次 {id} 已签发。", "en": "Batch {id} issued."},
    "flash.bc_moved": {"zh": "已转让 {n} 吨CO2e。", "en": "{n} tCO2e transferred."},
    "flash.bc_retired": {"zh": "已注销 {n} 吨CO2e。", "en": "{n} tCO2e retired."},
    "auction.forced": {"zh": "拍卖处置（质押违约）", "en": "Forced auction (pledge default)"},
}
