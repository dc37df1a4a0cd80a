"""The auditor's check of two federated journals together: the signed cross-journal checkpoint that
ties their heads, and every transfer's legs cited across them (ecoledger audit verify A B).

Each bundle is first replayed on its own (ledger.audit); this module collects the federation legs as
they replay and then checks what neither journal can check alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger.canonical import canonical_bytes, decode_canonical
from ledger.checkpoint import Checkpoint
from ledger.crypto import SigningKey, b64d, b64e, verify
from ledger.errors import DomainError, MalformedRecord
from ledger.federation_rules import COMPLETE, CREDIT, FEDERATION_ACTIONS, HOLD
from ledger.journal import ParsedRecord, parse_line
from ledger.model import Body
from ledger.replay import RecordCheck
from ledger.rules import Effect, KeyInfo
from ledger.state import LedgerState
from ledger.timeutil import format_utc, parse_utc

__all__ = [
    "FORMAT",
    "TAG_FEDERATION",
    "CrossCheckpoint",
    "FederationLegs",
    "PairAudit",
    "cross_check",
    "verify_pair",
]

FORMAT = "ecoledger-federation-checkpoint-v1"
TAG_FEDERATION = b"ecoledger-federation-checkpoint-v1"  # each registry's signature over the statement


@dataclass(frozen=True)
class CrossCheckpoint:
    """Both registries' signed tree heads in one statement, which each registry signs in turn: neither
    journal can later be rewritten below its head without the other registry's statement exposing it."""

    time: datetime
    journals: tuple[tuple[str, Checkpoint], ...]  # (journal id: its genesis hash, its signed tree head)
    signatures: tuple[tuple[str, bytes], ...] = ()  # (key id, signature), one per journal, in order

    def statement(self) -> bytes:
        return canonical_bytes(
            {
                "format": FORMAT,
                "time": format_utc(self.time),
                "journals": [{"journal": j, "checkpoint": cp.to_json()} for j, cp in self.journals],
            }
        )

    @classmethod
    def sign(
        cls, time: datetime, journals: Sequence[tuple[str, Checkpoint]], keys: Sequence[SigningKey]
    ) -> CrossCheckpoint:
        unsigned = cls(time, tuple(journals))
        sigs = tuple((k.key_id, k.sign(TAG_FEDERATION, unsigned.statement())) for k in keys)
        return cls(time, tuple(journals), sigs)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = decode_canonical(self.statement())
        out["signatures"] = [{"key_id": k, "signature": b64e(s)} for k, s in self.signatures]
        return out

    @classmethod
    def from_json(cls, obj: Any) -> CrossCheckpoint:
        """Parse the file ``ecoledger federation checkpoint`` writes; its values must round-trip."""
        try:
            if not isinstance(obj, dict) or obj.get("format") != FORMAT:
                raise ValueError(f"format is not {FORMAT}")
            journals = tuple(
                (str(j["journal"]), Checkpoint.from_json(j["checkpoint"])) for j in obj["journals"]
            )
            sigs = tuple((str(s["key_id"]), b64d(s["signature"], length=64)) for s in obj["signatures"])
            cp = cls(parse_utc(obj["time"]), journals, sigs)
        except (KeyError, TypeError, ValueError, MalformedRecord) as exc:
            raise MalformedRecord(
                f"bad cross-journal checkpoint: {exc}", field="federation_checkpoint"
            ) from None
        if cp.to_json() != obj:
            raise MalformedRecord(
                "bad cross-journal checkpoint: not in its canonical spelling", field="federation_checkpoint"
            )
        return cp

    def problems(self, keys_by_journal: Mapping[str, Mapping[str, KeyInfo]]) -> list[str]:
        """Each journal named once, and each one's registry signed the statement with a key of its
        own journal valid at its time (the tree heads themselves are verified by each bundle's replay)."""
        out, named = [], [j for j, _ in self.journals]
        if sorted(named) != sorted(keys_by_journal) or len(set(named)) != len(named):
            out.append(f"the checkpoint names journals {named}, the bundles are {sorted(keys_by_journal)}")
            return out
        if len(self.signatures) != len(self.journals):
            return [*out, f"{len(self.signatures)} signatures for {len(self.journals)} journals"]
        for (journal, _), (key_id, sig) in zip(self.journals, self.signatures, strict=True):
            key = keys_by_journal[journal].get(key_id)
            if key is None or key.party != "registry" or not key.valid_at(self.time):
                out.append(
                    f"journal {journal[:16]}: {key_id} is not its registry key at {format_utc(self.time)}"
                )
            elif not verify(key.public_key, TAG_FEDERATION, self.statement(), sig):
                out.append(f"journal {journal[:16]}: its registry's signature does not verify")
        return out


