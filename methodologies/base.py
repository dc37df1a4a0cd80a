"""The methodology contract: validated inputs in, a ``Result`` listing every figure out.

Also the shared pieces: exact Decimal arithmetic, parameters with sources, the input hash.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_DOWN, Context, Decimal, Inexact, InvalidOperation, localcontext
from enum import Enum
from typing import Annotated, Any, ClassVar, Protocol, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from methodologies.errors import (
    FieldProblem,
    InputHashMismatch,
    InvalidMonitoringData,
    MalformedReplayRecord,
    MethodologyError,
    QuantityMismatch,
    ReplayMismatch,
    UnknownMethodology,
)

__all__ = [
    "CO2_PER_C",
    "DecimalInput",
    "FieldProblem",
    "HarvestInput",
    "InputHashMismatch",
    "InvalidMonitoringData",
    "IsoDate",
    "MalformedReplayRecord",
    "MeasuredValue",
    "Methodology",
    "MethodologyError",
    "NonBlankText",
    "Parameter",
    "ParameterSpec",
    "QuantityMismatch",
    "ReplayMismatch",
    "Result",
    "Step",
    "UnknownMethodology",
    "canonical_inputs",
    "decimal_text",
    "evaluate",
    "exact_product",
    "exact_sum",
    "input_hash",
    "make_result",
    "parse_inputs",
    "truncated",
]

# ---------------------------------------------------------------------------------------------
# Exact arithmetic
# ---------------------------------------------------------------------------------------------

#: Products of the bounded inputs need far fewer than 100 digits, so under this context every
#: multiplication and addition is exact; ``Inexact`` is trapped so a silent rounding cannot happen.
_EXACT = Context(prec=100, traps=[Inexact, InvalidOperation])
#: For the one division (x 44/12, per mu): truncate toward zero, i.e. conservatively.
_TRUNCATED = Context(prec=50, rounding=ROUND_DOWN, traps=[InvalidOperation])

#: Molar mass ratio CO2 : C, 44/12 (碳 -> 二氧化碳), kept as a fraction and applied as x 44 then / 12.
CO2_PER_C = (Decimal(44), Decimal(12))


def exact_product(*factors: Decimal) -> Decimal:
    """The exact product of ``factors`` (raises ``decimal.Inexact`` rather than round)."""
    with localcontext(_EXACT):
        product = Decimal(1)
        for factor in factors:
            product *= factor
        return +product


def exact_sum(*terms: Decimal) -> Decimal:
    """The exact sum of ``terms`` (raises ``decimal.Inexact`` rather than round)."""
    with localcontext(_EXACT):
        return sum(terms, Decimal(0))


def truncated(numerator: Decimal, denominator: Decimal, quantum: Decimal | None = None) -> Decimal:
    """``numerator / denominator`` cut toward zero (never overstated): at 50 significant digits, or
    at ``quantum`` (e.g. Decimal("0.001")) when given.

    For x >= 0 cutting keeps the integer part, so flooring the cut value floors the exact quotient.
    """
    with localcontext(_TRUNCATED):
        quotient = numerator / denominator
        return quotient if quantum is None else quotient.quantize(quantum, rounding=ROUND_DOWN)


def decimal_text(value: Decimal) -> str:
    """The canonical text of a Decimal: plain notation, no exponent, no trailing zeros ("1000", "0.7528")."""
    if not value.is_finite():
        raise ValueError(f"{value} has no canonical text")
    normal = value.normalize(_EXACT)
    return "0" if normal.is_zero() else format(normal, "f")


# ---------------------------------------------------------------------------------------------
# Input types shared by the methodologies
# ---------------------------------------------------------------------------------------------


def _refuse_float(value: object) -> object:
    """No floats (STYLE rule 3): 0.1 as a float is not 0.1, and a measured figure must be exact."""
    if isinstance(value, (bool, float)):
        raise ValueError(
            f"{type(value).__name__} {value!r} is not accepted; give the figure as a string, an integer "
            'or a Decimal (e.g. "0.7528")'
        )
    return value


def _iso_date(value: object) -> object:
    """A calendar date as a ``date`` or "YYYY-MM-DD" text; datetimes and timestamps are refused."""
    if isinstance(value, datetime):
        raise ValueError("give a date, not a date and time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return value  # pydantic parses it and refuses impossible dates such as 2024-02-30
    raise ValueError(f"{value!r} is not a date; give it as YYYY-MM-DD")


#: A figure given as str, int or Decimal (never float or bool); finite, at most 30 digits.
DecimalInput = Annotated[Decimal, BeforeValidator(_refuse_float), Field(max_digits=30)]
#: A calendar date given as ``date`` or "YYYY-MM-DD".
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
#: A non-blank identifier or citation.
NonBlankText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class MeasuredValue(BaseModel):
    """A measured parameter (实测值) replacing a literature default, with where it was measured."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: Annotated[DecimalInput, Field(max_digits=12, decimal_places=8)]
    source: NonBlankText


