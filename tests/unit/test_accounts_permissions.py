"""The permission table, rule by rule, and targets resolved from the registry's records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest

from accounts.errors import PermissionDenied
from accounts.model import Participant, Role
from accounts.permissions import RULES, Action, Target, authorize, target_of
from ledger.crypto import SigningKey
from ledger.errors import DomainError
from ledger.model import HoldPlace, HoldSettle, Lot, Posting, RegisterKey, Signature, TxBody
from ledger.timeutil import utc_now

YUYAO_BUREAU = Participant("bureau:330281", Role.BUREAU, "余姚", jurisdiction="330281")
NINGBO_BUREAU = Participant("bureau:330200", Role.BUREAU, "宁波", jurisdiction="330200")
ZHOUSHAN_BUREAU = Participant("bureau:330900", Role.BUREAU, "舟山", jurisdiction="330900")
PROVINCE_BUREAU = Participant("bureau:330000", Role.BUREAU, "浙江", jurisdiction="330000")
ENT_A = Participant("ent:a", Role.ENTERPRISE, "A", jurisdiction="330281")
ENT_B = Participant("ent:b", Role.ENTERPRISE, "B", jurisdiction="330281")
ENT_NB = Participant("ent:nb", Role.ENTERPRISE, "NB", jurisdiction="330200")
ENT_ZS = Participant("ent:zs", Role.ENTERPRISE, "ZS", jurisdiction="330900")
BANK_X = Participant("bank:x", Role.BANK, "X", jurisdiction="330200")
BANK_Y = Participant("bank:y", Role.BANK, "Y")
AUDITOR = Participant("auditor:au", Role.AUDITOR, "AU")
OPERATOR = Participant("operator:op", Role.OPERATOR, "OP")
EVERYONE = [
    YUYAO_BUREAU,
    NINGBO_BUREAU,
    ZHOUSHAN_BUREAU,
    PROVINCE_BUREAU,
    ENT_A,
    ENT_B,
    ENT_NB,
    ENT_ZS,
    BANK_X,
    BANK_Y,
    AUDITOR,
    OPERATOR,
]
YUYAO_COD = Lot(jurisdiction="330281", valid_until=date(2030, 12, 31))
ZHOUSHAN_COD = Lot(jurisdiction="330900", valid_until=date(2030, 12, 31))


@dataclass
class FakeDirectory:
    """Accounts are ``<party>.<purpose>``; a hold ``p1`` on ent:a's holding controlled by bank:x."""

    holds: dict[str, tuple[str, str]] = field(default_factory=lambda: {"p1": ("ent:a.holding", "bank:x")})

    def owner_of(self, account: str) -> str | None:
        owner, _, purpose = account.rpartition(".")
        known = purpose in {"holding", "cash", "cap", "reserve", "escrow"}
        return owner if known and owner in {p.party for p in EVERYONE} else None

    def jurisdiction_of(self, party: str) -> str | None:
        return {p.party: p.jurisdiction for p in EVERYONE}.get(party)

    def hold_of(self, hold: str) -> tuple[str, str] | None:
        return self.holds.get(hold)


def _sig(party: str) -> Signature:
    return Signature(party, "k", bytes(64))


def _target(body: TxBody | RegisterKey, *signers: str) -> Target:
    return target_of(body, [_sig(p) for p in signers], FakeDirectory())


def _move(src: str, dst: str, lot: Lot = YUYAO_COD, amount: int = 100) -> TxBody:
    return TxBody("transfer", "n", (Posting(src, "COD", lot, -amount), Posting(dst, "COD", lot, amount)))


def _refused(actor: Participant, action: Action, target: Target) -> PermissionDenied:
    with pytest.raises(PermissionDenied) as err:
        authorize(actor, action, target)
    return err.value


def test_the_table_has_a_rule_for_every_role_and_action() -> None:
    assert set(RULES) == {(role, action) for role in Role for action in Action}
    assert all(rules is not None for rules in RULES.values())


def test_an_auditor_reads_everything_and_every_write_is_refused_by_name() -> None:
    for action in Action:
        if action.writes:
            assert [r.name for r in RULES[(Role.AUDITOR, action)]] == ["auditor_writes_nothing"]
        else:
            assert RULES[(Role.AUDITOR, action)] == ()


def test_only_auditors_and_the_operator_read_the_whole_journal() -> None:
    for actor in EVERYONE:
        if actor.role in (Role.AUDITOR, Role.OPERATOR):
            authorize(actor, Action.READ_JOURNAL, Target())
        else:
            assert _refused(actor, Action.READ_JOURNAL, Target()).rule == "journal_readers_only"


