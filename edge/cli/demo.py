"""`alpr-edge demo` and `alpr-edge bench`: the sample clip replayed, against its truth or the
clock. Lab commands: their code lives in the lab and is loaded only when they run."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from edge.cli.common import add_config, load
from edge.errors import EXIT_FAILURE, EXIT_OK, InputError

SAMPLE_DIR = Path("sample_video")


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="replay the sample clip and compare with its truth")
    add_config(demo)
    demo.add_argument("--sample-dir", type=Path, default=SAMPLE_DIR)
    demo.set_defaults(handler=demo_command)

    bench = subparsers.add_parser(
        "bench", help="throughput on the sample clip or any footage, for one or more streams"
    )
    add_config(bench)
    bench.add_argument("--sample-dir", type=Path, default=SAMPLE_DIR)
    bench.add_argument(
        "--source", type=Path, help="a video file to bench instead of the sample clip"
    )
    bench.add_argument(
        "--streams",
        type=_streams,
        default=1,
        help="copies of the clip run at once, each as a camera of its own (default 1)",
    )
    bench.add_argument(
        "--realtime",
        action="store_true",
        help="pace every copy at the clip's frame rate as a live camera; exit 1 when behind "
        "(a frame dropped, or the run 10%% longer than the clip)",
    )
    bench.set_defaults(handler=bench_command)


def demo_command(args: argparse.Namespace) -> int:
    from edge.cli.progress import Progress
    from edge.lab.demo import compare, load_truth, print_report
    from edge.lab.replay import replay, replay_config, sample_files

    sample = sample_files(args.sample_dir)
    truth = load_truth(sample["truth"])
    with tempfile.TemporaryDirectory(prefix="alpr-demo-") as data_dir:
        config = replay_config(load(args.config), sample["video"], Path(data_dir))
        progress = Progress()
        try:
            stats, store = replay(config, sample["hotlist"], progress)
        finally:
            progress.close()
        found = store.reads(limit=100_000, with_hits=True)
        store.close()
    report = compare(truth, found)
    print_report(report, sys.stdout)
    print(
        f"{stats.frames} frames, {stats.motion_skipped} skipped by the motion gate, "
        f"{stats.detector_runs} detector runs, {stats.plates_read} plate crops read"
    )
    return EXIT_OK if report.passed else EXIT_FAILURE


def _streams(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"streams must be 1 to 64, got {value}")
    return value


def bench_command(args: argparse.Namespace) -> int:
    from edge.lab.bench import bench, print_bench
    from edge.lab.replay import replay_config, sample_files

    if args.source is not None:
        if not args.source.is_file():
            raise InputError(f"bench source {args.source}: no such file")
        video, hotlist = args.source, None
    else:
        sample = sample_files(args.sample_dir)
        video, hotlist = sample["video"], sample["hotlist"]
    with tempfile.TemporaryDirectory(prefix="alpr-bench-") as data_dir:
        config = replay_config(load(args.config), video, Path(data_dir))
        result = bench(config, args.streams, realtime=args.realtime, hotlist=hotlist)
    print_bench(result, str(video), sys.stdout)
    return EXIT_FAILURE if result.behind else EXIT_OK
