"""`alpr-edge retention hold|release|purge`: legal holds and the retention purge (audited).

Retention is the unit's own policy (`[store] retention_days`): these work with or without a
[sharing] table, audited in the unit's audit log (`config.audit_file`)."""

from __future__ import annotations

import argparse
import getpass

from edge.cli.common import add_config, load
from edge.errors import EXIT_OK, InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    retention = subparsers.add_parser("retention", help="legal holds and the retention purge")
    actions = retention.add_subparsers(dest="retention_command", metavar="ACTION", required=True)
    for name, place in (("hold", True), ("release", False)):
        hold = actions.add_parser(
            name, help=f"{'place' if place else 'lift'} a legal hold on reads (audited)"
        )
        add_config(hold)
        hold.add_argument("read_ids", metavar="READ_ID", type=int, nargs="+")
        hold.add_argument("--case", required=True, help="case or incident number")
        hold.add_argument("--reason", required=True, help="why (court order, evidence, ...)")
        hold.set_defaults(handler=run_hold, place=place)
    purge = actions.add_parser(
        "purge", help="delete reads past retention now (the unit also does it periodically)"
    )
    add_config(purge)
    purge.set_defaults(handler=run_purge)


def run_hold(args: argparse.Namespace) -> int:
    from edge.audit.log import AuditLog
    from edge.audit.retention import operator_agency, record_hold

    config = load(args.config)
    config.audit_file.parent.mkdir(parents=True, exist_ok=True)
    audit = AuditLog(config.audit_file)
    try:
        record_hold(
            audit,
            args.read_ids,
            args.case,
            getpass.getuser(),
            args.reason,
            args.place,
            user_agency=operator_agency(config),
        )
    finally:
        audit.close()
    print(f"legal hold {'placed on' if args.place else 'lifted from'} {len(args.read_ids)} reads")
    return EXIT_OK


def run_purge(args: argparse.Namespace) -> int:
    from edge.audit.log import AuditLog
    from edge.audit.retention import unit_retention
    from edge.runtime.store import DB_NAME, ReadStore

    config = load(args.config)
    if not (config.store.data_dir / DB_NAME).is_file():
        raise InputError(f"no reads database to purge for {args.config}")
    store = ReadStore(config.store.data_dir)
    audit = AuditLog(config.audit_file)
    try:
        result = unit_retention(config, audit, store).purge()
    finally:
        audit.close()
        store.close()
    print(
        f"purged {result.purged} reads and {result.crops_removed} crops seen before "
        f"{result.cutoff.isoformat()}; {result.held} kept under legal hold"
    )
    return EXIT_OK
