"""`alpr-edge sharing status`: what an operator checks when an agency says it receives nothing."""

from __future__ import annotations

import argparse

from edge.cli.common import add_config, load, sharing_of
from edge.errors import EXIT_FAILURE, EXIT_OK, ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    sharing = subparsers.add_parser("sharing", help="the state of sharing on this unit")
    actions = sharing.add_subparsers(dest="sharing_command", metavar="ACTION", required=True)
    status = actions.add_parser(
        "status", help="allow-list in force, messages queued per agency, last connection events"
    )
    add_config(status, "edge.toml with a [sharing] table")
    status.set_defaults(handler=run_status)


def run_status(args: argparse.Namespace) -> int:
    """What an operator checks when an agency says it receives nothing. Reads files only."""
    from edge.audit.events import Event
    from edge.audit.log import latest_events, read_head
    from edge.config.allowlist import load_allowlist
    from edge.share.gate import utc_today
    from edge.share.outbox import queued_per_agency

    settings = sharing_of(load(args.config))
    queued = queued_per_agency(settings.outbox_file)
    last = {}
    head_line = "audit log: none yet"
    if settings.audit_file.is_file():
        connections = (Event.CONNECT, Event.CONNECT_FAILED, Event.DISCONNECT)
        last = latest_events(settings.audit_file, connections)
        head = read_head(settings.audit_file)
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
