"""The one table from domain errors to HTTP: every refusal keeps its stable code and its field.

Lookup walks the error's class hierarchy, so a new error inherits its family's status; a test
checks that every ``DomainError`` subclass resolves to a 4xx or 5xx here.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from accounts.errors import InvalidCredentials, PermissionDenied
from ledger import errors as e

__all__ = ["STATUS", "install", "status_for"]

STATUS: dict[type[e.DomainError], int] = {
    e.DomainError: 400,
    e.InvalidInput: 422,
    e.MalformedRecord: 400,
    e.NotFound: 404,
    e.Conflict: 409,
    e.LedgerNotInitialized: 503,
    e.RuleViolation: 409,
    e.SignatureError: 422,
    PermissionDenied: 403,
    InvalidCredentials: 401,
}


def status_for(error: type[e.DomainError]) -> int:
    for cls in error.__mro__:
        if cls in STATUS:
            return STATUS[cls]
    raise LookupError(f"{error.__name__} is not a DomainError")


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.DomainError)
    status = status_for(type(exc))
    headers = {"x-error-code": exc.code}  # read by the metrics middleware
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse({"error": exc.to_dict()}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(e.DomainError, _domain_error)
