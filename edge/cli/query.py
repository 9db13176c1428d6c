"""`alpr-edge keys generate` and `alpr-edge query`: the agency's side of a query.

An agency generates its query key pair once and gives the public half to the unit's operator
(`alpr-edge agencies add --query-key ...`). `alpr-edge query` then signs a query with the
private half, publishes it on the agency's own broker (MQTT 5 request/response) and prints the
unit's answer: the reads it may see, or the reason code of the refusal.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.cli.common import add_config, load, moment, sharing_of
from edge.clock import UTC
from edge.errors import EXIT_FAILURE, EXIT_OK, InputError

if TYPE_CHECKING:
    from edge.config.allowlist import Broker

DEFAULT_WINDOW = timedelta(days=7)


def register(subparsers: argparse._SubParsersAction) -> None:
    keys = subparsers.add_parser("keys", help="signing keys: agencies' query keys, the device key")
    key_actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    generate = key_actions.add_parser(
        "generate", help="make a query key pair: private PEM (owner-only) and .pub text"
    )
    generate.add_argument(
        "--out", type=Path, required=True, help="private key file; the public half goes to OUT.pub"
    )
    generate.set_defaults(handler=run_generate)
    device = key_actions.add_parser(
        "device",
        help="print this unit's device public key and id, for agencies and auditors to pin "
        "(made on first use in the sharing data_dir; the private key never leaves the unit)",
    )
    add_config(device, "edge.toml with a [sharing] table")
    device.set_defaults(handler=run_device_key)

    query = subparsers.add_parser(
        "query", help="ask a unit whether it saw a plate (signed, over your agency's broker)"
    )
    where = query.add_argument_group("your agency's broker and identity")
    where.add_argument("--broker", required=True, help="mqtts://host:port of your broker")
    where.add_argument("--ca-cert", type=Path, help="CA of the broker's certificate")
    where.add_argument("--client-cert", type=Path, help="your client certificate")
    where.add_argument("--client-key", type=Path, help="the key of your client certificate")
    where.add_argument("--unit", required=True, help="the unit's id (its topics' second part)")
    where.add_argument("--key", type=Path, required=True, help="your query private key (PEM)")
    where.add_argument("--agency", required=True, help="your agency's id on the unit")
    where.add_argument("--user", required=True, help="who is asking: name and badge/ID")
    what = query.add_argument_group("the query")
    what.add_argument("--plate", required=True, help="exact plate, or partial: ? = one, * = any")
    what.add_argument("--case", required=True, help="case or incident number")
    what.add_argument("--purpose", required=True, help="a purpose code of the unit's policy")
    what.add_argument("--reason", required=True, help="why: a short narrative")
    what.add_argument("--on-behalf-of", help="the agency id you ask for, if not your own")
    what.add_argument("--from", dest="start", type=moment, help="default: 7 days before --to")
    what.add_argument("--to", dest="end", type=moment, help="default: now")
    query.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for the answer")
    query.add_argument("--json", action="store_true", help="print the answer as JSON")
    query.set_defaults(handler=run_query)


def run_device_key(args: argparse.Namespace) -> int:
    from edge.audit.signing import DEVICE_KEY_FILE, device_key

    settings = sharing_of(load(args.config))
    key = device_key(settings.data_dir)
    print(key.public_text)
    print(
        f"key id {key.key_id}; unit {settings.unit_id}; private key "
        f"{settings.data_dir / DEVICE_KEY_FILE} (0600, stays on the unit)"
    )
    return EXIT_OK


def run_generate(args: argparse.Namespace) -> int:
    from edge.query.signing import generate_key_pair

    pair = generate_key_pair(args.out)
    print(f"private key: {pair.private_path} (keep it secret; it signs your agency's queries)")
    print(f"public key:  {pair.public_path}")
    print("give the unit's operator this line for your allow-list entry:")
    print(f'query_key = "{pair.public_text}"')
    return EXIT_OK


def _broker(url: str) -> Broker:
    from edge.config.allowlist import parse_broker_url

    try:
        return parse_broker_url(url)
    except ValueError as exc:
        raise InputError(f"--broker: {exc}") from None


def run_query(args: argparse.Namespace) -> int:
    from edge.query.client import QueryRequest, signed_message
    from edge.query.signing import load_private_key
    from edge.share.messages import query_topic
    from edge.share.mqtt.client import request

    end = args.end or datetime.now(UTC)
    start = args.start or end - DEFAULT_WINDOW
    query = QueryRequest(
        agency=args.agency,
        user=args.user,
        case_number=args.case,
        purpose=args.purpose,
        reason=args.reason,
        plate=args.plate,
        start=start,
        end=end,
        on_behalf_of=args.on_behalf_of,
    )
    payload = signed_message(query, load_private_key(args.key))
    answer = json.loads(
        request(
            _broker(args.broker),
            query_topic(args.unit),
            payload,
            ca_cert=args.ca_cert,
            client_cert=args.client_cert,
            client_key=args.client_key,
            timeout_s=args.timeout,
        )
    )
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        _print_answer(answer)
    return EXIT_OK if answer.get("decision") == "answered" else EXIT_FAILURE


def _print_answer(answer: dict[str, Any]) -> None:
    print(f"request {answer.get('request_id')}: {answer.get('decision')}")
    if answer.get("decision") != "answered":
        print(f"refused: {answer.get('reason')}: {answer.get('detail')}")
        return
    results = answer.get("results", [])
    for read in results:
        print("  " + "  ".join(f"{key}={value}" for key, value in read.items()))
    more = " (more exist: narrow the time range)" if answer.get("truncated") else ""
    print(f"{len(results)} reads{more}; policy {answer.get('policy_version')}")