@dataclass(frozen=True)
class Leg:
    seq: int
    hash: str
    action: str
    fed: Mapping[str, Any]
    amount: int = 0
    instrument: str = ""
    valid_until: str | None = None


@dataclass
class FederationLegs:
    """A replay observer: the journal's id (its genesis hash) and each federation leg it holds."""

    journal: str = ""
    holds: dict[str, Leg] = field(default_factory=dict)
    credits: list[Leg] = field(default_factory=list)
    ends: dict[str, Leg] = field(default_factory=dict)
    records: int = 0

    def __call__(self, rec: ParsedRecord, body: Body, effect: Effect, state: LedgerState) -> None:
        self.records = rec.seq + 1
        if rec.seq == 0:
            self.journal = rec.hash.hex()
        action = rec.body.get("action")
        if action not in FEDERATION_ACTIONS:
            return
        fed = rec.body["meta"]["federation"]  # replay checked its shape (ledger.federation_rules)
        leg = Leg(rec.seq, rec.hash.hex(), action, fed)
        if action == HOLD:
            place = rec.body["holds"][0]
            until = place["lot"].get("valid_until")
            self.holds[fed["transfer"]] = Leg(
                leg.seq, leg.hash, action, fed, place["amount"], place["instrument"], until
            )
        elif action == CREDIT:
            self.credits.append(
                Leg(leg.seq, leg.hash, action, fed, fed["amount"], fed["instrument"], fed["valid_until"])
            )
        else:
            self.ends[fed["transfer"]] = leg


@dataclass
class CrossReport:
    problems: list[str] = field(default_factory=list)
    completed: int = 0
    voided: int = 0
    in_flight: int = 0


def cross_check(a: FederationLegs, b: FederationLegs) -> CrossReport:
    """Every credit cites a hold of the other journal with the same units and quantity; every completed
    hold is credited exactly once, by the credit its completion cites; no voided hold is credited."""
    report = CrossReport()
    journals = {a.journal: a, b.journal: b}
    for dst in (a, b):
        counts = Counter((c.fed["source"], c.fed["transfer"]) for c in dst.credits)
        for c in dst.credits:
            problem = _credit_problem(c, dst, journals.get(c.fed["source"]), counts)
            if problem:
                report.problems.append(f"{_name(dst, a)} record {c.seq}: {problem}")
    for src in (a, b):
        for transfer, hold in src.holds.items():
            end = src.ends.get(transfer)
            if end is None:
                report.in_flight += 1
            elif end.action != COMPLETE:
                report.voided += 1
            else:
                report.completed += 1
                found = journals.get(hold.fed["destination"])
                credits = [] if found is None else _credits_of(found, src.journal, transfer)
                cited = (end.fed["credit_seq"], end.fed["credit_hash"])
                if found is None or found is src or cited not in {(c.seq, c.hash) for c in credits}:
                    report.problems.append(
                        f"{_name(src, a)} record {end.seq}: completes transfer {transfer} citing credit "
                        f"{cited[0]} {cited[1][:16]}, which is not the other journal's credit of it"
                    )
    return report


def _credits_of(dst: FederationLegs, source: str, transfer: str) -> list[Leg]:
    return [c for c in dst.credits if c.fed["transfer"] == transfer and c.fed["source"] == source]


