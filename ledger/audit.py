"""The offline auditor: verify a bundle with nothing but the bundle, and one record by certificate.

Streams the journal through ``Replayer`` in bounded memory, optionally with worker processes.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import multiprocessing
import sqlite3
import sys
import tempfile
import time
from collections import deque
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import IO, Any

from ledger.bundle import CERTIFICATE_FORMAT, CHECKPOINTS, JOURNAL, KEYS, Bundle, BundleError, key_event
from ledger.canonical import canonical_bytes
from ledger.checkpoint import Checkpoint
from ledger.crypto import TAG_REGISTRY, b64d, b64e, key_id_for, verify
from ledger.errors import DomainError
from ledger.journal import ParsedRecord, parse_line
from ledger.merkle import leaf_hash, verify_inclusion
from ledger.model import Body, Signature
from ledger.replay import (
    Prepared,
    RecordCheck,
    RecordObserver,
    Replayer,
    ReplayError,
    ReplayFailure,
    ReplayReport,
    prepare,
)
from ledger.rules import Effect, Hold
from ledger.state import LedgerState
from ledger.timeutil import format_utc

__all__ = [
    "AuditSummary",
    "CertificateResult",
    "DiskStore",
    "ProgressBar",
    "ReplayRun",
    "prepared_stream",
    "replay_bundle",
    "verify_bundle",
    "verify_certificate_json",
]

AUTO_PARALLEL_RECORDS = 20_000  # below this, starting worker processes costs more than it saves


# -- bounded memory: applied digests and closed holds on disk ---------------------------------


class DiskStore:
    """Exact sets kept in memory up to ``memory_limit`` entries, then in a temporary SQLite file.

    Serves as the replay's ``DigestSet`` (``.digests``) and ``HoldArchive`` (``.holds``).
    Exact by construction (a primary-key lookup), never probabilistic.
    """

    def __init__(self, directory: Path | None = None, *, memory_limit: int = 50_000) -> None:
        self._dir = directory
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._db: sqlite3.Connection | None = None
        self.memory_limit = memory_limit
        self.digests = _Digests(self)
        self.holds = _Holds(self)

    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="ecoledger-audit-", dir=self._dir)
            db = sqlite3.connect(Path(self._tmp.name) / "spill.db", isolation_level=None)
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-16000", "temp_store=FILE"):
                db.execute(f"PRAGMA {pragma}")
            db.execute("CREATE TABLE digest (d BLOB PRIMARY KEY) WITHOUT ROWID")
            db.execute("CREATE TABLE hold (id TEXT PRIMARY KEY, row TEXT NOT NULL) WITHOUT ROWID")
            db.execute("BEGIN")
            self._db = db
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


class _Digests:
    def __init__(self, store: DiskStore) -> None:
        self._store = store
        self._memory: set[bytes] | None = set()

    def add(self, digest: bytes) -> bool:
        if self._memory is not None:
            if digest in self._memory:
                return False
            self._memory.add(digest)
            if len(self._memory) > self._store.memory_limit:
                self._store.db().executemany("INSERT INTO digest VALUES (?)", ((d,) for d in self._memory))
                self._memory = None
            return True
        try:
            self._store.db().execute("INSERT INTO digest VALUES (?)", (digest,))
        except sqlite3.IntegrityError:
            return False
        return True


class _Holds:
    def __init__(self, store: DiskStore) -> None:
        self._store = store
        self._memory: dict[str, Hold] | None = {}

    def put(self, hold: Hold) -> None:
        if self._memory is not None:
            self._memory[hold.id] = hold
            if len(self._memory) > self._store.memory_limit:
                rows = ((h.id, _hold_row(h)) for h in self._memory.values())
                self._store.db().executemany("INSERT OR REPLACE INTO hold VALUES (?, ?)", rows)
                self._memory = None
            return
        self._store.db().execute("INSERT OR REPLACE INTO hold VALUES (?, ?)", (hold.id, _hold_row(hold)))

    def get(self, hold_id: str) -> Hold | None:
        if self._memory is not None:
            return self._memory.get(hold_id)
        row = self._store.db().execute("SELECT row FROM hold WHERE id = ?", (hold_id,)).fetchone()
        return None if row is None else Hold(*json.loads(row[0]))


def _hold_row(h: Hold) -> str:
    return canonical_bytes(
        [h.id, h.account, h.instrument, h.lot_key, h.amount, h.reason, h.controller, h.status]
    ).decode()


# -- parallel preparation -----------------------------------------------------------------------

_Wire = tuple[Any, ...]


def _prepare_batch(lines: list[bytes], keys: tuple[bytes, ...]) -> list[_Wire]:
    """Worker side: parse and check seals. Plain tuples of bytes travel far faster than
    dataclasses or nested dicts, so the body goes back as its (verified canonical) bytes."""
    out: list[_Wire] = []
    for line in lines:
        prep = prepare(line, keys)
        rec = prep.record
        if rec is None:
            out.append((prep.error,))
            continue
        sigs = tuple((s.party, s.key_id, s.sig, s.custody) for s in rec.sigs)
        ok = tuple(k for k, good in prep.seal.items() if good)
        out.append((rec.seq, rec.prev, rec.time, rec.body_bytes, sigs, rec.hash, rec.registry_sig, ok))
    return out


def _unwire(item: _Wire, keys: tuple[bytes, ...]) -> Prepared:
    if len(item) == 1:
        return Prepared(None, item[0])
    seq, prev, moment, body_bytes, sigs, digest, registry_sig, ok = item
    # The worker proved these bytes canonical, so the plain decoder reads them exactly as
    # the strict one did (no floats, no big integers, no duplicate keys can be in them).
    body = json.loads(body_bytes)
    rec = ParsedRecord(
        seq, prev, moment, body, body_bytes, tuple(Signature(*s) for s in sigs), digest, registry_sig
    )
    return Prepared(rec, "", {k: k in ok for k in keys})


def _pool(workers: int) -> Pool:
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method).Pool(workers)


def prepared_stream(
    lines: Iterable[bytes],
    replayer: Replayer,
    *,
    workers: int = 1,
    batch: int = 500,
    hint_keys: Sequence[bytes] = (),
) -> Generator[Prepared, None, None]:
    """Lines prepared in order. With ``workers`` > 1 a process pool parses and checks seals
    a few batches ahead of the replayer; every stateful check still runs in order, in this
    process, so the first failure named is the one a single process would name."""
    if workers <= 1:
        for line in lines:
            yield prepare(line)
        return
    it = iter(lines)
    window: deque[tuple[AsyncResult[list[_Wire]], tuple[bytes, ...]]] = deque()
    with _pool(workers) as pool:
        while True:
            chunk = list(islice(it, batch))
            if chunk:
                keys = tuple(dict.fromkeys((*hint_keys, *replayer.registry_public_keys())))
                window.append((pool.apply_async(_prepare_batch, (chunk, keys)), keys))
            if window and (not chunk or len(window) > 2 * workers):
                result, keys = window.popleft()
                for item in result.get():
                    yield _unwire(item, keys)
            elif not chunk:
                return


# -- progress -----------------------------------------------------------------------------------


class ProgressBar:
    """A one-line bar on stderr, redrawn at most four times a second."""

    def __init__(self, total: int | None, *, stream: IO[str] | None = None, enabled: bool = True) -> None:
        self.total, self.stream, self.enabled = total, stream or sys.stderr, enabled
        self.start = self._last = time.monotonic()
        self.done = 0

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if self.enabled and now - self._last >= 0.25:
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.done / max(now - self.start, 1e-9)
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 30)
            eta = (self.total - self.done) / rate if rate else 0.0
            text = (
                f"[{bar:<30}] {share:6.1%} {self.done:,}/{self.total:,} records {rate:,.0f}/s eta {eta:,.0f}s"
            )
        else:
            text = f"{self.done:,} records {rate:,.0f}/s"
        self.stream.write("\r" + text)
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()


# -- the replay of a bundle ---------------------------------------------------------------------


@dataclass
class ReplayRun:
    """A replay of a bundle's journal: the report, what it cost, and the record it stopped at."""

    report: ReplayReport
    signatures: int
    seconds: float
    workers: int
    failing_record: ParsedRecord | None = None
    journal_sha256: str | None = None
    checkpoints_sha256: str | None = None
    key_events_sha256: str | None = None


