"""The shared contract: canonical input and its hash, exact figures, the JSON form of a result."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal, Inexact
from typing import Any

import pytest

from methodologies import InvalidMonitoringData, evaluate, input_hash, parse_inputs
from methodologies.base import canonical_inputs, decimal_text, exact_product, truncated
from methodologies.bivalve_hyt0305 import METHODOLOGY, BivalveInput

BASE: dict[str, Any] = {
    "project_id": "ZS-SHENGSI-001",
    "monitoring_start": "2024-01-01",
    "monitoring_end": "2024-12-31",
    "species": "Mytilus coruscus",
    "farm_area_mu": "10",
    "harvested_wet_kg": "1000",
}


def hash_of(raw: dict[str, Any]) -> str:
    return input_hash(parse_inputs(BivalveInput, raw))


def source(value: str, text: str = "lab") -> dict[str, str]:
    return {"value": value, "source": text}


def test_the_hash_is_sha256_of_the_sorted_compact_json_with_decimals_as_text() -> None:
    inputs = parse_inputs(BivalveInput, BASE)
    text = json.dumps(canonical_inputs(inputs), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    assert input_hash(inputs) == hashlib.sha256(text.encode()).hexdigest()
    assert '"harvested_wet_kg":"1000"' in text
    assert '"overrides":{"dry_wet_ratio":null' in text


def test_the_hash_is_stable_across_equal_spellings_of_the_same_input() -> None:
    same = [
        BASE,
        {**BASE, "harvested_wet_kg": 1000},
        {**BASE, "harvested_wet_kg": Decimal("1000.000"), "farm_area_mu": "10.0"},
        {**BASE, "harvested_wet_kg": "1E+3"},
        {**BASE, "overrides": {}},
        {**BASE, "project_id": "  ZS-SHENGSI-001 "},
        dict(reversed(BASE.items())),
    ]

    assert {hash_of(raw) for raw in same} == {hash_of(BASE)}


def test_the_canonical_text_is_pinned() -> None:
    """A change to canonicalisation would orphan every recorded issuance: this pins it."""
    text = (
        '{"farm_area_mu":"10","harvested_wet_kg":"1000","monitoring_end":"2024-12-31",'
        '"monitoring_start":"2024-01-01","overrides":{"dry_wet_ratio":null,"shell_carbon_content":null,'
        '"shell_share":null,"tissue_carbon_content":null,"tissue_share":null},'
        '"project_id":"ZS-SHENGSI-001","species":"Mytilus coruscus"}'
    )

    assert hash_of(BASE) == hashlib.sha256(text.encode()).hexdigest()
    assert hash_of(BASE) == "d144d9ea25462775577b70125ea422fa91f5dab9d6b384365bb0bb640d444348"


CHANGES: list[tuple[str, dict[str, Any]]] = [
    ("project_id", {"project_id": "ZS-SHENGSI-002"}),
    ("monitoring_start", {"monitoring_start": "2024-01-02"}),
    ("monitoring_end", {"monitoring_end": "2024-12-30"}),
    ("species", {"species": "Mytilus galloprovincialis"}),
    ("farm_area_mu", {"farm_area_mu": "10.0001"}),
    ("harvested_wet_kg", {"harvested_wet_kg": "1000.001"}),
    ("dry_wet_ratio", {"overrides": {"dry_wet_ratio": source("0.7528")}}),
    ("dry_wet_ratio source", {"overrides": {"dry_wet_ratio": source("0.7528", "lab 2")}}),
    ("shell_share", {"overrides": {"shell_share": source("0.9153")}}),
    ("tissue_share", {"overrides": {"tissue_share": source("0.0847")}}),
    ("shell_carbon_content", {"overrides": {"shell_carbon_content": source("0.1176")}}),
    ("tissue_carbon_content", {"overrides": {"tissue_carbon_content": source("0.444")}}),
]


def test_the_hash_changes_with_every_input_even_an_override_equal_to_the_default() -> None:
    hashes = [hash_of(BASE)] + [hash_of({**BASE, **change}) for _, change in CHANGES]

    assert len(set(hashes)) == len(hashes)


@pytest.mark.parametrize("project_id", ["碳汇-舟山-1", "ZS 1", "P\u00e9"])
def test_the_hash_handles_non_ascii_text(project_id: str) -> None:
    assert len(hash_of({**BASE, "project_id": project_id})) == 64


def test_a_result_records_the_canonical_inputs_and_their_hash() -> None:
    result = evaluate(METHODOLOGY, {**BASE, "harvested_wet_kg": 1000})

    assert result.inputs["harvested_wet_kg"] == "1000"
    assert result.inputs["monitoring_start"] == "2024-01-01"
    assert result.input_hash == hash_of(BASE)
    assert (result.methodology, result.version) == ("hyt0305-bivalve", "1.0")


def test_the_json_form_of_a_result_has_no_floats() -> None:
    def walk(value: Any) -> None:
        assert not isinstance(value, float)
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        if isinstance(value, list):
            for item in value:
                walk(item)

    data = evaluate(METHODOLOGY, BASE).as_json()

    walk(data)
    assert data["steps"][5] == {
        "name": "carbon_kg",
        "formula": "shell_carbon_kg + tissue_carbon_kg",
        "value": "109.341249024",
        "unit": "kg C",
    }
    assert data["sink_t_co2e"] == "0.4"


def test_the_record_cannot_alter_the_result() -> None:
    result = evaluate(METHODOLOGY, {**BASE, "overrides": {"dry_wet_ratio": source("0.7")}})
    record = result.record_meta()

    record["inputs"]["overrides"]["dry_wet_ratio"]["value"] = "0.9"

    assert result.inputs["overrides"]["dry_wet_ratio"]["value"] == "0.7"


def test_a_problem_reads_as_field_and_message() -> None:
    with pytest.raises(InvalidMonitoringData) as caught:
        evaluate(METHODOLOGY, {**BASE, "farm_area_mu": "0"})

    assert str(caught.value) == "farm_area_mu: Input should be greater than 0"


@pytest.mark.parametrize(
    ("value", "text"),
    [("1000", "1000"), ("1E+3", "1000"), ("1000.000", "1000"), ("0.7528", "0.7528"), ("0.4440", "0.444"),
     ("0", "0"), ("0.000", "0"), ("1E-7", "0.0000001")],
)  # fmt: skip
def test_decimal_text_is_plain_and_minimal(value: str, text: str) -> None:
    assert decimal_text(Decimal(value)) == text


def test_products_are_exact_or_refused() -> None:
    assert exact_product(Decimal("0.7528"), Decimal("0.9153")) == Decimal("0.68903784")
    with pytest.raises(Inexact):
        exact_product(Decimal("1." + "1" * 60), Decimal("1." + "1" * 60))


def test_a_division_is_cut_toward_zero() -> None:
    assert truncated(Decimal(2), Decimal(3), Decimal("0.01")) == Decimal("0.66")
    assert truncated(Decimal(2), Decimal(3)) == Decimal("0." + "6" * 50)
