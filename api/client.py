"""A small Python client of the registry's HTTP API that signs its own instructions (self-custody):
bodies are built and signed on the client with the party's key; the registry only sees signatures.

Usage::

    from api.client import Client
    from ledger.crypto import SigningKey
    from ledger.model import Lot

    key = SigningKey.from_pem(open("yuyao-chem.pem", "rb").read())
    with Client("http://127.0.0.1:8000", token="ek_...", key=key) as api:
        lot = Lot(jurisdiction="330281", valid_until=date(2030, 12, 31))
        mine, theirs = f"{api.party}.holding", f"{their_party}.holding"
        receipt = api.transfer(mine, theirs, "COD", lot, quantity_kg=1_200)  # kg
        print(receipt.seq, api.balances(mine))
        # a workflow step someone else prepared (pledge, cross-city): fetch its body, sign, send back
        signature = api.sign(api.get("/v1/pledges/7/bodies")[0])

Every refusal raises ``ApiError`` carrying the registry's stable code and the field it names. A write
carries an ``Idempotency-Key`` made once per call, so a connection error is retried without risk of
acting twice; reads are retried too; a write without a key is never retried.
"""

from __future__ import annotations

import json as jsonlib
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from api.schemas import BalanceOut, ReceiptOut
from api.schemas.participants import MeOut
from ledger.checkpoint import Checkpoint
from ledger.crypto import SigningKey
from ledger.model import Body, Lot, Posting, Signature, TxBody, parse_body
from ledger.proofs import ConsistencyProof
from ledger.service import new_nonce, sign_body
from market.consent import sign_document
from market.pledges.certificate import CertificateCheck, PledgeCertificate, verify_certificate
from market.pledges.record import Approval, parse_approval

__all__ = ["ApiError", "Client", "ProofError", "transfer_body"]

Json = dict[str, Any]


class ProofError(Exception):
    """A proof the registry served does not prove what it should (``Client.verify_consistency``)."""


class ApiError(Exception):
    """A refusal of the registry: HTTP ``status``, stable ``code`` (``insufficient_balance``,
    ``bad_signature``...), the ``field`` it names if any, and the error's ``details``."""

    def __init__(self, status: int, code: str, field: str | None, message: str, details: Json) -> None:
        super().__init__(f"{status} {code}{f' ({field})' if field else ''}: {message}")
        self.status, self.code, self.field, self.message, self.details = status, code, field, message, details

    @classmethod
    def of(cls, response: httpx.Response) -> ApiError:
        try:
            error = response.json()["error"]
            details = dict(error.get("details") or {})
            field = details.get("field")
            return cls(response.status_code, str(error["code"]), field, str(error["message"]), details)
        except (ValueError, KeyError, TypeError, AttributeError):  # not our error shape (a proxy's page)
            return cls(response.status_code, f"http_{response.status_code}", None, response.text[:500], {})


