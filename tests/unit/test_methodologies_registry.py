"""The registry: lookup by (id, version), and the replay that catches a changed input or quantity."""

from __future__ import annotations

from typing import Any

import pytest

from methodologies import (
    InputHashMismatch,
    InvalidMonitoringData,
    MalformedReplayRecord,
    QuantityMismatch,
    ReplayMismatch,
    UnknownMethodology,
    available,
    evaluate,
    get,
    recompute,
)
from methodologies.bivalve_hyt0305 import BivalveHyt0305
from methodologies.seaweed_hyt0305 import SeaweedHyt0305

MUSSELS: dict[str, Any] = {
    "project_id": "ZS-SHENGSI-001",
    "monitoring_start": "2024-01-01",
    "monitoring_end": "2024-12-31",
    "species": "Mytilus coruscus",
    "farm_area_mu": "120",
    "harvested_wet_kg": "250000",
    "overrides": {"dry_wet_ratio": {"value": "0.74", "source": "Shengsi sampling 2024-09"}},
}
KELP: dict[str, Any] = {
    "project_id": "NB-XIANGSHAN-KELP-7",
    "monitoring_start": "2023-11-01",
    "monitoring_end": "2024-05-31",
    "species": "Saccharina japonica",
    "farm_area_mu": "40",
    "harvested_wet_kg": "300000",
}


def issued(methodology_id: str = "hyt0305-bivalve", raw: dict[str, Any] = MUSSELS) -> dict[str, Any]:
    return evaluate(get(methodology_id, "1.0"), raw).record_meta()


def test_the_mussel_seaweed_and_bamboo_methodologies_are_available() -> None:
    assert available() == [
        ("bamboo-stock-change", "1.0"),
        ("hyt0305-bivalve", "1.0"),
        ("hyt0305-seaweed", "1.0"),
    ]
    assert isinstance(get("hyt0305-bivalve", "1.0"), BivalveHyt0305)
    assert isinstance(get("hyt0305-seaweed", "1.0"), SeaweedHyt0305)


@pytest.mark.parametrize(("methodology_id", "version"), [("hyt0305-bivalve", "2.0"), ("vm0033", "1.0")])
def test_an_unknown_methodology_or_version_is_refused_clearly(methodology_id: str, version: str) -> None:
    with pytest.raises(UnknownMethodology) as caught:
        get(methodology_id, version)

    assert methodology_id in str(caught.value)
    assert "available: bamboo-stock-change 1.0, hyt0305-bivalve 1.0, hyt0305-seaweed 1.0" in str(caught.value)


@pytest.mark.parametrize(("methodology_id", "raw"), [("hyt0305-bivalve", MUSSELS), ("hyt0305-seaweed", KELP)])
def test_a_recorded_issuance_recomputes_to_the_same_result(methodology_id: str, raw: dict[str, Any]) -> None:
    record = issued(methodology_id, raw)

    result = recompute(record)

    assert result.sink_kg_co2e == record["sink_kg_co2e"] > 0
    assert result.record_meta() == record


def test_the_record_survives_a_json_round_trip() -> None:
    import json

    record = json.loads(json.dumps(issued()))

    assert recompute(record).sink_kg_co2e == record["sink_kg_co2e"]


def test_a_changed_quantity_is_detected() -> None:
    record = {**issued(), "sink_kg_co2e": issued()["sink_kg_co2e"] + 1}

    with pytest.raises(QuantityMismatch) as caught:
        recompute(record)

    assert caught.value.recorded == caught.value.recomputed + 1


@pytest.mark.parametrize(
    "change",
    [
        {"harvested_wet_kg": "250001"},
        {"farm_area_mu": "121"},
        {"species": "Mytilus galloprovincialis"},
        {"overrides": {"dry_wet_ratio": {"value": "0.74", "source": "someone else"}}},
    ],
)
def test_a_changed_input_is_detected(change: dict[str, Any]) -> None:
    record = issued()
    record["inputs"] = {**record["inputs"], **change}

    with pytest.raises(InputHashMismatch):
        recompute(record)


def test_a_changed_hash_is_detected() -> None:
    with pytest.raises(InputHashMismatch):
        recompute({**issued(), "input_hash": "0" * 64})


def test_a_record_under_another_methodology_does_not_replay() -> None:
    with pytest.raises(InvalidMonitoringData):  # mussel species and overrides are not seaweed inputs
        recompute({**issued(), "methodology": "hyt0305-seaweed"})


def test_a_tampered_input_that_is_no_longer_valid_is_refused() -> None:
    record = issued()
    record["inputs"] = {**record["inputs"], "harvested_wet_kg": "-1"}

    with pytest.raises(InvalidMonitoringData):
        recompute(record)


@pytest.mark.parametrize(
    ("key", "value"),
    [("methodology", None), ("version", 1), ("inputs", "{}"), ("input_hash", None), ("sink_kg_co2e", "400"),
     ("sink_kg_co2e", True), ("sink_kg_co2e", 400.0)],
)  # fmt: skip
def test_a_malformed_record_is_refused(key: str, value: Any) -> None:
    with pytest.raises(MalformedReplayRecord, match=key):
        recompute({**issued(), key: value})


def test_a_record_missing_a_key_is_refused() -> None:
    record = issued()
    del record["input_hash"]

    with pytest.raises(ReplayMismatch, match="input_hash"):
        recompute(record)
