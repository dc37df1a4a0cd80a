"""Blue carbon (贻贝养殖碳汇) through HTTP: the Shengsi mussel project registered, its monitoring data
run through the methodology (every figure exact), verified issuance with serials and the buffer pool,
transfer and retirement by serial, serial blocks and the methodologies; every refusal with its code."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.client import ApiError, Client
from ledger.model import Lot
from market.bluecarbon.tables import MonitoringReportRow
from tests.api.conftest import HttpWorld, console_login, error_of
from tests.api.module_world import module_http

# One worker runs the whole module in a row (xdist loadgroup): its world would not survive another
# module truncating the same PostgreSQL schema in between.
pytestmark = pytest.mark.xdist_group("api_bluecarbon")
http = module_http  # one demo world per engine for this module: each test registers its own project


def _project(project_id: str, /, **changes: Any) -> dict[str, Any]:
    return {
        "project": project_id,
        "name": "嵊泗贻贝养殖碳汇项目（示例）",
        "location": "嵊泗列岛贻贝养殖海域",
        "area_mu": "22000",
        "households": 518,
        "division": "330922",
        **changes,
    }


def _data(project_id: str, /, **changes: Any) -> dict[str, Any]:
    """A year of harvest from the Shengsi raft farms: 2,000 kg of fresh mussel per mu."""
    return {
        "project_id": project_id,
        "monitoring_start": "2023-01-01",
        "monitoring_end": "2023-12-31",
        "farm_area_mu": "22000",
        "harvested_wet_kg": "44000000",
        "species": "Mytilus coruscus",
        **changes,
    }


def _issued(http: HttpWorld, project: str, **data: Any) -> dict[str, Any]:
    assert http.post("shengsi_coop", "/v1/bc/projects", _project(project)).status_code == 200
    report = http.post("shengsi_coop", f"/v1/bc/projects/{project}/reports", {"data": _data(project, **data)})
    assert report.status_code == 200, report.text
    issued = http.post("zhoushan", f"/v1/bc/reports/{report.json()['id']}/issue", {})
    assert issued.status_code == 200, issued.text
    return issued.json()  # type: ignore[no-any-return]


def _bc(http: HttpWorld, alias: str, account: str, batch: str) -> int:
    rows = http.get(alias, f"/v1/accounts/{account}/balances").json()
    return sum(r["total"] for r in rows if r["instrument"] == "BC" and f"b={batch}" in r["lot"])


def test_the_methodologies_are_listed_with_the_schema_of_their_inputs(http: HttpWorld) -> None:
    listed = http.get("shengsi_coop", "/v1/methodologies").json()
    assert {(m["id"], m["version"]) for m in listed["items"]} >= {
        ("hyt0305-bivalve", "1.0"),
        ("hyt0305-seaweed", "1.0"),
    }
    assert listed["total"] == len(listed["items"])
    one = http.get("shengsi_coop", "/v1/methodologies/hyt0305-bivalve").json()
    assert one["version"] == "1.0"
    assert "HY/T 0305-2021" in one["description"]
    assert {"harvested_wet_kg", "farm_area_mu", "species"} <= set(one["input_schema"]["properties"])
    assert http.get("auditor", "/v1/methodologies/hyt0305-bivalve", params={"version": "1.0"}).json() == one
    for path in ("/v1/methodologies/nonsense", "/v1/methodologies/hyt0305-bivalve?version=9.9"):
        r = http.get("shengsi_coop", path)
        assert (r.status_code, error_of(r)["code"]) == (404, "unknown_methodology")
    assert http.client.get("/v1/methodologies").status_code == 401


def test_a_project_is_reported_verified_and_issued_with_its_buffer_share(http: HttpWorld) -> None:
    project, coop = "SS-MUSSEL-A", http.party("shengsi_coop")
    size = http.head()
    for alias, rule in (("zhoushan", "action_not_granted_to_role"), ("auditor", "auditor_writes_nothing")):
        r = http.post(alias, "/v1/bc/projects", _project(project))
        assert (r.status_code, error_of(r)["details"]["rule"]) == (403, rule)
    for change, status, field in (
        ({"area_mu": "-1"}, 422, "area_mu"),
        ({"area_mu": "1.23456"}, 422, "area_mu"),
        ({"project": "no spaces"}, 422, "project"),
        ({"households": 0}, 422, "households"),
        ({"division": "33092"}, 422, "division"),
    ):
        r = http.post("shengsi_coop", "/v1/bc/projects", _project(project, **change))
        assert (r.status_code, error_of(r)["details"]["field"]) == (status, field), change
    assert http.post("shengsi_coop", "/v1/bc/projects", _project(project, area_mu=22000.5)).status_code == 422
    r = http.post("shengsi_coop", "/v1/bc/projects", _project(project, version="9.9"))
    assert (r.status_code, error_of(r)["code"]) == (404, "unknown_methodology")
    r = http.post("shengsi_coop", "/v1/bc/projects", _project(project), key="p-1")
    assert r.status_code == 200, r.text
    p = r.json()
    assert (p["owner"], p["bureau"], p["jurisdiction"], p["area_mu"], p["households"]) == (
        coop,
        "bureau:330900",  # Shengsi (330922) is verified by Zhoushan, the nearest registered bureau
        "330900",
        "22000",
        518,
    )
    assert http.post("shengsi_coop", "/v1/bc/projects", _project(project), key="p-1").json() == p
    reused = http.post("shengsi_coop", "/v1/bc/projects", _project(project, households=1), key="p-1")
    assert error_of(reused)["code"] == "idempotency_key_reused"
    dup = http.post("shengsi_coop", "/v1/bc/projects", _project(project))
    assert (dup.status_code, error_of(dup)["code"]) == (409, "duplicate_project")
    assert http.get("zhoushan_ship", f"/v1/bc/projects/{project}").json() == p
    assert http.get("zhoushan_ship", "/v1/bc/projects/NOPE").status_code == 404

    reports = f"/v1/bc/projects/{project}/reports"
    r = http.post("zhoushan_ship", reports, {"data": _data(project)})
    assert (r.status_code, error_of(r)["details"]["rule"]) == (403, "own_project_only")
    r = http.post("zhoushan", reports, {"data": _data(project)})
    assert (r.status_code, error_of(r)["details"]["rule"]) == (403, "action_not_granted_to_role")
    bad = http.post(
        "shengsi_coop", reports, {"data": _data(project, farm_area_mu="30000", harvested_wet_kg="-1")}
    )
    assert (bad.status_code, error_of(bad)["code"]) == (422, "invalid_monitoring_data")
    assert {p["field"] for p in error_of(bad)["details"]["problems"]} == {"harvested_wet_kg", "farm_area_mu"}
    floats = http.post("shengsi_coop", reports, {"data": _data(project, harvested_wet_kg=44000000.5)})
    assert (floats.status_code, error_of(floats)["details"]["field"]) == (422, "data")
    assert "never as a float" in error_of(floats)["message"]
    r = http.post("shengsi_coop", reports, {"data": _data(project)}, key="r-1")
    assert r.status_code == 200, r.text
    report = r.json()
    # 44,000 t fresh -> 33,123.2 t dry -> 17,640.388... t CO2e, rounded down to the kg
    assert (report["id"], report["status"], report["sink_kg_co2e"]) == (
        f"{project}-R1",
        "submitted",
        17_640_388,
    )
    assert report["sink_t_co2e"].startswith("17640.388")
    steps = {s["name"]: s["value"] for s in report["result"]["steps"]}
    assert steps["dry_kg"] == "33123200"
    assert steps["co2_kg"].startswith("17640388.")
    assert all(isinstance(p["value"], str) for p in report["result"]["parameters"])
    assert http.post("shengsi_coop", reports, {"data": _data(project)}, key="r-1").json() == report
    overlap = http.post(
        "shengsi_coop",
        reports,
        {"data": _data(project, monitoring_start="2023-12-01", monitoring_end="2024-03-31")},
    )
    assert (overlap.status_code, error_of(overlap)["code"]) == (409, "overlapping_monitoring_period")
    assert http.get("auditor", f"/v1/bc/reports/{report['id']}").json() == report
    assert http.head() == size  # nothing is in the journal before the bureau issues

    issue = f"/v1/bc/reports/{report['id']}/issue"
    for alias, rule in (
        ("wenzhou", "bureau_own_jurisdiction"),
        ("province", "bureau_own_jurisdiction"),
        ("shengsi_coop", "action_not_granted_to_role"),
    ):
        r = http.post(alias, issue, {})
        assert (r.status_code, error_of(r)["details"]["rule"]) == (403, rule)
    assert http.post("zhoushan", issue, {"buffer_bps": 10_001}).status_code == 422
    assert http.head() == size
    r = http.post("zhoushan", issue, {}, key="i-1")
    assert r.status_code == 200, r.text
    done = r.json()
    assert (done["batch"], done["issued_t"], done["buffer_t"], done["owner_t"]) == (
        f"{project}-2023-1",
        17_640,
        1_764,
        15_876,
    )
    assert done["serial_end"] - done["serial_start"] + 1 == 17_640
    assert done["lot"] == {"jurisdiction": "330900", "vintage": 2023, "batch": done["batch"]}
    assert http.head() > size
    head = http.head()
    assert http.post("zhoushan", issue, {}, key="i-1").json() == done
    again = http.post("zhoushan", issue, {})
    assert (again.status_code, error_of(again)["code"]) == (409, "report_already_issued")
    assert http.head() == head
    assert http.get("shengsi_coop", f"/v1/bc/reports/{report['id']}").json()["status"] == "issued"
    assert _bc(http, "shengsi_coop", f"{coop}.holding", done["batch"]) == 15_876_000
    assert _bc(http, "zhoushan", "bureau:330900.buffer", done["batch"]) == 1_764_000

    start = done["serial_start"]
    owned = http.get("shengsi_coop", f"/v1/accounts/{coop}.holding/serials").json()
    assert {"batch": done["batch"], "start": start, "end": start + 15_875, "tonnes": 15_876} in owned["items"]
    buffer = http.get("zhoushan", "/v1/accounts/bureau:330900.buffer/serials").json()
    assert {"batch": done["batch"], "start": start + 15_876, "end": start + 17_639, "tonnes": 1_764} in (
        buffer["items"]
    )


def test_credits_move_and_retire_by_serial_and_retired_ones_never_move(http: HttpWorld) -> None:
    coop, ship = http.party("shengsi_coop"), http.party("zhoushan_ship")
    done = _issued(http, "SS-MUSSEL-B", farm_area_mu="100", harvested_wet_kg="200000")
    batch, start = done["batch"], done["serial_start"]
    assert (done["issued_t"], done["buffer_t"], done["owner_t"]) == (80, 8, 72)  # 200 t fresh: 80.18 t CO2e
    move = {"batch": batch, "tonnes": 10, "to_account": f"{ship}.holding"}
    size = http.head()
    for change, status, code in (
        ({"to_account": f"{ship}.retirement"}, 422, "invalid_input"),
        ({"to_account": "ent:nobody.holding"}, 404, "unknown_account"),
        ({"tonnes": 0}, 422, "invalid_input"),
        ({"batch": "SS-MUSSEL-B-1999-1"}, 404, "unknown_batch"),
    ):
        r = http.post("shengsi_coop", "/v1/bc/transfers", {**move, **change})
        assert (r.status_code, error_of(r)["code"]) == (status, code), change
    r = http.post("shengsi_coop", "/v1/bc/transfers", {**move, "tonnes": 73})
    assert r.status_code == 409, r.text
    r = http.post("auditor", "/v1/bc/transfers", move)
    assert (r.status_code, error_of(r)["details"]["rule"]) == (403, "auditor_writes_nothing"), r.text
    assert http.head() == size
    r = http.post("shengsi_coop", "/v1/bc/transfers", move, key="t-1")
    assert r.status_code == 200, r.text
    moved = r.json()
    assert (moved["tonnes"], moved["serials"]) == (10, [[start, start + 9]])  # the lowest serials
    assert http.post("shengsi_coop", "/v1/bc/transfers", move, key="t-1").json() == moved
    assert http.head() == size + 1
    assert _bc(http, "shengsi_coop", f"{coop}.holding", batch) == 62_000
    assert _bc(http, "zhoushan_ship", f"{ship}.holding", batch) == 10_000

    retire = {
        "batch": batch,
        "tonnes": 4,
        "beneficiary": "舟山示例船舶修造有限公司",
        "reason": "2024 年度碳中和",
    }
    assert http.post("zhoushan_ship", "/v1/bc/retirements", {**retire, "reason": ""}).status_code == 422
    r = http.post("zhoushan_ship", "/v1/bc/retirements", retire, key="x-1")
    assert (r.status_code, r.json()["serials"]) == (200, [[start, start + 3]])
    retired = http.get("zhoushan_ship", f"/v1/accounts/{ship}.retirement/serials").json()
    assert retired["items"] == [{"batch": batch, "start": start, "end": start + 3, "tonnes": 4}]
    held = http.get("zhoushan_ship", f"/v1/accounts/{ship}.holding/serials").json()
    assert [(b["start"], b["end"]) for b in held["items"] if b["batch"] == batch] == [(start + 4, start + 9)]
    coop_blocks = http.get("zhoushan", f"/v1/accounts/{coop}.holding/serials").json()  # Zhoushan supervises
    assert [(b["start"], b["end"]) for b in coop_blocks["items"] if b["batch"] == batch] == [
        (start + 10, start + 71)
    ]
    hidden = http.get("yuyao_chem", f"/v1/accounts/{coop}.holding/serials")
    assert (hidden.status_code, error_of(hidden)["details"]["rule"]) == (403, "account_visibility")
    assert http.client.get(f"/v1/accounts/{coop}.holding/serials").status_code == 401


def test_a_plain_transfer_of_blue_carbon_is_refused_for_the_serials(http: HttpWorld) -> None:
    """Through /v1/instructions the serial book would fall behind the balances: refused, naming
    the posting, and the journal untouched; the same client moves other units there."""
    coop, ship = http.who("shengsi_coop"), http.party("zhoushan_ship")
    batch = _issued(http, "SS-MUSSEL-P", farm_area_mu="50", harvested_wet_kg="100000")["batch"]
    row = next(
        r
        for r in http.get("shengsi_coop", f"/v1/accounts/{coop.party}.holding/balances").json()
        if r["instrument"] == "BC" and f"b={batch}" in r["lot"]
    )
    parts = dict(p.split("=", 1) for p in row["lot"].split(";"))
    vintage = int(parts["v"]) if "v" in parts else None
    lot = Lot(jurisdiction=parts.get("j"), vintage=vintage, batch=parts["b"])
    assert lot.key() == row["lot"]
    token = http.tokens["shengsi_coop"]
    api = Client("http://testserver", token, key=coop.key, party=coop.party, http=http.client)
    size = http.head()
    with pytest.raises(ApiError) as refused:
        api.transfer(f"{coop.party}.holding", f"{ship}.holding", "BC", lot, 1_000)
    assert (refused.value.status, refused.value.code) == (422, "serialized_units")
    assert refused.value.field == "body.postings[0].instrument"
    assert http.head() == size
    assert _bc(http, "shengsi_coop", f"{coop.party}.holding", batch) == row["total"]


def test_the_holders_blue_carbon_page_shows_each_retirement_with_its_beneficiary_and_reason(
    http: HttpWorld,
) -> None:
    done = _issued(http, "SS-MUSSEL-R", farm_area_mu="50", harvested_wet_kg="100000")
    batch, start = done["batch"], done["serial_start"]
    retire = {
        "batch": batch,
        "tonnes": 3,
        "beneficiary": "嵊泗县贻贝养殖合作社会员",
        "reason": "2025 年度渔业碳中和",
    }
    r = http.post("shengsi_coop", "/v1/bc/retirements", retire)
    assert r.status_code == 200, r.text
    seq = r.json()["seq"]
    browser = TestClient(http.client.app, follow_redirects=False)
    assert console_login(browser, http.tokens["shengsi_coop"]).status_code == 303
    page = browser.get("/console/bluecarbon")
    assert page.status_code == 200
    card = page.text[page.text.index('id="retirements"') :]
    assert "嵊泗县贻贝养殖合作社会员" in card
    assert "2025 年度渔业碳中和" in card
    assert f"{start}–{start + 2}" in card  # the serials retired, apart
    assert "注销记录" in page.text
    assert f'data-seq="{seq}"' in card  # the signed record it was read from
    other = TestClient(http.client.app, follow_redirects=False)
    assert console_login(other, http.tokens["zhoushan_ship"]).status_code == 303
    assert "2025 年度渔业碳中和" not in other.get("/console/bluecarbon").text  # another holder's retirement


# One bamboo stand's survey for a year: 100 t of above-ground growth, roots at half of it.
STAND_SURVEY: dict[str, Any] = {
    "monitoring_start": "2024-01-01",
    "monitoring_end": "2024-12-31",
    "farm_area_mu": "1000",
    "species": "Phyllostachys edulis",
    "biomass_start_kg": "3000000",
    "biomass_end_kg": "3100000",
    "root_shoot_ratio": {"value": "0.5", "source": "plot survey 2024"},
    "baseline_co2_kg": "0",
}


def test_a_bamboo_project_is_issued_moved_and_retired_through_the_same_routes(http: HttpWorld) -> None:
    """Bamboo forest carbon (竹林碳汇): the project names its methodology, and the credit follows from it."""
    project, ship = "AJ-BAMBOO-H", http.party("zhoushan_ship")
    methodology = http.get("shengsi_coop", "/v1/methodologies/bamboo-stock-change").json()
    assert methodology["instrument"] == "BBC"
    assert {"biomass_start_kg", "biomass_end_kg", "root_shoot_ratio"} <= set(
        methodology["input_schema"]["properties"]
    )
    spec = _project(
        project, name="安吉竹林碳汇项目（示例）", location="示例竹林", area_mu="1000", households=40
    )
    r = http.post("shengsi_coop", "/v1/bc/projects", {**spec, "methodology": "bamboo-stock-change"})
    assert r.status_code == 200, r.text
    assert r.json()["instrument"] == "BBC"
    data = {"project_id": project, **STAND_SURVEY}
    report = http.post("shengsi_coop", f"/v1/bc/projects/{project}/reports", {"data": data})
    assert report.status_code == 200, report.text
    assert report.json()["sink_kg_co2e"] == 258_500  # 100 t x 1.5 x 0.47 x 44/12
    done = http.post("zhoushan", f"/v1/bc/reports/{report.json()['id']}/issue", {}).json()
    assert (done["issued_t"], done["buffer_t"], done["owner_t"]) == (258, 25, 233)
    batch, start = done["batch"], done["serial_start"]
    move = {"batch": batch, "tonnes": 10, "to_account": f"{ship}.holding"}
    assert http.post("shengsi_coop", "/v1/bc/transfers", move).json()["serials"] == [[start, start + 9]]
    retire = {
        "batch": batch,
        "tonnes": 3,
        "beneficiary": "舟山示例船舶修造有限公司",
        "reason": "2024 年度碳中和",
    }
    assert http.post("zhoushan_ship", "/v1/bc/retirements", retire).json()["serials"] == [[start, start + 2]]
    rows = http.get("zhoushan_ship", f"/v1/accounts/{ship}.holding/balances").json()
    assert [(r["instrument"], r["total"]) for r in rows if f"b={batch}" in r["lot"]] == [("BBC", 7_000)]


def _stand_form(**changes: str) -> dict[str, str]:
    """``STAND_SURVEY`` as the console's stand form sends it: the ratio and its source in two fields."""
    ratio = STAND_SURVEY["root_shoot_ratio"]
    plain = {k: v for k, v in STAND_SURVEY.items() if k != "root_shoot_ratio"}
    form = {
        "form_token": "stand-1",
        **plain,
        "root_shoot_ratio": ratio["value"],
        "root_shoot_source": ratio["source"],
    }
    return {**form, **changes}


