"""Export a bundle and verify it offline: the demo verifies clean, and each tampering is named.

The tamperers: an outsider who edits files (changed quantity, dropped or reordered records, a forged
seal, a rewritten checkpoint) and an insider holding the registry key, who can re-seal the chain
but not forge a party's consent, not revive a revoked key, and not fool a checkpoint kept elsewhere.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from ledger.audit import verify_bundle
from ledger.bundle import CHECKPOINTS, JOURNAL, KEYS, MANIFEST, export_bundle, record_core, write_bundle
from ledger.checkpoint import Checkpoint
from ledger.crypto import TAG_BODY, TAG_REGISTRY, SigningKey
from ledger.journal import SealedRecord, parse_line, seal
from ledger.merkle import root_of
from ledger.model import Posting, RevokeKey, Signature, TxBody
from ledger.service import Registry, init_ledger, make_checkpoint, positions
from tests import audit_demo as demo
from tests.support import World, transfer

ISSUE_PLASTICS, TRANSFER, PLEDGE = 18, 20, 21  # the demo's records
PLASTICS_PARTY = 6


@dataclass
class Demo:
    bundle: Path
    registry: SigningKey
    lines: list[bytes]
    checkpoints: list[Checkpoint]

    def tampered(
        self, tmp: Path, lines: list[bytes] | None = None, cps: list[Checkpoint] | None = None
    ) -> Path:
        """A copy of the bundle with other journal lines or checkpoints (the manifest left as it was)."""
        out = tmp / "tampered"
        shutil.copytree(self.bundle, out)
        if lines is not None:
            (out / JOURNAL).write_bytes(b"".join(line + b"\n" for line in lines))
        if cps is not None:
            (out / CHECKPOINTS).write_bytes(b"".join(cp.line() + b"\n" for cp in cps))
        return out


@pytest.fixture(scope="module")
def demo_bundle(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The demo scenario, run on SQLite and exported once for the module."""
    from ledger.db import create_schema, make_engine

    root = tmp_path_factory.mktemp("demo")
    engine = make_engine(f"sqlite:///{root / 'demo.db'}")
    create_schema(engine)
    registry = Registry(SigningKey.generate(), checkpoint_every=8)
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="ecoledger demo registry (Zhejiang)")
        s.commit()
    demo.load(engine, registry)
    with Session(engine) as s:
        make_checkpoint(s, registry=registry)
        s.commit()
    with Session(engine) as s:
        export_bundle(s, root / "bundle", tar=True)
    engine.dispose()
    lines = (root / "bundle" / JOURNAL).read_bytes().splitlines()
    cps = [Checkpoint.from_line(c) for c in (root / "bundle" / CHECKPOINTS).read_bytes().splitlines()]
    assert [cp.tree_size for cp in cps] == [8, 16, 22]
    return Demo(root / "bundle", registry.key, lines, cps)


def failure_of(path: Path, **kwargs: Any) -> tuple[int, str]:
    summary = verify_bundle(path, **kwargs)
    assert summary.failure is not None, summary.render()
    assert not summary.ok
    return summary.failure.seq, summary.failure.rule


def resealed(
    lines: list[bytes], start: int, key: SigningKey, change: Callable[[dict[str, Any]], dict[str, Any]]
) -> list[bytes]:
    """The insider's rewrite: record ``start`` changed, it and every later record sealed again."""
    out, prev = lines[:start], parse_line(lines[start - 1]).hash
    for line in lines[start:]:
        rec = parse_line(line)
        body = change(rec.body) if rec.seq == start else rec.body
        sealed = seal(seq=rec.seq, prev=prev, time=rec.time, body=body, sigs=list(rec.sigs), registry=key)
        out.append(sealed.line())
        prev = sealed.hash
    return out


def insider_checkpoints(lines: list[bytes], sizes: list[int], key: SigningKey) -> list[Checkpoint]:
    leaves = [SealedRecord(0, parse_line(x).time, b"", parse_line(x).hash, b"").leaf for x in lines]
    return [
        Checkpoint.sign(tree_size=n, root=root_of(leaves[:n]), time=parse_line(lines[n - 1]).time, key=key)
        for n in sizes
    ]


# --- the demo verifies clean ---------------------------------------------------------------------


def test_the_demo_bundle_verifies_clean_and_rebuilds_every_balance(demo_bundle: Demo) -> None:
    summary = verify_bundle(demo_bundle.bundle, registry_key=demo_bundle.registry.public)
    assert summary.ok, summary.render()
    run = summary.run
    assert run is not None
    assert run.report.records == 22
    assert run.report.checkpoints_verified == 3
    assert run.report.state.totals() == {("COD", "j=330281;u=2030-12-31"): 0}
    text = summary.render()
    assert "VERIFIED" in text
    assert "pinned by --registry-key" in text
    assert len(text.splitlines()) <= 24  # one screen


