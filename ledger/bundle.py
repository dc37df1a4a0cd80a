"""The auditor's bundle: the journal, its checkpoints and key events, written and read back.

Streams both ways (chunks in, lines out) so millions of records fit in bounded memory.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ledger.canonical import canonical_bytes
from ledger.checkpoint import Checkpoint
from ledger.crypto import TAG_RECORD, b64e, sha256, tagged
from ledger.errors import MalformedRecord
from ledger.model import Lot
from ledger.timeutil import format_utc, parse_date, utc_now

if TYPE_CHECKING:  # the reader needs neither the database layer nor pyarrow: both load on use
    import pyarrow as pa  # type: ignore[import-untyped]
    from sqlmodel import Session

    from ledger.service import InclusionProof

__all__ = [
    "CERTIFICATE_FORMAT",
    "FORMAT",
    "Bundle",
    "BundleError",
    "BundleWriter",
    "certificate_json",
    "export_bundle",
    "key_event",
    "write_bundle",
]

# Layout: a directory, optionally also packed as <dir>.tar. Only journal.jsonl and
# checkpoints.jsonl are evidence; everything else is derived from them.
#   manifest.json       format, registry name and key, record count, head hash, sha256 per file
#   journal.jsonl       the exact SealedRecord.line() bytes, one per line (what is signed)
#   checkpoints.jsonl   Checkpoint.line() per line, by tree size
#   keys.jsonl          key events taken from the journal (a convenience: the verifier never trusts it)
#   analysis/*.parquet  records, postings and hold operations as tables, for pandas
FORMAT = "ecoledger-bundle-v1"
CERTIFICATE_FORMAT = "ecoledger-certificate-v1"
MANIFEST, JOURNAL, CHECKPOINTS, KEYS = "manifest.json", "journal.jsonl", "checkpoints.jsonl", "keys.jsonl"
ANALYSIS = ("analysis/records.parquet", "analysis/postings.parquet", "analysis/holds.parquet")
_LINE_HEAD = b'{"record":'
_LINE_TAIL = b',"registry_sig":"'


_COLUMNS = {  # the analysis tables: (column, type) with types as pyarrow names them
    "records": "seq:int64 time:timestamp signers:list type:string action:string hash:string",
    "postings": "seq:int64 idx:int32 account:string instrument:string lot:string jurisdiction:string "
    "valid_until:string vintage:int32 batch:string amount:int64",
    "holds": "seq:int64 idx:int32 op:string hold:string account:string instrument:string lot:string "
    "amount:int64 reason:string controller:string",
}


def _schemas() -> dict[str, pa.Schema]:
    import pyarrow as pa

    kinds = {
        "int64": pa.int64(),
        "int32": pa.int32(),
        "string": pa.string(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "list": pa.list_(pa.string()),
    }
    return {
        name: pa.schema([(col, kinds[kind]) for col, kind in (c.split(":") for c in spec.split())])
        for name, spec in _COLUMNS.items()
    }


class BundleError(Exception):
    """A bundle that cannot be read as one: missing file, bad manifest, malformed checkpoint."""


def key_event(seq: int, time: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """The key event a record body carries (genesis, key.register, key.revoke), else None."""
    kind = body.get("type")
    event: dict[str, Any]
    if kind == "genesis":
        event = {"event": "genesis", "party": "registry", "valid_from": time}
    elif kind == "key.register":
        event = {"event": "register", "party": body.get("party"), "valid_from": body.get("valid_from")}
        if body.get("custody") is True:
            event["custody"] = True
    elif kind == "key.revoke":
        event = {"event": "revoke", "party": body.get("party"), "revoked_at": body.get("revoked_at", time)}
    else:
        return None
    event.update({"seq": seq, "time": time, "key_id": body.get("key_id")})
    if "public_key" in body:
        event["public_key"] = body["public_key"]
    return event


def record_core(line: bytes) -> bytes:
    """The signed core inside a line the registry wrote (``SealedRecord.line`` layout)."""
    end = line.rfind(_LINE_TAIL)
    if not line.startswith(_LINE_HEAD) or end < 0:
        raise MalformedRecord("not a journal line", field="$")
    return line[len(_LINE_HEAD) : end]


class _HashingFile:
    """A binary file written through SHA-256."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)

    def close(self) -> dict[str, Any]:
        self._file.close()
        return {"sha256": self._hash.hexdigest(), "bytes": self.size}


def _file_digest(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"sha256": digest.hexdigest(), "bytes": path.stat().st_size}


