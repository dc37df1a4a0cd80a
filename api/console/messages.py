"""Refusals as a person reads them: a sentence per stable error code in Chinese and English, and the
evidence the error carries (raw kg, fen, UTC instants) rendered in display units and Beijing time.

The API answers with the code and the raw integers in ``details``; the console renders from those two
alone, never from the English ``message``, so no "500000 kg/a" reaches a Chinese page. A test walks
every ``DomainError`` code and checks both languages have a sentence here or in ``i18n.TEXT``.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from api.console.i18n import TEXT, translate
from ledger.errors import DomainError
from ledger.units import INSTRUMENTS, format_amount, is_money

__all__ = ["SHORT", "detail", "explain", "sentence", "shown_value"]

_CST = timezone(timedelta(hours=8), "UTC+8")
_RIGHTS_DEFAULT = "COD"  # a quantity without its instrument is a right's: every right shows in t/a

_T = dict[str, dict[str, str]]

# The sentence of every code that i18n.TEXT does not name as ``err.<code>`` already.
SHORT: Final[_T] = {
    "domain_error": {"zh": "请求被拒绝", "en": "The request was refused"},
    "conflict": {"zh": "与登记簿当前状态冲突", "en": "This conflicts with the registry's state"},
    "not_found": {"zh": "没有找到", "en": "Not found"},
    "rule_violation": {"zh": "违反登记簿规则", "en": "A registry rule refuses this"},
    "signature_error": {"zh": "签名不正确", "en": "A signature is wrong"},
    "account_cannot_send": {
        "zh": "该账户不能转出（注销账户）",
        "en": "This account never sends (retirement)",
    },
    "auction_not_open": {"zh": "竞价未开始或已结束", "en": "The auction is not open"},
    "auction_not_over": {"zh": "竞价尚未结束", "en": "The auction is not over yet"},
    "auction_result_mismatch": {
        "zh": "竞价结果与重新出清的结果不一致",
        "en": "The result differs from clearing the bids again",
    },
    "bad_signature": {"zh": "签名验证失败", "en": "The signature does not verify"},
    "bid_commitment_mismatch": {"zh": "公开的报价与密封承诺不符", "en": "The revealed bid does not match"},
    "bid_refused": {"zh": "报价不符合竞价规则", "en": "The bid breaks an auction rule"},
    "bid_sequence_conflict": {"zh": "报价序号冲突", "en": "Bid numbers conflict"},
    "bids_sealed": {"zh": "密封报价在出具结果前不公开", "en": "Sealed bids stay secret until the result"},
    "custody_not_held": {"zh": "登记中心未托管该密钥", "en": "The registry does not hold this key"},
    "duplicate_account": {"zh": "账户已存在", "en": "The account exists already"},
    "duplicate_hold": {"zh": "冻结编号已存在", "en": "The hold exists already"},
    "duplicate_instruction": {"zh": "同一签名指令不能重复提交", "en": "This signed instruction was applied"},
    "duplicate_key": {"zh": "密钥已登记", "en": "The key is registered already"},
    "duplicate_party": {"zh": "参与方已登记", "en": "The participant is registered already"},
    "duplicate_project": {"zh": "项目已登记", "en": "The project is registered already"},
    "duplicate_signature": {"zh": "同一方重复签名", "en": "The same party signed twice"},
    "hold_not_open": {"zh": "冻结已解除", "en": "The hold is no longer open"},
    "hold_not_permitted": {"zh": "不允许冻结这些指标", "en": "These units cannot be put on hold"},
    "invalid_bid": {"zh": "报价格式不正确", "en": "The bid is malformed"},
    "invalid_credit_code": {"zh": "统一社会信用代码不正确", "en": "Invalid unified social credit code"},
    "invalid_lot": {"zh": "批次不正确", "en": "Invalid lot"},
    "invalid_federation_record": {
        "zh": "跨登记簿转移记录引用的对方记录缺失或不符",
        "en": "The cross-journal transfer does not match the record it cites",
    },
    "invalid_monitoring_data": {"zh": "监测数据不正确", "en": "Invalid monitoring data"},
    "invalid_permit_number": {"zh": "排污许可证编号不正确", "en": "Invalid discharge permit number"},
    "invalid_pledge_registration": {
        "zh": "抵质押登记的贷款条件或核准与冻结不符",
        "en": "The pledge's loan terms or approval do not match its hold",
    },
    "invalid_public_key": {"zh": "公钥无效", "en": "Invalid public key"},
    "key_not_valid": {
        "zh": "密钥已撤销、未生效或不属于该方",
        "en": "The key is revoked, not yet valid or not theirs",
    },
    "ledger_already_initialized": {"zh": "登记簿已初始化", "en": "The ledger is initialised already"},
    "ledger_not_initialized": {"zh": "登记簿尚未初始化", "en": "The ledger is not initialised"},
    "malformed_record": {"zh": "记录格式不正确", "en": "The record is malformed"},
    "methodology_error": {"zh": "方法学计算出错", "en": "The methodology cannot compute this"},
    "methodology_replay_mismatch": {
        "zh": "方法学重算结果与记录不符",
        "en": "Recomputing the methodology gives another result",
    },
    "nothing_to_issue": {"zh": "核证量不足 1 吨，无可签发", "en": "Less than one tonne: nothing to issue"},
    "overlapping_monitoring_period": {
        "zh": "监测期与已有报告重叠",
        "en": "The monitoring period overlaps an earlier report",
    },
    "payment_window_open": {"zh": "缴款期尚未结束", "en": "The payment window is still open"},
    "registry_key_mismatch": {
        "zh": "登记中心密钥与登记簿不符",
        "en": "The registry key is not the journal's",
    },
    "report_already_issued": {"zh": "该监测报告已签发", "en": "This report was issued already"},
    "retired_serials_immovable": {"zh": "已注销的序列号不能再转移", "en": "Retired serials never move again"},
    "second_factor_not_offered": {
        "zh": "您的角色不提供动态验证码",
        "en": "One-time codes are not offered to your role",
    },
    "serial_error": {"zh": "序列号不正确", "en": "Serial numbers are wrong"},
    "serial_range_conflict": {"zh": "序列号区间重叠或不连续", "en": "The serial range overlaps or skips"},
    "serialized_units": {
        "zh": "碳汇信用（蓝碳、竹林碳汇）须按序列号转让或注销",
        "en": "Carbon credits (blue carbon, bamboo carbon) move with their serial numbers",
    },
    "serials_not_held": {"zh": "账户未持有这些序列号", "en": "The account does not hold these serials"},
    "unbalanced_transaction": {"zh": "借贷不平衡", "en": "The postings do not balance"},
    "unknown_account": {"zh": "没有该账户", "en": "No such account"},
    "unknown_award": {"zh": "没有该成交", "en": "No such award"},
    "unknown_batch": {"zh": "没有该批次", "en": "No such batch"},
    "unknown_credential": {"zh": "没有该访问密钥", "en": "No such access key"},
    "unknown_demand": {"zh": "没有该项目需求", "en": "No such need"},
    "unknown_division": {"zh": "行政区划代码不正确", "en": "Unknown division code"},
    "unknown_hold": {"zh": "没有该冻结", "en": "No such hold"},
    "unknown_instrument": {"zh": "没有该指标", "en": "No such instrument"},
    "unknown_key": {"zh": "没有该密钥", "en": "No such key"},
    "unknown_methodology": {"zh": "没有该方法学", "en": "No such methodology"},
    "unknown_monitoring_report": {"zh": "没有该监测报告", "en": "No such monitoring report"},
    "unknown_party": {"zh": "没有该参与方", "en": "No such party"},
    "unknown_project": {"zh": "没有该项目", "en": "No such project"},
    "unknown_rule_set": {"zh": "规则版本未知", "en": "Unknown rule set"},
    "unknown_transfer_request": {"zh": "没有该交易申请", "en": "No such request"},
    "whole_tonnes_only": {"zh": "碳汇信用以整吨计", "en": "Carbon credits move in whole tonnes"},
}

# The evidence, for the codes whose details say how far off the request was. A template is shown only
# when every name in it is in the details; otherwise the sentence stands alone.
DETAIL: Final[_T] = {
    "cap_exceeded": {
        "zh": "分配 {requested} 超过总量上限 {cap}（已分配 {allocated}，政府储备可用 {available}）",
        "en": "allocating {requested} exceeds the cap of {cap} ({allocated} allocated, {available} free "
        "in the reserve)",
    },
    "insufficient_balance": {"zh": "可用数量仅 {available}", "en": "only {available} available"},
    "units_encumbered": {
        "zh": "{total} 中有 {held} 已冻结（抵押或托管中）",
        "en": "{held} of {total} are on hold (pledge or escrow)",
    },
    "collateral_unavailable": {
        "zh": "申请抵押 {requested_kg}，可抵押仅 {available_kg}",
        "en": "{requested_kg} asked, only {available_kg} free to pledge",
    },
    "loan_exceeds_value": {
        "zh": "贷款 {amount_fen} 超过上限 {max_loan_fen}（评估价值 {appraised_fen}）",
        "en": "a loan of {amount_fen} exceeds the limit of {max_loan_fen} (appraised at {appraised_fen})",
    },
    "loan_term_beyond_validity": {
        "zh": "贷款到期日 {maturity} 晚于排污权有效期 {valid_until}",
        "en": "the loan matures on {maturity}, after the rights expire on {valid_until}",
    },
    "bid_exceeds_need": {
        "zh": "报价数量 {quantity_kg} 超过可竞数量 {need_kg}",
        "en": "{quantity_kg} exceeds the approved need of {need_kg}",
    },
    "bid_below_reserve": {
        "zh": "底价为 {minimum_fen_per_t}",
        "en": "the reserve price is {minimum_fen_per_t}",
    },
    "bid_below_start_price": {
        "zh": "起始价为 {minimum_fen_per_t}",
        "en": "the start price is {minimum_fen_per_t}",
    },
    "bid_not_an_increment": {
        "zh": "加价幅度 {increment_fen_per_t}，最低有效报价 {minimum_fen_per_t}",
        "en": "increments of {increment_fen_per_t}, at least {minimum_fen_per_t}",
    },
    "bid_outside_window": {"zh": "报价截止于 {closes_at}", "en": "bidding closes at {closes_at}"},
    "auction_still_open": {"zh": "报价截止于 {closes_at}", "en": "bidding closes at {closes_at}"},
    "auction_not_over": {"zh": "报价截止于 {closes_at}", "en": "bidding closes at {closes_at}"},
    "too_many_bids": {"zh": "每位竞买人最多报价 {limit} 次", "en": "at most {limit} bids per bidder"},
    "bids_sealed": {
        "zh": "已收到 {bids} 份报价，来自 {bidders} 家竞买人",
        "en": "{bids} bids from {bidders} bidders so far",
    },
    "demand_not_met": {"zh": "该需求尚缺 {lacking_kg}", "en": "the need lacks {lacking_kg}"},
    "expired_units": {"zh": "有效期至 {valid_until}", "en": "valid until {valid_until}"},
    "transfer_expired": {"zh": "已于 {expires_at} 过期", "en": "expired at {expires_at}"},
    "pledge_state_conflict": {"zh": "当前状态：{status}", "en": "it is {status}"},
    "transfer_state_conflict": {"zh": "当前状态：{status}", "en": "it is {status}"},
    "missing_signature": {"zh": "缺少 {missing} 的签名", "en": "{missing} must sign"},
    "rate_limited": {"zh": "请 {retry_after_s} 秒后再试", "en": "retry in {retry_after_s} s"},
    "request_too_large": {"zh": "上限 {limit} 字节", "en": "at most {limit} bytes"},
    "unbalanced_transaction": {"zh": "差额 {residual}", "en": "off by {residual}"},
    "unknown_pledge": {"zh": "编号 {pledge}", "en": "id {pledge}"},
    "unknown_auction": {"zh": "编号 {auction_id}", "en": "id {auction_id}"},
    "unknown_transfer_request": {"zh": "编号 {request}", "en": "id {request}"},
}

_TIME_KEYS = frozenset({"at", "opens_at", "closes_at", "expires_at"})
_QUANTITY_KEYS = frozenset({"cap", "allocated", "requested", "available", "held", "total", "residual"})
_STATUS_PREFIX = {"pledge_state_conflict": "pledge.", "transfer_state_conflict": "transfer."}


def sentence(lang: str, code: str) -> str:
    """The one-line sentence for ``code``: i18n's ``err.<code>``, else this module's table."""
    key = f"err.{code}"
    if key in TEXT:
        return translate(lang, key)
    entry = SHORT.get(code)
    return (entry.get(lang) or entry["zh"]) if entry else translate(lang, "err.generic")


def _sentence_of(lang: str, exc: DomainError) -> str:
    """A code with no sentence of its own (a newer error) reads as its family's."""
    for cls in type(exc).__mro__:
        code = getattr(cls, "code", None)
        if isinstance(code, str) and (f"err.{code}" in TEXT or code in SHORT):
            return sentence(lang, code)
    return translate(lang, "err.generic")


