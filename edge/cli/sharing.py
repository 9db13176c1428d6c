"""`alpr-edge sharing status`: what an operator checks when an agency says it receives nothing."""

from __future__ import annotations

import argparse

from edge.cli.common import add_config, load, sharing_of
from edge.errors import EXIT_FAILURE, EXIT_OK, ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    sharing = subparsers.add_parser("sharing", help="the state of sharing on this unit")
    actions = sharing.add_subparsers(dest="sharing_command", metavar="ACTION", required=True)
    status = actions.add_parser(
        "status",
        help="the allow-list the running unit has in force, queue per agency, last connection "
        "events, and whether the file on disk is valid",
        description="Exit status: 0 the running unit shares the file on disk as it stands; "
        "1 the file on disk is invalid or not (yet) in force (the unit shares what 'in force' "
        "shows); 3 no unit is running (nothing is shared now).",
    )
    add_config(status, "edge.toml with a [sharing] table")
    status.set_defaults(handler=run_status)


# Exit codes of `sharing status`, each saying what is shared now.
EXIT_FILE_NOT_IN_FORCE = EXIT_FAILURE  # file on disk invalid or not (yet) what the unit shares
EXIT_NOT_RUNNING = 3  # no running unit: nothing is shared now


def run_status(args: argparse.Namespace) -> int:
    """What an operator checks when an agency says it receives nothing. Reads files only: the
    running unit's own account of what it has in force (edge.share.state), then the file on
    disk, checked on its own."""
    from edge.audit.events import Event
    from edge.audit.log import latest_events, read_head
    from edge.config.allowlist import load_allowlist
    from edge.share.gate import utc_today
    from edge.share.outbox import queued_per_agency
    from edge.share.state import read_sharing_state

    settings = sharing_of(load(args.config))
    queued = queued_per_agency(settings.outbox_file)
    last = {}
    head_line = "audit log: none yet"
    if settings.audit_file.is_file():
        connections = (Event.CONNECT, Event.CONNECT_FAILED, Event.DISCONNECT)
        last = latest_events(settings.audit_file, connections)
        head = read_head(settings.audit_file)
        head_line = f"audit log: head {head.seq}:{head.row_hash}"
    today = utc_today()
    state = read_sharing_state(settings.data_dir)
    running = state is not None and state.alive
    if state is None:
        print("running unit: none has run with this data_dir: nothing is shared")
    elif not running:
        print(
            f"running unit: NOT RUNNING (last seen {state.written_at[:19]}, pid {state.pid}): "
            "nothing is shared now; what it had in force:"
        )
    else:
        print(f"running unit: {state.unit_id}, pid {state.pid}; in force there:")
    if state is not None:
        narrowed = (
            f", NARROWED by the refused file {state.narrowed_by[:16]}..."
            if state.narrowed_by
            else ""
        )
        active = [a for a in state.agencies if a.is_active(today)]
        print(
            f"  allow-list {state.source} (sha256 {state.sha256 or '-'}{narrowed}) "
            f"since {state.since[:19]}: {len(active)} active of {len(state.agencies)}"
        )
        print(
            f"  {'agency':<16} {'agreement':<22} {'queued':>6}  {'receives':<22} "
            f"{'since':<19}  last connection event"
        )
        for agency in state.agencies:
            until = "active until" if agency.is_active(today) else "EXPIRED"
            event = last.get(agency.id)
            seen = f"{event['at'][:19]} {event['event']}: {event['reason']}" if event else "none"
            print(
                f"  {agency.id:<16} {until + ' ' + agency.expires:<22} "
                f"{queued.pop(agency.id, 0):>6}  {','.join(agency.receives):<22} "
                f"{agency.since[:19]:<19}  {seen}"
            )
    for agency_id, count in sorted(queued.items()):
        print(f"  {agency_id:<16} {'not in force':<22} {count:>6}  dropped (audited) at next start")
    code = EXIT_OK if running else EXIT_NOT_RUNNING
    try:
        on_disk = load_allowlist(settings.agencies_file)
    except ConfigError as exc:
        print(f"file on disk: INVALID: {exc}")
        print(
            "  a unit starting with it shares nothing; a running unit refuses it and keeps only"
            " what it still allows of the list in force (shown above)"
        )
        print(head_line)
        return code if not running else EXIT_FILE_NOT_IN_FORCE
    in_force = state is not None and state.sha256 == on_disk.sha256 and not state.narrowed_by
    print(
        f"file on disk: valid, {settings.agencies_file} (sha256 {on_disk.sha256}): "
        f"{len(on_disk.active(today))} active of {len(on_disk.agencies)}; "
        + ("the list in force" if in_force else "NOT the list in force")
    )
    print(head_line)
    if running and not in_force:
        return EXIT_FILE_NOT_IN_FORCE
    return code
