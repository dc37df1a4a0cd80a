"""The mussel (贻贝) methodology: the worked example exactly, defaults and overrides, refusals per field."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from methodologies import InvalidMonitoringData, Result, evaluate
from methodologies.bivalve_hyt0305 import METHODOLOGY, SPECS, BivalveInput

BASE: dict[str, Any] = {
    "project_id": "ZS-SHENGSI-001",
    "monitoring_start": "2024-01-01",
    "monitoring_end": "2024-12-31",
    "species": "Mytilus coruscus",
    "farm_area_mu": "10",
    "harvested_wet_kg": "1000",
}


def run(**changes: Any) -> Result:
    return evaluate(METHODOLOGY, {**BASE, **changes})


def problems(**changes: Any) -> dict[str, str]:
    with pytest.raises(InvalidMonitoringData) as caught:
        run(**changes)
    return {p.field: p.message for p in caught.value.problems}


def measured(value: str, source: str = "Zhoushan lab report 2024-17") -> dict[str, str]:
    return {"value": value, "source": source}


# --- the worked example ------------------------------------------------------------------------


def test_one_tonne_of_fresh_mussel_reproduces_the_design_figures_exactly() -> None:
    """DESIGN.md, "Blue carbon from mussels", after Sun Kang et al. 2020, 地理研究 39(11), Table 2
    (row 贻贝): one tonne of fresh mussel removes about 0.1093 t C, i.e. about 0.401 t CO2.

    By hand, for 1,000 kg fresh:
        dry        = 1000 x 0.7528                 = 752.8 kg
        shell dry  = 752.8 x 0.9153                = 689.03784 kg
        tissue dry = 752.8 x 0.0847                = 63.76216 kg
        shell C    = 689.03784 x 0.1176            = 81.030849984 kg
        tissue C   = 63.76216 x 0.4440             = 28.31039904 kg
        carbon     = 81.030849984 + 28.31039904    = 109.341249024 kg C
        CO2        = 109.341249024 x 44 / 12       = 400.917913088 kg (exact: 12 divides it)
    """
    result = run()

    assert result.step("dry_kg") == Decimal("752.8")
    assert result.step("shell_dry_kg") == Decimal("689.03784")
    assert result.step("tissue_dry_kg") == Decimal("63.76216")
    assert result.step("shell_carbon_kg") == Decimal("81.030849984")
    assert result.step("tissue_carbon_kg") == Decimal("28.31039904")
    assert result.step("carbon_kg") == Decimal("109.341249024")
    assert result.step("co2_kg") == Decimal("400.917913088")
    assert Decimal("109.341249024") * 44 == Decimal("400.917913088") * 12  # the CO2 figure is exact
    assert result.sink_kg_co2e == 400  # 400.917913088 rounded down
    assert result.sink_t_co2e == Decimal("0.400")

    # the published, rounded figures, at the DESIGN's precision
    carbon_t = result.step("carbon_kg") / 1000
    co2_t = result.step("co2_kg") / 1000
    assert carbon_t.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP) == Decimal("0.1093")
    assert co2_t.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP) == Decimal("0.401")


def test_the_sink_is_rounded_down_never_up() -> None:
    result = run(harvested_wet_kg="2000")  # 801.835826176 kg CO2

    assert result.step("co2_kg") == Decimal("801.835826176")
    assert result.sink_kg_co2e == 801


def test_the_per_mu_sanity_figures_are_listed() -> None:
    result = run(farm_area_mu="3")

    assert result.step("yield_kg_per_mu") == Decimal("333.333")
    assert result.step("co2_kg_per_mu") == Decimal("133.639")  # 400.917913088 / 3, cut


def test_the_result_lists_every_step_in_order() -> None:
    names = [step.name for step in run().steps]

    assert names == [
        "dry_kg",
        "shell_dry_kg",
        "tissue_dry_kg",
        "shell_carbon_kg",
        "tissue_carbon_kg",
        "carbon_kg",
        "co2_kg",
        "yield_kg_per_mu",
        "co2_kg_per_mu",
    ]
    assert all(step.formula and step.unit for step in run().steps)


# --- defaults and overrides --------------------------------------------------------------------


def test_the_defaults_are_the_published_values_with_their_source() -> None:
    result = run()

    assert {p.name: p.value for p in result.parameters} == {
        "dry_wet_ratio": Decimal("0.7528"),
        "shell_share": Decimal("0.9153"),
        "tissue_share": Decimal("0.0847"),
        "shell_carbon_content": Decimal("0.1176"),
        "tissue_carbon_content": Decimal("0.4440"),
    }
    for parameter in result.parameters:
        assert not parameter.measured
        assert parameter.source.startswith("Sun Kang et al. 2020, 地理研究 39(11)")
        assert "HY/T 0305-2021" in parameter.source


def test_the_published_shares_add_up_to_one() -> None:
    assert SPECS["shell_share"].default + SPECS["tissue_share"].default == 1


def test_a_measured_dry_wet_ratio_replaces_the_default_and_keeps_its_source() -> None:
    result = run(overrides={"dry_wet_ratio": measured("0.70", "Shengsi sampling 2024-09, n=30")})

    parameter = result.parameter("dry_wet_ratio")
    assert parameter.value == Decimal("0.70")
    assert parameter.measured
    assert parameter.source == "Shengsi sampling 2024-09, n=30"
    assert result.step("dry_kg") == Decimal("700")
    assert not result.parameter("shell_share").measured


def test_every_parameter_can_be_overridden_at_once() -> None:
    overrides = {
        "dry_wet_ratio": measured("0.8"),
        "shell_share": measured("0.9"),
        "tissue_share": measured("0.1"),
        "shell_carbon_content": measured("0.12"),
        "tissue_carbon_content": measured("0.45"),
    }
    result = run(overrides=overrides)

    # 1000 x 0.8 = 800 dry; 720 x 0.12 = 86.4 and 80 x 0.45 = 36 kg C; 122.4 x 44/12 = 448.8 kg CO2
    assert result.step("carbon_kg") == Decimal("122.4")
    assert result.step("co2_kg") == Decimal("448.8")
    assert result.sink_kg_co2e == 448
    assert all(p.measured for p in result.parameters)


def test_a_lone_shell_share_equal_to_one_minus_the_default_tissue_share_is_accepted() -> None:
    result = run(overrides={"shell_share": measured("0.9153")})

    assert result.parameter("shell_share").measured
    assert result.sink_kg_co2e == 400


def test_both_species_use_the_genus_defaults() -> None:
    assert run(species="Mytilus galloprovincialis").sink_kg_co2e == run().sink_kg_co2e


# --- refusals, one message per field -----------------------------------------------------------


def test_a_negative_weight_is_refused_naming_the_field() -> None:
    assert problems(harvested_wet_kg="-5") == {"harvested_wet_kg": "Input should be greater than 0"}


def test_a_zero_weight_is_refused() -> None:
    assert "harvested_wet_kg" in problems(harvested_wet_kg=0)


def test_a_zero_area_is_refused_naming_the_field() -> None:
    assert problems(farm_area_mu="0") == {"farm_area_mu": "Input should be greater than 0"}


def test_an_unknown_species_is_refused_naming_the_known_ones() -> None:
    found = problems(species="Perna viridis")

    assert set(found) == {"species"}
    assert "Mytilus coruscus" in found["species"]
    assert "Mytilus galloprovincialis" in found["species"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("dry_wet_ratio", "0.29"),
        ("dry_wet_ratio", "0.96"),
        ("shell_carbon_content", "0.04"),
        ("shell_carbon_content", "0.21"),
        ("tissue_carbon_content", "0.29"),
        ("tissue_carbon_content", "0.56"),
    ],
)
def test_a_parameter_out_of_its_plausible_range_is_refused_naming_it(name: str, value: str) -> None:
    found = problems(overrides={name: measured(value)})

    assert set(found) == {f"overrides.{name}"}
    assert "outside the plausible range" in found[f"overrides.{name}"]
    assert value.rstrip("0") in found[f"overrides.{name}"]


def test_the_plausible_range_is_inclusive() -> None:
    assert run(overrides={"dry_wet_ratio": measured("0.95")}).parameter("dry_wet_ratio").measured


def test_a_shell_share_out_of_range_is_refused_once() -> None:
    found = problems(overrides={"shell_share": measured("0.4"), "tissue_share": measured("0.6")})

    assert set(found) == {"overrides.shell_share", "overrides.tissue_share"}  # each out of its range
    assert "outside the plausible range" in found["overrides.shell_share"]


def test_shares_that_do_not_add_up_to_one_are_refused() -> None:
    found = problems(overrides={"shell_share": measured("0.90"), "tissue_share": measured("0.09")})

    assert set(found) == {"overrides.tissue_share"}
    assert "must equal 1" in found["overrides.tissue_share"]
    assert "0.99" in found["overrides.tissue_share"]


def test_a_lone_shell_share_is_checked_against_the_default_tissue_share() -> None:
    found = problems(overrides={"shell_share": measured("0.90")})

    assert "0.0847 (default)" in found["overrides.tissue_share"]


def test_an_override_without_a_source_is_refused() -> None:
    found = problems(overrides={"dry_wet_ratio": {"value": "0.7", "source": "  "}})

    assert set(found) == {"overrides.dry_wet_ratio.source"}


def test_an_unknown_override_is_refused() -> None:
    assert "overrides.ash_content" in problems(overrides={"ash_content": measured("0.1")})


@pytest.mark.parametrize("field", ["harvested_wet_kg", "farm_area_mu"])
def test_a_float_is_refused_naming_the_field(field: str) -> None:
    found = problems(**{field: 1000.0})

    assert set(found) == {field}
    assert "float" in found[field]


def test_a_float_parameter_override_is_refused() -> None:
    found = problems(overrides={"dry_wet_ratio": {"value": 0.7528, "source": "lab"}})

    assert set(found) == {"overrides.dry_wet_ratio.value"}


def test_a_period_ending_before_it_starts_is_refused() -> None:
    found = problems(monitoring_start="2024-06-01", monitoring_end="2024-05-31")

    assert set(found) == {"monitoring_end"}
    assert "must end after it starts" in found["monitoring_end"]


def test_a_period_ending_the_day_it_starts_is_refused() -> None:
    assert "monitoring_end" in problems(monitoring_start="2024-06-01", monitoring_end="2024-06-01")


def test_a_date_and_time_or_a_timestamp_is_not_a_date() -> None:
    found = problems(monitoring_start=1_700_000_000, monitoring_end="2024-12-31T00:00:00")

    assert set(found) == {"monitoring_start", "monitoring_end"}


def test_an_absurd_yield_per_mu_is_refused_naming_the_weight() -> None:
    found = problems(farm_area_mu="1", harvested_wet_kg="25000")

    assert set(found) == {"harvested_wet_kg"}
    assert "25000 kg fresh per mu" in found["harvested_wet_kg"]


def test_a_yield_of_exactly_the_bound_is_accepted() -> None:
    assert run(farm_area_mu="1", harvested_wet_kg="20000").sink_kg_co2e > 0


def test_every_bad_field_is_reported_at_once() -> None:
    found = problems(project_id="", species="oyster", farm_area_mu="-1", harvested_wet_kg="x")

    assert set(found) == {"project_id", "species", "farm_area_mu", "harvested_wet_kg"}


def test_a_missing_field_is_named() -> None:
    raw = {k: v for k, v in BASE.items() if k != "harvested_wet_kg"}
    with pytest.raises(InvalidMonitoringData) as caught:
        evaluate(METHODOLOGY, raw)

    assert [(p.field, p.message) for p in caught.value.problems] == [("harvested_wet_kg", "Field required")]


def test_too_many_decimal_places_are_refused() -> None:
    assert "harvested_wet_kg" in problems(harvested_wet_kg="1000.0001")  # below a gram


def test_the_input_model_is_frozen() -> None:
    inputs = BivalveInput.model_validate(BASE)

    with pytest.raises(ValueError, match="frozen"):
        inputs.harvested_wet_kg = Decimal(1)  # type: ignore[misc]
