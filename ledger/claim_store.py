"""The live ledger's reads and writes for forced sales (``ledger.forced_sale``): a pledge's signed loan,
read from its registration record, and its claim in the ``ledger_pledge_claim`` table. Replay needs none.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from ledger.errors import InvalidPledgeRegistration
from ledger.forced_sale import ForcedClaim
from ledger.pledge_terms import PledgeLoan
from ledger.tables import HoldRow, JournalRow, PledgeClaimRow

__all__ = ["load_claim", "load_pledge_loan", "write_claims"]

H = cast(Table, HoldRow.__table__)  # type: ignore[attr-defined]
J = cast(Table, JournalRow.__table__)  # type: ignore[attr-defined]
C = cast(Table, PledgeClaimRow.__table__)  # type: ignore[attr-defined]
_REGISTRATION = (
    select(J.c.core).select_from(H.join(J, J.c.seq == H.c.placed_seq)).where(H.c.id == bindparam("hold"))
)
_CLAIM = select(C).where(C.c.pledge == bindparam("id"))
_UPDATE = (
    update(C)
    .where(C.c.pledge == bindparam("b_pledge"))
    .values(recovered_fen=bindparam("b_recovered"), changed_seq=bindparam("b_seq"))
)


def load_pledge_loan(c: Connection, pledge_id: str) -> PledgeLoan | None:
    """The loan signed in the record that placed the hold ``pledge.<pledge_id>``, if any."""
    core = c.execute(_REGISTRATION, {"hold": f"pledge.{pledge_id}"}).scalar()
    if core is None:
        return None
    body = json.loads(bytes(core))["body"]
    loan = body.get("meta", {}).get("loan") if body.get("action") == "pledge.register" else None
    if loan is None:
        return None
    try:
        return PledgeLoan.parse(loan)
    except InvalidPledgeRegistration:  # accepted under rules that did not check it: no claim on it
        return None


def load_claim(c: Connection, pledge_id: str) -> ForcedClaim | None:
    row = c.execute(_CLAIM, {"id": pledge_id}).first()
    if row is None:
        return None
    return ForcedClaim(
        row.pledge, row.bank, row.enterprise, row.principal_fen, row.interest_fen, row.recovered_fen
    )


def write_claims(c: Connection, changes: Sequence[tuple[int, ForcedClaim, bool]]) -> None:
    """Write a batch's claims, each with the record that changed it; ``True`` where the batch made it."""
    made: dict[str, dict[str, object]] = {}
    updates: dict[str, dict[str, object]] = {}
    for seq, claim, new in changes:
        if new or claim.pledge in made:
            made[claim.pledge] = {
                "pledge": claim.pledge,
                "bank": claim.bank,
                "enterprise": claim.enterprise,
                "principal_fen": claim.principal_fen,
                "interest_fen": claim.interest_fen,
                "recovered_fen": claim.recovered_fen,
                "opened_seq": made.get(claim.pledge, {}).get("opened_seq", seq),
                "changed_seq": seq,
            }
        else:
            updates[claim.pledge] = {
                "b_pledge": claim.pledge,
                "b_recovered": claim.recovered_fen,
                "b_seq": seq,
            }
    if made:
        c.execute(insert(C), list(made.values()))
    if updates:
        c.execute(_UPDATE, list(updates.values()))
