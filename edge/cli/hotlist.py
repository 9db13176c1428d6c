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
    from edge.runtime.hotlist import import_csv
    from edge.runtime.pipeline.components import open_store

    store = open_store(load(args.config))
    try:
        count = import_csv(store, args.csv)
    finally:
        store.close()
    print(f"imported {count} hotlist entries from {args.csv}")
    return EXIT_OK
