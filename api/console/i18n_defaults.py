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
    "default.auctions": {"zh": "处置拍卖", "en": "Forced auctions"},
    "default.start": {"zh": "发起拍卖处置", "en": "Start a forced auction"},
    "default.start_submit": {"zh": "强制执行并发起拍卖", "en": "Enforce and open the auction"},
    "default.enforce": {"zh": "强制执行", "en": "Enforce"},
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
    "auction.forced": {"zh": "拍卖处置（质押违约）", "en": "Forced auction (pledge default)"},
}
