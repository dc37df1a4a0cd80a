"""The pledge certificate file (排污权抵质押登记证明) end to end, on SQLite and PostgreSQL: downloaded
through the API, checked by the CLI, the console and the Python client; every edited field named by
all of them; a released pledge reported as released online; the printable PDF rendered and read."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from datetime import date
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from api import cli_certificate
from api.cli import main
from api.client import Client
from ledger.canonical import canonical_bytes
from ledger.crypto import b64e
from tests.api.conftest import HttpWorld, error_of
from tests.api.module_world import grant, module_http
from tests.api.test_console import login

pytestmark = pytest.mark.xdist_group("api_certificates")
http = module_http
_days = count(1)
NUMBER = "余排污质〔2026〕第018号"
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"


def _registered(http: HttpWorld, kg: int) -> dict[str, Any]:
    """A pledge of ``kg`` through the four steps (custody keys), on a lot of its own."""
    until = date(2031, 1, next(_days))
    grant(http, "yuyao", "yuyao_chem", 2 * kg, until=until)
    lot = {"jurisdiction": "330281", "valid_until": until.isoformat()}
    apply = {"bank": http.party("bank_yuyao"), "instrument": "COD", "lot": lot, "quantity_kg": kg}
    p = http.post("yuyao_chem", "/v1/pledges", apply).json()
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("yuyao", "approve", {"approved_kg": kg, "certificate_no": NUMBER}),
        (
            "bank_yuyao",
            "loan",
            {"loan_id": f"YY-LN-{p['id']}", "amount_fen": kg * 1_000, "rate_bp": 385, "term_months": 36},
        ),
        ("yuyao_chem", "confirm", {}),
    ]
    for alias, step, body in steps:
        r = http.post(alias, f"/v1/pledges/{p['id']}/{step}", body)
        assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _download(http: HttpWorld, pledge_id: str) -> bytes:
    r = http.get("bank_yuyao", f"/v1/pledges/{pledge_id}/certificate")
    assert (r.status_code, r.headers["content-type"]) == (200, "application/json"), r.text
    return r.content


def _cli(capsys: pytest.CaptureFixture[str], path: Path, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["audit", "certificate", str(path), *args])
    return code, capsys.readouterr().out


def _console(http: HttpWorld, text: str) -> str:
    """The bank_ningbo console's checker: a bank handed a certificate by the enterprise."""
    r = login(http, "bank_ningbo").post("/console/bank/certificate", data={"certificate": text})
    return r.text


def _key(http: HttpWorld) -> str:
    return b64e(http.registry.key.public)


