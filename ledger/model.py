"""The ledger's values: accounts, lots, postings, holds and the bodies of journal records.

Pure and immutable. Each body has one JSON form (``to_json``) and one parser (``parse_body``)
that validates every field and names it when it refuses, so bad input never reaches a table.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from ledger.canonical import canonical_bytes
from ledger.crypto import b64d, b64e, key_id_for, public_key_problem
from ledger.errors import InvalidInput, InvalidLot, InvalidPublicKey, UnbalancedTransaction
from ledger.timeutil import format_date, format_utc, parse_date, parse_utc
from ledger.units import MAX_AMOUNT, check_amount, instrument

__all__ = [
    "EVIDENCE_ACTIONS",
    "REGISTRY",
    "AccountKind",
    "AdoptRules",
    "BalanceKey",
    "Body",
    "Genesis",
    "HoldPlace",
    "HoldSettle",
    "Lot",
    "OpenAccount",
    "Posting",
    "RegisterKey",
    "RegisterParty",
    "RevokeKey",
    "Signature",
    "TxBody",
    "check_public_key",
    "parse_body",
]

REGISTRY = "registry"  # the operator's party id; its signature is on every record

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")
_DIVISION = re.compile(r"[0-9]{6}")  # ASCII only: \d would admit full-width digits

BalanceKey = tuple[str, str, str]  # (account, instrument, lot key)
# Transactions that may move nothing: the record is the fact (a bid after the first places no deposit,
# yet it is a journal record signed by its bidder, ledger.auction_rules; a cooperative's roster of
# member households that its bureau confirms, ledger.households).
# Control records (ledger.controls) move nothing either: a party's users, thresholds and trusted list.
EVIDENCE_ACTIONS = frozenset(
    {"auction.bid", "household.roster", "controls.set", "trust.add", "trust.remove", "registry.controls"}
)


def check_id(value: object, *, field: str) -> str:
    """Ids are short printable ASCII tokens, so they are safe in URLs, logs and keys."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidInput(f"{field} must be 1-128 characters of letters, digits and . _ : -", field=field)
    return value


def _text(obj: dict[str, Any], name: str, path: str, *, max_len: int = 500) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise InvalidInput(f"{path}.{name} must be a non-empty string", field=f"{path}.{name}")
    return value


