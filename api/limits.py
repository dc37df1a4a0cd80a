"""Abuse limits kept in each server process: failed authentications per address and per credential,
and writes per credential and per address; over a limit the answer is 429 with ``Retry-After``.

In memory, per worker process (``serve --workers N`` allows N times a per-address rate in all); behind a
reverse proxy every client has the proxy's address, so set the per-address limits for that (or let the
proxy limit). A restart forgets the counts, which is fine: they guard against floods, not history.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ledger.errors import DomainError

__all__ = ["Limits", "RateLimited", "Throttle", "limits_from_env"]


class RateLimited(DomainError):
    """Too many requests (or failed logins) from this address or credential: retry after
    ``details["retry_after_s"]`` seconds."""

    code = "rate_limited"


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class Throttle:
    """A token bucket per key: ``rate`` per second on average, ``burst`` at once. Bounded memory:
    past ``max_keys`` keys the full (idle) buckets are dropped, they hold no information."""

    rate: float
    burst: float
    max_keys: int = 100_000
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._sweep(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        return bucket

    def _sweep(self, now: float) -> None:
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.at) * self.rate >= self.burst]
        for key in full or list(self._buckets):  # all full: nothing to keep; none full: start afresh
            del self._buckets[key]

    def take(self, key: str) -> float | None:
        """Spend one token: ``None`` when there was one, else the seconds until there will be."""
        with self._lock:
            now = self.clock()
            bucket = self._bucket(key, now)
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return None
            return (1 - bucket.tokens) / self.rate

    def wait(self, key: str) -> float | None:
        """Like ``take`` without spending: is this key out of tokens now?"""
        with self._lock:
            now = self.clock()
            bucket = self._bucket(key, now)
            return None if bucket.tokens >= 1 else (1 - bucket.tokens) / self.rate


def _refuse(wait_s: float, what: str, **details: object) -> RateLimited:
    seconds = max(1, math.ceil(wait_s))
    return RateLimited(f"too many {what}: retry in {seconds} s", retry_after_s=seconds, **details)


@dataclass
class Limits:
    """The server's limits. Failures: ``failures_per_min`` per address, then 429 for every
    authentication from it (before any lookup); ``credential_failures_per_min`` wrong secrets per
    credential, then 429 for wrong secrets to it (its right secret still works: refusing the owner
    would let anyone lock a participant out by its key's id). Writes: per credential and per
    address, as token buckets."""

    failures_per_min: float = 30
    credential_failures_per_min: float = 10
    writes_per_s_credential: float = 20
    write_burst_credential: float = 40
    writes_per_s_address: float = 1000
    write_burst_address: float = 1000
    public_per_s_address: float = 5  # the public registry's pages and JSON, anonymous: per address
    public_burst_address: float = 60
    max_body_bytes: int = 1024 * 1024
    by_address: Throttle = field(init=False)
    by_credential: Throttle = field(init=False)
    writes_credential: Throttle = field(init=False)
    writes_address: Throttle = field(init=False)
    public_address: Throttle = field(init=False)

    def __post_init__(self) -> None:
        self.by_address = Throttle(self.failures_per_min / 60, self.failures_per_min)
        self.by_credential = Throttle(self.credential_failures_per_min / 60, self.credential_failures_per_min)
        self.writes_credential = Throttle(self.writes_per_s_credential, self.write_burst_credential)
        self.writes_address = Throttle(self.writes_per_s_address, self.write_burst_address)
        self.public_address = Throttle(self.public_per_s_address, self.public_burst_address)

    def check_address(self, address: str) -> None:
        """Refuse an authentication from an address that failed too often (costs nothing else)."""
        wait = self.by_address.wait(address)
        if wait is not None:
            raise _refuse(wait, "failed authentications from this address", field="authorization")

    def failed(self, address: str, credential_id: str | None) -> None:
        """Count a failed authentication; raise 429 if this one went over a credential's limit."""
        self.by_address.take(address)
        if credential_id is not None:
            wait = self.by_credential.take(credential_id)
            if wait is not None:
                raise _refuse(wait, "failed authentications for this key", field="authorization")

    def write(self, credential_id: str) -> None:
        wait = self.writes_credential.take(credential_id)
        if wait is not None:
            raise _refuse(wait, "writes with this key", field="authorization")

    def write_from(self, address: str) -> float | None:
        return self.writes_address.take(address)

    def public_read(self, address: str) -> None:
        """Count an anonymous read of the public registry from ``address``; 429 past its rate."""
        wait = self.public_address.take(address)
        if wait is not None:
            raise _refuse(wait, "public registry requests from this address", field="address")


def limits_from_env() -> Limits:
    """``Limits`` with any of ``ECOLEDGER_LIMIT_<FIELD>`` (e.g. ``..._WRITES_PER_S_ADDRESS=200``)."""
    names = (
        "failures_per_min",
        "credential_failures_per_min",
        "writes_per_s_credential",
        "write_burst_credential",
        "writes_per_s_address",
        "write_burst_address",
        "public_per_s_address",
        "public_burst_address",
    )
    given: dict[str, float] = {}
    for name in names:
        raw = os.environ.get(f"ECOLEDGER_LIMIT_{name.upper()}")
        if raw:
            given[name] = float(raw)
    body = os.environ.get("ECOLEDGER_LIMIT_MAX_BODY_BYTES")
    return Limits(**given, **({"max_body_bytes": int(body)} if body else {}))  # type: ignore[arg-type]