def test_the_file_downloaded_through_the_api_verifies_with_the_cli_the_console_and_the_client(
    http: HttpWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = _registered(http, 1_500)
    raw = _download(http, p["id"])
    cert = json.loads(raw)
    assert canonical_bytes(cert) == raw  # served canonical, so its SHA-256 is the file's
    assert (cert["format"], cert["seq"], cert["registry_public_key"]) == (
        "ecoledger-pledge-certificate-v1",
        p["record_seq"],
        _key(http),
    )
    assert cert["pledge"]["loan"]["principal_fen"] == 1_500_000
    path = tmp_path / "certificate.json"
    path.write_bytes(raw)

    code, out = _cli(capsys, path, f"--registry-key={_key(http)}")
    assert code == 0, out
    assert "pinned by --registry-key" in out
    for shown in (
        NUMBER,
        "余姚示例化工",
        "1.500 t",
        "15,000.00 CNY (1,500,000 fen)",
        "3.85% a year",
        "36 months",
    ):
        assert shown in out, shown

    page = _console(http, raw.decode())
    assert "证书有效" in page
    assert NUMBER in page
    assert 'data-status="active"' in page

    with Client("http://testserver", http.tokens["bank_yuyao"], http=http.client) as lender:
        assert lender.pledge_certificate(p["id"]) == cert
        assert lender.pledge_certificate_pdf(p["id"]).startswith(b"%PDF-")
    with Client("http://testserver", http.tokens["bank_ningbo"], http=http.client) as client:
        assert client.check_certificate_offline(cert, http.registry.key.public).ok
        online = client.check_certificate(cert)
    assert (online["result"], online["standing"]["status"]) == ("valid", "active")
    assert online["standing"]["changed_seq"] == p["record_seq"]
    assert online["fields"]["certificate_no"] == NUMBER
    # the console's download is the same file
    assert login(http, "bank_yuyao").get(f"/console/bank/pledges/{p['id']}/certificate.json").content == raw


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(cert: dict[str, Any]) -> None:
        target = cert["pledge"]
        *parents, last = path.replace("[0]", ".0").split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return edit


EDITS = [
    ("pledge.quantity_kg", _set("quantity_kg", 20_000)),  # 20 t shown for 1.5 t pledged
    ("pledge.lots[0].quantity_kg", _set("lots[0].quantity_kg", 20_000)),
    ("pledge.enterprise", _set("enterprise", "ent:91330281EXAMPLE22K")),
    ("pledge.enterprise_name", _set("enterprise_name", "别的企业")),
    ("pledge.bank", _set("bank", "bank:91330200EXAMPLE541")),
    ("pledge.loan.principal_fen", _set("loan.principal_fen", 99_900_000)),  # a loan of 999,000 CNY
    ("pledge.loan.maturity", _set("loan.maturity", "2035-12-31")),
    ("pledge.certificate_no", _set("certificate_no", "余排污质〔2026〕第019号")),
]


def test_editing_any_displayed_field_fails_in_the_cli_the_console_and_the_api_naming_it(
    http: HttpWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = _download(http, _registered(http, 1_500)["id"])
    for field, edit in EDITS:
        cert = json.loads(raw)
        edit(cert)
        path = tmp_path / "edited.json"
        path.write_text(json.dumps(cert, ensure_ascii=False))
        code, out = _cli(capsys, path, f"--registry-key={_key(http)}")
        assert code == 1, (field, out)
        assert f"  {field}: the certificate shows" in out, (field, out)
        page = _console(http, json.dumps(cert, ensure_ascii=False))
        assert "证书无效" in page
        assert f"<code>{field}</code>" in page, field
        r = http.post("bank_ningbo", "/v1/certificates/verify", cert)
        assert r.json()["result"] == "invalid"
        assert [p["field"] for p in r.json()["problems"]] == [field]
        assert r.json()["standing"] is None  # nothing is said online about an invalid certificate


def test_a_released_pledge_checks_as_released_online(
    http: HttpWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    p = _registered(http, 1_500)
    raw = _download(http, p["id"])
    path = tmp_path / "certificate.json"
    path.write_bytes(raw)
    monkeypatch.setattr(
        cli_certificate, "online_client", lambda url, token: Client(url, token, http=http.client)
    )
    online = ("--online", "http://testserver", "--token", http.tokens["bank_ningbo"])

    def standing() -> dict[str, Any]:
        r = http.post("bank_ningbo", "/v1/certificates/verify", json.loads(raw))
        assert r.json()["result"] == "valid", r.text
        return r.json()["standing"]  # type: ignore[no-any-return]

    r = http.post("bank_yuyao", f"/v1/pledges/{p['id']}/release", {"quantity_kg": 500})
    assert r.status_code == 200, r.text
    part = http.head() - 1
    assert standing() == {
        "status": "partly_released",
        "pledged_kg": 1_500,
        "held_kg": 1_000,
        "released_kg": 500,
        "enforced_kg": 0,
        "changed_seq": part,
    }
    assert 'data-status="partly_released"' in _console(http, raw.decode())
    code, out = _cli(capsys, path, *online)
    assert code == 0, out
    assert f"status now    partly released, 1.000 t still held (record {part})" in out

    assert http.post("bank_yuyao", f"/v1/pledges/{p['id']}/release", {}).status_code == 200
    done = http.head() - 1
    assert (standing()["status"], standing()["held_kg"], standing()["changed_seq"]) == ("released", 0, done)
    page = _console(http, raw.decode())
    assert 'data-status="released"' in page
    assert "已解押" in page
    code, out = _cli(capsys, path, *online)
    assert code == 0, out
    assert f"status now    released (record {done})" in out
    code, out = _cli(capsys, path)  # offline it still proves the registration, and says it did not ask
    assert code == 0
    assert "not asked (offline)" in out


def test_a_malformed_file_is_refused_naming_the_field_without_internals(
    http: HttpWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = json.loads(_download(http, _registered(http, 200)["id"]))
    wrapped = {"certificate": good, "registry_public_key": good["registry_public_key"]}  # the old answer
    no_record = {k: v for k, v in good.items() if k != "record"}
    bad_key = {**good, "keys": [{"party": "x", "key_id": "y"}]}
    bad_node = {**good, "path": ["zz"]}
    for damaged, field in (
        (wrapped, "format"),
        (no_record, "record"),
        (bad_key, "keys[0]"),
        (bad_node, "path[0]"),
        ({**good, "seq": True}, "seq"),
    ):
        r = http.post("bank_ningbo", "/v1/certificates/verify", damaged)
        assert (r.status_code, error_of(r)["code"], error_of(r)["details"]["field"]) == (
            422,
            "malformed_certificate",
            field,
        )
        assert "Error(" not in error_of(r)["message"], error_of(r)["message"]
        path = tmp_path / "damaged.json"
        path.write_text(json.dumps(damaged))
        code, out = _cli(capsys, path)
        assert code == 1
        assert "FAILED" in out
        assert "Error(" not in out
    assert http.client.post("/v1/certificates/verify", json=good).status_code == 401


def test_the_printable_certificate_is_a_pdf_in_chinese_and_english(http: HttpWorld, tmp_path: Path) -> None:
    p = _registered(http, 1_500)
    r = http.get("bank_yuyao", f"/v1/pledges/{p['id']}/certificate.pdf")
    assert (r.status_code, r.headers["content-type"]) == (200, "application/pdf")
    assert r.content.startswith(b"%PDF-")
    # the file is larger than one QR code holds, so the code holds its SHA-256 and URL, and says so
    assert r.headers["x-certificate-qr"] == "hash"
    assert r.headers["x-certificate-sha256"] == hashlib.sha256(_download(http, p["id"])).hexdigest()
    assert http.get("bank_ningbo", f"/v1/pledges/{p['id']}/certificate.pdf").status_code == 403
    console = login(http, "yuyao_chem").get(f"/console/bank/pledges/{p['id']}/certificate.pdf")
    assert (console.status_code, console.headers["content-type"]) == (200, "application/pdf")
    if shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils (pdftotext, pdftoppm) is not installed")
    pdf = tmp_path / "certificate.pdf"
    pdf.write_bytes(r.content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True
    ).stdout.decode()
    for shown in (
        "排污权抵质押登记证明",
        "Pledge Registration Certificate",
        NUMBER,
        "余姚示例化工",
        "1.500 t",
        "3.85%",
    ):
        assert shown in text, shown
    for part in ("¥15,000.00", "有效 active", "SHA-256"):
        assert part in text, part
    ARTIFACTS.mkdir(exist_ok=True)
    stem = ARTIFACTS / f"pledge-certificate-{http.engine.dialect.name}"
    subprocess.run(["pdftoppm", "-png", "-r", "110", "-singlefile", str(pdf), str(stem)], check=True)
    assert stem.with_suffix(".png").stat().st_size > 10_000
