"""Blue-carbon proceeds shared with the farming households, on both engines: a roster the bureau
confirms, the sink attributed at issuance, a sale split in its own record; forged records that leave
a member out or shortchange one are refused live and fail replay at their record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from accounts.demo import DemoParticipant, register_demo
from api.cli import main
from ledger.bundle import write_bundle
from ledger.crypto import b64e
from ledger.errors import InvalidHouseholdRecord, MissingSignature
from ledger.households import ROSTER_ACTION
from ledger.journal import parse_line, seal
from ledger.model import AccountKind, Lot, OpenAccount, Posting, TxBody
from ledger.replay import replay_lines
from ledger.service import (
    Instruction,
    Registry,
    balances,
    find_attribution,
    find_roster,
    head_size,
    init_ledger,
    journal_lines,
    new_nonce,
    replay_database,
    sign_body,
    submit,
)
from market.bluecarbon.service import (
    ProjectSpec,
    issue_credits,
    register_project,
    submit_report,
    transfer_credits,
)
from market.consent import Consent
from market.households.model import MemberEntry, id_card_with_check
from market.households.service import confirm_roster, member_account, register_roster, sell_credits

Demo = dict[str, DemoParticipant]
PROJECT = "SS-MUSSEL-01"
START, END = date(2023, 1, 1), date(2023, 12, 31)
AREAS = ("12.5", "30", "7.25", "50", "0.25")  # mu


@dataclass
class Coop:
    engine: Engine
    registry: Registry
    demo: Demo

    @property
    def keys(self) -> dict[str, Any]:
        return {d.party: d.key for d in self.demo.values()}

    def p(self, alias: str) -> Any:
        return self.demo[alias].participant

    def run(self, fn: Any, **kwargs: Any) -> Any:
        with Session(self.engine) as s:
            out = fn(s, **kwargs)
            s.commit()
        return out

    def lines(self) -> list[bytes]:
        with Session(self.engine) as s:
            return list(journal_lines(s))

    def forged(self, body: TxBody, *aliases: str) -> tuple[int, list[bytes]]:
        """The journal plus ``body`` signed by ``aliases`` and sealed with the registry's own key."""
        lines = self.lines()
        last = parse_line(lines[-1])
        sigs = [sign_body(body, self.demo[a].party, self.demo[a].key) for a in aliases]
        record = seal(
            seq=last.seq + 1,
            prev=last.hash,
            time=last.time + timedelta(seconds=1),
            body=body.to_json(),
            sigs=sigs,
            registry=self.registry.key,
        )
        return record.seq, [*lines, record.line()]

    def record(self, seq: int) -> dict[str, Any]:
        return json.loads(self.lines()[seq])["record"]["body"]  # type: ignore[no-any-return]


def members(harvests: tuple[int, ...] | None = None) -> list[MemberEntry]:
    return [
        MemberEntry(
            member=f"SS{i + 1:04d}",
            name=f"贻贝户{i + 1}",
            id_card=id_card_with_check(f"33092219800101{i + 1:03d}"),
            area_mu=Decimal(area),
            rafts=10 + i,
            longlines=i,
            harvest_kg=None if harvests is None else harvests[i],
        )
        for i, area in enumerate(AREAS)
    ]


@pytest.fixture
def coop(engine: Engine, registry: Registry) -> Coop:
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="ecoledger households test")
        demo = register_demo(s, registry=registry)
        spec = ProjectSpec(
            project=PROJECT,
            name="嵊泗贻贝养殖碳汇项目（示例）",
            location="嵊泗列岛",
            area_mu=Decimal("100.00"),
            households=5,
        )
        register_project(s, actor=demo["shengsi_coop"].participant, spec=spec)
        s.commit()
    return Coop(engine, registry, demo)


def confirmed(c: Coop, *, fee_bp: int = 500, harvests: tuple[int, ...] | None = None) -> str:
    row = c.run(
        register_roster,
        actor=c.p("shengsi_coop"),
        signed_by=Consent(c.keys),
        project=PROJECT,
        period_start=START,
        period_end=END,
        fee_bp=fee_bp,
        members=members(harvests),
    )
    c.run(
        confirm_roster,
        registry=c.registry,
        actor=c.p("zhoushan"),
        signed_by=Consent(c.keys),
        roster=row.roster,
    )
    return str(row.roster)


