"""`alpr-edge console [serve]` and `alpr-edge console users add|list`: the browser console.

The console is a separate process from the reader (edge.console); it is imported only when a
console command runs, so `alpr-edge --help` loads no web framework.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from edge.cli.common import add_config, load
from edge.errors import EXIT_OK, InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    console = subparsers.add_parser(
        "console", help="the operator and auditor console in the browser"
    )
    actions = console.add_subparsers(dest="console_command", metavar="ACTION", required=True)

    serve = actions.add_parser("serve", help="serve the console (127.0.0.1:8080 by default)")
    add_config(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--tls-cert", type=Path, help="certificate (PEM); required off loopback")
    serve.add_argument("--tls-key", type=Path, help="its private key (PEM)")
    serve.set_defaults(handler=serve_command)

    users = actions.add_parser("users", help="the console's local accounts")
    user_actions = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = user_actions.add_parser("add", help="create an account")
    add_config(add)
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("admin", "operator", "auditor", "viewer"))
    add.add_argument(
        "--password-file", type=Path, help="read the password from this file (else a prompt)"
    )
    add.set_defaults(handler=users_add_command)
    remove = user_actions.add_parser("remove", help="remove an account and end its sessions")
    add_config(remove)
    remove.add_argument("name")
    remove.set_defaults(handler=users_remove_command)
    listing = user_actions.add_parser("list", help="accounts and their roles")
    add_config(listing)
    listing.set_defaults(handler=users_list_command)


def serve_command(args: argparse.Namespace) -> int:
    from edge.console.server import serve

    serve(load(args.config), args.host, args.port, args.tls_cert, args.tls_key)
    return EXIT_OK


def _password(args: argparse.Namespace) -> str:
    if args.password_file:
        try:
            return args.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise InputError(f"{args.password_file}: {exc.strerror}") from None
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise InputError("the two passwords differ")
    return first


def users_add_command(args: argparse.Namespace) -> int:
    from edge.console.accounts import Accounts
    from edge.console.server import accounts_path

    path = accounts_path(load(args.config))
    accounts = Accounts(path)
    try:
        accounts.add_user(args.name, args.role, _password(args))
    finally:
        accounts.close()
    print(f"{args.name} ({args.role}) added to {path}")
    return EXIT_OK


def users_remove_command(args: argparse.Namespace) -> int:
    from edge.console.accounts import Accounts
    from edge.console.server import accounts_path

    accounts = Accounts(accounts_path(load(args.config)))
    try:
        accounts.remove_user(args.name)
    finally:
        accounts.close()
    print(f"{args.name} removed")
    return EXIT_OK


def users_list_command(args: argparse.Namespace) -> int:
    from edge.console.accounts import Accounts
    from edge.console.server import accounts_path

    accounts = Accounts(accounts_path(load(args.config)))
    try:
        for name, role in accounts.users():
            print(f"{name:24} {role}")
    finally:
        accounts.close()
    return EXIT_OK
