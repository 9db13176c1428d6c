"""`alpr-edge hotlist import|list|remove`: the wanted plates in the unit's store."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.cli.common import add_config, load
from edge.errors import EXIT_FAILURE, EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    hotlist = subparsers.add_parser("hotlist", help="hotlists of wanted plates")
    actions = hotlist.add_subparsers(dest="hotlist_command", required=True, metavar="ACTION")
    importer = actions.add_parser("import", help="load a CSV: plate,state,reason,source,expiry")
    add_config(importer)
    importer.add_argument("csv", type=Path)
    importer.set_defaults(handler=hotlist_import_command)
    register_list_and_remove(actions)


def register_list_and_remove(actions: argparse._SubParsersAction) -> None:
    listing = actions.add_parser("list", help="the entries on the hotlist, with their ids")
    add_config(listing)
    listing.add_argument("--active", action="store_true", help="only entries not expired")
    listing.set_defaults(handler=hotlist_list_command)
    remove = actions.add_parser(
        "remove", help="take entries off the hotlist (expired instead where hits refer to them)"
    )
    add_config(remove)
    remove.add_argument("ids", metavar="ID", type=int, nargs="+", help="ids from `hotlist list`")
    remove.set_defaults(handler=hotlist_remove_command)


def hotlist_import_command(args: argparse.Namespace) -> int:
    from edge.audit.allowlist_edit import operator_name
    from edge.audit.hotlist_screen import import_screened
    from edge.runtime.hotlist import import_csv
    from edge.runtime.pipeline.components import open_store

    config = load(args.config)
    store = open_store(config)
    try:
        # Screened first (Values Act): an immigration-enforcement entry refuses the file.
        count = import_screened(
            args.csv,
            config.audit_file,
            lambda path, text: import_csv(store, path, text=text),
            user=operator_name(),
            user_agency=config.sharing.operator_agency if config.sharing else "",
        )
    finally:
        store.close()
    print(f"imported {count} hotlist entries from {args.csv}")
    return EXIT_OK


def hotlist_list_command(args: argparse.Namespace) -> int:
    from datetime import datetime

    from edge.clock import UTC
    from edge.runtime.pipeline.components import open_store

    store = open_store(load(args.config))
    try:
        entries = store.hotlist_entries()
    finally:
        store.close()
    now = datetime.now(UTC)
    if args.active:
        entries = [e for e in entries if e.active_at(now)]
    print(f"{'id':>5}  {'plate':<10} {'region':<6} {'expires':<10} {'source':<10} reason")
    for entry in entries:
        expiry = entry.expires_at.strftime("%Y-%m-%d") if entry.expires_at else "never"
        if entry.expires_at is not None and not entry.active_at(now):
            expiry += " (expired)"
        print(
            f"{entry.id:>5}  {entry.plate:<10} {entry.region or '?':<6} {expiry:<10} "
            f"{entry.source:<10} {entry.reason}"
        )
    if not entries:
        print("(no entries)")
    return EXIT_OK


def hotlist_remove_command(args: argparse.Namespace) -> int:
    from datetime import datetime

    from edge.clock import UTC
    from edge.runtime.pipeline.components import open_store

    store = open_store(load(args.config))
    try:
        deleted, expired, missing = store.remove_hotlist_entries(args.ids, datetime.now(UTC))
    finally:
        store.close()
    print(
        f"removed {deleted} hotlist entries; {expired} expired now (hits refer to them); "
        f"{missing} not found"
    )
    return EXIT_FAILURE if missing else EXIT_OK
