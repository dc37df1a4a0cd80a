"""Credit codes against published examples and their corruptions; division codes; ids."""

from __future__ import annotations

import pytest

from accounts.errors import InvalidCreditCode, InvalidPermitNumber, UnknownDivision
from accounts.identifiers import (
    CREDIT_CODE_ALPHABET,
    DIVISIONS,
    PROVINCE,
    account_id,
    ancestors,
    check_credit_code,
    check_permit_number,
    check_slug,
    complete_credit_code,
    covers,
    credit_code_check_char,
    division,
    organization_code_check_char,
    parent,
)
from ledger.errors import InvalidInput

# Real, published credit codes. Each was checked against the algorithm before being relied on.
PUBLISHED = {
    # Alibaba (China) Co., Ltd. (阿里巴巴（中国）网络技术有限公司), Hangzhou; the enterprise credit
    # record reproduced in several public GitHub pages lists it with registration no. 330100400015575.
    "91330100716105852F": "Alibaba (China) Co., Ltd.",
    # 宁波安联检测有限公司 and 嘉兴安联检测技术服务有限公司: GitHub maomaolulu/sys-java,
    # src/main/java/may/yuntian/external/wanda/constant/OrganizeInfoConstants.java
    "91330201MA282UF146": "Ningbo Anlian Testing Co., Ltd.",
    "91330401MA28ADM67R": "Jiaxing Anlian Testing Technical Service Co., Ltd.",
    # 浙江嘉化能源化工股份有限公司 (SH600273), registered at province level (division 330000);
    # quoted in a public green-credit report data file found by code search.
    "913300007463411432": "Zhejiang Jiahua Energy Chemical Co., Ltd.",
    # 河钢股份有限公司唐山分公司: the worked example of HJ 608-2017 (排污许可证编码), annex A,
    # https://m.qiqiwenku.com/pdf/380005.html ; its permit code is 91130200699229617X001P.
    "91130200699229617X": "HBIS Co., Ltd. Tangshan Branch",
    # Positive examples of the Hutool library's tests: GitHub dromara/hutool,
    # hutool-core/src/test/java/cn/hutool/core/util/CreditCodeUtilTest.java
    "91310115591693856A": "Hutool test example (Shanghai Pudong)",
    "91310110666007217T": "Hutool test example (Shanghai Yangpu)",
}

# Hutool's same test: an early Xiamen pilot code that predates the national standard and fails
# its check. The registry refuses it, as the national standard does.
PRE_STANDARD_PILOT_CODE = "91350211M00013FA1N"


@pytest.mark.parametrize("code", sorted(PUBLISHED))
def test_published_credit_codes_pass_both_check_characters(code: str) -> None:
    parsed = check_credit_code(code)
    assert parsed.value == code
    assert credit_code_check_char(code[:17]) == code[17]
    assert organization_code_check_char(code[8:16]) == code[16]


def test_credit_code_parts_are_named() -> None:
    code = check_credit_code("91330100716105852F")
    assert (code.registration_authority, code.organization_type) == ("9", "1")
    assert code.division == "330100"
    assert code.organization_code == "716105852"
    assert str(code) == "91330100716105852F"


@pytest.mark.parametrize("code", sorted(PUBLISHED))
def test_every_single_character_substitution_is_refused(code: str) -> None:
    # MOD 31 with weights 3**i: any one changed character changes the sum by a non-multiple of 31.
    for pos in range(18):
        for ch in CREDIT_CODE_ALPHABET:
            if ch == code[pos]:
                continue
            corrupted = code[:pos] + ch + code[pos + 1 :]
            with pytest.raises(InvalidCreditCode):
                check_credit_code(corrupted)


@pytest.mark.parametrize("code", sorted(PUBLISHED))
def test_every_adjacent_transposition_is_refused(code: str) -> None:
    swaps = 0
    for pos in range(17):
        if code[pos] == code[pos + 1]:
            continue
        swapped = code[:pos] + code[pos + 1] + code[pos] + code[pos + 2 :]
        with pytest.raises(InvalidCreditCode):
            check_credit_code(swapped)
        swaps += 1
    assert swaps >= 10


def test_a_wrong_check_character_names_the_expected_one() -> None:
    with pytest.raises(InvalidCreditCode) as err:
        check_credit_code("91330100716105852G")
    assert err.value.details["reason"] == "check_character"
    assert "'G'" in err.value.message
    assert "'F'" in err.value.message
    assert err.value.field == "credit_code"


def test_a_transposition_in_the_organization_code_is_refused_with_the_check_reason() -> None:
    with pytest.raises(InvalidCreditCode) as err:
        check_credit_code("91330100761105852F")  # 71 -> 17 at positions 9-10
    assert err.value.details["reason"] == "check_character"


def test_an_organization_code_failing_gb_11714_is_refused_even_when_the_last_character_agrees() -> None:
    code = "91330100716105852F"
    bad_org = code[:16] + "3"  # 716105853: wrong organization check character
    forged = bad_org + credit_code_check_char(bad_org)  # ...but a recomputed 18th character
    with pytest.raises(InvalidCreditCode) as err:
        check_credit_code(forged)
    assert err.value.details["reason"] == "organization_check_character"
    assert "716105853" in err.value.message


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V"])
def test_the_letters_gb_32100_excludes_are_refused_by_name(letter: str) -> None:
    code = "91330100716105852F"
    corrupted = code[:10] + letter + code[11:]
    with pytest.raises(InvalidCreditCode) as err:
        check_credit_code(corrupted)
    assert err.value.details["reason"] == "forbidden_letter"
    assert f"{letter!r} at position 11" in err.value.message


