"""`alpr-edge reads list|search`: the reads stored on this unit; every look is audited."""

from __future__ import annotations

import argparse
import json

from edge.cli.common import add_access_reason, add_config, load, moment, positive_int
from edge.errors import EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    reads = subparsers.add_parser("reads", help="reads stored on this unit")
    actions = reads.add_subparsers(dest="reads_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the newest reads")
    search = actions.add_parser("search", help="reads of a plate")
    search.add_argument("--plate", required=True, help="plate; * matches any characters")
    for parser in (listing, search):
        add_config(parser)
        parser.add_argument("--since", type=moment, help="ISO date/time, or an age like 2h, 7d")
        parser.add_argument("--until", type=moment, help="ISO date/time, or an age like 1h")
        parser.add_argument(
            "--limit", type=positive_int, default=50, help="most reads shown (at least 1)"
        )
        parser.add_argument("--json", action="store_true", help="one JSON object per line")
        add_access_reason(parser)
        parser.set_defaults(handler=reads_command)


def reads_command(args: argparse.Namespace) -> int:
    from edge.audit.access import record_search
    from edge.runtime.pipeline.components import open_store

    config = load(args.config)
    plate = getattr(args, "plate", None)
    store = open_store(config)
    try:
        found = store.reads(
            plate=plate, since=args.since, until=args.until, limit=args.limit, with_hits=True
        )
    finally:
        store.close()
    # The access is on record before anything is shown; a failed audit write shows nothing.
    record_search(
        config.audit_file,
        user=args.user,
        user_agency=config.sharing.operator_agency if config.sharing else "",
        purpose=args.purpose,
        criteria={
            "plate": plate,
            "since": args.since.isoformat() if args.since else None,
            "until": args.until.isoformat() if args.until else None,
            "limit": args.limit,
        },
        plates=[stored.read.plate for stored in found],
    )
    if args.json:
        for stored in found:
            print(json.dumps(stored.as_row()))
        return EXIT_OK
    print(
        f"{'id':>6}  {'seen at (UTC)':<19}  {'camera':<14} {'plate':<10} {'region':<6} conf  hits"
    )
    for stored in found:
        read = stored.read
        hits = ", ".join(f"{h.hit.listed_plate} ({h.hit.reason})" for h in stored.hits)
        print(
            f"{stored.id:>6}  {read.seen_at.isoformat()[:19]:<19}  {read.camera_id:<14} "
            f"{read.plate:<10} {read.region or '?':<6} {read.confidence:.2f}  {hits}"
        )
    if not found:
        print("(no reads)")
    return EXIT_OK
