"""`alpr-edge eval`: every model figure of the project on the development data, in one table.

Runs on `../shared/data` (or `ALPR_SHARED_DATA`); when that folder is absent it says so and exits
cleanly, because the data is not part of the product.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from edge.config.schema import STILL_CROP_MARGINS, DetectorConfig
from edge.errors import EXIT_OK
from edge.lab.shared_data import shared_data_dir, shared_data_path

if TYPE_CHECKING:
    from edge.config import OcrConfig
    from edge.runtime.detect import PlateDetector
    from edge.runtime.recognise import PlateReader

log = logging.getLogger(__name__)

PHOTO_SETS = ("eu", "br")
# Loss by stage (`edge.lab.evaluation.stages`), read as `alpr-edge read` reads each photo.
STAGE_SETS = ("us", "eu", "br")
# With --told-regions, each set is read again as a unit told where it stands would read it.
TOLD_REGIONS = {"eu": ("EU", "UK"), "br": ("BR",), "us-crops": ("US",)}
# The figures model issue #4 sets, shown beside the measured values.
TARGETS = {
    "detection recall": ">= 0.95",
    "end_to_end read_rate": ">= 0.85",
    "ocr exact": ">= 0.90",
    "ocr latency_ms_median": "<= 3",
    "ocr latency_ms_per_plate_median": "<= 3",
    "detector_latency ms_per_1280x720_frame_median": "<= 25",
    # Issue 20's targets for the stage figures (real/us; eu and br: top-1 pooled >= 0.93).
    "stages top1_exact": ">= 0.85 (us)",
    "stages detection_recall": ">= 0.97 (us)",
    "stages top1_exact_pooled": ">= 0.93 (eu, br)",
    "stages ms_per_photo_median": "<= 100",
    # Issue 20's state targets differ by set, so they are keyed by the whole row group.
    "state/us-crops accuracy": ">= 0.92",
    "state/by-state-test accuracy": ">= 0.70",
}
# Wrong (truth->predicted) pairs shown per state row group.
STATE_CONFUSIONS_SHOWN = 5


def _run(args: argparse.Namespace) -> int:
    from edge.lab.evaluation.detection import (
        detector_latency_ms,
        evaluate_detection,
        find_plates,
        load_plate_photos,
    )
    from edge.lab.evaluation.end_to_end import evaluate_end_to_end
    from edge.lab.evaluation.ocr import evaluate_us_crops
    from edge.runtime.pipeline.components import detector_from
    from edge.runtime.recognise import PlateReader

    if shared_data_path("real") is None:
        print(
            f"eval skipped: development data not found at {shared_data_dir()} "
            "(set ALPR_SHARED_DATA)"
        )
        return EXIT_OK
    detector = None
    if _present(args.detector):
        # Opened as `alpr-edge read` opens it, so the figures are what `read` gives.
        settings = replace(DetectorConfig(), model=args.detector, still_fine_pass=args.fine_pass)
        detector = detector_from(settings, ("CPUExecutionProvider",), stills=True)
    reader = None
    if _present(args.ocr_model):
        reader = PlateReader(args.ocr_model, args.ocr_config).configured(_ocr_settings(args))
    figures: dict[str, dict] = {}
    for name in PHOTO_SETS:
        folder = shared_data_path("real", name)
        if folder is None or detector is None:
            print(f"real/{name} figures skipped: data or detector missing")
            continue
        photos = load_plate_photos(folder)
        found_plates = find_plates(detector, photos)
        detection = evaluate_detection(photos, found_plates)
        figures[f"detection/{name}"] = detection.summary()
        log.debug("real/%s missed detections: %s", name, detection.missed)
        if reader is not None:
            end_to_end = evaluate_end_to_end(reader, photos, found_plates, args.crop_margins)
            figures[f"end_to_end/{name}"] = end_to_end.summary()
            log.debug("real/%s misreads (file, label, read): %s", name, end_to_end.misreads)
            if args.told_regions:
                told = reader.expecting(TOLD_REGIONS[name])
                end_to_end = evaluate_end_to_end(told, photos, found_plates, args.crop_margins)
                figures[f"end_to_end/{name} told {'+'.join(TOLD_REGIONS[name])}"] = (
                    end_to_end.summary()
                )
        if "detector_latency" not in figures:
            latency = detector_latency_ms(detector, photos[0].image, args.latency_runs)
            figures["detector_latency"] = {"ms_per_1280x720_frame_median": latency}
    if detector is not None and reader is not None:
        _stages(args, detector, reader, figures)
    crops = shared_data_path("real", "us-crops")
    if crops is not None and reader is not None:
        figures["ocr/us-crops"] = evaluate_us_crops(reader, crops, args.latency_runs).summary()
        if args.told_regions:
            told = reader.expecting(TOLD_REGIONS["us-crops"])
            figures["ocr/us-crops told US"] = evaluate_us_crops(told, crops, 1).summary()
    if _present(args.state_model):
        figures.update(_state_figures(args.state_model, reader, args.latency_runs))
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        _print_table(figures)
    return EXIT_OK


def _stages(
    args: argparse.Namespace, detector: PlateDetector, reader: PlateReader, figures: dict
) -> None:
    """Loss by stage on each photo set, through `alpr-edge read`'s own call."""
    from edge.lab.evaluation.detection import load_plate_photos
    from edge.lab.evaluation.stages import evaluate_stages

    ocr = _ocr_settings(args)
    for name in STAGE_SETS:
        folder = shared_data_path("real", name)
        if folder is None:
            print(f"real/{name} stage figures skipped: data missing")
            continue
        stages = evaluate_stages(detector, reader, load_plate_photos(folder), ocr)
        figures[f"stages/{name}"] = stages.summary()
        log.debug("real/%s stage misreads (file, label, read): %s", name, stages.misreads)


