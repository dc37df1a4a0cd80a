"""An HTTP world for API tests: the demo participants registered, each with an API token and its
key held in custody, and a TestClient over the app on the test's engine (SQLite or PostgreSQL)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine
from sqlmodel import Session

from accounts.credentials import issue_credential
from accounts.custody import Vault, take_into_custody
from accounts.demo import DemoParticipant, register_demo
from accounts.sessions import csrf_token
from api.app import create_app
from api.console.guard import CSRF_FIELD, SESSION_COOKIE
from ledger.service import Registry, head_size, init_ledger


class HttpWorld:
    """Demo participants by alias (``yuyao``, ``yuyao_chem``, ``bank_ningbo``...; see accounts.demo)."""

    def __init__(self, engine: Engine, registry: Registry) -> None:
        self.engine, self.registry, self.vault = engine, registry, Vault.generate()
        with Session(engine) as s:
            init_ledger(s, registry=registry, name="api test")
            self.demo = register_demo(s, registry=registry, custody=True)
            self.tokens = {alias: issue_credential(s, party=p.party).token for alias, p in self.demo.items()}
            for p in self.demo.values():
                take_into_custody(s, vault=self.vault, party=p.party, key=p.key, at=registry.clock())
            s.commit()
        self.client = TestClient(create_app(engine, registry, self.vault), raise_server_exceptions=False)

    def who(self, alias: str) -> DemoParticipant:
        return self.demo[alias]

    def party(self, alias: str) -> str:
        return self.demo[alias].party

    def headers(self, alias: str, idempotency_key: str | None = None) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.tokens[alias]}"}
        if idempotency_key is not None:
            h["Idempotency-Key"] = idempotency_key
        return h

    def get(self, alias: str, path: str, **kw: Any) -> Response:
        return self.client.get(path, headers=self.headers(alias), **kw)

    def post(self, alias: str, path: str, json: Any = None, key: str | None = None) -> Response:
        return self.client.post(path, json=json, headers=self.headers(alias, key))

    def head(self) -> int:
        with Session(self.engine) as s:
            return head_size(s)


def console_login(client: TestClient, token: str, otp: str | None = None) -> Response:
    """Log ``client`` (a browser with its own cookie jar) into the console as a person does: open the
    login page, post its form with the page's CSRF token; on success later posts carry the session's
    token in the ``X-CSRF-Token`` header (as a page's hidden field would)."""
    page = client.get("/console/login")
    found = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', page.text)
    assert found, "the login form carries a CSRF token"
    form = {"access_key": token, CSRF_FIELD: found.group(1), **({"otp": otp} if otp else {})}
    response = client.post("/console/login", data=form)
    session_id = client.cookies.get(SESSION_COOKIE)
    if response.status_code == 303 and session_id:
        client.headers["X-CSRF-Token"] = csrf_token(session_id)
    return response


def error_of(response: Response) -> dict[str, Any]:
    """The error body of a refusal: ``{"code", "message", "details"}``."""
    body: dict[str, Any] = response.json()["error"]
    return body


@pytest.fixture
def http(engine: Engine, registry: Registry) -> HttpWorld:
    return HttpWorld(engine, registry)
