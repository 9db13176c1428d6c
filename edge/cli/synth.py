"""`alpr-edge synth plates|scenes|video`: write synthetic training data and the sample clip.

Every command is deterministic for a given `--seed`.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from pathlib import Path

from edge.errors import InputError
from edge.plates.regions import REGION_CODES

log = logging.getLogger(__name__)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def state_list(text: str) -> tuple[str, ...]:
    codes = tuple(code.strip().upper() for code in text.split(",") if code.strip())
    unknown = [code for code in codes if code not in REGION_CODES]
    if unknown or not codes:
        raise argparse.ArgumentTypeError(
            f"unknown state {', '.join(unknown) or text!r}; known: {', '.join(REGION_CODES)}"
        )
    return codes


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within 0..1, got {value}")
    return value


def output_dir(path: Path) -> Path:
    """Create `path` (and parents); InputError when it cannot be written."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"cannot write to output folder {path}: {exc.strerror or exc}") from exc
    return path


def register(subparsers: argparse._SubParsersAction) -> None:
    synth = subparsers.add_parser("synth", help="generate synthetic plates, scenes and video")
    commands = synth.add_subparsers(dest="synth_command", metavar="WHAT", required=True)

    plates = commands.add_parser(
        "plates",
        help="plate crops + labels.csv (image_path,plate_text,plate_region) for OCR training",
    )
    plates.add_argument("--count", type=positive_int, required=True, help="crops to write")
    plates.add_argument("--out", type=Path, required=True, help="output folder")
    plates.add_argument("--seed", type=int, default=0)
    plates.add_argument("--states", type=state_list, help="comma-separated codes (default: all)")
    plates.add_argument(
        "--negatives",
        type=fraction,
        default=0.0,
        help="share of crops that show text which is no plate (labelled with empty text)",
    )
    plates.set_defaults(handler=_plates)

    scenes = commands.add_parser(
        "scenes", help="street scenes + YOLO labels + manifest.json for detector training"
    )
    scenes.add_argument("--count", type=positive_int, required=True, help="scenes to write")
    scenes.add_argument("--out", type=Path, required=True, help="output folder")
    scenes.add_argument("--seed", type=int, default=0)
    scenes.add_argument("--width", type=positive_int, default=1280)
    scenes.add_argument("--height", type=positive_int, default=720)
    scenes.add_argument("--states", type=state_list, help="comma-separated codes (default: all)")
    scenes.set_defaults(handler=_scenes)

    video = commands.add_parser(
        "video", help="the sample clip: vehicles passing a fixed camera, with ground truth"
    )
    video.add_argument("--out", type=Path, default=Path("sample_video"), help="output folder")
    video.add_argument("--seed", type=int, default=2026)
    video.add_argument("--seconds", type=positive_int, default=28, help="clip length")
    video.set_defaults(handler=_video)

    preview = commands.add_parser(
        "preview", help="docs pictures: 24 random plate crops, and one scene with its boxes"
    )
    preview.add_argument("--out", type=Path, default=Path("docs"), help="output folder")
    preview.add_argument("--seed", type=int, default=3)
    preview.set_defaults(handler=_preview)


def _single_thread() -> None:
    # The machines this runs on are shared; one OpenCV thread keeps the output identical too.
    import cv2

    cv2.setNumThreads(1)


def _plates(args: argparse.Namespace) -> int:
    import cv2

    from edge.lab.synth.plates import PlateRenderer

    _single_thread()
    out = output_dir(args.out)
    (out / "images").mkdir(exist_ok=True)
    renderer = PlateRenderer(args.seed, states=args.states, negative_rate=args.negatives)
    with open(out / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image_path", "plate_text", "plate_region"])
        for index in range(args.count):
            sample = renderer.render()
            name = f"images/{index:07d}.png"
            cv2.imwrite(str(out / name), sample.image)
            writer.writerow([name, sample.text, sample.state])
            if (index + 1) % 5000 == 0:
                log.info("wrote %d of %d plates", index + 1, args.count)
    log.info("wrote %d plate crops and labels.csv to %s", args.count, out)
    return 0


def _scenes(args: argparse.Namespace) -> int:
    import cv2

    from edge.lab.synth.scenes import SceneRenderer, yolo_line

    if args.width < 64 or args.height < 64:
        raise InputError(f"scene size must be at least 64x64, got {args.width}x{args.height}")
    _single_thread()
    out = output_dir(args.out)
    (out / "images").mkdir(exist_ok=True)
    (out / "labels").mkdir(exist_ok=True)
    renderer = SceneRenderer(args.seed, states=args.states)
    manifest = []
    for index in range(args.count):
        scene = renderer.render(args.width, args.height)
        stem = f"{index:06d}"
        cv2.imwrite(
            str(out / "images" / f"{stem}.jpg"), scene.image, [cv2.IMWRITE_JPEG_QUALITY, 92]
        )
        lines = [yolo_line(p.box, args.width, args.height) for p in scene.plates]
        (out / "labels" / f"{stem}.txt").write_text("".join(f"{line}\n" for line in lines))
        manifest.append(
            {
                "image": f"images/{stem}.jpg",
                "width": args.width,
                "height": args.height,
                "lighting": scene.lighting,
                "plates": [
                    {
                        "text": p.text,
                        "state": p.state,
                        "box": p.box.as_list(),
                        "corners": [[round(x, 2), round(y, 2)] for x, y in p.corners],
                    }
                    for p in scene.plates
                ],
            }
        )
        if (index + 1) % 500 == 0:
            log.info("wrote %d of %d scenes", index + 1, args.count)
    (out / "manifest.json").write_text(json.dumps({"seed": args.seed, "scenes": manifest}))
    log.info("wrote %d scenes, YOLO labels and manifest.json to %s", args.count, out)
    return 0


def _video(args: argparse.Namespace) -> int:
    from edge.lab.synth.video import write_sample_video

    _single_thread()
    out = output_dir(args.out)
    summary = write_sample_video(out, seed=args.seed, seconds=args.seconds)
    log.info("%s", summary)
    return 0


def _preview(args: argparse.Namespace) -> int:
    import cv2

    from edge.lab.synth.preview import plate_grid, scene_with_boxes

    _single_thread()
    out = output_dir(args.out)
    for name, image in (
        ("synth-plates.png", plate_grid(args.seed)),
        ("synth-scene.png", scene_with_boxes(args.seed)),
    ):
        cv2.imwrite(str(out / name), image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        log.info("wrote %s", out / name)
    return 0
