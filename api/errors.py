"""The one table from domain errors to HTTP: every refusal keeps its stable code and its field.

Lookup walks the error's class hierarchy, so a new error inherits its family's status; a test
checks that every ``DomainError`` subclass resolves to a 4xx or 5xx here. Requests FastAPI refuses
before a route runs (a malformed body or query, an unknown path) get the same error shape, and the
OpenAPI document describes it for every operation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from accounts.errors import InvalidCredentials, PermissionDenied, SecondFactorInvalid, SecondFactorRequired
from api.limits import RateLimited
from api.schemas import DATE_OUT_OF_RANGE, INVALID_TEXT, ErrorOut
from api.security import BodyTooLarge, CrossOriginRefused, CsrfRefused
from ledger import errors as e
from methodologies.errors import InvalidMonitoringData, ReplayMismatch, UnknownMethodology

__all__ = ["STATUS", "install", "status_for"]

STATUS: dict[type[e.DomainError], int] = {
    e.DomainError: 400,
    e.InvalidInput: 422,
    e.MalformedRecord: 400,
    e.NotFound: 404,
    e.Conflict: 409,
    e.LedgerNotInitialized: 503,
    e.RegistryKeyMismatch: 503,  # the server was started with another key: its operator must act
    e.RuleViolation: 409,
    e.MovementNotAllowed: 422,  # the body can never be valid, whatever the balances
    e.WrongJurisdiction: 422,
    e.InvalidHouseholdRecord: 422,  # a split the rule does not give is never valid
    e.SignatureError: 422,
    PermissionDenied: 403,
    InvalidCredentials: 401,
    SecondFactorRequired: 401,
    SecondFactorInvalid: 401,
    RateLimited: 429,
    BodyTooLarge: 413,
    CrossOriginRefused: 403,
    CsrfRefused: 403,
    InvalidMonitoringData: 422,  # methodology errors derive from DomainError alone: mapped by meaning
    UnknownMethodology: 404,
    ReplayMismatch: 409,
}
INVALID_REQUEST = "invalid_request"
DATABASE_UNAVAILABLE = "database_unavailable"
RETRY_AFTER_S = 2  # a promoted standby takes writes within a second or two (docs/scale.md)
OWN_CODES = frozenset({INVALID_TEXT, DATE_OUT_OF_RANGE})  # raised by the request models themselves
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
_MAX_LISTED = 20  # problems listed in one refusal: enough to fix a form, bounded for hostile input


def status_for(error: type[e.DomainError]) -> int:
    for cls in error.__mro__:
        if cls in STATUS:
            return STATUS[cls]
    raise LookupError(f"{error.__name__} is not a DomainError")


def _error(status: int, code: str, message: str, details: dict[str, Any]) -> JSONResponse:
    headers = {"x-error-code": code}  # read by the metrics middleware
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 429 and isinstance(details.get("retry_after_s"), int):
        headers["Retry-After"] = str(details["retry_after_s"])
    return JSONResponse({"error": {"code": code, "message": message, "details": details}}, status, headers)


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.DomainError)
    return _error(status_for(type(exc)), exc.code, exc.message, exc.details)


def field_name(loc: Sequence[str | int]) -> str:
    """``("body", "signatures", 0, "sig")`` -> ``signatures[0].sig``: the ledger's spelling of a field
    path, without the location (body, query, path, header), which the details carry apart."""
    out = ""
    for part in loc[1:] if len(loc) > 1 else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


async def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": field_name(err.get("loc", ())), "type": str(err.get("type")), "message": str(err["msg"])}
        for err in exc.errors()[:_MAX_LISTED]
    ]
    first = exc.errors()[0] if exc.errors() else {}
    location = str(first.get("loc", ("body",))[0])
    field = problems[0]["field"] if problems else location
    message = f"{field}: {problems[0]['message']}" if problems else "the request is not valid"
    code = problems[0]["type"] if problems and problems[0]["type"] in OWN_CODES else INVALID_REQUEST
    return _error(422, code, message, {"field": field, "location": location, "errors": problems})


async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    """The database connection was lost or refused (a primary down, a failover under way, a standby
    that takes no writes): nothing was acknowledged, and the same request may be retried."""
    response = _error(503, DATABASE_UNAVAILABLE, "the database is unavailable; retry later", {})
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, BodyTooLarge):  # FastAPI wraps what reading the body raised
        return await _domain_error(_, exc.__cause__)
    if exc.status_code == 400:  # FastAPI's "error parsing the body": not JSON at all
        details = {"field": "body", "location": "body", "errors": []}
        return _error(422, INVALID_REQUEST, f"body: {exc.detail}", details)
    code = HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    response = _error(exc.status_code, code, str(exc.detail), {})
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Every operation that parses input documents 422 as ``ErrorOut`` (not FastAPI's own shape),
    and every authenticated one documents 401; FastAPI's validation schemas, then unused, go."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if "ErrorOut" not in components:
        model = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(model.pop("$defs", {}))
        components["ErrorOut"] = model
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
    for item in schema.get("paths", {}).values():
        for op in item.values():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses = op["responses"]
            for status, response in responses.items():
                # a text route (the journal's JSON Lines) still refuses in JSON
                if status[:1] in "45" and "ErrorOut" in json.dumps(response.get("content", {})):
                    response["content"] = error["content"]
            if op.get("parameters") or op.get("requestBody") or "422" in responses:
                responses["422"] = {"description": "the request is not valid (`invalid_request`)", **error}
            if op.get("security") and "401" not in responses:
                responses["401"] = {"description": "missing, unknown or revoked token", **error}
            if op.get("security"):
                responses["429"] = {
                    "description": "too many failed authentications or writes (`rate_limited`, Retry-After)",
                    **error,
                }
            if op.get("requestBody"):
                responses["413"] = {"description": "the body is too large (`request_too_large`)", **error}
    for name in ("HTTPValidationError", "ValidationError"):
        if f'"#/components/schemas/{name}"' not in json.dumps(schema):
            components.pop(name, None)
    return schema


def install(app: FastAPI) -> None:
    app.add_exception_handler(e.DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # SQLAlchemy wraps psycopg's and sqlite3's OperationalError (also raised by a failed COMMIT)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(InterfaceError, _database_unavailable)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
