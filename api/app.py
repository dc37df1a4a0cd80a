"""The FastAPI application: a thin adapter over the ledger, accounts and market services.

``create_app`` wires the engine and the registry's key into request dependencies, the
routers, and the one error table; nothing here holds a rule.
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import FastAPI
from sqlalchemy import Engine

from accounts.custody import Vault
from api import console, docs, errors, observability, public
from api import security as hardening
from api.deps import AppState, ReaderDep
from api.limits import Limits, limits_from_env
from api.replica import lag_between
from api.routes import (
    auctions,
    bluecarbon,
    controls,
    crosscity,
    exports,
    households,
    issuance,
    participants,
    pledges,
    proposals,
    trades,
    transfers,
)
from api.routes import ledger as ledger_routes
from ledger.db import read_only, snapshot_reader, statement_reader
from ledger.registry_key import check_registry_key
from ledger.sequencer import Sequencer
from ledger.service import Registry, head_size


def create_app(
    engine: Engine,
    registry: Registry,
    vault: Vault | None = None,
    limits: Limits | None = None,
    *,
    replica: Engine | None = None,
) -> FastAPI:
    """The API over ``engine``'s journal, sealing with ``registry``'s key: ``RegistryKeyMismatch``
    here, before anything is served, when that key is not record 0's (or, after a rotation, a
    registry key valid now). ``limits``: the abuse limits (default: from the environment). Balance
    reads go to ``replica`` (a read-only standby) when given."""
    with read_only(engine).connect() as conn:
        check_registry_key(conn, public_key=registry.key.public, at=registry.clock())
    app = FastAPI(
        # FastAPI's own OpenTelemetry looks up the global providers on every request (2.6 us each,
        # measured alone); the registry counts and logs requests itself (api.observability).
        telemetry={"tracing": False, "metrics": False, "logs": False},
        title="ecoledger",
        version="0.1.0",
        summary="Registry of discharge rights, VOCs quotas and blue-carbon credits",
        description=docs.API_DESCRIPTION,
        docs_url=None,  # served by api.docs from the packaged Swagger UI (offline, under the CSP)
        redoc_url=None,  # ReDoc would come from a CDN: not offered
    )
    app.state.ecoledger = AppState(
        engine=engine,
        reader=read_only(engine),
        quick_reader=statement_reader(engine),
        registry=registry,
        sequencer=Sequencer(engine),
        vault=vault,
        reads_inline=True,
        limits=limits or limits_from_env(),
        replica=None if replica is None else snapshot_reader(replica),
    )
    errors.install(app)
    # added before Observe, so it runs inside it: its refusals (413, 429) are logged and counted too
    app.add_middleware(hardening.Harden, limits=app.state.ecoledger.limits)
    observability.install(app)
    app.include_router(ledger_routes.router)
    app.router.routes[0:0] = ledger_routes.HOT_ROUTES  # ahead of every other route (see there)
    for module in (
        participants,
        controls,
        issuance,
        auctions,
        trades,
        transfers,
        proposals,
        crosscity,
        pledges,
        bluecarbon,
        households,
        exports,
    ):
        app.include_router(module.router)
    docs.install(app)
    public.install(app)  # the public registry: /public and /v1/public, no login
    console.install(app)  # the web console at /console (server-rendered; same services)

    @app.get("/health", tags=["operations"])
    def health(session: ReaderDep) -> dict[str, object]:
        """Liveness and the journal's size, and how far the replica (if any) is behind it; 503 if
        the database does not answer."""
        out: dict[str, object] = {"status": "ok", "journal_size": head_size(session)}
        if replica is not None:
            lag = lag_between(replica, engine)
            out["replica"] = asdict(lag) | {"records_behind": lag.records_behind}
        return out

    return app
