"""The ``ecoledger`` command: init, demo, serve, verify, key generation, export, audit and db.

Configuration comes from the environment (ECOLEDGER_DATABASE_URL, ECOLEDGER_REGISTRY_KEY)
or flags; each command opens its own session and commits what it wrote.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

import accounts.tables  # noqa: F401  (registers the participant tables before create_schema)
import market  # noqa: F401  (registers the workflow tables before create_schema)
from accounts.custody import Vault
from api import migrations
from api.cli_credentials import add_credential_commands
from api.keyfile import checked_key, load_key, open_database, resolve_key_path, write_secret
from api.replica import READ_URL_ENV, read_url, source_engine
from ledger.crypto import SigningKey, b64d, b64e
from ledger.db import make_engine, read_only
from ledger.errors import DomainError, LedgerNotInitialized
from ledger.movements import CURRENT_RULE_SET
from ledger.replay import ReplayFailure
from ledger.service import (
    Registry,
    adopt_rules,
    head_size,
    init_ledger,
    make_checkpoint,
    replay_database,
)
from ledger.state import LedgerState
from methodologies.registry import recompute

# A base64url key may begin with "-", which argparse would take for an option: hence the = form.
REGISTRY_KEY_HELP = "the registry's public key (base64url), from a trusted source; write --registry-key=KEY"
PLEDGE_CERTIFICATE = (
    "ecoledger-pledge-certificate-v1"  # market.pledges.certificate_form.FORMAT, without importing it
)


def open_registry(url: str | None, key_path: str | None, *, create: bool = False) -> tuple[Engine, Registry]:
    """An engine and the registry's signing identity for a command that writes: the key is checked
    against record 0 (``checked_key``) before the schema is upgraded, which is itself a write."""
    engine = make_engine(url)
    try:
        key = checked_key(engine, key_path, create=create)
        if key is None:
            raise SystemExit(
                f"FAILED: no registry key at {resolve_key_path(key_path)}: run `ecoledger init` (it creates "
                "one for a new journal) or pass --key FILE"
            )
        # Through the migrations, so a database the registry writes to is always stamped.
        migrations.upgrade(engine)
        registry = Registry(key)
        adopt_current_rules(engine, registry)
    except BaseException:
        engine.dispose()
        raise
    return engine, registry


def adopt_current_rules(engine: Engine, registry: Registry) -> None:
    """An existing journal written under older rules is held to the current rule set from its next
    record on (a sealed ``rules.adopt``); the records before it replay under their own rules."""
    with Session(engine) as s:
        try:
            adopted = adopt_rules(s, registry=registry)
        except LedgerNotInitialized:
            return  # `init` writes the genesis and adopts the rule set itself
        if adopted is not None:
            s.commit()
            print(
                f"journal now held to rule set {CURRENT_RULE_SET} from record {adopted.seq}", file=sys.stderr
            )


def cmd_init(args: argparse.Namespace) -> int:
    engine, registry = open_registry(args.db, args.key, create=True)
    try:
        with Session(engine) as s:
            receipt = init_ledger(s, registry=registry, name=args.name)
            s.commit()
    except DomainError as exc:
        print(f"FAILED: {exc.message}")
        return 1
    finally:
        engine.dispose()  # a CLI command leaves no connection behind (PostgreSQL counts them)
    print(f"journal created: genesis {receipt.hash[:16]}..., registry key {registry.key.key_id}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    engine = source_engine(args)  # the replica (key checked, lag printed) under --read-db
    with Session(engine) as s:
        report, diff = replay_database(s)
    engine.dispose()
    if not report.ok:
        print(f"FAILED at {report.failure}")
        return 1
    if diff:
        print(f"FAILED: {len(diff)} live balances differ from the replay, e.g. {next(iter(diff.items()))}")
        return 1
    print(
        f"OK: {report.records} records, {report.checkpoints_verified} checkpoints verified, "
        f"{len(report.state.positions)} positions equal to the replay"
    )
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    key = SigningKey.generate()
    write_secret(Path(args.out), key.to_pem())
    print(f"key_id {key.key_id}\npublic_key {b64e(key.public)}")
    return 0


def build_app(url: str | None, key_path: str | None, custody_secret: str | None) -> Any:
    """The API over an upgraded database: what each ``serve --workers`` process runs."""
    from api.app import create_app

    key = load_key(resolve_key_path(key_path))
    replica_url = os.environ.get(READ_URL_ENV)  # serve --read-db sets it for its workers
    replica = make_engine(replica_url) if replica_url else None
    # create_app checks the key again
    return create_app(make_engine(url), Registry(key), load_vault(custody_secret), replica=replica)


def load_vault(path: str | None) -> Vault | None:
    """The custody vault from ``--custody-secret FILE``, else $ECOLEDGER_CUSTODY_SECRET, else none
    (then the registry signs for no one: every participant signs its own instructions)."""
    if path is None:
        return Vault.from_env()
    try:
        return Vault.from_text(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"--custody-secret: {exc}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    from api.server import serve

    engine, _ = open_registry(args.db, args.key)  # key checked and schema upgraded once, here
    engine.dispose()
    load_vault(args.custody_secret)  # a bad secret stops here, not in every worker
    if read_url(args):
        os.environ[READ_URL_ENV] = read_url(args) or ""  # balance reads from the replica, in every worker
    return serve(
        partial(build_app, args.db, args.key, args.custody_secret),
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=not args.no_access_log,
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from api import demo

    folder = Path(args.dir)
    db = folder / "demo.db"
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    # a new journal (the file was just removed): the folder's key is used, or made
    engine, registry = open_registry(f"sqlite:///{db}", str(folder / "registry-key.pem"), create=True)
    vault = Vault.generate()
    demo.write_private(folder / "custody-secret", vault.to_text() + "\n")
    facts = demo.load(engine, registry, vault)
    demo.write_private(folder / "logins.txt", demo.logins_text(facts.logins))
    with Session(engine) as s:
        make_checkpoint(s, registry=registry)
        s.commit()
    with Session(engine) as s:
        report, diff = replay_database(s)
        size = head_size(s)
    status = "verified" if report.ok and not diff else f"NOT verified: {report.failure}"
    base = f"http://{args.host}:{args.port}"
    print("=" * 100)
    print(" ecoledger demo — Zhejiang discharge rights, VOCs quotas and blue carbon (SQLite, embedded)")
    print(f" database  {db}  (scenario loaded in {facts.seconds:.1f} s)")
    print(f" journal   {size} signed records, checkpoint at {size}, replay {status}")
    print(f" scenario  {facts.participants} participants with keys in custody and a login each")
    for line in facts.summary:
        print(f"   · {line}")
    print(f" console   {base}/console")
    print(f" API docs  {base}/docs   (Authorization: Bearer <access key>)")
    print(f" logins    also in {folder / 'logins.txt'} (0600); custody secret in {folder / 'custody-secret'}")
    for line in demo.logins_text(facts.logins).splitlines():
        print(f"   {line}")
    print(
        f" again     ecoledger --db sqlite:///{db} --key {folder / 'registry-key.pem'} serve "
        f"--custody-secret {folder / 'custody-secret'}"
    )
    print("=" * 100, flush=True)
    if not args.no_serve:
        from api.app import create_app
        from api.server import serve

        return serve(lambda: create_app(engine, registry, vault), host=args.host, port=args.port)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ledger.bundle import export_bundle

    engine = source_engine(args)  # the replica (key checked, lag printed) under --read-db
    with Session(engine) as s:
        manifest = export_bundle(s, Path(args.out), tar=args.tar)
    engine.dispose()
    m = manifest.data
    print(f"exported {m['records']:,} records and {m['checkpoints']:,} checkpoints to {args.out}")
    print(f"head hash {m['head_hash']}, registry key {m['registry_key_id']}")
    if args.tar:
        print(f"packed as {Path(args.out).with_name(Path(args.out).name + '.tar')}")
    return 0


def cmd_prove(args: argparse.Namespace) -> int:
    from ledger.bundle import certificate_json
    from ledger.service import prove_inclusion

    if (args.seq is None) == (args.pledge is None):
        raise SystemExit("prove: give a record number (SEQ) or --pledge ID, not both")
    engine, registry = open_registry(args.db, args.key)
    if args.pledge is not None:
        from api.cli_certificate import write_pledge_certificate

        with Session(engine) as s:
            pdf = Path(args.pdf) if args.pdf else None
            code = write_pledge_certificate(
                s, registry=registry, pledge_id=args.pledge, out=Path(args.out), pdf=pdf
            )
            s.commit()  # a checkpoint signed to cover the record is kept
        engine.dispose()
        return code
    with Session(engine) as s:
        try:
            proof = prove_inclusion(s, seq=args.seq, registry=registry)
        except DomainError as exc:
            print(f"FAILED: {exc.message}")
            return 1
        s.commit()  # a checkpoint signed to cover the record is kept
    Path(args.out).write_text(json.dumps(certificate_json(proof, registry.key.public), indent=2) + "\n")
    print(f"certificate for record {args.seq} under checkpoint {proof.checkpoint.tree_size} -> {args.out}")
    return 0


def methodology_check(seq: int, body: dict[str, Any], state: LedgerState) -> ReplayFailure | None:
    """A recorded issuance with a methodology result recomputes to that result, and the record
    credits no more than it (the auditor's replay of the methodology, as a replay plug-in)."""
    meta = body.get("meta")
    if not isinstance(meta, dict) or "methodology" not in meta:
        return None
    try:
        result = recompute(meta)
    except DomainError as exc:
        return ReplayFailure(
            seq, exc.code, exc.message, {"methodology": meta.get("methodology"), **exc.details}
        )
    credited = sum(
        p.get("amount", 0)
        for p in body.get("postings", ())
        if p.get("instrument") == "BC" and isinstance(p.get("amount"), int) and p["amount"] > 0
    )
    if credited > result.sink_kg_co2e:
        return ReplayFailure(
            seq,
            "methodology_overissued",
            f"credits {credited} kg CO2e but the methodology gives {result.sink_kg_co2e}",
            {"credited": credited, "recomputed": result.sink_kg_co2e},
        )
    return None


def _registry_key(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        return b64d(text, length=32)
    except ValueError as exc:
        raise SystemExit(f"--registry-key: {exc} (give the key as `keygen` prints it)") from None


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from api.restore import read_kept_checkpoints
    from ledger.audit import verify_bundle

    kept = []
    if args.checkpoints:
        try:
            kept = read_kept_checkpoints(Path(args.checkpoints))
        except (OSError, DomainError) as exc:
            raise SystemExit(f"--checkpoints: {exc}") from None
    summary = verify_bundle(
        Path(args.bundle),
        registry_key=_registry_key(args.registry_key),
        workers=args.workers,
        progress=args.progress or sys.stderr.isatty(),
        checks=[methodology_check],
        extra_checkpoints=kept,
    )
    print(summary.render())
    return 0 if summary.ok else 1


def cmd_audit_report(args: argparse.Namespace) -> int:
    from ledger.reports import ReportError, build_reports, parse_as_of

    try:
        as_of = parse_as_of(args.as_of)
    except ValueError as exc:
        raise SystemExit(f"--as-of: {exc}") from None
    try:
        reports = build_reports(
            Path(args.bundle),
            as_of=as_of,
            registry_key=_registry_key(args.registry_key),
            workers=args.workers or 1,
            checks=[methodology_check],
            label=f"end of {args.as_of} (UTC+8)" if len(args.as_of) == 10 else args.as_of,
        )
    except ReportError as exc:
        print(f"FAILED: {exc}")
        return 1
    written = reports.write(Path(args.out))
    print(f"as of {args.as_of} ({reports.records:,} records, head {reports.head_hash[:16]}...):")
    for path in written:
        print(f"  {path}")
    return 0


def cmd_audit_certificate(args: argparse.Namespace) -> int:
    from ledger.audit import verify_certificate_json

    try:
        obj = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"{args.file}: {exc}") from None
    pinned = _registry_key(args.registry_key)
    if isinstance(obj, dict) and obj.get("format") == PLEDGE_CERTIFICATE:
        from api.cli_certificate import check_pledge_certificate

        pdf = Path(args.pdf) if args.pdf else None
        return check_pledge_certificate(obj, pinned=pinned, online=args.online, token=args.token, pdf=pdf)
    if args.online or args.pdf:
        raise SystemExit("--online and --pdf are for pledge certificates")
    key = pinned
    if key is None:
        key = _registry_key(obj.get("registry_public_key") if isinstance(obj, dict) else None)
    if key is None:
        raise SystemExit("the certificate names no registry key: pass --registry-key")
    result = verify_certificate_json(obj, key)
    where = "pinned by --registry-key" if pinned else "from the certificate: NOT independently pinned"
    print(f"registry key {b64e(key)} ({where})")
    if not result.ok:
        print(f"FAILED: {result.rule}: {result.message}")
        return 1
    rec = result.record
    assert rec is not None
    print(f"OK: {result.message}")
    print(f"  record {rec.seq} at {rec.time.isoformat()}: {rec.body.get('action') or rec.body.get('type')}")
    print("  (party signatures need the journal's key history: verify the bundle for those)")
    return 0


def _db_url(args: argparse.Namespace) -> str | None:
    return str(args.url) if args.url else args.db


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    engine = open_database(_db_url(args), args.key)
    try:
        at = migrations.upgrade(engine, args.revision)
        key = checked_key(engine, args.key) if at == migrations.head() else None
        if key is not None:  # at head, a journal written under older rules adopts the current ones
            adopt_current_rules(engine, Registry(key))
    except migrations.MigrationError as exc:
        print(f"FAILED: {exc}")
        return 1
    finally:
        engine.dispose()
    print(f"database at revision {at}{' (head)' if at == migrations.head() else ''}")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    engine = open_database(_db_url(args), args.key)
    try:
        at, head = migrations.current(engine), migrations.head()
    finally:
        engine.dispose()
    if at is None:
        print(f"no revision: the database is empty or was created without migrations (head is {head})")
        return 1
    print(f"{at} (head)" if at == head else f"{at} (behind head {head}: run `ecoledger db upgrade`)")
    return 0 if at == head else 1


def cmd_db_check_checkpoint(args: argparse.Namespace) -> int:
    from api.restore import check_kept_checkpoint, read_kept_checkpoints

    try:
        kept = read_kept_checkpoints(Path(args.file))
    except (OSError, ValueError, DomainError) as exc:
        raise SystemExit(f"{args.file}: {exc}") from None
    if not kept:
        raise SystemExit(f"{args.file}: no checkpoint in it")
    engine = open_database(_db_url(args), args.key)
    try:
        with Session(read_only(engine)) as s:
            result = check_kept_checkpoint(s, kept[-1], registry_key=_registry_key(args.registry_key))
    finally:
        engine.dispose()
    print(f"{'OK' if result.ok else 'FAILED'}: {result.message}")
    return 0 if result.ok else 1


def cmd_db_revision(args: argparse.Namespace) -> int:
    path = migrations.draft_revision(args.message)
    print(f"draft revision written to {path}: review it, write it out by hand, then commit it")
    return 0


def add_db_commands(sub: Any) -> None:
    db = sub.add_parser("db", help="schema migrations, and the checks after a restore")
    dsub = db.add_subparsers(dest="db_command", required=True)
    url_help = "database URL (default --db, $ECOLEDGER_DATABASE_URL or sqlite)"
    p = dsub.add_parser("upgrade", help="create or upgrade the schema (one transaction; forward only)")
    p.add_argument("--url", help=url_help)
    p.add_argument("--revision", default="head", help="target revision (default head)")
    p.set_defaults(func=cmd_db_upgrade)
    p = dsub.add_parser("current", help="print the database's revision (exit 1 unless at head)")
    p.add_argument("--url", help=url_help)
    p.set_defaults(func=cmd_db_current)
    p = dsub.add_parser(
        "check-checkpoint", help="is the latest checkpoint kept in FILE a prefix of this journal?"
    )
    p.add_argument("file", help="kept checkpoints: canonical lines as GET /v1/checkpoints/latest serves them")
    p.add_argument("--url", help=url_help)
    p.add_argument("--registry-key", help=REGISTRY_KEY_HELP)
    p.set_defaults(func=cmd_db_check_checkpoint)
    p = dsub.add_parser("revision", help="draft the next revision from the models (for developers)")
    p.add_argument("message")
    p.set_defaults(func=cmd_db_revision)


def add_audit_commands(sub: Any) -> None:
    p = sub.add_parser("export", help="write the journal as an auditor's bundle (directory, optionally .tar)")
    p.add_argument("out", help="bundle directory to create")
    p.add_argument("--tar", action="store_true", help="also pack it as OUT.tar")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser(
        "prove", help="write an inclusion certificate for one record, or a pledge's certificate (--pledge)"
    )
    p.add_argument("seq", type=int, nargs="?", help="the record's number")
    p.add_argument("out", help="certificate JSON file to write")
    p.add_argument("--pledge", help="the pledge whose certificate (排污权抵质押登记证明) to write")
    p.add_argument("--pdf", help="with --pledge: also write the printable certificate to this PDF file")
    p.set_defaults(func=cmd_prove)
    audit = sub.add_parser("audit", help="verify a bundle offline, report from it, check a certificate")
    asub = audit.add_subparsers(dest="audit_command", required=True)
    p = asub.add_parser("verify", help="verify every record, signature, checkpoint and rule of a bundle")
    p.add_argument("bundle", help="bundle directory or .tar")
    p.add_argument("--registry-key", help=REGISTRY_KEY_HELP)
    p.add_argument(
        "--workers", type=int, help="processes parsing ahead (default: 1 for small bundles, else 2)"
    )
    p.add_argument(
        "--progress", action="store_true", help="show the progress bar even when not on a terminal"
    )
    p.add_argument("--checkpoints", help="checkpoints you kept yourself (JSON lines), verified as well")
    p.set_defaults(func=cmd_audit_verify)
    p = asub.add_parser("report", help="as-of reports (CSV, PNG) rebuilt from a bundle")
    p.add_argument("bundle")
    p.add_argument("--as-of", required=True, help="YYYY-MM-DD (end of day, UTC+8) or an ISO instant")
    p.add_argument("--out", required=True, help="directory for the CSV and PNG files")
    p.add_argument("--registry-key", help=REGISTRY_KEY_HELP)
    p.add_argument("--workers", type=int)
    p.set_defaults(func=cmd_audit_report)
    p = asub.add_parser(
        "certificate", help="verify a certificate: one record, or a pledge's with every field it shows"
    )
    p.add_argument("file")
    p.add_argument("--registry-key", help=REGISTRY_KEY_HELP)
    p.add_argument("--online", metavar="URL", help="pledge: also ask this registry what the pledge is now")
    p.add_argument("--token", help="access key for --online (default $ECOLEDGER_TOKEN)")
    p.add_argument("--pdf", help="pledge: print the verified certificate to this PDF file")
    p.set_defaults(func=cmd_audit_certificate)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ecoledger", description=__doc__)
    parser.add_argument("--db", help="database URL (default $ECOLEDGER_DATABASE_URL or sqlite)")
    parser.add_argument("--key", help="registry key PEM (default $ECOLEDGER_REGISTRY_KEY)")
    parser.add_argument(
        "--read-db",
        help="read-only replica URL for verify, export and balance reads ($ECOLEDGER_READ_DATABASE_URL)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("init", help="create the schema and the genesis record")
    p.add_argument("--name", default="ecoledger registry")
    p.set_defaults(func=cmd_init)
    p = sub.add_parser("verify", help="replay the journal and compare with live balances")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("keygen", help="write a new Ed25519 key (PEM) and print its id")
    p.add_argument("out")
    p.set_defaults(func=cmd_keygen)
    for name, func in (("serve", cmd_serve), ("demo", cmd_demo)):
        p = sub.add_parser(name, help=f"{name} the registry over HTTP")
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
        p.set_defaults(func=func)
    sub.choices["demo"].add_argument("--dir", default="var/demo")
    sub.choices["demo"].add_argument("--no-serve", action="store_true", help="load, verify, exit")
    sub.choices["serve"].add_argument(
        "--custody-secret", help="file holding the custody secret (default $ECOLEDGER_CUSTODY_SECRET)"
    )
    sub.choices["serve"].add_argument(
        "--workers", type=int, default=1, help="server processes sharing the port (reads scale with them)"
    )
    sub.choices["serve"].add_argument("--no-access-log", action="store_true", help="no line per request")
    add_audit_commands(sub)
    add_db_commands(sub)
    add_credential_commands(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
