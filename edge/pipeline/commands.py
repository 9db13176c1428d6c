"""The pipeline's commands: run, read, reads, hotlist, config, demo, bench."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import getpass
import json
import logging
import re
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.config import EdgeConfig, describe, load_config
from edge.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, InputError

if TYPE_CHECKING:
    from edge.pipeline.orchestrator import RunStats
    from edge.pipeline.search_areas import AreaDetector
    from edge.recognise import PlateReader
    from edge.store import ReadStore

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path("config/edge.toml")
SAMPLE_DIR = Path("sample_video")


def register(subparsers: argparse._SubParsersAction) -> None:
    def with_config(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument(
            "--config", type=Path, default=DEFAULT_CONFIG, help="edge.toml (default: %(default)s)"
        )
        return parser

    run = with_config(subparsers.add_parser("run", help="run the reader on the configured camera"))
    run.add_argument("--source", help="override [camera] source (file, folder, URL, device)")
    run.add_argument("--realtime", action="store_true", help="replay files at their frame rate")
    run.add_argument("--loop", action="store_true", help="replay files or folders endlessly")
    run.set_defaults(handler=run_command)

    read = with_config(subparsers.add_parser("read", help="read the plates in images"))
    read.add_argument("paths", nargs="+", type=Path, metavar="IMAGE_OR_DIR")
    read.add_argument("--json", action="store_true", help="one JSON line per image")
    read.add_argument(
        "--plate-crops", action="store_true", help="images are plate crops: OCR only, no detector"
    )
    read.set_defaults(handler=read_command)

    reads = subparsers.add_parser("reads", help="reads stored on this unit")
    reads_sub = reads.add_subparsers(dest="reads_command", required=True, metavar="ACTION")
    listing = with_config(reads_sub.add_parser("list", help="the newest reads"))
    search = with_config(reads_sub.add_parser("search", help="reads of a plate"))
    search.add_argument("--plate", required=True, help="plate; * matches any characters")
    for parser in (listing, search):
        parser.add_argument("--since", type=_moment, help="ISO date/time, or an age like 2h, 7d")
        parser.add_argument("--until", type=_moment, help="ISO date/time, or an age like 1h")
        parser.add_argument("--limit", type=int, default=50)
        parser.add_argument("--json", action="store_true", help="one JSON object per line")
        # Civil Code 1798.90.52: every access is logged with who made it and why.
        parser.add_argument(
            "--purpose", required=True, help="why you are searching (written to the audit log)"
        )
        parser.add_argument(
            "--user", default=getpass.getuser(), help="who is searching (default: login name)"
        )
        parser.set_defaults(handler=reads_command)

    hotlist = subparsers.add_parser("hotlist", help="hotlists of wanted plates")
    hotlist_sub = hotlist.add_subparsers(dest="hotlist_command", required=True, metavar="ACTION")
    importer = with_config(
        hotlist_sub.add_parser("import", help="load a CSV: plate,state,reason,source,expiry")
    )
    importer.add_argument("csv", type=Path)
    importer.set_defaults(handler=hotlist_import_command)

    config = subparsers.add_parser("config", help="the edge.toml schema")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    config_sub.add_parser("describe", help="every key, its default and meaning").set_defaults(
        handler=lambda args: print(describe()) or EXIT_OK
    )
    check = with_config(config_sub.add_parser("check", help="validate a config file"))
    check.set_defaults(handler=config_check_command)

    demo = with_config(
        subparsers.add_parser("demo", help="replay the sample clip and compare with its truth")
    )
    demo.add_argument("--sample-dir", type=Path, default=SAMPLE_DIR)
    demo.set_defaults(handler=demo_command)

    bench = with_config(subparsers.add_parser("bench", help="throughput on the sample clip"))
    bench.add_argument("--sample-dir", type=Path, default=SAMPLE_DIR)
    bench.set_defaults(handler=bench_command)


def run_command(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    camera = dataclasses.replace(
        config.camera,
        source=args.source or config.camera.source,
        realtime=args.realtime or config.camera.realtime,
        loop=args.loop or config.camera.loop,
    )
    config = dataclasses.replace(config, camera=camera)
    from edge.capture import DecodeThread, open_source
    from edge.pipeline.components import open_sharing, open_store
    from edge.pipeline.orchestrator import Pipeline
    from edge.pipeline.progress import Progress

    source = open_source(camera.source, camera)
    detector, reader = _models(config)
    store = open_store(config)
    sharing = open_sharing(config, store)
    pipeline = Pipeline(config, detector, reader, store, sharing)
    progress = Progress(getattr(source, "frame_count", None))
    log.info("reading %s as camera %s", source.name, camera.id)
    with contextlib.ExitStack() as stack:
        stack.callback(store.close)
        if sharing is not None:
            from edge.operators.reload import AllowListWatcher
            from edge.query.service import attach_queries

            attach_queries(sharing, store)  # before start: links subscribe as they connect
            sharing.start()
            stack.callback(sharing.close)
            # Allow-list edits apply within seconds; every agency gets a drift alert.
            watcher = AllowListWatcher(sharing)
            watcher.start()
            stack.callback(watcher.stop)
        stack.callback(progress.close)
        with _stopped_by_sigterm(), contextlib.suppress(KeyboardInterrupt):
            pipeline.run(DecodeThread(source, camera.decode_queue), progress)
    _log_summary(pipeline.stats, source.stats.corrupt)
    return EXIT_FAILURE if pipeline.stats.unstored else EXIT_OK


def read_command(args: argparse.Namespace) -> int:
    from edge.capture import read_image
    from edge.pipeline.components import open_detector, open_reader
    from edge.recognise.margins import read_boxes, read_plate_crops

    config = load_config(args.config)
    images, problems = _collect_images(args.paths)
    reader = open_reader(config)
    detector = None if args.plate_crops else open_detector(config)
    ocr = config.ocr

    for path in images:
        image = read_image(path)
        if image is None:
            problems.append(f"{path}: not a readable image")
            print(f"alpr-edge: error: {problems[-1]}", file=sys.stderr)
            continue
        started = time.perf_counter()
        if detector is None:
            boxes = [[0, 0, image.shape[1], image.shape[0]]]
            views, sure = ocr.plate_crop_views, ocr.plate_crop_sure_confidence
            texts = read_plate_crops(reader, [image], views, sure)
        else:
            detections = detector.detect_any_size(image)
            boxes = [d.box.as_list() for d in detections]
            margins = ocr.still_crop_margins
            texts = read_boxes(reader, image, [d.box for d in detections], margins)
        seconds = time.perf_counter() - started
        plates = [
            {
                "text": t.text,
                "confidence": round(t.confidence, 4),
                "state": t.state,
                "box": box,
            }
            for t, box in zip(texts, boxes, strict=True)
        ]
        if args.json:
            print(json.dumps({"image": str(path), "plates": plates, "seconds": round(seconds, 4)}))
        else:
            _print_plates(path, plates, seconds)
    return EXIT_BAD_INPUT if problems else EXIT_OK


def reads_command(args: argparse.Namespace) -> int:
    from edge.pipeline.components import open_store
    from edge.share.sharing import record_local_search

    config = load_config(args.config)
    plate = getattr(args, "plate", None)
    store = open_store(config)
    try:
        rows = store.reads(plate=plate, since=args.since, until=args.until, limit=args.limit)
        for row in rows:
            row["hits"] = store.hits_for(row["id"])
    finally:
        store.close()
    # The access is on record before anything is shown; a failed audit write shows nothing.
    record_local_search(
        config,
        user=args.user,
        purpose=args.purpose,
        criteria={
            "plate": plate,
            "since": args.since.isoformat() if args.since else None,
            "until": args.until.isoformat() if args.until else None,
            "limit": args.limit,
        },
        plates=[row["plate"] for row in rows],
    )
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return EXIT_OK
    print(f"{'id':>6}  {'seen at (UTC)':<19}  {'camera':<14} {'plate':<10} {'state':<5} conf  hits")
    for row in rows:
        hits = ", ".join(f"{h['listed_plate']} ({h['reason']})" for h in row["hits"])
        print(
            f"{row['id']:>6}  {row['seen_at'][:19]:<19}  {row['camera_id']:<14} "
            f"{row['plate']:<10} {row['state'] or '?':<5} {row['confidence']:.2f}  {hits}"
        )
    if not rows:
        print("(no reads)")
    return EXIT_OK


def hotlist_import_command(args: argparse.Namespace) -> int:
    from edge.hotlist import import_csv
    from edge.pipeline.components import open_store

    store = open_store(load_config(args.config))
    try:
        count = import_csv(store, args.csv)
    finally:
        store.close()
    print(f"imported {count} hotlist entries from {args.csv}")
    return EXIT_OK


def config_check_command(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if config.sharing is not None:
        from edge.share.sharing import parse_sharing_settings

        parse_sharing_settings(config.sharing, config.path)
    print(f"{config.path}: ok")
    return EXIT_OK


def demo_command(args: argparse.Namespace) -> int:
    from edge.pipeline.demo import compare, load_truth, print_report

    sample = _sample_files(args.sample_dir)
    truth = load_truth(sample["truth"])
    with tempfile.TemporaryDirectory(prefix="alpr-demo-") as data_dir:
        config = _replay_config(load_config(args.config), sample["video"], Path(data_dir))
        stats, store = _replay(config, sample["hotlist"])
        rows = store.reads(limit=100_000)
        for row in rows:
            row["hits"] = len(store.hits_for(row["id"]))
        store.close()
    report = compare(truth, rows)
    print_report(report, sys.stdout)
    print(
        f"{stats.frames} frames, {stats.motion_skipped} skipped by the motion gate, "
        f"{stats.detector_runs} detector runs, {stats.plates_read} plate crops read"
    )
    return EXIT_OK if report.passed else EXIT_FAILURE


def bench_command(args: argparse.Namespace) -> int:
    from edge.capture import open_source
    from edge.pipeline.bench import BenchResult, decode_only_fps, peak_rss_mb, print_bench

    sample = _sample_files(args.sample_dir)
    with tempfile.TemporaryDirectory(prefix="alpr-bench-") as data_dir:
        config = _replay_config(load_config(args.config), sample["video"], Path(data_dir))
        frames, decode_fps = decode_only_fps(open_source(config.camera.source, config.camera))
        started = time.perf_counter()
        stats, store = _replay(config, sample["hotlist"])
        elapsed = time.perf_counter() - started
        store.close()
    result = BenchResult(frames, decode_fps, stats.frames / elapsed, stats, peak_rss_mb())
    print_bench(result, str(sample["video"]), sys.stdout)
    return EXIT_OK


def _replay_config(config: EdgeConfig, video: Path, data_dir: Path) -> EdgeConfig:
    """The config for a demo or bench replay: the clip flat out, a fresh store, no sharing."""
    camera = dataclasses.replace(config.camera, source=str(video), realtime=False, loop=False)
    store = dataclasses.replace(config.store, data_dir=data_dir)
    return dataclasses.replace(config, camera=camera, store=store, sharing=None)


def _replay(config: EdgeConfig, hotlist_csv: Path) -> tuple[RunStats, ReadStore]:
    """Replay the configured source through a full pipeline; returns its stats and open store."""
    from edge.capture import DecodeThread, open_source
    from edge.hotlist import import_csv
    from edge.pipeline.components import open_store
    from edge.pipeline.orchestrator import Pipeline
    from edge.pipeline.progress import Progress

    source = open_source(config.camera.source, config.camera)
    detector, reader = _models(config)
    store = open_store(config)
    import_csv(store, hotlist_csv)
    pipeline = Pipeline(config, detector, reader, store)
    frames = DecodeThread(source, config.camera.decode_queue)
    progress = Progress(getattr(source, "frame_count", None))
    try:
        stats = pipeline.run(frames, progress)
    finally:
        progress.close()
    stats.seconds["decode"] = frames.decode_seconds
    return stats, store


def _models(config: EdgeConfig) -> tuple[AreaDetector, PlateReader]:
    """Both models, loaded before anything is written, so a bad model file changes nothing."""
    from edge.pipeline.components import open_detector, open_reader
    from edge.pipeline.search_areas import AreaDetector

    return AreaDetector(open_detector(config)), open_reader(config)


def _sample_files(folder: Path) -> dict[str, Path]:
    from edge.synth.video import HOTLIST_NAME, TRUTH_NAME, VIDEO_NAME

    files = {"video": VIDEO_NAME, "truth": TRUTH_NAME, "hotlist": HOTLIST_NAME}
    paths = {key: folder / name for key, name in files.items()}
    for path in paths.values():
        if not path.is_file():
            raise InputError(f"sample clip file {path} not found (make it: alpr-edge synth video)")
    return paths


def _collect_images(paths: list[Path]) -> tuple[list[Path], list[str]]:
    from edge.capture import IMAGE_SUFFIXES

    images, problems = [], []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                problems.append(f"{path}: no images in this folder")
            images += found
        elif path.is_file():
            images.append(path)
        else:
            problems.append(f"{path}: no such file or folder")
    for problem in problems:
        print(f"alpr-edge: error: {problem}", file=sys.stderr)
    return images, problems


def _print_plates(path: Path, plates: list[dict[str, Any]], seconds: float) -> None:
    if not plates:
        print(f"{path}: no plate found ({seconds * 1000:.0f} ms)")
    for plate in plates:
        box = ",".join(str(v) for v in plate["box"])
        print(
            f"{path}: {plate['text']:<10} {plate['state'] or '?':<3} "
            f"{plate['confidence']:.2f}  box {box}  ({seconds * 1000:.0f} ms)"
        )


_AGE = re.compile(r"^(\d+)([smhd])$")
_AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _moment(text: str) -> datetime:
    """An ISO date or date-time (UTC unless it says otherwise), or an age such as 2h or 7d."""
    age = _AGE.match(text)
    if age:
        return datetime.now(UTC) - timedelta(**{_AGE_UNITS[age.group(2)]: int(age.group(1))})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date/time or an age like 30m, 2h, 7d"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@contextlib.contextmanager
def _stopped_by_sigterm() -> Iterator[None]:
    """A service manager's SIGTERM ends the run like Ctrl-C: open tracks are still stored."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _log_summary(stats: RunStats, corrupt: int) -> None:
    log.info(
        "stopped: %d frames (%d skipped by motion, %d corrupt), %d reads, %d hotlist hits",
        stats.frames,
        stats.motion_skipped,
        corrupt,
        stats.reads,
        stats.hits,
        extra={"frames": stats.frames, "reads": stats.reads, "hits": stats.hits},
    )
