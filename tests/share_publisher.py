"""A unit that shares synthetic reads, run as its own process so that a test can SIGKILL it.

python tests/share_publisher.py AGENCIES DATA_DIR FIRST COUNT INTERVAL_S
Prints `queued <read_id>` after each read is handed to Sharing.on_read, then waits until the
outbox is empty and prints `drained`.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from edge.clock import UTC
from edge.config import SharingConfig
from edge.runtime.types import Box, HotlistHit, VehicleRead
from edge.share.service import Sharing

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def synthetic_read(read_id: int) -> tuple[VehicleRead, list[HotlistHit]]:
    read = VehicleRead(
        plate=f"7ABC{read_id:03d}",
        region="CA",
        confidence=0.95,
        seen_at=START + timedelta(seconds=read_id),
        camera_id="cam-1",
        box=Box(10, 20, 120, 40),
        frame_count=6,
    )
    hits = (
        [HotlistHit(read_id, read.plate, "CA", "stolen vehicle", "NCIC", 0)]
        if read_id % 5 == 0
        else []
    )
    return read, hits


def main(argv: list[str]) -> int:
    agencies, data_dir, first, count, interval = argv
    settings = SharingConfig(
        agencies_file=Path(agencies),
        data_dir=Path(data_dir),
        unit_id="unit-1",
        operator_agency="CA0019999",
        heartbeat_interval_s=3600,
        audit_head_interval_s=3600,
    )
    with Sharing(settings) as sharing:
        for read_id in range(int(first), int(first) + int(count)):
            read, hits = synthetic_read(read_id)
            sharing.on_read(read_id, read, hits)
            print(f"queued {read_id}", flush=True)
            time.sleep(float(interval))
        while sharing.outbox.depth():
            time.sleep(0.05)
        print("drained", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
