"""docs/integration.md cannot rot: its code blocks are taken from the file and run, as a bank's developer
would run them, against the registry served over HTTP: a key made in Python, registered by the operator,
a transfer signed and sent; PyNaCl's signature equal to cryptography's; the same with openssl and curl."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import Engine
from sqlmodel import Session

from ledger.canonical import canonical_bytes
from ledger.model import Lot
from ledger.service import Instruction, Registry, balances, submit_all
from tests.api.conftest import HttpWorld
from tests.browser.conftest import _free_port
from tests.support import grant_rights

GUIDE = Path(__file__).parents[2] / "docs" / "integration.md"
BLOCK = re.compile(r"<!-- run: (?P<name>[a-z-]+) -->\n```(?P<lang>\w+)\n(?P<code>.*?)```", re.DOTALL)
LOT = Lot(jurisdiction="330281", valid_until=date(2030, 12, 31))
# The guide's example party: an enterprise whose link to the registry its bank's developer builds (a
# bank's own holding receives rights only by enforcement, and no plain transfer leaves it yet).
SENDER, TO = "yuyao_chem", "yuyao_dye"


def blocks() -> dict[str, tuple[str, str]]:
    """The guide's runnable blocks by name: (language, code)."""
    return {m["name"]: (m["lang"], m["code"]) for m in BLOCK.finditer(GUIDE.read_text())}


@dataclass
class Served:
    http: HttpWorld
    base: str


@pytest.fixture
def served(sqlite_engine: Engine, registry: Registry) -> Iterator[Served]:
    """The registry over HTTP on a free port; the sender's holding has 5 t/a of Yuyao COD."""
    http = HttpWorld(sqlite_engine, registry)
    bureau = http.who("yuyao")
    with Session(sqlite_engine) as s:
        bodies = grant_rights(bureau.party, f"{http.party(SENDER)}.holding", 5_000, LOT)
        submit_all(s, [Instruction.signed(b, (bureau.party, bureau.key)) for b in bodies], registry=registry)
        s.commit()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(http.client.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the server did not start")
        time.sleep(0.05)
    yield Served(http, f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=10)


def _env(served: Served, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "ECOLEDGER_URL": served.base,
        "ECOLEDGER_TOKEN": served.http.tokens[SENDER],
        "ECOLEDGER_PARTY": served.http.party(SENDER),
        "ECOLEDGER_TO": f"{served.http.party(TO)}.holding",
        **extra,
    }


def _run(name: str, cwd: Path, env: dict[str, str]) -> str:
    lang, code = blocks()[name]
    command = [sys.executable, "-c", code] if lang == "python" else ["bash", "-c", code]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _printed(out: str, label: str) -> str:
    found = re.search(rf"^{label} (\S+)$", out, re.MULTILINE)
    assert found, f"no {label} in {out!r}"
    return found.group(1)


def _register(served: Served, public_key: str) -> None:
    """What the operator does with the public key the developer sends."""
    party = served.http.party(SENDER)
    r = served.http.post("operator", f"/v1/participants/{party}/keys", {"public_key": public_key})
    assert r.status_code == 200, r.text


def _cod(served: Served, alias: str) -> int:
    with Session(served.http.engine) as s:
        account = f"{served.http.party(alias)}.holding"
        return sum(b.total for b in balances(s, account=account) if b.instrument == "COD")


def _signed_by(served: Served, seq: int) -> list[dict[str, object]]:
    page = served.http.get("auditor", "/v1/journal", params={"start": seq, "limit": 1})
    return list(json.loads(page.text.splitlines()[0])["record"]["sigs"])


def test_the_guide_names_each_step_it_runs() -> None:
    assert set(blocks()) == {"py-keygen", "py-transfer", "py-nacl", "sh-keygen", "sh-transfer"}
    assert "ecoledger-body-v1" in GUIDE.read_text()


def test_a_transfer_signed_in_python_as_the_guide_says_is_accepted(served: Served, tmp_path: Path) -> None:
    env = _env(served)
    out = _run("py-keygen", tmp_path, env)
    _register(served, _printed(out, "public_key"))
    receipt = json.loads(_run("py-transfer", tmp_path, env))
    assert receipt["replayed"] is False
    assert (_cod(served, SENDER), _cod(served, TO)) == (3_800, 1_200)
    (sig,) = _signed_by(served, receipt["seq"])
    assert sig["key_id"] == _printed(out, "key_id")
    assert "custody" not in sig  # the party's own key, not one the registry holds
    assert _run("py-nacl", tmp_path, env).strip() == "same signature"


@pytest.mark.skipif(
    not (shutil.which("openssl") and shutil.which("curl") and shutil.which("basenc")),
    reason="openssl, curl or basenc is not installed",
)
def test_a_transfer_signed_with_openssl_as_the_guide_says_is_accepted(served: Served, tmp_path: Path) -> None:
    version = subprocess.run(["openssl", "version"], capture_output=True, text=True, check=False).stdout
    if not re.match(r"OpenSSL [3-9]\.", version):
        pytest.skip(f"pkeyutl -rawin needs OpenSSL 3: {version.strip()}")
    env = _env(served, LOT_JURISDICTION="330281", LOT_VALID_UNTIL="2030-12-31")
    out = _run("sh-keygen", tmp_path, env)
    _register(served, _printed(out, "public_key"))
    receipt = json.loads(_run("sh-transfer", tmp_path, env))
    assert (_cod(served, SENDER), _cod(served, TO)) == (3_800, 1_200)
    (sig,) = _signed_by(served, receipt["seq"])
    assert sig["key_id"] == _printed(out, "key_id")
    # the shell wrote the canonical bytes by hand: they are the registry's own encoding of the body
    body = json.loads((tmp_path / "body.json").read_text())
    assert canonical_bytes(body) == (tmp_path / "body.json").read_bytes()


def test_signing_without_the_prefix_is_refused_as_the_guide_warns(served: Served, tmp_path: Path) -> None:
    env = _env(served)
    _register(served, _printed(_run("py-keygen", tmp_path, env), "public_key"))
    _, code = blocks()["py-transfer"]
    unprefixed = code.replace('key.sign(b"ecoledger-body-v1\\x00" + jcs)', "key.sign(jcs)")
    assert unprefixed != code
    done = subprocess.run(
        [sys.executable, "-c", unprefixed], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
    assert "422" in done.stderr
    assert _cod(served, SENDER) == 5_000
