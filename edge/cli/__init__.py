"""`alpr-edge`: one entry point, one module per command group.

The CLI only parses, calls and prints. A command module exposes `register(subparsers)` and sets
`handler=` on its parsers; a handler takes the parsed arguments and returns an exit code.
Handlers import what they run (onnxruntime, torch, paho) when they run, so `alpr-edge --help`
loads none of it (a test checks). The lab's commands (train, eval, synth, demo, bench) are
registered here too; their code is imported only by their handlers.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from edge import __version__
from edge.errors import EdgeError
from edge.logs import configure_logging, fatal

# In the order `alpr-edge --help` lists them: the unit, its guardrails, then the lab.
COMMAND_MODULES: tuple[str, ...] = (
    "edge.cli.run",
    "edge.cli.status",
    "edge.cli.read",
    "edge.cli.reads",
    "edge.cli.hotlist",
    "edge.cli.config",
    "edge.cli.sharing",
    "edge.cli.agencies",
    "edge.cli.audit",
    "edge.cli.retention",
    "edge.cli.query",
    "edge.cli.console",
    "edge.cli.demo",
    "edge.cli.train",
    "edge.cli.eval",
    "edge.cli.synth",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alpr-edge",
        description="ALPR edge unit with sharing guardrails.",
    )
    parser.add_argument("--version", action="version", version=f"alpr-edge {__version__}")
    parser.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="log line format"
    )
    parser.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), default="info"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; argparse itself exits with 2 (bad input) on bad arguments."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_format, args.log_level)
    fmt = args.log_format
    try:
        return int(args.handler(args) or 0)
    except EdgeError as exc:
        # Under --log-format json the last line is JSON too (with the exit code it ends with).
        fatal(f"error: {exc}", fmt, exit_code=exc.exit_code)
        return exc.exit_code
    except KeyboardInterrupt:
        fatal("interrupted", fmt, exit_code=130)
        return 130
    except BrokenPipeError:
        return 0