def issued(c: Coop, harvest_kg: int = 110_000) -> Any:
    data = {
        "project_id": PROJECT,
        "monitoring_start": START.isoformat(),
        "monitoring_end": END.isoformat(),
        "farm_area_mu": "100",
        "harvested_wet_kg": str(harvest_kg),
        "species": "Mytilus coruscus",
    }
    report = c.run(submit_report, actor=c.p("shengsi_coop"), project=PROJECT, data=data)
    return c.run(
        issue_credits, registry=c.registry, actor=c.p("zhoushan"), signed_by=Consent(c.keys), report=report.id
    )


def fund(c: Coop, alias: str, fen: int) -> None:
    body = TxBody(
        "cash.deposit",
        new_nonce(),
        (
            Posting("operator:zj-registry.settlement", "CNY", Lot(), -fen),
            Posting(f"{c.demo[alias].party}.cash", "CNY", Lot(), fen),
        ),
    )
    with Session(c.engine) as s:
        submit(
            s, Instruction.signed(body, ("operator:zj-registry", c.demo["operator"].key)), registry=c.registry
        )
        s.commit()


def cny(c: Coop) -> dict[str, int]:
    with Session(c.engine) as s:
        return {b.account: b.total for b in balances(s) if b.instrument == "CNY"}


def sold(c: Coop, tonnes: int = 20, price_fen_per_t: int = 10_000) -> Any:
    fund(c, "zhoushan_ship", 10_000_000)
    return c.run(
        sell_credits,
        registry=c.registry,
        actor=c.p("shengsi_coop"),
        signed_by=Consent(c.keys),
        batch=f"{PROJECT}-2023-1",
        tonnes=tonnes,
        price_fen_per_t=price_fen_per_t,
        buyer=c.demo["zhoushan_ship"].party,
    )


def test_the_bureau_confirms_a_roster_and_the_issuance_attributes_the_sink_to_every_member_by_area(
    coop: Coop,
) -> None:
    roster = confirmed(coop)
    issuance = issued(coop)
    body = coop.record(issuance.receipt.seq)
    attribution = body["meta"]["attribution"]
    sink = body["meta"]["sink_kg_co2e"]
    kgs = [s["kg_co2e"] for s in attribution["shares"]]
    assert (attribution["roster"], attribution["rule"], sum(kgs)) == (roster, "area", sink)
    whole = 10_000  # 100 mu in hundredths
    for kg, area in zip(kgs, AREAS, strict=True):
        exact = Decimal(sink) * Decimal(area) * 100 / whole
        assert abs(kg - exact) < 1
    with Session(coop.engine) as s:
        found = find_roster(s, roster=roster)
        assert found is not None
        assert [m.member for m in found.members] == [f"SS{i:04d}" for i in range(1, 6)]
        assert find_attribution(s, batch=issuance.batch) is not None
    names = json.dumps(coop.lines()[1:], default=str)
    assert "贻贝户1" not in names
    assert "330922198001010" not in names


def test_with_every_members_harvest_weighed_the_sink_is_attributed_by_harvest(coop: Coop) -> None:
    confirmed(coop, harvests=(1, 1, 1, 1, 110_000 - 4))
    issuance = issued(coop)
    attribution = coop.record(issuance.receipt.seq)["meta"]["attribution"]
    assert attribution["rule"] == "harvest"
    sink = attribution["sink_kg_co2e"]
    # Four members weighed 1 kg each: their exact shares are below 1 kg, all with the same remainder;
    # the household with the rest of the harvest has a smaller remainder, so the two kilograms the
    # floors leave go to the equal remainders, ties to the smaller ids: SS0001 and SS0002.
    assert sink * 109_996 // 110_000 == sink - 2
    assert [s["kg_co2e"] for s in attribution["shares"]] == [1, 1, 0, 0, sink - 2]


