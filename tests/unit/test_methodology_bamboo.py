"""Bamboo forest carbon (竹林碳汇): the stock-change computation figure by figure, its refusals, the
instrument it issues, and the replay check that an issuance credits that instrument and no other."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ledger.model import Lot, Posting, TxBody
from ledger.state import LedgerState
from ledger.units import INSTRUMENTS
from market.bluecarbon.serials import SERIAL_KG
from methodologies import InvalidMonitoringData, evaluate, get
from methodologies.bamboo_stock_change import CARBON_FRACTION_SOURCE
from methodologies.registry import credit_instruments, methodology_check, recompute

BAMBOO: dict[str, Any] = {
    "project_id": "AJ-BAMBOO-01",
    "monitoring_start": "2024-01-01",
    "monitoring_end": "2024-12-31",
    "farm_area_mu": "1000",
    "species": "Phyllostachys edulis",
    "biomass_start_kg": "3000000",
    "biomass_end_kg": "3400000",
    "root_shoot_ratio": {"value": "0.5", "source": "plot survey 2024"},
    "baseline_co2_kg": "100000",
}
METHOD = get("bamboo-stock-change", "1.0")


def test_the_sink_is_biomass_growth_with_roots_as_carbon_as_co2_less_the_baseline() -> None:
    result = evaluate(METHOD, BAMBOO)
    steps = {s.name: s.value for s in result.steps}
    assert steps["growth_kg"] == Decimal(400_000)
    assert steps["biomass_kg"] == Decimal(600_000)  # x (1 + 0.5)
    assert steps["carbon_kg"] == Decimal(282_000)  # x 0.47 (IPCC default)
    assert steps["gross_co2_kg"] == Decimal(1_034_000)  # x 44/12
    assert result.sink_kg_co2e == 934_000
    assert result.parameter("carbon_fraction").source == CARBON_FRACTION_SOURCE
    assert result.parameter("root_shoot_ratio").measured


def test_a_measured_carbon_fraction_replaces_the_default_and_the_sink_never_goes_negative() -> None:
    measured = evaluate(
        METHOD, BAMBOO | {"overrides": {"carbon_fraction": {"value": "0.5", "source": "lab 2024-10"}}}
    )
    assert measured.step("carbon_kg") == Decimal(300_000)
    assert evaluate(METHOD, BAMBOO | {"baseline_co2_kg": "5000000"}).sink_kg_co2e == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"biomass_end_kg": "3000000"}, "biomass_end_kg"),  # no growth
        ({"biomass_end_kg": "30000000"}, "biomass_end_kg"),  # 30 t per mu: implausible
        ({"root_shoot_ratio": {"value": "9", "source": "x"}}, "root_shoot_ratio"),
        ({"root_shoot_ratio": None}, "root_shoot_ratio"),  # there is no default to fall back on
        ({"overrides": {"carbon_fraction": {"value": "0.9", "source": "x"}}}, "overrides.carbon_fraction"),
        ({"baseline_co2_kg": 1.5}, "baseline_co2_kg"),  # floats refused
    ],
)
def test_implausible_or_missing_figures_are_refused_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidMonitoringData) as caught:
        evaluate(METHOD, BAMBOO | changes)
    assert field in {p.field for p in caught.value.problems}


def test_the_methodology_issues_a_serialized_carbon_credit_in_whole_tonne_serials() -> None:
    assert METHOD.instrument == "BBC"
    assert credit_instruments() == ["BC", "BBC"]
    for code in credit_instruments():
        assert INSTRUMENTS[code].serialized
        assert INSTRUMENTS[code].carbon
        assert INSTRUMENTS[code].minor_per_display == SERIAL_KG  # one serial per display tonne


def _issuance(meta: dict[str, Any], code: str, credited: int) -> dict[str, Any]:
    lot = Lot(vintage=2024, batch="AJ-BAMBOO-01-2024-1")
    return TxBody(
        "bc.issue",
        "n-bbc",
        (
            Posting(f"bureau:330900.cap.{code}", code, lot, -credited),
            Posting("coop:x.holding", code, lot, credited),
        ),
        meta=meta,
    ).to_json()


def test_replay_refuses_an_issuance_credited_in_another_instrument_than_its_methodology_issues() -> None:
    meta = evaluate(METHOD, BAMBOO).record_meta()
    sink = meta["sink_kg_co2e"]
    assert recompute(meta).sink_kg_co2e == sink
    assert methodology_check(9, _issuance(meta, "BBC", sink), LedgerState()) is None
    wrong = methodology_check(9, _issuance(meta, "BC", sink), LedgerState())
    assert wrong is not None
    assert (wrong.seq, wrong.rule, wrong.evidence) == (
        9,
        "methodology_wrong_instrument",
        {"issued": "BBC", "credited": ["BC"]},
    )
