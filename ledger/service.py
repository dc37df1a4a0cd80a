"""The ledger's use cases: initialise, submit signed instructions, read balances and proofs.

Every function takes a Session, flushes and never commits: the request, CLI command or
job that called it commits, so a workflow's many legs land in one database transaction.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlmodel import Session

from ledger.canonical import canonical_bytes
from ledger.checkpoint import Checkpoint
from ledger.claim_store import load_claim
from ledger.control_store import load_registry_controls, read_controls
from ledger.controls import Controls, RegistryControls
from ledger.crypto import TAG_BODY, SigningKey
from ledger.errors import (
    DomainError,
    DuplicateInstruction,
    IdempotencyKeyReused,
    InvalidInput,
    LedgerAlreadyInitialized,
    LedgerNotInitialized,
    NotFound,
    UnknownAccount,
)
from ledger.forced_sale import ForcedClaim
from ledger.households import Attribution, Roster
from ledger.journal import GENESIS_PREV, SealedRecord, seal
from ledger.merkle import Frontier, consistency_proof, inclusion_proof, leaf_hash
from ledger.model import REGISTRY, AccountKind, AdoptRules, Body, Genesis, Signature
from ledger.movements import CURRENT_RULE_SET
from ledger.proofs import ConsistencyProof
from ledger.registry_key import check_sealing_key
from ledger.replay import RecordCheck, ReplayReport, replay_lines
from ledger.repository import (
    CP,
    HD,
    KEYS_WITH_CORE,
    A,
    B,
    BatchWriter,
    DbView,
    Head,
    J,
    K,
    P,
    WarmView,
    conn,
    key_info,
)
from ledger.rules import AccountInfo, Hold, KeyInfo, Position, apply, check_signatures
from ledger.timeutil import format_utc, parse_utc, utc_now

__all__ = [
    "Balance",
    "Encoded",
    "ForcedClaim",
    "InclusionProof",
    "Instruction",
    "Receipt",
    "Registry",
    "accounts_of_owner",
    "adopt_rules",
    "balance_as_of",
    "balances",
    "checkpoint_of_size",
    "consistency",
    "consistency_between",
    "controls_of",
    "find_account",
    "find_attribution",
    "find_claim",
    "find_hold",
    "find_roster",
    "init_ledger",
    "journal_lines",
    "keys_of_party",
    "latest_checkpoint",
    "lock_head_time",
    "make_checkpoint",
    "new_nonce",
    "prove_inclusion",
    "registry_controls",
    "sign_body",
    "submit",
    "submit_all",
    "submit_batch",
]


def new_nonce() -> str:
    """128 random bits: makes every instruction's body, and so its signature, unique."""
    return secrets.token_hex(16)


def sign_body(body: Body, party: str, key: SigningKey, *, custody: bool = False) -> Signature:
    """A party's consent: its Ed25519 signature over the canonical body (marked when the registry
    signed with a key it holds in custody for the party)."""
    sig = key.sign(TAG_BODY, canonical_bytes(body.to_json()))
    return Signature(party, key.key_id, sig, custody or key.custody)


@dataclass(frozen=True)
class Instruction:
    """A body with the signatures of the parties consenting to it, as a client submits it."""

    body: Body
    signatures: tuple[Signature, ...] = ()
    idempotency_key: str | None = None
    scope: str = REGISTRY  # whose idempotency keys: the submitting party's

    @classmethod
    def signed(
        cls,
        body: Body,
        *signers: tuple[str, SigningKey],
        idempotency_key: str | None = None,
        scope: str | None = None,
    ) -> Instruction:
        sigs = tuple(sign_body(body, party, key) for party, key in signers)
        return cls(body, sigs, idempotency_key, scope or (signers[0][0] if signers else REGISTRY))


@dataclass
class Registry:
    """The registry's signing identity and policy, handed to every write."""

    key: SigningKey
    clock: Callable[[], datetime] = utc_now
    checkpoint_every: int = 1000


@dataclass(frozen=True)
class Receipt:
    """What a committed instruction returns: where it sits in the journal."""

    seq: int
    hash: str
    time: str
    replayed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "time": self.time}


