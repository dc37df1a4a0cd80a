"""Pledge certificates (抵质押登记证明): the registration record, its signatures and a Merkle inclusion
proof against a signed checkpoint, which a bank verifies offline with only the registry's public key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from accounts.identifiers import account_id
from accounts.model import Participant
from ledger.checkpoint import Checkpoint
from ledger.crypto import TAG_BODY, TAG_REGISTRY, b64d, b64e, key_id_for, verify
from ledger.errors import DomainError
from ledger.journal import ParsedRecord, parse_line
from ledger.merkle import leaf_hash, verify_inclusion
from ledger.model import HoldPlace, Lot, TxBody, parse_body
from ledger.service import Registry, keys_of_party, prove_inclusion
from market.errors import MalformedCertificate, PledgeStateConflict
from market.pledge import PLEDGE_REASON, get_pledge

__all__ = ["CertificateCheck", "PartyKey", "PledgeCertificate", "build_certificate", "verify_certificate"]


@dataclass(frozen=True, slots=True)
class PartyKey:
    """A public key a party signed the record with, as the registry lists it."""

    party: str
    key_id: str
    public_key: bytes

    def to_json(self) -> dict[str, str]:
        return {"party": self.party, "key_id": self.key_id, "public_key": b64e(self.public_key)}


@dataclass(frozen=True, slots=True)
class PledgeCertificate:
    """What the certificate claims (the pledge) and the evidence for it (record, proof, keys).

    ``loan`` is the loan as the bank recorded it in the registry's pledge table: shown for
    reference, not part of the sealed record, so ``verify_certificate`` does not vouch for it.
    """

    pledge_id: str
    enterprise: str
    bank: str
    bureau: str
    account: str
    instrument: str
    lot: Lot
    quantity_kg: int
    hold_id: str
    certificate_no: str
    record: bytes
    seq: int
    path: tuple[bytes, ...]
    checkpoint: Checkpoint
    keys: tuple[PartyKey, ...]
    loan: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "pledge_id": self.pledge_id,
            "enterprise": self.enterprise,
            "bank": self.bank,
            "bureau": self.bureau,
            "account": self.account,
            "instrument": self.instrument,
            "lot": self.lot.to_json(),
            "quantity_kg": self.quantity_kg,
            "hold_id": self.hold_id,
            "certificate_no": self.certificate_no,
            "record": self.record.decode(),
            "seq": self.seq,
            "path": [p.hex() for p in self.path],
            "checkpoint": self.checkpoint.to_json(),
            "keys": [k.to_json() for k in self.keys],
            "loan": self.loan,
        }

    @classmethod
    def from_json(cls, obj: Any) -> PledgeCertificate:
        """Parse a certificate's JSON form strictly; ``MalformedCertificate`` names what is wrong."""
        try:
            lot_json = obj["lot"]
            code = obj["instrument"]
            return cls(
                pledge_id=_str(obj["pledge_id"]),
                enterprise=_str(obj["enterprise"]),
                bank=_str(obj["bank"]),
                bureau=_str(obj["bureau"]),
                account=_str(obj["account"]),
                instrument=_str(code),
                lot=Lot.parse(lot_json, instrument_code=code, path="lot"),
                quantity_kg=_int(obj["quantity_kg"]),
                hold_id=_str(obj["hold_id"]),
                certificate_no=_str(obj["certificate_no"]),
                record=_str(obj["record"]).encode(),
                seq=_int(obj["seq"]),
                path=tuple(bytes.fromhex(_str(p)) for p in obj["path"]),
                checkpoint=Checkpoint.from_json(obj["checkpoint"]),
                keys=tuple(
                    PartyKey(_str(k["party"]), _str(k["key_id"]), b64d(k["public_key"], length=32))
                    for k in obj["keys"]
                ),
                loan=obj.get("loan"),
            )
        except (KeyError, TypeError, ValueError, DomainError) as exc:
            raise MalformedCertificate(f"not a certificate: {_why(exc)}", field="certificate") from None


def _why(exc: Exception) -> str:
    """What is wrong, said without internals (never Python's repr of the exception)."""
    if isinstance(exc, KeyError):
        return f"it has no {exc.args[0]!s}"
    if isinstance(exc, DomainError):
        return exc.message
    return "a field is malformed"


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def build_certificate(
    session: Session, *, registry: Registry, actor: Participant, pledge_id: str
) -> PledgeCertificate:
    """The certificate of a registered pledge, for its parties and those who may read the pledged
    account. Signs a new checkpoint when none covers the record yet."""
    pledge = get_pledge(session, actor=actor, pledge_id=pledge_id)
    if pledge.record_seq is None or pledge.approved_kg is None or pledge.certificate_no is None:
        raise PledgeStateConflict(f"pledge {pledge.id} is not registered in the journal", pledge=pledge.id)
    proof = prove_inclusion(session, seq=pledge.record_seq, registry=registry)
    signed = {(s.party, s.key_id) for s in parse_line(proof.line).sigs}
    keys = tuple(
        PartyKey(k.party, k.key_id, k.public_key)
        for party in sorted({p for p, _ in signed})
        for k in keys_of_party(session, party=party)
        if (party, k.key_id) in signed
    )
    return PledgeCertificate(
        pledge_id=pledge.id,
        enterprise=pledge.enterprise,
        bank=pledge.bank,
        bureau=pledge.bureau,
        account=pledge.account,
        instrument=pledge.instrument,
        lot=pledge.lot,
        quantity_kg=pledge.approved_kg,
        hold_id=pledge.hold_id,
        certificate_no=pledge.certificate_no,
        record=proof.line,
        seq=proof.seq,
        path=tuple(proof.path),
        checkpoint=proof.checkpoint,
        keys=keys,
        loan=pledge.loan.to_json() if pledge.loan is not None else None,
    )


