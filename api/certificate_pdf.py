"""The printable pledge certificate (排污权抵质押登记证明): an A4 PDF in Chinese and English with the
verified fields, the record's hash and a QR code, drawn from a certificate file that has passed its check.

reportlab's built-in CID font STSong-Light sets the Chinese text (a PDF viewer supplies the glyphs, so no
font file ships); segno computes the QR code, drawn here as vector squares. The QR code holds the whole
certificate file when it fits in one code, else the file's SHA-256 and where to fetch it; the page says which.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import timedelta, timezone
from typing import Any, Final

import segno
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import KeepTogether

from ledger.crypto import b64e, key_id_for
from ledger.timeutil import parse_utc
from market.pledges.certificate import CertificateCheck, PledgeCertificate
from market.pledges.standing import Standing

__all__ = ["QR_FILE_LIMIT", "CertificatePdf", "qr_payload", "render_certificate_pdf"]

FONT: Final = "STSong-Light"
QR_FILE_LIMIT: Final = 2_953  # bytes of binary data in the largest QR code (version 40, level L)
_KG_PER_T: Final = 1_000


@dataclass(frozen=True, slots=True)
class CertificatePdf:
    """The PDF, and what its QR code holds: ``"file"`` (the certificate itself) or ``"hash"``."""

    pdf: bytes
    qr_holds: str
    file_sha256: str


def qr_payload(cert: PledgeCertificate, *, url: str | None) -> tuple[bytes, str]:
    """What the QR code encodes: the certificate file (canonical JSON) when it fits in one code, else
    its SHA-256 and, when known, the URL it is fetched from. Returns (payload, ``file`` or ``hash``)."""
    data = cert.file_bytes()
    if len(data) <= QR_FILE_LIMIT:
        return data, "file"
    digest = hashlib.sha256(data).hexdigest()
    lines = ["ecoledger-pledge-certificate-v1", f"sha256:{digest}"]
    if url:
        lines.append(url)
    return "\n".join(lines).encode(), "hash"


class _QrCode(Flowable):
    """A QR code as vector squares (crisp at any zoom; no imaging library)."""

    def __init__(self, payload: bytes, size: float) -> None:
        super().__init__()
        self.qr = segno.make(payload, error="m" if len(payload) < 1_000 else "l", micro=False)
        self.size = size
        self.width = self.height = size

    def draw(self) -> None:
        matrix = list(self.qr.matrix_iter(border=2))
        cell = self.size / len(matrix)
        self.canv.setFillColor(colors.black)
        for row, line in enumerate(matrix):
            for col, dark in enumerate(line):
                if dark:
                    y = self.size - (row + 1) * cell
                    self.canv.rect(col * cell, y, cell, cell, stroke=0, fill=1)


def _t(kg: int) -> str:
    return f"{kg // _KG_PER_T:,}.{kg % _KG_PER_T:03d} t"


def _yuan(fen: int) -> str:
    return f"¥{fen // 100:,}.{fen % 100:02d}"


def _beijing(utc_text: str) -> str:
    """The record's UTC time, and the same instant in Beijing time (UTC+8), as people there read it."""
    moment = parse_utc(utc_text)
    local = moment.astimezone(timezone(timedelta(hours=8)))
    return f"北京时间 {local:%Y-%m-%d %H:%M:%S} (UTC+8) | {utc_text}"


def _percent(bp: int) -> str:
    return f"{bp // 100}.{bp % 100:02d}%"


def _party(fields: dict[str, Any], role: str) -> str:
    name = fields.get(f"{role}_name")
    return f"{name}<br/><font size=7>{fields[role]}</font>" if name else str(fields[role])


