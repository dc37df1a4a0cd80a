"""The auditor's replay plug-ins beyond the ledger's own rules, one list for every command and route that
verifies a journal: each issuance's methodology recomputed, the serial book rebuilt record by record.
"""

from __future__ import annotations

from ledger.replay import RecordCheck
from market.bluecarbon.serial_audit import SerialAudit
from methodologies.registry import methodology_check

__all__ = ["replay_checks"]


def replay_checks() -> list[RecordCheck]:
    """Fresh for each replay: the serial book is state, and must not carry from one run to the next."""
    return [methodology_check, SerialAudit()]
