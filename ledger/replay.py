"""Replay: rebuild every balance from journal lines alone, verifying as it goes.

Needs nothing but the lines (and, optionally, published checkpoints): canonical form,
sequence, hash links, the registry's and every party's signature under the keys valid at
the record's time, and every ledger rule, by the same ``rules.apply`` the registry ran.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

from ledger.checkpoint import Checkpoint
from ledger.crypto import TAG_BODY, TAG_REGISTRY, sha256, verify_replayed
from ledger.errors import DomainError
from ledger.journal import GENESIS_PREV, ParsedRecord, parse_line
from ledger.merkle import Frontier, leaf_hash
from ledger.model import REGISTRY, Body, Genesis, TxBody, parse_body
from ledger.rules import Effect, KeyInfo, apply, check_signatures
from ledger.state import HoldArchive, LedgerState

__all__ = [
    "DigestSet",
    "Prepared",
    "RecordCheck",
    "RecordObserver",
    "ReplayError",
    "ReplayFailure",
    "ReplayReport",
    "Replayer",
    "prepare",
    "replay_lines",
]


@dataclass(frozen=True)
class ReplayFailure:
    """The first thing found wrong: which record, which rule, and the evidence."""

    seq: int
    rule: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"record {self.seq}: {self.rule}: {self.message}"


class ReplayError(Exception):
    def __init__(self, failure: ReplayFailure) -> None:
        super().__init__(str(failure))
        self.failure = failure


@dataclass
class ReplayReport:
    records: int
    head_hash: bytes
    state: LedgerState
    frontier: Frontier
    checkpoints_verified: int
    failure: ReplayFailure | None

    @property
    def ok(self) -> bool:
        return self.failure is None


RecordCheck = Callable[[int, dict[str, Any], LedgerState], "ReplayFailure | None"]
"""A plug-in rule run on every tx record after its signatures, before it is applied:
``(seq, body_json, state before the record)`` -> ``None``, or the failure to report."""

RecordObserver = Callable[[ParsedRecord, Body, Effect, LedgerState], None]
"""Called after each record is applied (reports collect what they need through it)."""


class DigestSet(Protocol):
    """The digests of applied bodies: ``add`` is False when the digest was already there.

    Must be exact: a structure that could answer "new" for a seen digest would let a
    replayed (duplicated) instruction through.
    """

    def add(self, digest: bytes) -> bool: ...


class _MemoryDigests:
    def __init__(self) -> None:
        self._seen: set[bytes] = set()

    def add(self, digest: bytes) -> bool:
        if digest in self._seen:
            return False
        self._seen.add(digest)
        return True


class Prepared(NamedTuple):
    """The stateless half of replaying a line: the strict parse (or why it was refused), which
    candidate registry keys verify the seal, and, per party signature, the public key it was
    found to verify under (None: not checked, or failed). Pure, so any process may make it."""

    record: ParsedRecord | None
    error: str = ""
    seal: Mapping[bytes, bool] = MappingProxyType({})
    signed_with: tuple[bytes | None, ...] = ()
    body: Body | None = None  # the typed body, when a worker parsed it (None: parse it here)


def prepare(
    line: bytes, seal_keys: Iterable[bytes] = (), party_keys: Mapping[str, bytes] | None = None
) -> Prepared:
    """Parse ``line``; check its seal against each of ``seal_keys`` and each party signature
    against the key ``party_keys`` has under its key id. Both are hints: whether a key was
    valid, and for whom, is decided later, in order, by the replayer, which verifies
    anything not settled here itself."""
    try:
        rec = parse_line(line)
    except DomainError as exc:
        return Prepared(None, exc.message)
    seal = {k: verify_replayed(k, TAG_REGISTRY, rec.hash, rec.registry_sig) for k in seal_keys}
    signed_with: tuple[bytes | None, ...] = ()
    if party_keys:
        found = (party_keys.get(s.key_id) for s in rec.sigs)
        signed_with = tuple(
            k if k is not None and verify_replayed(k, TAG_BODY, rec.body_bytes, s.sig) else None
            for k, s in zip(found, rec.sigs, strict=True)
        )
    return Prepared(rec, "", seal, signed_with)


class _Checkpoints:
    """Checkpoints by tree size, consumed in order: a mapping, or a stream sorted by size
    (so a long journal's checkpoint file need not be held in memory)."""

    def __init__(self, source: Mapping[int, Checkpoint] | Iterable[Checkpoint] | None) -> None:
        pairs: Iterable[tuple[int, Checkpoint]]
        if source is None:
            pairs = ()
        elif isinstance(source, Mapping):
            pairs = sorted(source.items(), key=lambda kv: kv[0])
        else:
            pairs = ((cp.tree_size, cp) for cp in source)
        self._pairs: Iterator[tuple[int, Checkpoint]] = iter(pairs)
        self._next: tuple[int, Checkpoint] | None = next(self._pairs, None)
        self.out_of_order: int | None = None

    def due(self, size: int) -> list[Checkpoint]:
        """Every checkpoint of exactly ``size`` leaves; those of smaller sizes are skipped."""
        found: list[Checkpoint] = []
        while self._next is not None and self._next[0] <= size:
            at, cp = self._next
            if at == size:
                found.append(cp)
            self._next = next(self._pairs, None)
            if self._next is not None and self._next[0] < at:
                self.out_of_order = self._next[0]
        return found

    def beyond(self, size: int) -> int | None:
        """The largest size greater than ``size`` still unconsumed (drains the stream)."""
        largest = None
        while self._next is not None:
            if self._next[0] > size:
                largest = max(largest or 0, self._next[0])
            self._next = next(self._pairs, None)
        return largest


class Replayer:
    """Feeds records one at a time; raises ``ReplayError`` at the first bad one.

    Two seams keep it exact at any length: ``feed_prepared`` takes lines whose stateless half
    (``prepare``) worker processes computed ahead; and the applied body digests and the closed
    holds may live on disk (``digests``, ``hold_archive``), so memory stays flat.
    """

    def __init__(
        self,
        checkpoints: Mapping[int, Checkpoint] | Iterable[Checkpoint] | None = None,
        *,
        registry_key: bytes | None = None,
        digests: DigestSet | None = None,
        hold_archive: HoldArchive | None = None,
        checks: Sequence[RecordCheck] = (),
        observers: Sequence[RecordObserver] = (),
    ) -> None:
        # Without ``registry_key`` (the registry's published public key, from a trusted
        # list), a journal fabricated from its own genesis would replay clean.
        self.trusted_key = registry_key
        self.state = LedgerState(archive=hold_archive)
        self.prev = GENESIS_PREV
        self.next_seq = 0
        self.last_time: datetime | None = None
        self.frontier = Frontier()
        self._checkpoints = _Checkpoints(checkpoints)
        self.checkpoints_verified = 0
        self._digests: DigestSet = digests if digests is not None else _MemoryDigests()
        self._registry_keys: dict[str, KeyInfo] = {}  # scanned per record: keep it small
        self._party_keys: dict[str, bytes] = {}
        self._checks = tuple(checks)
        self._observers = tuple(observers)

    def fail(self, seq: int, rule: str, message: str, **evidence: Any) -> ReplayError:
        return ReplayError(ReplayFailure(seq, rule, message, evidence))

    def registry_public_keys(self) -> tuple[bytes, ...]:
        """Every registry key seen so far: the candidates worth checking a seal against early."""
        return tuple(k.public_key for k in self._registry_keys.values())

    def feed(self, line: bytes) -> None:
        self.feed_prepared(prepare(line, (), self.party_keys()))

    def feed_prepared(self, prep: Prepared) -> ParsedRecord:
        """Apply one prepared line, exactly as ``feed`` would the line itself."""
        seq = self.next_seq
        rec = prep.record
        if rec is None:
            raise self.fail(seq, "canonical_form", prep.error)
        if rec.seq != seq:
            raise self.fail(seq, "sequence", f"expected record {seq}, found {rec.seq}", found=rec.seq)
        if rec.prev != self.prev:
            raise self.fail(
                seq,
                "hash_chain",
                "prev does not match the previous record's hash",
                expected=self.prev.hex(),
                found=rec.prev.hex(),
            )
        if self.last_time is not None and rec.time < self.last_time:
            raise self.fail(seq, "time_order", "record is older than its predecessor")
        self._apply(rec, prep)
        self.prev = rec.hash
        self.last_time = rec.time
        self.next_seq += 1
        self.frontier.append(leaf_hash(rec.hash))
        self._check_checkpoints()
        return rec

    def _apply(self, rec: ParsedRecord, prep: Prepared) -> None:
        seq = rec.seq
        # The seal first: a record the registry did not sign is reported as such, whatever
        # else is wrong with it. Record 0 carries the key that seals it.
        if seq > 0 and not self._registry_signed(rec, prep.seal):
            tried = sorted(k.key_id for k in self._registry_keys.values() if k.valid_at(rec.time))
            raise self.fail(
                seq,
                "registry_signature",
                "the registry's signature does not verify",
                record_hash=rec.hash.hex(),
                registry_keys_valid=tried,
            )
        try:
            body = prep.body if prep.body is not None else parse_body(rec.body)
        except DomainError as exc:
            raise self.fail(seq, "body", exc.message, **exc.details) from None
        if (seq == 0) != isinstance(body, Genesis):
            raise self.fail(seq, "genesis", "record 0, and only record 0, is the genesis")
        if isinstance(body, Genesis) and self.trusted_key is not None and body.public_key != self.trusted_key:
            raise self.fail(
                seq, "registry_key", "the genesis names a key other than the trusted registry key"
            )
        if isinstance(body, Genesis) and not verify_replayed(
            body.public_key, TAG_REGISTRY, rec.hash, rec.registry_sig
        ):
            raise self.fail(seq, "registry_signature", "the genesis record is not self-signed")
        if not self._digests.add(sha256(rec.body_bytes)[:16]):
            raise self.fail(seq, "duplicate_instruction", "this signed body was already applied")
        try:
            effect = apply(body, self.state, rec.time)
            if not self._consent_proven(rec, effect.required_signers, prep.signed_with):
                check_signatures(rec.body_bytes, rec.sigs, effect.required_signers, self.state, rec.time)
        except DomainError as exc:
            raise self.fail(seq, exc.code, exc.message, **exc.details) from None
        if isinstance(body, TxBody):
            for check in self._checks:
                failure = check(seq, rec.body, self.state)
                if failure is not None:
                    raise ReplayError(failure)
        self.state.commit(effect)
        if effect.key is not None and effect.key.party == REGISTRY:
            self._registry_keys[effect.key.key_id] = effect.key
        for observe in self._observers:
            observe(rec, body, effect, self.state)

    def party_keys(self) -> dict[str, bytes]:
        """Every party key by id: what a worker needs to check party signatures early."""
        if len(self._party_keys) != len(self.state.keys):
            self._party_keys = {k.key_id: k.public_key for k in self.state.keys.values()}
        return self._party_keys

    def _consent_proven(
        self, rec: ParsedRecord, required: set[str], signed_with: tuple[bytes | None, ...]
    ) -> bool:
        """True when a worker's checks already prove what ``check_signatures`` would accept:
        every signature verified under the key its id names now, that key is the signer's
        and valid at the record's time (and held in custody if the signature says so), no
        party signed twice, and every required party signed. Anything less is
        left to ``check_signatures`` itself, which then names the exact refusal."""
        if len(signed_with) != len(rec.sigs):
            return False
        signed = set()
        for s, used in zip(rec.sigs, signed_with, strict=True):
            key = self.state.find_key(s.key_id)
            if used is None or key is None or key.public_key != used or s.party in signed:
                return False
            if key.party != s.party or not key.valid_at(rec.time) or (s.custody and not key.custody):
                return False
            signed.add(s.party)
        return required <= signed

    def _registry_signed(self, rec: ParsedRecord, seal: Mapping[bytes, bool]) -> bool:
        for k in self._registry_keys.values():
            if not k.valid_at(rec.time):
                continue
            known = seal.get(k.public_key)  # settled by a worker, or not yet
            if known is None:
                known = verify_replayed(k.public_key, TAG_REGISTRY, rec.hash, rec.registry_sig)
            if known:
                return True
        return False

    def _check_checkpoints(self) -> None:
        size = self.frontier.size
        for cp in self._checkpoints.due(size):
            self._check_checkpoint(cp, size - 1)
        if self._checkpoints.out_of_order is not None:
            raise self.fail(
                size - 1,
                "checkpoint_order",
                "checkpoints are not in order of tree size",
                found=self._checkpoints.out_of_order,
            )

    def _check_checkpoint(self, cp: Checkpoint, seq: int) -> None:
        key = self.state.keys.get(cp.key_id)
        if (
            key is None
            or key.party != REGISTRY
            or not key.valid_at(cp.time)
            or not cp.verifies_with(key.public_key)
        ):
            raise self.fail(
                seq,
                "checkpoint_signature",
                f"checkpoint at size {cp.tree_size} is not signed by the registry",
            )
        if cp.root != self.frontier.root():
            raise self.fail(
                seq,
                "checkpoint_root",
                f"checkpoint at size {cp.tree_size} does not match the journal",
                expected=self.frontier.root().hex(),
                found=cp.root.hex(),
            )
        self.checkpoints_verified += 1

    def finish(self) -> ReplayFailure | None:
        """After the last line: a checkpoint beyond the journal means records were dropped."""
        beyond = self._checkpoints.beyond(self.next_seq)
        if beyond is None:
            return None
        return ReplayFailure(
            self.next_seq,
            "checkpoint_beyond_journal",
            f"a checkpoint covers {beyond} records but the journal has {self.next_seq}",
        )

    def report(self, failure: ReplayFailure | None = None) -> ReplayReport:
        return ReplayReport(
            self.next_seq, self.prev, self.state, self.frontier, self.checkpoints_verified, failure
        )


def replay_lines(
    lines: Iterable[bytes],
    checkpoints: Mapping[int, Checkpoint] | Iterable[Checkpoint] | None = None,
    *,
    registry_key: bytes | None = None,
    checks: Sequence[RecordCheck] = (),
) -> ReplayReport:
    """Replay until the end or the first failure, which the report names.

    Pass ``registry_key`` (the registry's published key) to pin whose journal this is, and
    ``checks`` for the plug-ins beyond the ledger's rules (``Replayer``).
    """
    replayer = Replayer(checkpoints, registry_key=registry_key, checks=checks)
    try:
        for line in lines:
            replayer.feed(line)
    except ReplayError as exc:
        return replayer.report(exc.failure)
    return replayer.report(replayer.finish())
