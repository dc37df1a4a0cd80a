"""The ledger through HTTP: authentication, object-level authorization, signed transfers."""

from __future__ import annotations

import importlib
import json
import pkgutil
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlmodel import Session

import accounts
import ledger
import market
import methodologies
from accounts.credentials import issue_credential
from accounts.demo import DemoParticipant, register_demo
from api.app import create_app
from api.errors import status_for
from ledger.errors import DomainError
from ledger.model import Lot, Posting, TxBody, parse_body
from ledger.service import (
    Instruction,
    Registry,
    balances,
    head_size,
    init_ledger,
    new_nonce,
    sign_body,
    submit_all,
)
from tests.support import grant_rights

LOT = Lot(jurisdiction="330281", valid_until=date(2030, 12, 31))


class Api:
    def __init__(self, engine: Engine, registry: Registry) -> None:
        with Session(engine) as s:
            init_ledger(s, registry=registry, name="api test")
            self.demo = register_demo(s, registry=registry)
            self.tokens = {alias: issue_credential(s, party=p.party).token for alias, p in self.demo.items()}
            s.commit()
        self.engine, self.registry = engine, registry
        self.client = TestClient(create_app(engine, registry), raise_server_exceptions=False)

    def who(self, alias: str) -> DemoParticipant:
        return self.demo[alias]

    def headers(self, alias: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[alias]}"}

    def holding(self, alias: str) -> str:
        return f"{self.who(alias).party}.holding"

    def allocate(self, alias: str, kg: int) -> None:
        bureau = self.who("yuyao")
        bodies = grant_rights(bureau.party, self.holding(alias), kg, LOT)
        with Session(self.engine) as s:
            submit_all(
                s, [Instruction.signed(b, (bureau.party, bureau.key)) for b in bodies], registry=self.registry
            )
            s.commit()

    def transfer_payload(self, src: str, dst: str, kg: int) -> dict[str, object]:
        body = TxBody(
            "transfer",
            new_nonce(),
            (Posting(self.holding(src), "COD", LOT, -kg), Posting(self.holding(dst), "COD", LOT, kg)),
        )
        sig = sign_body(body, self.who(src).party, self.who(src).key)
        return {"body": body.to_json(), "signatures": [sig.to_json()]}


@pytest.fixture
def api(engine: Engine, registry: Registry) -> Api:
    return Api(engine, registry)


def _all_subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _all_subclasses(sub)
    return out


def test_every_domain_error_maps_to_a_client_or_server_error_status() -> None:
    for package in (ledger, accounts, market, methodologies):
        for mod in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if mod.name.endswith("errors"):
                importlib.import_module(mod.name)
    errors = _all_subclasses(DomainError)
    assert len(errors) > 30
    for error in errors:
        assert 400 <= status_for(error) < 600, error


def test_a_request_without_a_valid_token_is_refused_with_401(api: Api) -> None:
    account = api.holding("yuyao_chem")
    for headers in ({}, {"Authorization": "Bearer ek_nope_nope"}, {"Authorization": "Basic abc"}):
        r = api.client.get(f"/v1/accounts/{account}/balances", headers=headers)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_credentials"
        assert r.headers["WWW-Authenticate"] == "Bearer"


def test_an_enterprise_sees_its_own_balances_but_not_another_enterprises(api: Api) -> None:
    api.allocate("yuyao_chem", 5_000)
    own = api.client.get(
        f"/v1/accounts/{api.holding('yuyao_chem')}/balances", headers=api.headers("yuyao_chem")
    )
    assert own.status_code == 200
    assert [(b["instrument"], b["total"], b["available"]) for b in own.json()] == [("COD", 5_000, 5_000)]
    other = api.client.get(
        f"/v1/accounts/{api.holding('yuyao_chem')}/balances", headers=api.headers("yuyao_dye")
    )
    assert other.status_code == 403
    assert other.json()["error"]["details"]["rule"] == "account_visibility"
    supervisor = api.client.get(
        f"/v1/accounts/{api.holding('yuyao_chem')}/balances", headers=api.headers("ningbo")
    )
    assert supervisor.status_code == 200  # Ningbo supervises Yuyao