def test_a_refusal_is_a_domain_error_with_a_stable_code_naming_rule_actor_and_action() -> None:
    err = _refused(ENT_B, Action.TRANSFER_UNITS, _target(_move("ent:a.holding", "ent:b.holding"), "ent:b"))
    assert isinstance(err, DomainError)
    assert err.to_dict()["code"] == "permission_denied"
    assert err.details == {"rule": "own_units_only", "action": "transfer_units", "actor": "ent:b"}
    assert "own_units_only" in err.message
    assert "ent:a" not in err.message  # the refusal does not reveal whose account it was


def test_an_action_a_role_is_not_granted_is_refused_by_the_default_rule() -> None:
    target = _target(_move("bureau:330281.cap", "ent:a.holding"), "ent:a")
    assert _refused(ENT_A, Action.ISSUE_RIGHTS, target).rule == "action_not_granted_to_role"
    assert _refused(BANK_X, Action.OPEN_AUCTION, target).rule == "action_not_granted_to_role"
    assert _refused(OPERATOR, Action.TRANSFER_UNITS, target).rule == "action_not_granted_to_role"


def test_a_bureau_issues_only_from_its_own_cap_and_its_own_lots() -> None:
    own = _target(_move("bureau:330281.cap", "ent:a.holding"), "bureau:330281")
    authorize(YUYAO_BUREAU, Action.ISSUE_RIGHTS, own)
    assert _refused(NINGBO_BUREAU, Action.ISSUE_RIGHTS, own).rule == "bureau_own_jurisdiction"
    # Writes do not cascade: the province does not issue in Yuyao's name.
    assert _refused(PROVINCE_BUREAU, Action.ISSUE_RIGHTS, own).rule == "bureau_own_jurisdiction"
    # Ningbo's own cap, but units of Yuyao's total quantity control.
    foreign_lot = _target(_move("bureau:330200.cap", "ent:nb.holding"), "bureau:330200")
    assert _refused(NINGBO_BUREAU, Action.ISSUE_RIGHTS, foreign_lot).rule == "bureau_own_jurisdiction"


def test_a_bureau_buys_back_only_from_enterprises_of_its_jurisdiction() -> None:
    body = TxBody(
        "buy_back",
        "n",
        (
            Posting("ent:a.holding", "COD", YUYAO_COD, -50),
            Posting("bureau:330281.reserve", "COD", YUYAO_COD, 50),
            Posting("bureau:330281.cash", "CNY", Lot(), -1000),
            Posting("ent:a.cash", "CNY", Lot(), 1000),
        ),
    )
    target = _target(body, "bureau:330281", "ent:a")
    assert target.owners == {"ent:a", "bureau:330281"}
    authorize(YUYAO_BUREAU, Action.BUY_BACK_RESERVE, target)
    assert _refused(ZHOUSHAN_BUREAU, Action.BUY_BACK_RESERVE, target).rule == "bureau_own_jurisdiction"


def test_a_bureau_debiting_an_account_without_jurisdiction_is_refused() -> None:
    body = _move("operator:op.escrow", "bureau:330281.holding")
    assert _refused(YUYAO_BUREAU, Action.TRANSFER_UNITS, _target(body)).rule == "own_units_only"
    target = _target(body)
    assert target.placeless == {"operator:op"}
    assert _refused(YUYAO_BUREAU, Action.OPEN_AUCTION, target).rule == "bureau_own_jurisdiction"


def test_a_cross_city_transfer_is_approved_only_by_a_bureau_of_either_side() -> None:
    target = _target(_move("ent:zs.holding", "ent:nb.holding", ZHOUSHAN_COD), "ent:zs", "bureau:330900")
    assert target.jurisdictions == {"330900"}
    assert target.destinations == {"330200"}
    authorize(ZHOUSHAN_BUREAU, Action.APPROVE_CROSS_CITY, target)
    authorize(NINGBO_BUREAU, Action.APPROVE_CROSS_CITY, target)
    assert _refused(YUYAO_BUREAU, Action.APPROVE_CROSS_CITY, target).rule == "bureau_party_to_cross_city"
    assert _refused(PROVINCE_BUREAU, Action.APPROVE_CROSS_CITY, target).rule == "bureau_party_to_cross_city"


@pytest.mark.parametrize("action", [Action.TRANSFER_UNITS, Action.RETIRE_UNITS, Action.BID])
def test_an_enterprise_moves_only_its_own_units(action: Action) -> None:
    authorize(ENT_A, action, _target(_move("ent:a.holding", "ent:b.holding"), "ent:a"))
    other = _target(_move("ent:a.holding", "ent:b.holding"), "ent:a", "ent:b")
    assert _refused(ENT_B, action, other).rule == "own_units_only"
    mixed = TxBody(
        "transfer",
        "n",
        (
            Posting("ent:a.holding", "COD", YUYAO_COD, -1),
            Posting("ent:b.holding", "COD", YUYAO_COD, -1),
            Posting("ent:nb.holding", "COD", YUYAO_COD, 2),
        ),
    )
    assert _refused(ENT_B, action, _target(mixed, "ent:b")).rule == "own_units_only"


