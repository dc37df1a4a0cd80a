"""Issue #19's findings, one test (or a few) per row, each now refused with a stable code or fixed:
console sessions and CSRF, the operator acting as a participant, authentication cost and limits, an
as-of instant that overflowed, open metrics, security headers, input, body size, messages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from accounts.credentials import credentials_of, issue_credential, revoke_credential
from accounts.sessions import sessions_of
from accounts.tables import TotpRow
from api.app import create_app
from api.console.guard import CSRF_FIELD, SESSION_COOKIE
from api.deps import _cache
from api.limits import Limits
from ledger.crypto import SigningKey
from ledger.service import Registry
from market.consent import Consent
from market.issuance import service as issuance
from tests.api.conftest import HttpWorld, console_login, error_of
from tests.conftest import engine_for

pytestmark = pytest.mark.xdist_group("api_security")  # one world per engine for the module

TEMPLATES = Path(__file__).parents[2] / "api" / "console" / "templates"
VALID_UNTIL = "2030-12-31"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def http(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpWorld]:
    engine = engine_for(request.param, tmp_path_factory.mktemp("security"))
    world = HttpWorld(engine, Registry(SigningKey.from_seed(bytes(range(32))), checkpoint_every=50))
    yuyao = world.who("yuyao")
    with Session(engine) as s:
        issuance.set_cap(
            s,
            registry=world.registry,
            actor=yuyao.participant,
            signed_by=Consent({yuyao.party: yuyao.key}),
            instrument="COD",
            quantity_kg=100_000,
            valid_until=date(2030, 12, 31),
        )
        s.commit()
    allocated = world.post(
        "yuyao",
        "/v1/allocations",
        {
            "enterprise": world.party("yuyao_chem"),
            "instrument": "COD",
            "quantity_kg": 21_200,
            "valid_until": VALID_UNTIL,
            "paid_use": False,
        },
    )
    assert allocated.status_code == 200, allocated.text
    yield world
    if request.param == "sqlite":
        engine.dispose()


def browser(http: HttpWorld, app: object | None = None) -> TestClient:
    return TestClient(app or http.client.app, follow_redirects=False)  # type: ignore[arg-type]


def logged_in(http: HttpWorld, alias: str) -> TestClient:
    client = browser(http)
    assert console_login(client, http.tokens[alias]).status_code == 303
    return client


def offer_form(http: HttpWorld, **extra: str) -> dict[str, str]:
    return {
        "position": f"COD@j=330281;u={VALID_UNTIL}",
        "buyer": http.party("yuyao_dye"),
        "quantity": "1",
        "price": "1",
        **extra,
    }


def _offers(http: HttpWorld) -> int:
    return len(http.get("yuyao_chem", "/v1/trade-offers").json()["items"])


# -- row 1: cross-site request forgery on console forms ------------------------------------------------


def test_a_console_post_without_the_sessions_token_is_refused_and_writes_nothing(http: HttpWorld) -> None:
    seller = logged_in(http, "yuyao_chem")
    del seller.headers["X-CSRF-Token"]  # as a forged form would: it cannot read or compute the token
    before = _offers(http)
    forged = seller.post("/console/enterprise/trades", data=offer_form(http, form_token="csrf-1"))
    assert forged.status_code == 403
    assert "csrf_refused" in forged.text
    wrong = seller.post(
        "/console/enterprise/trades", data=offer_form(http, form_token="csrf-2", **{CSRF_FIELD: "x" * 43})
    )
    assert (wrong.status_code, "csrf_refused" in wrong.text) == (403, True)
    assert _offers(http) == before


def test_a_console_post_from_another_origin_is_refused_even_with_a_token(http: HttpWorld) -> None:
    seller = logged_in(http, "yuyao_chem")
    before = _offers(http)
    for headers in (
        {"Origin": "http://127.0.0.1:8201"},  # another port of the same host: the same *site*
        {"Origin": "null"},  # a sandboxed frame or a data: URL
        {"Referer": "http://127.0.0.1:8201/attack.html"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        r = seller.post("/console/enterprise/trades", data=offer_form(http, form_token="x"), headers=headers)
        assert (r.status_code, "cross_origin_refused" in r.text) == (403, True), headers
    same = seller.post(
        "/console/enterprise/trades",
        data=offer_form(http, form_token="origin-ok"),
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert same.status_code == 303, same.text
    assert _offers(http) == before + 1


def test_a_forged_login_without_the_login_forms_nonce_is_refused(http: HttpWorld) -> None:
    victim = browser(http)
    attacker_page = victim.post("/console/login", data={"access_key": http.tokens["yuyao_dye"]})
    assert (attacker_page.status_code, "csrf_refused" in attacker_page.text) == (403, True)
    assert SESSION_COOKIE not in victim.cookies
    # the attacker's own nonce and token, planted in the victim's browser, still fail on Origin
    attacker = browser(http)
    page = attacker.get("/console/login")
    token = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    victim.cookies.set("ecoledger_login", attacker.cookies["ecoledger_login"], path="/console")
    planted = victim.post(
        "/console/login",
        data={"access_key": http.tokens["yuyao_dye"], CSRF_FIELD: token},
        headers={"Origin": "http://127.0.0.1:8201"},
    )
    assert (planted.status_code, "cross_origin_refused" in planted.text) == (403, True)
    assert SESSION_COOKIE not in victim.cookies


# -- row 2: the session cookie was the API key ---------------------------------------------------------


def test_the_cookie_holds_a_session_id_only_its_hash_is_stored_and_logout_ends_it(http: HttpWorld) -> None:
    client = logged_in(http, "yuyao")
    session_id = client.cookies[SESSION_COOKIE]
    assert not session_id.startswith("ek_")
    with Session(http.engine) as s:
        rows = sessions_of(s, party=http.party("yuyao"))
    assert rows
    assert all(session_id not in (r.id_hash, r.credential_id) for r in rows)
    assert client.post("/console/logout").status_code == 303
    thief = browser(http)  # someone who copied the cookie before the logout
    thief.cookies.set(SESSION_COOKIE, session_id, path="/console")
    assert thief.get("/console/bureau").headers["location"] == "/console/login"


def test_revoking_the_access_key_ends_its_console_sessions_at_once(http: HttpWorld) -> None:
    with Session(http.engine) as s:
        token = issue_credential(s, party=http.party("bank_yuyao"), label="console").token
        s.commit()
    client = browser(http)
    assert console_login(client, token).status_code == 303
    assert client.get("/console/bank").status_code == 200
    credential_id = token.split("_", 2)[1]
    revoked = http.post(
        "bank_yuyao", f"/v1/participants/{http.party('bank_yuyao')}/credentials/{credential_id}/revoke"
    )
    assert revoked.status_code == 200, revoked.text
    assert client.get("/console/bank").headers["location"] == "/console/login"


def test_a_session_ends_after_idling_and_at_its_expiry(http: HttpWorld) -> None:
    app = create_app(http.engine, http.registry, http.vault)
    now = [datetime.now(UTC)]
    app.state.session_clock = lambda: now[0]
    client = browser(http, app)
    assert console_login(client, http.tokens["auditor"]).status_code == 303
    now[0] += timedelta(minutes=20)
    assert client.get("/console/auditor").status_code == 200  # in use: the idle clock moves on
    now[0] += timedelta(minutes=29)
    assert client.get("/console/auditor").status_code == 200
    now[0] += timedelta(minutes=31)  # idle past 30 minutes
    assert client.get("/console/auditor").headers["location"] == "/console/login"
    assert console_login(client, http.tokens["auditor"]).status_code == 303
    for _ in range(17):  # in use all day, but a session lives 8 hours
        now[0] += timedelta(minutes=29)
        client.get("/console/auditor")
    assert client.get("/console/auditor").headers["location"] == "/console/login"


# -- row 3: the operator could act as any participant --------------------------------------------------


def test_the_operator_cannot_mint_a_key_for_a_participant_nor_sign_as_one(http: HttpWorld) -> None:
    chem = http.party("yuyao_chem")
    minted = http.post("operator", f"/v1/participants/{chem}/credentials", {"label": "takeover"})
    assert (minted.status_code, error_of(minted)["details"]["rule"]) == (403, "own_credentials_only")
    offer = {"buyer": http.party("yuyao_dye"), "instrument": "COD", "valid_until": VALID_UNTIL}
    signed = http.post("operator", "/v1/trade-offers", {**offer, "quantity_kg": 100, "price_fen_per_t": 100})
    assert signed.status_code in (403, 422), signed.text  # it holds no units and is no enterprise
    # it still administers: it lists and revokes the participant's keys
    listed = http.get("operator", f"/v1/participants/{chem}").status_code
    assert listed == 200
    with Session(http.engine) as s:
        assert credentials_of(s, party=chem, actor=http.who("operator").participant)


# -- row 4: unauthenticated work and no limit -----------------------------------------------------------


def test_failed_authentications_from_one_address_are_limited_with_429_and_retry_after(
    http: HttpWorld,
) -> None:
    app = create_app(http.engine, http.registry, http.vault, limits=Limits(failures_per_min=5))
    client = TestClient(app)
    bogus = {"Authorization": f"Bearer ek_{'0' * 16}_{'x' * 43}"}
    answers = [client.get("/v1/me", headers=bogus).status_code for _ in range(7)]
    assert answers[:5] == [401] * 5
    limited = client.get("/v1/me", headers=bogus)
    assert limited.status_code == 429
    assert error_of(limited)["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    # the address is refused before any lookup, a valid key too (unless verified a moment ago)
    _cache.entries.clear()
    assert client.get("/v1/me", headers=http.headers("yuyao")).status_code == 429


def test_wrong_secrets_for_one_key_are_limited_but_its_owner_still_gets_in(http: HttpWorld) -> None:
    app = create_app(
        http.engine,
        http.registry,
        http.vault,
        limits=Limits(failures_per_min=1000, credential_failures_per_min=3),
    )
    client = TestClient(app)
    credential_id = http.tokens["yuyao_dye"].split("_", 2)[1]
    guess = {"Authorization": f"Bearer ek_{credential_id}_{'g' * 43}"}
    assert [client.get("/v1/me", headers=guess).status_code for _ in range(5)] == [401, 401, 401, 429, 429]
    assert client.get("/v1/me", headers=http.headers("yuyao_dye")).status_code == 200


def test_console_logins_that_fail_are_limited_per_address(http: HttpWorld) -> None:
    app = create_app(http.engine, http.registry, http.vault, limits=Limits(failures_per_min=3))
    client = browser(http, app)
    codes = [console_login(client, f"ek_{'1' * 16}_{'y' * 43}").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    refused = console_login(client, http.tokens["yuyao"])
    assert refused.status_code == 429
    assert "rate_limited" in refused.text
    assert "Retry-After" in refused.headers


def test_writes_per_key_are_limited_with_429(http: HttpWorld) -> None:
    app = create_app(
        http.engine,
        http.registry,
        http.vault,
        limits=Limits(writes_per_s_credential=0.01, write_burst_credential=2),
    )
    client = TestClient(app)
    headers = http.headers("yuyao_dye")
    codes = [client.post("/v1/trade-offers/none/withdraw", headers=headers).status_code for _ in range(3)]
    assert codes[:2] == [404, 404]
    assert codes[2] == 429
    assert client.get("/v1/me", headers=headers).status_code == 200  # reads are not writes


# -- row 5: a 500 on an as-of instant --------------------------------------------------------------------


def test_the_as_of_instant_that_overflowed_is_a_422_naming_it(http: HttpWorld) -> None:
    account = f"{http.party('yuyao_chem')}.holding"
    r = http.client.get(
        f"/v1/accounts/{account}/balances/as-of?at=0001-01-01T00:00:00%2B01:00",
        headers=http.headers("yuyao_chem"),
    )
    assert (r.status_code, error_of(r)["code"], error_of(r)["details"]["field"]) == (
        422,
        "date_out_of_range",
        "at",
    )
    late = http.client.get(
        f"/v1/accounts/{account}/balances/as-of?at=9999-12-31T23:00:00-05:00",
        headers=http.headers("yuyao_chem"),
    )
    assert late.status_code == 422
    fine = http.client.get(
        f"/v1/accounts/{account}/balances/as-of",
        params={"at": "2026-01-01T00:00:00+08:00"},
        headers=http.headers("yuyao_chem"),
    )
    assert fine.status_code == 200, fine.text


_OFFSETS = st.builds(
    timezone,
    st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)),
)


@given(moment=st.datetimes(timezones=_OFFSETS))
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_as_of_instant_gets_a_server_error(http: HttpWorld, moment: datetime) -> None:
    account = f"{http.party('yuyao_chem')}.holding"
    r = http.client.get(
        f"/v1/accounts/{account}/balances/as-of",
        params={"at": moment.isoformat()},
        headers=http.headers("yuyao_chem"),
    )
    assert r.status_code in (200, 422), (moment, r.text)


# -- row 6: open metrics ----------------------------------------------------------------------------------


def test_metrics_are_for_the_operators_token_only(http: HttpWorld) -> None:
    assert http.client.get("/metrics").status_code == 401
    denied = http.get("yuyao_chem", "/metrics")
    assert (denied.status_code, error_of(denied)["details"]["rule"]) == (403, "operator_only")
    shown = http.get("operator", "/metrics")
    assert shown.status_code == 200
    assert "ecoledger_journal_records" in shown.text


# -- row 7: security headers -------------------------------------------------------------------------------


def test_console_pages_and_api_answers_carry_the_security_headers(http: HttpWorld) -> None:
    client = logged_in(http, "yuyao_chem")
    page = client.get("/console/enterprise")  # shows balances
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    api = http.get("yuyao_chem", f"/v1/accounts/{http.party('yuyao_chem')}.holding/balances")
    assert api.headers["cache-control"] == "no-store"
    assert api.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in api.headers["content-security-policy"]
    script = client.get("/console/static/auction.js")
    assert (script.status_code, script.headers["x-content-type-options"]) == (200, "nosniff")


def test_no_template_holds_inline_script_or_event_handlers() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert not re.search(r"\son[a-z]+\s*=", text), template.name
        assert "javascript:" not in text, template.name


def test_every_console_form_that_posts_carries_the_csrf_token() -> None:
    for template in TEMPLATES.glob("*.html"):
        for form in re.findall(r"<form [^>]*method=\"post\"[^>]*>(.{0,120})", template.read_text()):
            assert "csrf" in form, (template.name, form)


# -- row 8: input that should not have been accepted ------------------------------------------------------


@pytest.mark.parametrize("bad", ["扩建\x00项目", "扩建\u202e目项", "line\nbreak", "\u2066isolate\u2069"])
def test_control_and_bidi_characters_are_refused_in_a_demands_project_name(http: HttpWorld, bad: str) -> None:
    r = http.post(
        "yuyao_chem",
        "/v1/demands",
        {
            "instrument": "COD",
            "quantity_kg": 1000,
            "max_price_fen_per_tonne": 1,
            "valid_until": VALID_UNTIL,
            "project": bad,
        },
    )
    assert (r.status_code, error_of(r)["code"], error_of(r)["details"]["field"]) == (
        422,
        "invalid_text",
        "project",
    )


def test_control_characters_are_refused_in_console_forms(http: HttpWorld) -> None:
    bureau = logged_in(http, "yuyao")
    r = bureau.post(
        "/console/bureau/needs",
        data={
            "form_token": "nul-1",
            "instrument": "COD",
            "enterprise": http.party("yuyao_chem"),
            "quantity": "1",
            "project": "a\u202eb",
        },
    )
    assert r.status_code == 422
    assert "invalid_text" in r.text


@pytest.mark.parametrize(
    ("valid_until", "code"), [("0001-01-01", "date_out_of_range"), ("9999-12-31", "date_out_of_range")]
)
def test_offers_for_lots_that_cannot_exist_are_refused(http: HttpWorld, valid_until: str, code: str) -> None:
    before = _offers(http)
    r = http.post(
        "yuyao_chem",
        "/v1/trade-offers",
        {
            "buyer": http.party("yuyao_dye"),
            "instrument": "COD",
            "valid_until": valid_until,
            "quantity_kg": 100,
            "price_fen_per_t": 100,
        },
    )
    assert (r.status_code, error_of(r)["code"], error_of(r)["details"]["field"]) == (422, code, "valid_until")
    assert _offers(http) == before


def test_an_offer_larger_than_the_sellers_free_units_is_refused_when_made(http: HttpWorld) -> None:
    before = _offers(http)
    r = http.post(
        "yuyao_chem",
        "/v1/trade-offers",
        {
            "buyer": http.party("yuyao_dye"),
            "instrument": "COD",
            "valid_until": VALID_UNTIL,
            "quantity_kg": 999_999_999,
            "price_fen_per_t": 100,
        },
    )
    assert (r.status_code, error_of(r)["code"], error_of(r)["details"]["field"]) == (
        409,
        "insufficient_balance",
        "quantity_kg",
    )
    assert error_of(r)["details"]["available"] <= 21_200
    assert _offers(http) == before


def test_a_json_body_that_names_a_key_twice_is_refused(http: HttpWorld) -> None:
    buyer = http.party("yuyao_dye")
    body = (
        f'{{"buyer": "{buyer}", "instrument": "COD", "valid_until": "{VALID_UNTIL}", "quantity_kg": 100, '
        '"quantity_kg": 999999999, "price_fen_per_t": 100}'
    )
    r = http.client.post(
        "/v1/trade-offers",
        content=body,
        headers={**http.headers("yuyao_chem"), "Content-Type": "application/json"},
    )
    assert (r.status_code, error_of(r)["code"], error_of(r)["details"]["field"]) == (
        422,
        "duplicate_key",
        "quantity_kg",
    )
    nested = http.client.post(
        "/v1/instructions",
        content='{"body": {"a": 1, "a": 2}, "signatures": []}',
        headers={**http.headers("yuyao_chem"), "Content-Type": "application/json"},
    )
    assert error_of(nested)["code"] == "duplicate_key"


# -- row 9: no body limit -----------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_with_413_before_it_is_read(http: HttpWorld) -> None:
    big = b'{"x": "' + b"a" * (30 * 1024 * 1024) + b'"}'
    r = http.client.post(
        "/v1/trade-offers",
        content=big,
        headers={**http.headers("yuyao_chem"), "Content-Type": "application/json"},
    )
    assert (r.status_code, error_of(r)["code"]) == (413, "request_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(3):
            yield b"a" * (600 * 1024)

    streamed = http.client.post(
        "/v1/trade-offers",
        content=chunks(),
        headers={**http.headers("yuyao_chem"), "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    form = logged_in(http, "yuyao_chem").post(
        "/console/enterprise/trades",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 413


# -- row 11: leaky messages ---------------------------------------------------------------------------------


def test_a_malformed_certificate_names_what_is_missing_without_internals(http: HttpWorld) -> None:
    r = http.post("bank_yuyao", "/v1/certificates/verify", {"certificate": {"pledge_id": "x"}})
    assert (r.status_code, error_of(r)["code"]) == (422, "malformed_certificate")
    assert "KeyError" not in error_of(r)["message"]
    assert "'" not in error_of(r)["message"]  # no Python repr of anything


def test_the_verification_summary_shows_no_temporary_path(http: HttpWorld) -> None:
    r = http.get("auditor", "/v1/exports/verification")
    assert r.status_code == 200, r.text
    text = json.dumps(r.json())
    assert "/tmp" not in text
    assert "ecoledger-export-" not in text


# -- the second factor --------------------------------------------------------------------------------------


def test_a_bank_user_enables_totp_and_then_a_login_needs_a_fresh_code(http: HttpWorld) -> None:
    client = logged_in(http, "bank_ningbo")
    started = client.post("/console/security/totp")
    assert started.status_code == 200
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', started.text).group(1)  # type: ignore[union-attr]
    wrong = client.post("/console/security/totp/confirm", data={"form_token": "otp-1", "otp": "000000"})
    assert (wrong.status_code, "second_factor_invalid" in wrong.text) == (401, True)
    code = pyotp.TOTP(secret).now()
    assert (
        client.post("/console/security/totp/confirm", data={"form_token": "otp-2", "otp": code}).status_code
        == 303
    )
    again = browser(http)
    needs = console_login(again, http.tokens["bank_ningbo"])
    assert (needs.status_code, "second_factor_required" in needs.text) == (401, True)
    with Session(http.engine) as s:
        row = s.get(TotpRow, http.party("bank_ningbo"))
        assert row is not None
        last = row.last_step
    totp = pyotp.TOTP(secret)
    fresh = totp.generate_otp(last + 1)  # the next step's code (within the one-step drift)
    assert console_login(again, http.tokens["bank_ningbo"], otp=fresh).status_code == 303
    replayed = console_login(browser(http), http.tokens["bank_ningbo"], otp=fresh)
    assert (replayed.status_code, "second_factor_invalid" in replayed.text) == (401, True)


def test_totp_is_offered_to_bureaus_and_banks_only(http: HttpWorld) -> None:
    r = logged_in(http, "yuyao_dye").post("/console/security/totp")
    assert (r.status_code, "second_factor_not_offered" in r.text) == (422, True)


def test_revoked_key_console_sessions_are_deleted_by_the_revocation(http: HttpWorld) -> None:
    with Session(http.engine) as s:
        token = issue_credential(s, party=http.party("yuyao_dye"), label="tmp").token
        s.commit()
    client = browser(http)
    assert console_login(client, token).status_code == 303
    with Session(http.engine) as s:
        before = len(sessions_of(s, party=http.party("yuyao_dye")))
        revoke_credential(s, credential_id=token.split("_", 2)[1])
        s.commit()
        assert len(sessions_of(s, party=http.party("yuyao_dye"))) == before - 1
    _cache.entries.clear()


def test_the_session_cookie_is_secure_behind_tls(http: HttpWorld) -> None:
    client = TestClient(http.client.app, base_url="https://testserver", follow_redirects=False)
    assert console_login(client, http.tokens["auditor"]).status_code == 303
    cookie = client.cookies.jar
    (session,) = [c for c in cookie if c.name == SESSION_COOKIE]
    assert session.secure
    plain = logged_in(http, "auditor")
    (session,) = [c for c in plain.cookies.jar if c.name == SESSION_COOKIE]
    assert not session.secure  # plain HTTP (a local demo): a Secure cookie would never come back