@dataclass(frozen=True, slots=True)
class CertificateCheck:
    """The outcome of each check, and every problem found (all are collected before answering)."""

    checkpoint_signed: bool
    included: bool
    sealed: bool
    signed_by_parties: bool
    pledge_matches: bool
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_certificate(
    cert: PledgeCertificate, registry_public_key: bytes, *, expected_quantity_kg: int | None = None
) -> CertificateCheck:
    """Verify a certificate offline, with no database: the registry's signature on the checkpoint,
    the record's inclusion under its root (RFC 6962), the registry's seal on the record, the three
    parties' signatures on the body, and that the body is this pledge's hold of the expected quantity.

    A valid certificate proves that the registry sealed, at journal position ``seq`` under a signed
    checkpoint, a record in which the enterprise, the bank and the bureau signed a hold of exactly
    ``quantity_kg`` on the enterprise's units, controlled by the bank. It does not prove that the
    parties' keys were valid then (the certificate carries their public keys: a bank checks them
    against the registry's published key list), nor that the pledge is still in force (a release
    is a later record: ask the registry, or for a newer certificate)."""
    problems: list[str] = []
    checkpoint_signed = cert.checkpoint.verifies_with(registry_public_key)
    if not checkpoint_signed:
        problems.append("the checkpoint is not signed by the registry key")
    try:
        rec = parse_line(cert.record)
    except DomainError as exc:
        problems.append(f"the record does not parse: {exc}")
        return CertificateCheck(checkpoint_signed, False, False, False, False, tuple(problems))
    included = rec.seq == cert.seq and verify_inclusion(
        leaf_hash(rec.hash), rec.seq, cert.checkpoint.tree_size, list(cert.path), cert.checkpoint.root
    )
    if not included:
        problems.append(f"record {rec.seq} is not included under the checkpoint's root")
    sealed = verify(registry_public_key, TAG_REGISTRY, rec.hash, rec.registry_sig)
    if not sealed:
        problems.append("the record is not sealed by the registry key")
    signed = _check_signatures(cert, rec, problems)
    matches = _check_body(cert, rec, expected_quantity_kg, problems)
    return CertificateCheck(checkpoint_signed, included, sealed, signed, matches, tuple(problems))


def _check_signatures(cert: PledgeCertificate, rec: ParsedRecord, problems: list[str]) -> bool:
    keys = {(k.party, k.key_id): k.public_key for k in cert.keys if key_id_for(k.public_key) == k.key_id}
    verified: set[str] = set()
    for sig in rec.sigs:
        public = keys.get((sig.party, sig.key_id))
        if public is not None and verify(public, TAG_BODY, rec.body_bytes, sig.sig):
            verified.add(sig.party)
        else:
            problems.append(f"the signature of {sig.party} (key {sig.key_id}) does not verify")
    missing = sorted({cert.enterprise, cert.bank, cert.bureau} - verified)
    if missing:
        problems.append(f"no valid signature of {', '.join(missing)}")
    return not missing and len(verified) == len({s.party for s in rec.sigs})


def _check_body(
    cert: PledgeCertificate, rec: ParsedRecord, expected_quantity_kg: int | None, problems: list[str]
) -> bool:
    before = len(problems)
    try:
        body = parse_body(rec.body)
    except DomainError as exc:
        problems.append(f"the body does not parse: {exc}")
        return False
    places = [h for h in body.holds if isinstance(h, HoldPlace)] if isinstance(body, TxBody) else []
    if not isinstance(body, TxBody) or body.action != "pledge.register" or len(body.holds) != 1 or not places:
        problems.append("the record is not a pledge registration (one hold placed, action pledge.register)")
        return False
    hold, want = places[0], expected_quantity_kg if expected_quantity_kg is not None else cert.quantity_kg
    claims = {
        "hold id": (hold.hold, cert.hold_id),
        "account": (hold.account, cert.account),
        "owner's holding": (hold.account, account_id(cert.enterprise, "holding")),
        "instrument": (hold.instrument, cert.instrument),
        "lot": (hold.lot, cert.lot),
        "quantity": (hold.amount, cert.quantity_kg),
        "expected quantity": (hold.amount, want),
        "reason": (hold.reason, PLEDGE_REASON),
        "controller": (hold.controller, cert.bank),
        "pledge id": (body.meta.get("pledge"), cert.pledge_id),
        "certificate number": (body.meta.get("certificate_no"), cert.certificate_no),
    }
    for name, (recorded, claimed) in claims.items():
        if recorded != claimed:
            problems.append(f"{name}: the record says {recorded!r}, the certificate {claimed!r}")
    if body.postings:
        problems.append("a pledge registration moves no units")
    if not {cert.enterprise, cert.bank, cert.bureau} <= set(body.signers):
        problems.append("the body does not name enterprise, bank and bureau as signers")
    return len(problems) == before