def _yuan(fen: int, lang: str) -> str:
    number = format_amount(fen, INSTRUMENTS["CNY"]).rsplit(" ", 1)[0]
    return f"{number} {translate(lang, 'unit.yuan')}"


def _instant(raw: str, lang: str) -> str:
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return raw
    if moment.tzinfo is None:
        return raw
    local = moment.astimezone(_CST).strftime("%Y-%m-%d %H:%M:%S")
    return f"{local}（北京时间）" if lang == "zh" else f"{local} China time"


def shown_value(
    key: str, value: Any, *, lang: str, instrument: str, names: Mapping[str, str] | None = None
) -> str:
    """One detail as display text: kg in t/a (or tCO2e), fen in 元, UTC in Beijing time, parties by
    name; anything else as it is."""
    names = names or {}
    if isinstance(value, list | tuple):
        return "、".join(shown_value(key, v, lang=lang, instrument=instrument, names=names) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        if key.endswith(("_fen_per_t", "_fen_per_tonne")):
            return f"{_yuan(value, lang)}/t"
        if key.endswith("_fen") or (key in _QUANTITY_KEYS and is_money(instrument)):
            return _yuan(value, lang)
        if key.endswith("_kg") or key in _QUANTITY_KEYS:
            return format_amount(value, INSTRUMENTS[instrument])
        return str(value)
    if isinstance(value, str):
        if key in _TIME_KEYS:
            return _instant(value, lang)
        return names.get(value, value)
    return str(value)


class _Strict(dict[str, str]):
    def __missing__(self, key: str) -> str:
        raise KeyError(key)


def detail(
    lang: str, exc: DomainError, *, instrument: str | None = None, names: Mapping[str, str] | None = None
) -> str | None:
    """The evidence of ``exc`` in ``lang`` with display units, or ``None`` when its code has no
    template or the details lack a name the template uses."""
    template = DETAIL.get(exc.code)
    if template is None:
        return None
    code = exc.details.get("instrument") or instrument or _RIGHTS_DEFAULT
    code = code if isinstance(code, str) and code in INSTRUMENTS else _RIGHTS_DEFAULT
    shown = _Strict(
        {k: shown_value(k, v, lang=lang, instrument=code, names=names) for k, v in exc.details.items()}
    )
    prefix = _STATUS_PREFIX.get(exc.code)
    if prefix and "status" in shown:
        shown["status"] = translate(lang, prefix + str(exc.details["status"]))
    try:
        return string.Formatter().vformat(template.get(lang) or template["zh"], (), shown)
    except (KeyError, IndexError, ValueError):
        return None


def explain(
    lang: str, exc: DomainError, *, instrument: str | None = None, names: Mapping[str, str] | None = None
) -> tuple[str, str | None]:
    """The sentence and the evidence of a refusal, both in ``lang``."""
    return _sentence_of(lang, exc), detail(lang, exc, instrument=instrument, names=names)
