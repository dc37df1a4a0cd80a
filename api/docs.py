"""The API's own documentation: Swagger UI at /docs from the copy the ``fastapi-offline`` package ships
(no CDN, so it works offline), under a strict CSP, and the OpenAPI text that says what is signed.

Only the package's static files are used (Swagger UI 5, Apache-2.0; the package itself is MIT): its
``FastAPIOffline`` app would start Swagger UI with an inline script, which the CSP refuses, so the start-up
code here is a script of ours. ``swagger-ui-bundle`` was tried first: it ships Swagger UI 4.15, which
cannot read the OpenAPI 3.1 that FastAPI writes ("does not specify a valid version field").
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

__all__ = ["API_DESCRIPTION", "SIGNING_PREFIX", "documented", "install"]

SIGNING_PREFIX = b"ecoledger-body-v1\x00"  # ledger.crypto.TAG_BODY and its NUL (ledger.crypto.tagged)
DOCS = "/docs"
ASSETS = DOCS + "/assets"  # Swagger UI's files, from the installed package
SWAGGER_UI = Path(fastapi_offline.__file__).parent / "static"  # swagger-ui-bundle.js, swagger-ui.css


API_DESCRIPTION = """\
Every write is a signed instruction; every committed one is a journal record.

**Authentication.** Every route under `/v1` (except `/v1/public/...`, the public registry) takes
`Authorization: Bearer ek_<id>_<secret>`, an access key the registry's operator issues.

**What a party signs.** A body (a transfer you build, or the exact JSON a `.../draft` or
`.../bodies` route returns) is signed with Ed25519 over these bytes:

    "ecoledger-body-v1" || 0x00 || JCS(body)

that is, the 17 ASCII characters `ecoledger-body-v1`, one NUL byte, then the body encoded with
RFC 8785 (JSON Canonicalization Scheme: members sorted, no whitespace, integers as they are).
Signing the plain RFC 8785 bytes without the prefix gives `422 bad_signature`. The signature goes
into `signatures[]` as `{"party", "key_id", "sig"}`: `sig` is the 64-byte signature in unpadded
base64url, `key_id` is base64url(SHA-256(raw 32-byte public key)[0:16]) of a key registered to
the party. The guide `docs/integration.md` does it in Python and with `openssl`, step by step;
`docs/journal-format.md` is the full record format.

**Units.** Quantities are integers of kg (kg CO2e for blue carbon) and money integers of fen.
Refusals are `{"error": {"code", "message", "details": {"field", ...}}}` with a stable code.
"""

SIGNING_NOTE = (
    "\n\n**Signing.** Each signature in `signatures[]` is Ed25519 over `ecoledger-body-v1` + one NUL "
    "byte + the RFC 8785 (JCS) bytes of the body, never the JCS bytes alone (`422 bad_signature`); "
    "`sig` in unpadded base64url. See the API description and `docs/integration.md`."
)


_BODIES: dict[str, type[BaseModel]] = {}  # models of bodies that routes read themselves (``documented``)


def documented(
    *, body: type[BaseModel], parameters: tuple[dict[str, Any], ...] = (), authenticated: bool = True
) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its own request: its JSON ``body`` model, header
    ``parameters`` and bearer authentication, as FastAPI documents what it reads itself."""
    _BODIES[body.__name__] = body
    ref = {"$ref": f"#/components/schemas/{body.__name__}"}
    extra: dict[str, Any] = {
        "requestBody": {"content": {"application/json": {"schema": ref}}, "required": True}
    }
    if parameters:
        extra["parameters"] = list(parameters)
    if authenticated:
        extra["security"] = [{"HTTPBearer": []}]
    return extra


def with_documented_bodies(doc: dict[str, Any]) -> dict[str, Any]:
    """The components the ``documented`` bodies refer to, with the models they nest."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name, model in _BODIES.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    return doc


def _signs(path: str, operation: dict[str, Any], schemas: dict[str, Any]) -> bool:
    """Does this operation take, or hand out for signing, a party's signature over a body?"""
    if path.endswith(("/draft", "/bodies")):
        return True
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    ref = str(content.get("schema", {}).get("$ref", ""))
    schema = schemas.get(ref.rsplit("/", 1)[-1], {}) if ref else {}
    return "signatures" in schema.get("properties", {})


def with_signing_notes(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` (FastAPI's OpenAPI document, changed in place) with each signing route's description
    naming the prefix; idempotent, since FastAPI rebuilds the document when routes are added."""
    schemas = doc.get("components", {}).get("schemas", {})
    for path, item in doc.get("paths", {}).items():
        for operation in item.values():
            if not isinstance(operation, dict) or not _signs(path, operation, schemas):
                continue
            text = operation.get("description", "")
            if SIGNING_NOTE not in text:
                operation["description"] = text + SIGNING_NOTE
    return doc


_INIT_JS = """\
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
"""


def _page(title: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} - API</title>"
        f'<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">'
        f'<link rel="icon" href="{ASSETS}/favicon.png">'
        '</head><body><div id="swagger-ui"></div>'
        f'<script src="{ASSETS}/swagger-ui-bundle.js"></script>'
        f'<script src="{DOCS}/init.js"></script>'
        "</body></html>"
    )


def install(app: FastAPI) -> None:
    """Serve /docs (the app must be made with ``docs_url=None``) and Swagger UI's files under it."""
    html = _page(app.title)
    plain = app.openapi
    app.openapi = lambda: with_signing_notes(with_documented_bodies(plain()))  # type: ignore[method-assign]

    @app.get(DOCS, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(html)

    @app.get(DOCS + "/init.js", include_in_schema=False)
    def docs_init() -> Response:
        return Response(_INIT_JS, media_type="text/javascript")

    app.mount(ASSETS, StaticFiles(directory=SWAGGER_UI), name="swagger-ui")
