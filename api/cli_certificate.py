"""The pledge certificate on the command line: ``ecoledger prove --pledge ID FILE`` writes the file,
``ecoledger audit certificate FILE`` checks it offline (optionally online too) and can print it as a PDF.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session

from api.certificate_pdf import render_certificate_pdf
from api.client import ApiError, Client
from ledger.crypto import b64e
from ledger.errors import DomainError
from ledger.service import Registry
from market.pledges.certificate import (
    CertificateCheck,
    PledgeCertificate,
    registry_certificate,
    verify_certificate,
)
from market.pledges.standing import Standing

__all__ = ["check_pledge_certificate", "describe", "online_client", "write_pledge_certificate"]


def write_pledge_certificate(
    session: Session, *, registry: Registry, pledge_id: str, out: Path, pdf: Path | None
) -> int:
    """Write the certificate file of ``pledge_id`` (canonical JSON, as the API serves it) and,
    with ``pdf``, its printable form. The caller commits (a checkpoint may have been signed)."""
    try:
        cert = registry_certificate(session, registry=registry, pledge_id=pledge_id)
    except DomainError as exc:
        print(f"FAILED: {exc.message}")
        return 1
    out.write_bytes(cert.file_bytes())
    print(
        f"pledge certificate of {pledge_id} (record {cert.seq}, "
        f"checkpoint {cert.checkpoint.tree_size}) -> {out}"
    )
    if pdf is not None:
        check = verify_certificate(cert, registry.key.public)
        pdf.write_bytes(render_certificate_pdf(cert, check).pdf)
        print(f"printable certificate -> {pdf}")
    return 0


def online_client(url: str, token: str) -> Client:
    """The client that asks the registry for the pledge's status now (a test replaces it)."""
    return Client(url, token=token)


def check_pledge_certificate(
    obj: Any,
    *,
    pinned: bytes | None,
    online: str | None = None,
    token: str | None = None,
    pdf: Path | None = None,
) -> int:
    """Check a pledge certificate file offline and print every field it proves; with ``online``, also
    ask that registry what the pledge is now; with ``pdf``, print a verified certificate to a PDF."""
    try:
        cert = PledgeCertificate.from_json(obj)
    except DomainError as exc:
        print(f"FAILED: not a pledge certificate: {exc.message}")
        return 1
    check = verify_certificate(cert, pinned)
    where = "pinned by --registry-key" if pinned else "from the certificate: NOT independently pinned"
    print(f"registry key {b64e(check.registry_public_key)} ({where})")
    if not check.ok:
        print("FAILED: the certificate does not verify")
        for problem in check.problems:
            print(f"  {problem.field}: {problem.message}")
        return 1
    standing = None
    if online:
        standing = _ask_online(online, token, obj, pinned)
        if standing is None:
            return 1
    print(describe(cert, check, standing))
    if pdf is not None:
        url = (
            f"{online.rstrip('/')}/v1/pledges/{check.fields['pledge_id']}/certificate"
            if online and check.fields
            else None
        )
        out = render_certificate_pdf(cert, check, url=url, standing=standing)
        pdf.write_bytes(out.pdf)
        holds = (
            "the certificate file" if out.qr_holds == "file" else "the file's SHA-256 (too large for a QR)"
        )
        print(f"printable certificate -> {pdf} (its QR code holds {holds})")
    return 0


def _ask_online(url: str, token: str | None, obj: Any, pinned: bytes | None) -> Standing | None:
    token = token or os.environ.get("ECOLEDGER_TOKEN")
    if not token:
        print("FAILED: --online needs an access key: --token or $ECOLEDGER_TOKEN")
        return None
    try:
        with online_client(url, token) as client:
            answer = client.check_certificate(obj, registry_public_key=b64e(pinned) if pinned else None)
    except (ApiError, httpx.HTTPError, OSError) as exc:
        print(f"FAILED: the registry at {url} did not answer: {exc}")
        return None
    if answer.get("result") != "valid" or answer.get("standing") is None:
        print(f"FAILED: the registry at {url} does not confirm it: {answer.get('problems')}")
        return None
    return Standing(**answer["standing"])


def _t(kg: int) -> str:
    return f"{kg // 1000:,}.{kg % 1000:03d} t"


def describe(cert: PledgeCertificate, check: CertificateCheck, standing: Standing | None) -> str:
    """The verified fields, one per line, as a person reads them."""
    f = check.fields
    assert f is not None
    lines = [
        f"OK: pledge certificate {f['certificate_no']} verified offline "
        "(checkpoint, inclusion, seal, signatures, loan terms, every field)",
        f"  pledge        {f['pledge_id']}",
        f"  certificate   {f['certificate_no']}",
    ]
    for role, label in (("enterprise", "enterprise"), ("bank", "bank"), ("bureau", "approved by")):
        name = f.get(f"{role}_name")
        lines.append(f"  {label:<13} {name + ' ' if name else ''}({f[role]})")
    for lot in f["lots"]:
        where = f"{lot['lot'].get('jurisdiction', '')}, valid until {lot['lot'].get('valid_until', '-')}"
        lines.append(f"  pledged       {lot['instrument']} {_t(lot['quantity_kg'])} ({where})")
    loan = f["loan"]
    if loan is None:
        lines.append("  loan          not in the record (written before loan terms were signed)")
    else:
        fen = loan["principal_fen"]
        lines.append(
            f"  loan          {loan['loan_id']}: principal {fen // 100:,}.{fen % 100:02d} CNY ({fen:,} fen), "
            f"{loan['rate_bp'] // 100}.{loan['rate_bp'] % 100:02d}% a year, "
            f"{loan['term_months']} months {loan['start']} to {loan['maturity']}"
        )
    lines += [
        f"  registered    {f['registered_at']}, record {f['seq']}, hash {f['record_hash']}",
        f"  checkpoint    {cert.checkpoint.tree_size:,} records, root {cert.checkpoint.root.hex()}",
    ]
    if standing is None:
        lines.append("  status now    not asked (offline); --online URL asks the registry")
    else:
        text = standing.status.replace("_", " ")
        if standing.status == "partly_released":
            text += f", {_t(standing.held_kg)} still held"
        lines.append(f"  status now    {text} (record {standing.changed_seq})")
    return "\n".join(lines)
