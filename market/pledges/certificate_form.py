"""The pledge certificate's file format (``ecoledger-pledge-certificate-v1``): its JSON form and a strict
parser whose refusals name the field in the file's own terms, never the parser's internals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from ledger.canonical import canonical_bytes
from ledger.checkpoint import Checkpoint
from ledger.crypto import b64d, b64e
from ledger.errors import DomainError
from market.pledges.errors import MalformedCertificate

__all__ = ["FORMAT", "MAX_PATH", "PartyKey", "PledgeCertificate", "Problem"]

FORMAT: Final = "ecoledger-pledge-certificate-v1"
MAX_PATH: Final = 64  # an RFC 6962 audit path of a tree of up to 2^64 records
_MAX_KEYS: Final = 16
_MAX_RECORD: Final = 64_000  # bytes of a journal line: far above a registration, far below harm
_FIELDS: Final = {"format", "registry_public_key", "seq", "record", "path", "checkpoint", "keys", "pledge"}
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a certificate: the field of the file it concerns, and why; ``code`` and
    ``args`` say the same for a reader in another language (the console renders them, never ``message``)."""

    field: str
    message: str
    code: str = "other"
    args: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass(frozen=True, slots=True)
class PartyKey:
    """A public key a party signed the record (or its approval) with, as the registry lists it."""

    party: str
    key_id: str
    public_key: bytes

    def to_json(self) -> dict[str, str]:
        return {"party": self.party, "key_id": self.key_id, "public_key": b64e(self.public_key)}


@dataclass(frozen=True, slots=True)
class PledgeCertificate:
    """The certificate file: the evidence (record, proof, checkpoint, keys) and what it shows
    (``pledge``: the displayed fields, trusted only once ``verify_certificate`` matched them)."""

    registry_public_key: bytes
    seq: int
    record: bytes
    path: tuple[bytes, ...]
    checkpoint: Checkpoint
    keys: tuple[PartyKey, ...]
    pledge: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "registry_public_key": b64e(self.registry_public_key),
            "seq": self.seq,
            "record": self.record.decode(),
            "path": [p.hex() for p in self.path],
            "checkpoint": self.checkpoint.to_json(),
            "keys": [k.to_json() for k in self.keys],
            "pledge": self.pledge,
        }

    def file_bytes(self) -> bytes:
        """The file as the registry writes it: canonical JSON (RFC 8785), so its hash is stable."""
        return canonical_bytes(self.to_json())

    @classmethod
    def from_json(cls, obj: Any) -> PledgeCertificate:
        """Parse a certificate file strictly; ``MalformedCertificate`` names the field that is wrong."""
        if not isinstance(obj, dict):
            raise MalformedCertificate("a pledge certificate is a JSON object", field="$")
        if obj.get("format") != FORMAT:
            raise MalformedCertificate(f"format must be {FORMAT}", field="format")
        extra = sorted(set(obj) - _FIELDS)
        if extra:
            raise MalformedCertificate(f"{extra[0]} is not a field of a pledge certificate", field=extra[0])
        record = _get(obj, "record", _text)
        if len(record) > _MAX_RECORD:
            raise MalformedCertificate("record is too long", field="record")
        path = _get(obj, "path", _list)
        keys = _get(obj, "keys", _list)
        if len(path) > MAX_PATH or len(keys) > _MAX_KEYS:
            raise MalformedCertificate(
                "path or keys is too long", field="path" if len(path) > MAX_PATH else "keys"
            )
        return cls(
            registry_public_key=_get(obj, "registry_public_key", _key),
            seq=_get(obj, "seq", _seq),
            record=record.encode("utf-8"),
            path=tuple(_at(f"path[{i}]", p, _node) for i, p in enumerate(path)),
            checkpoint=_get(obj, "checkpoint", _checkpoint),
            keys=tuple(_party_key(i, k) for i, k in enumerate(keys)),
            pledge=_get(obj, "pledge", _object),
        )


def _at(field: str, value: object, parse: Callable[[object], T]) -> T:
    try:
        return parse(value)
    except (TypeError, ValueError, DomainError) as exc:
        why = exc.message if isinstance(exc, DomainError) else str(exc)
        raise MalformedCertificate(f"{field}: {why}", field=field) from None


def _get(obj: dict[str, Any], name: str, parse: Callable[[object], T]) -> T:
    if name not in obj:
        raise MalformedCertificate(f"{name} is missing", field=name)
    return _at(name, obj[name], parse)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected text")
    return value


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("expected a list")
    return value


def _object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("expected an object")
    return value


def _seq(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        raise ValueError("expected a record number (a non-negative integer)")
    return value


def _key(value: object) -> bytes:
    return b64d(_text(value), length=32)


def _node(value: object) -> bytes:
    text = _text(value)
    if len(text) != 64 or text != text.lower():
        raise ValueError("expected 64 lowercase hex digits")
    return bytes.fromhex(text)


def _checkpoint(value: object) -> Checkpoint:
    return Checkpoint.from_json(value)


def _party_key(i: int, value: object) -> PartyKey:
    field = f"keys[{i}]"
    obj = _at(field, value, _object)
    if set(obj) != {"party", "key_id", "public_key"}:
        raise MalformedCertificate(f"{field} holds exactly party, key_id and public_key", field=field)
    return PartyKey(
        _at(f"{field}.party", obj["party"], _text),
        _at(f"{field}.key_id", obj["key_id"], _text),
        _at(f"{field}.public_key", obj["public_key"], _key),
    )
