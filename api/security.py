"""The HTTP hardening every request passes, as one pure ASGI middleware: a body limit (413), JSON with
a key given twice refused (422), a per-address write limit (429), and the security headers.

Pure ASGI rather than Starlette's ``BaseHTTPMiddleware`` for the reason ``api.observability`` gives.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.limits import Limits
from ledger.errors import DomainError

__all__ = [
    "CONSOLE_CSP",
    "BodyTooLarge",
    "CrossOriginRefused",
    "CsrfRefused",
    "Harden",
    "client_address",
    "is_json",
    "refuse_duplicate_keys",
]

# The console's pages load script, style and images from the registry itself and nothing inline
# (the charts are inline SVG elements, not scripts); no page of it may be framed, forms post only here.
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"  # JSON and files: nothing to run or frame
# /docs: Swagger UI from the registry's own copy (api.docs), nothing inline; it sets styles through the
# DOM (which style-src 'self' allows), draws icons as data: SVG and fetches only /openapi.json.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class DuplicateKey(ValueError):
    pass


class CrossOriginRefused(DomainError):
    """A console form sent from another origin (Origin, Referer or Sec-Fetch-Site say so)."""

    code = "cross_origin_refused"


class CsrfRefused(DomainError):
    """A console form without the token of the session (or login form) it claims to come from."""

    code = "csrf_refused"


class BodyTooLarge(DomainError):
    """A body without Content-Length grew past the limit while a route was reading it."""

    code = "request_too_large"


def refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads`` hook: an object naming a key twice is refused (Python keeps the last one
    silently, another parser the first: the two would read different requests)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _headers_for(path: str) -> list[tuple[bytes, bytes]]:
    out = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY")]
    if path.startswith("/console/static/"):
        return [*out, (b"content-security-policy", CONSOLE_CSP.encode())]
    if path.startswith(("/public", "/v1/public")):
        # the public registry: no login, nothing private; its routes say how long it may be cached
        csp = CONSOLE_CSP if path.startswith("/public") else API_CSP
        return [*out, (b"content-security-policy", csp.encode()), (b"referrer-policy", b"same-origin")]
    if path.startswith("/console"):
        csp = CONSOLE_CSP
    elif path.startswith(("/docs", "/redoc")):
        return [*out, (b"content-security-policy", DOCS_CSP.encode())]
    else:
        csp = API_CSP
    # Console pages and API answers show balances and holdings: no cache, shared or private, keeps them.
    return [
        *out,
        (b"content-security-policy", csp.encode()),
        (b"cache-control", b"no-store"),
        (b"referrer-policy", b"same-origin"),
    ]


async def _answer(send: Send, status: int, code: str, message: str, field: str, **headers: str) -> None:
    body = json.dumps(
        {"error": {"code": code, "message": message, "details": {"field": field}}}, ensure_ascii=False
    ).encode()
    extra = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-error-code", code.encode()),
                *_headers_for("/v1"),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Harden:
    """Refuses what no route should read, before a route (or its body parser) runs, and adds the
    security headers to every answer."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if scope["method"] not in _SAFE_METHODS:
            wait = self.limits.write_from(client_address(scope))
            if wait is not None:
                seconds = str(max(1, int(wait + 0.999)))
                msg = f"too many writes from this address: retry in {seconds} s"
                await _answer(send, 429, "rate_limited", msg, "address", retry_after=seconds)
                return
        length = _content_length(scope)
        if length is not None and length > self.limits.max_body_bytes:
            await self._too_large(send)
            return
        if scope["method"] not in _SAFE_METHODS and is_json(scope):
            body = await _read_body(receive, self.limits.max_body_bytes)
            if body is None:
                await self._too_large(send)
                return
            if not await _unique_keys(body, send):
                return
            receive = _replay(body)
        elif scope["method"] not in _SAFE_METHODS:
            receive = _bounded(receive, self.limits.max_body_bytes)
        extra = _headers_for(path)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {name.lower() for name, _ in message.get("headers", ())}
                message["headers"] = [*message.get("headers", ()), *(h for h in extra if h[0] not in have)]
            await send(message)

        await self.app(scope, receive, sending)

    async def _too_large(self, send: Send) -> None:
        limit = self.limits.max_body_bytes
        await _answer(send, 413, "request_too_large", f"the body is larger than {limit} bytes", "body")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def is_json(scope: Scope) -> bool:
    """Whether the request's Content-Type is JSON (``application/json`` or ``+json``)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            kind = bytes(value).split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or kind.endswith(b"+json")
    return False


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or ``None`` once it passes ``limit`` (a chunked body has no length to check)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _unique_keys(body: bytes, send: Send) -> bool:
    try:
        json.loads(body, object_pairs_hook=refuse_duplicate_keys)
    except DuplicateKey as exc:
        key = str(exc)
        await _answer(send, 422, "duplicate_key", f"the JSON body names {key!r} twice", key)
        return False
    except (ValueError, RecursionError):
        pass  # not JSON at all: the route's own parser refuses it with its usual answer
    return True


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _bounded(receive: Receive, limit: int) -> Receive:
    """A form or other body read by the route itself, cut off with an error past ``limit``."""
    size = 0

    async def bounded() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise BodyTooLarge("the body is larger than the limit", field="body", limit=limit)
        return message

    return bounded