def _ocr_settings(args: argparse.Namespace) -> OcrConfig:
    """The [ocr] defaults as `alpr-edge read` uses them, with this command's choices."""
    from edge.config import OcrConfig

    return replace(
        OcrConfig(),
        still_crop_margins=tuple(args.crop_margins),
        candidates=args.candidates,
        state_model=args.state_model
        if args.region_from_state_model and _present(args.state_model)
        else None,
    )


def _state_figures(model: Path, reader: PlateReader | None, latency_runs: int) -> dict[str, dict]:
    """`state/us-crops`, `state/us-crops unseen`, `state/by-state-test` (and `unseen`),
    `state/eu-plates` and `state/br-plates` rows, for the sets present; the OCR (when present)
    helps find the crops the state set holds copies of."""
    from edge.lab.evaluation.ocr import normalise_plate
    from edge.lab.evaluation.state import StateClassifier, state_figures

    def read_texts(images: list) -> list[str]:
        assert reader is not None
        return [normalise_plate(read.text) for read in reader.read(images)]

    evaluations = state_figures(
        StateClassifier(model),
        shared_data_path("state", "us-plates-by-state"),
        shared_data_path("real", "us-crops"),
        read_texts if reader is not None else None,
        latency_runs,
    )
    return {
        f"state/{name}": evaluation.summary()
        | {"confusions": ", ".join(evaluation.confusions[:STATE_CONFUSIONS_SHOWN]) or "-"}
        for name, evaluation in evaluations.items()
    }


def _present(model: Path) -> bool:
    """Whether a model file exists; a missing one skips its figures instead of failing them all."""
    if model.is_file():
        return True
    print(f"{model} not found: its figures are skipped")
    return False


def _print_table(figures: dict[str, dict]) -> None:
    print(f"{'figure':<48} {'value':>10}  target")
    for group, values in figures.items():
        for key, value in values.items():
            shown = f"{value:.3f}" if isinstance(value, float) else str(value)
            target = TARGETS.get(f"{group} {key}", TARGETS.get(f"{group.split('/')[0]} {key}", ""))
            print(f"{group + ' ' + key:<48} {shown:>10}  {target}")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="measure the shipped models on ../shared/data (recall, reads, latency)",
        description="Detection recall (IoU >= 0.3) and end-to-end exact reads on real/eu and "
        "real/br, loss by stage on real/us, real/eu and real/br (recall, OCR on the true and "
        "on our boxes, top-1 and top-10, strict and O/0 pooled, time per photo, reads matching "
        "no labelled plate per photo), OCR accuracy "
        "on real/us-crops, state accuracy on real/us-crops and the state set's test split "
        "(when models/state.onnx exists), and single-thread latency.",
    )
    parser.add_argument("--detector", type=Path, default=Path("models/detector.onnx"))
    parser.add_argument("--ocr-model", type=Path, default=Path("models/ocr.onnx"))
    parser.add_argument("--ocr-config", type=Path, default=Path("models/ocr_plate_config.yaml"))
    parser.add_argument("--state-model", type=Path, default=Path("models/state.onnx"))
    parser.add_argument(
        "--latency-runs", type=int, default=200, help="timed runs for each latency median"
    )
    parser.add_argument(
        "--crop-margins",
        type=float,
        nargs="+",
        default=STILL_CROP_MARGINS,
        help="end to end, read each plate cut at these margins (share of the box width added "
        "on each side) and let the readings vote, as `alpr-edge read` does "
        "(ocr.still_crop_margins)",
    )
    parser.add_argument(
        "--region-from-state-model",
        action="store_true",
        help="in the stage figures, let --state-model name the region instead of the OCR's "
        "head (ocr.state_model); the state rows always measure it",
    )
    parser.add_argument(
        "--fine-pass",
        action=argparse.BooleanOptionalAction,
        default=DetectorConfig().still_fine_pass,
        help="in the stage figures, search each photo at 1.5x too, as `alpr-edge read` does "
        "with detector.still_fine_pass (default: that key's default)",
    )
    parser.add_argument(
        "--candidates",
        type=int,
        default=10,
        help="readings each plate lists for the top-N figures (ocr.candidates)",
    )
    parser.add_argument(
        "--told-regions",
        action="store_true",
        help="also read each set as a unit configured with ocr.expected_regions would: "
        + ", ".join(f"{name} {'+'.join(codes)}" for name, codes in TOLD_REGIONS.items()),
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(handler=_run)