def test_a_sale_pays_the_buyers_money_to_the_members_less_the_agreed_fee_in_one_record(coop: Coop) -> None:
    confirmed(coop, fee_bp=500)
    issuance = issued(coop)
    before = head_size_of(coop)
    sale = sold(coop, tonnes=20, price_fen_per_t=10_000)  # 20 t at 100 CNY/t: 2,000 CNY
    assert head_size_of(coop) == before + 2  # the deposit, then the sale: one record
    split = sale.distribution
    assert (split["proceeds_fen"], split["fee_fen"], split["members_fen"]) == (200_000, 10_000, 190_000)
    money = cny(coop)
    coop_party = coop.demo["shengsi_coop"].party
    paid = {s["member"]: s["fen"] for s in split["shares"]}
    assert sum(paid.values()) == 190_000
    assert money[f"{coop_party}.cash"] == 10_000
    for member, fen in paid.items():
        assert money.get(member_account(coop_party, member), 0) == fen
    # shares follow the attributed kg (50 mu of 100 was attributed half; 0.25 mu, 110 kg of 44,100)
    kg = {
        s["member"]: s["kg_co2e"] for s in coop.record(issuance.receipt.seq)["meta"]["attribution"]["shares"]
    }
    assert kg["SS0004"] * 2 == sum(kg.values())
    assert paid["SS0004"] == 95_000
    for member, fen in paid.items():
        assert fen in (190_000 * kg[member] // 44_100, 190_000 * kg[member] // 44_100 + 1)
    assert (kg["SS0005"], paid["SS0005"]) == (110, 474)
    with Session(coop.engine) as s:
        report, diff = replay_database(s)
    assert report.ok, report.failure
    assert not diff
    assert issuance.batch == split["batch"]


def head_size_of(c: Coop) -> int:
    with Session(c.engine) as s:
        return head_size(s)


def _sale_body(c: Coop, sale_seq: int, change: Any) -> TxBody:
    """A new sale body like the one at ``sale_seq``, its split changed by ``change(meta, postings)``."""
    body = c.record(sale_seq)
    meta = json.loads(json.dumps(body["meta"]))
    postings = [
        Posting(p["account"], p["instrument"], Lot(**p["lot"]), p["amount"]) for p in body["postings"]
    ]
    meta, postings = change(meta, postings)
    return TxBody("bc.sale", new_nonce(), tuple(postings), signers=tuple(body["signers"]), meta=meta)


def _shortchange(meta: dict[str, Any], postings: list[Posting]) -> tuple[dict[str, Any], list[Posting]]:
    """SS0002 is paid one fen less; the cooperative keeps it."""
    shares = meta["distribution"]["shares"]
    shares[1]["fen"] -= 1
    meta["distribution"]["fee_fen"] += 1
    out = []
    for p in postings:
        if p.account.endswith(".member.SS0002"):
            p = replace(p, amount=p.amount - 1)
        elif p.account.endswith(".cash") and p.amount > 0:
            p = replace(p, amount=p.amount + 1)
        out.append(p)
    return meta, out


def _omit(meta: dict[str, Any], postings: list[Posting]) -> tuple[dict[str, Any], list[Posting]]:
    """SS0005 is left out; SS0004 gets its money."""
    shares = meta["distribution"]["shares"]
    left = shares.pop()
    shares[-1]["fen"] += left["fen"]
    out = []
    for p in postings:
        if p.account.endswith(".member.SS0005"):
            continue
        if p.account.endswith(".member.SS0004"):
            p = replace(p, amount=p.amount + left["fen"])
        out.append(p)
    return meta, out


@pytest.mark.parametrize(
    ("change", "why"),
    [(_shortchange, "member SS0002 is due 28500 fen, the record says 28499"), (_omit, "SS0005 is left out")],
)
def test_a_sale_that_shortchanges_or_omits_a_member_is_refused_live_and_fails_replay(
    coop: Coop, change: Any, why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    confirmed(coop)
    issued(coop)
    sale = sold(coop, tonnes=10)
    forged = _sale_body(coop, sale.receipt.seq, change)
    before = head_size_of(coop), cny(coop)
    ins = Instruction.signed(
        forged,
        (coop.demo["shengsi_coop"].party, coop.demo["shengsi_coop"].key),
        (coop.demo["zhoushan_ship"].party, coop.demo["zhoushan_ship"].key),
    )
    with Session(coop.engine) as s, pytest.raises(InvalidHouseholdRecord) as refused:
        submit(s, ins, registry=coop.registry)
    assert (head_size_of(coop), cny(coop)) == before
    seq, lines = coop.forged(forged, "shengsi_coop", "zhoushan_ship")
    report = replay_lines(lines, registry_key=coop.registry.key.public)
    assert report.failure is not None
    assert (report.failure.seq, report.failure.rule) == (seq, "invalid_household_record")
    assert why in report.failure.message
    assert why in str(refused.value)
    write_bundle(tmp_path / "bundle", lines, [])  # what an auditor downloads, checked by the command
    capsys.readouterr()
    key = b64e(coop.registry.key.public)
    assert main(["audit", "verify", str(tmp_path / "bundle"), f"--registry-key={key}"]) == 1
    out = capsys.readouterr().out
    assert f"record        {seq}" in out
    assert "rule          invalid_household_record" in out


def test_an_issuance_that_leaves_the_confirmed_members_out_fails_replay(coop: Coop) -> None:
    confirmed(coop)
    issuance = issued(coop)
    body = coop.record(issuance.receipt.seq)
    meta = {k: v for k, v in body["meta"].items() if k != "attribution"}
    postings = [
        Posting(p["account"], p["instrument"], Lot(**p["lot"]), p["amount"]) for p in body["postings"]
    ]
    forged = TxBody("bc.issue", new_nonce(), tuple(postings), signers=tuple(body["signers"]), meta=meta)
    seq, lines = coop.forged(forged, "zhoushan")
    report = replay_lines(lines, registry_key=coop.registry.key.public)
    assert report.failure is not None
    assert (report.failure.seq, report.failure.rule) == (seq, "invalid_household_record")
    assert "left out" in report.failure.message


def test_a_roster_needs_the_bureaus_signature(coop: Coop) -> None:
    row = coop.run(
        register_roster,
        actor=coop.p("shengsi_coop"),
        signed_by=Consent(coop.keys),
        project=PROJECT,
        period_start=START,
        period_end=END,
        fee_bp=300,
        members=members(),
    )
    body = TxBody(ROSTER_ACTION, row.nonce, signers=(row.cooperative, row.bureau), meta=row.meta)
    for m in body.meta["members"]:  # the accounts, as the confirmation would open them
        with Session(coop.engine) as s:
            submit(
                s,
                Instruction(OpenAccount(m["account"], row.cooperative, AccountKind.MEMBER, new_nonce())),
                registry=coop.registry,
            )
            s.commit()
    coop_only = Instruction.signed(body, (coop.demo["shengsi_coop"].party, coop.demo["shengsi_coop"].key))
    with Session(coop.engine) as s, pytest.raises(MissingSignature):
        submit(s, coop_only, registry=coop.registry)


def test_a_sale_retired_for_the_buyer_splits_the_same_way_and_the_serials_never_move_again(
    coop: Coop,
) -> None:
    confirmed(coop, fee_bp=1_000)
    issued(coop)
    fund(coop, "zhoushan_ship", 1_000_000)
    sale = coop.run(
        sell_credits,
        registry=coop.registry,
        actor=coop.p("shengsi_coop"),
        signed_by=Consent(coop.keys),
        batch=f"{PROJECT}-2023-1",
        tonnes=3,
        price_fen_per_t=3_333,
        buyer=coop.demo["zhoushan_ship"].party,
        retire_for="舟山示例船舶修造有限公司",
    )
    assert (sale.proceeds_fen, sale.distribution["fee_fen"], sale.distribution["members_fen"]) == (
        9_999,
        999,
        9_000,
    )
    ship = coop.demo["zhoushan_ship"].party
    with Session(coop.engine) as s:
        retired = {
            b.account: b.total for b in balances(s) if b.instrument == "BC" and b.account.startswith(ship)
        }
        report, diff = replay_database(s)
    assert retired == {f"{ship}.retirement": 3_000}
    assert report.ok, report.failure
    assert not diff


def test_credits_without_a_roster_sell_with_the_whole_price_to_the_seller(coop: Coop) -> None:
    issued(coop)  # no roster for the period: nothing attributed
    sale = sold(coop, tonnes=5, price_fen_per_t=10_000)
    assert sale.distribution is None
    assert cny(coop)[f"{coop.demo['shengsi_coop'].party}.cash"] == 50_000
    forged = _sale_body(
        coop,
        sale.receipt.seq,
        lambda meta, postings: (
            {**meta, "distribution": {"roster": "x"}},
            postings,
        ),
    )
    seq, lines = coop.forged(forged, "shengsi_coop", "zhoushan_ship")
    failure = replay_lines(lines, registry_key=coop.registry.key.public).failure
    assert failure is not None
    assert (failure.seq, failure.rule) == (seq, "invalid_household_record")


def test_attributed_credits_do_not_leave_the_cooperative_by_a_plain_transfer(coop: Coop) -> None:
    confirmed(coop)
    issued(coop)
    with pytest.raises(InvalidHouseholdRecord, match="by sale"):
        coop.run(
            transfer_credits,
            registry=coop.registry,
            actor=coop.p("shengsi_coop"),
            signed_by=Consent(coop.keys),
            batch=f"{PROJECT}-2023-1",
            tonnes=1,
            to_account=f"{coop.demo['zhoushan_ship'].party}.holding",
        )
    fund(coop, "zhoushan_ship", 1_000_000)
    sale = sold(coop, tonnes=2)  # sold, the buyer may pass the credits on as it likes
    assert sale.distribution is not None
    coop.run(
        transfer_credits,
        registry=coop.registry,
        actor=coop.p("zhoushan_ship"),
        signed_by=Consent(coop.keys),
        batch=f"{PROJECT}-2023-1",
        tonnes=1,
        to_account=f"{coop.demo['shengsi_coop'].party}.holding",
    )
