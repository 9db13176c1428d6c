"""`alpr-edge hotlist import`: load a CSV of wanted plates into the unit's store."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.cli.common import add_config, load
from edge.errors import EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    hotlist = subparsers.add_parser("hotlist", help="hotlists of wanted plates")
    actions = hotlist.add_subparsers(dest="hotlist_command", required=True, metavar="ACTION")
    importer = actions.add_parser("import", help="load a CSV: plate,state,reason,source,expiry")
    add_config(importer)
    importer.add_argument("csv", type=Path)
    importer.set_defaults(handler=hotlist_import_command)


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
            lambda path: import_csv(store, path),
            user=operator_name(),
            user_agency=config.sharing.operator_agency if config.sharing else "",
        )
    finally:
        store.close()
    print(f"imported {count} hotlist entries from {args.csv}")
    return EXIT_OK
