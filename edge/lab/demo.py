"""`alpr-edge demo`: replay the sample clip, then hold the reads up against its ground truth.

A vehicle counts when its plate was readable (wholly in frame and at least the clip's
`readable_plate_width_px` wide) in at least MIN_READABLE_FRAMES frames. The demo passes when
at least PASS_SHARE of those vehicles are read exactly, every hotlisted plate raised a hit,
no vehicle was read twice and nothing was read that is not in the clip.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from edge.errors import InputError
from edge.runtime.store import StoredRead

MIN_READABLE_FRAMES = 3
PASS_SHARE = 0.95


@dataclass(frozen=True)
class TruthVehicle:
    id: int
    plate: str
    state: str
    hotlisted: bool
    readable_frames: int

    @property
    def readable(self) -> bool:
        return self.readable_frames >= MIN_READABLE_FRAMES


@dataclass
class DemoReport:
    vehicles: list[tuple[TruthVehicle, list[StoredRead]]] = field(default_factory=list)
    phantoms: list[StoredRead] = field(default_factory=list)
    missed_hits: list[TruthVehicle] = field(default_factory=list)

    @property
    def readable(self) -> list[TruthVehicle]:
        return [v for v, _ in self.vehicles if v.readable]

    @property
    def exact(self) -> int:
        return sum(1 for v, reads in self.vehicles if v.readable and reads)

    @property
    def duplicates(self) -> list[TruthVehicle]:
        return [v for v, reads in self.vehicles if len(reads) > 1]

    @property
    def share_exact(self) -> float:
        return self.exact / len(self.readable) if self.readable else 0.0

    @property
    def passed(self) -> bool:
        return (
            self.share_exact >= PASS_SHARE
            and not self.phantoms
            and not self.duplicates
            and not self.missed_hits
        )


def load_truth(path: Path) -> list[TruthVehicle]:
    try:
        data = json.loads(path.read_text())
        return [
            TruthVehicle(
                id=v["id"],
                plate=v["plate"],
                state=v["state"],
                hotlisted=bool(v.get("hotlisted")),
                readable_frames=sum(1 for f in v["frames"] if f.get("readable")),
            )
            for v in data["vehicles"]
        ]
    except OSError as exc:
        raise InputError(f"cannot read ground truth {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"ground truth {path} is not in the sample-clip format: {exc}") from None


def compare(truth: list[TruthVehicle], reads: list[StoredRead]) -> DemoReport:
    """`reads` are stored reads with their hits."""
    report = DemoReport()
    plates = {v.plate for v in truth}
    for vehicle in truth:
        mine = [r for r in reads if r.read.plate == vehicle.plate]
        report.vehicles.append((vehicle, mine))
        if vehicle.hotlisted and not any(r.hits for r in mine):
            report.missed_hits.append(vehicle)
    report.phantoms = [r for r in reads if r.read.plate not in plates]
    return report


def print_report(report: DemoReport, out: TextIO) -> None:
    out.write(f"{'truth':<10} {'state':<5} {'readable':>8}  {'read':<10} {'conf':>5}  note\n")
    for vehicle, reads in report.vehicles:
        shown = reads or [None]
        for read in shown:
            note = _note(vehicle, reads, read)
            text = read.read.plate if read else "-"
            conf = f"{read.read.confidence:.2f}" if read else ""
            out.write(
                f"{vehicle.plate:<10} {vehicle.state:<5} {vehicle.readable_frames:>8}  "
                f"{text:<10} {conf:>5}  {note}\n"
            )
    for read in report.phantoms:
        out.write(
            f"{'-':<10} {'':<5} {'':>8}  {read.read.plate:<10} "
            f"{read.read.confidence:>5.2f}  PHANTOM (not in the clip)\n"
        )
    out.write(
        f"\nexactly read: {report.exact}/{len(report.readable)} readable vehicles "
        f"({report.share_exact:.1%}, need {PASS_SHARE:.0%}); duplicates: "
        f"{len(report.duplicates)}; phantoms: {len(report.phantoms)}; hotlist hits missed: "
        f"{len(report.missed_hits)}\n"
    )
    out.write("demo: PASS\n" if report.passed else "demo: FAIL\n")


def _note(vehicle: TruthVehicle, reads: list[StoredRead], read: StoredRead | None) -> str:
    notes = []
    if read is None:
        notes.append("MISSED" if vehicle.readable else "never readable")
    if len(reads) > 1:
        notes.append("DUPLICATE")
    if vehicle.hotlisted:
        notes.append("hotlist HIT" if read and read.hits else "hotlisted, NO HIT")
    return ", ".join(notes)
