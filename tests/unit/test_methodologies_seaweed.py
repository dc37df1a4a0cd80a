"""The seaweed methodology (海带, 裙带菜): figures by hand, defaults and overrides, refusals per field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from methodologies import InvalidMonitoringData, Result, evaluate
from methodologies.seaweed_hyt0305 import METHODOLOGY

BASE: dict[str, Any] = {
    "project_id": "NB-XIANGSHAN-KELP-7",
    "monitoring_start": "2023-11-01",
    "monitoring_end": "2024-05-31",
    "species": "Saccharina japonica",
    "farm_area_mu": "5",
    "harvested_wet_kg": "1000",
}


def run(**changes: Any) -> Result:
    return evaluate(METHODOLOGY, {**BASE, **changes})


def problems(**changes: Any) -> dict[str, str]:
    with pytest.raises(InvalidMonitoringData) as caught:
        run(**changes)
    return {p.field: p.message for p in caught.value.problems}


def test_one_tonne_of_fresh_kelp_with_the_defaults() -> None:
    """Sun Kang et al. 2020, 地理研究 39(11), Table 2, row 海带: 干湿系数 20.00%, 碳含量 31.20%.

    1000 kg x 0.20 = 200 kg dry; x 0.3120 = 62.4 kg C; x 44/12 = 228.8 kg CO2 (exact).
    """
    result = run()

    assert result.step("dry_kg") == Decimal("200")
    assert result.step("carbon_kg") == Decimal("62.4")
    assert result.step("co2_kg") == Decimal("228.8")
    assert result.sink_kg_co2e == 228
    assert result.sink_t_co2e == Decimal("0.228")
    assert result.step("yield_kg_per_mu") == Decimal("200")
    assert result.step("co2_kg_per_mu") == Decimal("45.76")


def test_the_defaults_carry_their_source() -> None:
    result = run()

    assert result.parameter("dry_wet_ratio").value == Decimal("0.20")
    assert result.parameter("carbon_content").value == Decimal("0.3120")
    assert "row 海带" in result.parameter("carbon_content").source
    assert "31.20%" in result.parameter("carbon_content").source
    assert result.parameter("dry_wet_ratio").source.startswith("Sun Kang et al. 2020, 地理研究 39(11)")


def test_wakame_has_its_own_carbon_content() -> None:
    result = run(species="Undaria pinnatifida")

    assert result.parameter("carbon_content").value == Decimal("0.2640")
    assert result.step("carbon_kg") == Decimal("52.8")  # 200 x 0.2640


def test_a_non_terminating_co2_figure_is_cut_not_rounded_and_the_sink_floored() -> None:
    result = run(harvested_wet_kg="1", overrides={"carbon_content": {"value": "0.31", "source": "lab"}})

    # 1 x 0.20 x 0.31 = 0.062 kg C; x 44/12 = 0.22733... kg CO2
    assert result.step("carbon_kg") == Decimal("0.062")
    assert result.step("co2_kg") == Decimal("0.22733333333333333333333333333333333333333333333333")
    assert result.sink_kg_co2e == 0


def test_measured_values_replace_the_defaults() -> None:
    overrides = {
        "dry_wet_ratio": {"value": "0.12", "source": "Xiangshan kelp sampling 2024-04"},
        "carbon_content": {"value": "0.30", "source": "CHN analysis, lab report 88"},
    }
    result = run(overrides=overrides)

    assert result.step("carbon_kg") == Decimal("36")  # 1000 x 0.12 x 0.30
    assert result.step("co2_kg") == Decimal("132")
    assert result.parameter("dry_wet_ratio").source == "Xiangshan kelp sampling 2024-04"
    assert all(p.measured for p in result.parameters)


def test_an_unknown_species_is_refused() -> None:
    found = problems(species="Mytilus coruscus")

    assert set(found) == {"species"}
    assert "Saccharina japonica" in found["species"]


@pytest.mark.parametrize(("name", "value"), [("dry_wet_ratio", "0.5"), ("carbon_content", "0.6")])
def test_a_parameter_out_of_range_is_refused(name: str, value: str) -> None:
    found = problems(overrides={name: {"value": value, "source": "lab"}})

    assert set(found) == {f"overrides.{name}"}
    assert "outside the plausible range" in found[f"overrides.{name}"]


def test_bad_monitoring_data_is_refused_per_field() -> None:
    found = problems(harvested_wet_kg="-1", farm_area_mu="0", monitoring_end="2023-01-01")

    assert set(found) == {"harvested_wet_kg", "farm_area_mu", "monitoring_end"}


def test_an_absurd_kelp_yield_is_refused() -> None:
    assert "harvested_wet_kg" in problems(farm_area_mu="1", harvested_wet_kg="30001")
