"""The certificate checker's problems in the reader's language: each ``Problem`` carries a code and
its arguments (market.pledges.certificate_form), rendered with kg in t/a and fen in 元, never in English.
"""

from __future__ import annotations

from typing import Final

from api.console.messages import sentence, shown_value
from market.pledges.certificate_form import Problem

__all__ = ["PROBLEMS", "problem_text"]

PROBLEMS: Final[dict[str, dict[str, str]]] = {
    "other_registry_key": {
        "zh": "证书所列登记中心公钥与本登记中心的公钥不同",
        "en": "the file names another registry key than the one pinned",
    },
    "checkpoint_unsigned": {
        "zh": "检查点不是由登记中心密钥签名的",
        "en": "the checkpoint is not signed by the registry key",
    },
    "record_unparsed": {"zh": "记录无法解析：{error}", "en": "the record does not parse: {error}"},
    "seq_mismatch": {
        "zh": "证书写明记录 {file_seq}，实际记录为 {record_seq}",
        "en": "the file says record {file_seq}, the record is {record_seq}",
    },
    "not_included": {
        "zh": "记录 {seq} 不在检查点的默克尔树根之下",
        "en": "record {seq} is not included under the checkpoint's root",
    },
    "not_sealed": {"zh": "记录没有登记中心的签章", "en": "the record is not sealed by the registry key"},
    "key_not_listed": {
        "zh": "证书未列出 {party} 的密钥 {key_id}",
        "en": "the file lists no key {key_id} of {party}",
    },
    "signature_invalid": {"zh": "{party} 的签名验证失败", "en": "the signature of {party} does not verify"},
    "terms_invalid": {"zh": "贷款条件或核准不正确：{error}", "en": "the loan terms or approval: {error}"},
    "signatures_missing": {"zh": "缺少 {parties} 的有效签名", "en": "no valid signature of {parties}"},
    "field_missing": {
        "zh": "证书缺少此项；签名记录为 {signed}",
        "en": "is missing; the signed record says {signed}",
    },
    "field_extra": {"zh": "签名记录中没有此项", "en": "is not in the signed record"},
    "field_differs": {
        "zh": "证书显示 {shown}，签名记录为 {signed}",
        "en": "the certificate shows {shown}, the signed record says {signed}",
    },
    "quantity_differs": {
        "zh": "记录抵押 {record_kg}，而非 {expected_kg}",
        "en": "the record pledges {record_kg}, not {expected_kg}",
    },
    "other": {"zh": "证书与签名记录不符", "en": "the certificate does not match the signed record"},
}

_ERROR_ARGS = frozenset({"error"})  # a nested refusal's code: its sentence, in the same language


def _arg(lang: str, field: str, key: str, raw: str, names: dict[str, str]) -> str:
    if key in _ERROR_ARGS:
        return sentence(lang, raw)
    if key in ("party", "parties"):
        return "、".join(names.get(p.strip(), p.strip()) for p in raw.split(","))
    unit_of = field.rsplit(".", 1)[-1] if key in ("shown", "signed") else key
    if raw.lstrip("-").isdigit() and unit_of.endswith(("_kg", "_fen")):
        return shown_value(unit_of, int(raw), lang=lang, instrument="COD", names=names)
    return raw


def problem_text(lang: str, problem: Problem, names: dict[str, str] | None = None) -> str:
    """What is wrong, in ``lang``: the code's sentence with its arguments in display units."""
    entry = PROBLEMS.get(problem.code, PROBLEMS["other"])
    args = {k: _arg(lang, problem.field, k, v, names or {}) for k, v in problem.args}
    try:
        return (entry.get(lang) or entry["zh"]).format(**args)
    except (KeyError, IndexError):
        return PROBLEMS["other"][lang if lang in ("zh", "en") else "zh"]
