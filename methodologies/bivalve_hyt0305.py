"""Carbon removed by harvesting farmed mussels (贻贝碳汇), HY/T 0305-2021's carbon-stock-change method.

C = wet weight x 干湿比 x (shell share x shell C + tissue share x tissue C); CO2 = C x 44/12.
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
    decimal_text,
    exact_product,
    exact_sum,
    make_result,
    truncated,
)

__all__ = [
    "MAX_YIELD_KG_PER_MU",
    "METHODOLOGY",
    "SOURCE",
    "SPECS",
    "BivalveHyt0305",
    "BivalveInput",
    "BivalveOverrides",
    "MusselSpecies",
]

#: Where the defaults come from: the 贻贝 (Mytilus) row of Table 2 (表2 海水养殖碳汇能力核算系数) of
#: 孙康, 崔茜茜, 苏子晓, 王雁楠 2020, 中国海水养殖碳汇经济价值时空演化及影响因素分析, 地理研究 39(11): 2508,
#: http://www.dlyj.ac.cn/article/2020/1000-0585/1000-0585-39-11-2508/T2.html
SOURCE: Final = (
    "Sun Kang et al. 2020, 地理研究 39(11), Table 2 (海水养殖碳汇能力核算系数), row 贻贝; "
    "literature values used with HY/T 0305-2021's carbon-stock-change method"
)

#: A sanity bound, not from the standard: a raft farm landing more fresh mussel per mu than this
#: almost certainly has a wrong weight or area.
MAX_YIELD_KG_PER_MU: Final = Decimal(20000)


class MusselSpecies(StrEnum):
    """The farmed mussels the defaults cover (Sun Kang et al. give one 贻贝 row for the genus)."""

    MYTILUS_CORUSCUS = "Mytilus coruscus"  # 厚壳贻贝, the mussel of Shengsi and Zhoushan
    MYTILUS_GALLOPROVINCIALIS = "Mytilus galloprovincialis"  # 紫贻贝


def _spec(name: str, default: str, unit: str, column: str, plausible: tuple[str, str]) -> ParameterSpec:
    low, high = (Decimal(bound) for bound in plausible)
    return ParameterSpec(name, Decimal(default), unit, f"{SOURCE}, column {column}", low, high)


#: Published defaults (as fractions), and the plausible range (inclusive) for a measured override.
SPECS: Final = {
    spec.name: spec
    for spec in (
        _spec("dry_wet_ratio", "0.7528", "kg dry / kg wet", "干湿系数 75.28%", ("0.30", "0.95")),
        _spec("shell_share", "0.9153", "kg shell / kg dry", "质量占比·贝壳 91.53%", ("0.50", "0.98")),
        _spec("tissue_share", "0.0847", "kg tissue / kg dry", "质量占比·软组织 8.47%", ("0.02", "0.50")),
        _spec(
            "shell_carbon_content", "0.1176", "kg C / kg dry shell", "碳含量·贝壳 11.76%", ("0.05", "0.20")
        ),
        _spec(
            "tissue_carbon_content",
            "0.4440",
            "kg C / kg dry tissue",
            "碳含量·软组织 44.40%",
            ("0.30", "0.55"),
        ),
    )
}


class BivalveOverrides(BaseModel):
    """Measured values (实测值) that replace the defaults; each carries its own source.

    Shell and tissue shares must add up to exactly 1 when either is overridden.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    dry_wet_ratio: MeasuredValue | None = None
    shell_share: MeasuredValue | None = None
    # validated even when absent, so a lone shell_share is checked against the default tissue share
    tissue_share: MeasuredValue | None = Field(default=None, validate_default=True)
    shell_carbon_content: MeasuredValue | None = None
    tissue_carbon_content: MeasuredValue | None = None

    @field_validator("*", mode="after")
    @classmethod
    def _plausible(cls, value: MeasuredValue | None, info: ValidationInfo) -> MeasuredValue | None:
        """A measured value outside the parameter's plausible range is refused."""
        problem = None if value is None else SPECS[str(info.field_name)].range_problem(value.value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("tissue_share", mode="after")
    @classmethod
    def _shares_add_up(cls, tissue: MeasuredValue | None, info: ValidationInfo) -> MeasuredValue | None:
        """Shell share + tissue share == 1 exactly, whenever either is measured."""
        if "shell_share" not in info.data:  # shell_share itself was refused: one message is enough
            return tissue
        shell: MeasuredValue | None = info.data["shell_share"]
        if shell is None and tissue is None:
            return tissue
        shell_value = SPECS["shell_share"].default if shell is None else shell.value
        tissue_value = SPECS["tissue_share"].default if tissue is None else tissue.value
        total = exact_sum(shell_value, tissue_value)
        if total != 1:
            raise ValueError(
                f"shell_share + tissue_share must equal 1 when either is measured; got "
                f"{decimal_text(shell_value)}{'' if shell else ' (default)'} + "
                f"{decimal_text(tissue_value)}{'' if tissue else ' (default)'} = {decimal_text(total)}"
            )
        return tissue


class BivalveInput(HarvestInput):
    """Monitoring data of one mussel farm for one period."""

    max_yield_kg_per_mu = MAX_YIELD_KG_PER_MU

    species: MusselSpecies
    overrides: BivalveOverrides = Field(default_factory=BivalveOverrides)


class BivalveHyt0305:
    """Mussel (贻贝) harvest carbon by the carbon-stock-change method of HY/T 0305-2021.

    HY/T 0305-2021 养殖大型藻类和双壳贝类碳汇计量方法 碳储量变化法 (marine industry standard of the
    Ministry of Natural Resources, published 2021-02-09): the carbon a harvest removes from the sea is
    the carbon held in the harvested shells and soft tissue.
    """

    id = "hyt0305-bivalve"
    version = "1.0"
    input_model = BivalveInput
    instrument = "BC"  # blue-carbon credits (蓝碳)

    def compute(self, inputs: BivalveInput) -> Result:
        """Carbon in harvested shell and soft tissue, as CO2; every figure exact, the sink rounded down."""
        p = {name: spec.resolve(getattr(inputs.overrides, name)) for name, spec in SPECS.items()}
        wet = inputs.harvested_wet_kg
        dry = exact_product(wet, p["dry_wet_ratio"].value)
        shell_dry = exact_product(dry, p["shell_share"].value)
        tissue_dry = exact_product(dry, p["tissue_share"].value)
        shell_c = exact_product(shell_dry, p["shell_carbon_content"].value)
        tissue_c = exact_product(tissue_dry, p["tissue_carbon_content"].value)
        carbon = exact_sum(shell_c, tissue_c)
        co2 = truncated(exact_product(carbon, CO2_PER_C[0]), CO2_PER_C[1])
        area = inputs.farm_area_mu
        steps = [
            Step("dry_kg", "harvested_wet_kg x dry_wet_ratio", dry, "kg"),
            Step("shell_dry_kg", "dry_kg x shell_share", shell_dry, "kg"),
            Step("tissue_dry_kg", "dry_kg x tissue_share", tissue_dry, "kg"),
            Step("shell_carbon_kg", "shell_dry_kg x shell_carbon_content", shell_c, "kg C"),
            Step("tissue_carbon_kg", "tissue_dry_kg x tissue_carbon_content", tissue_c, "kg C"),
            Step("carbon_kg", "shell_carbon_kg + tissue_carbon_kg", carbon, "kg C"),
            Step("co2_kg", "carbon_kg x 44 / 12 (cut at 50 significant digits)", co2, "kg CO2e"),
            Step("yield_kg_per_mu", "harvested_wet_kg / farm_area_mu (cut to 0.001)",
                 truncated(wet, area, Decimal("0.001")), "kg fresh / mu"),
            Step("co2_kg_per_mu", "co2_kg / farm_area_mu (cut to 0.001)",
                 truncated(co2, area, Decimal("0.001")), "kg CO2e / mu"),
        ]  # fmt: skip
        return make_result(self, inputs, list(p.values()), steps, co2)


METHODOLOGY: Final = BivalveHyt0305()
