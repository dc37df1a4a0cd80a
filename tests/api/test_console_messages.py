"""Refusals in the reader's language: every error code the domain defines has a Chinese and an English
sentence, its evidence reads in display units (t/a, 元, Beijing time), and the certificate checker's
problems do too; nothing of the English message with raw kg reaches a page."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from api.console.cert_problems import PROBLEMS, problem_text
from api.console.i18n import TEXT, translate
from api.console.messages import DETAIL, SHORT, explain, sentence
from ledger.crypto import SigningKey
from ledger.errors import DomainError
from market.issuance.errors import CapExceeded
from market.pledges.certificate import verify_certificate
from tests.unit.test_market_certificate import REGISTRY, _certificate

CJK = re.compile(r"[\u4e00-\u9fff]")
RAW = re.compile(r"\d{4,}\s*(kg|fen)|\bkg\b|\bfen\b")

# A superset of the details the domain's errors carry, with raw integers as the ledger keeps them.
SAMPLE: dict[str, Any] = {
    "field": "quantity_kg",
    "instrument": "COD",
    "requested": 500_000,
    "cap": 400_000,
    "allocated": 300_000,
    "available": 100_000,
    "held": 2_000,
    "total": 5_000,
    "residual": 7,
    "requested_kg": 3_500,
    "available_kg": 1_200,
    "quantity_kg": 6_000,
    "need_kg": 4_000,
    "lacking_kg": 1_500,
    "amount_fen": 120_000_000,
    "appraised_fen": 100_000_000,
    "max_loan_fen": 80_000_000,
    "minimum_fen_per_t": 2_200_000,
    "increment_fen_per_t": 50_000,
    "closes_at": "2026-12-06T10:00:00.000000Z",
    "expires_at": "2026-12-06T10:00:00.000000Z",
    "valid_until": "2030-12-31",
    "maturity": "2031-06-30",
    "limit": 10,
    "bids": 3,
    "bidders": 2,
    "status": "active",
    "missing": ["ent:91330281MA2CUSTOM1"],
    "retry_after_s": 30,
    "pledge": "pl-1",
    "auction_id": "YY-COD-001",
    "request": "xc-1",
}


def _import_everything() -> None:
    for root in ("ledger", "accounts", "market", "methodologies", "api"):
        package = importlib.import_module(root)
        for info in pkgutil.walk_packages(package.__path__, f"{root}."):
            if ".migrations" not in info.name:
                importlib.import_module(info.name)


def _subclasses(cls: type[DomainError]) -> Iterator[type[DomainError]]:
    yield cls
    for sub in cls.__subclasses__():
        yield from _subclasses(sub)


def _every_error_class() -> list[type[DomainError]]:
    _import_everything()
    return sorted(set(_subclasses(DomainError)), key=lambda c: (c.code, c.__qualname__))


def _instance(cls: type[DomainError], message: str) -> DomainError:
    """An instance of ``cls`` with the sample details, whatever its constructor asks for."""
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    exc.message, exc.details = message, dict(SAMPLE)
    return exc


def test_every_error_code_the_domain_defines_has_a_chinese_and_an_english_sentence() -> None:
    classes = _every_error_class()
    assert len(classes) > 100  # the walk found the whole tree, not a stub
    missing = [c.code for c in classes if f"err.{c.code}" not in TEXT and c.code not in SHORT]
    assert missing == []
    for cls in classes:
        zh, en = sentence("zh", cls.code), sentence("en", cls.code)
        assert CJK.search(zh), cls.code
        assert not CJK.search(en), cls.code
        assert en != zh, cls.code
    for entry in [*SHORT.values(), *DETAIL.values(), *PROBLEMS.values()]:
        assert set(entry) == {"zh", "en"}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_refusal_reads_without_the_english_message_or_raw_kg(lang: str) -> None:
    english = "allocating 500000 kg/a of COD would exceed the cap 400000"
    for cls in _every_error_class():
        said, evidence = explain(lang, _instance(cls, english))
        shown = f"{said} {evidence or ''}"
        assert english not in shown, cls.code
        assert not RAW.search(shown), (cls.code, shown)
        if lang == "zh":
            assert CJK.search(shown), cls.code
        if cls.code in DETAIL:
            assert evidence, cls.code  # every template's names are in the sample


def test_the_cap_refusal_reads_in_tonnes_per_year() -> None:
    exc = CapExceeded(
        "allocating 500000 kg/a of COD would exceed 330281's cap: cap 400000, allocated 300000, ...",
        cap=400_000,
        allocated=300_000,
        requested=500_000,
        available=100_000,
        instrument="COD",
        field="quantity_kg",
    )
    said, evidence = explain("zh", exc)
    assert said == "超出总量控制"
    assert evidence == (
        "分配 500.000 t/a 超过总量上限 400.000 t/a（已分配 300.000 t/a，政府储备可用 100.000 t/a）"
    )
    assert explain("en", exc)[1] == (
        "allocating 500.000 t/a exceeds the cap of 400.000 t/a (300.000 t/a allocated, 100.000 t/a free "
        "in the reserve)"
    )
    assert exc.details["cap"] == 400_000  # the API keeps the raw integers


def test_money_prices_and_instants_read_in_yuan_and_beijing_time() -> None:
    loan = _instance(type("LoanExceedsValue", (DomainError,), {"code": "loan_exceeds_value"}), "x")
    assert explain("zh", loan)[1] == "贷款 1,200,000.00 元 超过上限 800,000.00 元（评估价值 1,000,000.00 元）"
    bid = _instance(type("BidBelowReserve", (DomainError,), {"code": "bid_below_reserve"}), "x")
    assert explain("zh", bid)[1] == "底价为 22,000.00 元/t"
    late = _instance(type("BidOutsideWindow", (DomainError,), {"code": "bid_outside_window"}), "x")
    assert explain("zh", late)[1] == "报价截止于 2026-12-06 18:00:00（北京时间）"
    blue = _instance(type("Short", (DomainError,), {"code": "insufficient_balance"}), "x")
    blue.details["instrument"] = "BC"
    assert explain("en", blue)[1] == "only 100.000 tCO2e available"


def test_a_template_whose_evidence_is_missing_leaves_the_sentence_alone() -> None:
    bare = CapExceeded("cap", cap=1, allocated=0, requested=2)  # no "available"
    assert explain("zh", bare) == ("超出总量控制", None)
    assert translate("zh", "err.cap_exceeded") == "超出总量控制"


def test_the_certificate_checkers_problems_read_in_chinese_with_display_units() -> None:
    cert = _certificate()
    loan = dict(cert.pledge["loan"], principal_fen=99_900_000)
    edited = verify_certificate(replace(cert, pledge={**cert.pledge, "loan": loan}), REGISTRY.public)
    (problem,) = edited.problems
    assert problem_text("zh", problem) == "证书显示 999,000.00 元，签名记录为 8,000.00 元"
    assert "the certificate shows 999,000.00 CNY" in problem_text("en", problem)
    other = verify_certificate(cert, SigningKey.from_seed(b"x" * 32).public)
    texts = [problem_text("zh", p) for p in other.problems]
    assert texts == [
        "证书所列登记中心公钥与本登记中心的公钥不同",
        "检查点不是由登记中心密钥签名的",
        "记录没有登记中心的签章",
    ]
    quantity = verify_certificate(cert, REGISTRY.public, expected_quantity_kg=700)
    assert [problem_text("zh", p) for p in quantity.problems] == ["记录抵押 0.600 t/a，而非 0.700 t/a"]
    assert all(p.code != "other" for p in [*edited.problems, *other.problems, *quantity.problems])