def test_an_unknown_account_cannot_be_shown_to_be_yours() -> None:
    target = _target(_move("ent:a.nonexistent", "ent:a.holding"), "ent:a")
    assert target.unresolved == {"ent:a.nonexistent"}
    assert _refused(ENT_A, Action.TRANSFER_UNITS, target).rule == "own_units_only"


def _pledge(controller: str = "bank:x") -> TxBody:
    return TxBody(
        "pledge",
        "n",
        holds=(HoldPlace("p9", "ent:a.holding", "COD", YUYAO_COD, 40, "pledge", controller),),
    )


def test_a_bank_registers_a_pledge_only_with_the_owners_signed_consent() -> None:
    authorize(BANK_X, Action.REGISTER_PLEDGE, _target(_pledge(), "bank:x", "ent:a"))
    without = _target(_pledge(), "bank:x")
    assert _refused(BANK_X, Action.REGISTER_PLEDGE, without).rule == "pledge_needs_owner_consent"


def test_a_bank_registers_a_pledge_only_under_its_own_control() -> None:
    target = _target(_pledge(controller="bank:y"), "bank:x", "ent:a")
    assert _refused(BANK_X, Action.REGISTER_PLEDGE, target).rule == "pledge_under_own_control"


def test_a_bureau_registers_a_pledge_in_its_jurisdiction_with_the_owners_consent() -> None:
    authorize(YUYAO_BUREAU, Action.REGISTER_PLEDGE, _target(_pledge(), "bureau:330281", "ent:a"))
    assert (
        _refused(YUYAO_BUREAU, Action.REGISTER_PLEDGE, _target(_pledge(), "bureau:330281")).rule
        == "pledge_needs_owner_consent"
    )
    assert (
        _refused(NINGBO_BUREAU, Action.REGISTER_PLEDGE, _target(_pledge(), "ent:a")).rule
        == "bureau_own_jurisdiction"
    )


@pytest.mark.parametrize("action", [Action.RELEASE_PLEDGE, Action.ENFORCE_PLEDGE])
def test_only_the_controlling_bank_releases_or_enforces_a_pledge(action: Action) -> None:
    release = TxBody("pledge.release", "n", holds=(HoldSettle("release", "p1", 40),))
    authorize(BANK_X, action, _target(release, "bank:x"))
    assert _refused(BANK_Y, action, _target(release, "bank:y")).rule == "pledge_controller_only"
    unknown = TxBody("pledge.release", "n", holds=(HoldSettle("release", "p-unknown", 40),))
    assert _refused(BANK_X, action, _target(unknown, "bank:x")).rule == "pledge_controller_only"


def test_a_participant_manages_only_its_own_keys_and_the_operator_any() -> None:
    key = SigningKey.from_seed(bytes(32))
    body = RegisterKey("ent:a", key.key_id, key.public, utc_now(), "n")
    authorize(ENT_A, Action.REGISTER_KEY, _target(body, "ent:a"))
    authorize(OPERATOR, Action.REGISTER_KEY, _target(body))
    assert _refused(ENT_B, Action.REGISTER_KEY, _target(body, "ent:b")).rule == "own_keys_only"
    assert _refused(AUDITOR, Action.REGISTER_KEY, _target(body)).rule == "auditor_writes_nothing"


def _account(owner: Participant) -> Target:
    return Target(
        owners=frozenset({owner.party}),
        jurisdictions=frozenset({owner.jurisdiction}) if owner.jurisdiction else frozenset(),
    )


@pytest.mark.parametrize("owner", EVERYONE, ids=lambda p: p.party)
@pytest.mark.parametrize("reader", EVERYONE, ids=lambda p: p.party)
def test_an_account_is_visible_only_to_its_owner_auditors_operator_and_bureaus_above_it(
    reader: Participant, owner: Participant
) -> None:
    bureau_over = (
        reader.role is Role.BUREAU
        and owner.jurisdiction is not None
        and (owner.jurisdiction == reader.jurisdiction or reader.jurisdiction in _above(owner.jurisdiction))
    )
    allowed = reader == owner or reader.role in (Role.AUDITOR, Role.OPERATOR) or bureau_over
    if allowed:
        authorize(reader, Action.READ_ACCOUNT, _account(owner))
    else:
        assert _refused(reader, Action.READ_ACCOUNT, _account(owner)).rule == "account_visibility"


def _above(code: str) -> set[str]:
    return {"330281": {"330200", "330000"}, "330200": {"330000"}, "330900": {"330000"}}.get(code, set())
