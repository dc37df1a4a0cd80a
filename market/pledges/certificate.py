"""Pledge certificates (排污权抵质押登记证明): one JSON file holding the signed registration record, its
inclusion proof to a signed checkpoint, the registry key, the signers' keys and the fields a person reads.

The file (``format`` ``ecoledger-pledge-certificate-v1``) is what the API, the CLI, the console and the
Python client all write and read. Checking it needs no database: every displayed field is compared with
the field the signed record implies (``displayed_fields``), so an edited quantity, enterprise, principal or
maturity fails and is named. What the pledge is *now* (released? enforced?) is ``standing_of``'s answer.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from accounts.identifiers import account_id
from accounts.model import Participant
from ledger.canonical import canonical_bytes
from ledger.crypto import TAG_BODY, TAG_REGISTRY, key_id_for, verify
from ledger.errors import DomainError
from ledger.journal import ParsedRecord, parse_line
from ledger.merkle import leaf_hash, verify_inclusion
from ledger.model import AccountKind, HoldPlace, Signature, TxBody, parse_body
from ledger.pledge_terms import (
    PLEDGE_REASON,
    PLEDGE_REGISTER,
    check_registration,
    has_signed_terms,
)
from ledger.rules import AccountInfo, KeyInfo
from ledger.service import Registry, keys_of_party, prove_inclusion
from ledger.timeutil import format_utc
from market.pledges.certificate_form import PartyKey, PledgeCertificate, Problem
from market.pledges.errors import PledgeStateConflict, UnknownPledge
from market.pledges.service import get_pledge
from market.pledges.tables import PledgeRow

__all__ = [
    "CertificateCheck",
    "PartyKey",
    "PledgeCertificate",
    "Problem",
    "build_certificate",
    "displayed_fields",
    "registry_certificate",
    "verify_certificate",
]


def _registration(rec: ParsedRecord) -> TxBody:
    body = parse_body(rec.body)
    if (
        not isinstance(body, TxBody)
        or body.action != PLEDGE_REGISTER
        or body.postings
        or not body.holds
        or not all(isinstance(h, HoldPlace) and h.reason == PLEDGE_REASON for h in body.holds)
    ):
        raise PledgeStateConflict(f"record {rec.seq} is not a pledge registration", seq=rec.seq)
    return body


def displayed_fields(rec: ParsedRecord) -> dict[str, Any]:
    """The fields a certificate shows, as the signed registration record states them. Records written
    before loan terms were signed show no names and ``loan: null``."""
    body = _registration(rec)
    meta, places = body.meta, [h for h in body.holds if isinstance(h, HoldPlace)]
    names = meta.get("names") if has_signed_terms(body) else None

    def name(role: str) -> Any:
        return names.get(role) if isinstance(names, dict) else None

    return {
        "pledge_id": meta.get("pledge"),
        "certificate_no": meta.get("certificate_no"),
        "enterprise": meta.get("enterprise"),
        "enterprise_name": name("enterprise"),
        "bank": meta.get("bank"),
        "bank_name": name("bank"),
        "bureau": meta.get("bureau"),
        "bureau_name": name("bureau"),
        "account": places[0].account,
        "lots": [
            {"instrument": h.instrument, "lot": h.lot.to_json(), "quantity_kg": h.amount} for h in places
        ],
        "quantity_kg": sum(h.amount for h in places),
        "loan": meta.get("loan") if has_signed_terms(body) else None,
        "registered_at": format_utc(rec.time),
        "seq": rec.seq,
        "record_hash": rec.hash.hex(),
    }


def build_certificate(
    session: Session, *, registry: Registry, actor: Participant, pledge_id: str
) -> PledgeCertificate:
    """The certificate of a registered pledge, for its parties and those who may read the pledged
    account. Signs a new checkpoint when none covers the record yet (so the caller commits)."""
    pledge = get_pledge(session, actor=actor, pledge_id=pledge_id)
    return registry_certificate(session, registry=registry, pledge_id=pledge.id)


def registry_certificate(session: Session, *, registry: Registry, pledge_id: str) -> PledgeCertificate:
    """The certificate as the registry itself makes it, for its own tools (``ecoledger prove
    --pledge``), with no participant's permission to check: whoever runs them holds the registry key."""
    row = session.get(PledgeRow, pledge_id)
    if row is None:
        raise UnknownPledge(f"no pledge {pledge_id}", pledge=pledge_id, field="pledge_id")
    if row.record_seq is None:
        raise PledgeStateConflict(f"pledge {pledge_id} is not registered in the journal", pledge=pledge_id)
    proof = prove_inclusion(session, seq=row.record_seq, registry=registry)
    rec = parse_line(proof.line)
    wanted = {(s.party, s.key_id) for s in _signatures(rec)}
    keys = tuple(
        PartyKey(k.party, k.key_id, k.public_key)
        for party in sorted({p for p, _ in wanted})
        for k in keys_of_party(session, party=party)
        if (party, k.key_id) in wanted
    )
    return PledgeCertificate(
        registry_public_key=registry.key.public,
        seq=proof.seq,
        record=proof.line,
        path=tuple(proof.path),
        checkpoint=proof.checkpoint,
        keys=keys,
        pledge=displayed_fields(rec),
    )