def init_ledger(
    session: Session, *, registry: Registry, name: str, rule_set: int = CURRENT_RULE_SET
) -> Receipt:
    """Write record 0, naming the registry and its key, then adopt ``rule_set`` (record 1, unless
    it is rule set 1, which is in force from genesis). Refused if the journal exists."""
    if Head.lock(session) is not None:
        raise LedgerAlreadyInitialized("the journal already has a genesis record")
    body = Genesis(name=name, key_id=registry.key.key_id, public_key=registry.key.public, nonce=new_nonce())
    head = Head(0, GENESIS_PREV, None, Frontier(), existed=False)
    view, writer = DbView(session), BatchWriter()
    receipt = _commit(Encoded.of(Instruction(body)), view, writer, head, registry)
    writer.flush(session, view, head)
    session.flush()
    if rule_set > 1:
        adopt_rules(session, registry=registry, version=rule_set)
    return receipt


def adopt_rules(session: Session, *, registry: Registry, version: int = CURRENT_RULE_SET) -> Receipt | None:
    """Hold the journal to rule set ``version`` from the next record on (a ``rules.adopt`` record
    sealed by the registry); None when that rule set, or a later one, is already in force."""
    head = Head.lock(session)
    if head is None:
        raise LedgerNotInitialized("run init first: the journal has no genesis record")
    if head.rule_set >= version:
        return None
    return submit(session, Instruction(AdoptRules(version, new_nonce())), registry=registry)


def submit(session: Session, instruction: Instruction, *, registry: Registry) -> Receipt:
    """Apply one signed instruction, or raise the domain error that refused it."""
    result = submit_batch(session, [instruction], registry=registry)[0]
    if isinstance(result, DomainError):
        raise result
    return result


def submit_batch(
    session: Session,
    instructions: Sequence[Instruction],
    *,
    registry: Registry,
    encoded: Sequence[Encoded] | None = None,
    warm: WarmView | None = None,
    head: Head | None = None,
) -> list[Receipt | DomainError]:
    """Apply instructions in order under one lock and one write per table (group commit).

    A refused instruction changes nothing and takes no sequence number; the others still
    apply. The caller commits once for the whole batch. ``encoded``: the instructions' bodies
    already encoded (``encode``) by their callers, outside the lock. ``warm``: the caller's last
    batch's view, reused while the journal's head has not moved since (``WarmView``). ``head``: the
    head as the caller locked it in this same transaction, with nothing written since (the
    sequencer's group); it is moved to where the batch leaves the journal.
    """
    if head is None:
        head = Head.lock(session, warm)
    if head is None:
        raise LedgerNotInitialized("run init first: the journal has no genesis record")
    view = warm.take(session, head) if warm is not None else DbView(session, rule_set=head.rule_set)
    writer = BatchWriter()
    results: list[Receipt | DomainError] = []
    for enc in _prepare(view, instructions, encoded):
        try:
            results.append(_commit(enc, view, writer, head, registry))
        except DomainError as exc:
            results.append(exc)
    writer.flush(session, view, head)
    head.rule_set = view.rule_set  # a ``rules.adopt`` in the batch: the head now says so too
    if warm is not None:
        warm.keep(view, head)
    return results


def submit_all(session: Session, instructions: Sequence[Instruction], *, registry: Registry) -> list[Receipt]:
    """Apply instructions as one unit: all of them, or none and the first refusal is raised.

    Nothing reaches the database before the batch's single flush, so refusing before it
    leaves the session clean and usable. Workflows with several legs use this.
    """
    head = Head.lock(session)
    if head is None:
        raise LedgerNotInitialized("run init first: the journal has no genesis record")
    view, writer = DbView(session, rule_set=head.rule_set), BatchWriter()
    receipts = [_commit(enc, view, writer, head, registry) for enc in _prepare(view, instructions)]
    writer.flush(session, view, head)
    return receipts


@dataclass(frozen=True)
class Encoded:
    """An instruction with its body encoded once: JSON, canonical bytes and their digest."""

    ins: Instruction
    body_json: dict[str, Any]
    body_bytes: bytes
    digest: bytes

    @classmethod
    def of(cls, ins: Instruction) -> Encoded:
        body_json = ins.body.to_json()
        body_bytes = canonical_bytes(body_json)
        return cls(ins, body_json, body_bytes, hashlib.sha256(body_bytes).digest())


def _prepare(
    view: DbView, instructions: Sequence[Instruction], ready: Sequence[Encoded] | None = None
) -> list[Encoded]:
    if ready is not None and (
        len(ready) != len(instructions)
        or any(e.ins is not i for e, i in zip(ready, instructions, strict=True))
    ):
        raise ValueError("encoded bodies must be those of the instructions, in order")
    encoded = list(ready) if ready is not None else [Encoded.of(ins) for ins in instructions]
    view.prefetch([i.body for i in instructions])
    view.prefetch_seen(
        [e.digest for e in encoded],
        [(i.scope, i.idempotency_key) for i in instructions if i.idempotency_key is not None],
    )
    return encoded