class HarvestInput(BaseModel):
    """Monitoring data common to harvest methodologies: project, period (监测期), farm area, harvest.

    Field order matters: each cross-field validator sees only the fields declared before it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    #: A sanity bound set by each methodology: more fresh harvest per mu than this is refused.
    max_yield_kg_per_mu: ClassVar[Decimal]

    project_id: Annotated[NonBlankText, Field(max_length=64)]
    monitoring_start: IsoDate
    monitoring_end: IsoDate
    farm_area_mu: Annotated[DecimalInput, Field(gt=0, max_digits=12, decimal_places=4)]  # 养殖面积, 亩
    harvested_wet_kg: Annotated[DecimalInput, Field(gt=0, max_digits=15, decimal_places=3)]  # 收获湿重

    @field_validator("monitoring_end", mode="after")
    @classmethod
    def _end_after_start(cls, end: date, info: ValidationInfo) -> date:
        """The monitoring period ends after it starts."""
        start = info.data.get("monitoring_start")
        if start is not None and end <= start:
            raise ValueError(f"the monitoring period must end after it starts ({start} to {end})")
        return end

    @field_validator("harvested_wet_kg", mode="after")
    @classmethod
    def _plausible_yield(cls, wet_kg: Decimal, info: ValidationInfo) -> Decimal:
        """A harvest above ``max_yield_kg_per_mu`` x area is refused as implausible."""
        area_mu: Decimal | None = info.data.get("farm_area_mu")
        if area_mu is not None and wet_kg > exact_product(cls.max_yield_kg_per_mu, area_mu):
            per_mu = truncated(wet_kg, area_mu, Decimal(1))
            raise ValueError(
                f"{decimal_text(wet_kg)} kg from {decimal_text(area_mu)} mu is {per_mu} kg fresh per mu, "
                f"above the plausible {cls.max_yield_kg_per_mu} kg per mu; check the weight and the area"
            )
        return wet_kg


# ---------------------------------------------------------------------------------------------
# Parameters, steps, results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parameter:
    """A parameter value used in a computation, its unit, and its source citation."""

    name: str
    value: Decimal
    unit: str
    source: str
    measured: bool = False


@dataclass(frozen=True, slots=True)
class ParameterSpec:
    """A parameter's published default, its source and the plausible range for a measured override."""

    name: str
    default: Decimal
    unit: str
    source: str
    low: Decimal
    high: Decimal

    def range_problem(self, value: Decimal) -> str | None:
        """Why ``value`` is implausible for this parameter, or None when it lies in [low, high]."""
        if self.low <= value <= self.high:
            return None
        return (
            f"{self.name} {decimal_text(value)} is outside the plausible range "
            f"{decimal_text(self.low)}–{decimal_text(self.high)} ({self.unit})"
        )

    def resolve(self, override: MeasuredValue | None) -> Parameter:
        """The measured value when one is given, else the published default."""
        if override is None:
            return Parameter(self.name, self.default, self.unit, self.source)
        return Parameter(self.name, override.value, self.unit, override.source, measured=True)


@dataclass(frozen=True, slots=True)
class Step:
    """One intermediate figure: its name, the formula that produced it, its value and unit."""

    name: str
    formula: str
    value: Decimal
    unit: str