def _reports(http: HttpWorld, project: str) -> list[str]:
    with Session(http.engine) as s:
        return list(s.exec(select(MonitoringReportRow.id).where(MonitoringReportRow.project == project)))


def test_a_bamboo_stand_is_reported_from_the_console_form_as_through_the_api(http: HttpWorld) -> None:
    """The owner fills the stand form (竹林碳汇) and gets the methodology's computation, the same
    figure the API gives; bad figures are refused naming the field, and nobody else may report."""
    project = "AJ-BAMBOO-C"
    spec = _project(
        project, name="安吉竹林碳汇项目（控制台）", location="示例竹林", area_mu="1000", households=40
    )
    assert (
        http.post(
            "shengsi_coop", "/v1/bc/projects", {**spec, "methodology": "bamboo-stock-change"}
        ).status_code
        == 200
    )
    coop = TestClient(http.client.app, follow_redirects=False)
    assert console_login(coop, http.tokens["shengsi_coop"]).status_code == 303
    page = coop.get("/console/bluecarbon").text
    assert f"/console/bluecarbon/projects/{project}/stand-reports" in page
    assert "期初地上干生物量" in page
    assert "毛竹" in page
    assert (
        f'action="/console/bluecarbon/projects/{project}/reports"' not in page
    )  # no harvest form for a stand

    head = http.head()
    bad = coop.post(
        f"/console/bluecarbon/projects/{project}/stand-reports", data=_stand_form(root_shoot_ratio="9")
    )
    assert bad.status_code == 422
    assert "root_shoot_ratio" in bad.text  # the field, named
    unsourced = coop.post(
        f"/console/bluecarbon/projects/{project}/stand-reports", data=_stand_form(root_shoot_source="  ")
    )
    assert unsourced.status_code == 422
    ship = TestClient(http.client.app, follow_redirects=False)
    assert console_login(ship, http.tokens["zhoushan_ship"]).status_code == 303
    other = ship.post(f"/console/bluecarbon/projects/{project}/stand-reports", data=_stand_form())
    assert other.status_code in (403, 404)
    assert _reports(http, project) == [], "nothing stored"
    assert http.head() == head, "nothing written"

    done = coop.post(f"/console/bluecarbon/projects/{project}/stand-reports", data=_stand_form())
    assert done.status_code == 303, done.text
    shown = coop.get(done.headers["location"])
    assert shown.status_code == 200
    (report_id,) = _reports(http, project)
    assert done.headers["location"].endswith(f"/reports/{report_id}")
    report = http.get("shengsi_coop", f"/v1/bc/reports/{report_id}").json()
    assert report["sink_kg_co2e"] == 258_500  # 100 t x 1.5 x 0.47 x 44/12, as the API's own test
    assert "258" in shown.text
    assert "期末地上干生物量" in shown.text  # the stand's own inputs, not a harvest's
    assert "plot survey 2024" in shown.text  # the measured ratio with its source
    assert "地下生物量增量" in shown.text  # each step named in the reader's language
    assert "bcs." not in shown.text
    assert "bcp." not in shown.text