def _signatures(rec: ParsedRecord) -> list[Signature]:
    """The record's signatures, and the bureau's approval inside a body with signed terms."""
    sigs = list(rec.sigs)
    meta = rec.body.get("meta")
    approval = meta.get("approval") if isinstance(meta, dict) else None
    if approval is not None:
        # A malformed approval is named by the check, not hidden by the builder.
        with contextlib.suppress(DomainError):
            sigs.append(Signature.parse(approval, "meta.approval"))
    return sigs


@dataclass(frozen=True, slots=True)
class CertificateCheck:
    """The outcome of each check, every problem found (all are collected before answering), the
    registry key used, and the verified fields (``None`` unless the whole check passed)."""

    registry_public_key: bytes
    key_pinned: bool
    checkpoint_signed: bool
    included: bool
    sealed: bool
    signed_by_parties: bool
    pledge_matches: bool
    problems: tuple[Problem, ...]
    fields: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_certificate(
    cert: PledgeCertificate,
    registry_public_key: bytes | None = None,
    *,
    expected_quantity_kg: int | None = None,
) -> CertificateCheck:
    """Verify a certificate offline, with no database: the registry's signature on the checkpoint, the
    record's inclusion under its root (RFC 6962), the registry's seal on the record, the signatures of
    enterprise and bank on the body and of the bureau on its approval (on the body, in a record written
    before loan terms were signed), the ledger's own checks of the loan terms, and every displayed field
    against the record. ``registry_public_key`` is the key the caller pinned; without it the key the
    file names is used, and ``key_pinned`` says so.

    A valid certificate proves that the registry sealed this record at position ``seq`` under a signed
    checkpoint, signed by the parties under the keys the file lists (that those keys were valid then is
    the registry's word, given by its seal); not that the pledge is still in force: ask online."""
    problems: list[Problem] = []
    pinned = registry_public_key is not None
    key = registry_public_key if registry_public_key is not None else cert.registry_public_key
    if key != cert.registry_public_key:
        problems.append(
            Problem(
                "registry_public_key",
                "the file names another registry key than the one pinned",
                "other_registry_key",
            )
        )
    checkpoint_signed = cert.checkpoint.key_id == key_id_for(key) and cert.checkpoint.verifies_with(key)
    if not checkpoint_signed:
        problems.append(
            Problem("checkpoint", "the checkpoint is not signed by the registry key", "checkpoint_unsigned")
        )
    try:
        rec = parse_line(cert.record)
    except DomainError as exc:
        problems.append(
            Problem(
                "record",
                f"the record does not parse: {exc.message}",
                "record_unparsed",
                (("error", exc.code),),
            )
        )
        return CertificateCheck(
            key, pinned, checkpoint_signed, False, False, False, False, tuple(problems), None
        )
    included = rec.seq == cert.seq and verify_inclusion(
        leaf_hash(rec.hash), rec.seq, cert.checkpoint.tree_size, list(cert.path), cert.checkpoint.root
    )
    if rec.seq != cert.seq:
        problems.append(
            Problem(
                "seq",
                f"the file says record {cert.seq}, the record is {rec.seq}",
                "seq_mismatch",
                (("file_seq", str(cert.seq)), ("record_seq", str(rec.seq))),
            )
        )
    elif not included:
        problems.append(
            Problem(
                "path",
                f"record {rec.seq} is not included under the checkpoint's root",
                "not_included",
                (("seq", str(rec.seq)),),
            )
        )
    sealed = verify(key, TAG_REGISTRY, rec.hash, rec.registry_sig)
    if not sealed:
        problems.append(Problem("record", "the record is not sealed by the registry key", "not_sealed"))
    signed = _check_parties(cert, rec, problems)
    before = len(problems)
    fields = _fields_of(rec, problems)
    if fields is not None:
        _diff(cert.pledge, fields, "pledge", problems)
        if expected_quantity_kg is not None and fields["quantity_kg"] != expected_quantity_kg:
            problems.append(
                Problem(
                    "expected_quantity_kg",
                    f"the record pledges {fields['quantity_kg']} kg, not {expected_quantity_kg}",
                    "quantity_differs",
                    (("record_kg", str(fields["quantity_kg"])), ("expected_kg", str(expected_quantity_kg))),
                )
            )
    matches = fields is not None and len(problems) == before
    verified = fields if not problems else None
    return CertificateCheck(
        key, pinned, checkpoint_signed, included, sealed, signed, matches, tuple(problems), verified
    )