def _rows(
    cert: PledgeCertificate, check: CertificateCheck, standing: Standing | None
) -> list[tuple[str, str]]:
    f = check.fields
    assert f is not None
    lots = "<br/>".join(
        f"{lot['instrument']} {_t(lot['quantity_kg'])} | {lot['lot'].get('jurisdiction', '')} | "
        f"有效期至 valid until {lot['lot'].get('valid_until', '—')}"
        for lot in f["lots"]
    )
    rows = [
        ("证明编号<br/>Certificate no.", f["certificate_no"]),
        ("出质人<br/>Pledgor", _party(f, "enterprise")),
        ("质权人<br/>Pledgee (bank)", _party(f, "bank")),
        ("登记机关<br/>Approved by", _party(f, "bureau")),
        ("质押标的<br/>Pledged rights", lots),
        ("质押数量合计<br/>Total pledged", _t(f["quantity_kg"])),
    ]
    loan = f["loan"]
    if loan is None:
        rows.append(
            ("贷款<br/>Loan", "登记记录未载明贷款条款（早期记录）<br/>The record predates signed loan terms")
        )
    else:
        rows += [
            ("贷款编号<br/>Loan no.", loan["loan_id"]),
            ("贷款本金<br/>Principal", f"{_yuan(loan['principal_fen'])} ({loan['principal_fen']:,} fen)"),
            ("年利率<br/>Annual rate", _percent(loan["rate_bp"])),
            (
                "贷款期限<br/>Term",
                f"{loan['term_months']} 个月 months: {loan['start']} — 到期日 maturity {loan['maturity']}",
            ),
        ]
    rows += [
        ("登记时间<br/>Registered", _beijing(f["registered_at"])),
        ("登记记录<br/>Journal record", f"#{f['seq']} | SHA-256 {f['record_hash']}"),
        (
            "检查点<br/>Checkpoint",
            f"{cert.checkpoint.tree_size:,} 条记录 records | root {cert.checkpoint.root.hex()}",
        ),
        (
            "登记中心公钥<br/>Registry key",
            f"{b64e(check.registry_public_key)} (key id {key_id_for(check.registry_public_key)})",
        ),
    ]
    if standing is not None:
        rows.append(("当前状态<br/>Status now", _standing_text(standing)))
    return rows


_STATUS: Final = {
    "active": "有效 active",
    "partly_released": "部分解押 partly released",
    "released": "已解押 released",
    "enforced": "已强制执行 enforced",
    "forced_auction": "拍卖处置中 marked for forced auction",
    "unknown": "未知 unknown",
}


def _standing_text(s: Standing) -> str:
    text = _STATUS.get(s.status, s.status)
    if s.status == "partly_released":
        text += f" | 仍质押 still held {_t(s.held_kg)}"
    if s.changed_seq is not None:
        text += f" | 记录 record #{s.changed_seq}"
    return text


def render_certificate_pdf(
    cert: PledgeCertificate,
    check: CertificateCheck,
    *,
    url: str | None = None,
    standing: Standing | None = None,
) -> CertificatePdf:
    """The certificate as an A4 PDF; only a certificate whose check passed is printed."""
    if not check.ok or check.fields is None:
        raise ValueError("only a verified certificate is printed")
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    style = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12, wordWrap="CJK")
    title = ParagraphStyle("title", parent=style, fontSize=18, leading=24, alignment=1)
    small = ParagraphStyle("small", parent=style, fontSize=7.5, leading=10)
    payload, holds = qr_payload(cert, url=url)
    table = Table(
        [[Paragraph(k, style), Paragraph(v, style)] for k, v in _rows(cert, check, standing)],
        colWidths=[38 * mm, 132 * mm],
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    said = _qr_caption(holds, url)
    digest = hashlib.sha256(cert.file_bytes()).hexdigest()
    story = [
        Paragraph("排污权抵质押登记证明", title),
        Paragraph(
            "Pledge Registration Certificate of Pollutant Discharge Rights",
            ParagraphStyle("s", parent=title, fontSize=11, leading=16),
        ),
        Spacer(1, 6 * mm),
        table,
        Spacer(1, 5 * mm),
        KeepTogether(
            [
                Table(
                    [[_QrCode(payload, 48 * mm), Paragraph(_verification_text(said, digest), small)]],
                    colWidths=[54 * mm, 116 * mm],
                    style=[("VALIGN", (0, 0), (-1, -1), "TOP")],
                )
            ]
        ),
    ]
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"排污权抵质押登记证明 {check.fields['certificate_no']}",
        author="ecoledger",
    )
    doc.build(story)
    return CertificatePdf(out.getvalue(), holds, digest)


def _qr_caption(holds: str, url: str | None) -> str:
    if holds == "file":
        return "二维码内容：本证明文件（JSON）全文。QR code: the whole certificate file (JSON)."
    where = f"及下载地址 {url}" if url else ""
    fetch = f" and where to fetch it, {url}" if url else ""
    return (
        f"二维码内容：证明文件的 SHA-256{where}（文件过大，无法放入一个二维码）。"
        f"QR code: the SHA-256 of the certificate file{fetch} (the file is too large for one code)."
    )


def _verification_text(said: str, digest: str) -> str:
    return (
        f"{said}<br/><br/>证明文件 SHA-256 / certificate file SHA-256:<br/>{digest}<br/><br/>"
        "本页所列各项均已与登记中心签章的日志记录逐项核对：检查点签名、包含证明、登记中心签章、企业与银行的签名、"
        "生态环境部门的核准签名。核验：ecoledger audit certificate 文件 --registry-key=公钥。<br/>"
        "Every field above was checked against the registry-sealed journal record: checkpoint signature, "
        "inclusion proof, registry seal, the enterprise's and the bank's signatures and the bureau's "
        "approval. "
        "Check the file yourself: ecoledger audit certificate FILE --registry-key=KEY."
    )
