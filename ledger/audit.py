"""The offline auditor: verify a bundle with nothing but the bundle, and one record by certificate.

Streams the journal through ``Replayer`` in bounded memory, optionally with worker processes.
"""

from __future__ import annotations

import hashlib
import heapq
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from ledger.bundle import CERTIFICATE_FORMAT, CHECKPOINTS, JOURNAL, KEYS, Bundle, BundleError, key_event
from ledger.canonical import canonical_bytes
from ledger.checkpoint import Checkpoint
from ledger.crypto import TAG_REGISTRY, b64d, b64e, key_id_for, verify
from ledger.errors import DomainError
from ledger.journal import ParsedRecord, parse_line
from ledger.merkle import leaf_hash, verify_inclusion
from ledger.model import Body
from ledger.replay import (
    Prepared,
    RecordCheck,
    RecordObserver,
    Replayer,
    ReplayError,
    ReplayFailure,
    ReplayReport,
)
from ledger.replay_scale import DiskStore, prepared_stream
from ledger.rules import Effect
from ledger.state import LedgerState
from ledger.timeutil import format_utc

__all__ = [
    "AuditSummary",
    "CertificateResult",
    "ProgressBar",
    "ReplayRun",
    "SummaryLine",
    "replay_bundle",
    "verify_bundle",
    "verify_certificate_json",
]

AUTO_PARALLEL_RECORDS = 20_000  # below this, starting worker processes costs more than it saves


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


class _Hashes:
    """SHA-256 of the files as they stream by, and of the key events the journal implies
    (exactly as export derives keys.jsonl), to hold against the manifest afterwards."""

    def __init__(self) -> None:
        self.journal, self.checkpoints, self.key_events = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()

    def __call__(self, rec: ParsedRecord, body: Body, effect: Effect, state: LedgerState) -> None:
        if effect.key is not None:
            event = key_event(rec.seq, format_utc(rec.time), rec.body)
            if event is not None:
                self.key_events.update(canonical_bytes(event) + b"\n")


@dataclass
class _Fed:
    """Where feeding stopped: the failure, the line not applied, the last record applied."""

    failure: ReplayFailure | None = None
    pending: Prepared | None = None
    last: ParsedRecord | None = None
    signatures: int = 0

    def named(self, next_seq: int) -> ParsedRecord | None:
        """The record the failure names: the line found in its place, or the record a
        checkpoint failed over."""
        if self.failure is None:
            return None
        if self.pending is not None and next_seq == self.failure.seq:
            return self.pending.record
        return self.last if self.last is not None and self.last.seq == self.failure.seq else None


def _feed(
    replayer: Replayer, stream: Iterable[Prepared], until: datetime | None, progress: ProgressBar | None
) -> _Fed:
    fed = _Fed()
    try:
        for fed.pending in stream:
            rec = fed.pending.record
            if until is not None and rec is not None and rec.time >= until:
                return fed
            fed.last = replayer.feed_prepared(fed.pending)
            fed.pending = None
            fed.signatures += 1 + len(fed.last.sigs)
            if progress is not None and replayer.next_seq % 1000 == 0:
                progress.update(replayer.next_seq)
    except ReplayError as exc:
        fed.failure = exc.failure
        return fed
    fed.failure = replayer.finish() if until is None else None
    return fed


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
    store, hashes = DiskStore(spill_dir), _Hashes()
    by_size = sorted(extra_checkpoints, key=lambda c: c.tree_size)
    cps = heapq.merge(bundle.checkpoints(hashes.checkpoints), by_size, key=lambda c: c.tree_size)
    replayer = Replayer(
        cps,
        registry_key=registry_key,
        digests=store.digests,
        hold_archive=store.holds,
        checks=checks,
        observers=(*observers, hashes),
    )
    hints = () if registry_key is None else (registry_key,)
    stream = prepared_stream(
        bundle.lines(JOURNAL, hashes.journal), replayer, workers=workers, hint_keys=hints
    )
    started = time.perf_counter()
    try:
        fed = _feed(replayer, stream, until, progress)
    finally:
        stream.close()  # stops the workers at once on a failure
        store.close()
    if progress is not None:
        progress.update(replayer.next_seq)
        progress.finish()
    whole = until is None and fed.failure is None
    return ReplayRun(
        replayer.report(fed.failure),
        fed.signatures + replayer.checkpoints_verified,
        time.perf_counter() - started,
        workers,
        fed.named(replayer.next_seq),
        hashes.journal.hexdigest() if whole else None,
        hashes.checkpoints.hexdigest() if whole else None,
        hashes.key_events.hexdigest() if whole else None,
    )


# -- verify: the one-screen summary -------------------------------------------------------------


@runtime_checkable
class SummaryLine(Protocol):
    """A replay plug-in (check or observer) that says in one line of the summary what it rebuilt."""

    def summary_line(self) -> tuple[str, str]:
        """``(label, text)``, e.g. ``("serials", "17,640 serials of 1 batch rebuilt over ...")``."""
        ...


@dataclass
class AuditSummary:
    bundle: str
    manifest: dict[str, Any]
    pinned: bool
    run: ReplayRun | None = None
    problems: list[str] = field(default_factory=list)  # bundle-level: manifest, derived files
    bundle_error: str | None = None
    key_id: str | None = None  # of the registry key replay pinned
    plugins: list[tuple[str, str]] = field(default_factory=list)  # what each plug-in says it rebuilt

    @property
    def failure(self) -> ReplayFailure | None:
        return None if self.run is None else self.run.report.failure

    @property
    def ok(self) -> bool:
        return self.bundle_error is None and self.failure is None and not self.problems

    def render(self) -> str:
        m, lines = self.manifest, []
        lines.append(f"ecoledger audit — {self.bundle}")
        key = self.key_id or m.get("registry_key_id", "?")
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
                *(f"  {label:<13} {text}" for label, text in self.plugins),
                f"  head hash     {r.head_hash.hex()}",
                f"  time          {self.run.seconds:,.1f} s, {r.records / max(self.run.seconds, 1e-9):,.0f} "
                f"records/s, "
                + ("one process" if self.run.workers <= 1 else f"{self.run.workers} worker processes ahead"),
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
    observers: Sequence[RecordObserver] = (),
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
        summary.key_id = key_id_for(pin)
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
                observers=observers,
                extra_checkpoints=extra_checkpoints,
                progress=bar,
                spill_dir=spill_dir,
            )
        except BundleError as exc:
            summary.bundle_error = str(exc)
            return summary
        plugins: tuple[object, ...] = (*checks, *observers)
        summary.plugins = [p.summary_line() for p in plugins if isinstance(p, SummaryLine)]
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
