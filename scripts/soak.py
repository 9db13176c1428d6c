"""A bounded soak of `alpr-edge run` on a loopback MJPEG stream that drops every ~30 s.

Not a test: a measurement for the closing note of issue 15. It serves, on 127.0.0.1 only, a
stream of photos with known plates (each shown for `--show-s`, then an empty frame for
`--blank-s`: one vehicle pass each), drops the stream (connections closed, refused) for
`--down-s` every `--drop-every-s`, and runs the unit on it for `--minutes`. It reports the
passes served in full vs the reads stored, and the unit's RSS and open file descriptors a
few seconds after start and just before the stop (SIGTERM).

    python scripts/soak.py --minutes 4 [--photos DIR] [--out soak.json]

The photos default to `$ALPR_SHARED_DATA/real/us` (evaluation data: used here only as
camera input); those `alpr-edge read` reads surely, with distinct plates, are used.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from faults import MjpegServer  # noqa: E402  (the tests' loopback stream server)

SIZE = (1280, 720)


def letterbox(image: np.ndarray) -> np.ndarray:
    scale = min(SIZE[0] / image.shape[1], SIZE[1] / image.shape[0])
    resized = cv2.resize(image, None, fx=scale, fy=scale)
    canvas = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    y, x = (SIZE[1] - resized.shape[0]) // 2, (SIZE[0] - resized.shape[1]) // 2
    canvas[y : y + resized.shape[0], x : x + resized.shape[1]] = resized
    return canvas


def alpr(*args: object) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "edge", *map(str, args)], capture_output=True, text=True, env=env
    )


def pick_photos(folder: Path, work: Path, config: Path, wanted: int) -> list[tuple[Path, str]]:
    """Letterboxed photos with one sure plate each, distinct plates."""
    candidates = []
    for photo in sorted(folder.glob("*.jpg"))[:40]:
        image = cv2.imread(str(photo))
        if image is not None:
            target = work / photo.name
            cv2.imwrite(str(target), letterbox(image))
            candidates.append(target)
    read = alpr("read", "--config", config, "--json", *candidates)
    chosen: dict[str, Path] = {}
    for line in read.stdout.splitlines():
        entry = json.loads(line)
        plates = [p for p in entry["plates"] if p["confidence"] >= 0.9]
        if len(entry["plates"]) == 1 and plates and plates[0]["text"] not in chosen:
            chosen[plates[0]["text"]] = Path(entry["image"])
        if len(chosen) == wanted:
            break
    return [(path, plate) for plate, path in chosen.items()]


def usage(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    return {"rss_kib": rss, "open_fds": len(os.listdir(f"/proc/{pid}/fd"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--photos", type=Path, default=None)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--show-s", type=float, default=2.0)
    parser.add_argument("--blank-s", type=float, default=3.0)
    parser.add_argument("--drop-every-s", type=float, default=30.0)
    parser.add_argument("--down-s", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    shared = Path(os.environ.get("ALPR_SHARED_DATA", ROOT.parent / "shared" / "data"))
    photos = args.photos or shared / "real" / "us"
    work = Path(tempfile.mkdtemp(prefix="alpr-soak-"))
    config = work / "edge.toml"
    config.write_text(
        '[camera]\nid = "soak"\nreconnect_initial_s = 0.5\nreconnect_max_s = 2.0\n'
        "read_timeout_s = 3.0\n[motion]\nenabled = false\n"
        f'[detector]\nmodel = "{ROOT / "models/detector.onnx"}"\n'
        f'[ocr]\nmodel = "{ROOT / "models/ocr.onnx"}"\n'
        f'plate_config = "{ROOT / "models/ocr_plate_config.yaml"}"\n'
        # Each pass is a new vehicle here, though the few photos come round again.
        "[track]\nrepeat_window_s = 1.0\n"
        f'[store]\ndata_dir = "{work / "data"}"\n'
    )
    (work / "frames").mkdir()
    chosen = pick_photos(photos, work / "frames", config, wanted=4)
    if not chosen:
        print(f"no photo with a sure plate in {photos}", file=sys.stderr)
        return 2
    jpegs = [(cv2.imencode(".jpg", cv2.imread(str(p)))[1].tobytes(), plate) for p, plate in chosen]
    blank = cv2.imencode(".jpg", np.zeros((SIZE[1], SIZE[0], 3), np.uint8))[1].tobytes()
    show, period = round(args.show_s * args.fps), round((args.show_s + args.blank_s) * args.fps)
    served: dict[int, int] = {}  # pass number -> frames of it sent

    def frame(n: int) -> bytes:
        number, position = divmod(n, period)
        if position >= show:
            return blank
        served[number] = served.get(number, 0) + 1
        return jpegs[number % len(jpegs)][0]

    server = MjpegServer(fps=args.fps, frame=frame)
    with server:
        run = subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--config", str(config), "--source", server.url],
            stdout=subprocess.DEVNULL,
            stderr=open(work / "run.log", "w"),  # noqa: SIM115
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        stop = threading.Event()
        drops = 0

        def dropper() -> None:
            nonlocal drops
            while not stop.wait(args.drop_every_s):
                server.down()
                drops += 1
                stop.wait(args.down_s)
                server.up()

        threading.Thread(target=dropper, daemon=True).start()
        time.sleep(15)
        at_start = usage(run.pid)
        time.sleep(max(0.0, args.minutes * 60 - 15))
        at_end = usage(run.pid)
        stop.set()
        run.send_signal(signal.SIGTERM)
        code = run.wait(60)
    # A pass counts as expected when most of it reached the unit.
    expected = sum(1 for frames in served.values() if frames >= show * 0.75)
    conn = sqlite3.connect(work / "data" / "reads.db")
    stored = [row[0] for row in conn.execute("SELECT plate FROM reads ORDER BY id")]
    conn.close()
    known = {plate for _, plate in jpegs}
    report = {
        "minutes": args.minutes,
        "drops": drops,
        "passes_served": len(served),
        "passes_expected": expected,
        "reads_stored": len(stored),
        "reads_of_known_plates": sum(1 for p in stored if p in known),
        "plates": sorted(known),
        "start": at_start,
        "end": at_end,
        "exit_code": code,
        "log": str(work / "run.log"),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