@pytest.mark.parametrize("code", ["91330100716105852", "91330100716105852FF", "", "9133"])
def test_a_code_of_the_wrong_length_is_refused(code: str) -> None:
    with pytest.raises(InvalidCreditCode) as err:
        check_credit_code(code)
    assert err.value.details["reason"] == "length"
    assert f"got {len(code)}" in err.value.message


@pytest.mark.parametrize("code", ["91330100716105852f", "91330201ma282uf146", "91330201MA282uF146"])
def test_lower_case_is_refused_not_repaired(code: str) -> None:
    with pytest.raises(InvalidCreditCode) as err:
        check_credit_code(code)
    assert err.value.details["reason"] == "lowercase"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91330100 16105852F", "character"),
        ("91330100716105852-", "character"),
        ("９1330100716105852F", "character"),  # a full-width digit
        ("91A30100716105852F", "division"),
    ],
)
def test_other_malformed_codes_are_refused_with_their_reason(code: str, reason: str) -> None:
    with pytest.raises(InvalidCreditCode) as err:
        check_credit_code(code)
    assert err.value.details["reason"] == reason


def test_a_code_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(InvalidCreditCode):
        check_credit_code(91330100716105852)


def test_a_pre_standard_pilot_code_is_refused() -> None:
    with pytest.raises(InvalidCreditCode) as err:
        check_credit_code(PRE_STANDARD_PILOT_CODE)
    assert err.value.details["reason"] == "check_character"


@pytest.mark.parametrize("code", sorted(PUBLISHED))
def test_completing_a_published_code_from_its_parts_reproduces_it(code: str) -> None:
    assert complete_credit_code(code[:2], code[2:8], code[8:16]) == code


def test_completing_a_code_refuses_parts_outside_the_alphabet() -> None:
    with pytest.raises(InvalidCreditCode):
        complete_credit_code("91", "330281", "EXAMPLEO")
    with pytest.raises(InvalidCreditCode):
        complete_credit_code("9", "330281", "EXAMPLE1")


def test_the_hj_608_permit_number_example_is_accepted_for_its_own_holder() -> None:
    assert (
        check_permit_number("91130200699229617X001P", credit_code="91130200699229617X")
        == "91130200699229617X001P"
    )


@pytest.mark.parametrize(
    ("permit", "needle"),
    [
        ("91330100716105852F001P", "own credit code"),  # another holder's code
        ("91130200699229617X01P", "22 characters"),
        ("91130200699229617XA01P", "3-digit site number"),
        ("91130200699229617X001p", "capital letter"),
    ],
)
def test_a_malformed_permit_number_is_refused(permit: str, needle: str) -> None:
    with pytest.raises(InvalidPermitNumber) as err:
        check_permit_number(permit, credit_code="91130200699229617X")
    assert needle in err.value.message


@pytest.mark.parametrize(
    ("code", "chain"),
    [
        ("330281", ["330200", "330000"]),  # Yuyao -> Ningbo -> Zhejiang
        ("330225", ["330200", "330000"]),  # Xiangshan
        ("330922", ["330900", "330000"]),  # Shengsi -> Zhoushan
        ("330782", ["330700", "330000"]),  # Yiwu -> Jinhua
        ("330723", ["330700", "330000"]),  # Wuyi
        ("330784", ["330700", "330000"]),  # Yongkang
        ("330300", ["330000"]),
        ("330000", []),
    ],
)
def test_divisions_climb_county_to_city_to_province(code: str, chain: list[str]) -> None:
    assert ancestors(code) == chain
    assert parent(code) == (chain[0] if chain else None)


def test_every_division_in_the_table_has_its_parent_in_the_table() -> None:
    for code in DIVISIONS:
        up = parent(code)
        assert up is None or up in DIVISIONS
    assert parent(PROVINCE) is None
    assert {d.level for d in DIVISIONS.values()} == {"province", "city", "county"}


def test_a_city_covers_its_counties_but_not_its_neighbours_or_its_parent() -> None:
    assert covers("330200", "330281")
    assert covers("330000", "330281")
    assert covers("330281", "330281")
    assert not covers("330281", "330200")
    assert not covers("330900", "330281")
    assert not covers("330300", "330200")


@pytest.mark.parametrize("code", ["330282", "110000", "33028", "3302811", "abcdef", None, 330281])
def test_a_division_outside_the_table_or_malformed_is_refused(code: object) -> None:
    with pytest.raises(UnknownDivision) as err:
        division(code)
    assert err.value.field == "jurisdiction"


def test_division_names_are_kept_in_both_languages() -> None:
    yuyao = division("330281")
    assert (yuyao.name, yuyao.name_zh, yuyao.level) == ("Yuyao", "余姚市", "county")


@pytest.mark.parametrize(
    ("party", "purpose", "instrument", "expected"),
    [
        ("bureau:330281", "reserve", None, "bureau:330281.reserve"),
        ("bureau:330281", "cap", "NH3-N", "bureau:330281.cap.NH3-N"),
        ("ent:91330201MA282UF146", "holding", None, "ent:91330201MA282UF146.holding"),
    ],
)
def test_account_ids_fit_the_ledger_id_rules(
    party: str, purpose: str, instrument: str | None, expected: str
) -> None:
    assert account_id(party, purpose, instrument) == expected


def test_an_account_id_with_a_slash_is_refused_by_the_ledger_rule() -> None:
    with pytest.raises(InvalidInput):
        account_id("bureau:330281", "cap/COD")


@pytest.mark.parametrize("slug", ["", "-audit", "audit-", "Audit", "a_b", "a" * 49, "审计"])
def test_a_bad_slug_is_refused(slug: str) -> None:
    with pytest.raises(InvalidInput):
        check_slug(slug)


def test_a_good_slug_is_kept() -> None:
    assert check_slug("zj-audit-1") == "zj-audit-1"
