"""Is the unit healthy? One answer for the log, /healthz, /metrics, `alpr-edge status` and the
heartbeat the agencies receive.

A dead camera and a quiet street look alike from the reads table (no reads either way); they
differ in whether frames arrive. The run loop reports every frame (`on_frame`); a monitor
thread, which only looks, compares the last frame's age with `[health] camera_down_after_s`,
checks the disk, the outbox and (now and then) the audit chain, and logs a warning when a
problem starts and a line when it ends. The HTTP endpoint is off by default and listens on
127.0.0.1 when on.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.audit.log import connect, verify

if TYPE_CHECKING:
    from edge.config import EdgeConfig, HealthConfig
    from edge.runtime.capture.sources import CaptureStats
    from edge.runtime.pipeline.orchestrator import RunStats
    from edge.share.service import Sharing

log = logging.getLogger(__name__)

MONITOR_EVERY_S = 2.0
# fps is measured over the frames of this many seconds.
FPS_WINDOW_S = 10.0


@dataclass
class _Problem:
    since: float
    detail: str


@dataclass
class UnitHealth:
    """The unit's state, fed by the run loop and read by the monitor, endpoint and heartbeat."""

    settings: HealthConfig
    camera_id: str
    store_dir: Path
    audit_file: Path | None = None
    outbox_file: Path | None = None
    source_stats: CaptureStats | None = None
    sharing: Sharing | None = None
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    run_stats: RunStats | None = None
    started: float = field(init=False)
    last_frame: float | None = field(init=False, default=None)
    _frame_times: deque[float] = field(init=False, default_factory=deque)
    _problems: dict[str, _Problem] = field(init=False, default_factory=dict)
    _audit: tuple[int, bool, str] | None = field(init=False, default=None)
    _audit_checked: float = field(init=False, default=float("-inf"))
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.started = self.clock()

    # Fed by the run loop, once per frame: cheap.
    def on_frame(self, stats: RunStats) -> None:
        now = self.clock()
        with self._lock:
            self.run_stats = stats
            self.last_frame = now
            self._frame_times.append(now)
            while self._frame_times and now - self._frame_times[0] > FPS_WINDOW_S:
                self._frame_times.popleft()

    def fps(self) -> float:
        with self._lock:
            times = list(self._frame_times)
        if len(times) < 2 or self.clock() - times[-1] > FPS_WINDOW_S:
            return 0.0
        return (len(times) - 1) / max(times[-1] - times[0], 1e-6)

    def frame_age_s(self) -> float:
        """Seconds since the last frame (since the start before the first)."""
        return self.clock() - (self.last_frame if self.last_frame is not None else self.started)

    # Read by the monitor thread and the endpoint.
    def check(self) -> dict[str, str]:
        """The problems now, by name (camera, store, audit, disk, outbox); logs each one's
        start as a warning and its end as information."""
        found: dict[str, str] = {}
        age = self.frame_age_s()
        if age > self.settings.camera_down_after_s:
            found["camera"] = f"no frame from camera {self.camera_id} for {age:.0f} s"
        if not store_writable(self.store_dir):
            found["store"] = f"the read store folder {self.store_dir} is not writable"
        free_mb = disk_free_mb(self.store_dir)
        if free_mb is not None and free_mb < self.settings.disk_floor_mb:
            found["disk"] = (
                f"{free_mb:.0f} MB free on the data disk (floor {self.settings.disk_floor_mb} MB)"
            )
        audit = self.audit_state()
        if audit is not None and not audit[1]:
            found["audit"] = f"the audit chain does not verify: {audit[2]}"
        for agency, (depth, oldest_s) in outbox_queues(self.outbox_file).items():
            if oldest_s is not None and oldest_s > self.settings.outbox_growing_after_s:
                found[f"outbox:{agency}"] = (
                    f"{depth} messages wait for {agency}, the oldest for {oldest_s:.0f} s"
                )
        self._log_changes(found)
        return found

    def healthy(self) -> tuple[bool, dict[str, str]]:
        """/healthz: frames arrive, the store is writable, the audit chain verifies. A full
        disk or a slow agency is a warning, not a reason to restart the unit."""
        problems = self.check()
        fatal = {k: v for k, v in problems.items() if k in ("camera", "store", "audit")}
        return not fatal, problems

    def audit_state(self) -> tuple[int, bool, str] | None:
        """(rows, verifies, first problem) of the audit chain, walked at most every
        `audit_verify_every_s`; None without an audit log yet."""
        if self.audit_file is None or not self.audit_file.is_file():
            return None
        now = self.clock()
        if self._audit is None or now - self._audit_checked >= self.settings.audit_verify_every_s:
            try:
                result = verify(self.audit_file)
                problem = result.breaks[0].problem if result.breaks else ""
                self._audit = (result.rows, result.ok, problem)
            except Exception as exc:  # an unreadable log is a failed verification
                self._audit = (0, False, str(exc))
            self._audit_checked = now
        return self._audit

    def camera_state(self) -> dict[str, Any]:
        age = self.frame_age_s()
        down = age > self.settings.camera_down_after_s
        since = self.wall() - age
        return {
            "id": self.camera_id,
            "up": not down,
            "since": _iso(since) if down or self.last_frame is not None else None,
            "frame_age_s": round(age, 1),
            "fps": round(self.fps(), 2),
            "reconnects": self.source_stats.reconnects if self.source_stats else 0,
        }

    def snapshot(self) -> dict[str, Any]:
        """Everything `/metrics` and `alpr-edge status` show, as plain data."""
        healthy, problems = self.healthy()
        stats = self.run_stats
        audit = self.audit_state()
        connected = set(self.sharing.transport.connected()) if self.sharing else set()
        queues = outbox_queues(self.outbox_file)
        agencies = sorted(set(queues) | connected)
        return {
            "status": "ok" if healthy else "failing",
            "problems": problems,
            "uptime_s": round(self.clock() - self.started, 1),
            "camera": self.camera_state(),
            "frames": stats.frames if stats else 0,
            "motion_skipped": stats.motion_skipped if stats else 0,
            "detector_runs": stats.detector_runs if stats else 0,
            "detector_seconds": round(stats.seconds["detect"], 3) if stats else 0.0,
            "ocr_seconds": round(stats.seconds["ocr"], 3) if stats else 0.0,
            "reads": stats.reads if stats else 0,
            "hits": stats.hits if stats else 0,
            "corrupt_frames": self.source_stats.corrupt if self.source_stats else 0,
            "disk_free_mb": disk_free_mb(self.store_dir),
            "audit_rows": audit[0] if audit else 0,
            "audit_ok": audit[1] if audit else True,
            "outbox": {
                a: {
                    "depth": queues.get(a, (0, None))[0],
                    "oldest_s": queues.get(a, (0, None))[1],
                    "connected": a in connected,
                }
                for a in agencies
            },
        }

    def heartbeat_state(self) -> dict[str, Any]:
        """What the heartbeat tells an agency of the unit (never another agency's queue)."""
        camera = self.camera_state()
        free = disk_free_mb(self.store_dir)
        healthy, problems = self.healthy()
        return {
            "status": "ok" if healthy else "degraded",
            "camera": {k: camera[k] for k in ("up", "since", "fps", "frame_age_s")},
            "disk_free_mb": None if free is None else round(free),
            "problems": sorted(k for k in problems if not k.startswith("outbox:")),
        }

    def status_line(self) -> str:
        """systemd's STATUS=: one line for `systemctl status`."""
        stats = self.run_stats
        return (
            f"{self.fps():.1f} fps, {stats.frames if stats else 0} frames, "
            f"{stats.reads if stats else 0} reads, {stats.hits if stats else 0} hits"
        )

    def _log_changes(self, found: dict[str, str]) -> None:
        now = self.clock()
        with self._lock:
            for name, detail in found.items():
                if name not in self._problems:
                    self._problems[name] = _Problem(now, detail)
                    log.warning("%s", detail, extra={"health": name})
            for name in [n for n in self._problems if n not in found]:
                problem = self._problems.pop(name)
                log.info(
                    "%s: recovered after %.0f s",
                    name,
                    now - problem.since,
                    extra={"health": name, "recovered": True},
                )


