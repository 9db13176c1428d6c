"""`alpr-edge audit verify|export|report`: checking and reading the tamper-evident audit log.

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
        retention_days=sharing.retention_days,
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
