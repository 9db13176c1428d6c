"""`alpr-edge run`: the reader on the configured camera(s) (or a replayed file)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from edge.cli.common import add_config, load
from edge.errors import EXIT_FAILURE, EXIT_OK, InputError

if TYPE_CHECKING:
    from edge.config import EdgeConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("run", help="run the reader on the configured camera(s)")
    add_config(run)
    run.add_argument("--source", help="override [camera] source (file, folder, URL, device)")
    run.add_argument(
        "--camera",
        metavar="ID",
        help="run only the [[camera]] with this id (needed with --source when there are several)",
    )
    run.add_argument("--realtime", action="store_true", help="replay files at their frame rate")
    run.add_argument("--loop", action="store_true", help="replay files or folders endlessly")
    run.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from edge.runtime.pipeline.cameras import only_camera

    config = load(args.config)
    if args.camera:
        config = only_camera(config, args.camera)
    elif args.source and config.more_cameras:
        ids = ", ".join(camera.id for camera in config.cameras)
        raise InputError(f"--source replays one camera: pick which with --camera ID ({ids})")
    cameras = [
        dataclasses.replace(
            camera,
            source=args.source or camera.source,
            realtime=args.realtime or camera.realtime,
            loop=args.loop or camera.loop,
        )
        for camera in config.cameras
    ]
    config = dataclasses.replace(config, camera=cameras[0], more_cameras=tuple(cameras[1:]))
    return _run(config)


def _run(config: EdgeConfig) -> int:
    """One camera through `run_pipeline`; several through `run_cameras`, where a camera that
    fails is logged and the others run on, and the run then exits non-zero so a service
    manager (or its operator) sees the failed camera."""
    from edge.cli.progress import Progress
    from edge.query.service import unit_sharing
    from edge.runtime.pipeline.cameras import open_cameras, run_cameras
    from edge.runtime.pipeline.components import open_store
    from edge.runtime.pipeline.runner import open_inputs, run_pipeline
    from edge.service.unit import service_run

    several = bool(config.more_cameras)
    inputs = open_cameras(config) if several else open_inputs(config)
    store = open_store(config)
    progress = Progress(None if several else inputs.total_frames)
    watched = next(iter(inputs.sources.values()), None) if several else inputs.source
    try:
        with (
            unit_sharing(config, store.data_dir) as sharing,
            service_run(config, watched, sharing, progress) as (on_frame, _health),
        ):
            try:
                if several:
                    result = run_cameras(inputs, store, sharing, on_frame)
                    failed = bool(result.total.unstored or result.failed)
                else:
                    failed = bool(run_pipeline(inputs, store, sharing, on_frame).stats.unstored)
            finally:
                progress.close()
    finally:
        store.close()
    return EXIT_FAILURE if failed else EXIT_OK
