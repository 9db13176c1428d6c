"""`alpr-edge audit verify|export`, `retention hold|release|purge` and `sharing status`.

Other modules add subcommands to the `audit` group by listing themselves in
AUDIT_EXTENSIONS: each exposes `register_audit(audit_subparsers)` (e.g. `audit report`).
Every command that reads or changes the audit log is itself recorded in it (CJIS 5.4.1.1:
access to the audit log is an audited event).
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import sqlite3
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from edge.errors import EXIT_FAILURE, EXIT_OK, ConfigError, InputError

if TYPE_CHECKING:
    from edge.config.schema import EdgeConfig
    from edge.share.sharing import Sharing, SharingSettings

AUDIT_EXTENSIONS: tuple[str, ...] = ("edge.operators.report",)
DEFAULT_CONFIG = Path("config/edge.toml")


def register(subparsers: argparse._SubParsersAction) -> None:
    audit = subparsers.add_parser("audit", help="check and export the tamper-evident audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)

    verify = audit_commands.add_parser(
        "verify", help="walk the hash chain and report the first broken link"
    )
    _log_arguments(verify)
    verify.add_argument(
        "--head",
        metavar="SEQ:HASH",
        help="a chain head published earlier to an agency; it must still be in the log",
    )
    verify.set_defaults(handler=run_verify)

    export = audit_commands.add_parser("export", help="audit rows for auditors, CSV or JSON lines")
    _log_arguments(export)
    export.add_argument("--from", dest="start", type=parse_moment, help="from this date/time (UTC)")
    export.add_argument(
        "--to", dest="end", type=parse_moment, help="up to this date/time, excluded"
    )
    export.add_argument("--agency", help="only rows sent to or made by this agency (id or ORI)")
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(handler=run_export)

    for module_name in AUDIT_EXTENSIONS:
        importlib.import_module(module_name).register_audit(audit_commands)

    retention = subparsers.add_parser("retention", help="legal holds and the retention purge")
    retention_commands = retention.add_subparsers(
        dest="retention_command", metavar="ACTION", required=True
    )
    for name, place in (("hold", True), ("release", False)):
        hold = retention_commands.add_parser(
            name, help=f"{'place' if place else 'lift'} a legal hold on reads (audited)"
        )
        _config_argument(hold)
        hold.add_argument("read_ids", metavar="READ_ID", type=int, nargs="+")
        hold.add_argument("--case", required=True, help="case or incident number")
        hold.add_argument("--reason", required=True, help="why (court order, evidence, ...)")
        hold.set_defaults(handler=run_hold, place=place)
    purge = retention_commands.add_parser(
        "purge", help="delete reads past retention now (the unit also does it periodically)"
    )
    _config_argument(purge)
    purge.set_defaults(handler=run_purge)

    sharing = subparsers.add_parser("sharing", help="the state of sharing on this unit")
    sharing_commands = sharing.add_subparsers(
        dest="sharing_command", metavar="ACTION", required=True
    )
    status = sharing_commands.add_parser(
        "status", help="allow-list in force, messages queued per agency, last connection events"
    )
    _config_argument(status)
    status.set_defaults(handler=run_status)


def _config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, help="edge.toml with a [sharing] table"
    )


def _log_arguments(parser: argparse.ArgumentParser) -> None:
    _config_argument(parser)
    parser.add_argument("--audit-log", type=Path, help="audit log file (default: from --config)")


def parse_moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _settings(config: Path) -> tuple[SharingSettings, EdgeConfig]:
    from edge.config import load_config
    from edge.share.sharing import parse_sharing_settings

    edge_config = load_config(config)
    if not edge_config.sharing:
        raise InputError(f"{config}: no [sharing] table")
    return parse_sharing_settings(edge_config.sharing, config), edge_config


def _log_path(args: argparse.Namespace) -> Path:
    from edge.config import load_config
    from edge.share.sharing import audit_log_path

    if args.audit_log is not None:
        return args.audit_log
    return audit_log_path(load_config(args.config))


def record_access(log_path: Path, event: str, reason: str, **details: object) -> None:
    from edge.share.audit import AuditEvent, AuditLog

    audit = AuditLog(log_path)
    try:
        audit.record(
            AuditEvent(
                event=event,
                decision="done",
                reason=reason,
                username=getpass.getuser(),
                user_agency="",
                purpose="audit of the ALPR unit",
                details=details,
            )
        )
    finally:
        audit.close()


def run_verify(args: argparse.Namespace) -> int:
    from edge.share.audit import ChainHead, verify

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
    record_access(
        path,
        "audit_verify",
        f"chain {verdict}",
        rows=result.rows,
        breaks=[b.seq for b in result.breaks],
    )
    return EXIT_OK if result.ok else EXIT_FAILURE


def run_export(args: argparse.Namespace) -> int:
    from edge.share.audit import export_rows, write_export

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
    record_access(
        path,
        "audit_export",
        f"{count} rows exported as {args.format}",
        start=args.start.isoformat() if args.start else None,
        end=args.end.isoformat() if args.end else None,
        agency=args.agency,
        output=str(args.output) if args.output else "stdout",
    )
    return EXIT_OK


def _open_sharing(config: Path) -> Sharing:
    """Not started: no allow-list is loaded and no connection is made."""
    from edge.share.sharing import Sharing
    from edge.store import DB_NAME

    settings, edge_config = _settings(config)
    return Sharing(settings, edge_config.store.data_dir / DB_NAME)


def run_hold(args: argparse.Namespace) -> int:
    from edge.share.retention import record_hold

    sharing = _open_sharing(args.config)
    try:
        record_hold(
            sharing.gate, args.read_ids, args.case, getpass.getuser(), args.reason, args.place
        )
    finally:
        sharing.close()
    print(f"legal hold {'placed on' if args.place else 'lifted from'} {len(args.read_ids)} reads")
    return EXIT_OK


def run_purge(args: argparse.Namespace) -> int:
    sharing = _open_sharing(args.config)
    try:
        if sharing.retention is None or not sharing.retention.reads_db.is_file():
            raise InputError(f"no reads database to purge for {args.config}")
        result = sharing.retention.purge()
    finally:
        sharing.close()
    print(
        f"purged {result.purged} reads and {result.crops_removed} crops seen before "
        f"{result.cutoff.isoformat()}; {result.held} kept under legal hold"
    )
    return EXIT_OK


def run_status(args: argparse.Namespace) -> int:
    """What an operator checks when an agency says it receives nothing. Reads files only."""
    from edge.share.allowlist import load_allowlist
    from edge.share.audit import chain_head, connect
    from edge.share.gate import utc_today
    from edge.share.sharing import AUDIT_FILE, OUTBOX_FILE

    settings, _ = _settings(args.config)
    queued: dict[str, int] = {}
    if (settings.data_dir / OUTBOX_FILE).is_file():
        outbox = connect(settings.data_dir / OUTBOX_FILE, readonly=True)
        with closing(outbox):
            rows = outbox.execute("SELECT agency_id, COUNT(*) FROM outbox GROUP BY agency_id")
            queued = {agency: count for agency, count in rows}
    last: dict[str, sqlite3.Row] = {}
    head_line = "audit log: none yet"
    if (settings.data_dir / AUDIT_FILE).is_file():
        audit = connect(settings.data_dir / AUDIT_FILE, readonly=True)
        with closing(audit):
            for row in audit.execute(
                "SELECT destination, at, event, reason FROM audit WHERE event IN "
                "('connect', 'connect_failed', 'disconnect') ORDER BY seq"
            ):
                last[row["destination"]] = row
            head = chain_head(audit)
        head_line = f"audit log: head {head.seq}:{head.row_hash}"
    try:
        allowlist = load_allowlist(settings.agencies_file)
    except ConfigError as exc:
        print(f"allow-list INVALID, nothing is shared: {exc}")
        print(head_line)
        return EXIT_FAILURE
    today = utc_today()
    print(
        f"allow-list {allowlist.source} (sha256 {allowlist.sha256}): "
        f"{len(allowlist.active(today))} active of {len(allowlist.agencies)}"
    )
    print(f"{'agency':<16} {'agreement':<22} {'queued':>6}  last connection event")
    for agency in allowlist:
        state = f"{'active until' if agency.is_active(today) else 'EXPIRED'} {agency.expires}"
        event = last.get(agency.id)
        seen = f"{event['at'][:19]} {event['event']}: {event['reason']}" if event else "none"
        print(f"{agency.id:<16} {state:<22} {queued.pop(agency.id, 0):>6}  {seen}")
    for agency_id, count in sorted(queued.items()):
        print(f"{agency_id:<16} {'not listed':<22} {count:>6}  dropped (audited) at next start")
    print(head_line)
    return EXIT_OK