def _commit(enc: Encoded, view: DbView, writer: BatchWriter, head: Head, registry: Registry) -> Receipt:
    ins, digest = enc.ins, enc.digest
    if ins.idempotency_key is not None:
        stored = view.find_idempotent(ins.scope, ins.idempotency_key)
        if stored is not None:
            if stored[0] != digest:
                raise IdempotencyKeyReused(
                    "this idempotency key was used for a different request",
                    field="idempotency_key",
                    key=ins.idempotency_key,
                )
            return Receipt(**json.loads(stored[1]), replayed=True)
    if isinstance(ins.body, Genesis) and head.next_seq != 0:
        raise LedgerAlreadyInitialized("only record 0 may be a genesis")
    if view.digest_seen(digest):
        raise DuplicateInstruction("this signed instruction was already applied", field="body.nonce")
    now = registry.clock()
    if head.moment is not None:
        now = max(now, head.moment)  # the journal's clock never runs backwards
    if head.next_seq != 0:  # record 0 carries the key that seals it
        check_sealing_key(view, registry.key, now)
    effect = apply(ins.body, view, now)
    check_signatures(enc.body_bytes, ins.signatures, effect.required_signers, view, now)
    stamp = format_utc(now)
    record = seal(
        seq=head.next_seq,
        prev=head.hash,
        time=now,
        body=enc.body_json,
        body_bytes=enc.body_bytes,
        sigs=ins.signatures,
        registry=registry.key,
        stamp=stamp,
    )
    writer.add(view, record, ins.body, effect, digest, stamp)
    head.next_seq, head.hash, head.time, head.moment = record.seq + 1, record.hash, stamp, now
    head.frontier.append(record.leaf)
    if head.frontier.size % registry.checkpoint_every == 0:
        writer.add_checkpoint(
            Checkpoint.sign(
                tree_size=head.frontier.size, root=head.frontier.root(), time=now, key=registry.key
            )
        )
    receipt = Receipt(record.seq, record.hash.hex(), stamp)
    if ins.idempotency_key is not None:
        writer.add_idempotency(view, ins.scope, ins.idempotency_key, digest, record.seq, receipt.to_json())
    return receipt


def lock_head_time(session: Session) -> datetime | None:
    """Take the sequencer lock now and return the journal's latest record time.

    For callers that must fix "now" for a whole batch (a key event effective at exactly its
    record's time) before any other writer moves the head.
    """
    head = Head.lock(session)
    return parse_utc(head.time) if head is not None and head.time else None


def find_account(session: Session, *, account: str) -> AccountInfo | None:
    """The ledger account ``account`` (owner and kind), or None."""
    return DbView(session).find_account(account)


def find_roster(session: Session, *, roster: str) -> Roster | None:
    """The household roster ``roster`` as the journal confirmed it (``ledger.households``), or None."""
    return DbView(session).find_roster(roster)


def find_attribution(session: Session, *, batch: str) -> Attribution | None:
    """The attribution of blue-carbon batch ``batch`` to a roster's members, or None."""
    return DbView(session).find_attribution(batch)


def accounts_of_owner(session: Session, *, owner: str) -> list[AccountInfo]:
    rows = conn(session).execute(select(A).where(A.c.owner == owner).order_by(A.c.id))
    return [AccountInfo(r.id, r.owner, AccountKind(r.kind)) for r in rows]


def find_hold(session: Session, *, hold: str) -> Hold | None:
    """The hold ``hold`` as it stands now (amount still held, status), or None."""
    return DbView(session).find_hold(hold)


def controls_of(session: Session, *, party: str) -> Controls | None:
    """A party's users, four-eyes thresholds and trusted list as the journal left them (ledger.controls)."""
    return read_controls(conn(session), party)


def registry_controls(session: Session) -> RegistryControls:
    """The registry's trusted-list delay and its limit outside a list (defaults if never set)."""
    return load_registry_controls(conn(session), REGISTRY)


def find_claim(session: Session, *, pledge: str) -> ForcedClaim | None:
    """A defaulted pledge's claim in forced sale and what it has recovered (``ledger.forced_sale``)."""
    return load_claim(conn(session), pledge)


def keys_of_party(session: Session, *, party: str) -> list[KeyInfo]:
    """Every key ``party`` ever registered, oldest first, with its validity and custody."""
    rows = conn(session).execute(KEYS_WITH_CORE.where(K.c.party == party).order_by(K.c.registered_seq))
    return [key_info(r) for r in rows]