def test_the_packed_bundle_verifies_and_says_when_the_key_was_not_pinned(demo_bundle: Demo) -> None:
    summary = verify_bundle(demo_bundle.bundle.with_name("bundle.tar"))
    assert summary.ok, summary.render()
    assert "NOT independently pinned" in summary.render()


def test_worker_processes_verify_the_bundle_like_one_process(demo_bundle: Demo) -> None:
    one = verify_bundle(demo_bundle.bundle, workers=1)
    two = verify_bundle(demo_bundle.bundle, workers=2)
    assert one.ok
    assert two.ok
    assert one.run is not None
    assert two.run is not None
    assert one.run.report.state.balances() == two.run.report.state.balances()
    # seals, party signatures (the bureau's approval of the pledge is inside its body, checked by the
    # pledge rule and not counted here), checkpoints
    assert one.run.signatures == two.run.signatures == 22 + 6 + 3


def test_the_analysis_tables_hold_every_record_and_balanced_postings(demo_bundle: Demo) -> None:
    records = pd.read_parquet(demo_bundle.bundle / "analysis" / "records.parquet")
    postings = pd.read_parquet(demo_bundle.bundle / "analysis" / "postings.parquet")
    holds = pd.read_parquet(demo_bundle.bundle / "analysis" / "holds.parquet")
    assert list(records["seq"]) == list(range(22))
    assert str(records["time"].dt.tz) == "UTC"
    assert list(records.loc[records["seq"] == TRANSFER, "signers"].iloc[0]) == ["ent:yuyao-dyeing"]
    assert postings.groupby(["instrument", "lot"])["amount"].sum().eq(0).all()
    assert list(holds["hold"]) == ["pledge.demo-1"]


def test_the_key_events_file_lists_the_genesis_and_every_registered_key(demo_bundle: Demo) -> None:
    events = [json.loads(x) for x in (demo_bundle.bundle / KEYS).read_text().splitlines()]
    assert [e["event"] for e in events] == ["genesis", "register", "register", "register", "register"]
    assert events[0]["key_id"] == demo_bundle.registry.key_id


# --- an outsider edits the files ----------------------------------------------------------------


def test_a_changed_quantity_is_named_at_its_record(demo_bundle: Demo, tmp_path: Path) -> None:
    lines = list(demo_bundle.lines)
    assert b'"amount":3000' in lines[TRANSFER]
    lines[TRANSFER] = lines[TRANSFER].replace(b'"amount":3000', b'"amount":9000')
    assert failure_of(demo_bundle.tampered(tmp_path, lines)) == (TRANSFER, "registry_signature")


def test_a_dropped_record_is_named_by_its_missing_sequence_number(demo_bundle: Demo, tmp_path: Path) -> None:
    lines = list(demo_bundle.lines)
    del lines[ISSUE_PLASTICS]
    summary = verify_bundle(demo_bundle.tampered(tmp_path, lines))
    assert summary.failure is not None
    assert (summary.failure.seq, summary.failure.rule) == (ISSUE_PLASTICS, "sequence")
    assert summary.failure.evidence == {"found": ISSUE_PLASTICS + 1}
    assert f"seq {ISSUE_PLASTICS + 1}" in summary.render()  # the line found in its place


def test_the_last_record_dropped_is_caught_by_the_checkpoint_over_it(
    demo_bundle: Demo, tmp_path: Path
) -> None:
    assert failure_of(demo_bundle.tampered(tmp_path, demo_bundle.lines[:-1])) == (
        21,
        "checkpoint_beyond_journal",
    )


@pytest.mark.parametrize("first", [3, TRANSFER])
def test_a_reordered_pair_is_named_at_the_first_of_them(
    demo_bundle: Demo, tmp_path: Path, first: int
) -> None:
    lines = list(demo_bundle.lines)
    lines[first], lines[first + 1] = lines[first + 1], lines[first]
    assert failure_of(demo_bundle.tampered(tmp_path, lines)) == (first, "sequence")


def test_a_seal_forged_with_another_key_is_named(demo_bundle: Demo, tmp_path: Path) -> None:
    lines = list(demo_bundle.lines)
    rec = parse_line(lines[PLEDGE])
    impostor = SigningKey.from_seed(b"I" * 32)
    core = record_core(lines[PLEDGE])
    lines[PLEDGE] = SealedRecord(
        rec.seq, rec.time, core, rec.hash, impostor.sign(TAG_REGISTRY, rec.hash)
    ).line()
    assert failure_of(demo_bundle.tampered(tmp_path, lines)) == (PLEDGE, "registry_signature")


