"""Carbon removed by a managed bamboo stand (竹林碳汇): the change of the carbon held in its living
bamboo biomass over a monitoring period, less the baseline's removals.

CO2 = (AGB_end - AGB_start) x (1 + R) x CF x 44/12 - baseline; R = below/above-ground biomass ratio.
"""

# Sources, and what is not implemented (read before relying on a default):
# - Method: the carbon-stock-change approach of the CCER bamboo forest management methodology
#   竹林经营碳汇项目方法学 (AR-CM-005-V01), for the bamboo biomass pool: the stand's biomass carbon at
#   the end of the period minus at its start. The stand's above-ground dry biomass comes from a plot
#   survey (in practice per-culm biomass models of diameter and age summed over sample plots, e.g.
#   Zhang et al. 2014, Forestry 87(5): 674-682, for moso bamboo); this module takes the two survey
#   totals as its inputs and does not itself implement the methodology's sampling rules.
# - Carbon fraction of dry matter, default 0.47: IPCC 2006 Guidelines for National Greenhouse Gas
#   Inventories, Vol. 4 (AFOLU), Ch. 4, Table 4.3 (carbon fraction of above-ground forest biomass).
#   A per-species bamboo figure from AR-CM-005-V01 itself was NOT found in a text we could read, so a
#   measured value (实测含碳率) with its source should replace the IPCC default.
# - Root-to-shoot ratio R (竹蔸, 竹鞭 and roots against culms, branches and leaves): no published
#   default was found, so there is NONE here: every report gives its measured value and its source.
# - Left out, which understates the sink: soil organic carbon and litter, and carbon carried into
#   harvested bamboo products. Not computed here, and so part of the ``baseline_co2_kg`` input: the
#   baseline's removals over the period and any leakage the methodology deducts (its baseline and
#   leakage sections compute them). The net sink is floored at zero.

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from methodologies.base import (
    CO2_PER_C,
    DecimalInput,
    IsoDate,
    MeasuredValue,
    NonBlankText,
    Parameter,
    ParameterSpec,
    Result,
    Step,
    decimal_text,
    exact_product,
    exact_sum,
    make_result,
    truncated,
)

__all__ = [
    "CARBON_FRACTION_SOURCE",
    "MAX_BIOMASS_KG_PER_MU",
    "METHODOLOGY",
    "BambooInput",
    "BambooOverrides",
    "BambooSpecies",
    "BambooStockChange",
]

METHOD_SOURCE: Final = (
    "CCER 竹林经营碳汇项目方法学 AR-CM-005-V01, carbon-stock-change of the bamboo biomass pool"
)
CARBON_FRACTION_SOURCE: Final = (
    "IPCC 2006 Guidelines for National GHG Inventories, Vol. 4 Ch. 4, Table 4.3 (carbon fraction of "
    "above-ground forest biomass, default 0.47)"
)

#: A sanity bound, not from the methodology: above-ground dry biomass per mu above this is refused.
#: 20,000 kg/mu is 300 t/ha, about 141 t C/ha at CF 0.47, above the 16-128 Mg C/ha above-ground
#: range Yuen, Fung & Ziegler 2017 (Forest Ecology and Management 393: 113-138) found for bamboo.
MAX_BIOMASS_KG_PER_MU: Final = Decimal(20000)

CARBON_FRACTION: Final = ParameterSpec(
    "carbon_fraction",
    Decimal("0.47"),
    "kg C / kg dry",
    CARBON_FRACTION_SOURCE,
    Decimal("0.40"),
    Decimal("0.55"),
)
#: Plausible range of a measured root-to-shoot ratio: a sanity bound, not a published figure.
ROOT_SHOOT_RANGE: Final = (Decimal("0.05"), Decimal("3"))


class BambooSpecies(StrEnum):
    """Bamboos the method is written for; Zhejiang's stands are mostly moso bamboo."""

    PHYLLOSTACHYS_EDULIS = "Phyllostachys edulis"  # 毛竹 (moso bamboo; syn. P. pubescens)
    OTHER_PHYLLOSTACHYS = "Phyllostachys spp."  # 其他刚竹属 (雷竹, 早竹 ...)