class _Table:
    """Rows buffered per column and written to Parquet every ``chunk`` rows."""

    def __init__(self, path: Path, schema: pa.Schema, chunk: int) -> None:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        self.path, self.schema, self.chunk = path, schema, chunk
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(path, schema, compression="zstd")
        self._cols: dict[str, list[Any]] = {name: [] for name in schema.names}
        self._rows = 0

    def add(self, *values: Any) -> None:
        for col, value in zip(self._cols.values(), values, strict=True):
            col.append(value)
        self._rows += 1
        if self._rows >= self.chunk:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        if not self._rows:
            return
        arrays = []
        for name, values in self._cols.items():
            kind = self.schema.field(name).type
            if pa.types.is_timestamp(kind):
                arrays.append(pa.array(values, pa.string()).cast(kind))
            else:
                arrays.append(pa.array(values, kind))
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        self._cols = {name: [] for name in self.schema.names}
        self._rows = 0

    def close(self) -> None:
        self.flush()
        self._writer.close()


@dataclass(frozen=True)
class Manifest:
    data: dict[str, Any]

    @property
    def records(self) -> int:
        return int(self.data["records"])

    @property
    def head_hash(self) -> str:
        return str(self.data["head_hash"])


class BundleWriter:
    """Writes a bundle one record and one checkpoint at a time.

    Trusts its input to be the registry's own lines (the verifier checks them); it reads
    each with the plain JSON decoder only to fill the derived files.
    """

    def __init__(self, out_dir: Path, *, chunk_rows: int = 50_000) -> None:
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self._journal = _HashingFile(self.out / JOURNAL)
        self._checkpoints = _HashingFile(self.out / CHECKPOINTS)
        self._keys = _HashingFile(self.out / KEYS)
        self._tables = {
            name: _Table(self.out / "analysis" / f"{name}.parquet", schema, chunk_rows)
            for name, schema in _schemas().items()
        }
        self.records = 0
        self.head_hash = bytes(32).hex()
        self.genesis: dict[str, Any] = {}
        self._checkpoint_count = 0
        self._last_size = -1

    def add_record(self, line: bytes) -> None:
        self._journal.write(line + b"\n")
        self.head_hash = sha256(tagged(TAG_RECORD, record_core(line))).hex()
        record = json.loads(line)["record"]
        seq, time, body = record["seq"], record["time"], record["body"]
        if seq == 0:
            self.genesis = body
        event = key_event(seq, time, body)
        if event is not None:
            self._keys.write(canonical_bytes(event) + b"\n")
        signers = [s["party"] for s in record["sigs"]]
        self._tables["records"].add(seq, time, signers, body.get("type"), body.get("action"), self.head_hash)
        for i, p in enumerate(body.get("postings", ())):
            lot = p.get("lot", {})
            self._tables["postings"].add(
                seq,
                i,
                p["account"],
                p["instrument"],
                _lot_key(lot),
                lot.get("jurisdiction"),
                lot.get("valid_until"),
                lot.get("vintage"),
                lot.get("batch"),
                p["amount"],
            )
        for i, h in enumerate(body.get("holds", ())):
            lot = h.get("lot")
            self._tables["holds"].add(
                seq,
                i,
                h["op"],
                h["hold"],
                h.get("account"),
                h.get("instrument"),
                None if lot is None else _lot_key(lot),
                h["amount"],
                h.get("reason"),
                h.get("controller"),
            )
        self.records += 1

    def add_checkpoint(self, cp: Checkpoint) -> None:
        if cp.tree_size <= self._last_size:
            raise BundleError("checkpoints must be added in increasing order of tree size")
        self._last_size = cp.tree_size
        self._checkpoints.write(cp.line() + b"\n")
        self._checkpoint_count += 1

    def close(self, *, created_at: datetime | None = None) -> Manifest:
        files = {
            JOURNAL: self._journal.close(),
            CHECKPOINTS: self._checkpoints.close(),
            KEYS: self._keys.close(),
        }
        for name, table in self._tables.items():
            table.close()
            files[f"analysis/{name}.parquet"] = _file_digest(table.path)
        data = {
            "format": FORMAT,
            "created_at": format_utc(created_at or utc_now()),
            "registry": self.genesis.get("name"),
            "registry_key_id": self.genesis.get("key_id"),
            "registry_public_key": self.genesis.get("public_key"),
            "records": self.records,
            "head_hash": self.head_hash,
            "checkpoints": self._checkpoint_count,
            "files": files,
            "evidence": [JOURNAL, CHECKPOINTS],
        }
        (self.out / MANIFEST).write_text(
            json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )
        return Manifest(data)