def _object(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{path} must be an object", field=path)
    return value


def json_object(value: object, path: str) -> dict[str, Any]:
    """An object that has a canonical JSON form (no floats, ints within 2**53), or InvalidInput."""
    obj = _object(value, path)
    if not obj:  # most bodies carry an empty meta: nothing in it to refuse
        return obj
    try:
        canonical_bytes(obj)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidInput(f"{path}: {exc}", field=path) from None
    return obj


def _list(value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidInput(f"{path} must be a list", field=path)
    return value


def _no_extra(obj: dict[str, Any], allowed: set[str], path: str) -> None:
    extra = set(obj) - allowed
    if extra:
        name = sorted(extra)[0]
        raise InvalidInput(f"{path}.{name} is not a known field", field=f"{path}.{name}")


class AccountKind(StrEnum):
    """What an account is for, which fixes its balance rules."""

    HOLDING = "holding"  # 持有账户: an enterprise's or bank's own units
    RESERVE = "reserve"  # 政府储备: a bureau's government reserve
    ISSUANCE = "issuance"  # 总量控制: the cap account units are issued from; runs negative
    RETIREMENT = "retirement"  # 注销: a sink, units that arrive never leave
    ESCROW = "escrow"  # deposits and settlement in flight
    CASH = "cash"  # a participant's CNY
    BUFFER = "buffer"  # blue-carbon buffer pool against reversal
    SETTLEMENT = "settlement"  # the bank gateway CNY enters and leaves by; runs negative
    MEMBER = "member"  # 社员账户: a member household's CNY, kept by its cooperative (ledger.households)

    @property
    def may_be_negative(self) -> bool:
        return self in (AccountKind.ISSUANCE, AccountKind.SETTLEMENT)

    @property
    def may_send(self) -> bool:
        return self is not AccountKind.RETIREMENT


@dataclass(frozen=True, slots=True, order=True)
class Lot:
    """The attributes that keep units apart: jurisdiction, validity end, vintage, batch.

    Units of different lots are different things: a COD right of Yuyao valid to 2030 does
    not net against one of Wenzhou, so postings balance per (instrument, lot).
    """

    jurisdiction: str | None = None
    valid_until: date | None = None
    vintage: int | None = None
    batch: str | None = None
    # The key, made once: rules and replay ask for it about ten times per posting.
    _key: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_key", self._make_key())

    def key(self) -> str:
        return self._key

    def _make_key(self) -> str:
        parts = []
        if self.batch is not None:
            parts.append(f"b={self.batch}")
        if self.jurisdiction is not None:
            parts.append(f"j={self.jurisdiction}")
        if self.valid_until is not None:
            parts.append(f"u={format_date(self.valid_until)}")
        if self.vintage is not None:
            parts.append(f"v={self.vintage}")
        return ";".join(parts)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.jurisdiction is not None:
            out["jurisdiction"] = self.jurisdiction
        if self.valid_until is not None:
            out["valid_until"] = format_date(self.valid_until)
        if self.vintage is not None:
            out["vintage"] = self.vintage
        if self.batch is not None:
            out["batch"] = self.batch
        return out

    @classmethod
    def from_key(cls, key: str) -> Lot:
        values = dict(part.split("=", 1) for part in key.split(";") if part)
        return cls(
            jurisdiction=values.get("j"),
            valid_until=parse_date(values["u"]) if "u" in values else None,
            vintage=int(values["v"]) if "v" in values else None,
            batch=values.get("b"),
        )

    @classmethod
    def parse(cls, value: object, *, instrument_code: str, path: str) -> Lot:
        # A journal names the same few lots over and over: a lot already parsed and checked for
        # this instrument is returned as it was (frozen, so shared safely); refusals are not kept.
        try:
            memo: tuple[Any, ...] | None = (
                (instrument_code, *((k, type(v), v) for k, v in sorted(value.items())))
                if type(value) is dict
                else None
            )
            hit = _LOTS.get(memo) if memo is not None else None
        except TypeError:  # an unhashable value: parse it, and let the checks name it
            memo = hit = None
        if hit is not None:
            return hit
        lot = cls._parse(value, instrument_code=instrument_code, path=path)
        if memo is not None:
            if len(_LOTS) >= 4096:
                _LOTS.clear()
            _LOTS[memo] = lot
        return lot

    @classmethod
    def _parse(cls, value: object, *, instrument_code: str, path: str) -> Lot:
        obj = _object(value, path)
        _no_extra(obj, {"jurisdiction", "valid_until", "vintage", "batch"}, path)
        jur = obj.get("jurisdiction")
        if jur is not None and (not isinstance(jur, str) or not _DIVISION.fullmatch(jur)):
            raise InvalidLot(
                f"{path}.jurisdiction must be a 6-digit division code", field=f"{path}.jurisdiction"
            )
        until = obj.get("valid_until")
        try:
            until_date = parse_date(until) if until is not None else None
        except ValueError:
            raise InvalidLot(f"{path}.valid_until must be YYYY-MM-DD", field=f"{path}.valid_until") from None
        vintage = obj.get("vintage")
        if vintage is not None and (
            isinstance(vintage, bool) or not isinstance(vintage, int) or not 1900 <= vintage <= 9999
        ):
            raise InvalidLot(f"{path}.vintage must be a year", field=f"{path}.vintage")
        batch = obj.get("batch")
        if batch is not None:
            check_id(batch, field=f"{path}.batch")
        lot = cls(jur, until_date, vintage, batch)
        lot.check_for(instrument_code, path=path)
        return lot

    def check_for(self, instrument_code: str, *, path: str) -> None:
        inst = instrument(instrument_code, field=f"{path}.instrument")
        if inst.scoped_to_jurisdiction and self.jurisdiction is None:
            raise InvalidLot(
                f"{inst.code} units belong to a jurisdiction: {path}.jurisdiction is required",
                field=f"{path}.jurisdiction",
            )
        if inst.money and self != Lot():
            raise InvalidLot(f"{inst.code} has no lot attributes", field=path)


_LOTS: dict[tuple[Any, ...], Lot] = {}  # Lot.parse's memo, by instrument and the lot's fields


def _parse_instrument(obj: dict[str, Any], path: str) -> str:
    return instrument(obj.get("instrument"), field=f"{path}.instrument").code  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Posting:
    """One leg: ``amount`` minor units into (+) or out of (-) an account's lot."""

    account: str
    instrument: str
    lot: Lot
    amount: int
    _key: BalanceKey = field(default=("", "", ""), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_key", (self.account, self.instrument, self.lot.key()))

    @property
    def key(self) -> BalanceKey:
        return self._key

    def to_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "instrument": self.instrument,
            "lot": self.lot.to_json(),
            "amount": self.amount,
        }

    @classmethod
    def parse(cls, value: object, path: str) -> Posting:
        obj = _object(value, path)
        _no_extra(obj, {"account", "instrument", "lot", "amount"}, path)
        code = _parse_instrument(obj, path)
        amount = obj.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
            raise InvalidInput(
                f"{path}.amount must be a non-zero whole number of minor units",
                field=f"{path}.amount",
            )
        check_amount(abs(amount), field=f"{path}.amount")
        return cls(
            account=check_id(obj.get("account"), field=f"{path}.account"),
            instrument=code,
            lot=Lot.parse(obj.get("lot", {}), instrument_code=code, path=f"{path}.lot"),
            amount=amount,
        )


@dataclass(frozen=True, slots=True)
class HoldPlace:
    """Encumber units (a pledge, an auction deposit): the holder can no longer move them.

    ``controller`` is the party whose signature releases or captures the hold.
    """

    hold: str
    account: str
    instrument: str
    lot: Lot
    amount: int
    reason: str
    controller: str
    op: ClassVar[Literal["place"]] = "place"

    @property
    def key(self) -> BalanceKey:
        return (self.account, self.instrument, self.lot.key())

    def to_json(self) -> dict[str, Any]:
        return {
            "op": "place",
            "hold": self.hold,
            "account": self.account,
            "instrument": self.instrument,
            "lot": self.lot.to_json(),
            "amount": self.amount,
            "reason": self.reason,
            "controller": self.controller,
        }


@dataclass(frozen=True, slots=True)
class HoldSettle:
    """Release held units back to the holder, or capture them for a posting in the same tx."""

    op: Literal["release", "capture"]
    hold: str
    amount: int

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "hold": self.hold, "amount": self.amount}


HoldOp = HoldPlace | HoldSettle


def _parse_hold(value: object, path: str) -> HoldOp:
    obj = _object(value, path)
    op = obj.get("op")
    hold = check_id(obj.get("hold"), field=f"{path}.hold")
    amount = check_amount(obj.get("amount"), field=f"{path}.amount")
    if op in ("release", "capture"):
        _no_extra(obj, {"op", "hold", "amount"}, path)
        return HoldSettle(op=op, hold=hold, amount=amount)
    if op != "place":
        raise InvalidInput(f"{path}.op must be place, release or capture", field=f"{path}.op")
    _no_extra(obj, {"op", "hold", "account", "instrument", "lot", "amount", "reason", "controller"}, path)
    code = _parse_instrument(obj, path)
    return HoldPlace(
        hold=hold,
        account=check_id(obj.get("account"), field=f"{path}.account"),
        instrument=code,
        lot=Lot.parse(obj.get("lot", {}), instrument_code=code, path=f"{path}.lot"),
        amount=amount,
        reason=_text(obj, "reason", path, max_len=64),
        controller=check_id(obj.get("controller"), field=f"{path}.controller"),
    )


@dataclass(frozen=True, slots=True)
class TxBody:
    """A transaction: postings that balance per (instrument, lot), plus hold operations.

    ``action`` names the business event (``transfer``, ``auction.settle``...); ``meta`` is
    the workflow's evidence (bid, loan, methodology result), signed with the rest.
    """

    action: str
    nonce: str
    postings: tuple[Posting, ...] = ()
    holds: tuple[HoldOp, ...] = ()
    signers: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    type: ClassVar[str] = "tx"

    def __post_init__(self) -> None:
        if not self.postings and not self.holds and self.action not in EVIDENCE_ACTIONS:
            # The parser refuses it too: live and replay must agree on what a record may be.
            raise InvalidInput("a transaction needs postings or hold operations", field="body.postings")
        check_balanced(self.postings)
        json_object(self.meta, "body.meta")

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "tx",
            "action": self.action,
            "nonce": self.nonce,
            "postings": [p.to_json() for p in self.postings],
            "holds": [h.to_json() for h in self.holds],
            "signers": list(self.signers),
            "meta": self.meta,
        }


