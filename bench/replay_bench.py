"""Offline verification (``ecoledger audit verify``) in records/s and its peak memory on 100,000 and
1,000,000 records, set against the raw Ed25519 verify rates of this machine measured in the same run."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.signing import SigningKey as NaclSigningKey

from ledger.bundle import BundleWriter
from ledger.canonical import canonical_bytes
from ledger.checkpoint import Checkpoint
from ledger.crypto import TAG_BODY, TAG_RECORD, TAG_REGISTRY, SigningKey, b64e, sha256, tagged, verify_raw
from ledger.journal import GENESIS_PREV, SealedRecord, seal
from ledger.merkle import Frontier, leaf_hash
from ledger.model import (
    AccountKind,
    AdoptRules,
    Body,
    Genesis,
    HoldPlace,
    HoldSettle,
    Lot,
    OpenAccount,
    Posting,
    RegisterKey,
    RegisterParty,
    Signature,
    TxBody,
)
from ledger.pledge_terms import TAG_APPROVAL, Appraised, PledgeLoan, approval_statement
from ledger.timeutil import format_utc

RATE_TARGET = 0.50  # verify's signature rate vs the raw single-core Ed25519 verify rate
MEMORY_GROWTH_LIMIT = 0.10  # peak RSS at 1M records vs 100k: at most 10% more (plus 8 MB of noise)
CACHE = Path(os.environ.get("ECOLEDGER_BENCH_CACHE", "/tmp/ecoledger-bench"))
GEN_VERSION = "v3"  # v3: rule set 2, pledges with signed loan terms and the bureau's approval inside
T0 = datetime(2025, 1, 1, tzinfo=UTC)
LOT = Lot(jurisdiction="330281", valid_until=date(2099, 12, 31))
LOT_JSON = '{"jurisdiction":"330281","valid_until":"2099-12-31"}'
ENTERPRISES = [f"ent:e{i}" for i in range(8)]
BUREAU, BANK = "bureau:330281", "bank:b"
PARTIES = [BUREAU, BANK, *ENTERPRISES]
FUNDING = 10**12
CHECKPOINT_EVERY = 1000
HOLD_EVERY = 50  # one pledge placed, and released 25 records later, per 50 records


def seed_of(party: str) -> bytes:
    return sha256(b"ecoledger-bench:" + party.encode())


REGISTRY_SEED = seed_of("registry")


# -- raw limits --------------------------------------------------------------------------------


def timed_rate(op: Any, seconds: float, block: int = 256) -> float:
    count, start, elapsed = 0, time.perf_counter(), 0.0
    while elapsed < seconds:
        for i in range(block):
            op(i)
        count += block
        elapsed = time.perf_counter() - start
    return count / elapsed


def raw_verify_rates(seconds: float) -> tuple[float, float, float]:
    """Bare Ed25519 verifies/s over 300-byte messages, one core: (cryptography, PyNaCl, the replay's
    cofactored check through ed25519-zebra with its strictness checks, ``verify_raw(cofactored=True)``)."""
    rng = random.Random(7)
    messages = [rng.randbytes(300) for _ in range(256)]
    private = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
    public = private.public_key()
    sigs = [private.sign(m) for m in messages]
    nacl_key = NaclSigningKey(rng.randbytes(32))
    verify_key = nacl_key.verify_key
    nacl_sigs = [nacl_key.sign(m).signature for m in messages]
    crypto = timed_rate(lambda i: public.verify(sigs[i], messages[i]), seconds)
    nacl = timed_rate(lambda i: verify_key.verify(messages[i], nacl_sigs[i]), seconds)
    public_raw = bytes(verify_key)
    zebra = timed_rate(lambda i: verify_raw(public_raw, messages[i], nacl_sigs[i], cofactored=True), seconds)
    return crypto, nacl, zebra


# -- a journal made fast: the bodies and lines formatted directly, signed in two processes ------

_KEYS: dict[str, NaclSigningKey] = {}


def _nacl(party: str) -> NaclSigningKey:
    if party not in _KEYS:
        _KEYS[party] = NaclSigningKey(REGISTRY_SEED if party == "registry" else seed_of(party))
    return _KEYS[party]


def _sign_many(task: tuple[str, bytes, list[tuple[str, bytes]]]) -> list[bytes]:
    """Worker: Ed25519 signatures (libsodium; the same bytes ``cryptography`` would give)."""
    _, tag, items = task
    return [_nacl(party).sign(tagged(tag, message)).signature for party, message in items]


def transfer_body(seq: int, src: str, dst: str, amount: int) -> bytes:
    """The canonical bytes of a transfer body; ``check_templates`` proves them equal to RFC 8785."""
    return (
        f'{{"action":"transfer","holds":[],"meta":{{}},"nonce":"n{seq:x}","postings":['
        f'{{"account":"{src}.h","amount":-{amount},"instrument":"COD","lot":{LOT_JSON}}},'
        f'{{"account":"{dst}.h","amount":{amount},"instrument":"COD","lot":{LOT_JSON}}}],'
        f'"signers":[],"type":"tx"}}'
    ).encode()


def core_bytes(seq: int, prev: bytes, moment: datetime, body: bytes, sigs: Sequence[Signature]) -> bytes:
    sig_json = ",".join(f'{{"key_id":"{s.key_id}","party":"{s.party}","sig":"{b64e(s.sig)}"}}' for s in sigs)
    return (
        b'{"body":'
        + body
        + f',"prev":"{prev.hex()}","seq":{seq},"sigs":[{sig_json}],"time":"{format_utc(moment)}"}}'.encode()
    )


def hold_body(seq: int, hold_seq: int, ent: str, release: bool) -> tuple[TxBody, tuple[str, ...]]:
    hold_id = f"pledge.{hold_seq}"
    if release:
        return TxBody("pledge.release", f"n{seq:x}", holds=(HoldSettle("release", hold_id, 500),)), (BANK,)
    place = HoldPlace(hold_id, f"{ent}.h", "COD", LOT, 500, "pledge", BANK)
    return TxBody(
        "pledge.register",
        f"n{seq:x}",
        holds=(place,),
        signers=tuple(sorted({BANK, ent})),
        meta=pledge_meta(hold_seq, ent, place),
    ), (
        BANK,
        ent,
    )


def pledge_meta(pledge: int, ent: str, hold: HoldPlace) -> dict[str, object]:
    """Signed loan terms and the bureau's approval, as rule set 2 requires of a pledge registration."""
    parties = {"enterprise": ent, "bank": BANK, "bureau": BUREAU}
    statement = approval_statement(pledge=str(pledge), certificate_no=f"B-{pledge}", hold=hold, **parties)
    bureau = SigningKey.from_seed(seed_of(BUREAU))
    approval = Signature(BUREAU, bureau.key_id, bureau.sign(TAG_APPROVAL, canonical_bytes(statement)))
    value = hold.amount * 1_700_000 // 1_000
    return {
        "pledge": str(pledge),
        "certificate_no": f"B-{pledge}",
        **parties,
        "names": {"enterprise": ent, "bank": BANK, "bureau": BUREAU},
        "quantity_kg": hold.amount,
        "loan": PledgeLoan(f"L-{pledge}", value // 2, 385, 12, T0.date()).to_json(),
        "appraisal": Appraised(1_700_000, "reference", value, 8_000).to_json(),
        "approval": approval.to_json(),
        "basis": "杭银发〔2022〕21号",
    }


@dataclass
class Draft:
    seq: int
    body: bytes
    parties: tuple[str, ...]  # who signs it (none: nobody but the registry)


def admin_bodies() -> list[tuple[Body, tuple[str, ...]]]:
    reg = SigningKey.from_seed(REGISTRY_SEED)
    out: list[tuple[Body, tuple[str, ...]]] = [
        (Genesis("ecoledger bench registry", reg.key_id, reg.public, "g"), ()),
        (AdoptRules(2, "r"), ()),
    ]
    roles = {BUREAU: "bureau", BANK: "bank"}
    for party in PARTIES:
        key = SigningKey.from_seed(seed_of(party))
        profile = {"jurisdiction": "330281"}
        out.append((RegisterParty(party, roles.get(party, "enterprise"), profile, f"p-{party}"), ()))
        out.append((RegisterKey(party, key.key_id, key.public, T0, f"k-{party}"), ()))
    out.append((OpenAccount("cap", BUREAU, AccountKind.ISSUANCE, "o-cap"), ()))
    out.append((OpenAccount("reserve", BUREAU, AccountKind.RESERVE, "o-reserve"), ()))
    out += [(OpenAccount(f"{e}.h", e, AccountKind.HOLDING, f"o-{e}"), ()) for e in ENTERPRISES]
    total = FUNDING * len(ENTERPRISES)
    cap_set = TxBody(
        "cap.set", "c", (Posting("cap", "COD", LOT, -total), Posting("reserve", "COD", LOT, total))
    )
    out.append((cap_set, (BUREAU,)))
    out += [
        (
            TxBody(
                "allocation.initial",
                f"i-{e}",
                (Posting("reserve", "COD", LOT, -FUNDING), Posting(f"{e}.h", "COD", LOT, FUNDING)),
            ),
            (BUREAU,),
        )
        for e in ENTERPRISES
    ]
    return out


def drafts(n: int, rng: random.Random) -> Iterator[Draft]:
    admin = admin_bodies()
    for seq, (body, parties) in enumerate(admin):
        yield Draft(seq, canonical_bytes(body.to_json()), parties)
    open_holds: dict[int, str] = {}
    for seq in range(len(admin), n):
        if seq % HOLD_EVERY == 0:
            ent = rng.choice(ENTERPRISES)
            body, parties = hold_body(seq, seq, ent, release=False)
            open_holds[seq + HOLD_EVERY // 2] = ent
            yield Draft(seq, canonical_bytes(body.to_json()), parties)
        elif seq in open_holds:
            open_holds.pop(seq)
            body, parties = hold_body(seq, seq - HOLD_EVERY // 2, "", release=True)
            yield Draft(seq, canonical_bytes(body.to_json()), parties)
        else:
            src, dst = rng.sample(ENTERPRISES, 2)
            yield Draft(seq, transfer_body(seq, src, dst, rng.randint(1, 100)), (src,))


def check_templates() -> None:
    """The formatted bytes are exactly what ``canonical_bytes`` and ``seal`` produce."""
    body = TxBody(
        "transfer", "n2a", (Posting("ent:e1.h", "COD", LOT, -5), Posting("ent:e2.h", "COD", LOT, 5))
    )
    assert transfer_body(42, "ent:e1", "ent:e2", 5) == canonical_bytes(body.to_json())
    key = SigningKey.from_seed(seed_of("ent:e1"))
    sig = Signature("ent:e1", key.key_id, key.sign(TAG_BODY, canonical_bytes(body.to_json())))
    reg = SigningKey.from_seed(REGISTRY_SEED)
    sealed = seal(seq=42, prev=bytes(range(32)), time=T0, body=body.to_json(), sigs=[sig], registry=reg)
    assert (
        core_bytes(42, bytes(range(32)), T0, transfer_body(42, "ent:e1", "ent:e2", 5), [sig]) == sealed.core
    )
    assert _nacl("registry").sign(tagged(TAG_REGISTRY, sealed.hash)).signature == sealed.registry_sig


def generate(out: Path, n: int, pool: Any, chunk: int = 20_000) -> float:
    """Write a bundle of ``n`` records to ``out``; returns the seconds it took."""
    started = time.perf_counter()
    check_templates()
    rng = random.Random(n)
    reg = SigningKey.from_seed(REGISTRY_SEED)
    key_ids = {p: SigningKey.from_seed(seed_of(p)).key_id for p in PARTIES}
    writer = BundleWriter(out)
    prev, frontier, stream = GENESIS_PREV, Frontier(), drafts(n, rng)
    while True:
        batch = [d for _, d in zip(range(chunk), stream, strict=False)]
        if not batch:
            break
        signed = [(p, d.body) for d in batch for p in d.parties]
        halves = [signed[: len(signed) // 2], signed[len(signed) // 2 :]]
        party_sigs = iter(
            [s for part in pool.map(_sign_many, [("", TAG_BODY, h) for h in halves]) for s in part]
        )
        cores = []
        for d in batch:
            moment = T0 + timedelta(microseconds=d.seq)
            sigs = [Signature(p, key_ids[p], next(party_sigs)) for p in d.parties]
            core = core_bytes(d.seq, prev, moment, d.body, sigs)
            prev = sha256(tagged(TAG_RECORD, core))
            cores.append((d.seq, moment, core, prev))
        hashes = [("registry", h) for *_, h in cores]
        halves = [hashes[: len(hashes) // 2], hashes[len(hashes) // 2 :]]
        seals = [s for part in pool.map(_sign_many, [("", TAG_REGISTRY, h) for h in halves]) for s in part]
        for (seq, moment, core, digest), seal_sig in zip(cores, seals, strict=True):
            writer.add_record(SealedRecord(seq, moment, core, digest, seal_sig).line())
            frontier.append(leaf_hash(digest))
            if frontier.size % CHECKPOINT_EVERY == 0 or frontier.size == n:
                writer.add_checkpoint(
                    Checkpoint.sign(tree_size=frontier.size, root=frontier.root(), time=moment, key=reg)
                )
    writer.close()
    (out / "COMPLETE").write_text(str(n))
    return time.perf_counter() - started


def bundle_for(n: int, pool: Any, *, cache: bool) -> tuple[Path, float | None]:
    path = CACHE / f"bundle-{n}-{GEN_VERSION}"
    if cache and (path / "COMPLETE").exists():
        return path, None
    shutil.rmtree(path, ignore_errors=True)
    print(f"  generating {n:,} records into {path} ...", flush=True)
    return path, generate(path, n, pool)


# -- one measured verify, in a fresh process -----------------------------------------------------


def peak_rss_kb() -> int:
    """This process's peak resident set. Linux keeps ``getrusage``'s ru_maxrss across exec (a
    child started by a large parent reports the parent's peak), so read VmHWM, which restarts."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(bundle: Path, workers: int) -> None:
    from ledger.audit import verify_bundle

    registry_key = SigningKey.from_seed(REGISTRY_SEED).public
    summary = verify_bundle(bundle, registry_key=registry_key, workers=workers)
    run = summary.run
    own = peak_rss_kb()
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # workers: forked while small
    print(
        json.dumps(
            {
                "ok": summary.ok,
                "failure": None if summary.ok else summary.render(),
                "records": 0 if run is None else run.report.records,
                "signatures": 0 if run is None else run.signatures,
                "seconds": 0 if run is None else run.seconds,
                "peak_rss_mb": own / 1024,
                "worker_peak_rss_mb": kids / 1024,
            }
        )
    )


@dataclass
class Measured:
    n: int
    workers: int
    ok: bool
    records_per_s: float
    signatures_per_s: float
    peak_rss_mb: float
    worker_peak_rss_mb: float
    seconds: float


def measure(bundle: Path, n: int, workers: int) -> Measured:
    print(f"  verify {n:,} records with {workers} process(es) ...", flush=True)
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(bundle), "--workers", str(workers)],
        check=True,
        capture_output=True,
        text=True,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    if not data["ok"]:
        print(data["failure"])
    seconds = max(data["seconds"], 1e-9)
    return Measured(
        n,
        workers,
        data["ok"] and data["records"] == n,
        data["records"] / seconds,
        data["signatures"] / seconds,
        data["peak_rss_mb"],
        data["worker_peak_rss_mb"],
        seconds,
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="10,000 and 50,000 records: a smoke run")
    p.add_argument("--no-cache", action="store_true", help=f"regenerate the journals (cached in {CACHE})")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--workers", type=int, default=2, help="verify processes for the parallel runs (2)")
    args = p.parse_args(argv)
    if args.child is not None:
        child(args.child, args.workers)
        return 0
    small, large = (10_000, 50_000) if args.quick else (100_000, 1_000_000)
    print(f"ecoledger replay bench: verify on {small:,} and {large:,} records ({os.cpu_count()} cores)")
    print(load_note("at the start"))
    crypto, nacl, zebra = raw_verify_rates(1.0 if args.quick else 3.0)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        generated = {n: bundle_for(n, pool, cache=not args.no_cache) for n in (small, large)}
    runs = [
        measure(generated[small][0], small, 1),
        measure(generated[small][0], small, args.workers),
        measure(generated[large][0], large, args.workers),
    ]
    crypto2, nacl2, zebra2 = raw_verify_rates(1.0 if args.quick else 3.0)
    crypto, nacl, zebra = max(crypto, crypto2), max(nacl, nacl2), max(zebra, zebra2)
    return report(runs, crypto, nacl, zebra, generated)


def load_note(when: str) -> str:
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    busy = " (the machine is busy: the rates below are pessimistic)" if load > cores * 0.75 else ""
    return f"load average {when}: {load:.2f} on {cores} cores{busy}"


def report(
    runs: list[Measured],
    crypto: float,
    nacl: float,
    zebra: float,
    generated: dict[int, tuple[Path, float | None]],
) -> int:
    raw = max(crypto, nacl, zebra)
    print()
    print(load_note("at the end"))
    print(
        f"raw Ed25519 verify, one core: cryptography {crypto:,.0f}/s, PyNaCl {nacl:,.0f}/s, "
        f"replay's cofactored check (ed25519-zebra) {zebra:,.0f}/s"
    )
    for n, (_, seconds) in generated.items():
        if seconds is not None:
            print(f"generated and exported {n:,} records in {seconds:,.1f} s ({n / seconds:,.0f} records/s)")
    print(
        f"{'records':>10} {'procs':>5} {'records/s':>10} {'sigs/s':>10} {'sigs/raw':>9} "
        f"{'rec/raw':>8} {'peak RSS':>9} {'workers':>8} {'time':>7}"
    )
    for r in runs:
        print(
            f"{r.n:>10,} {r.workers:>5} {r.records_per_s:>10,.0f} {r.signatures_per_s:>10,.0f} "
            f"{r.signatures_per_s / raw:>9.0%} {r.records_per_s / raw:>8.0%} {r.peak_rss_mb:>7.0f}MB "
            f"{r.worker_peak_rss_mb:>6.0f}MB {r.seconds:>6.1f}s"
        )
    parallel = [r for r in runs if r.workers > 1] or runs
    best = max(runs, key=lambda r: r.signatures_per_s)
    small, large = parallel[0], parallel[-1]
    rate_ok = best.signatures_per_s >= RATE_TARGET * raw
    grew = large.peak_rss_mb - small.peak_rss_mb
    memory_ok = large.peak_rss_mb <= small.peak_rss_mb * (1 + MEMORY_GROWTH_LIMIT) + 8
    all_ok = all(r.ok for r in runs)
    print()
    print(f"verified clean: {'PASS' if all_ok else 'FAIL'}")
    print(
        f"rate: {best.signatures_per_s:,.0f} signatures/s ({best.records_per_s:,.0f} records/s, "
        f"{best.workers} process(es)) = {best.signatures_per_s / raw:.0%} of the fastest raw verify rate, "
        f"{best.signatures_per_s / min(crypto, nacl, zebra):.0%} of the slowest "
        f"(target >= {RATE_TARGET:.0%} of the fastest): {'PASS' if rate_ok else 'FAIL'}"
    )
    for procs, target in ((1, 6_000), (2, 10_000)):  # issue 16's targets, records/s
        at = [r for r in runs if r.workers == procs]
        if at:
            got = max(r.records_per_s for r in at)
            verdict = "met" if got >= target else "MISSED"
            print(f"records/s with {procs} process(es): {got:,.0f} (target >= {target:,}): {verdict}")
    print(
        f"memory: peak RSS {small.peak_rss_mb:,.0f} MB at {small.n:,} records, "
        f"{large.peak_rss_mb:,.0f} MB at {large.n:,} ({grew:+,.0f} MB; "
        f"limit +{MEMORY_GROWTH_LIMIT:.0%} + 8 MB): {'PASS' if memory_ok else 'FAIL'}"
    )
    return 0 if all_ok and rate_ok and memory_ok else 1


if __name__ == "__main__":
    sys.exit(main())