def test_a_rewritten_checkpoint_is_named_at_the_last_record_it_covers(
    demo_bundle: Demo, tmp_path: Path
) -> None:
    cps = list(demo_bundle.checkpoints)
    cp = cps[1]
    cps[1] = Checkpoint(cp.tree_size, bytes(32), cp.time, cp.key_id, cp.signature)
    assert failure_of(demo_bundle.tampered(tmp_path, cps=cps)) == (15, "checkpoint_signature")


def test_a_checkpoint_signed_over_a_false_root_is_named(demo_bundle: Demo, tmp_path: Path) -> None:
    cps = list(demo_bundle.checkpoints)
    cps[0] = Checkpoint.sign(tree_size=8, root=bytes(32), time=cps[0].time, key=demo_bundle.registry)
    assert failure_of(demo_bundle.tampered(tmp_path, cps=cps)) == (7, "checkpoint_root")


def test_a_malformed_checkpoint_line_makes_the_bundle_unreadable(demo_bundle: Demo, tmp_path: Path) -> None:
    out = demo_bundle.tampered(tmp_path)
    (out / CHECKPOINTS).write_bytes(b'{"tree_size":8}\n')
    summary = verify_bundle(out)
    assert not summary.ok
    assert "checkpoints.jsonl line 1" in (summary.bundle_error or "")


def test_a_changed_manifest_or_key_list_fails_after_a_clean_replay(demo_bundle: Demo, tmp_path: Path) -> None:
    out = demo_bundle.tampered(tmp_path)
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["records"] = 23
    (out / MANIFEST).write_text(json.dumps(manifest))
    (out / KEYS).write_bytes((out / KEYS).read_bytes().replace(b"register", b"revoke", 1))
    summary = verify_bundle(out)
    assert summary.failure is None
    assert not summary.ok
    text = "\n".join(summary.problems)
    assert "says 23 records" in text
    assert "sha256 of keys.jsonl" in text
    assert "keys.jsonl does not match the key events in the journal" in text


# --- an insider holds the registry key ----------------------------------------------------------


def test_a_forged_party_signature_is_named_even_when_the_registry_sealed_it(
    demo_bundle: Demo, tmp_path: Path
) -> None:
    mallory = SigningKey.from_seed(b"M" * 32)
    lines = list(demo_bundle.lines)
    rec = parse_line(lines[TRANSFER])
    fake = Signature(rec.sigs[0].party, rec.sigs[0].key_id, mallory.sign(TAG_BODY, rec.body_bytes))
    lines[TRANSFER] = seal(
        seq=rec.seq, prev=rec.prev, time=rec.time, body=rec.body, sigs=[fake], registry=demo_bundle.registry
    ).line()
    lines = resealed(lines, TRANSFER + 1, demo_bundle.registry, lambda body: body)
    assert failure_of(demo_bundle.tampered(tmp_path, lines)) == (TRANSFER, "bad_signature")


def test_a_record_signed_by_a_revoked_key_is_named(demo_bundle: Demo, tmp_path: Path) -> None:
    lines = list(demo_bundle.lines)
    plastics = parse_line(lines[PLASTICS_PARTY + 1])  # the plastics firm's key registration
    party, key_id = plastics.body["party"], plastics.body["key_id"]
    stolen = SigningKey.generate()  # what matters is the key id named and the time, not the bytes
    last = parse_line(lines[-1])
    revoke = RevokeKey(party, key_id, None, "key reported lost", "n-revoke").to_json()
    key = demo_bundle.registry
    r1 = seal(
        seq=22, prev=last.hash, time=last.time + timedelta(seconds=1), body=revoke, sigs=[], registry=key
    )
    lot = demo.RIGHTS_2030.to_json()
    legs = [(f"{party}.holding", -100), ("ent:yuyao-dyeing.holding", 100)]
    late = TxBody(
        "transfer",
        "n-late",
        tuple(
            Posting.parse({"account": a, "instrument": "COD", "lot": lot, "amount": n}, "p") for a, n in legs
        ),
    )
    sig = Signature(party, key_id, stolen.sign(TAG_BODY, b"irrelevant"))
    r2 = seal(
        seq=23,
        prev=r1.hash,
        time=r1.time + timedelta(seconds=1),
        body=late.to_json(),
        sigs=[sig],
        registry=key,
    )
    summary = verify_bundle(demo_bundle.tampered(tmp_path, [*lines, r1.line(), r2.line()]))
    assert summary.failure is not None
    assert (summary.failure.seq, summary.failure.rule) == (23, "key_not_valid")
    assert "(revoked)" in summary.failure.message


