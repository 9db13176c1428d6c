"""Replaying the sample clip through a full pipeline, for the demo and the benchmark."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from edge.config import EdgeConfig
from edge.errors import InputError
from edge.lab.synth.video import HOTLIST_NAME, TRUTH_NAME, VIDEO_NAME
from edge.runtime.hotlist import import_csv
from edge.runtime.pipeline.components import open_store
from edge.runtime.pipeline.orchestrator import RunStats
from edge.runtime.pipeline.runner import open_inputs, run_pipeline
from edge.runtime.store import ReadStore


def sample_files(folder: Path) -> dict[str, Path]:
    """The clip, its ground truth and its hotlist in `folder` (made by `alpr-edge synth video`)."""
    files = {"video": VIDEO_NAME, "truth": TRUTH_NAME, "hotlist": HOTLIST_NAME}
    paths = {key: folder / name for key, name in files.items()}
    for path in paths.values():
        if not path.is_file():
            raise InputError(f"sample clip file {path} not found (make it: alpr-edge synth video)")
    return paths


def replay_config(config: EdgeConfig, video: Path, data_dir: Path) -> EdgeConfig:
    """The config for a demo or bench replay: the clip flat out, a fresh store, no sharing."""
    camera = dataclasses.replace(config.camera, source=str(video), realtime=False, loop=False)
    store = dataclasses.replace(config.store, data_dir=data_dir)
    return dataclasses.replace(config, camera=camera, store=store, sharing=None)


def replay(config: EdgeConfig, hotlist_csv: Path, on_frame=None) -> tuple[RunStats, ReadStore]:
    """Replay the configured source through a full pipeline; returns its stats and open store."""
    inputs = open_inputs(config)
    store = open_store(config)
    import_csv(store, hotlist_csv)
    result = run_pipeline(inputs, store, on_frame=on_frame)
    return result.stats, store