def store_writable(folder: Path) -> bool:
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".health-", delete=True):
            return True
    except OSError:
        return False


def disk_free_mb(folder: Path) -> float | None:
    try:
        return shutil.disk_usage(folder).free / 1e6
    except OSError:
        return None


def outbox_queues(path: Path | None) -> dict[str, tuple[int, float | None]]:
    """Per agency: messages waiting in the outbox and the age of the oldest, in seconds; read
    on a read-only connection of its own (the outbox's writers are never blocked)."""
    if path is None or not path.is_file():
        return {}
    conn = connect(path, readonly=True)
    try:
        rows = conn.execute(
            "SELECT agency_id, COUNT(*), MIN(queued_at) FROM outbox GROUP BY agency_id"
        ).fetchall()
    finally:
        conn.close()
    now = datetime.now(timezone.utc)
    return {agency: (count, _age_s(oldest, now)) for agency, count, oldest in rows}


def _age_s(stamp: str | None, now: datetime) -> float | None:
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return round((now - moment).total_seconds(), 1)


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, timezone.utc).isoformat(timespec="seconds")


def unit_health(config: EdgeConfig, source_stats: CaptureStats | None = None) -> UnitHealth:
    sharing = config.sharing
    return UnitHealth(
        config.health,
        camera_id=config.camera.id,
        store_dir=config.store.data_dir,
        audit_file=config.audit_file,
        outbox_file=sharing.outbox_file if sharing else None,
        source_stats=source_stats,
    )


