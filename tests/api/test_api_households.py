"""Household rosters and statements through HTTP: the cooperative registers its members, the bureau
confirms the roster, the issuance attributes the sink and a member's statement carries each record with
its inclusion proof; refusals with their codes, and the statement only for those who may read it."""

from __future__ import annotations

from typing import Any

import pytest

from market.households.model import id_card_with_check
from tests.api.conftest import HttpWorld, error_of
from tests.api.module_world import module_http

pytestmark = pytest.mark.xdist_group("api_households")
http = module_http


def _members(n: int = 3) -> list[dict[str, Any]]:
    return [
        {
            "member": f"H{i:03d}",
            "name": f"贻贝户{i}",
            "id_card": id_card_with_check(f"33092219700101{i:03d}"),
            "area_mu": f"{10 * i}.5",
            "rafts": 4 * i,
            "longlines": 8 * i,
        }
        for i in range(1, n + 1)
    ]


def test_a_roster_is_registered_confirmed_and_a_members_statement_shows_its_attributed_tonnes(
    http: HttpWorld,
) -> None:
    project = "SS-HH-API"
    project_in = {
        "project": project,
        "name": "嵊泗贻贝（社员）",
        "location": "嵊泗",
        "area_mu": "100",
        "households": 3,
        "division": "330922",
    }
    assert http.post("shengsi_coop", "/v1/bc/projects", project_in).status_code == 200
    roster_in = {
        "project": project,
        "period_start": "2022-01-01",
        "period_end": "2022-12-31",
        "fee_bp": 300,
        "members": _members(),
    }
    bad = http.post(
        "shengsi_coop", "/v1/bc/rosters", {**roster_in, "members": [{**_members()[0], "id_card": "1"}]}
    )
    assert (bad.status_code, error_of(bad)["details"]["field"]) == (422, "id_card")
    assert http.post("zhoushan", "/v1/bc/rosters", roster_in).status_code == 403
    registered = http.post("shengsi_coop", "/v1/bc/rosters", roster_in)
    assert registered.status_code == 200, registered.text
    roster = registered.json()
    assert (roster["status"], roster["members"], roster["rule"]) == ("submitted", 3, "area")
    assert http.post("shengsi_coop", f"/v1/bc/rosters/{roster['roster']}/confirm", {}).status_code == 403
    confirmed = http.post("zhoushan", f"/v1/bc/rosters/{roster['roster']}/confirm", {})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    again = http.post("zhoushan", f"/v1/bc/rosters/{roster['roster']}/confirm", {})
    assert (again.status_code, error_of(again)["code"]) == (409, "roster_already_confirmed")
    data = {
        "project_id": project,
        "monitoring_start": "2022-01-01",
        "monitoring_end": "2022-12-31",
        "farm_area_mu": "100",
        "harvested_wet_kg": "200000",
        "species": "Mytilus coruscus",
    }
    report = http.post("shengsi_coop", f"/v1/bc/projects/{project}/reports", {"data": data}).json()
    assert http.post("zhoushan", f"/v1/bc/reports/{report['id']}/issue", {}).status_code == 200
    coop = http.party("shengsi_coop")
    path = f"/v1/bc/cooperatives/{coop}/members/H002/statement"
    statement = http.get("shengsi_coop", path)
    assert statement.status_code == 200, statement.text
    body = statement.json()
    assert body["name_masked"] == "贻***"  # 贻贝户2: the first character and a star for each other one
    kinds = [line["kind"] for line in body["lines"]]
    assert kinds == ["roster", "attribution"]
    share = body["lines"][1]["figures"]
    # 20.5 mu of 10.5 + 20.5 + 30.5 = 61.5 mu: a third of the sink, by largest remainder
    assert share["kg_co2e"] in (
        report["sink_kg_co2e"] * 2050 // 6150,
        report["sink_kg_co2e"] * 2050 // 6150 + 1,
    )
    assert body["attributed_kg_co2e"] == share["kg_co2e"]
    assert body["lines"][0]["figures"]["area_cmu"] == 2050
    assert http.get("zhoushan", path).status_code == 200  # the bureau over the cooperative reads it
    assert http.get("yuyao_chem", path).status_code == 403
    missing = http.get("shengsi_coop", f"/v1/bc/cooperatives/{coop}/members/H999/statement")
    assert (missing.status_code, error_of(missing)["code"]) == (404, "unknown_member")