def test_a_rewritten_history_fools_the_bundle_but_not_a_checkpoint_the_auditor_kept(
    demo_bundle: Demo, tmp_path: Path
) -> None:
    def rename(body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "profile": {**body["profile"], "name": "someone else"}}

    lines = resealed(list(demo_bundle.lines), PLASTICS_PARTY, demo_bundle.registry, rename)
    cps = insider_checkpoints(lines, [8, 16, 22], demo_bundle.registry)
    rewritten = demo_bundle.tampered(tmp_path, lines, cps)
    assert verify_bundle(rewritten).failure is None  # self-consistent: only the manifest hashes differ
    kept = demo_bundle.checkpoints[:1]  # the auditor saved the checkpoint of size 8 when it was published
    assert failure_of(rewritten, extra_checkpoints=kept) == (7, "checkpoint_root")


# --- export from a live ledger, both engines --------------------------------------------------


def test_an_exported_bundle_replays_to_the_live_balances(
    world: World, engine: Engine, tmp_path: Path
) -> None:
    world.issue("ent:a.h", 500)
    world.issue("ent:b.h", 300)
    world.submit(transfer("ent:a.h", "ent:b.h", 120), "ent:a")
    world.submit(transfer("ent:b.h", "bank:x.h", 7), "ent:b")
    with Session(engine) as s:
        manifest = export_bundle(s, tmp_path / "b", chunk=3, chunk_rows=4)
        live = positions(s)
    summary = verify_bundle(tmp_path / "b", registry_key=world.registry.key.public, workers=2)
    assert summary.ok, summary.render()
    assert summary.run is not None
    assert summary.run.report.state.balances() == live
    assert manifest.records == summary.run.report.records
    assert len(pd.read_parquet(tmp_path / "b" / "analysis" / "records.parquet")) == manifest.records


def test_a_bundle_can_be_written_from_lines_and_checkpoints_alone(demo_bundle: Demo, tmp_path: Path) -> None:
    write_bundle(tmp_path / "copy", demo_bundle.lines, demo_bundle.checkpoints, chunk_rows=3)
    assert verify_bundle(tmp_path / "copy", registry_key=demo_bundle.registry.public).ok
    assert (tmp_path / "copy" / JOURNAL).read_bytes() == (demo_bundle.bundle / JOURNAL).read_bytes()


# --- rule set 2: what the registry's own key cannot make legitimate ----------------------------------


def _insider_rewrite(
    lines: list[bytes], at: int, key: SigningKey, records: list[tuple[dict[str, Any], list[Signature]]]
) -> list[bytes]:
    """``records`` (bodies with their signatures) in place of everything from record ``at`` on, each
    sealed again with the registry's key: a rewrite only the rules, not the seals, can catch."""
    out, prev = lines[:at], parse_line(lines[at - 1]).hash
    time = parse_line(lines[at - 1]).time
    for seq, (body, sigs) in enumerate(records, start=at):
        time += timedelta(milliseconds=1)
        sealed = seal(seq=seq, prev=prev, time=time, body=body, sigs=sigs, registry=key)
        out.append(sealed.line())
        prev = sealed.hash
    return out


def test_audit_verify_names_a_forged_transfer_into_another_city(demo_bundle: Demo, tmp_path: Path) -> None:
    ningbo = [
        {"type": "party.register", "party": "ent:ningbo-x", "role": "enterprise",
         "profile": {"jurisdiction": "330200", "name": "宁波 x"}, "nonce": "forged-1"},
        {"type": "account.open", "account": "ent:ningbo-x.holding", "owner": "ent:ningbo-x",
         "kind": "holding", "nonce": "forged-2"},
    ]  # fmt: skip
    transfer = parse_line(demo_bundle.lines[TRANSFER])
    assert transfer.body["action"] == "transfer"
    body = json.loads(json.dumps(transfer.body))
    body["postings"][1]["account"] = "ent:ningbo-x.holding"  # Yuyao COD credited to a Ningbo enterprise
    rest = [(parse_line(x).body, list(parse_line(x).sigs)) for x in demo_bundle.lines[TRANSFER + 1 :]]
    records = [*((b, []) for b in ningbo), (body, list(transfer.sigs)), *rest]
    lines = _insider_rewrite(demo_bundle.lines, TRANSFER, demo_bundle.registry, records)
    cps = insider_checkpoints(lines, [8, 16, len(lines)], demo_bundle.registry)  # re-signed too
    assert failure_of(demo_bundle.tampered(tmp_path, lines, cps)) == (TRANSFER + 2, "wrong_jurisdiction")


def test_audit_verify_names_a_forged_transfer_into_a_banks_holding(demo_bundle: Demo, tmp_path: Path) -> None:
    def to_the_bank(body: dict[str, Any]) -> dict[str, Any]:
        body["postings"][1]["account"] = "bank:demo.holding"
        return body

    lines = resealed(demo_bundle.lines, TRANSFER, demo_bundle.registry, to_the_bank)
    assert failure_of(demo_bundle.tampered(tmp_path, lines)) == (TRANSFER, "movement_not_allowed")
