"""`alpr-edge audit verify|export|bundle|prove|report`: checking and reading the audit log.

Every command that reads the audit log is itself recorded in it (CJIS 5.4.1.1: access to the
audit log is an audited event).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge.cli.common import add_config, load, moment, sharing_of
from edge.errors import EXIT_FAILURE, EXIT_OK, InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    audit = subparsers.add_parser("audit", help="check and export the tamper-evident audit log")
    actions = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)

    verify = actions.add_parser(
        "verify", help="walk the hash chain and report the first broken link"
    )
    _log_arguments(verify)
    verify.add_argument(
        "--head",
        metavar="SEQ:HASH",
        help="a chain head published earlier to an agency; it must still be in the log",
    )
    verify.set_defaults(handler=run_verify)

    export = actions.add_parser("export", help="audit rows for auditors, CSV or JSON lines")
    _log_arguments(export)
    export.add_argument("--from", dest="start", type=moment, help="from this date/time (UTC)")
    export.add_argument("--to", dest="end", type=moment, help="up to this date/time, excluded")
    export.add_argument("--agency", help="only rows sent to or made by this agency (id or ORI)")
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(handler=run_export)

    bundle = actions.add_parser(
        "bundle",
        help="one signed file for an auditor: the period's rows, every allow-list version in "
        "force, the published policy",
    )
    add_config(bundle, "edge.toml with [sharing]")
    bundle.add_argument("--from", dest="start", type=moment, required=True, help="from (UTC)")
    bundle.add_argument("--to", dest="end", type=moment, required=True, help="up to, excluded")
    bundle.add_argument(
        "--output", type=Path, required=True, help="the bundle file (.json, or .json.gz)"
    )
    bundle.set_defaults(handler=run_bundle)

    prove = actions.add_parser(
        "prove",
        help="check a bundle without the unit: chain and signed heads, sharing, queries, "
        "retention (exit 1 on any breach)",
    )
    prove.add_argument("bundle", type=Path, metavar="BUNDLE")
    prove.add_argument(
        "--head",
        action="append",
        default=[],
        metavar="SEQ:HASH:SIG",
        help="a signed chain head an agency received (repeat for each)",
    )
    prove.add_argument(
        "--key", help="the unit's pinned device public key (`alpr-edge keys device`)"
    )
    prove.set_defaults(handler=run_prove)

    report = actions.add_parser("report", help="monthly transparency report (Markdown or JSON)")
    report.add_argument("--month", required=True, help="YYYY-MM (UTC)")
    add_config(report, "edge.toml with [sharing]")
    report.add_argument("--format", choices=("markdown", "json"), default="markdown")
    report.add_argument("--output", type=Path, help="file to write (default: standard output)")
    report.set_defaults(handler=run_report)


def _log_arguments(parser: argparse.ArgumentParser) -> None:
    add_config(parser)
    parser.add_argument("--audit-log", type=Path, help="audit log file (default: from --config)")


def _log_path(args: argparse.Namespace) -> Path:
    return args.audit_log if args.audit_log is not None else load(args.config).audit_file


def run_verify(args: argparse.Namespace) -> int:
    from edge.audit.access import record_audit_access
    from edge.audit.events import Event
    from edge.audit.log import ChainHead, verify

    path = _log_path(args)
    expected = None
    if args.head:
        seq, _, digest = args.head.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise InputError(f"--head must be SEQ:SHA256, got {args.head!r}")
        expected = ChainHead(int(seq), digest.lower(), None)
    result = verify(path, expected)
    for problem in result.breaks:
        where = f"row {problem.seq}" if problem.seq else "log"
        print(f"BROKEN {where}: {problem.problem}")
    verdict = "intact" if result.ok else "BROKEN"
    print(
        f"{path}: {result.rows} rows, chain {verdict}; head {result.head.seq}:"
        f"{result.head.row_hash}"
    )
    record_audit_access(
        path,
        Event.AUDIT_VERIFY,
        f"chain {verdict}",
        rows=result.rows,
        breaks=[b.seq for b in result.breaks],
    )
    return EXIT_OK if result.ok else EXIT_FAILURE


def run_export(args: argparse.Namespace) -> int:
    from edge.audit.access import record_audit_access
    from edge.audit.events import Event
    from edge.audit.export import export_rows, write_export

    path = _log_path(args)
    if args.start and args.end and args.start >= args.end:
        raise InputError("--from must be before --to")
    rows = export_rows(path, args.start, args.end, args.agency)
    if args.output:
        with args.output.open("w", encoding="utf-8", newline="") as out:
            count = write_export(rows, out, args.format)
        print(f"{count} rows written to {args.output}", file=sys.stderr)
    else:
        count = write_export(rows, sys.stdout, args.format)
    record_audit_access(
        path,
        Event.AUDIT_EXPORT,
        f"{count} rows exported as {args.format}",
        start=args.start.isoformat() if args.start else None,
        end=args.end.isoformat() if args.end else None,
        agency=args.agency,
        output=str(args.output) if args.output else "stdout",
    )
    return EXIT_OK


def run_report(args: argparse.Namespace) -> int:
    from edge.audit.access import record_audit_access
    from edge.audit.events import Event
    from edge.audit.report import ReportSources, build_report, to_markdown

    config = load(args.config)
    sharing = sharing_of(config)
    sources = ReportSources(
        audit_log=sharing.audit_file,
        allowlist_file=sharing.agencies_file,
        store_dir=config.store.data_dir,
        retention_days=config.store.retention_days,
    )
    if not sources.audit_log.is_file():
        raise InputError(f"audit log not found: {sources.audit_log}")
    report = build_report(args.month, sources)
    record_audit_access(
        sources.audit_log,
        Event.AUDIT_REPORT,
        f"transparency report for {args.month} ({args.format})",
        output=str(args.output) if args.output else "stdout",
    )
    text = json.dumps(report, indent=2) + "\n" if args.format == "json" else to_markdown(report)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"report for {args.month} written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def run_bundle(args: argparse.Namespace) -> int:
    from edge.audit.access import record_audit_access
    from edge.audit.bundle import build_bundle, write_bundle
    from edge.audit.events import Event
    from edge.audit.signing import device_key

    sharing = sharing_of(load(args.config))
    if args.start >= args.end:
        raise InputError("--from must be before --to")
    if not sharing.audit_file.is_file():
        raise InputError(f"audit log not found: {sharing.audit_file}")
    bundle = build_bundle(
        sharing.audit_file,
        sharing.data_dir,
        sharing.unit_id,
        args.start,
        args.end,
        device_key(sharing.data_dir),
        sharing.query_policy,
    )
    summary = write_bundle(bundle, args.output)
    record_audit_access(
        sharing.audit_file,
        Event.AUDIT_EXPORT,
        f"audit bundle: {summary.rows} rows, {summary.allowlist_versions} allow-list versions",
        start=args.start.isoformat(),
        end=args.end.isoformat(),
        output=str(args.output),
        format="bundle",
    )
    print(
        f"{args.output}: {summary.rows} rows, {summary.allowlist_versions} allow-list versions, "
        f"{summary.bytes_written} bytes, signed by device key {bundle['device_key']['key_id']}"
    )
    for digest in summary.missing_versions:
        print(f"WARNING: allow-list version {digest} is not kept on this unit: `prove` will say so")
    return EXIT_OK


def run_prove(args: argparse.Namespace) -> int:
    from edge.audit.bundle import read_bundle_text
    from edge.audit.prove import load_bundle, parse_head, prove

    heads = [parse_head(text) for text in args.head]
    try:
        text = read_bundle_text(args.bundle)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {args.bundle}: {exc}") from None
    bundle = load_bundle(text)
    print(
        f"bundle {args.bundle}: unit {bundle['unit']}, {bundle['from']} to {bundle['to']}, "
        f"{len(bundle['rows'])} rows"
    )
    verdicts = prove(bundle, heads, args.key)
    for verdict in verdicts:
        print(f"{'PASS  ' if verdict.ok else 'BREACH'} {verdict.rule} ({verdict.checked} checked)")
        for breach in verdict.breaches[:20]:
            print(f"         {breach}")
        if len(verdict.breaches) > 20:
            print(f"         ... and {len(verdict.breaches) - 20} more")
        for note in verdict.notes:
            print(f"         note: {note}")
    breached = [v for v in verdicts if not v.ok]
    print("VERDICT: " + ("no breach found" if not breached else f"{len(breached)} rules breached"))
    return EXIT_OK if not breached else EXIT_FAILURE
