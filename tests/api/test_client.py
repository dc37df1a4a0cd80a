"""The project's Python client against the app: it signs transfers with the party's own key, raises
the registry's refusals as ``ApiError`` with their stable code, and retries writes safely."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest
from sqlmodel import Session

from api.client import ApiError, Client
from ledger.crypto import SigningKey
from ledger.errors import InvalidInput
from ledger.model import Lot, Posting, TxBody
from ledger.service import Instruction, new_nonce, submit_all
from tests.api.conftest import HttpWorld
from tests.support import grant_rights

LOT = Lot(jurisdiction="330281", valid_until=date(2030, 12, 31))


def client_of(http: HttpWorld, alias: str, key: SigningKey | None = None) -> Client:
    who = http.who(alias)
    return Client("", http.tokens[alias], key=key or who.key, http=http.client)


def holding(http: HttpWorld, alias: str) -> str:
    return f"{http.party(alias)}.holding"


def allocate(http: HttpWorld, alias: str, kg: int) -> int:
    bureau = http.who("yuyao")
    bodies = grant_rights(bureau.party, holding(http, alias), kg, LOT)
    with Session(http.engine) as s:
        receipts = submit_all(
            s, [Instruction.signed(b, (bureau.party, bureau.key)) for b in bodies], registry=http.registry
        )
        s.commit()
    return receipts[-1].seq


def test_me_names_the_tokens_party_and_its_accounts(http: HttpWorld) -> None:
    me = client_of(http, "yuyao_chem").me()
    assert me.participant.party == http.party("yuyao_chem")
    assert holding(http, "yuyao_chem") in {a.account for a in me.accounts}


def test_a_transfer_signed_by_the_client_moves_the_units(http: HttpWorld) -> None:
    allocate(http, "yuyao_chem", 5_000)
    chem, dye = client_of(http, "yuyao_chem"), client_of(http, "yuyao_dye")
    before = http.head()
    receipt = chem.transfer(holding(http, "yuyao_chem"), holding(http, "yuyao_dye"), "COD", LOT, 1_200)
    assert (receipt.seq, receipt.replayed) == (before, False)
    assert [(b.instrument, b.total) for b in chem.balances(holding(http, "yuyao_chem"))] == [("COD", 3_800)]
    assert [(b.instrument, b.total) for b in dye.balances(holding(http, "yuyao_dye"))] == [("COD", 1_200)]
    record = client_of(http, "auditor").journal(start=receipt.seq, limit=1)[0]["record"]
    assert record["seq"] == receipt.seq
    assert [s["party"] for s in record["sigs"]] == [http.party("yuyao_chem")]
    assert "custody" not in record["sigs"][0]  # the client's own key, not the registry's


def test_a_transfer_signed_with_the_wrong_key_is_refused_as_an_api_error(http: HttpWorld) -> None:
    allocate(http, "yuyao_chem", 5_000)
    impostor = client_of(http, "yuyao_chem", key=SigningKey.generate())
    before = http.head()
    with pytest.raises(ApiError) as refused:
        impostor.transfer(holding(http, "yuyao_chem"), holding(http, "yuyao_dye"), "COD", LOT, 100)
    assert (refused.value.status, refused.value.code) == (404, "unknown_key")
    assert refused.value.field == "signatures[0].key_id"
    # the party's real key id over another key's signature: a forged consent
    body = TxBody(
        "transfer",
        new_nonce(),
        (
            Posting(holding(http, "yuyao_chem"), "COD", LOT, -100),
            Posting(holding(http, "yuyao_dye"), "COD", LOT, 100),
        ),
    )
    forged = {**impostor.sign_body(body).to_json(), "key_id": http.who("yuyao_chem").key.key_id}
    with pytest.raises(ApiError) as bad:
        impostor.post("/v1/instructions", {"body": body.to_json(), "signatures": [forged]})
    assert (bad.value.status, bad.value.code) == (422, "bad_signature")
    assert http.head() == before


def test_an_overdraft_and_a_missing_token_raise_their_stable_codes(http: HttpWorld) -> None:
    allocate(http, "yuyao_chem", 500)
    chem = client_of(http, "yuyao_chem")
    with pytest.raises(ApiError) as overdraft:
        chem.transfer(holding(http, "yuyao_chem"), holding(http, "yuyao_dye"), "COD", LOT, 501)
    assert (overdraft.value.status, overdraft.value.details["available"]) == (409, 500)
    anonymous = Client("", "ek_nope_nope", http=http.client)
    with pytest.raises(ApiError) as unknown:
        anonymous.balances(holding(http, "yuyao_chem"))
    assert (unknown.value.status, unknown.value.code) == (401, "invalid_credentials")


def test_a_resubmitted_instruction_with_the_same_key_returns_the_first_receipt(http: HttpWorld) -> None:
    allocate(http, "yuyao_chem", 5_000)
    chem = client_of(http, "yuyao_chem")
    src, dst = holding(http, "yuyao_chem"), holding(http, "yuyao_dye")
    body = TxBody("transfer", new_nonce(), (Posting(src, "COD", LOT, -700), Posting(dst, "COD", LOT, 700)))
    first = chem.submit(body, idempotency_key="order-17")
    again = chem.submit(body, idempotency_key="order-17")
    assert (again.seq, again.hash, again.replayed) == (first.seq, first.hash, True)
    assert chem.balances(src)[0].total == 4_300
    # a new transfer (a new nonce) under a used key is another request: refused, not replayed
    with pytest.raises(ApiError) as reused:
        chem.transfer(src, dst, "COD", LOT, 700, idempotency_key="order-17")
    assert (reused.value.status, reused.value.code) == (409, "idempotency_key_reused")
    assert chem.balances(src)[0].total == 4_300


class FlakyTransport(httpx.BaseTransport):
    """Drops the connection after the server answered the first POST: the client must retry with
    the same Idempotency-Key and get the first answer, not a second transfer."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.keys, self.dropped = inner, [], False  # type: ignore[var-annotated]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.inner.handle_request(request)
        response = httpx.Response(answer.status_code, headers=answer.headers, content=answer.read())
        if request.method == "POST":
            self.keys.append(request.headers["Idempotency-Key"])
            if not self.dropped:
                self.dropped = True
                raise httpx.ReadError("connection reset", request=request)
        return response


