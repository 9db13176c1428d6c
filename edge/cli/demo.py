"""`alpr-edge demo` and `alpr-edge bench`: the sample clip replayed, against its truth or the
clock. Lab commands: their code lives in the lab and is loaded only when they run."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from edge.cli.common import add_config, load
from edge.errors import EXIT_FAILURE, EXIT_OK

SAMPLE_DIR = Path("sample_video")


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="replay the sample clip and compare with its truth")
    add_config(demo)
    demo.add_argument("--sample-dir", type=Path, default=SAMPLE_DIR)
    demo.set_defaults(handler=demo_command)

    bench = subparsers.add_parser("bench", help="throughput on the sample clip")
    add_config(bench)
    bench.add_argument("--sample-dir", type=Path, default=SAMPLE_DIR)
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


def bench_command(args: argparse.Namespace) -> int:
    from edge.lab.bench import BenchResult, decode_only_fps, peak_rss_mb, print_bench
    from edge.lab.replay import replay, replay_config, sample_files
    from edge.runtime.capture import open_source

    sample = sample_files(args.sample_dir)
    with tempfile.TemporaryDirectory(prefix="alpr-bench-") as data_dir:
        config = replay_config(load(args.config), sample["video"], Path(data_dir))
        frames, decode_fps = decode_only_fps(open_source(config.camera.source, config.camera))
        started = time.perf_counter()
        stats, store = replay(config, sample["hotlist"])
        elapsed = time.perf_counter() - started
        store.close()
    result = BenchResult(frames, decode_fps, stats.frames / elapsed, stats, peak_rss_mb())
    print_bench(result, str(sample["video"]), sys.stdout)
    return EXIT_OK
