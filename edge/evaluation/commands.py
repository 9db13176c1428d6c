"""`alpr-edge eval`: every model figure of the project on the development data, in one table.

Runs on `../shared/data` (or `ALPR_SHARED_DATA`); when that folder is absent it says so and exits
cleanly, because the data is not part of the product.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from edge.errors import EXIT_OK
from edge.shared_data import shared_data_dir, shared_data_path

log = logging.getLogger(__name__)

PHOTO_SETS = ("eu", "br")


def _run(args: argparse.Namespace) -> int:
    from edge.detect import PlateDetector
    from edge.evaluation.detection import (
        detector_latency_ms,
        evaluate_detection,
        load_plate_photos,
    )
    from edge.evaluation.end_to_end import evaluate_end_to_end
    from edge.evaluation.ocr import evaluate_us_crops
    from edge.recognise import PlateReader

    if shared_data_path("real") is None:
        print(
            f"eval skipped: development data not found at {shared_data_dir()} "
            "(set ALPR_SHARED_DATA)"
        )
        return EXIT_OK
    detector = PlateDetector(args.detector)
    reader = PlateReader(args.ocr_model, args.ocr_config)
    figures: dict[str, dict] = {}
    first_photo = None
    for name in PHOTO_SETS:
        folder = shared_data_path("real", name)
        if folder is None:
            print(f"real/{name} not found: skipped")
            continue
        photos = load_plate_photos(folder)
        first_photo = first_photo if first_photo is not None else photos[0].image
        detection = evaluate_detection(detector, photos)
        end_to_end = evaluate_end_to_end(detector, reader, photos)
        figures[f"detection/{name}"] = detection.summary()
        figures[f"end_to_end/{name}"] = end_to_end.summary()
        log.info("real/%s missed detections: %s", name, detection.missed)
        log.info("real/%s misreads (file, label, read): %s", name, end_to_end.misreads)
    crops = shared_data_path("real", "us-crops")
    if crops is not None:
        figures["ocr/us-crops"] = evaluate_us_crops(reader, crops, args.latency_runs).summary()
    if first_photo is not None:
        figures["detector_latency"] = {
            "ms_per_1280x720_frame_median": detector_latency_ms(
                detector, first_photo, args.latency_runs
            )
        }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        _print_table(figures)
    return EXIT_OK


def _print_table(figures: dict[str, dict]) -> None:
    print(f"{'figure':<44} {'value':>10}")
    for group, values in figures.items():
        for key, value in values.items():
            shown = f"{value:.3f}" if isinstance(value, float) else str(value)
            print(f"{group + ' ' + key:<44} {shown:>10}")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="measure the shipped models on ../shared/data (recall, reads, latency)",
        description="Detection recall (IoU >= 0.3) and end-to-end exact reads on real/eu and "
        "real/br, OCR accuracy on real/us-crops, and single-thread latency.",
    )
    parser.add_argument("--detector", type=Path, default=Path("models/detector.onnx"))
    parser.add_argument("--ocr-model", type=Path, default=Path("models/ocr.onnx"))
    parser.add_argument("--ocr-config", type=Path, default=Path("models/ocr_plate_config.yaml"))
    parser.add_argument(
        "--latency-runs", type=int, default=200, help="timed runs for each latency median"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(handler=_run)