def make_checkpoint(session: Session, *, registry: Registry) -> Checkpoint:
    """Sign the Merkle root of the whole journal now (returns the existing one if current)."""
    head = Head.lock(session)
    if head is None:
        raise LedgerNotInitialized("the journal has no genesis record")
    existing = latest_checkpoint(session)
    if existing is not None and existing.tree_size == head.next_seq:
        return existing
    now = registry.clock()
    check_sealing_key(DbView(session), registry.key, now)
    cp = Checkpoint.sign(tree_size=head.next_seq, root=head.frontier.root(), time=now, key=registry.key)
    writer = BatchWriter()
    writer.add_checkpoint(cp)
    conn(session).execute(CP.insert(), writer.checkpoints)
    return cp


def latest_checkpoint(session: Session, *, at_least: int = 0) -> Checkpoint | None:
    row = (
        conn(session)
        .execute(select(CP).where(CP.c.tree_size >= at_least).order_by(CP.c.tree_size.desc()).limit(1))
        .first()
    )
    if row is None:
        return None
    return Checkpoint(row.tree_size, row.root, parse_utc(row.time), row.key_id, row.signature)


def checkpoints(session: Session) -> list[Checkpoint]:
    rows = conn(session).execute(select(CP).order_by(CP.c.tree_size))
    return [Checkpoint(r.tree_size, r.root, parse_utc(r.time), r.key_id, r.signature) for r in rows]


@dataclass(frozen=True)
class Balance:
    account: str
    instrument: str
    lot: str
    total: int
    held: int

    @property
    def available(self) -> int:
        return self.total - self.held


_LIVE = select(B.c.account, B.c.instrument, B.c.lot, B.c.total, B.c.held).where(
    (B.c.total != 0) | (B.c.held != 0)
)
_LIVE_ALL = _LIVE.order_by(B.c.account, B.c.instrument, B.c.lot)
# built once: the balance read is the registry's hottest query, and building a statement costs more
# than SQLite takes to run it
_LIVE_OF = _LIVE.where(B.c.account == bindparam("account")).order_by(B.c.instrument, B.c.lot)
_ACCOUNT_EXISTS = select(A.c.id).where(A.c.id == bindparam("account"))


def balances(session: Session, *, account: str | None = None) -> list[Balance]:
    """Live non-zero positions, of one account or of all; ``UnknownAccount`` for no such account."""
    if account is None:
        rows = conn(session).execute(_LIVE_ALL)
    else:
        rows = conn(session).execute(_LIVE_OF, {"account": account})
    found = [Balance(r.account, r.instrument, r.lot, r.total, r.held) for r in rows]
    if not found and account is not None:
        _require_account(session, account)  # an empty account, or none at all
    return found


def positions(session: Session) -> dict[tuple[str, str, str], Position]:
    """All live positions keyed as replay keys them, for comparison with a replay."""
    return {(b.account, b.instrument, b.lot): Position(b.total, b.held) for b in balances(session)}


def balance_as_of(
    session: Session, *, account: str, seq: int | None = None, at: datetime | None = None
) -> dict[tuple[str, str], int]:
    """Totals of ``account`` per (instrument, lot) after record ``seq``, or as of instant ``at``."""
    _require_account(session, account)
    if (seq is None) == (at is None):
        raise InvalidInput("give exactly one of seq or at", field="seq")
    if at is not None:
        last = conn(session).execute(select(func.max(J.c.seq)).where(J.c.time <= format_utc(at))).scalar()
        if last is None:
            return {}
        seq = int(last)
    rows = conn(session).execute(
        select(P.c.instrument, P.c.lot, func.sum(P.c.amount).label("total"))
        .where(P.c.account == account, P.c.seq <= seq)
        .group_by(P.c.instrument, P.c.lot)
    )
    return {(r.instrument, r.lot): int(r.total) for r in rows if int(r.total) != 0}


def _require_account(session: Session, account: str) -> None:
    if conn(session).execute(_ACCOUNT_EXISTS, {"account": account}).first() is None:
        raise UnknownAccount(f"no account {account}", account=account, field="account")


def head_size(session: Session) -> int:
    head = conn(session).execute(select(HD.c.next_seq).where(HD.c.id == 1)).scalar()
    return int(head or 0)