# /metrics: Prometheus text, collected from a snapshot at scrape time.
def metrics_text(health: UnitHealth) -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    snap = health.snapshot()
    camera = snap["camera"]

    class _Collector:
        def collect(self) -> Iterator[Any]:
            def counter(name: str, help: str, value: float) -> CounterMetricFamily:
                return CounterMetricFamily(f"alpr_edge_{name}", help, value=value)

            def gauge(name: str, help: str, value: float) -> GaugeMetricFamily:
                return GaugeMetricFamily(f"alpr_edge_{name}", help, value=value)

            yield counter("frames", "frames taken from the camera", snap["frames"])
            yield counter(
                "motion_skipped", "frames skipped by the motion gate", snap["motion_skipped"]
            )
            yield counter("detector_runs", "detector invocations", snap["detector_runs"])
            yield counter(
                "detector_seconds", "time spent in the detector", snap["detector_seconds"]
            )
            yield counter("ocr_seconds", "time spent in the OCR", snap["ocr_seconds"])
            yield counter("reads", "vehicle reads stored", snap["reads"])
            yield counter("hits", "hotlist hits stored", snap["hits"])
            yield counter("corrupt_frames", "frames that failed to decode", snap["corrupt_frames"])
            yield counter("camera_reconnects", "camera reconnect attempts", camera["reconnects"])
            yield gauge("fps", "frames per second over the last 10 s", camera["fps"])
            yield gauge("frame_age_seconds", "seconds since the last frame", camera["frame_age_s"])
            yield gauge("camera_up", "1 while frames arrive", int(camera["up"]))
            yield gauge("healthy", "1 while /healthz answers 200", int(snap["status"] == "ok"))
            yield gauge("uptime_seconds", "seconds since the run started", snap["uptime_s"])
            if snap["disk_free_mb"] is not None:
                yield gauge(
                    "disk_free_bytes", "free space on the data disk", snap["disk_free_mb"] * 1e6
                )
            yield gauge("audit_rows", "rows in the audit chain", snap["audit_rows"])
            yield gauge("audit_chain_ok", "1 while the audit chain verifies", int(snap["audit_ok"]))
            depth = GaugeMetricFamily(
                "alpr_edge_outbox_depth", "messages waiting per agency", labels=["agency"]
            )
            oldest = GaugeMetricFamily(
                "alpr_edge_outbox_oldest_seconds",
                "age of the oldest waiting message per agency",
                labels=["agency"],
            )
            broker = GaugeMetricFamily(
                "alpr_edge_broker_connected",
                "1 while the agency's broker link is up",
                labels=["agency"],
            )
            for agency, queue in snap["outbox"].items():
                depth.add_metric([agency], queue["depth"])
                oldest.add_metric([agency], queue["oldest_s"] or 0.0)
                broker.add_metric([agency], int(queue["connected"]))
            yield from (depth, oldest, broker)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())  # type: ignore[arg-type]
    return generate_latest(registry)