def check_balanced(postings: tuple[Posting, ...]) -> None:
    """Double entry: the amounts of each (instrument, lot) sum to zero, and no position is
    both debited and credited (that would record a movement of units nobody holds)."""
    sums: dict[tuple[str, str], int] = defaultdict(int)
    signs: dict[BalanceKey, int] = {}
    for i, p in enumerate(postings):
        sums[(p.instrument, p.lot.key())] += p.amount
        sign = 1 if p.amount > 0 else -1
        if signs.setdefault(p.key, sign) != sign:
            raise InvalidInput(
                f"postings[{i}] moves {p.instrument} into the account it leaves ({p.account})",
                field=f"postings[{i}].account",
            )
    for (code, lot), total in sums.items():
        if total:
            raise UnbalancedTransaction(
                f"postings of {code} {lot or '(no lot)'} sum to {total}, not zero",
                field="postings",
                instrument=code,
                lot=lot,
                residual=total,
            )


@dataclass(frozen=True, slots=True)
class Genesis:
    """Record 0: names the registry and its first signing key."""

    name: str
    key_id: str
    public_key: bytes
    nonce: str
    type: ClassVar[str] = "genesis"

    def __post_init__(self) -> None:
        check_public_key(self.public_key, field="body.public_key")

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "genesis",
            "registry": REGISTRY,
            "name": self.name,
            "key_id": self.key_id,
            "public_key": b64e(self.public_key),
            "nonce": self.nonce,
        }


