"""`alpr-edge status`: the unit's health for a person, from the running unit's endpoint when
`[health] enabled`, else (or when it does not answer) from what the stores hold."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from typing import Any

from edge.cli.common import add_config, load
from edge.errors import EXIT_FAILURE, EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    status = subparsers.add_parser("status", help="is the unit healthy: camera, disk, outbox")
    add_config(status)
    status.add_argument("--json", action="store_true", help="print the state as JSON")
    status.set_defaults(handler=status_command)


def status_command(args: argparse.Namespace) -> int:
    from edge.service.health import stored_state

    config = load(args.config)
    live, why = None, "the health endpoint is off ([health] enabled = false)"
    if config.health.enabled:
        url = f"http://{config.health.host}:{config.health.port}/status.json"
        try:
            with urllib.request.urlopen(url, timeout=3) as reply:
                live = json.loads(reply.read())
        except (OSError, ValueError) as exc:
            why = f"{url} does not answer ({getattr(exc, 'reason', exc)}): is the unit running?"
    stored = stored_state(config)
    if args.json:
        print(json.dumps({"live": live, "stored": stored}, default=str, indent=2))
    else:
        print(_live_text(live) if live is not None else f"running unit: unknown: {why}")
        print(_stored_text(stored))
    if live is not None:
        return EXIT_OK if live["status"] == "ok" else EXIT_FAILURE
    return EXIT_OK if stored.get("audit_ok", True) and stored["store_writable"] else EXIT_FAILURE


def _live_text(live: dict[str, Any]) -> str:
    camera = live["camera"]
    lines = [
        f"running unit: {live['status']} (up {live['uptime_s']:.0f} s)",
        f"  camera {camera['id']}: {'up' if camera['up'] else 'DOWN'}"
        + (f" since {camera['since']}" if camera["since"] else "")
        + f", {camera['fps']} fps, last frame {camera['frame_age_s']} s ago,"
        f" {camera['reconnects']} reconnects",
        f"  frames {live['frames']} ({live['motion_skipped']} without motion),"
        f" detector {live['detector_seconds']} s, OCR {live['ocr_seconds']} s",
        f"  reads {live['reads']}, hotlist hits {live['hits']}",
    ]
    for agency, queue in live["outbox"].items():
        link = "connected" if queue["connected"] else "NOT connected"
        lines.append(f"  agency {agency}: {link}, {_queue_text(queue)}")
    lines += [f"  problem: {detail}" for detail in live["problems"].values()]
    return "\n".join(lines)


def _stored_text(stored: dict[str, Any]) -> str:
    free = stored["disk_free_mb"]
    lines = [
        "stores:",
        f"  reads stored {stored['reads_stored']}, with hits {stored['hits_stored']},"
        f" newest seen at {stored['newest_read_at'] or '-'}",
        f"  data folder {'writable' if stored['store_writable'] else 'NOT writable'},"
        f" {'?' if free is None else f'{free:.0f}'} MB free",
    ]
    if "store_problem" in stored:
        lines.append(f"  store: {stored['store_problem']}")
    if "audit_rows" in stored:
        verdict = "verifies" if stored["audit_ok"] else "DOES NOT VERIFY"
        lines.append(f"  audit chain: {stored['audit_rows']} rows, {verdict}")
    for agency, queue in stored["outbox"].items():
        lines.append(f"  outbox for {agency}: {_queue_text(queue)}")
    return "\n".join(lines)


def _queue_text(queue: dict[str, Any]) -> str:
    oldest = queue["oldest_s"]
    return f"{queue['depth']} waiting" + (f", oldest {oldest:.0f} s" if oldest else "")