def test_a_signed_transfer_applies_once_per_idempotency_key(api: Api) -> None:
    api.allocate("yuyao_chem", 5_000)
    payload = api.transfer_payload("yuyao_chem", "yuyao_dye", 1_200)
    headers = {**api.headers("yuyao_chem"), "Idempotency-Key": "t-1"}
    first = api.client.post("/v1/instructions", json=payload, headers=headers)
    assert first.status_code == 200, first.text
    again = api.client.post("/v1/instructions", json=payload, headers=headers)
    assert again.json() == {**first.json(), "replayed": True}
    other = api.client.post(
        "/v1/instructions", json=api.transfer_payload("yuyao_chem", "yuyao_dye", 1), headers=headers
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    dye = api.client.get(
        f"/v1/accounts/{api.holding('yuyao_dye')}/balances", headers=api.headers("yuyao_dye")
    )
    assert dye.json()[0]["total"] == 1_200


def test_one_key_answers_one_request_across_signed_instructions_and_workflow_writes(api: Api) -> None:
    """One store: a key a signed transfer used is refused on a workflow route, and the other way
    round; neither write happens twice, and each repeat still answers what it first did."""
    api.allocate("yuyao_chem", 5_000)
    chem = api.headers("yuyao_chem")
    transfer = api.transfer_payload("yuyao_chem", "yuyao_dye", 1_000)
    first = api.client.post("/v1/instructions", json=transfer, headers={**chem, "Idempotency-Key": "k-1"})
    assert first.status_code == 200, first.text
    demand = {
        "instrument": "COD",
        "quantity_kg": 1_000,
        "max_price_fen_per_tonne": 2_000_000,
        "valid_until": "2030-06-30",
        "project": "a new dye line",
    }
    posted = api.client.post("/v1/demands", json=demand, headers={**chem, "Idempotency-Key": "k-2"})
    assert posted.status_code == 200, posted.text
    with Session(api.engine) as s:
        size = head_size(s)

    workflow = api.client.post("/v1/demands", json=demand, headers={**chem, "Idempotency-Key": "k-1"})
    signed = api.client.post(
        "/v1/instructions",
        json=api.transfer_payload("yuyao_chem", "yuyao_dye", 1),
        headers={**chem, "Idempotency-Key": "k-2"},
    )

    assert (workflow.status_code, workflow.json()["error"]["code"]) == (409, "idempotency_key_reused")
    assert (signed.status_code, signed.json()["error"]["code"]) == (409, "idempotency_key_reused")
    again = api.client.post("/v1/instructions", json=transfer, headers={**chem, "Idempotency-Key": "k-1"})
    assert again.json() == {**first.json(), "replayed": True}
    assert api.client.post("/v1/demands", json=demand, headers={**chem, "Idempotency-Key": "k-2"}).json() == (
        posted.json()
    )
    with Session(api.engine) as s:
        assert head_size(s) == size
    listed = api.client.get("/v1/demands", headers=chem).json()
    assert [d["id"] for d in listed["items"]] == [posted.json()["id"]]


@pytest.mark.parametrize(
    ("mutate", "status", "code"),
    [
        (lambda p: p["body"]["postings"][0].update(amount=-9_999_999), 422, "unbalanced_transaction"),
        (lambda p: p["signatures"][0].update(sig="A" * 86), 422, "bad_signature"),
        (lambda p: p["body"].update(action="issuance"), 422, "invalid_input"),
        (lambda p: p.update(extra=1), 422, None),
    ],
)
def test_bad_instructions_are_refused_with_a_stable_code_and_write_nothing(
    api: Api, mutate, status, code
) -> None:
    api.allocate("yuyao_chem", 5_000)
    with Session(api.engine) as s:
        before = head_size(s)
    payload = api.transfer_payload("yuyao_chem", "yuyao_dye", 100)
    mutate(payload)
    r = api.client.post("/v1/instructions", json=payload, headers=api.headers("yuyao_chem"))
    assert r.status_code == status, r.text
    if code:
        assert r.json()["error"]["code"] == code
    with Session(api.engine) as s:
        assert head_size(s) == before


def _raw(payload: dict[str, object]) -> bytes:
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("name", "content", "headers", "status", "code", "field", "location"),
    [
        ("not JSON", lambda p: b"{nope", {}, 422, "invalid_request", "body", "body"),
        ("empty", lambda p: b"", {}, 422, "invalid_request", "body", "body"),
        ("an array", lambda p: b"[1]", {}, 422, "invalid_request", "body", "body"),
        (
            "not JSON by its type",
            _raw,
            {"Content-Type": "text/plain"},
            422,
            "invalid_request",
            "body",
            "body",
        ),
        ("a field too many", lambda p: _raw({**p, "x": 1}), {}, 422, "invalid_request", "x", "body"),
        (
            "no signatures",
            lambda p: _raw({"body": p["body"]}),
            {},
            422,
            "invalid_request",
            "signatures",
            "body",
        ),
        (
            "a signature with no party",
            lambda p: _raw({**p, "signatures": [{"key_id": "k", "sig": "s"}]}),
            {},
            422,
            "invalid_request",
            "signatures[0].party",
            "body",
        ),
        (
            "17 signatures",
            lambda p: _raw({**p, "signatures": p["signatures"] * 17}),
            {},
            422,
            "invalid_request",
            "signatures",
            "body",
        ),
        (
            "a control character",
            lambda p: _raw({**p, "body": {**p["body"], "nonce": "n\u0007"}}),
            {},
            422,
            "invalid_text",
            "body",
            "body",
        ),
        ("a duplicate key", lambda p: _raw(p)[:-1] + b',"body":{}}', {}, 422, "duplicate_key", "body", None),
        ("an empty key", _raw, {"Idempotency-Key": ""}, 422, "invalid_request", "Idempotency-Key", "header"),
        (
            "a long key",
            _raw,
            {"Idempotency-Key": "k" * 129},
            422,
            "invalid_request",
            "Idempotency-Key",
            "header",
        ),
        ("no token", _raw, {"Authorization": ""}, 401, "invalid_credentials", None, None),
        ("a Basic token", _raw, {"Authorization": "Basic a2V5"}, 401, "invalid_credentials", None, None),
        (
            "a Bearer without token",
            _raw,
            {"Authorization": "Bearer "},
            401,
            "invalid_credentials",
            None,
            None,
        ),
    ],
)
def test_the_signed_instruction_route_reads_its_own_request_with_fastapis_answers(
    api: Api, name: str, content, headers: dict[str, str], status: int, code: str, field, location
) -> None:
    """``POST /v1/instructions`` is served ahead of FastAPI's routing and reads its own request
    (``api.write.read_submission``): each bad request is refused as a declared parameter would be,
    naming the field and where it was, and writes nothing."""
    api.allocate("yuyao_chem", 5_000)
    with Session(api.engine) as s:
        before = head_size(s)
    sent = {"Content-Type": "application/json", **api.headers("yuyao_chem"), **headers}
    body = content(api.transfer_payload("yuyao_chem", "yuyao_dye", 100))
    r = api.client.post("/v1/instructions", content=body, headers=sent)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code
    if field is not None:
        assert error["details"]["field"] == field
    if location is not None:
        assert error["details"]["location"] == location
    with Session(api.engine) as s:
        assert head_size(s) == before


