"""Typed movements: for each body type (a transaction's ``action``), which accounts it may debit
and credit, in which jurisdictions, which holds it may touch and who must sign. Data, not code.

The rules in ``ledger.rules`` read this table from rule set 2 on, both when a record is accepted
and when replay meets it again, so a movement the table does not allow is refused in both places.
A new instrument or body type is one entry here (DESIGN.md, ledger rule 8).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ledger.model import AccountKind
from ledger.units import UnitClass

__all__ = [
    "CURRENT_RULE_SET",
    "KIND_INSTRUMENTS",
    "MOVEMENTS",
    "RULE_SETS",
    "HoldOp",
    "Leg",
    "Movement",
    "Signer",
]

# Rule set 1: double entry, balances, holds and consent (journals written before typed movements).
# Rule set 2: rule set 1 plus this table, the account-kind contents below, one bureau per
# jurisdiction, and a cap or reserve account changes only with its bureau's signature.
# Replay applies to each record the rule set in force when it was written.
CURRENT_RULE_SET = 2
RULE_SETS = frozenset({1, 2})

K = AccountKind
# Legs name unit classes, not instruments: an instrument's class follows from its properties
# (``ledger.units``), so bamboo carbon is admitted wherever blue carbon is, with no row here.
RIGHTS = frozenset({UnitClass.RIGHT})  # capped: a jurisdiction's total quantity control (总量控制)
CARBON = frozenset({UnitClass.CREDIT})  # serialized sink credits (蓝碳, 竹林碳汇)
MONEY = frozenset({UnitClass.MONEY})

# What each kind of account may contain at all, whatever the body: a cash account holds only CNY.
KIND_INSTRUMENTS: dict[AccountKind, frozenset[UnitClass]] = {
    K.HOLDING: RIGHTS | CARBON,
    K.RESERVE: RIGHTS,
    K.ISSUANCE: RIGHTS | CARBON,
    K.RETIREMENT: RIGHTS | CARBON,
    K.ESCROW: RIGHTS | CARBON | MONEY,
    K.CASH: MONEY,
    K.BUFFER: CARBON,
    K.SETTLEMENT: MONEY,
    K.MEMBER: MONEY,
}

PARTICIPANTS = frozenset({"enterprise", "cooperative"})  # who holds units to trade (排污单位, 合作社)
PAYERS = frozenset({"enterprise", "cooperative", "bureau", "bank"})  # who has a cash account to pay from


class HoldOp(StrEnum):
    PLACE = "place"
    RELEASE = "release"
    CAPTURE = "capture"


class Signer(StrEnum):
    """Who must sign beyond the owners of debited units and the controllers of settled holds."""

    LOT_BUREAUS = "lot_bureaus"  # the bureau of every jurisdiction whose units the record touches
    HOLD_CONTROLLER = "hold_controller"  # a placed hold's controller agrees to control it


@dataclass(frozen=True, slots=True)
class Leg:
    """One shape of posting: an account of one of ``kinds`` owned by one of ``roles``, in units of
    the unit classes ``instruments``. ``home``: the owner's jurisdiction must be the lot's (scoped units)."""

    kinds: frozenset[AccountKind]
    roles: frozenset[str]
    instruments: frozenset[UnitClass]
    home: bool = True

    def admits(self, kind: AccountKind, role: str, unit_class: UnitClass) -> bool:
        return kind in self.kinds and role in self.roles and unit_class in self.instruments


@dataclass(frozen=True, slots=True)
class Movement:
    """Everything a body type may do; anything else in a record of that type is refused."""

    action: str
    debits: tuple[Leg, ...] = ()
    credits: tuple[Leg, ...] = ()
    holds: frozenset[HoldOp] = frozenset()
    hold_kinds: frozenset[AccountKind] = frozenset()  # where ``place`` may encumber units
    signers: frozenset[Signer] = frozenset()
    description: str = ""
    captured_only: bool = False  # every debit takes units a hold of this record captures


def _leg(
    kinds: set[AccountKind], roles: set[str], instruments: frozenset[UnitClass], *, home: bool = True
) -> Leg:
    return Leg(frozenset(kinds), frozenset(roles), instruments, home)


def _cash(roles: frozenset[str] = PAYERS) -> Leg:
    return Leg(frozenset({K.CASH}), roles, MONEY, home=False)


_HOLDING_RIGHTS = _leg({K.HOLDING}, set(PARTICIPANTS), RIGHTS)
_RESERVE = _leg({K.RESERVE}, {"bureau"}, RIGHTS)
_CAP = _leg({K.ISSUANCE}, {"bureau"}, RIGHTS)
_CARBON_HOLDING = _leg({K.HOLDING}, set(PARTICIPANTS), CARBON, home=False)
_ALL_HOLDS = frozenset(HoldOp)
_SETTLE = frozenset({HoldOp.RELEASE, HoldOp.CAPTURE})

_TABLE = (
    Movement(
        "transfer",
        debits=(_HOLDING_RIGHTS,),
        credits=(_HOLDING_RIGHTS,),
        description="plain transfer (转让): rights between holdings of one jurisdiction; the sender signs",
    ),
    Movement(
        "trade",
        debits=(_HOLDING_RIGHTS, _cash(PARTICIPANTS)),
        credits=(_HOLDING_RIGHTS, _cash(PARTICIPANTS)),
        description="bilateral trade (协议转让): rights against CNY in one jurisdiction, both parties sign",
    ),
    Movement(
        "cap.set",
        debits=(_CAP,),
        credits=(_RESERVE,),
        description="a bureau raises its cap (总量控制) into its government reserve (政府储备)",
    ),
    *(
        Movement(
            action,
            debits=(_RESERVE, _cash(PARTICIPANTS)),
            credits=(_HOLDING_RIGHTS, _cash(frozenset({"bureau"}))),
            description=f"allocation from the reserve ({name}), with its paid-use fee (有偿使用) if any",
        )
        for action, name in (("allocation.initial", "初始分配"), ("allocation.major_project", "重大项目"))
    ),
    Movement(
        "reserve.buy_back",
        debits=(_HOLDING_RIGHTS, _cash(frozenset({"bureau"}))),
        credits=(_RESERVE, _cash(PARTICIPANTS)),
        description="the bureau buys rights back into its reserve (收储), delivery versus payment",
    ),
    Movement(
        "auction.open",
        holds=frozenset({HoldOp.PLACE}),
        hold_kinds=frozenset({K.RESERVE, K.HOLDING}),
        description="reserve units put up for auction are held until the result; a forced auction "
        "(拍卖处置, meta.forced) holds a bank's enforced rights instead, checked by ledger.forced_sale",
    ),
    Movement(
        "auction.bid",
        holds=frozenset({HoldOp.PLACE}),
        hold_kinds=frozenset({K.CASH}),
        description="a bid (sealed: its commitment) signed by the bidder, holding the deposit (保证金) "
        "still due; ledger.auction_rules checks it against the auction",
    ),
    Movement(
        "auction.result",
        holds=_ALL_HOLDS,
        hold_kinds=frozenset({K.RESERVE, K.HOLDING}),
        description="the result: the lot's hold becomes one hold per award; losers' deposits released",
    ),
    Movement(
        "auction.settle",
        debits=(_RESERVE, _cash(PARTICIPANTS)),
        credits=(_HOLDING_RIGHTS, _cash(frozenset({"bureau"}))),
        holds=_SETTLE,
        description="a winner pays its award (delivery versus payment), its deposit counted in",
    ),
    Movement(
        "auction.settle_forced",
        debits=(_leg({K.HOLDING}, {"bank"}, RIGHTS, home=False), _cash(PARTICIPANTS)),
        credits=(_HOLDING_RIGHTS, _cash(frozenset({"bank", "enterprise"}))),
        holds=_SETTLE,
        description="a winner of a forced auction pays its award; the bank is paid first up to its claim "
        "(principal and interest), the rest to the enterprise, in this one record (ledger.forced_sale)",
    ),
    Movement(
        "auction.forfeit",
        debits=(_cash(PARTICIPANTS),),
        credits=(_cash(frozenset({"bureau"})),),
        holds=_SETTLE,
        description="a winner that did not pay forfeits its deposit; the award's units go back",
    ),
    Movement(
        "crosscity.hold",
        holds=frozenset({HoldOp.PLACE}),
        hold_kinds=frozenset({K.HOLDING, K.RESERVE}),
        description="a seller's rights (or a bureau's reserve) held while a cross-city transfer waits",
    ),
    Movement(
        "crosscity.settle",
        debits=(_HOLDING_RIGHTS, _RESERVE, _CAP, _cash(PARTICIPANTS)),
        credits=(_HOLDING_RIGHTS, _CAP, _cash(frozenset({"enterprise", "cooperative", "bureau"}))),
        holds=frozenset({HoldOp.CAPTURE}),
        signers=frozenset({Signer.LOT_BUREAUS}),
        description="cross-city transfer (跨区域交易): out of the source cap, into the destination's, "
        "approved by both bureaus; the only record in which units change jurisdiction",
    ),
    Movement(
        "crosscity.release",
        holds=frozenset({HoldOp.RELEASE}),
        description="a rejected or expired cross-city request releases the seller's hold",
    ),
    Movement(
        "federation.hold",
        holds=frozenset({HoldOp.PLACE}),
        hold_kinds=frozenset({K.HOLDING}),
        signers=frozenset({Signer.LOT_BUREAUS}),
        description="a transfer to another journal (联合登记, federation) begins: the seller's rights held "
        "for the registry, citing the destination journal; the seller and its bureau sign",
    ),
    Movement(
        "federation.credit",
        debits=(_CAP,),
        credits=(_HOLDING_RIGHTS,),
        description="the destination journal credits the receiver out of its bureau's cap, citing the "
        "source journal's hold record (seq and hash); ledger.federation_rules checks the citation",
    ),
    Movement(
        "federation.complete",
        debits=(_HOLDING_RIGHTS,),
        credits=(_CAP,),
        holds=frozenset({HoldOp.CAPTURE}),
        captured_only=True,
        description="the source journal takes the held rights back into its bureau's cap, citing the "
        "destination's credit record (seq and hash): the units now exist only there",
    ),
    Movement(
        "federation.void",
        holds=frozenset({HoldOp.RELEASE}),
        description="the destination refused the credit: the source journal releases the hold",
    ),
    Movement(
        "pledge.register",
        holds=frozenset({HoldOp.PLACE}),
        hold_kinds=frozenset({K.HOLDING}),
        # The lot's bureau approves the quantity before any loan exists, so it signs an approval
        # statement carried in the body (meta.approval), which ledger.pledge_terms checks against the
        # jurisdiction's bureau; the bank and the owner sign the body with its loan terms.
        signers=frozenset({Signer.HOLD_CONTROLLER}),
        description="pledge (排污权抵质押): the enterprise's rights held for the bank, with the loan "
        "terms the bank and the owner sign and the bureau's approval of the quantity",
    ),
    Movement(
        "pledge.release",
        holds=frozenset({HoldOp.RELEASE}),
        description="the bank releases pledged rights on repayment",
    ),
    Movement(
        "pledge.enforce",
        debits=(_HOLDING_RIGHTS,),
        credits=(_leg({K.HOLDING}, {"bank"}, RIGHTS, home=False),),
        holds=frozenset({HoldOp.CAPTURE}),
        captured_only=True,
        description="enforcement on default: the pledged rights go to the bank's holding, the only "
        "way a bank comes to hold rights; it sells them only by forced auction, never bilaterally",
    ),
    Movement(
        "expiry",
        debits=(_leg({K.HOLDING, K.RESERVE, K.ESCROW}, set(PAYERS), RIGHTS, home=False),),
        credits=(_leg({K.RETIREMENT}, {"bureau"}, RIGHTS),),
        description="expiry run (有效期届满): expired units into the jurisdiction's retirement account",
    ),
    Movement(
        "bc.issue",
        debits=(_leg({K.ISSUANCE}, {"bureau"}, CARBON, home=False),),
        credits=(_CARBON_HOLDING, _leg({K.BUFFER}, {"bureau"}, CARBON, home=False)),
        description="issuance of a verified vintage batch of serialized credits (blue carbon, bamboo "
        "carbon), with its buffer-pool share",
    ),
    Movement(
        "bc.transfer",
        debits=(_CARBON_HOLDING,),
        credits=(_CARBON_HOLDING,),
        description="serialized credits between holdings, by serial",
    ),
    Movement(
        "bc.retire",
        debits=(_CARBON_HOLDING,),
        credits=(_leg({K.RETIREMENT}, set(PARTICIPANTS), CARBON, home=False),),
        description="serialized credits retired (注销)",
    ),
    Movement(
        "bc.sale",
        debits=(_CARBON_HOLDING, _cash(PARTICIPANTS)),
        credits=(
            _CARBON_HOLDING,
            _leg({K.RETIREMENT}, set(PARTICIPANTS), CARBON, home=False),
            _cash(PARTICIPANTS),
            Leg(frozenset({K.MEMBER}), frozenset({"cooperative"}), MONEY, home=False),
        ),
        description="serialized credits sold for CNY, by serial, to the buyer's holding or retired for it; "
        "a cooperative's proceeds less its agreed fee go to its members' accounts in the same record "
        "(ledger.households)",
    ),
    Movement(
        "household.roster",
        description="a cooperative's member households (社员名册) for a project and monitoring period, "
        "with the fee they agreed; the cooperative and its bureau sign; moves nothing",
    ),
    Movement(
        "cash.deposit",
        debits=(Leg(frozenset({K.SETTLEMENT}), frozenset({"operator"}), MONEY, home=False),),
        credits=(_cash(),),
        description="CNY paid in through the operator's bank gateway (入金)",
    ),
    # Control records move nothing; ledger.control_rules checks them (and every record against them).
    Movement(
        "controls.set",
        description="a party's named users (clerk, approver), four-eyes thresholds (双人审批) and whether "
        "it keeps a trusted-account list; changing thresholds in force needs two of its users",
    ),
    Movement(
        "trust.add",
        description="an account joins the party's trusted list, approved by two of its users, in effect "
        "after the registry's delay (EU 2019/1122 art. 23: 4 working days)",
    ),
    Movement("trust.remove", description="an account leaves the party's trusted list, at once"),
    Movement(
        "registry.controls",
        description="the registry's trusted-list delay and its per-transfer limit outside a list; "
        "sealed by the registry alone",
    ),
)

MOVEMENTS: dict[str, Movement] = {m.action: m for m in _TABLE}


def describe() -> str:
    """The table as markdown, for docs/typed-movements.md (a test keeps the page equal to it)."""

    def legs(side: tuple[Leg, ...]) -> str:
        return (
            "<br>".join(
                f"{'/'.join(sorted(k.value for k in g.kinds))} of {'/'.join(sorted(g.roles))}: "
                f"{'/'.join(sorted(i.value for i in g.instruments))}{' (own jurisdiction)' if g.home else ''}"
                for g in side
            )
            or "—"
        )

    rows = [
        "| body type | debits | credits | holds | also signs | what it is |",
        "|---|---|---|---|---|---|",
    ]
    for m in _TABLE:
        holds = "/".join(sorted(h.value for h in m.holds)) or "—"
        if m.hold_kinds:
            holds += f" (place on {'/'.join(sorted(k.value for k in m.hold_kinds))})"
        signers = ", ".join(sorted(s.value for s in m.signers)) or "—"
        rows.append(
            f"| `{m.action}` | {legs(m.debits)} | {legs(m.credits)} | {holds} | {signers} | {m.description} |"
        )
    return "\n".join(rows) + "\n"
