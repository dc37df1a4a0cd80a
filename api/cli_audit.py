"""``ecoledger export|prove|audit``: the auditor's commands: write a bundle or a certificate, verify a
bundle offline, rebuild as-of reports from it, check a certificate someone hands you.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sqlmodel import Session

from api.cli_common import REGISTRY_KEY_HELP, open_registry, registry_key_arg
from api.cli_federation import verify_two
from api.replay_checks import replay_checks
from api.replica import source_engine
from ledger.crypto import b64e
from ledger.errors import DomainError

__all__ = ["add_audit_commands"]

PLEDGE_CERTIFICATE = (
    "ecoledger-pledge-certificate-v1"  # market.pledges.certificate_form.FORMAT, without importing it
)


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


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from api.restore import read_kept_checkpoints
    from ledger.audit import verify_bundle

    kept = []
    if args.checkpoints:
        try:
            kept = read_kept_checkpoints(Path(args.checkpoints))
        except (OSError, DomainError) as exc:
            raise SystemExit(f"--checkpoints: {exc}") from None
    keys = [registry_key_arg(k) for k in args.registry_key or []]
    if len(args.bundle) > 2 or len(keys) not in (0, len(args.bundle)):
        raise SystemExit("audit verify: one bundle, or two (A B), with one --registry-key each or none")
    if len(args.bundle) == 2:
        return verify_two(args, keys or [None, None])
    summary = verify_bundle(
        Path(args.bundle[0]),
        registry_key=keys[0] if keys else None,
        workers=args.workers,
        progress=args.progress or sys.stderr.isatty(),
        checks=replay_checks(),
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
            registry_key=registry_key_arg(args.registry_key),
            workers=args.workers or 1,
            checks=replay_checks(),
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
    pinned = registry_key_arg(args.registry_key)
    if isinstance(obj, dict) and obj.get("format") == PLEDGE_CERTIFICATE:
        from api.cli_certificate import check_pledge_certificate

        pdf = Path(args.pdf) if args.pdf else None
        return check_pledge_certificate(obj, pinned=pinned, online=args.online, token=args.token, pdf=pdf)
    if args.online or args.pdf:
        raise SystemExit("--online and --pdf are for pledge certificates")
    key = pinned
    if key is None:
        key = registry_key_arg(obj.get("registry_public_key") if isinstance(obj, dict) else None)
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
    p.add_argument("bundle", nargs="+", help="bundle directory or .tar; two (A B) for federated journals")
    p.add_argument("--registry-key", action="append", help=REGISTRY_KEY_HELP + " (once per bundle)")
    p.add_argument(
        "--federation-checkpoint",
        help="with two bundles: the cross-journal checkpoint both registries signed",
    )
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
