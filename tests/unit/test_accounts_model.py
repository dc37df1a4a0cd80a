"""Participant specs validate on construction; each role gets its ledger accounts."""

from __future__ import annotations

import pytest

from accounts.demo import DEMO_SPECS
from accounts.errors import InvalidCreditCode, InvalidPermitNumber, UnknownDivision
from accounts.model import (
    CAPPED_INSTRUMENTS,
    AuditorSpec,
    BankSpec,
    BureauSpec,
    CooperativeSpec,
    EnterpriseSpec,
    OperatorSpec,
    Role,
    account_plan,
)
from ledger.errors import InvalidInput
from ledger.model import AccountKind, check_id

ALIBABA = "91330100716105852F"


def test_each_role_has_its_party_id_form() -> None:
    assert BureauSpec("330281", "余姚分局").participant().party == "bureau:330281"
    assert EnterpriseSpec(ALIBABA, "A", "330100").participant().party == f"ent:{ALIBABA}"
    assert BankSpec(ALIBABA, "B", "杭州分行").participant().party == f"bank:{ALIBABA}"
    assert AuditorSpec("zj-audit", "C").participant().party == "auditor:zj-audit"
    assert CooperativeSpec("D", "330922", slug="shengsi-mussel").participant().party == "coop:shengsi-mussel"
    assert CooperativeSpec("D", "330922", credit_code=ALIBABA).participant().party == f"coop:{ALIBABA}"
    assert OperatorSpec("zj-registry", "E").participant().party == "operator:zj-registry"


def test_an_enterprise_profile_carries_what_the_journal_must_show() -> None:
    spec = EnterpriseSpec(ALIBABA, "阿里巴巴（中国）网络技术有限公司", "330100", ALIBABA + "001P")
    assert spec.participant().profile() == {
        "name": "阿里巴巴（中国）网络技术有限公司",
        "jurisdiction": "330100",
        "credit_code": ALIBABA,
        "permit_number": ALIBABA + "001P",
    }


def test_an_enterprise_with_a_corrupted_credit_code_is_refused() -> None:
    with pytest.raises(InvalidCreditCode):
        EnterpriseSpec("91330100716105852E", "A", "330100")


def test_an_enterprise_outside_the_served_divisions_is_refused() -> None:
    with pytest.raises(UnknownDivision):
        EnterpriseSpec(ALIBABA, "A", "110000")


def test_an_enterprise_with_another_holders_permit_is_refused() -> None:
    with pytest.raises(InvalidPermitNumber):
        EnterpriseSpec(ALIBABA, "A", "330100", "91130200699229617X001P")


def test_a_bureau_for_an_unknown_division_is_refused() -> None:
    with pytest.raises(UnknownDivision) as err:
        BureauSpec("330282", "慈溪")
    assert err.value.field == "division"


@pytest.mark.parametrize("name", ["", " 余姚", "余姚 ", "x" * 201])
def test_a_blank_padded_or_overlong_name_is_refused(name: str) -> None:
    with pytest.raises(InvalidInput):
        AuditorSpec("zj-audit", name)


def test_a_cooperative_needs_exactly_one_of_credit_code_and_slug() -> None:
    with pytest.raises(InvalidInput):
        CooperativeSpec("D", "330922")
    with pytest.raises(InvalidInput):
        CooperativeSpec("D", "330922", credit_code=ALIBABA, slug="x")


def _kinds(spec: object) -> dict[AccountKind, int]:
    counts: dict[AccountKind, int] = {}
    for ref in account_plan(spec.participant()):  # type: ignore[attr-defined]
        counts[ref.kind] = counts.get(ref.kind, 0) + 1
    return counts


def test_a_bureau_gets_reserve_caps_per_instrument_retirement_escrow_cash_and_holding() -> None:
    plan = account_plan(BureauSpec("330281", "余姚分局").participant())
    ids = {ref.account: ref.kind for ref in plan}
    assert ids["bureau:330281.reserve"] is AccountKind.RESERVE
    assert ids["bureau:330281.cap.COD"] is AccountKind.ISSUANCE
    assert ids["bureau:330281.cap.BC"] is AccountKind.ISSUANCE
    assert ids["bureau:330281.retirement"] is AccountKind.RETIREMENT
    assert ids["bureau:330281.escrow"] is AccountKind.ESCROW
    assert ids["bureau:330281.cash"] is AccountKind.CASH
    assert ids["bureau:330281.holding"] is AccountKind.HOLDING
    assert set(CAPPED_INSTRUMENTS) == {"COD", "NH3-N", "SO2", "NOX", "TN", "TP", "VOCS", "BC", "BBC"}
    assert _kinds(BureauSpec("330281", "x"))[AccountKind.ISSUANCE] == len(CAPPED_INSTRUMENTS)


def test_other_roles_get_only_the_accounts_their_work_needs() -> None:
    assert _kinds(EnterpriseSpec(ALIBABA, "A", "330100")) == {
        AccountKind.HOLDING: 1,
        AccountKind.RETIREMENT: 1,
        AccountKind.CASH: 1,
    }
    assert _kinds(BankSpec(ALIBABA, "B", "b")) == {AccountKind.HOLDING: 1, AccountKind.CASH: 1}
    assert _kinds(OperatorSpec("op", "E")) == {AccountKind.SETTLEMENT: 1, AccountKind.ESCROW: 1}
    assert _kinds(AuditorSpec("zj-audit", "C")) == {}


def test_every_planned_account_id_is_a_valid_ledger_id_owned_by_nobody_else() -> None:
    seen: set[str] = set()
    for spec in DEMO_SPECS.values():
        for ref in account_plan(spec.participant()):
            assert check_id(ref.account, field="account") == ref.account
            assert ref.account.startswith(spec.participant().party + ".")
            assert ref.account not in seen
            seen.add(ref.account)


def test_the_demo_covers_every_role_with_distinct_parties() -> None:
    parties = [spec.participant().party for spec in DEMO_SPECS.values()]
    assert len(set(parties)) == len(parties)
    assert {spec.role for spec in DEMO_SPECS.values()} == set(Role)
