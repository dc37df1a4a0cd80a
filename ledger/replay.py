"""Replay: rebuild every balance from journal lines alone, verifying as it goes.

Needs nothing but the lines (and, optionally, published checkpoints): canonical form,
sequence, hash links, the registry's and every party's signature under the keys valid at
the record's time, and every ledger rule, by the same ``rules.apply`` the registry ran.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.checkpoint import Checkpoint
from ledger.crypto import TAG_REGISTRY, sha256, verify
from ledger.errors import DomainError
from ledger.journal import GENESIS_PREV, ParsedRecord, parse_line
from ledger.merkle import Frontier, leaf_hash
from ledger.model import REGISTRY, Genesis, parse_body
from ledger.rules import KeyInfo, apply, check_signatures
from ledger.state import LedgerState

__all__ = ["ReplayFailure", "ReplayReport", "Replayer", "replay_lines"]


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


class Replayer:
    """Feeds records one at a time; raises ``ReplayError`` at the first bad one."""

    def __init__(
        self,
        checkpoints: Mapping[int, Checkpoint] | None = None,
        *,
        registry_key: bytes | None = None,
    ) -> None:
        # Without ``registry_key`` (the registry's published public key, from a trusted
        # list), a journal fabricated from its own genesis would replay clean.
        self.trusted_key = registry_key
        self.state = LedgerState()
        self.prev = GENESIS_PREV
        self.next_seq = 0
        self.last_time: datetime | None = None
        self.frontier = Frontier()
        self.checkpoints = dict(checkpoints or {})
        self.checkpoints_verified = 0
        self._digests: set[bytes] = set()
        self._registry_keys: dict[str, KeyInfo] = {}  # scanned per record: keep it small

    def fail(self, seq: int, rule: str, message: str, **evidence: Any) -> ReplayError:
        return ReplayError(ReplayFailure(seq, rule, message, evidence))

    def feed(self, line: bytes) -> None:
        seq = self.next_seq
        try:
            rec = parse_line(line)
        except DomainError as exc:
            raise self.fail(seq, "canonical_form", exc.message) from None
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
        self._apply(rec)
        self.prev = rec.hash
        self.last_time = rec.time
        self.next_seq += 1
        self.frontier.append(leaf_hash(rec.hash))
        self._check_checkpoint()

    def _apply(self, rec: ParsedRecord) -> None:
        seq = rec.seq
        # The seal first: a record the registry did not sign is reported as such, whatever
        # else is wrong with it. Record 0 carries the key that seals it.
        if seq > 0 and not self._registry_signed(rec):
            raise self.fail(seq, "registry_signature", "the registry's signature does not verify")
        try:
            body = parse_body(rec.body)
        except DomainError as exc:
            raise self.fail(seq, "body", exc.message, **exc.details) from None
        if (seq == 0) != isinstance(body, Genesis):
            raise self.fail(seq, "genesis", "record 0, and only record 0, is the genesis")
        if isinstance(body, Genesis) and self.trusted_key is not None and body.public_key != self.trusted_key:
            raise self.fail(
                seq, "registry_key", "the genesis names a key other than the trusted registry key"
            )
        if isinstance(body, Genesis) and not verify(
            body.public_key, TAG_REGISTRY, rec.hash, rec.registry_sig
        ):
            raise self.fail(seq, "registry_signature", "the genesis record is not self-signed")
        digest = sha256(rec.body_bytes)[:16]
        if digest in self._digests:
            raise self.fail(seq, "duplicate_instruction", "this signed body was already applied")
        try:
            effect = apply(body, self.state, rec.time)
            check_signatures(rec.body_bytes, rec.sigs, effect.required_signers, self.state, rec.time)
        except DomainError as exc:
            raise self.fail(seq, exc.code, exc.message, **exc.details) from None
        self._digests.add(digest)
        self.state.commit(effect)
        if effect.key is not None and effect.key.party == REGISTRY:
            self._registry_keys[effect.key.key_id] = effect.key

    def _registry_signed(self, rec: ParsedRecord) -> bool:
        return any(
            verify(k.public_key, TAG_REGISTRY, rec.hash, rec.registry_sig)
            for k in self._registry_keys.values()
            if k.valid_at(rec.time)
        )

    def _check_checkpoint(self) -> None:
        cp = self.checkpoints.get(self.frontier.size)
        if cp is None:
            return
        seq = self.frontier.size - 1
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

    def report(self, failure: ReplayFailure | None = None) -> ReplayReport:
        return ReplayReport(
            self.next_seq, self.prev, self.state, self.frontier, self.checkpoints_verified, failure
        )


def replay_lines(
    lines: Iterable[bytes],
    checkpoints: Mapping[int, Checkpoint] | None = None,
    *,
    registry_key: bytes | None = None,
) -> ReplayReport:
    """Replay until the end or the first failure, which the report names.

    Pass ``registry_key`` (the registry's published key) to pin whose journal this is.
    """
    replayer = Replayer(checkpoints, registry_key=registry_key)
    try:
        for line in lines:
            replayer.feed(line)
    except ReplayError as exc:
        return replayer.report(exc.failure)
    beyond = [size for size in replayer.checkpoints if size > replayer.next_seq]
    if beyond:
        failure = ReplayFailure(
            replayer.next_seq,
            "checkpoint_beyond_journal",
            f"a checkpoint covers {max(beyond)} records but the journal has {replayer.next_seq}",
        )
        return replayer.report(failure)
    return replayer.report()
