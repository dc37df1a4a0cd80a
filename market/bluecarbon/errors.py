"""Domain errors of serialized credits (blue carbon, bamboo carbon) and their serials, each with a
stable code, under the ``ledger.errors`` families (so an adapter that maps families maps these)::

    InvalidInput ── WholeTonnesOnly          credits move in whole tonnes (one serial each)
    NotFound ── UnknownProject, UnknownMonitoringReport, UnknownBatch
    Conflict ── DuplicateProject, OverlappingMonitoringPeriod, ReportAlreadyIssued
    RuleViolation
    ├── NothingToIssue                       a verified report worth less than one whole tonne
    └── SerialError                          the serial book's rules (serials.SerialBook)
        ├── SerialsNotHeld                   a debit of serials the account does not hold
        ├── SerialRangeConflict              a batch range that overlaps or skips (double issuance)
        └── RetiredSerialsImmovable          a retired serial never moves again
"""

from __future__ import annotations

from ledger.errors import Conflict, InvalidInput, NotFound, RuleViolation

__all__ = [
    "DuplicateProject",
    "NothingToIssue",
    "OverlappingMonitoringPeriod",
    "ReportAlreadyIssued",
    "RetiredSerialsImmovable",
    "SerialError",
    "SerialRangeConflict",
    "SerialsNotHeld",
    "UnknownBatch",
    "UnknownMonitoringReport",
    "UnknownProject",
    "WholeTonnesOnly",
]


class WholeTonnesOnly(InvalidInput):
    code = "whole_tonnes_only"


class UnknownProject(NotFound):
    code = "unknown_project"


class UnknownMonitoringReport(NotFound):
    code = "unknown_monitoring_report"


class UnknownBatch(NotFound):
    code = "unknown_batch"


class DuplicateProject(Conflict):
    code = "duplicate_project"


class OverlappingMonitoringPeriod(Conflict):
    """A monitoring period overlapping an earlier report of the project would count a harvest twice."""

    code = "overlapping_monitoring_period"


class ReportAlreadyIssued(Conflict):
    code = "report_already_issued"


class NothingToIssue(RuleViolation):
    code = "nothing_to_issue"


class SerialError(RuleViolation):
    code = "serial_error"


class SerialsNotHeld(SerialError):
    code = "serials_not_held"


class SerialRangeConflict(SerialError):
    code = "serial_range_conflict"


class RetiredSerialsImmovable(SerialError):
    code = "retired_serials_immovable"
