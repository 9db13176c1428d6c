"""`alpr-edge read`: the plates in still images, or the text of plate crops."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from edge.cli.common import add_config, load
from edge.errors import EXIT_BAD_INPUT, EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    read = subparsers.add_parser("read", help="read the plates in images")
    add_config(read)
    read.add_argument("paths", nargs="+", type=Path, metavar="IMAGE_OR_DIR")
    read.add_argument("--json", action="store_true", help="one JSON line per image")
    read.add_argument(
        "--plate-crops", action="store_true", help="images are plate crops: OCR only, no detector"
    )
    read.add_argument(
        "--unread",
        action="store_true",
        help="also list the boxes the detector found that the OCR read nothing from (empty "
        "text, no candidates): mostly false detections, listed to look at the detector",
    )
    read.set_defaults(handler=read_command)


def read_command(args: argparse.Namespace) -> int:
    from edge.runtime.capture import read_image
    from edge.runtime.pipeline.components import open_detector, open_reader
    from edge.runtime.pipeline.stills import read_photo, read_plate_crop

    config = load(args.config, defaults_ok=True)  # needs no camera
    images, problems = _collect_images(args.paths)
    reader = open_reader(config)
    detector = None if args.plate_crops else open_detector(config, stills=True)
    for path in images:
        image = read_image(path)
        if image is None:
            problems.append(f"{path}: not a readable image")
            print(f"alpr-edge: error: {problems[-1]}", file=sys.stderr)
            continue
        started = time.perf_counter()
        if detector is None:
            found = [read_plate_crop(image, reader, config.ocr)]
        else:
            found = read_photo(image, detector, reader, config.ocr)
            found = [p for p in found if p.read or args.unread]
        seconds = time.perf_counter() - started
        plates = [
            {
                "text": p.text.text,
                "confidence": round(p.text.confidence, 4),
                "region": p.text.region,
                "region_confidence": _rounded(p.text.region_confidence),
                "box": p.box.as_list(),
                "candidates": [
                    {"plate": c.text, "confidence": float(f"{c.confidence:.4g}")}
                    for c in p.text.candidates
                ],
            }
            for p in found
        ]
        if args.json:
            print(json.dumps({"image": str(path), "plates": plates, "seconds": round(seconds, 4)}))
        else:
            _print_plates(path, plates, seconds)
    return EXIT_BAD_INPUT if problems else EXIT_OK


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _collect_images(paths: list[Path]) -> tuple[list[Path], list[str]]:
    from edge.runtime.capture import IMAGE_SUFFIXES

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


def _print_plates(path: Path, plates: list[dict], seconds: float) -> None:
    if not plates:
        print(f"{path}: no plate read ({seconds * 1000:.0f} ms)")
    for plate in plates:
        box = ",".join(str(v) for v in plate["box"])
        print(
            f"{path}: {plate['text']:<10} {plate['region'] or '?':<3} "
            f"{plate['confidence']:.2f}  box {box}  ({seconds * 1000:.0f} ms)"
        )
