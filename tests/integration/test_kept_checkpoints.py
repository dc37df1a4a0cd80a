"""A kept checkpoint is checked as the bytes that were signed: any edit to them (a capital in the
root, a re-spelled key id, white space, another key order, a changed value) fails both
`ecoledger db check-checkpoint` and `ecoledger audit verify --checkpoints`. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import Session

from api.cli import main
from ledger.checkpoint import Checkpoint
from ledger.errors import MalformedRecord
from ledger.service import make_checkpoint
from tests.integration.test_registry_key import url_of
from tests.support import World


def _edit(field: str, value: object) -> Callable[[bytes], bytes]:
    def edit(line: bytes) -> bytes:
        obj = json.loads(line)
        obj[field] = value(obj[field]) if callable(value) else value
        return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()

    return edit


ALTERATIONS: dict[str, Callable[[bytes], bytes]] = {
    "root in capitals": _edit("root", str.upper),
    "root with a space": _edit("root", lambda r: r[:32] + " " + r[32:]),
    "key id padded": _edit("key_id", lambda k: k + "=="),
    "key id in standard base64": _edit("key_id", lambda k: k.replace("-", "+").replace("_", "/") + "+"),
    "signature padded": _edit("signature", lambda s: s + "=="),
    "white space": lambda line: line.replace(b",", b", "),
    "key order of the first API": lambda line: json.dumps(
        {k: json.loads(line)[k] for k in ("tree_size", "root", "time", "key_id", "signature")},
        separators=(",", ":"),
    ).encode(),
    "CRLF line end": lambda line: line + b"\r",
    "tree size": _edit("tree_size", lambda n: n - 1),
    "time": _edit("time", lambda t: t[:-2] + ("1Z" if t[-2] != "1" else "2Z")),
    "root changed": _edit("root", lambda r: ("0" if r[0] != "0" else "1") + r[1:]),
    "signature changed": _edit("signature", lambda s: ("A" if s[0] != "A" else "B") + s[1:]),
}


@pytest.fixture
def kept(world: World, tmp_path: Path) -> tuple[World, bytes, list[str]]:
    """A journal, a checkpoint kept as its served line, and the bundle an auditor exported."""
    world.issue("ent:a.h", 700)
    world.issue("ent:b.h", 300)
    with Session(world.engine) as s:
        cp = make_checkpoint(s, registry=world.registry)
        s.commit()
    (tmp_path / "registry-key.pem").write_bytes(world.registry.key.to_pem())
    cli = ["--db", url_of(world.engine), "--key", str(tmp_path / "registry-key.pem")]
    assert main([*cli, "export", str(tmp_path / "bundle")]) == 0
    return world, cp.line(), cli


def test_the_kept_line_as_served_passes_both_checks(
    kept: tuple[World, bytes, list[str]], tmp_path: Path
) -> None:
    _, line, cli = kept
    (tmp_path / "kept.jsonl").write_bytes(line + b"\n")
    assert main([*cli, "db", "check-checkpoint", str(tmp_path / "kept.jsonl")]) == 0
    assert (
        main(["audit", "verify", str(tmp_path / "bundle"), "--checkpoints", str(tmp_path / "kept.jsonl")])
        == 0
    )


def _fails(argv: list[str]) -> None:
    """The command refuses: an exit with a message, or status 1 (its message is on stdout)."""
    status: object
    try:
        status = main(argv)
    except SystemExit as stop:
        status = stop.code
    assert status not in (0, None)


@pytest.mark.parametrize("alteration", sorted(ALTERATIONS))
def test_an_altered_kept_checkpoint_fails_both_checks(
    kept: tuple[World, bytes, list[str]], tmp_path: Path, alteration: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, line, cli = kept
    altered = ALTERATIONS[alteration](line)
    assert altered != line
    (tmp_path / "kept.jsonl").write_bytes(altered + b"\n")
    _fails([*cli, "db", "check-checkpoint", str(tmp_path / "kept.jsonl")])
    _fails(["audit", "verify", str(tmp_path / "bundle"), "--checkpoints", str(tmp_path / "kept.jsonl")])
    out = capsys.readouterr().out
    assert "VERIFIED" not in out
    assert "OK:" not in out


@pytest.mark.parametrize(
    "alteration",
    [a for a in sorted(ALTERATIONS) if a not in ("tree size", "time", "root changed", "signature changed")],
)
def test_a_re_encoded_checkpoint_is_refused_as_malformed_not_re_encoded(
    kept: tuple[World, bytes, list[str]], alteration: str
) -> None:
    _, line, _ = kept
    with pytest.raises(MalformedRecord):
        Checkpoint.from_line(ALTERATIONS[alteration](line))
