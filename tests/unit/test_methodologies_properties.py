"""Properties of both methodologies: the sink never falls as the harvest grows, and is never negative."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from methodologies import evaluate, get, recompute

# weights in grams' precision, up to 10,000 t; the area leaves room under every yield bound
weights_kg = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("10000000"), places=3)
AREA_MU = "1000"

BIVALVE_OVERRIDES = st.fixed_dictionaries(
    {},
    optional={
        "dry_wet_ratio": st.decimals(min_value=Decimal("0.30"), max_value=Decimal("0.95"), places=4),
        "shell_carbon_content": st.decimals(min_value=Decimal("0.05"), max_value=Decimal("0.20"), places=4),
        "tissue_carbon_content": st.decimals(min_value=Decimal("0.30"), max_value=Decimal("0.55"), places=4),
    },
)


def raw(methodology_id: str, wet_kg: Decimal, overrides: dict[str, Decimal]) -> dict[str, Any]:
    species = "Mytilus coruscus" if methodology_id == "hyt0305-bivalve" else "Saccharina japonica"
    return {
        "project_id": "P",
        "monitoring_start": "2024-01-01",
        "monitoring_end": "2024-12-31",
        "species": species,
        "farm_area_mu": AREA_MU,
        "harvested_wet_kg": str(wet_kg),
        "overrides": {name: {"value": str(v), "source": "lab"} for name, v in overrides.items()},
    }


@given(
    methodology_id=st.sampled_from(["hyt0305-bivalve", "hyt0305-seaweed"]),
    a=weights_kg,
    b=weights_kg,
    overrides=BIVALVE_OVERRIDES,
)
def test_the_sink_is_monotone_in_wet_weight_and_never_negative(
    methodology_id: str, a: Decimal, b: Decimal, overrides: dict[str, Decimal]
) -> None:
    if methodology_id == "hyt0305-seaweed":
        overrides = {k: v for k, v in overrides.items() if k == "dry_wet_ratio" and v <= Decimal("0.35")}
    methodology = get(methodology_id, "1.0")
    low, high = sorted((a, b))

    small = evaluate(methodology, raw(methodology_id, low, overrides))
    large = evaluate(methodology, raw(methodology_id, high, overrides))

    assert 0 <= small.sink_kg_co2e <= large.sink_kg_co2e
    assert 0 <= small.step("co2_kg") <= large.step("co2_kg")
    assert small.sink_kg_co2e <= small.step("co2_kg") < small.sink_kg_co2e + 1  # floor, never up
    assert small.sink_t_co2e * 1000 == small.sink_kg_co2e


@given(wet_kg=weights_kg, overrides=BIVALVE_OVERRIDES)
def test_every_result_replays(wet_kg: Decimal, overrides: dict[str, Decimal]) -> None:
    record = evaluate(get("hyt0305-bivalve", "1.0"), raw("hyt0305-bivalve", wet_kg, overrides)).record_meta()

    assert recompute(record).record_meta() == record