def _credit_problem(
    c: Leg, dst: FederationLegs, src: FederationLegs | None, counts: Counter[tuple[str, str]]
) -> str | None:
    transfer = c.fed["transfer"]
    if src is None or src is dst:
        return f"credits a transfer from journal {c.fed['source'][:16]}, not the other bundle"
    hold = src.holds.get(transfer)
    if hold is None or (hold.seq, hold.hash) != (c.fed["hold_seq"], c.fed["hold_hash"]):
        return (
            f"cites hold record {c.fed['hold_seq']} {c.fed['hold_hash'][:16]}, which is not the "
            f"other journal's hold of transfer {transfer}"
        )
    if (hold.amount, hold.instrument, hold.valid_until) != (c.amount, c.instrument, c.valid_until):
        return (
            f"credits {c.amount} {c.instrument} valid until {c.valid_until}; the hold it cites holds "
            f"{hold.amount} {hold.instrument} valid until {hold.valid_until}"
        )
    if hold.fed["destination"] != dst.journal:
        return f"credits transfer {transfer}, whose hold names journal {hold.fed['destination'][:16]}"
    if counts[(c.fed["source"], transfer)] > 1:
        return f"transfer {transfer} is credited {counts[(c.fed['source'], transfer)]} times"
    end = src.ends.get(transfer)
    if end is not None and end.action != COMPLETE:
        return (
            f"credits transfer {transfer}, which its source voided at record {end.seq}: the units exist twice"
        )
    return None


def _name(legs: FederationLegs, first: FederationLegs) -> str:
    return "A" if legs is first else "B"


@dataclass
class PairAudit:
    """Both bundles' own verification, the cross-journal checkpoint's, and the cross-references'."""

    summaries: list[Any]  # ledger.audit.AuditSummary, one per bundle
    legs: list[FederationLegs]
    checkpoint_problems: list[str]
    cross: CrossReport

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.summaries) and not self.checkpoint_problems and not self.cross.problems

    def render(self) -> str:
        lines = [s.render() for s in self.summaries]
        lines.append("ecoledger audit — the two journals together")
        for name, legs in zip("AB", self.legs, strict=True):
            lines.append(f"  journal {name}     {legs.journal or '?'} ({legs.records:,} records)")
        lines.append(
            f"  transfers     {self.cross.completed} completed, {self.cross.voided} voided, "
            f"{self.cross.in_flight} in flight"
        )
        lines += [f"  checkpoint    {p}" for p in self.checkpoint_problems]
        lines += [f"  cross-ref     {p}" for p in self.cross.problems]
        lines.append(
            "  RESULT        VERIFIED: both journals, the cross-journal checkpoint and every cross-reference"
            if self.ok
            else "  RESULT        FAILED"
        )
        return "\n".join(lines)


def verify_pair(
    bundles: Sequence[Path],
    checkpoint: CrossCheckpoint,
    *,
    registry_keys: Sequence[bytes | None] = (None, None),
    checks: Callable[[], Sequence[RecordCheck]] = tuple,
) -> PairAudit:
    """Verify bundles A and B each on its own, with the cross checkpoint's tree head of each as a kept
    checkpoint its replay must meet, then the cross checkpoint's signatures and the cross-references.
    ``checks()`` makes each bundle's replay plug-ins afresh (they keep state, such as a serial book)."""
    from ledger.audit import verify_bundle  # the bundle reader (pyarrow) only when auditing files

    heads = dict(checkpoint.journals)
    summaries, legs = [], []
    for path, key in zip(bundles, registry_keys, strict=True):
        observed = FederationLegs()
        head = heads.get(_genesis_hash(path) or "")
        summaries.append(
            verify_bundle(
                path,
                registry_key=key,
                checks=checks(),
                observers=[observed],
                extra_checkpoints=[head] if head else [],
            )
        )
        legs.append(observed)
    keys = {
        lg.journal: (s.run.report.state.keys if s.run is not None else {})
        for lg, s in zip(legs, summaries, strict=True)
    }
    problems = checkpoint.problems(keys)
    return PairAudit(summaries, legs, problems, cross_check(legs[0], legs[1]))


def _genesis_hash(path: Path) -> str | None:
    """A bundle's journal id (record 0's hash), read before replay checks it: it only picks which
    tree head of the cross checkpoint the replay is held to."""
    from ledger.bundle import JOURNAL, Bundle, BundleError

    try:
        with Bundle(path) as bundle:
            for line in bundle.lines(JOURNAL):
                return parse_line(line).hash.hex()
    except (BundleError, DomainError, OSError):
        return None
    return None
