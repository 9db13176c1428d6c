"""`alpr-edge config describe|check`: the edge.toml schema, and validating a file against it."""

from __future__ import annotations

import argparse

from edge.cli.common import add_config, load
from edge.errors import EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    config = subparsers.add_parser("config", help="the edge.toml schema")
    actions = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    describe = actions.add_parser("describe", help="every key, its default and meaning")
    describe.set_defaults(handler=describe_command)
    check = actions.add_parser("check", help="validate a config file")
    add_config(check)
    check.set_defaults(handler=check_command)


def describe_command(args: argparse.Namespace) -> int:
    from edge.config import describe

    print(describe())
    return EXIT_OK


def check_command(args: argparse.Namespace) -> int:
    config = load(args.config)  # every section, [sharing] included, is validated on load
    print(f"{config.path}: ok")
    return EXIT_OK