def journal_lines(
    session: Session, *, start: int = 0, stop: int | None = None, chunk: int = 2000
) -> Iterator[bytes]:
    """The journal as bundle lines, in order, read in chunks (bounded memory)."""
    seq = start
    while stop is None or seq < stop:
        upper = seq + chunk if stop is None else min(seq + chunk, stop)
        rows = (
            conn(session)
            .execute(
                select(J.c.seq, J.c.time, J.c.core, J.c.hash, J.c.registry_sig)
                .where(J.c.seq >= seq, J.c.seq < upper)
                .order_by(J.c.seq)
            )
            .all()
        )
        if not rows:
            return
        for r in rows:
            yield SealedRecord(
                r.seq, parse_utc(r.time), _as_bytes(r.core), _as_bytes(r.hash), _as_bytes(r.registry_sig)
            ).line()
        seq = rows[-1].seq + 1


def _as_bytes(value: object) -> bytes:
    """Stored bytes as bytes, even if someone rewrote a BLOB as TEXT: verify must report
    the damage, not crash on it."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return bytes(value)  # type: ignore[call-overload, no-any-return]


def _leaves(session: Session, size: int) -> list[bytes]:
    rows = conn(session).execute(select(J.c.hash).where(J.c.seq < size).order_by(J.c.seq))
    return [leaf_hash(r.hash) for r in rows]


@dataclass(frozen=True)
class InclusionProof:
    """A record, the audit path to a checkpoint's root, and that signed checkpoint."""

    line: bytes
    seq: int
    checkpoint: Checkpoint
    path: list[bytes] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "record": self.line.decode(),
            "seq": self.seq,
            "path": [p.hex() for p in self.path],
            "checkpoint": self.checkpoint.to_json(),
        }


def prove_inclusion(session: Session, *, seq: int, registry: Registry | None = None) -> InclusionProof:
    """Proof that record ``seq`` is in the journal under the latest checkpoint covering it.

    With a ``registry``, a new checkpoint is signed when none covers the record yet.
    """
    line = next(journal_lines(session, start=seq, stop=seq + 1), None)
    if line is None:
        raise NotFound(f"no record {seq}", seq=seq)
    cp = latest_checkpoint(session, at_least=seq + 1)
    if cp is None:
        if registry is None:
            raise NotFound(f"no checkpoint covers record {seq} yet", seq=seq)
        cp = make_checkpoint(session, registry=registry)
    leaves = _leaves(session, cp.tree_size)
    return InclusionProof(line, seq, cp, inclusion_proof(leaves, seq))


def consistency(session: Session, *, first: int, second: int) -> list[bytes]:
    """RFC 6962 consistency proof between the trees of sizes ``first`` and ``second``."""
    if not 0 <= first <= second <= head_size(session):
        raise InvalidInput("need 0 <= first <= second <= journal size", field="first")
    return consistency_proof(_leaves(session, second), first)


def checkpoint_of_size(session: Session, *, tree_size: int, field: str = "tree_size") -> Checkpoint:
    """The stored checkpoint covering exactly ``tree_size`` records; ``NotFound`` naming ``field``."""
    row = conn(session).execute(select(CP).where(CP.c.tree_size == tree_size)).first()
    if row is None:
        raise NotFound(f"no checkpoint of size {tree_size}", field=field, tree_size=tree_size)
    return Checkpoint(row.tree_size, row.root, parse_utc(row.time), row.key_id, row.signature)


def consistency_between(session: Session, *, first: int, second: int | None = None) -> ConsistencyProof:
    """Proof that the checkpoint of size ``first`` is a prefix of the checkpoint of size ``second``
    (default: the latest), with both signed heads. Reads every record hash up to ``second``."""
    older = checkpoint_of_size(session, tree_size=first, field="first")
    if second is None:
        newer = latest_checkpoint(session)
        assert newer is not None  # there is ``older`` at least
    else:
        newer = checkpoint_of_size(session, tree_size=second, field="second")
    if older.tree_size > newer.tree_size:
        raise InvalidInput("first must not be larger than second", field="first")
    path = consistency_proof(_leaves(session, newer.tree_size), older.tree_size)
    return ConsistencyProof(older, newer, tuple(path))


BalanceDiff = dict[tuple[str, str, str], tuple[Position | None, Position | None]]


def replay_database(
    session: Session, *, checks: Sequence[RecordCheck] = ()
) -> tuple[ReplayReport, BalanceDiff]:
    """Replay the stored journal with its checkpoints (and ``checks``, the plug-ins beyond the
    ledger's rules); return the report and every position that differs between the live tables and
    the replay, as (live, replayed)."""
    cps = {cp.tree_size: cp for cp in checkpoints(session)}
    report = replay_lines(journal_lines(session), cps, checks=checks)
    live = positions(session)
    replayed = report.state.balances()
    diff = {
        k: (live.get(k), replayed.get(k)) for k in set(live) | set(replayed) if live.get(k) != replayed.get(k)
    }
    return report, diff
