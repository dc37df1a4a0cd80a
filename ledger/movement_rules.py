"""Rule set 2's typed-movement check of one transaction: what ``ledger.movements`` lets its body
type debit, credit, hold and require signatures for. Run by ``ledger.rules.apply``, live and in replay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger.errors import MovementNotAllowed, UnknownParty, WrongJurisdiction
from ledger.model import AccountKind, HoldPlace, HoldSettle, Lot
from ledger.movements import KIND_INSTRUMENTS, Movement, Signer
from ledger.units import instrument

if TYPE_CHECKING:
    from ledger.rules import PartyInfo
    from ledger.rules import _Tx as Transaction

__all__ = ["TypedMovement"]


class TypedMovement:
    """Rule set 2: the record moves only what its body type may move (``ledger.movements``)."""

    def __init__(self, tx: Transaction, movement: Movement) -> None:
        self.tx, self.m = tx, movement
        self.action = tx.body.action
        self.jurisdictions: set[str] = set()

    def party(self, party: str) -> PartyInfo:
        info = self.tx.view.find_party(party)
        if info is None:
            raise UnknownParty(f"owner {party} is not a registered party", party=party)
        return info

    def check(self) -> None:
        for i, p in enumerate(self.tx.body.postings):
            self.posting(i, p.account, p.instrument, p.lot, p.amount)
        for i, op in enumerate(self.tx.body.holds):
            self.hold(i, op)
        if self.m.captured_only:
            self.check_captured()
        required = self.tx.effect.required_signers
        if Signer.LOT_BUREAUS in self.m.signers:
            for jurisdiction in sorted(self.jurisdictions):
                bureau = self.tx.view.bureau_of(jurisdiction)
                if bureau is None:
                    raise WrongJurisdiction(
                        f"jurisdiction {jurisdiction} has no bureau to approve a {self.action}",
                        field="body",
                        jurisdiction=jurisdiction,
                    )
                required.add(bureau)

    def check_captured(self) -> None:
        for i, p in enumerate(self.tx.body.postings):
            if p.amount < 0 and -self.tx.net[p.key] > self.tx.captured.get(p.key, 0):
                raise MovementNotAllowed(
                    f"a {self.action} moves only units a hold of this record captures",
                    field=f"postings[{i}].amount",
                )

    def posting(self, i: int, account: str, code: str, lot: Lot, amount: int) -> None:
        field = f"postings[{i}].account"
        info = self.tx.accounts[account]
        inst = instrument(code)
        if inst.unit_class not in KIND_INSTRUMENTS[info.kind]:
            raise MovementNotAllowed(
                f"a {info.kind.value} account cannot hold {code}", field=field, account=account
            )
        owner = self.party(info.owner)
        side, legs = ("debit", self.m.debits) if amount < 0 else ("credit", self.m.credits)
        leg = next((g for g in legs if g.admits(info.kind, owner.role, inst.unit_class)), None)
        if leg is None:
            raise MovementNotAllowed(
                f"a {self.action} may not {side} {code} in the {info.kind.value} account of a {owner.role} "
                f"({account})",
                field=field,
                account=account,
                action=self.action,
            )
        if inst.scoped_to_jurisdiction:
            if lot.jurisdiction is None:  # the parser refuses it; a body built in code must not slip by
                raise WrongJurisdiction(f"{code} units belong to a jurisdiction", field=f"postings[{i}].lot")
            self.jurisdictions.add(lot.jurisdiction)
            if leg.home and owner.jurisdiction != lot.jurisdiction:
                raise WrongJurisdiction(
                    f"{code} of jurisdiction {lot.jurisdiction} cannot be in {account} of "
                    f"{owner.jurisdiction or 'no jurisdiction'} by a {self.action}; units change "
                    f"jurisdiction only in a cross-city settlement both bureaus approve",
                    field=field,
                    account=account,
                    lot_jurisdiction=lot.jurisdiction,
                    owner_jurisdiction=owner.jurisdiction,
                )
        if amount > 0 and info.kind in (AccountKind.RESERVE, AccountKind.ISSUANCE):
            # A cap (总量控制) or a reserve grows only with its bureau's consent.
            self.tx.effect.required_signers.add(info.owner)

    def hold(self, i: int, op: HoldPlace | HoldSettle) -> None:
        if op.op not in self.m.holds:
            raise MovementNotAllowed(f"a {self.action} may not {op.op} a hold", field=f"holds[{i}].op")
        if not isinstance(op, HoldPlace):
            return
        info = self.tx.accounts[op.account]
        if info.kind not in self.m.hold_kinds:
            raise MovementNotAllowed(
                f"a {self.action} may not hold units in a {info.kind.value} account",
                field=f"holds[{i}].account",
            )
        if instrument(op.instrument).scoped_to_jurisdiction:
            if op.lot.jurisdiction is None:
                raise WrongJurisdiction(
                    f"{op.instrument} units belong to a jurisdiction", field=f"holds[{i}].lot"
                )
            self.jurisdictions.add(op.lot.jurisdiction)
        if Signer.HOLD_CONTROLLER in self.m.signers:
            self.tx.effect.required_signers.add(op.controller)