class _Handler(BaseHTTPRequestHandler):
    health: UnitHealth

    def do_GET(self) -> None:
        if self.path == "/healthz":
            healthy, problems = self.health.healthy()
            body = ("ok\n" if healthy else "".join(f"{v}\n" for v in problems.values())).encode()
            self._reply(200 if healthy else 503, "text/plain; charset=utf-8", body)
        elif self.path == "/metrics":
            self._reply(200, "text/plain; version=0.0.4; charset=utf-8", metrics_text(self.health))
        elif self.path == "/status.json":
            import json

            body = json.dumps(self.health.snapshot(), default=str).encode()
            self._reply(200, "application/json", body)
        else:
            self._reply(404, "text/plain", b"not found: /healthz, /metrics, /status.json\n")

    def _reply(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("health endpoint: " + format, *args)


@contextlib.contextmanager
def serving(health: UnitHealth) -> Iterator[ThreadingHTTPServer | None]:
    """The endpoint when `[health] enabled`, and the monitor thread that logs warnings (on
    either way); both stop on leaving."""
    stop = threading.Event()

    def monitor() -> None:
        while not stop.wait(MONITOR_EVERY_S):
            try:
                health.check()
            except Exception:  # looking must never stop the unit
                log.exception("health check failed")

    watcher = threading.Thread(target=monitor, name="health-monitor", daemon=True)
    watcher.start()
    server = None
    if health.settings.enabled:
        handler = type("Handler", (_Handler,), {"health": health})
        server = ThreadingHTTPServer((health.settings.host, health.settings.port), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="health-http", daemon=True).start()
        log.info(
            "health endpoint on http://%s:%d/healthz and /metrics",
            health.settings.host,
            server.server_address[1],
        )
    try:
        yield server
    finally:
        stop.set()
        if server is not None:
            server.shutdown()
            server.server_close()
        watcher.join(timeout=5)


def stored_state(config: EdgeConfig) -> dict[str, Any]:
    """What the stores alone say while the endpoint is off or the unit is not running: reads
    kept and when the newest was seen (no plate text: this is not a search), disk, outbox
    queues, audit rows and whether the chain verifies."""
    from edge.runtime.store import ReadStore

    state: dict[str, Any] = {"reads_stored": None, "hits_stored": None, "newest_read_at": None}
    data_dir = config.store.data_dir
    try:
        store = ReadStore(data_dir, readonly=True)
    except Exception as exc:  # no store yet, or unreadable: say so
        state["store_problem"] = str(exc)
    else:
        try:
            ever = (datetime(1970, 1, 1, tzinfo=timezone.utc), datetime.now(timezone.utc))
            state["reads_stored"], state["hits_stored"] = store.count_reads(*ever)
            newest = store.reads(limit=1)
            state["newest_read_at"] = newest[0].read.seen_at.isoformat() if newest else None
        finally:
            store.close()
    state["store_writable"] = store_writable(data_dir)
    state["disk_free_mb"] = disk_free_mb(data_dir)
    outbox = config.sharing.outbox_file if config.sharing else None
    state["outbox"] = {
        agency: {"depth": depth, "oldest_s": oldest}
        for agency, (depth, oldest) in outbox_queues(outbox).items()
    }
    if config.audit_file.is_file():
        result = verify(config.audit_file)
        state["audit_rows"] = result.rows
        state["audit_ok"] = result.ok
    return state
