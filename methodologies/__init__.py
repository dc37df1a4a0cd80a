"""Versioned carbon-sink methodologies (碳汇计量方法): pure functions from validated monitoring data to a
result listing every intermediate figure and every parameter used, with its source.
"""

from methodologies.base import (
    MeasuredValue,
    Methodology,
    Parameter,
    Result,
    Step,
    evaluate,
    input_hash,
    parse_inputs,
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
from methodologies.registry import available, get, recompute

__all__ = [
    "FieldProblem",
    "InputHashMismatch",
    "InvalidMonitoringData",
    "MalformedReplayRecord",
    "MeasuredValue",
    "Methodology",
    "MethodologyError",
    "Parameter",
    "QuantityMismatch",
    "ReplayMismatch",
    "Result",
    "Step",
    "UnknownMethodology",
    "available",
    "evaluate",
    "get",
    "input_hash",
    "parse_inputs",
    "recompute",
]
