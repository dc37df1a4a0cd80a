"""The FastAPI application: a thin adapter over the ledger's services.

For now it serves health and the journal head; the workflows' routes arrive with the API issue.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session

from ledger.db import read_only
from ledger.service import head_size, latest_checkpoint


def create_app(engine: Engine) -> FastAPI:
    app = FastAPI(title="ecoledger", version="0.1.0", summary="Environmental-rights registry")
    reader = read_only(engine)

    @app.get("/health")
    def health() -> dict[str, str]:
        """Liveness: the process answers and the database is reachable."""
        with Session(reader) as s:
            head_size(s)
        return {"status": "ok"}

    @app.get("/v1/journal/head")
    def journal_head() -> dict[str, Any]:
        """Size of the journal and its latest signed checkpoint."""
        with Session(reader) as s:
            cp = latest_checkpoint(s)
            return {"size": head_size(s), "checkpoint": cp.to_json() if cp else None}

    return app