def test_the_signed_instruction_route_is_served_ahead_of_fastapis_routing_and_counted(api: Api) -> None:
    """The hot route answers as the documented one would (a receipt), under its template in metrics."""
    from api.observability import METRICS
    from api.routes.ledger import HOT_ROUTES

    assert api.client.app.router.routes[: len(HOT_ROUTES)] == HOT_ROUTES
    api.allocate("yuyao_chem", 5_000)
    counted = METRICS.requests[("POST", "/v1/instructions", 200)]
    r = api.client.post(
        "/v1/instructions",
        json=api.transfer_payload("yuyao_chem", "yuyao_dye", 100),
        headers={**api.headers("yuyao_chem"), "Idempotency-Key": "hot-1"},
    )
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"seq", "hash", "time", "replayed"}
    assert r.json()["replayed"] is False
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-content-type-options"] == "nosniff"  # Harden still wraps it
    assert METRICS.requests[("POST", "/v1/instructions", 200)] == counted + 1  # Observe too


@pytest.mark.parametrize(
    ("owner", "kind", "code"),
    [
        ("ningbo_petro", "holding", "wrong_jurisdiction"),  # another city, no bureau approving
        ("yuyao", "cap.COD", "movement_not_allowed"),  # the published cap would fall
        ("yuyao", "reserve", "movement_not_allowed"),
        ("operator", "escrow", "movement_not_allowed"),
        ("bank_yuyao", "holding", "movement_not_allowed"),  # a bank holds rights only by enforcement
        ("yuyao_chem", "cash", "movement_not_allowed"),  # COD in a cash account
    ],
)
def test_a_plain_signed_transfer_moves_rights_only_to_an_enterprise_of_their_city(
    api: Api, owner: str, kind: str, code: str
) -> None:
    api.allocate("yuyao_chem", 5_000)
    with Session(api.engine) as s:
        before = (head_size(s), balances(s))
    payload = api.transfer_payload("yuyao_chem", "yuyao_dye", 10)
    payload["body"]["postings"][1]["account"] = f"{api.who(owner).party}.{kind}"  # type: ignore[index]
    chem = api.who("yuyao_chem")
    payload["signatures"] = [sign_body(parse_body(payload["body"]), chem.party, chem.key).to_json()]
    r = api.client.post("/v1/instructions", json=payload, headers=api.headers("yuyao_chem"))
    assert (r.status_code, r.json()["error"]["code"]) == (422, code), r.text
    assert r.json()["error"]["details"]["field"].endswith("postings[1].account")
    with Session(api.engine) as s:
        assert (head_size(s), balances(s)) == before


