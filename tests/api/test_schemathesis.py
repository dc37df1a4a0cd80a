"""Property-based tests of the whole HTTP API from its OpenAPI schema (schemathesis): no request,
valid or not, gets a server error, and every answer is documented (status code and body schema).

The app runs over SQLite with the demo participants. Each operation is driven with the operator's
token (most privileges) and an enterprise's (most refusals), derandomized and bounded in examples
so a run is repeatable and short; every authenticated operation is also called once without a token.
The as-of balances are also driven on an account the caller owns, so the generated instants reach
the ledger instead of stopping at the account check. The abuse limits are raised for the run (the
calls come fast from one address and key); their own tests are in test_security.py.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.custody import Vault
from api.app import create_app
from api.limits import Limits
from ledger.crypto import SigningKey
from ledger.db import create_schema, make_engine
from ledger.service import Registry
from tests.api.conftest import HttpWorld

CHECKS: list[Callable[..., Any]] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
BOUNDED = settings(
    max_examples=3,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


# The schema is read from the app when the module is imported (it needs no database); the module's
# fixture then fills that app's database. (schemathesis' lazy ``from_fixture`` fails on pytest 9.)
_DIR = Path(tempfile.mkdtemp(prefix="ecoledger-schemathesis-"))
ENGINE = make_engine(f"sqlite:///{_DIR / 'ledger.db'}")
REGISTRY = Registry(SigningKey.from_seed(bytes(range(32))), checkpoint_every=5)
APP = create_app(
    ENGINE,
    REGISTRY,
    Vault.generate(),
    limits=Limits(writes_per_s_credential=10**6, write_burst_credential=10**6, failures_per_min=10**6),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def world() -> Iterator[HttpWorld]:
    create_schema(ENGINE)
    world = HttpWorld(ENGINE, REGISTRY)
    APP.state.ecoledger.vault = world.vault  # the custody keys were sealed with the world's vault
    yield world
    ENGINE.dispose()
    shutil.rmtree(_DIR, ignore_errors=True)


def _call(case: schemathesis.Case, headers: dict[str, str]) -> None:
    # The generated headers (Idempotency-Key...) stay; ours set who is calling.
    case.call_and_validate(headers={**(case.headers or {}), **headers}, checks=CHECKS)


@schema.parametrize()
@BOUNDED
def test_as_the_operator(case: schemathesis.Case, world: HttpWorld) -> None:
    _call(case, world.headers("operator"))


@schema.parametrize()
@settings(BOUNDED, max_examples=2)
def test_as_an_enterprise(case: schemathesis.Case, world: HttpWorld) -> None:
    _call(case, world.headers("yuyao_chem"))


@schema.include(path_regex="/balances/as-of$").parametrize()
@settings(BOUNDED, max_examples=60)
def test_as_of_balances_of_an_own_account(case: schemathesis.Case, world: HttpWorld) -> None:
    case.path_parameters = {**(case.path_parameters or {}), "account": f"{world.party('yuyao_chem')}.holding"}
    _call(case, world.headers("yuyao_chem"))


def test_every_authenticated_operation_refuses_a_missing_token_with_a_documented_401(
    world: HttpWorld,
) -> None:
    document = world.client.get("/openapi.json").json()
    checked = 0
    for path, item in document["paths"].items():
        for method, op in item.items():
            if not op.get("security"):
                continue
            url = re.sub(r"{[^}]+}", "0", path)
            r = world.client.request(method.upper(), url)
            assert r.status_code == 401, (method, path, r.text)
            assert r.json()["error"]["code"] == "invalid_credentials"
            assert "401" in op["responses"], (method, path)
            checked += 1
    assert checked > 20
