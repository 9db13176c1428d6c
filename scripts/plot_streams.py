"""How many cameras one unit carries: `alpr-edge bench` for 1..N streams of a real clip, plotted.

For each stream count it runs the bench twice, each in a fresh process (so peak RSS is that
count's own): flat out, for the aggregate frame rate the unit reaches, and in real time, each
stream paced at the clip's rate as a live camera, for whether it kept up (no frame dropped,
the run within 10% of the clip's length). The real-time margin is how much faster than the
streams need the unit reads them: flat-out aggregate fps / (streams x clip fps) - 1; at or
below 0 it cannot carry that many.

    python scripts/plot_streams.py [--source CLIP] [--max-streams 8] [--out docs/streams.png]

Draws with matplotlib when it is installed, else with Pillow (a dependency of the project).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CLIP = Path(os.environ.get("ALPR_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULT_CLIP = DEFAULT_CLIP / "video" / "uk-approach.mp4"


@dataclass(frozen=True)
class Point:
    streams: int
    flat_fps: float  # aggregate, flat out
    clip_fps: float
    realtime_fps: float  # aggregate, paced
    dropped: int  # in the real-time run
    kept_up: bool
    peak_rss_mb: float  # of the real-time run
    load: str
    machine: str

    @property
    def margin(self) -> float:
        return self.flat_fps / (self.streams * self.clip_fps) - 1


def bench(clip: Path, streams: int, realtime: bool, config: Path) -> tuple[int, str]:
    command = [sys.executable, "-m", "edge", "bench", "--config", str(config)]
    command += ["--source", str(clip), "--streams", str(streams)]
    if realtime:
        command.append("--realtime")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    if done.returncode not in (0, 1):
        sys.exit(f"bench failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.returncode, done.stdout


def number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    if found is None:
        sys.exit(f"bench output without {pattern!r}:\n{text}")
    return float(found.group(1))


def measure(clip: Path, streams: int, config: Path) -> Point:
    _, flat = bench(clip, streams, False, config)
    code, paced = bench(clip, streams, True, config)
    frames = number(r"(\d+) frames, \d+ stream", flat)
    clip_s = number(r"clip ([\d.]+) s", paced)
    load = re.search(r"load average ([\d. ]+)", paced)
    return Point(
        streams=streams,
        flat_fps=number(r"full pipeline:\s+([\d.]+) fps", flat),
        clip_fps=frames / clip_s,
        realtime_fps=number(r"full pipeline:\s+([\d.]+) fps", paced),
        dropped=int(number(r"frames dropped:\s+(\d+)", paced)),
        kept_up=code == 0,
        peak_rss_mb=number(r"peak RSS:\s+([\d.]+) MB", paced),
        load=load.group(1).strip() if load else "unknown",
        machine=re.search(r"machine: ([^;\n]*)", paced).group(1),  # type: ignore[union-attr]
    )


def plot_matplotlib(points: list[Point], title: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    streams = [p.streams for p in points]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    top.plot(streams, [p.flat_fps for p in points], "o-", label="aggregate fps, flat out")
    top.plot(streams, [p.realtime_fps for p in points], "s-", label="aggregate fps, real time")
    top.plot(streams, [p.streams * p.clip_fps for p in points], "k--", label="needed (N x clip)")
    top.set_ylabel("frames per second")
    top.legend()
    colours = ["tab:green" if p.kept_up else "tab:red" for p in points]
    bottom.bar(streams, [100 * p.margin for p in points], color=colours)
    bottom.axhline(0, color="k")
    bottom.set_ylabel("real-time margin, % (green: kept up)")
    bottom.set_xlabel("streams (720p cameras)")
    fig.suptitle(title, fontsize=9)
    fig.savefig(out, dpi=100)


def plot_pillow(points: list[Point], title: str, out: Path) -> None:
    from PIL import Image, ImageDraw

    width, height, left, right = 800, 700, 70, 30
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((left, 10), title, fill="black")
    count = max(p.streams for p in points)

    def x(streams: float) -> float:
        return left + (streams - 0.5) * (width - left - right) / count

    def panel(top: int, bottom: int, low: float, high: float, label: str):
        draw.rectangle([left, top, width - right, bottom], outline="black")
        draw.text((5, top - 14), label, fill="black")
        for step in range(5):
            value = low + (high - low) * step / 4
            y = bottom - (bottom - top) * step / 4
            draw.line([left - 4, y, left, y], fill="black")
            draw.text((5, y - 6), f"{value:.0f}", fill="black")
        return lambda value: bottom - (bottom - top) * (value - low) / (high - low)

    fps_high = max(max(p.flat_fps, p.streams * p.clip_fps) for p in points) * 1.1
    y = panel(60, 360, 0, fps_high, "aggregate fps")
    series = [
        ("flat out", "tab:blue", [p.flat_fps for p in points]),
        ("real time", "darkorange", [p.realtime_fps for p in points]),
        ("needed (N x clip fps)", "black", [p.streams * p.clip_fps for p in points]),
    ]
    colours = {"tab:blue": (31, 119, 180), "darkorange": (255, 140, 0), "black": (0, 0, 0)}
    for number_, (name, colour, values) in enumerate(series):
        xy = [(x(p.streams), y(v)) for p, v in zip(points, values, strict=True)]
        draw.line(xy, fill=colours[colour], width=2)
        for px, py in xy:
            draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colours[colour])
        draw.text((left + 10, 70 + 14 * number_), name, fill=colours[colour])
    margins = [100 * p.margin for p in points]
    low, high = min(0.0, *margins) * 1.1 - 5, max(0.0, *margins) * 1.1 + 5
    y = panel(410, 660, low, high, "real-time margin % (green: kept up in real time)")
    draw.line([left, y(0), width - right, y(0)], fill="black")
    for point, margin in zip(points, margins, strict=True):
        colour = (44, 160, 44) if point.kept_up else (214, 39, 40)
        half = 0.3 * (width - left - right) / count
        top, bottom = sorted((y(margin), y(0)))
        draw.rectangle([x(point.streams) - half, top, x(point.streams) + half, bottom], fill=colour)
        draw.text((x(point.streams) - 4, 665), str(point.streams), fill="black")
    draw.text((width // 2 - 60, 682), "streams (720p cameras)", fill="black")
    image.save(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--config", type=Path, default=REPO / "config" / "edge.toml")
    parser.add_argument("--max-streams", type=int, default=8)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "streams.png")
    args = parser.parse_args()
    if not args.source.is_file():
        sys.exit(f"{args.source}: no such clip (set ALPR_SHARED_DATA or pass --source)")
    points = []
    for streams in range(1, args.max_streams + 1):
        point = measure(args.source, streams, args.config)
        points.append(point)
        print(
            f"{streams} stream(s): flat out {point.flat_fps:6.1f} fps, real time "
            f"{point.realtime_fps:6.1f} fps, margin {100 * point.margin:+6.1f}%, "
            f"{point.dropped} dropped, {'kept up' if point.kept_up else 'BEHIND'}, "
            f"peak RSS {point.peak_rss_mb:.0f} MB, load average {point.load}",
            flush=True,
        )
    loads = f"load average {points[0].load} at the start, {points[-1].load} at the end"
    title = f"alpr-edge bench, {args.source.name}; {points[0].machine}\n{loads}"
    try:
        plot_matplotlib(points, title, args.out)
    except ImportError:
        plot_pillow(points, title, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
