"""`alpr-edge agencies list|show|add|remove|check`: the operator's allow-list tools.

`add` and `remove` edit config/agencies.toml in place, keeping its comments and layout; the
result must pass the allow-list rules (edge.config.allowlist) or the file is left as it was.
Each change is written to the audit log (who, when, the diff) before the file is replaced. A
running unit notices the new file within seconds (edge.share.reload).
"""

from __future__ import annotations

import argparse
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from edge.cli.common import DEFAULT_CONFIG, load, sharing_of
from edge.clock import UTC
from edge.errors import EXIT_BAD_INPUT, EXIT_OK, InputError

if TYPE_CHECKING:
    from edge.audit.allowlist_edit import AllowListChange
    from edge.config import SharingConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    agencies = subparsers.add_parser(
        "agencies", help="list, add, remove and check the agencies this unit may share with"
    )
    actions = agencies.add_subparsers(dest="agencies_command", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="one line per allow-listed agency")
    _file_arguments(listing)
    listing.set_defaults(handler=run_list)

    show = actions.add_parser("show", help="every setting of one agency")
    _file_arguments(show)
    show.add_argument("agency_id", metavar="ID")
    show.set_defaults(handler=run_show)

    check = actions.add_parser(
        "check",
        help="report every rule the file on disk breaks (exit 2 if any); what a running unit "
        "has in force is `alpr-edge sharing status`",
    )
    _file_arguments(check)
    check.set_defaults(handler=run_check)

    add = actions.add_parser("add", help="add an agency (refused if the rules refuse it)")
    _file_arguments(add, audited=True)
    add.add_argument("--id", required=True, help="short id: lowercase letters, digits, - and _")
    add.add_argument("--name", required=True, help="the agency's name")
    add.add_argument("--ori", required=True, help="9-character ORI, starting with CA")
    add.add_argument("--kind", required=True, help="California public-agency kind")
    add.add_argument("--state", default="CA", help="must be CA (default)")
    add.add_argument("--purpose", required=True, help="the sharing agreement (logged)")
    add.add_argument("--broker", required=True, help="mqtts://host:port")
    add.add_argument("--ca-cert", help="CA certificate of the broker")
    add.add_argument("--client-cert", help="this unit's client certificate for the broker")
    add.add_argument("--client-key", help="the key of the client certificate")
    add.add_argument("--receives", required=True, help="comma-separated: reads, hits, heartbeat")
    add.add_argument(
        "--expires", required=True, type=date.fromisoformat, help="agreement end, YYYY-MM-DD"
    )
    add.add_argument(
        "--query-key",
        help="the agency's query public key: base64 text or a .pub file from `keys generate`",
    )
    add.set_defaults(handler=run_add)

    remove = actions.add_parser("remove", help="remove an agency; it receives nothing more")
    _file_arguments(remove, audited=True)
    remove.add_argument("agency_id", metavar="ID")
    remove.set_defaults(handler=run_remove)


def _file_arguments(parser: argparse.ArgumentParser, *, audited: bool = False) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help="edge.toml whose [sharing] table names the allow-list and the audit log's folder",
    )
    parser.add_argument(
        "--agencies", type=Path, help="the allow-list file (default: from --config)"
    )
    if audited:
        parser.add_argument("--audit-log", type=Path, help="audit log (default: from --config)")


def _sharing_settings(config: Path) -> SharingConfig:
    return sharing_of(load(config), "; pass --agencies and --audit-log")


def _allowlist_path(args: argparse.Namespace) -> Path:
    return args.agencies or _sharing_settings(args.config).agencies_file


def _audit_path(args: argparse.Namespace) -> Path:
    return args.audit_log or _sharing_settings(args.config).audit_file


