"""The public registry's short-lived cache: each answer is computed at most once per TTL per process,
so an anonymous flood costs the database one read per TTL, and every answer carries an ETag."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request, Response

__all__ = ["DEFAULT_TTL_S", "PublicCache", "cache_of", "conditional"]

T = TypeVar("T")
DEFAULT_TTL_S = (
    30.0  # public data may be this stale; a result never shows before its close (see market.public)
)


@dataclass
class PublicCache:
    """Values by key, each kept ``ttl_s`` seconds (monotonic clock); a lock per cache, not per key: the
    values are a few small reads, and a miss under load is computed once, not by every waiting request."""

    ttl_s: float = DEFAULT_TTL_S
    clock: Callable[[], float] = time.monotonic
    _values: dict[tuple[str, ...], tuple[float, Any]] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)  # JSON made from cached data

    def get(self, key: tuple[str, ...], make: Callable[[], T]) -> T:
        with self._lock:
            now = self.clock()
            kept = self._values.get(key)
            if kept is not None and kept[0] > now:
                return kept[1]  # type: ignore[no-any-return]
            value = make()
            self._values[key] = (now + self.ttl_s, value)
            return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


def cache_of(request: Request) -> PublicCache:
    """The app's public cache (made on first use; a test may set ``app.state.public_cache``)."""
    app_state = request.app.state
    if not hasattr(app_state, "public_cache"):
        app_state.public_cache = PublicCache()
    return app_state.public_cache  # type: ignore[no-any-return]


def conditional(request: Request, body: bytes, media_type: str, max_age_s: int) -> Response:
    """``body`` with a strong ETag and a public Cache-Control, or 304 when the client has it already."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={max_age_s}",
        "Vary": "Accept-Language, Cookie",
    }
    asked = [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]
    if etag in asked or f"W/{etag}" in asked:
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type=media_type, headers=headers)
