"""`alpr-edge run`: the reader on the configured camera (or a replayed file)."""

from __future__ import annotations

import argparse
import dataclasses

from edge.cli.common import add_config, load
from edge.errors import EXIT_FAILURE, EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("run", help="run the reader on the configured camera")
    add_config(run)
    run.add_argument("--source", help="override [camera] source (file, folder, URL, device)")
    run.add_argument("--realtime", action="store_true", help="replay files at their frame rate")
    run.add_argument("--loop", action="store_true", help="replay files or folders endlessly")
    run.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from edge.cli.progress import Progress
    from edge.query.service import unit_sharing
    from edge.runtime.pipeline.components import open_store
    from edge.runtime.pipeline.runner import open_inputs, run_pipeline
    from edge.service.unit import service_run

    config = load(args.config)
    camera = dataclasses.replace(
        config.camera,
        source=args.source or config.camera.source,
        realtime=args.realtime or config.camera.realtime,
        loop=args.loop or config.camera.loop,
    )
    config = dataclasses.replace(config, camera=camera)
    inputs = open_inputs(config)
    store = open_store(config)
    progress = Progress(inputs.total_frames)
    try:
        with (
            unit_sharing(config, store.data_dir) as sharing,
            service_run(config, inputs, sharing, progress) as (on_frame, _health),
        ):
            try:
                result = run_pipeline(inputs, store, sharing, on_frame)
            finally:
                progress.close()
    finally:
        store.close()
    return EXIT_FAILURE if result.stats.unstored else EXIT_OK
