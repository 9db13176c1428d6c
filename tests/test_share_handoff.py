"""A read stored just before a crash is shared on the next start; `sharing status` shows
what waits for whom."""

import json
import subprocess
import sys
import time

from share_publisher import synthetic_read
from test_share_retention import store_read

from edge.audit.export import export_rows
from edge.config import SharingConfig, load_config
from edge.runtime.store import ReadStore
from edge.share.service import Sharing

AGENCIES = (
    "demo = true\n[[agency]]\n"
    'id = "oakland-pd"\nname = "Oakland PD"\nori = "CA0010900"\nkind = "city_police"\n'
    'state = "CA"\npurpose = "MOU 14"\nbroker = "mqtt://127.0.0.1:9"\n'
    'receives = ["reads", "hits"]\nexpires = 2099-01-01\n'
)


def queued_reads(sharing: Sharing) -> list[tuple[str, int]]:
    return [
        (q.kind, json.loads(q.payload)["read"]["read_id"])
        for q in sharing.outbox.queued("oakland-pd")
        if q.kind in ("read", "hit")
    ]


def test_reads_stored_but_not_handed_over_are_shared_once_on_the_next_start(tmp_path):
    (tmp_path / "agencies.toml").write_text(AGENCIES)
    settings = SharingConfig(
        agencies_file=tmp_path / "agencies.toml", data_dir=tmp_path / "share", unit_id="unit-1"
    )
    store = ReadStore(tmp_path / "data")
    store_read(store, "7HIST01", 1)

    def start() -> Sharing:
        sharing = Sharing(settings, store.data_dir)
        sharing.start()
        return sharing

    sharing = start()
    assert queued_reads(sharing) == [], "reads from before sharing was switched on stay local"
    handed = store_read(store, "7LIVE01", 0)
    [stored] = store.reads_after(handed - 1)
    sharing.on_read(
        handed, stored.read, [h.hit for h in stored.hits]
    )  # what the pipeline does after each commit
    sharing.close()
    # The unit dies after the store committed these two, before the pipeline handed them over.
    lost = [store_read(store, "7LOST01", 0), store_read(store, "7LOST02", 0, hit=True)]

    sharing = start()
    assert queued_reads(sharing) == [
        ("read", handed),
        ("read", lost[0]),
        ("read", lost[1]),
        ("hit", lost[1]),
    ]
    hit = json.loads(sharing.outbox.queued("oakland-pd")[-1].payload)["hits"][0]
    assert hit["listed_plate"] == "7LOST02" and hit["listed_state"] is None
    sharing.close()
    sharing = start()
    assert len(queued_reads(sharing)) == 4, "handed over once, not again on every start"
    sharing.close()
    store.close()


def test_sharing_status_shows_the_queue_and_last_connection_event_per_agency(tmp_path):
    (tmp_path / "agencies.toml").write_text(AGENCIES)
    config = tmp_path / "edge.toml"
    config.write_text(
        '[store]\ndata_dir = "data"\n\n'
        '[sharing]\nagencies_file = "agencies.toml"\ndata_dir = "share"\nunit_id = "unit-1"\n'
    )
    settings = load_config(config).sharing
    with Sharing(settings) as sharing:
        sharing.on_read(7, *synthetic_read(7))  # port 9 refuses: it stays queued
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "connect_failed" not in [
            r["event"] for r in export_rows(sharing.audit.path)
        ]:
            time.sleep(0.05)

    def status():
        return subprocess.run(
            [sys.executable, "-m", "edge", "sharing", "status", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    shown = status()
    # The unit has stopped: nothing is shared now, and the exit status says so.
    assert shown.returncode == 3, shown.stderr
    assert "NOT RUNNING" in shown.stdout
    [line] = [line for line in shown.stdout.splitlines() if line.strip().startswith("oakland-pd")]
    assert line.split()[1:5] == ["active", "until", "2099-01-01", "1"]
    assert "connect_failed: ConnectionRefusedError" in line
    (tmp_path / "agencies.toml").write_text(AGENCIES.replace('"CA"', '"NV"'))
    broken = status()
    assert broken.returncode == 3 and "file on disk: INVALID" in broken.stdout