class Client:
    """One participant's session with the registry: its API ``token`` and, to sign, its ``key``.

    ``party`` defaults to the token's participant (asked once from ``/v1/me``). ``http`` lets a caller
    (a test's ``TestClient``, a tuned pool) supply the transport; it is then not closed here.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        key: SigningKey | None = None,
        party: str | None = None,
        http: httpx.Client | None = None,
        *,
        timeout_s: float = 10.0,
        retries: int = 2,
    ) -> None:
        self.base_url, self.key, self._party, self.retries = base_url.rstrip("/"), key, party, retries
        self._headers = {"Authorization": f"Bearer {token}"}
        self._owns_http = http is None
        self.http = http if http is not None else httpx.Client(timeout=timeout_s)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    # -- transport ---------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Send a request; ``ApiError`` for any status of 400 or more. Retried on connection errors
        when it is safe: a GET, or a write carrying an Idempotency-Key (the server answers a repeat
        with the first answer)."""
        headers = dict(self._headers)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        safe = method == "GET" or idempotency_key is not None
        for attempt in range(self.retries + 1 if safe else 1):
            try:
                response = self.http.request(
                    method, self.base_url + path, json=json, params=params, headers=headers
                )
                break
            except httpx.TransportError:
                if attempt >= (self.retries if safe else 0):
                    raise
                time.sleep(0.05 * 2**attempt)
        if response.status_code >= 400:
            raise ApiError.of(response)
        return response

    def get(self, path: str, **params: Any) -> Any:
        """GET ``path`` and its JSON answer (``None`` parameters are left out)."""
        query = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=query).json()

    def post(self, path: str, json: Any = None, *, idempotency_key: str | None = None) -> Any:
        """POST ``json`` to ``path`` with an Idempotency-Key (a new one unless given) and its JSON answer."""
        key = idempotency_key or new_idempotency_key()
        return self.request("POST", path, json=json, idempotency_key=key).json()

    # -- identity and signing ----------------------------------------------------------------------

    def me(self) -> MeOut:
        """Who the token belongs to, with its accounts."""
        return MeOut.model_validate(self.get("/v1/me"))

    @property
    def party(self) -> str:
        """The party this client signs for: given, else the token's own."""
        if self._party is None:
            self._party = self.me().participant.party
        return self._party

    def _signing_key(self) -> SigningKey:
        if self.key is None:
            raise ValueError("this client has no signing key: pass key= to sign instructions")
        return self.key

    def sign_body(self, body: Body) -> Signature:
        """The party's signature over a typed body (its canonical form, as the registry verifies it)."""
        return sign_body(body, self.party, self._signing_key())

    def sign(self, body_json: Mapping[str, Any]) -> Json:
        """Sign a document a workflow route returned to sign (``GET .../bodies``): a body, parsed first
        so a malformed one is refused here (``InvalidInput``) rather than signed, or a bureau's pledge
        approval statement (``"type": "pledge.approval"``, signed under its own tag). Returns the
        signature as the routes' ``signatures`` items take it. Read what you sign: it is consent."""
        if body_json.get("type") == "pledge.approval":
            approval = Approval(parse_approval(dict(body_json)))
            return sign_document(approval, self.party, self._signing_key()).to_json()
        return self.sign_body(parse_body(dict(body_json))).to_json()

    # -- ledger ------------------------------------------------------------------------------------

    def balances(self, account: str) -> list[BalanceOut]:
        """Live positions of an account the caller may see."""
        return [BalanceOut.model_validate(b) for b in self.get(f"/v1/accounts/{account}/balances")]

    def balances_as_of(
        self, account: str, *, seq: int | None = None, at: datetime | None = None
    ) -> dict[tuple[str, str], int]:
        """Totals by (instrument, lot key) after journal record ``seq`` or as of the aware instant ``at``."""
        rows = self.get(
            f"/v1/accounts/{account}/balances/as-of", seq=seq, at=at.isoformat() if at is not None else None
        )
        return {(r["instrument"], r["lot"]): int(r["total"]) for r in rows}

    def transfer(
        self,
        src_account: str,
        dst_account: str,
        instrument: str,
        lot: Lot,
        quantity_kg: int,
        idempotency_key: str | None = None,
    ) -> ReceiptOut:
        """Move ``quantity_kg`` minor units (kg, kg CO2e or fen) of ``instrument``/``lot`` from the
        party's ``src_account`` to ``dst_account``: built and signed here, committed by the registry."""
        body = transfer_body(src_account, dst_account, instrument, lot, quantity_kg)
        return self.submit(body, idempotency_key=idempotency_key)

    def submit(
        self, body: Body, extra_signatures: Iterable[Signature] = (), *, idempotency_key: str | None = None
    ) -> ReceiptOut:
        """Sign ``body`` with the party's key and submit it with the other parties' signatures."""
        answer = self.post(
            "/v1/instructions", self.instruction(body, extra_signatures), idempotency_key=idempotency_key
        )
        return ReceiptOut.model_validate(answer)

    def instruction(self, body: Body, extra_signatures: Iterable[Signature] = ()) -> Json:
        """What ``submit`` posts to /v1/instructions: ``body`` signed by the party, with the others'."""
        sigs = [self.sign_body(body), *extra_signatures]
        return {"body": body.to_json(), "signatures": [s.to_json() for s in sigs]}

    def journal(self, start: int = 0, limit: int = 100) -> list[Json]:
        """Journal records ``start`` to ``start + limit - 1`` (auditors and the operator)."""
        text = self.request("GET", "/v1/journal", params={"start": start, "limit": limit}).text
        return [jsonlib.loads(line) for line in text.splitlines() if line]

    def proof(self, seq: int) -> Json:
        """Record ``seq`` with its inclusion proof against the latest signed checkpoint covering it."""
        out: Json = self.get(f"/v1/journal/{seq}/proof")
        return out

    # -- pledge certificates (排污权抵质押登记证明) ---------------------------------------------------

    def pledge_certificate(self, pledge_id: str) -> Json:
        """The certificate file of a registered pledge (``ecoledger-pledge-certificate-v1``), as the
        registry serves it; check it offline with ``check_certificate_offline``."""
        out: Json = jsonlib.loads(self.request("GET", f"/v1/pledges/{pledge_id}/certificate").content)
        return out

    def pledge_certificate_pdf(self, pledge_id: str) -> bytes:
        """The printable certificate (PDF, Chinese and English)."""
        return self.request("GET", f"/v1/pledges/{pledge_id}/certificate.pdf").content

    def check_certificate(
        self, certificate: Mapping[str, Any], *, registry_public_key: str | None = None
    ) -> Json:
        """Online check of a certificate file: the registry verifies it (under ``registry_public_key``
        if given) and says what the pledge is now (``standing``: status, held_kg, changed_seq)."""
        params = {"registry_public_key": registry_public_key} if registry_public_key else None
        out: Json = self.request(
            "POST", "/v1/certificates/verify", json=dict(certificate), params=params
        ).json()
        return out

    @staticmethod
    def check_certificate_offline(
        certificate: Mapping[str, Any], registry_public_key: bytes | None = None
    ) -> CertificateCheck:
        """Offline check of a certificate file, with no server: ``MalformedCertificate`` if it does not
        parse, else every check and every displayed field (pin the registry key you trust)."""
        return verify_certificate(PledgeCertificate.from_json(dict(certificate)), registry_public_key)

    def latest_checkpoint(self) -> Json | None:
        """The registry's latest signed tree head, or None before the first checkpoint."""
        out: Json | None = self.get("/v1/checkpoints/latest")
        return out

    def latest_checkpoint_line(self) -> bytes | None:
        """The latest signed tree head as the registry served it: the canonical bytes to keep (one
        line of a kept checkpoints file), or None before the first checkpoint."""
        data = self.request("GET", "/v1/checkpoints/latest").content
        if data == b"null":
            return None
        Checkpoint.from_line(data)  # refuse to hand back anything that is not a checkpoint's bytes
        return data

    def consistency(self, first: int, second: int | None = None) -> ConsistencyProof:
        """The registry's consistency proof from its checkpoint of size ``first`` to that of size
        ``second`` (default: its latest), parsed strictly but not verified: see ``verify_consistency``."""
        return ConsistencyProof.from_json(self.get("/v1/checkpoints/consistency", first=first, second=second))

    def verify_consistency(
        self, kept: Checkpoint, registry_keys: bytes | Iterable[bytes], second: int | None = None
    ) -> Checkpoint:
        """Check that the registry's journal still extends ``kept`` (a checkpoint you kept): fetch the
        proof from it to the latest checkpoint (or the one of size ``second``), insist the registry's
        copy of the older head is ``kept`` itself, and verify both signatures under ``registry_keys``
        and the proof. Returns the newer checkpoint; ``ProofError`` says what failed."""
        keys = [registry_keys] if isinstance(registry_keys, bytes) else list(registry_keys)
        proof = self.consistency(kept.tree_size, second)
        if proof.first != kept:
            raise ProofError(
                f"the registry's checkpoint of size {kept.tree_size} is not the one you kept: "
                "its history was rewritten (keep both as evidence)"
            )
        problem = proof.problem(keys)
        if problem is not None:
            raise ProofError(problem)
        return proof.second


def transfer_body(src_account: str, dst_account: str, instrument: str, lot: Lot, quantity_kg: int) -> TxBody:
    """A transfer of ``quantity_kg`` minor units from ``src_account`` to ``dst_account``, unsigned."""
    return TxBody(
        "transfer",
        new_nonce(),
        (
            Posting(src_account, instrument, lot, -quantity_kg),
            Posting(dst_account, instrument, lot, quantity_kg),
        ),
    )


def new_idempotency_key() -> str:
    """A fresh key for one logical write; reuse it for that write's retries only."""
    return uuid.uuid4().hex
