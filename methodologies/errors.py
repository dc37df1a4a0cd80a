"""Errors of the methodologies, each named after the rule it protects; an adapter maps them once.

All are ``ledger.errors.DomainError``s with a stable ``code``, so the API maps them with the rest::

    MethodologyError              (a DomainError)
    ├── InvalidMonitoringData     bad monitoring data: one ``FieldProblem`` per field
    ├── UnknownMethodology        no such (id, version) in the registry
    └── ReplayMismatch            a recorded issuance does not recompute
        ├── MalformedReplayRecord the record lacks a key or has a wrong type
        ├── InputHashMismatch
        └── QuantityMismatch
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from ledger.errors import DomainError

__all__ = [
    "FieldProblem",
    "InputHashMismatch",
    "InvalidMonitoringData",
    "MalformedReplayRecord",
    "MethodologyError",
    "QuantityMismatch",
    "ReplayMismatch",
    "UnknownMethodology",
]


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One refused field: its dotted path (e.g. "overrides.dry_wet_ratio") and why."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class MethodologyError(DomainError):
    """Base of this package's errors."""

    code = "methodology_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message, **details)


class InvalidMonitoringData(MethodologyError):
    """Monitoring data refused; ``problems`` holds every problem found, one per field."""

    code = "invalid_monitoring_data"

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = tuple(problems)
        self.field = self.problems[0].field if self.problems else "(input)"
        super().__init__(
            "; ".join(str(p) for p in self.problems),
            field=self.field,
            problems=[{"field": p.field, "message": p.message} for p in self.problems],
        )

    @classmethod
    def from_validation_error(cls, exc: ValidationError) -> InvalidMonitoringData:
        """One ``FieldProblem`` per pydantic error, with the field path and a plain message."""
        problems = []
        for error in exc.errors(include_url=False):
            field = ".".join(str(part) for part in error["loc"]) or "(input)"
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(FieldProblem(field, message))
        return cls(problems)


class UnknownMethodology(MethodologyError):
    """No methodology is registered under this id and version."""

    code = "unknown_methodology"

    def __init__(self, methodology_id: str, version: str, available: Sequence[tuple[str, str]]) -> None:
        self.methodology_id = methodology_id
        self.version = version
        listed = ", ".join(f"{i} {v}" for i, v in available) or "none"
        super().__init__(f"unknown methodology {methodology_id!r} version {version!r} (available: {listed})")


class ReplayMismatch(MethodologyError):
    """A recorded issuance does not recompute to what was recorded."""

    code = "methodology_replay_mismatch"


class MalformedReplayRecord(ReplayMismatch):
    """The record lacks a key or holds a value of the wrong type."""


class InputHashMismatch(ReplayMismatch):
    """The recorded input hash is not the hash of the recorded inputs."""

    def __init__(self, recorded: str, recomputed: str) -> None:
        self.recorded = recorded
        self.recomputed = recomputed
        super().__init__(f"input hash differs: recorded {recorded}, recomputed {recomputed}")


class QuantityMismatch(ReplayMismatch):
    """The recorded quantity is not what the methodology gives for the recorded inputs."""

    def __init__(self, recorded: int, recomputed: int) -> None:
        self.recorded = recorded
        self.recomputed = recomputed
        super().__init__(f"quantity differs: recorded {recorded} kg CO2e, recomputed {recomputed} kg CO2e")