@dataclass(frozen=True, slots=True)
class Result:
    """Everything an issuance records and an auditor needs to check it.

    ``sink_kg_co2e`` is the issued quantity (碳汇量): the exact CO2 figure rounded DOWN to whole kg,
    so rounding never overstates a credit. ``sink_t_co2e`` is the same quantity in tonnes (exact).
    """

    methodology: str
    version: str
    inputs: Mapping[str, Any]
    input_hash: str
    parameters: tuple[Parameter, ...]
    steps: tuple[Step, ...]
    sink_kg_co2e: int
    sink_t_co2e: Decimal

    def step(self, name: str) -> Decimal:
        """The value of the step called ``name`` (KeyError when there is none)."""
        for step in self.steps:
            if step.name == name:
                return step.value
        raise KeyError(name)

    def parameter(self, name: str) -> Parameter:
        """The parameter called ``name`` (KeyError when there is none)."""
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise KeyError(name)

    def record_meta(self) -> dict[str, Any]:
        """What an issuance stores, and what ``registry.recompute`` takes back."""
        return {
            "methodology": self.methodology,
            "version": self.version,
            "inputs": copy.deepcopy(dict(self.inputs)),
            "input_hash": self.input_hash,
            "sink_kg_co2e": self.sink_kg_co2e,
        }

    def as_json(self) -> dict[str, Any]:
        """The full result as JSON-ready values (Decimals as canonical text, no floats)."""
        return {
            **self.record_meta(),
            "sink_t_co2e": decimal_text(self.sink_t_co2e),
            "parameters": [
                {
                    "name": p.name,
                    "value": decimal_text(p.value),
                    "unit": p.unit,
                    "source": p.source,
                    "measured": p.measured,
                }
                for p in self.parameters
            ],
            "steps": [
                {"name": s.name, "formula": s.formula, "value": decimal_text(s.value), "unit": s.unit}
                for s in self.steps
            ],
        }


InputT = TypeVar("InputT", bound=BaseModel)


class Methodology(Protocol[InputT]):
    """A versioned methodology: a pure function from a validated input model to a ``Result``."""

    @property
    def id(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def input_model(self) -> type[InputT]: ...

    @property
    def instrument(self) -> str:
        """The code of the serialized credit it issues (``ledger.units.INSTRUMENTS``)."""
        ...

    def compute(self, inputs: InputT) -> Result:
        """The result for ``inputs``; the same inputs always give the same result."""
        ...


# ---------------------------------------------------------------------------------------------
# Canonical input and its hash, validation
# ---------------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return {name: _jsonable(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int)):  # bool is an int
        return value
    raise TypeError(f"{type(value).__name__} has no canonical JSON form")


def canonical_inputs(inputs: BaseModel) -> dict[str, Any]:
    """The validated input as JSON values: every field present, Decimals as canonical text.

    Decimals become strings in ``decimal_text`` form, so "1000", 1000 and "1000.0" are one input;
    dates become "YYYY-MM-DD", enums their value, absent optional fields ``null``.
    """
    result: dict[str, Any] = _jsonable(inputs)
    return result


def input_hash(inputs: BaseModel) -> str:
    """SHA-256 (hex) of the canonical JSON of the validated input.

    The JSON is ``json.dumps(canonical_inputs(inputs), sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` encoded as UTF-8: RFC 8785 style. It equals RFC 8785 exactly here
    because the only numbers are integers (Decimals are strings) and every key is an ASCII field
    name, so code-point and UTF-16 key order agree.
    """
    text = json.dumps(canonical_inputs(inputs), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_result(
    methodology: Methodology[InputT],
    inputs: InputT,
    parameters: Sequence[Parameter],
    steps: Sequence[Step],
    co2_kg: Decimal,
) -> Result:
    """Assemble a ``Result``; the quantity is ``co2_kg`` rounded down to whole kg CO2e."""
    if co2_kg < 0:
        raise ValueError(f"a sink cannot be negative (got {co2_kg} kg CO2e)")
    sink_kg = int(co2_kg.to_integral_value(rounding=ROUND_DOWN))
    return Result(
        methodology=methodology.id,
        version=methodology.version,
        inputs=canonical_inputs(inputs),
        input_hash=input_hash(inputs),
        parameters=tuple(parameters),
        steps=tuple(steps),
        sink_kg_co2e=sink_kg,
        sink_t_co2e=Decimal(sink_kg).scaleb(-3),
    )


def parse_inputs(model: type[InputT], raw: Mapping[str, Any]) -> InputT:
    """Validate ``raw`` into ``model``; refuse with ``InvalidMonitoringData`` naming every bad field."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise InvalidMonitoringData.from_validation_error(exc) from None


def evaluate(methodology: Methodology[InputT], raw: Mapping[str, Any]) -> Result:
    """Validate ``raw`` for ``methodology`` and compute its result."""
    return methodology.compute(parse_inputs(methodology.input_model, raw))
