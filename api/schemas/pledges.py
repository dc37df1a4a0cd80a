"""Request and response models of the pledge routes (排污权抵质押): the four steps, release, enforcement,
the bodies a self-custody client signs, and the pledge certificate a bank verifies offline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from api.schemas import SignatureIn, StrictIn
from ledger.crypto import b64e, key_id_for
from ledger.model import Lot
from market.consent import Signable
from market.pledges.certificate import CertificateCheck
from market.pledges.service import Pledge
from market.pledges.standing import Standing

__all__ = [
    "I_JSON_MAX",
    "ApplyIn",
    "ApproveIn",
    "BodiesOut",
    "CancelIn",
    "CertificateCheckOut",
    "CertificateFileOut",
    "ConsentIn",
    "ForcedAuctionIn",
    "LoanIn",
    "LotIn",
    "PledgeOut",
    "ProblemOut",
    "ReleaseIn",
    "SafeInt",
    "StandingOut",
]

_KG = "kilograms (a right's unit: 1 t = 1000 kg)"
I_JSON_MAX = 2**53 - 1

SafeInt = Annotated[int, Field(ge=-I_JSON_MAX, le=I_JSON_MAX)]
"""An integer JSON carries exactly (I-JSON, RFC 7493): what the canonical encoding of a request takes.
The domain rules (positive, within the ledger's range) are the services'; this is the transport's."""
_REASON = Field(min_length=1, max_length=500)


class LotIn(StrictIn):
    """The lot of the units: the jurisdiction whose rights they are and their validity end."""

    jurisdiction: str | None = Field(default=None, max_length=6, description="6-digit division code")
    valid_until: str | None = Field(default=None, max_length=10, description="YYYY-MM-DD")
    vintage: SafeInt | None = None
    batch: str | None = Field(default=None, max_length=128)

    def lot(self, instrument_code: str, *, path: str = "lot") -> Lot:
        """The ledger's lot, checked for the instrument (``InvalidLot`` names the field)."""
        return Lot.parse(self.model_dump(exclude_none=True), instrument_code=instrument_code, path=path)

    def rights_lot(self, *, path: str = "lot") -> Lot:
        """The lot of a discharge right whose instrument another object fixes (a cross-city offer's is
        its need's): every right's lot has the same shape, so checking it as COD's checks its fields."""
        return self.lot("COD", path=path)


class ConsentIn(StrictIn):
    """A step a party signs: without ``signatures`` the registry signs with the caller's key held in
    custody; with them (made over the bodies ``GET .../bodies`` returns, in that order) it does not."""

    signatures: list[SignatureIn] | None = Field(default=None, max_length=4)


class ApplyIn(StrictIn):
    """Step 1 (企业申请): pledge ``quantity_kg`` of one lot of the caller's rights to ``bank``."""

    bank: str = Field(max_length=128, description="the pledgee bank's party id, e.g. bank:<credit code>")
    instrument: str = Field(max_length=16, description="COD, NH3-N, SO2, NOX, TN, TP or VOCS")
    lot: LotIn
    quantity_kg: SafeInt = Field(description=_KG)


class ApproveIn(ConsentIn):
    """Step 2 (审核): the bureau approves a quantity on its electronic certificate."""

    approved_kg: SafeInt = Field(description=_KG)
    certificate_no: str = Field(
        min_length=1,
        max_length=64,
        description="电子证书编号: Unicode text, no control or bidi characters (余排污质〔2026〕第018号)",
    )


class LoanIn(ConsentIn):
    """Step 3 (录入贷款): the bank records the loan; at most 80% of the appraised value, maturing
    before the rights' validity end."""

    loan_id: str = Field(min_length=1, max_length=64)
    amount_fen: SafeInt = Field(description="the loan in fen (1 CNY = 100 fen)")
    rate_bp: SafeInt = Field(description="annual rate in basis points (385 = 3.85%)")
    term_months: SafeInt
    bank_price_fen_per_tonne: SafeInt | None = Field(
        default=None,
        description="the bank's own appraisal in fen per tonne; the lower of it and the registry's "
        "reference price values the rights (docs/valuation.md)",
    )


class ReleaseIn(ConsentIn):
    """Release on repayment (解押): all held units, or ``quantity_kg`` of them."""

    quantity_kg: SafeInt | None = Field(default=None, description=f"{_KG}; omitted: everything still held")


class ForcedAuctionIn(StrictIn):
    """Enforcement by forced auction (拍卖处置): the bank's claim, paid first from the proceeds."""

    claim_fen: SafeInt = Field(description="the bank's claim in fen")
    reason: str = _REASON


class CancelIn(StrictIn):
    reason: str = _REASON


class PledgeOut(BaseModel):
    """A pledge as the registry records it; quantities in kg, money in fen."""

    id: str
    status: str
    enterprise: str
    bank: str
    bureau: str
    account: str
    instrument: str
    lot: dict[str, Any]
    applied_kg: int
    approved_kg: int | None
    certificate_no: str | None
    signed_by: list[str] = Field(description="parties whose signature over the registration body is held")
    loan: dict[str, Any] | None = Field(
        description="loan_id, amount_fen, rate_bp, term_months, start, maturity"
    )
    appraisal: dict[str, Any] | None = Field(
        description="price_fen_per_tonne, source (market, reference, bank; auction before #20), value_fen, "
        "max_ltv_bp, max_loan_fen, reference_fen_per_tonne, reference_source, bank_fen_per_tonne "
        "(docs/valuation.md)"
    )
    held_kg: int
    released_kg: int
    enforced_kg: int
    hold_id: str
    record_seq: int | None = Field(description="the journal record that registered the pledge")
    claim_fen: int | None
    closed_by: str | None
    reason: str | None

    @classmethod
    def of(cls, p: Pledge) -> PledgeOut:
        return cls(
            id=p.id,
            status=p.status.value,
            enterprise=p.enterprise,
            bank=p.bank,
            bureau=p.bureau,
            account=p.account,
            instrument=p.instrument,
            lot=p.lot.to_json(),
            applied_kg=p.applied_kg,
            approved_kg=p.approved_kg,
            certificate_no=p.certificate_no,
            signed_by=sorted(s.party for s in p.signatures),
            loan=p.loan.to_json() if p.loan is not None else None,
            appraisal=p.appraisal.to_json() if p.appraisal is not None else None,
            held_kg=p.held_kg,
            released_kg=p.released_kg,
            enforced_kg=p.enforced_kg,
            hold_id=p.hold_id,
            record_seq=p.record_seq,
            claim_fen=p.claim_fen,
            closed_by=p.closed_by,
            reason=p.reason,
        )


class BodiesOut(BaseModel):
    """The exact documents a step signs, in order: sign the RFC 8785 canonical bytes of each, with the
    body tag ``ecoledger-body-v1`` (as ``ledger.service.sign_body`` does), or, for the bureau's approval
    (``"type": "pledge.approval"``), with the tag ``ecoledger-approval-v1`` (``api.client.Client.sign``
    does both), and send the signatures to the step's route."""

    step: str
    signer: str = Field(description="the party whose signatures the step takes")
    bodies: list[dict[str, Any]]

    @classmethod
    def of(cls, step: str, signer: str, bodies: Sequence[Signable]) -> BodiesOut:
        return cls(step=step, signer=signer, bodies=[b.to_json() for b in bodies])


class CertificateFileOut(BaseModel):
    """A pledge certificate file (排污权抵质押登记证明, ``ecoledger-pledge-certificate-v1``): the signed
    registration record, its inclusion proof to a signed checkpoint, the registry key, the signers' keys
    and the displayed fields. Served as canonical JSON (RFC 8785), so its SHA-256 is stable."""

    format: Literal["ecoledger-pledge-certificate-v1"]
    registry_public_key: str = Field(description="unpadded base64url Ed25519 public key")
    seq: int = Field(description="the registration record's position in the journal")
    record: str = Field(description="the journal line, exactly as sealed")
    path: list[str] = Field(description="RFC 6962 audit path to the checkpoint's root, lowercase hex")
    checkpoint: dict[str, Any] = Field(
        description="the signed checkpoint (tree_size, root, time, key_id, signature)"
    )
    keys: list[dict[str, str]] = Field(
        description="party, key_id, public_key of each signature in the record"
    )
    pledge: dict[str, Any] = Field(description="the displayed fields, each checked against the record")


class ProblemOut(BaseModel):
    field: str = Field(description="the field of the certificate file concerned, e.g. pledge.quantity_kg")
    message: str


class StandingOut(BaseModel):
    """The pledge now, from the live journal (online check)."""

    status: Literal["active", "partly_released", "released", "enforced", "forced_auction", "unknown"]
    pledged_kg: int
    held_kg: int = Field(description="still held for the bank")
    released_kg: int
    enforced_kg: int
    changed_seq: int | None = Field(description="the journal record that made it so")

    @classmethod
    def of(cls, s: Standing) -> StandingOut:
        return cls.model_validate(s.to_json())


class CertificateCheckOut(BaseModel):
    """The verification of a certificate file: each check, every problem found (naming its field), the
    verified fields, and (online) the pledge's status now."""

    result: Literal["valid", "invalid"]
    problems: list[ProblemOut]
    checkpoint_signed: bool
    included: bool
    sealed: bool
    signed_by_parties: bool
    pledge_matches: bool
    fields: dict[str, Any] | None = Field(description="the verified displayed fields (valid only)")
    standing: StandingOut | None = Field(description="the pledge now (valid certificates of this registry)")
    registry_key_id: str = Field(
        description="the registry key the check used: compare it with the one you pin"
    )
    registry_public_key: str = Field(description="unpadded base64url Ed25519 public key")
    key_pinned: bool = Field(description="whether the caller gave the key (else the registry's own)")

    @classmethod
    def of(cls, check: CertificateCheck, *, standing: Standing | None, pinned: bool) -> CertificateCheckOut:
        public = check.registry_public_key
        return cls(
            result="valid" if check.ok else "invalid",
            problems=[ProblemOut(field=p.field, message=p.message) for p in check.problems],
            checkpoint_signed=check.checkpoint_signed,
            included=check.included,
            sealed=check.sealed,
            signed_by_parties=check.signed_by_parties,
            pledge_matches=check.pledge_matches,
            fields=check.fields,
            standing=StandingOut.of(standing) if standing is not None else None,
            registry_key_id=key_id_for(public),
            registry_public_key=b64e(public),
            key_pinned=pinned,
        )