def run_list(args: argparse.Namespace) -> int:
    from edge.config.allowlist import load_allowlist

    path = _allowlist_path(args)
    allowlist = load_allowlist(path)
    today = datetime.now(UTC).date()
    rows = [("ID", "KIND", "ORI", "BROKER", "RECEIVES", "EXPIRES", "STATUS", "QUERIES")]
    for agency in allowlist:
        rows.append(
            (
                agency.id,
                agency.kind,
                agency.ori,
                agency.broker.url,
                ",".join(sorted(agency.receives)),
                agency.expires.isoformat(),
                "active" if agency.is_active(today) else "EXPIRED",
                "signed" if agency.query_key else "none",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
    print(f"\n{len(allowlist.agencies)} agencies in {path} (sha256 {allowlist.sha256[:16]}...)")
    return EXIT_OK


def run_show(args: argparse.Namespace) -> int:
    from edge.config.allowlist import load_allowlist

    path = _allowlist_path(args)
    agency = load_allowlist(path).get(args.agency_id)
    if agency is None:
        raise InputError(f"no agency with id {args.agency_id!r} in {path}")
    today = datetime.now(UTC).date()
    fields = {
        "id": agency.id,
        "name": agency.name,
        "ori": agency.ori,
        "kind": agency.kind,
        "state": agency.state,
        "purpose": agency.purpose,
        "broker": agency.broker.url,
        "ca_cert": agency.ca_cert,
        "client_cert": agency.client_cert,
        "client_key": agency.client_key,
        "receives": ", ".join(sorted(agency.receives)),
        "expires": agency.expires.isoformat(),
        "status": "active" if agency.is_active(today) else "expired: receives nothing",
        "queries": "accepted when signed with its key" if agency.query_key else "refused",
    }
    for key, value in fields.items():
        print(f"{key:12} {value if value is not None else '-'}")
    return EXIT_OK


def run_check(args: argparse.Namespace) -> int:
    from edge.config.allowlist import check_allowlist

    path = _allowlist_path(args)
    problems = check_allowlist(path)
    for problem in problems:
        print(f"{problem.file}: {problem.key or '-'}: {problem.reason}")
    # This describes the file on disk; a running unit may have another list in force.
    if problems:
        print(
            f"{path}: REFUSED ({len(problems)} problems). This is the file on disk: a unit "
            "starting with it would share nothing; a running unit refuses it and keeps only what "
            "it still allows of the list in force (`alpr-edge sharing status` shows that list)"
        )
        return EXIT_BAD_INPUT
    print(
        f"{path}: valid. This is the file on disk; a running unit puts it in force within "
        "seconds (`alpr-edge sharing status` shows the list in force)"
    )
    return EXIT_OK


def _query_key(value: str) -> str:
    candidate = Path(value).expanduser()
    if candidate.is_file():
        return candidate.read_text(encoding="ascii").strip()
    return value.strip()


def run_add(args: argparse.Namespace) -> int:
    from edge.audit.allowlist_edit import add_entry

    fields: dict[str, object] = {
        "id": args.id,
        "name": args.name,
        "ori": args.ori,
        "kind": args.kind,
        "state": args.state,
        "purpose": args.purpose,
        "broker": args.broker,
        "ca_cert": args.ca_cert,
        "client_cert": args.client_cert,
        "client_key": args.client_key,
        "receives": [part.strip() for part in args.receives.split(",") if part.strip()],
        "expires": args.expires,
        "query_key": _query_key(args.query_key) if args.query_key else None,
    }
    path = _allowlist_path(args)
    change = add_entry(path, {k: v for k, v in fields.items() if v is not None})
    return _apply(path, _audit_path(args), change)


def run_remove(args: argparse.Namespace) -> int:
    from edge.audit.allowlist_edit import remove_entry

    path = _allowlist_path(args)
    return _apply(path, _audit_path(args), remove_entry(path, args.agency_id))


def _apply(path: Path, audit_log: Path, change: AllowListChange) -> int:
    from edge.audit.allowlist_edit import apply_change, operator_name
    from edge.audit.log import AuditLog

    audit = AuditLog(audit_log)
    try:
        apply_change(path, change, audit, operator_name())
    finally:
        audit.close()
    print(change.diff, end="")
    print(f"{change.action} {change.agency_id}: {path} updated; recorded in {audit_log}")
    return EXIT_OK
