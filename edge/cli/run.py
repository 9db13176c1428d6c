"""`alpr-edge run`: the reader on the configured camera(s) (or a replayed file).

Exit codes: 0 the source was read to its end (or the unit was stopped); 1 reads could not be
stored, or a camera of several failed; 2 bad input (a source that yields no usable frame,
another unit on the data folder, a bad config); 3 the source was read only in part (corrupt
frames, a truncated file).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from typing import TYPE_CHECKING

from edge.cli.common import add_config, load
from edge.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, InputError

if TYPE_CHECKING:
    from edge.config import EdgeConfig
    from edge.runtime.pipeline.runner import RunResult

log = logging.getLogger(__name__)


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
    run.add_argument(
        "--stills",
        action="store_true",
        help="the source folder holds single stills: each image is read as a pass of its own",
    )
    run.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from edge.runtime.pipeline.cameras import only_camera
    from edge.runtime.pipeline.components import as_stills

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
    if not config.more_cameras and (args.stills or config.camera.stills):
        config = as_stills(config)
    return _run(config)


def _run(config: EdgeConfig) -> int:
    """One camera through `run_pipeline`; several through `run_cameras`, where a camera that
    fails is logged and the others run on, and the run then exits non-zero so a service
    manager (or its operator) sees the failed camera."""
    from edge.audit.retention import local_retention
    from edge.cli.progress import Progress
    from edge.query.service import unit_sharing
    from edge.runtime.capture import LiveSource
    from edge.runtime.pipeline.cameras import open_cameras, run_cameras
    from edge.runtime.pipeline.components import open_store
    from edge.runtime.pipeline.runner import open_inputs, run_pipeline
    from edge.runtime.store import data_folder_lock
    from edge.service.unit import service_run
    from edge.share.outbox import queued_per_agency

    several = bool(config.more_cameras)
    inputs = open_cameras(config) if several else open_inputs(config)
    watched = next(iter(inputs.sources.values()), None) if several else inputs.source
    with data_folder_lock(config.store.data_dir):
        store = open_store(config)
        progress = Progress(None if several else inputs.total_frames)
        try:
            with (
                local_retention(config, store),
                unit_sharing(config, store.data_dir) as sharing,
                service_run(config, watched, sharing, progress) as (on_frame, _health),
            ):
                try:
                    if several:
                        cameras_result = run_cameras(inputs, store, sharing, on_frame)
                    else:
                        result = run_pipeline(inputs, store, sharing, on_frame)
                finally:
                    progress.close()
        finally:
            store.close()
    if config.sharing is not None and config.sharing.outbox_file.is_file():
        queued = sum(queued_per_agency(config.sharing.outbox_file).values())
        log.info(
            "%d message(s) still queued for agencies (sent once they connect)",
            queued,
            extra={"queued": queued},
        )
    if several:
        failed = cameras_result.total.unstored or cameras_result.failed
        return EXIT_FAILURE if failed else EXIT_OK
    return _exit_code(result, inputs.source.name, live=isinstance(inputs.source, LiveSource))


def _exit_code(result: RunResult, source: str, *, live: bool) -> int:
    """What the run's end says about the source (the module docstring's exit codes)."""
    if result.stats.unstored:
        return EXIT_FAILURE
    if result.nothing_read and not live:
        log.error("source %s gave no usable frame (%d corrupt)", source, result.corrupt_frames)
        return EXIT_BAD_INPUT
    if result.partial:
        log.error(
            "source %s was read only in part: %d corrupt and %d missing frame(s)",
            source,
            result.capture.corrupt,
            result.capture.missing,
        )
        return EXIT_PARTIAL
    return EXIT_OK
