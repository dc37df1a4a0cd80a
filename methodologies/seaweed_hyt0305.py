"""Blue carbon (蓝碳) removed by harvesting cultured seaweed (海带 kelp, 裙带菜), HY/T 0305-2021.

Carbon (碳汇量) = harvested wet weight x 干湿比 x carbon content (含碳率); CO2 = C x 44/12.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from methodologies.base import (
    CO2_PER_C,
    HarvestInput,
    MeasuredValue,
    ParameterSpec,
    Result,
    Step,
    exact_product,
    make_result,
    truncated,
)

__all__ = [
    "MAX_YIELD_KG_PER_MU",
    "METHODOLOGY",
    "SOURCE",
    "SPECS",
    "SeaweedHyt0305",
    "SeaweedInput",
    "SeaweedOverrides",
    "SeaweedSpecies",
]

#: Where the defaults come from: Table 2 (表2 海水养殖碳汇能力核算系数) of 孙康, 崔茜茜, 苏子晓, 王雁楠
#: 2020, 中国海水养殖碳汇经济价值时空演化及影响因素分析, 地理研究 39(11): 2508,
#: http://www.dlyj.ac.cn/article/2020/1000-0585/1000-0585-39-11-2508/T2.html . The 20% 干湿系数 is a
#: convention of that literature for every alga; measured kelp dry matter is often lower, so a
#: measured override is preferable. Defaults still to be confirmed against HY/T 0305-2021 itself,
#: whose text (not seen) may give its own reference values.
SOURCE: Final = (
    "Sun Kang et al. 2020, 地理研究 39(11), Table 2 (海水养殖碳汇能力核算系数); "
    "literature values used with HY/T 0305-2021's carbon-stock-change method"
)

#: A sanity bound, not from the standard: fresh seaweed landed per mu above this is refused.
MAX_YIELD_KG_PER_MU: Final = Decimal(30000)


class SeaweedSpecies(StrEnum):
    """Cultured seaweeds with a published default."""

    SACCHARINA_JAPONICA = "Saccharina japonica"  # 海带 (kelp; syn. Laminaria japonica)
    UNDARIA_PINNATIFIDA = "Undaria pinnatifida"  # 裙带菜


#: The Table 2 row and carbon content (碳含量) of each species; the 干湿系数 is 20.00% for both.
_ROWS: Final = {
    SeaweedSpecies.SACCHARINA_JAPONICA: ("海带", "0.3120"),
    SeaweedSpecies.UNDARIA_PINNATIFIDA: ("裙带菜", "0.2640"),
}

#: Plausible ranges for a measured override (fractions of wet or dry weight).
_DRY_WET_RANGE: Final = (Decimal("0.05"), Decimal("0.35"))
_CARBON_RANGE: Final = (Decimal("0.15"), Decimal("0.50"))


def _species_specs(species: SeaweedSpecies) -> dict[str, ParameterSpec]:
    """The default parameters of ``species`` with their sources and plausible ranges."""
    row, carbon = _ROWS[species]
    return {
        "dry_wet_ratio": ParameterSpec(
            "dry_wet_ratio", Decimal("0.20"), "kg dry / kg wet",
            f"{SOURCE}, row {row}, column 干湿系数 20.00%", *_DRY_WET_RANGE,
        ),
        "carbon_content": ParameterSpec(
            "carbon_content", Decimal(carbon), "kg C / kg dry",
            f"{SOURCE}, row {row}, column 碳含量 {Decimal(carbon) * 100:.2f}%", *_CARBON_RANGE,
        ),
    }  # fmt: skip


SPECS: Final = {species: _species_specs(species) for species in SeaweedSpecies}


class SeaweedOverrides(BaseModel):
    """Measured values (实测值) that replace the defaults; each carries its own source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dry_wet_ratio: MeasuredValue | None = None
    carbon_content: MeasuredValue | None = None

    @field_validator("*", mode="after")
    @classmethod
    def _plausible(cls, value: MeasuredValue | None, info: ValidationInfo) -> MeasuredValue | None:
        """A measured value outside the parameter's plausible range is refused."""
        spec = SPECS[SeaweedSpecies.SACCHARINA_JAPONICA][str(info.field_name)]  # ranges are shared
        problem = None if value is None else spec.range_problem(value.value)
        if problem is not None:
            raise ValueError(problem)
        return value


class SeaweedInput(HarvestInput):
    """Monitoring data of one seaweed farm for one period."""

    max_yield_kg_per_mu = MAX_YIELD_KG_PER_MU

    species: SeaweedSpecies
    overrides: SeaweedOverrides = Field(default_factory=SeaweedOverrides)


class SeaweedHyt0305:
    """Seaweed (大型藻类) harvest carbon by HY/T 0305-2021's carbon-stock-change method."""

    id = "hyt0305-seaweed"
    version = "1.0"
    input_model = SeaweedInput
    instrument = "BC"  # blue-carbon credits (蓝碳)

    def compute(self, inputs: SeaweedInput) -> Result:
        """Carbon in the harvested dry matter, as CO2; every figure exact, the sink rounded down."""
        species_specs = SPECS[inputs.species]
        p = {name: spec.resolve(getattr(inputs.overrides, name)) for name, spec in species_specs.items()}
        wet = inputs.harvested_wet_kg
        dry = exact_product(wet, p["dry_wet_ratio"].value)
        carbon = exact_product(dry, p["carbon_content"].value)
        co2 = truncated(exact_product(carbon, CO2_PER_C[0]), CO2_PER_C[1])
        area = inputs.farm_area_mu
        steps = [
            Step("dry_kg", "harvested_wet_kg x dry_wet_ratio", dry, "kg"),
            Step("carbon_kg", "dry_kg x carbon_content", carbon, "kg C"),
            Step("co2_kg", "carbon_kg x 44 / 12 (cut at 50 significant digits)", co2, "kg CO2e"),
            Step("yield_kg_per_mu", "harvested_wet_kg / farm_area_mu (cut to 0.001)",
                 truncated(wet, area, Decimal("0.001")), "kg fresh / mu"),
            Step("co2_kg_per_mu", "co2_kg / farm_area_mu (cut to 0.001)",
                 truncated(co2, area, Decimal("0.001")), "kg CO2e / mu"),
        ]  # fmt: skip
        return make_result(self, inputs, list(p.values()), steps, co2)


METHODOLOGY: Final = SeaweedHyt0305()