def test_a_write_lost_on_the_wire_is_retried_once_with_the_same_key(http: HttpWorld) -> None:
    allocate(http, "yuyao_chem", 5_000)
    flaky = FlakyTransport(http.client._transport)
    wire = httpx.Client(transport=flaky, base_url="http://testserver")
    chem = Client("", http.tokens["yuyao_chem"], key=http.who("yuyao_chem").key, http=wire)
    src = holding(http, "yuyao_chem")
    receipt = chem.transfer(src, holding(http, "yuyao_dye"), "COD", LOT, 250)
    assert receipt.replayed  # the second attempt read the first one's answer
    assert flaky.keys == [flaky.keys[0]] * 2
    assert chem.balances(src)[0].total == 4_750


def test_balances_as_of_a_record_and_an_instant(http: HttpWorld) -> None:
    seq = allocate(http, "yuyao_chem", 5_000)
    chem = client_of(http, "yuyao_chem")
    src = holding(http, "yuyao_chem")
    chem.transfer(src, holding(http, "yuyao_dye"), "COD", LOT, 1_000)
    assert chem.balances_as_of(src, seq=seq) == {("COD", LOT.key()): 5_000}
    later = http.registry.clock() + timedelta(hours=1)
    assert chem.balances_as_of(src, at=later) == {("COD", LOT.key()): 4_000}
    with pytest.raises(ApiError) as naive:
        chem.balances_as_of(src, at=later.replace(tzinfo=None))
    assert (naive.value.status, naive.value.field) == (422, "at")


def test_signing_a_body_a_workflow_returned_signs_its_canonical_form(http: HttpWorld) -> None:
    chem = client_of(http, "yuyao_chem")
    body = TxBody(
        "pledge.open",
        new_nonce(),
        (Posting(holding(http, "yuyao_chem"), "COD", LOT, -1), Posting("x", "COD", LOT, 1)),
    )
    sig = chem.sign(body.to_json())
    assert sig["party"] == http.party("yuyao_chem")
    assert sig == chem.sign_body(body).to_json()
    with pytest.raises(InvalidInput, match=r"body\.type"):
        chem.sign({"type": "nonsense"})


def test_proofs_and_checkpoints_are_read_through_the_client(http: HttpWorld) -> None:
    auditor = client_of(http, "auditor")
    checkpoint = auditor.latest_checkpoint()
    assert checkpoint is not None  # the registry checkpoints every 5 records in tests
    proof = auditor.proof(1)
    assert proof["seq"] == 1
    assert proof["path"]