@dataclass(frozen=True, slots=True)
class RegisterParty:
    party: str
    role: str
    profile: dict[str, Any]
    nonce: str
    type: ClassVar[str] = "party.register"

    def __post_init__(self) -> None:
        json_object(self.profile, "body.profile")

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "party": self.party,
            "role": self.role,
            "profile": self.profile,
            "nonce": self.nonce,
        }


@dataclass(frozen=True, slots=True)
class OpenAccount:
    account: str
    owner: str
    kind: AccountKind
    nonce: str
    type: ClassVar[str] = "account.open"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "account": self.account,
            "owner": self.owner,
            "kind": self.kind.value,
            "nonce": self.nonce,
        }


@dataclass(frozen=True, slots=True)
class RegisterKey:
    """A party's Ed25519 public key, valid for signatures from ``valid_from`` on. ``custody``: the
    registry generated the key and holds it for the party, so signatures with it may (and only
    signatures with such a key may) say ``"custody": true``."""

    party: str
    key_id: str
    public_key: bytes
    valid_from: datetime
    nonce: str
    custody: bool = False
    type: ClassVar[str] = "key.register"

    def __post_init__(self) -> None:
        check_public_key(self.public_key, field="body.public_key")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "party": self.party,
            "key_id": self.key_id,
            "public_key": b64e(self.public_key),
            "valid_from": format_utc(self.valid_from),
            "nonce": self.nonce,
        }
        if self.custody:  # absent means False: one spelling only, as on a signature
            out["custody"] = True
        return out


