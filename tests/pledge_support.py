"""A pledge registration as rule set 2 accepts it, for tests that need units under a pledge without
running the four-step workflow: the bureau's approval inside, the bank and the owner to sign it."""

from __future__ import annotations

from datetime import date

from ledger.canonical import canonical_bytes
from ledger.crypto import SigningKey
from ledger.model import HoldPlace, Signature, TxBody
from ledger.pledge_terms import TAG_APPROVAL, Appraised, PledgeLoan, approval_statement

__all__ = ["pledge_registration"]

PRICE_FEN_PER_T = 1_700_000  # Shaoxing's banks' ~17,000 CNY per tonne (market.pledges.valuation)


def pledge_registration(
    pledge: str,
    *,
    account: str,
    lot_kg: tuple[object, int],
    enterprise: str,
    bank: str,
    bureau: str,
    bureau_key: SigningKey,
    start: date,
    term_months: int = 1,
) -> TxBody:
    """The registration of ``pledge`` holding ``kg`` of COD in ``lot`` of ``account`` for ``bank``,
    a loan of half the appraised value from ``start``; sign it as ``bank`` and ``enterprise``."""
    lot, kg = lot_kg
    hold = HoldPlace(f"pledge.{pledge}", account, "COD", lot, kg, "pledge", bank)  # type: ignore[arg-type]
    parties = {"enterprise": enterprise, "bank": bank, "bureau": bureau}
    statement = approval_statement(pledge=pledge, certificate_no=f"ZJPW-{pledge}", hold=hold, **parties)
    approval = Signature(bureau, bureau_key.key_id, bureau_key.sign(TAG_APPROVAL, canonical_bytes(statement)))
    value = kg * PRICE_FEN_PER_T // 1_000
    meta = {
        "pledge": pledge,
        "certificate_no": statement["certificate_no"],
        **parties,
        "names": {"enterprise": "test enterprise", "bank": "test bank", "bureau": "test bureau"},
        "quantity_kg": kg,
        "loan": PledgeLoan(f"LN-{pledge}", max(value // 2, 1), 385, term_months, start).to_json(),
        "appraisal": Appraised(PRICE_FEN_PER_T, "reference", value, 8_000).to_json(),
        "approval": approval.to_json(),
        "basis": "杭银发〔2022〕21号",
    }
    signers = tuple(sorted({enterprise, bank}))
    return TxBody("pledge.register", f"{pledge}.register", holds=(hold,), signers=signers, meta=meta)
