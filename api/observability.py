"""Operations: a JSON line per request, and Prometheus metrics in the text exposition format.

No dependency: a few counters and a latency histogram kept in process, read by ``/metrics``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accounts.errors import PermissionDenied
from accounts.model import Role
from api.deps import ActorDep, ReaderDep
from api.schemas import ErrorOut
from ledger.service import head_size

__all__ = ["METRICS", "install"]

log = logging.getLogger("ecoledger.http")

BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(BUCKETS_S) + 1))
        self.latency_sum: dict[tuple[str, str], float] = defaultdict(float)
        self.errors_by_code: dict[str, int] = defaultdict(int)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self.lock:
            self.requests[(method, route, status)] += 1
            counts = self.latency[(method, route)]
            for i, bound in enumerate(BUCKETS_S):
                if seconds <= bound:
                    counts[i] += 1
            counts[-1] += 1
            self.latency_sum[(method, route)] += seconds

    def render(self, journal_size: int) -> str:
        lines = [
            "# HELP ecoledger_journal_records Committed journal records (commits = its rate).",
            "# TYPE ecoledger_journal_records counter",
            f"ecoledger_journal_records {journal_size}",
            "# HELP ecoledger_http_requests_total HTTP requests by route and status.",
            "# TYPE ecoledger_http_requests_total counter",
        ]
        with self.lock:
            for (method, route, status), n in sorted(self.requests.items()):
                labels = f'method="{method}",route="{route}",status="{status}"'
                lines.append(f"ecoledger_http_requests_total{{{labels}}} {n}")
            lines += [
                "# HELP ecoledger_http_request_seconds Request latency.",
                "# TYPE ecoledger_http_request_seconds histogram",
            ]
            for (method, route), counts in sorted(self.latency.items()):
                labels = f'method="{method}",route="{route}"'
                for bound, n in zip(BUCKETS_S, counts, strict=False):
                    lines.append(f'ecoledger_http_request_seconds_bucket{{{labels},le="{bound}"}} {n}')
                lines.append(f'ecoledger_http_request_seconds_bucket{{{labels},le="+Inf"}} {counts[-1]}')
                lines.append(
                    f"ecoledger_http_request_seconds_sum{{{labels}}} {self.latency_sum[(method, route)]:.6f}"
                )
                lines.append(f"ecoledger_http_request_seconds_count{{{labels}}} {counts[-1]}")
            lines += [
                "# HELP ecoledger_refusals_total Domain refusals by stable error code.",
                "# TYPE ecoledger_refusals_total counter",
            ]
            for code, n in sorted(self.errors_by_code.items()):
                lines.append(f'ecoledger_refusals_total{{code="{code}"}} {n}')
        return "\n".join(lines) + "\n"


METRICS = Metrics()


class Observe:
    """Pure ASGI middleware: times each HTTP request and logs it as one JSON line.

    Not ``@app.middleware``: Starlette's BaseHTTPMiddleware adds a task and two streams per request
    and cancels the route when the client goes away, mid-transaction."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status, code = 500, None

        async def sending(message: Message) -> None:
            nonlocal status, code
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name == b"x-error-code":
                        code = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            elapsed = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", "unmatched")  # a template, not the raw path
            METRICS.observe(scope["method"], route, status, elapsed)
            if code:
                METRICS.errors_by_code[code] += 1
            if log.isEnabledFor(logging.INFO):
                log.info(
                    json.dumps(
                        {
                            "event": "http",
                            "method": scope["method"],
                            "route": route,
                            "status": status,
                            "ms": round(elapsed * 1000, 2),
                            "error": code,
                        }
                    )
                )


def install(app: FastAPI) -> None:
    app.add_middleware(Observe)

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        tags=["operations"],
        responses={code: {"model": ErrorOut} for code in (401, 403)},
    )
    def metrics(actor: ActorDep, session: ReaderDep) -> str:
        """Prometheus metrics, for the operator's token only (scrape with ``Authorization: Bearer``):
        journal records, requests, latency, refusals by code. They move with activity nobody else may
        watch (a sealed bid counts as a request the moment it is placed)."""
        if actor.role is not Role.OPERATOR:
            raise PermissionDenied(
                f"{actor.party} may not read the metrics (rule operator_only)",
                rule="operator_only",
                action="read_metrics",
                actor=actor.party,
            )
        return METRICS.render(head_size(session))