class BambooOverrides(BaseModel):
    """A measured carbon fraction (实测含碳率) replacing the IPCC default, with its source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    carbon_fraction: MeasuredValue | None = None

    @field_validator("carbon_fraction", mode="after")
    @classmethod
    def _plausible(cls, value: MeasuredValue | None) -> MeasuredValue | None:
        problem = None if value is None else CARBON_FRACTION.range_problem(value.value)
        if problem is not None:
            raise ValueError(problem)
        return value


def _biomass(description: str) -> object:
    return Field(ge=0, max_digits=15, decimal_places=3, description=description)


class BambooInput(BaseModel):
    """Monitoring data of one bamboo stand for one period (监测期): two plot-survey totals.

    ``farm_area_mu`` is the stand's area (竹林面积, 亩), named as in every methodology so the registry
    checks it against the project's registered area. Field order matters for the cross-field checks.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    project_id: Annotated[NonBlankText, Field(max_length=64)]
    monitoring_start: IsoDate
    monitoring_end: IsoDate
    farm_area_mu: Annotated[DecimalInput, Field(gt=0, max_digits=12, decimal_places=4)]
    species: BambooSpecies
    biomass_start_kg: Annotated[DecimalInput, _biomass("above-ground dry biomass at the start, kg")]
    biomass_end_kg: Annotated[DecimalInput, _biomass("above-ground dry biomass at the end, kg")]
    root_shoot_ratio: MeasuredValue  # measured, with its source: there is no default
    # baseline removals over the period plus any leakage the methodology deducts, kg CO2e
    baseline_co2_kg: Annotated[DecimalInput, Field(ge=0, max_digits=15, decimal_places=3)]
    overrides: BambooOverrides = Field(default_factory=BambooOverrides)

    @field_validator("monitoring_end", mode="after")
    @classmethod
    def _end_after_start(cls, end: date, info: ValidationInfo) -> date:
        start: date | None = info.data.get("monitoring_start")
        if start is not None and end <= start:
            raise ValueError(f"the monitoring period must end after it starts ({start} to {end})")
        return end

    @field_validator("biomass_end_kg", mode="after")
    @classmethod
    def _plausible_stock(cls, end_kg: Decimal, info: ValidationInfo) -> Decimal:
        """A stock above ``MAX_BIOMASS_KG_PER_MU`` x area is refused; so is a stock that did not grow."""
        area: Decimal | None = info.data.get("farm_area_mu")
        if area is not None and end_kg > exact_product(MAX_BIOMASS_KG_PER_MU, area):
            raise ValueError(
                f"{decimal_text(end_kg)} kg on {decimal_text(area)} mu is above the plausible "
                f"{MAX_BIOMASS_KG_PER_MU} kg of above-ground dry biomass per mu; check the survey and area"
            )
        start: Decimal | None = info.data.get("biomass_start_kg")
        if start is not None and end_kg <= start:
            raise ValueError(
                f"the stand's biomass did not grow ({decimal_text(start)} to {decimal_text(end_kg)} kg): "
                "no removal to report"
            )
        return end_kg

    @field_validator("root_shoot_ratio", mode="after")
    @classmethod
    def _plausible_ratio(cls, value: MeasuredValue) -> MeasuredValue:
        low, high = ROOT_SHOOT_RANGE
        if not low <= value.value <= high:
            raise ValueError(
                f"root_shoot_ratio {decimal_text(value.value)} is outside the plausible range "
                f"{decimal_text(low)}-{decimal_text(high)}"
            )
        return value


class BambooStockChange:
    """Bamboo forest carbon (竹林碳汇) by the biomass carbon-stock change of a managed stand."""

    id = "bamboo-stock-change"
    version = "1.0"
    input_model = BambooInput
    instrument = "BBC"  # bamboo forest carbon credits (竹林碳汇)

    def compute(self, inputs: BambooInput) -> Result:
        """Growth of above-ground biomass, with roots and rhizomes by the measured ratio, as carbon
        and then CO2, less the baseline; every figure exact, the sink rounded down, never negative."""
        ratio = inputs.root_shoot_ratio
        parameters = [
            Parameter("root_shoot_ratio", ratio.value, "kg below / kg above", ratio.source, measured=True),
            CARBON_FRACTION.resolve(inputs.overrides.carbon_fraction),
        ]
        growth = exact_sum(inputs.biomass_end_kg, -inputs.biomass_start_kg)
        below = exact_product(growth, ratio.value)
        total = exact_sum(growth, below)
        carbon = exact_product(total, parameters[1].value)
        gross = truncated(exact_product(carbon, CO2_PER_C[0]), CO2_PER_C[1])
        net = max(exact_sum(gross, -inputs.baseline_co2_kg), Decimal(0))
        area = inputs.farm_area_mu
        steps = [
            Step("growth_kg", "biomass_end_kg - biomass_start_kg", growth, "kg dry"),
            Step("below_ground_kg", "growth_kg x root_shoot_ratio", below, "kg dry"),
            Step("biomass_kg", "growth_kg + below_ground_kg", total, "kg dry"),
            Step("carbon_kg", "biomass_kg x carbon_fraction", carbon, "kg C"),
            Step("gross_co2_kg", "carbon_kg x 44 / 12 (cut at 50 significant digits)", gross, "kg CO2e"),
            Step("co2_kg", "gross_co2_kg - baseline_co2_kg (with leakage), at least 0", net, "kg CO2e"),
            Step("co2_kg_per_mu", "co2_kg / farm_area_mu (cut to 0.001)",
                 truncated(net, area, Decimal("0.001")), "kg CO2e / mu"),
        ]  # fmt: skip
        return make_result(self, inputs, parameters, steps, net)


METHODOLOGY: Final = BambooStockChange()