@dataclass(frozen=True, slots=True)
class RevokeKey:
    """Ends a key's validity at ``revoked_at``; signatures made at or after it are refused."""

    party: str
    key_id: str
    revoked_at: datetime | None  # None: effective at the record's own time ("now")
    reason: str
    nonce: str
    type: ClassVar[str] = "key.revoke"

    def to_json(self) -> dict[str, Any]:
        out = {
            "type": self.type,
            "party": self.party,
            "key_id": self.key_id,
            "reason": self.reason,
            "nonce": self.nonce,
        }
        if self.revoked_at is not None:
            out["revoked_at"] = format_utc(self.revoked_at)
        return out


@dataclass(frozen=True, slots=True)
class AdoptRules:
    """From this record on, the journal is held to rule set ``version`` (``ledger.movements``).

    Sealed by the registry alone; replay applies to each record the rule set in force when it was
    written, so a journal begun under older rules still verifies after the upgrade."""

    version: int
    nonce: str
    type: ClassVar[str] = "rules.adopt"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "version": self.version, "nonce": self.nonce}


Body = TxBody | Genesis | RegisterParty | OpenAccount | RegisterKey | RevokeKey | AdoptRules
_ADMIN_TYPES = ("party.register", "account.open", "key.register", "key.revoke", "genesis", "rules.adopt")


@dataclass(frozen=True, slots=True)
class Signature:
    """A party's consent to a body. ``custody`` marks a key the registry holds for the party."""

    party: str
    key_id: str
    sig: bytes
    custody: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"party": self.party, "key_id": self.key_id, "sig": b64e(self.sig)}
        if self.custody:
            out["custody"] = True
        return out

    @classmethod
    def parse(cls, value: object, path: str) -> Signature:
        obj = _object(value, path)
        _no_extra(obj, {"party", "key_id", "sig", "custody"}, path)
        try:
            sig = b64d(obj.get("sig"), length=64)  # type: ignore[arg-type]
        except ValueError as exc:
            raise InvalidInput(f"{path}.sig: {exc}", field=f"{path}.sig") from None
        custody = obj.get("custody", False)
        if "custody" in obj and custody is not True:  # absent means False: one spelling only
            raise InvalidInput(f"{path}.custody is either true or absent", field=f"{path}.custody")
        return cls(
            party=check_id(obj.get("party"), field=f"{path}.party"),
            key_id=_text(obj, "key_id", path, max_len=64),
            sig=sig,
            custody=custody,
        )


def check_public_key(raw: bytes, *, field: str) -> bytes:
    """``raw`` if it is a key the ledger registers (a prime-order point, canonically encoded), else
    ``InvalidPublicKey`` naming the reason (see ``ledger.crypto.public_key_problem``)."""
    problem = public_key_problem(raw) if isinstance(raw, bytes) else "length"
    if problem is not None:
        raise InvalidPublicKey(
            f"{field} is not an Ed25519 public key the registry accepts ({problem.replace('_', ' ')})",
            field=field,
            reason=problem,
        )
    return raw


def _public_key(obj: dict[str, Any], path: str) -> tuple[str, bytes]:
    try:
        raw = b64d(obj.get("public_key"), length=32)  # type: ignore[arg-type]
    except ValueError as exc:
        raise InvalidInput(f"{path}.public_key: {exc}", field=f"{path}.public_key") from None
    key_id = _text(obj, "key_id", path, max_len=64)
    if key_id != key_id_for(raw):
        raise InvalidInput(f"{path}.key_id does not match the public key", field=f"{path}.key_id")
    return key_id, raw


def _instant(obj: dict[str, Any], name: str, path: str) -> datetime:
    try:
        return parse_utc(obj.get(name))  # type: ignore[arg-type]
    except ValueError as exc:
        raise InvalidInput(f"{path}.{name}: {exc}", field=f"{path}.{name}") from None