def _fields_of(rec: ParsedRecord, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        return displayed_fields(rec)
    except DomainError as exc:
        problems.append(Problem("record", exc.message, "record_unparsed", (("error", exc.code),)))
        return None


def _check_parties(cert: PledgeCertificate, rec: ParsedRecord, problems: list[Problem]) -> bool:
    """Enterprise and bank signed the body; the bureau signed its approval (checked, with the loan
    terms, by the ledger's own rule) or, in a record without signed terms, the body."""
    try:
        body = _registration(rec)
    except DomainError:
        return False  # named once, by the displayed fields' check
    keys = {(k.party, k.key_id): k.public_key for k in cert.keys if key_id_for(k.public_key) == k.key_id}
    verified: set[str] = set()
    before = len(problems)
    for i, sig in enumerate(rec.sigs):
        public = keys.get((sig.party, sig.key_id))
        if public is None:
            problems.append(
                Problem(
                    "keys",
                    f"lists no key {sig.key_id} of {sig.party}",
                    "key_not_listed",
                    (("key_id", sig.key_id), ("party", sig.party)),
                )
            )
        elif verify(public, TAG_BODY, rec.body_bytes, sig.sig):
            verified.add(sig.party)
        else:
            problems.append(
                Problem(
                    f"record.sigs[{i}]",
                    f"the signature of {sig.party} does not verify",
                    "signature_invalid",
                    (("party", sig.party),),
                )
            )
    meta = body.meta
    required = {meta.get("enterprise"), meta.get("bank"), meta.get("bureau")}
    if has_signed_terms(body):
        try:
            check_registration(body, _CertificateView(cert, meta), rec.time)
            verified.add(meta["bureau"])  # its approval verified inside the rule
        except DomainError as exc:
            problems.append(
                Problem(
                    f"record.body.{exc.details.get('field', 'meta')}",
                    exc.message,
                    "terms_invalid",
                    (("error", exc.code),),
                )
            )
    missing = sorted(str(p) for p in required - verified)
    if missing:
        problems.append(
            Problem(
                "record.sigs",
                f"no valid signature of {', '.join(missing)}",
                "signatures_missing",
                (("parties", ", ".join(missing)),),
            )
        )
    return len(problems) == before


def _diff(shown: Any, signed: Any, path: str, problems: list[Problem]) -> None:
    """Every difference between what the file shows and what the record says, named by its path."""
    if isinstance(signed, dict) and isinstance(shown, dict):
        for name in sorted(set(signed) | set(shown)):
            if name not in shown:
                problems.append(
                    Problem(
                        f"{path}.{name}",
                        f"is missing; the signed record says {signed[name]!r}",
                        "field_missing",
                        (("signed", _short(signed[name])),),
                    )
                )
            elif name not in signed:
                problems.append(Problem(f"{path}.{name}", "is not in the signed record", "field_extra"))
            else:
                _diff(shown[name], signed[name], f"{path}.{name}", problems)
    elif isinstance(signed, list) and isinstance(shown, list) and len(signed) == len(shown):
        for i, (a, b) in enumerate(zip(shown, signed, strict=True)):
            _diff(a, b, f"{path}[{i}]", problems)
    elif canonical_json(shown) != canonical_json(signed):
        problems.append(
            Problem(
                path,
                f"the certificate shows {_short(shown)}, the signed record says {_short(signed)}",
                "field_differs",
                (("shown", _short(shown)), ("signed", _short(signed))),
            )
        )


def canonical_json(value: Any) -> str:
    try:
        return canonical_bytes(value).decode()
    except (TypeError, ValueError):
        return repr(value)


def _short(value: Any) -> str:
    text = canonical_json(value)
    return text if len(text) <= 120 else text[:117] + "..."


class _CertificateView:
    """What ``check_registration`` reads, from the certificate alone: the owner of the pledged holding
    (by its id) and the keys the file lists (their validity then is the registry's word, by its seal)."""

    def __init__(self, cert: PledgeCertificate, meta: dict[str, Any]) -> None:
        self.keys = {k.key_id: k for k in cert.keys if key_id_for(k.public_key) == k.key_id}
        enterprise, bureau = meta.get("enterprise"), meta.get("bureau")
        self.enterprise = enterprise if isinstance(enterprise, str) else ""
        self.bureau = bureau if isinstance(bureau, str) else None

    def find_account(self, account: str) -> AccountInfo | None:
        if self.enterprise and account == account_id(self.enterprise, "holding"):
            return AccountInfo(account, self.enterprise, AccountKind.HOLDING)
        return None

    def find_key(self, key_id: str) -> KeyInfo | None:
        k = self.keys.get(key_id)
        return None if k is None else KeyInfo(k.party, k.key_id, k.public_key, _EVER)

    def bureau_of(self, jurisdiction: str) -> str | None:
        # Which bureau a jurisdiction has is in the journal's party records, not in the file: offline,
        # the bureau the sealed record names is taken (the registry checked it when it sealed).
        return self.bureau


_EVER = datetime.min.replace(tzinfo=UTC)
