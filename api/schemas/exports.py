"""Response models of the auditor's exports: the one-screen verification summary of the journal as the
offline ``ecoledger audit verify`` prints it, as JSON for the console's auditor view."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from ledger.audit import AuditSummary

__all__ = ["FailureOut", "VerificationOut"]


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    # the evidence is meant to be JSON already; anything else (bytes) shows as its text form
    out: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return out


class FailureOut(BaseModel):
    """The first thing found wrong: which record, which rule, and the evidence."""

    seq: int
    rule: str
    message: str
    evidence: dict[str, Any]


class VerificationOut(BaseModel):
    """A replay of the whole journal: every encoding, hash link, signature, checkpoint and rule."""

    ok: bool
    records: int = Field(description="records replayed")
    checkpoints: int = Field(description="signed checkpoints verified")
    signatures: int = Field(description="signatures verified: registry seals, parties, checkpoints")
    head_hash: str | None = Field(description="hex hash of the last record replayed")
    registry_key_id: str | None = Field(description="the registry key the replay pinned")
    manifest_records: int | None = Field(description="records the exported bundle lists")
    seconds: float | None
    failure: FailureOut | None = Field(description="the first failure, if any")
    problems: list[str] = Field(description="bundle-level problems (manifest, derived files)")
    summary: str = Field(description="the one-screen text the offline CLI prints")

    @classmethod
    def of(cls, s: AuditSummary) -> VerificationOut:
        run, failure = s.run, s.failure
        problems = [*s.problems, *([s.bundle_error] if s.bundle_error else [])]
        records = s.manifest.get("records")
        return cls(
            ok=s.ok,
            records=run.report.records if run is not None else 0,
            checkpoints=run.report.checkpoints_verified if run is not None else 0,
            signatures=run.signatures if run is not None else 0,
            head_hash=run.report.head_hash.hex() if run is not None else None,
            registry_key_id=s.key_id,
            manifest_records=records if isinstance(records, int) else None,
            seconds=round(run.seconds, 3) if run is not None else None,
            failure=(
                FailureOut(
                    seq=failure.seq,
                    rule=failure.rule,
                    message=failure.message,
                    evidence=_jsonable(failure.evidence),
                )
                if failure is not None
                else None
            ),
            problems=problems,
            summary=s.render(),
        )