def _parse_tx(obj: dict[str, Any], path: str) -> TxBody:
    _no_extra(obj, {"type", "action", "nonce", "postings", "holds", "signers", "meta"}, path)
    postings = tuple(
        Posting.parse(p, f"{path}.postings[{i}]")
        for i, p in enumerate(_list(obj.get("postings", []), f"{path}.postings"))
    )
    holds = tuple(
        _parse_hold(h, f"{path}.holds[{i}]")
        for i, h in enumerate(_list(obj.get("holds", []), f"{path}.holds"))
    )
    if not postings and not holds and obj.get("action") not in EVIDENCE_ACTIONS:
        raise InvalidInput("a transaction needs postings or hold operations", field=f"{path}.postings")
    signers = tuple(
        check_id(s, field=f"{path}.signers[{i}]")
        for i, s in enumerate(_list(obj.get("signers", []), f"{path}.signers"))
    )
    return TxBody(
        action=_text(obj, "action", path, max_len=64),
        nonce=_text(obj, "nonce", path, max_len=64),
        postings=postings,
        holds=holds,
        signers=signers,
        meta=json_object(obj.get("meta", {}), f"{path}.meta"),
    )


def parse_body(value: object, path: str = "body") -> Body:
    """The typed body of a JSON object, or ``InvalidInput`` naming the first bad field."""
    obj = _object(value, path)
    kind = obj.get("type")
    if kind == "tx":
        return _parse_tx(obj, path)
    if kind not in _ADMIN_TYPES:
        raise InvalidInput(f"{path}.type {kind!r} is not a record type", field=f"{path}.type")
    nonce = _text(obj, "nonce", path, max_len=64)
    if kind == "party.register":
        _no_extra(obj, {"type", "party", "role", "profile", "nonce"}, path)
        return RegisterParty(
            party=check_id(obj.get("party"), field=f"{path}.party"),
            role=_text(obj, "role", path, max_len=32),
            profile=json_object(obj.get("profile", {}), f"{path}.profile"),
            nonce=nonce,
        )
    if kind == "account.open":
        _no_extra(obj, {"type", "account", "owner", "kind", "nonce"}, path)
        try:
            account_kind = AccountKind(str(obj.get("kind")))
        except ValueError:
            raise InvalidInput(f"{path}.kind is not an account kind", field=f"{path}.kind") from None
        return OpenAccount(
            account=check_id(obj.get("account"), field=f"{path}.account"),
            owner=check_id(obj.get("owner"), field=f"{path}.owner"),
            kind=account_kind,
            nonce=nonce,
        )
    if kind == "key.register":
        _no_extra(obj, {"type", "party", "key_id", "public_key", "valid_from", "nonce", "custody"}, path)
        key_id, raw = _public_key(obj, path)
        if "custody" in obj and obj["custody"] is not True:
            raise InvalidInput(f"{path}.custody is either true or absent", field=f"{path}.custody")
        return RegisterKey(
            party=check_id(obj.get("party"), field=f"{path}.party"),
            key_id=key_id,
            public_key=raw,
            valid_from=_instant(obj, "valid_from", path),
            nonce=nonce,
            custody="custody" in obj,
        )
    if kind == "key.revoke":
        _no_extra(obj, {"type", "party", "key_id", "revoked_at", "reason", "nonce"}, path)
        return RevokeKey(
            party=check_id(obj.get("party"), field=f"{path}.party"),
            key_id=_text(obj, "key_id", path, max_len=64),
            revoked_at=_instant(obj, "revoked_at", path) if "revoked_at" in obj else None,
            reason=_text(obj, "reason", path),
            nonce=nonce,
        )
    if kind == "rules.adopt":
        _no_extra(obj, {"type", "version", "nonce"}, path)
        version = obj.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 999:
            raise InvalidInput(f"{path}.version must be a rule-set number", field=f"{path}.version")
        return AdoptRules(version=version, nonce=nonce)
    if kind == "genesis":
        _no_extra(obj, {"type", "registry", "name", "key_id", "public_key", "nonce"}, path)
        if obj.get("registry") != REGISTRY:
            raise InvalidInput(f"{path}.registry must be {REGISTRY!r}", field=f"{path}.registry")
        key_id, raw = _public_key(obj, path)
        return Genesis(name=_text(obj, "name", path), key_id=key_id, public_key=raw, nonce=nonce)
    raise InvalidInput(f"{path}.type {kind!r} is not a record type", field=f"{path}.type")


assert MAX_AMOUNT < 2**63  # fits a BIGINT column in both engines