def _lot_key(lot: dict[str, Any]) -> str:
    until = lot.get("valid_until")
    return Lot(
        lot.get("jurisdiction"),
        None if until is None else parse_date(until),
        lot.get("vintage"),
        lot.get("batch"),
    ).key()


def write_bundle(
    out_dir: Path,
    lines: Iterable[bytes],
    cps: Iterable[Checkpoint],
    *,
    tar: bool = False,
    chunk_rows: int = 50_000,
) -> Manifest:
    """Write a bundle from journal lines and checkpoints (both in order)."""
    writer = BundleWriter(out_dir, chunk_rows=chunk_rows)
    for line in lines:
        writer.add_record(line)
    for cp in cps:
        writer.add_checkpoint(cp)
    manifest = writer.close()
    if tar:
        pack(Path(out_dir))
    return manifest


def export_bundle(
    session: Session, out_dir: Path, *, tar: bool = False, chunk: int = 2000, chunk_rows: int = 50_000
) -> Manifest:
    """Export the journal as it stands now: records [0, head) and the checkpoints within them.

    The journal only grows, so fixing the head first gives a consistent cut even while
    writers keep appending (under READ COMMITTED each chunk is its own snapshot).
    """
    from ledger.service import checkpoints, head_size, journal_lines

    stop = head_size(session)
    lines = journal_lines(session, start=0, stop=stop, chunk=chunk)
    cps = (cp for cp in checkpoints(session) if cp.tree_size <= stop)
    return write_bundle(out_dir, lines, cps, tar=tar, chunk_rows=chunk_rows)


def pack(out_dir: Path) -> Path:
    """``<dir>.tar`` holding the bundle's files at its root."""
    target = out_dir.with_name(out_dir.name + ".tar")
    with tarfile.open(target, "w") as tar:
        for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
            tar.add(path, arcname=path.relative_to(out_dir).as_posix())
    return target


def certificate_json(proof: InclusionProof, registry_public_key: bytes) -> dict[str, Any]:
    """One record with its inclusion proof and signed checkpoint: verifiable on its own."""
    return {"format": CERTIFICATE_FORMAT, **proof.to_json(), "registry_public_key": b64e(registry_public_key)}


class Bundle:
    """A bundle on disk (directory or .tar), read as streams."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._tar: tarfile.TarFile | None = None
        if self.path.is_file():
            try:
                self._tar = tarfile.open(self.path, "r")  # noqa: SIM115  (Bundle.close closes it)
            except tarfile.TarError as exc:
                raise BundleError(f"{self.path} is neither a bundle directory nor a tar: {exc}") from None
        elif not self.path.is_dir():
            raise BundleError(f"no bundle at {self.path}")
        with self.open(MANIFEST) as f:
            try:
                manifest = json.loads(f.read())
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise BundleError(f"{MANIFEST} is not JSON: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BundleError(f"{MANIFEST}: not a {FORMAT} bundle")
        self.manifest: dict[str, Any] = manifest

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        if self._tar is None:
            try:
                f: IO[bytes] = (self.path / name).open("rb")
            except FileNotFoundError:
                raise BundleError(f"the bundle has no {name}") from None
        else:
            try:
                member = self._tar.extractfile(name)
            except KeyError:
                member = None
            if member is None:
                raise BundleError(f"the bundle has no {name}")
            f = member
        with f:
            yield f

    def has(self, name: str) -> bool:
        if self._tar is None:
            return (self.path / name).is_file()
        try:
            self._tar.getmember(name)
        except KeyError:
            return False
        return True

    def expected_digest(self, name: str) -> str | None:
        entry = self.manifest.get("files", {}).get(name)
        return entry.get("sha256") if isinstance(entry, dict) else None

    def lines(self, name: str, digest: Any = None) -> Iterator[bytes]:
        """The lines of ``name`` without their newline; each line's bytes (and newline)
        also go into ``digest`` when given, so a file is hashed while it is read."""
        with self.open(name) as f:
            for raw in f:
                if digest is not None:
                    digest.update(raw)
                yield raw[:-1] if raw.endswith(b"\n") else raw

    def checkpoints(self, digest: Any = None) -> Iterator[Checkpoint]:
        """checkpoints.jsonl parsed; a malformed line is a ``BundleError`` naming it."""
        for n, line in enumerate(self.lines(CHECKPOINTS, digest), start=1):
            try:
                yield Checkpoint.from_line(line)
            except MalformedRecord as exc:
                raise BundleError(f"{CHECKPOINTS} line {n}: {exc.message}") from None

    def digest_of(self, name: str) -> str:
        digest = hashlib.sha256()
        with self.open(name) as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
