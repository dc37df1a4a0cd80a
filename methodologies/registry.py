"""The registry of versioned methodologies, and the replay an auditor runs on a recorded issuance.

A methodology is looked up by (id, version); a recorded issuance is recomputed and compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ledger.errors import DomainError
from ledger.replay import ReplayFailure
from ledger.state import LedgerState
from ledger.units import INSTRUMENTS
from methodologies import bamboo_stock_change, bivalve_hyt0305, seaweed_hyt0305
from methodologies.base import Methodology, Result, evaluate
from methodologies.errors import (
    InputHashMismatch,
    MalformedReplayRecord,
    QuantityMismatch,
    UnknownMethodology,
)

__all__ = ["available", "credit_instruments", "get", "latest", "methodology_check", "recompute"]

_METHODOLOGIES: Final[dict[tuple[str, str], Methodology[Any]]] = {
    (m.id, m.version): m
    for m in (bivalve_hyt0305.METHODOLOGY, seaweed_hyt0305.METHODOLOGY, bamboo_stock_change.METHODOLOGY)
}
# Every methodology issues a serialized credit the ledger knows (checked once, at import).
for _m in _METHODOLOGIES.values():
    if _m.instrument not in INSTRUMENTS or not INSTRUMENTS[_m.instrument].serialized:
        raise RuntimeError(f"methodology {_m.id} issues {_m.instrument!r}, not a serialized credit")


def credit_instruments() -> list[str]:
    """The codes of the serialized credits some methodology issues, in ``INSTRUMENTS`` order."""
    issued = {m.instrument for m in _METHODOLOGIES.values()}
    return [code for code in INSTRUMENTS if code in issued]


def available() -> list[tuple[str, str]]:
    """Every registered (methodology id, version), sorted."""
    return sorted(_METHODOLOGIES)


def get(methodology_id: str, version: str) -> Methodology[Any]:
    """The methodology registered under ``methodology_id`` and ``version``; raises ``UnknownMethodology``.

    A version is never replaced: a changed formula or default is a new version, so old issuances
    still recompute under the version they were issued with.
    """
    try:
        return _METHODOLOGIES[(methodology_id, version)]
    except KeyError:
        raise UnknownMethodology(methodology_id, version, available()) from None


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else -1 for part in version.split("."))


def latest(methodology_id: str) -> Methodology[Any]:
    """The newest registered version of ``methodology_id`` (versions compare as dotted numbers);
    raises ``UnknownMethodology`` when no version is registered."""
    versions = [version for mid, version in _METHODOLOGIES if mid == methodology_id]
    if not versions:
        raise UnknownMethodology(methodology_id, "(any)", available())
    return _METHODOLOGIES[(methodology_id, max(versions, key=_version_key))]


def _field(record: Mapping[str, Any], key: str, kind: type[Any]) -> Any:
    if key not in record:
        raise MalformedReplayRecord(f"the record has no {key!r}")
    value = record[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise MalformedReplayRecord(f"{key!r} should be {kind.__name__}, not {type(value).__name__}")
    return value


def recompute(record_meta: Mapping[str, Any]) -> Result:
    """Recompute a recorded issuance and return the result when it matches the record.

    ``record_meta`` is what ``Result.record_meta()`` gave at issuance: {"methodology", "version",
    "inputs", "input_hash", "sink_kg_co2e"}. The inputs are validated again (bad data raises
    ``InvalidMonitoringData``); a different input hash raises ``InputHashMismatch`` and a different
    quantity ``QuantityMismatch``, so a tampered input and a tampered quantity are both caught.
    """
    methodology = get(_field(record_meta, "methodology", str), _field(record_meta, "version", str))
    inputs = _field(record_meta, "inputs", Mapping)
    recorded_hash: str = _field(record_meta, "input_hash", str)
    recorded_kg: int = _field(record_meta, "sink_kg_co2e", int)
    result = evaluate(methodology, inputs)
    if result.input_hash != recorded_hash:
        raise InputHashMismatch(recorded_hash, result.input_hash)
    if result.sink_kg_co2e != recorded_kg:
        raise QuantityMismatch(recorded_kg, result.sink_kg_co2e)
    return result


def methodology_check(seq: int, body: dict[str, Any], state: LedgerState) -> ReplayFailure | None:
    """A recorded issuance with a methodology result recomputes to that result, and the record
    credits no more than it, in the instrument the methodology issues and no other serialized credit
    (the auditor's replay of the methodology, as a replay plug-in)."""
    meta = body.get("meta")
    if not isinstance(meta, dict) or "methodology" not in meta:
        return None
    try:
        result = recompute(meta)
    except DomainError as exc:
        return ReplayFailure(
            seq, exc.code, exc.message, {"methodology": meta.get("methodology"), **exc.details}
        )
    issued = get(meta["methodology"], meta["version"]).instrument  # recompute found it
    credits = [
        p
        for p in body.get("postings", ())
        if isinstance(p, dict) and isinstance(p.get("amount"), int) and p["amount"] > 0
    ]
    serialized = {code for code, inst in INSTRUMENTS.items() if inst.serialized}
    stray = sorted(({str(p.get("instrument")) for p in credits} - {issued}) & serialized)
    if stray:
        return ReplayFailure(
            seq,
            "methodology_wrong_instrument",
            f"credits {', '.join(stray)} but {meta['methodology']} issues {issued}",
            {"issued": issued, "credited": stray},
        )
    credited = sum(p["amount"] for p in credits if p.get("instrument") == issued)
    if credited > result.sink_kg_co2e:
        return ReplayFailure(
            seq,
            "methodology_overissued",
            f"credits {credited} kg CO2e but the methodology gives {result.sink_kg_co2e}",
            {"credited": credited, "recomputed": result.sink_kg_co2e},
        )
    return None