def test_an_overdraft_is_a_409_naming_what_is_available(api: Api) -> None:
    api.allocate("yuyao_chem", 500)
    r = api.client.post(
        "/v1/instructions",
        json=api.transfer_payload("yuyao_chem", "yuyao_dye", 501),
        headers=api.headers("yuyao_chem"),
    )
    assert r.status_code == 409
    assert r.json()["error"]["details"]["available"] == 500


def test_moving_another_enterprises_units_is_forbidden_even_with_their_signature(api: Api) -> None:
    api.allocate("yuyao_chem", 500)
    payload = api.transfer_payload("yuyao_chem", "yuyao_dye", 100)
    r = api.client.post("/v1/instructions", json=payload, headers=api.headers("yuyao_dye"))
    assert r.status_code == 403


def test_a_commit_that_fails_is_never_answered_with_success(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.allocate("yuyao_chem", 500)

    def broken_commit(self: Session) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Session, "commit", broken_commit)
    r = api.client.post(
        "/v1/instructions",
        json=api.transfer_payload("yuyao_chem", "yuyao_dye", 100),
        headers=api.headers("yuyao_chem"),
    )
    assert r.status_code == 500


def test_auditors_page_through_the_journal_and_enterprises_cannot(api: Api) -> None:
    r = api.client.get("/v1/journal?start=0&limit=5", headers=api.headers("auditor"))
    assert r.status_code == 200
    assert len(r.text.splitlines()) == 5
    assert api.client.get("/v1/journal", headers=api.headers("yuyao_chem")).status_code == 403


def test_metrics_count_requests_and_refusals_by_stable_code(api: Api) -> None:
    api.client.get(f"/v1/accounts/{api.holding('yuyao_chem')}/balances", headers=api.headers("yuyao_dye"))
    text = api.client.get("/metrics", headers=api.headers("operator")).text
    assert 'ecoledger_refusals_total{code="permission_denied"}' in text
    assert 'route="/v1/accounts/{account}/balances",status="403"' in text
    assert "ecoledger_journal_records " in text
    assert api.client.get("/health").json()["status"] == "ok"


def test_a_balance_read_reads_an_accounts_owner_once_and_never_keeps_an_unknown_account(api: Api) -> None:
    api.allocate("yuyao_chem", 5_000)
    app = api.client.app.state.ecoledger  # type: ignore[attr-defined]
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    url = f"/v1/accounts/{api.holding('yuyao_chem')}/balances"
    api.client.get(url, headers=api.headers("yuyao_chem"))  # the owner and jurisdiction, read once
    event.listen(app.quick_reader, "before_cursor_execute", count)
    try:
        again = api.client.get(url, headers=api.headers("yuyao_chem"))
        assert again.status_code == 200
        assert again.json()[0]["total"] == 5_000
        assert len(statements) == 1, statements  # the balances alone
        # the fact kept is the owner's: another enterprise is still refused, by the same rule
        other = api.client.get(url, headers=api.headers("yuyao_dye"))
        assert other.status_code == 403
        assert other.json()["error"]["details"]["rule"] == "account_visibility"
    finally:
        event.remove(app.quick_reader, "before_cursor_execute", count)
    unknown = api.client.get("/v1/accounts/nobody.holding/balances", headers=api.headers("ningbo"))
    assert unknown.status_code in (403, 404)
    assert ("owner", "nobody.holding") not in app.known_facts  # it may be opened later