class _KeyEvents:
    """Hashes the key events as export derives them, to compare with keys.jsonl."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def __call__(self, rec: ParsedRecord, body: Body, effect: Effect, state: LedgerState) -> None:
        if effect.key is not None:
            event = key_event(rec.seq, format_utc(rec.time), rec.body)
            if event is not None:
                self.digest.update(canonical_bytes(event) + b"\n")


def replay_bundle(
    bundle: Bundle,
    *,
    registry_key: bytes | None,
    workers: int = 1,
    checks: Sequence[RecordCheck] = (),
    observers: Sequence[RecordObserver] = (),
    until: datetime | None = None,
    extra_checkpoints: Iterable[Checkpoint] = (),
    progress: ProgressBar | None = None,
    spill_dir: Path | None = None,
) -> ReplayRun:
    """Replay the bundle's journal (up to, not including, the first record at or after
    ``until``), verifying it against its checkpoints and any the auditor kept."""
    store = DiskStore(spill_dir)
    journal_digest, cp_digest, keys = hashlib.sha256(), hashlib.sha256(), _KeyEvents()
    cps = heapq.merge(
        bundle.checkpoints(cp_digest),
        sorted(extra_checkpoints, key=lambda c: c.tree_size),
        key=lambda c: c.tree_size,
    )
    replayer = Replayer(
        cps,
        registry_key=registry_key,
        digests=store.digests,
        hold_archive=store.holds,
        checks=checks,
        observers=(*observers, keys),
    )
    started, signatures, complete = time.perf_counter(), 0, until is None
    pending: Prepared | None = None  # prepared but not yet applied
    last: ParsedRecord | None = None
    stream = prepared_stream(
        bundle.lines(JOURNAL, journal_digest),
        replayer,
        workers=workers,
        hint_keys=() if registry_key is None else (registry_key,),
    )
    failure: ReplayFailure | None = None
    try:
        for pending in stream:
            rec = pending.record
            if until is not None and rec is not None and rec.time >= until:
                break
            last = replayer.feed_prepared(pending)
            pending = None
            signatures += 1 + len(last.sigs)
            if progress is not None and replayer.next_seq % 1000 == 0:
                progress.update(replayer.next_seq)
        else:
            failure = replayer.finish() if complete else None
    except ReplayError as exc:
        failure = exc.failure
    finally:
        stream.close()  # stops the workers at once on a failure
        store.close()
    if progress is not None:
        progress.update(replayer.next_seq)
        progress.finish()
    named = None
    if failure is not None and pending is not None and replayer.next_seq == failure.seq:
        named = pending.record  # the line found where record ``failure.seq`` should be
    elif failure is not None and last is not None and last.seq == failure.seq:
        named = last  # applied, then a checkpoint over it failed
    whole = complete and failure is None
    return ReplayRun(
        replayer.report(failure),
        signatures + replayer.checkpoints_verified,
        time.perf_counter() - started,
        workers,
        named,
        journal_digest.hexdigest() if whole else None,
        cp_digest.hexdigest() if whole else None,
        keys.digest.hexdigest() if whole else None,
    )


# -- verify: the one-screen summary -------------------------------------------------------------


@dataclass
class AuditSummary:
    bundle: str
    manifest: dict[str, Any]
    pinned: bool
    run: ReplayRun | None = None
    problems: list[str] = field(default_factory=list)  # bundle-level: manifest, derived files
    bundle_error: str | None = None

    @property
    def failure(self) -> ReplayFailure | None:
        return None if self.run is None else self.run.report.failure

    @property
    def ok(self) -> bool:
        return self.bundle_error is None and self.failure is None and not self.problems

    def render(self) -> str:
        m, lines = self.manifest, []
        lines.append(f"ecoledger audit — {self.bundle}")
        key = m.get("registry_key_id", "?")
        pin = "pinned by --registry-key" if self.pinned else "from the manifest: NOT independently pinned"
        lines.append(f"  registry      {m.get('registry', '?')} (key {key}, {pin})")
        if self.run is not None:
            r, st = self.run.report, self.run.report.state
            open_holds = sum(1 for h in st.holds.values() if h.status == "open")
            lines += [
                f"  records       {r.records:,} replayed (the manifest lists {m.get('records', '?')})",
                f"  signatures    {self.run.signatures:,} verified (registry seals, parties, checkpoints)",
                f"  checkpoints   {r.checkpoints_verified:,} verified",
                f"  parties       {len(st.parties):,}  keys {len(st.keys):,}  accounts {len(st.accounts):,}",
                f"  positions     {len(st.positions):,} non-zero   open holds {open_holds:,}",
                f"  head hash     {r.head_hash.hex()}",
                f"  time          {self.run.seconds:,.1f} s, {r.records / max(self.run.seconds, 1e-9):,.0f} "
                f"records/s, {self.run.workers} process(es) parsing",
            ]
        if self.ok:
            lines.append("  RESULT        VERIFIED: every encoding, link, signature, checkpoint and rule")
            return "\n".join(lines)
        lines.append("  RESULT        FAILED")
        if self.bundle_error is not None:
            lines.append(f"  bundle        {self.bundle_error}")
        failure = self.failure
        if failure is not None:
            lines.append(f"  record        {failure.seq}")
            lines.append(f"  rule          {failure.rule}")
            lines.append(f"  message       {failure.message}")
            if failure.evidence:
                lines.append(f"  evidence      {_short(canonical_json(failure.evidence))}")
            rec = self.run.failing_record if self.run is not None else None
            if rec is not None:
                what = rec.body.get("action") or rec.body.get("type")
                lines.append(
                    f"  the line      seq {rec.seq}, {format_utc(rec.time)}, {what}, hash {rec.hash.hex()}"
                )
        lines += [f"  manifest      {p}" for p in self.problems]
        return "\n".join(lines)


def canonical_json(value: Any) -> str:
    try:
        return canonical_bytes(value).decode()
    except (TypeError, ValueError):
        return repr(value)


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def verify_bundle(
    path: Path,
    *,
    registry_key: bytes | None = None,
    workers: int | None = None,
    progress: bool = False,
    checks: Sequence[RecordCheck] = (),
    extra_checkpoints: Iterable[Checkpoint] = (),
    spill_dir: Path | None = None,
) -> AuditSummary:
    """Verify everything in a bundle; the summary names the first failure, if any.

    Without ``registry_key`` the manifest's key is used, and the summary says it was not
    independently pinned. ``workers=None`` picks one process for small bundles, else two.
    """
    try:
        bundle = Bundle(path)
    except BundleError as exc:
        return AuditSummary(str(path), {}, registry_key is not None, bundle_error=str(exc))
    with bundle:
        m = bundle.manifest
        summary = AuditSummary(str(path), m, registry_key is not None)
        pin = registry_key
        if pin is None:
            try:
                pin = b64d(str(m.get("registry_public_key")), length=32)
            except ValueError:
                summary.bundle_error = "the manifest names no valid registry key; pass --registry-key"
                return summary
        total = m.get("records") if isinstance(m.get("records"), int) else None
        if workers is None:
            workers = 1 if (total or 0) < AUTO_PARALLEL_RECORDS else 2
        bar = ProgressBar(total, enabled=progress)
        try:
            summary.run = replay_bundle(
                bundle,
                registry_key=pin,
                workers=workers,
                checks=checks,
                extra_checkpoints=extra_checkpoints,
                progress=bar,
                spill_dir=spill_dir,
            )
        except BundleError as exc:
            summary.bundle_error = str(exc)
            return summary
        if summary.run.report.ok:
            summary.problems = _manifest_problems(bundle, summary.run)
    return summary


def _manifest_problems(bundle: Bundle, run: ReplayRun) -> list[str]:
    """What the manifest says against what the journal proved (checked only after a clean replay,
    so a tampered record is named by the replay rather than by a file hash)."""
    m, report, problems = bundle.manifest, run.report, []
    if m.get("records") != report.records:
        problems.append(f"says {m.get('records')} records, the journal has {report.records}")
    if m.get("head_hash") != report.head_hash.hex():
        problems.append(f"says head hash {m.get('head_hash')}, the journal's is {report.head_hash.hex()}")
    genesis = next((k for k in report.state.keys.values() if k.party == "registry"), None)
    if genesis is not None and m.get("registry_public_key") != b64e(genesis.public_key):
        problems.append("names a registry key other than the journal's genesis key")
    computed = {JOURNAL: run.journal_sha256, CHECKPOINTS: run.checkpoints_sha256}
    for name, entry in sorted(m.get("files", {}).items()):
        expected = entry.get("sha256") if isinstance(entry, dict) else None
        if not bundle.has(name):
            problems.append(f"lists {name}, which the bundle lacks")
            continue
        actual = computed.get(name) or bundle.digest_of(name)
        if actual != expected:
            problems.append(f"sha256 of {name} is {actual}, the manifest says {expected}")
    if bundle.has(KEYS) and bundle.digest_of(KEYS) != run.key_events_sha256:
        problems.append(f"{KEYS} does not match the key events in the journal (keys come from the journal)")
    return problems


# -- certificates: one record, its inclusion proof and a signed checkpoint ----------------------


@dataclass(frozen=True)
class CertificateResult:
    ok: bool
    rule: str  # "ok", or the check that failed
    message: str
    seq: int | None = None
    record: ParsedRecord | None = None
    checkpoint: Checkpoint | None = None


def verify_certificate_json(obj: Any, registry_public_key: bytes | Iterable[bytes]) -> CertificateResult:
    """Verify in one call: the record's canonical form and registry seal, the checkpoint's
    signature, and the inclusion proof from the record to the checkpoint's root.

    Party signatures are not checked here: proving which keys were valid needs the journal.
    """
    trusted = [registry_public_key] if isinstance(registry_public_key, bytes) else list(registry_public_key)

    def no(rule: str, message: str, **kw: Any) -> CertificateResult:
        return CertificateResult(False, rule, message, **kw)

    if not isinstance(obj, dict) or obj.get("format", CERTIFICATE_FORMAT) != CERTIFICATE_FORMAT:
        return no("certificate_form", f"not an {CERTIFICATE_FORMAT} object")
    line, seq, path, cp_json = obj.get("record"), obj.get("seq"), obj.get("path"), obj.get("checkpoint")
    if (
        not isinstance(line, str)
        or isinstance(seq, bool)
        or not isinstance(seq, int)
        or not isinstance(path, list)
    ):
        return no("certificate_form", "needs record (text), seq (integer), path (list) and checkpoint")
    try:
        rec = parse_line(line.encode("utf-8"))
        cp = Checkpoint.from_json(cp_json)
        nodes = [bytes.fromhex(p) for p in path]
    except (DomainError, ValueError, TypeError) as exc:
        return no("certificate_form", str(exc))
    if rec.seq != seq:
        return no("sequence", f"the certificate says record {seq}, the record is {rec.seq}", seq=seq)
    if not any(verify(k, TAG_REGISTRY, rec.hash, rec.registry_sig) for k in trusted):
        return no("registry_signature", "the record's seal does not verify under the registry key", seq=seq)
    signer = next((k for k in trusted if key_id_for(k) == cp.key_id), None)
    if signer is None or not cp.verifies_with(signer):
        return no("checkpoint_signature", "the checkpoint is not signed by the registry key", seq=seq)
    if not verify_inclusion(leaf_hash(rec.hash), seq, cp.tree_size, nodes, cp.root):
        return no(
            "inclusion_proof", f"the path does not lead to the root of checkpoint {cp.tree_size}", seq=seq
        )
    return CertificateResult(
        True, "ok", f"record {seq} is in the journal under checkpoint {cp.tree_size}", seq, rec, cp
    )
