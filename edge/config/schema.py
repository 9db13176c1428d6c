"""The edge unit's configuration (`edge.toml`): one typed dataclass per section.

Each field's `help` metadata is its description; `describe()` prints them, and the loader in
`edge.config.load` validates every value against its annotation and `check`.
Paths (defaults included) are resolved against the folder holding the config file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.plates.regions import expand_region_codes

# Crop margins (width added on each side, as a share of the box's width) the OCR reads a plate
# at; several readings vote (`edge.runtime.recognise.margins`). A video pass already votes over the
# frames a plate is tracked in, so video reads once per frame; a still photo is all there is.
VIDEO_CROP_MARGINS = (0.06,)
STILL_CROP_MARGINS = (0.0, 0.03, 0.06, 0.1, 0.15)
# Views of a crop handed over whole (`alpr-edge read --plate-crops`), as (width, height) added
# on each side, shares of its size, negative trims: as given, padded, top and bottom trimmed.
PLATE_CROP_VIEWS = ((0.0, 0.0), (0.08, 0.1), (0.0, -0.1))
# A crop read as given at this confidence or more is not read in the other views.
PLATE_CROP_SURE_CONFIDENCE = 0.95


def _margins_check(margins: tuple[float, ...]) -> str | None:
    if all(0.0 <= m <= 0.5 for m in margins):
        return None
    return f"each margin must be in [0, 0.5], got {list(margins)}"


def _views_check(views: tuple[tuple[float, float], ...]) -> str | None:
    if views and all(-0.25 <= share <= 0.5 for view in views for share in view):
        return None
    return f"need at least one view, each share in [-0.25, 0.5], got {[list(v) for v in views]}"


def _regions_check(regions: tuple[str, ...]) -> str | None:
    try:
        expand_region_codes(regions)
    except ValueError as exc:
        return str(exc)
    return None


Point = tuple[float, float]
Polygon = tuple[Point, ...]
Check = Callable[[Any], str | None]


def at_least(low: float) -> Check:
    return lambda value: None if value >= low else f"must be >= {low}, got {value}"


def between(low: float, high: float) -> Check:
    return lambda value: (
        None if low <= value <= high else f"must be in [{low}, {high}], got {value}"
    )


_REQUIRED = object()


def option(help: str, default: Any = _REQUIRED, check: Check | None = None) -> Any:
    """A config field with its description (and an optional extra check). Without a default
    the key is required whenever its section is present. Path fields take a string default,
    resolved like a configured path."""
    kwargs: dict[str, Any] = {"metadata": {"help": help, "check": check}}
    if default is _REQUIRED:
        kwargs["metadata"]["required"] = True
    elif isinstance(default, (list, dict)):
        kwargs["default_factory"] = lambda: type(default)(default)
    else:
        kwargs["default"] = default
    return field(**kwargs)


# Reads are kept at most this long (the CHP limit, Veh. Code 2413(b), and SB 274's proposal);
# a read needed longer is put under a legal hold (`alpr-edge retention hold`).
DEFAULT_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 60


def _retention_check(days: int) -> str | None:
    if 1 <= days <= MAX_RETENTION_DAYS:
        return None
    return (
        f"must be a whole number of days from 1 to {MAX_RETENTION_DAYS}; reads needed longer "
        "must be put under a legal hold (`alpr-edge retention hold`)"
    )


def _positive(value: float) -> str | None:
    return None if value > 0 else f"must be a positive number of seconds, got {value}"


def _camera_id_check(value: str) -> str | None:
    return None if value.strip() else "must not be empty: every read is stored with it"


@dataclass(frozen=True)
class CameraConfig:
    id: str = option(
        "camera id stored with every read and shared with agencies (unique on the unit)",
        "camera-1",
        _camera_id_check,
    )
    source: str = option(
        "where frames come from: a video file, a folder of images, rtsp:// or http(s):// URL, "
        "a V4L2 device (/dev/video0 or v4l2:0), or gst:<GStreamer pipeline ending in appsink>",
        "",
    )
    realtime: bool = option("replay a video file at its own frame rate instead of flat out", False)
    loop: bool = option("start a replayed video or image folder again at its end", False)
    reconnect_initial_s: float = option(
        "first wait before reconnecting a live source that dropped", 1.0, at_least(0.01)
    )
    reconnect_max_s: float = option(
        "longest wait between reconnect attempts (the wait doubles up to this)",
        30.0,
        at_least(0.01),
    )
    decode_threads: int = option(
        "FFmpeg threads decoding a file or stream; 1 leaves the other cores to the detector "
        "(0 = FFmpeg's choice)",
        1,
        at_least(0),
    )
    decode_queue: int = option(
        "frames buffered between the decoding thread and the pipeline", 8, at_least(1)
    )
    motion: MotionConfig | None = field(
        default=None,
        metadata={
            "help": "this camera's own motion gate and zones: a [camera.motion] table with keys "
            "of [motion]; keys it leaves out, or no table at all, take the top-level [motion]",
            "section": "motion",
        },
    )
    stills: bool = option(
        "an image folder holds single stills, not a sequence: each image is one pass of its "
        "own (read like `alpr-edge read` does) instead of frames tracked across",
        False,
    )
    open_timeout_s: float = option(
        "seconds a network stream may take to open before the try counts as failed",
        10.0,
        _positive,
    )
    read_timeout_s: float = option(
        "seconds without data from an open network stream before it counts as dropped (a "
        "frozen stream); OpenCV's FFmpeg backend takes both timeouts",
        5.0,
        _positive,
    )


@dataclass(frozen=True)
class MotionConfig:
    enabled: bool = option("skip frames in which nothing moved inside the zones", True)
    zones: tuple[Polygon, ...] = option(
        "polygons [[x, y], ...] in full-frame pixels where motion counts; empty = whole frame", []
    )
    width: int = option(
        "frames are subsampled to about this width before comparing (cheaper, ignores noise)",
        160,
        at_least(16),
    )
    pixel_threshold: int = option(
        "grey-level change (0-255) that marks a pixel as changed", 20, between(1, 255)
    )
    min_changed_fraction: float = option(
        "share of zone pixels that must change for a frame to count as moving",
        0.002,
        between(0.0, 1.0),
    )


@dataclass(frozen=True)
class ModelRuntime:
    """Options common to the detector and the OCR model."""

    providers: tuple[str, ...] = option(
        "onnxruntime execution providers in order of preference, e.g. "
        '["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]',
        ["CPUExecutionProvider"],
    )
    threads: int = option("onnxruntime intra-op threads", 1, at_least(1))


@dataclass(frozen=True)
class DetectorConfig(ModelRuntime):
    model: Path = field(default="models/detector.onnx", metadata={"help": "detector ONNX file"})
    discover_every_n_frames: int = option(
        "look for new plates, wherever the frame moved, on every Nth moving frame",
        6,
        at_least(1),
    )
    discover_scale: float = option(
        "resolution of the search for new plates, relative to the one the model was trained "
        "for (below 1 is cheaper; plates found are followed at full resolution)",
        1.0,
        between(0.25, 2.0),
    )
    every_n_frames: int = option(
        "follow tracked plates, in small windows around them, on every Nth moving frame",
        1,
        at_least(1),
    )
    min_score: float = option(
        "in video, detections scoring below this are ignored", 0.5, between(0, 1)
    )
    still_min_score: float = option(
        "in still photos (alpr-edge read), detections scoring below this are ignored: lower "
        "than min_score, as a photo has no later frames to find a faint plate in (the "
        "figures in models/README.md are measured at this threshold)",
        0.3,
        between(0, 1),
    )
    still_fine_pass: bool = option(
        "in still photos, also search at 1.5x the model's resolution (at most 960x540 "
        "pixels) for distant plates narrower than 0.1 of the photo's long side; about 3x "
        "the detector's time (real/us top-1 0.616 -> 0.687, detection recall 0.919 -> 0.970, "
        "real/eu and real/br no lower: models/README.md)",
        True,
    )
    still_workers: int = option(
        "in still photos, how many of the detector's passes and second looks run at once, "
        "each on a core of its own (1 = one after another; the boxes are the same for any "
        "number; README.md, Performance, has the time it saves)",
        2,
        at_least(1),
    )


@dataclass(frozen=True)
class OcrConfig(ModelRuntime):
    model: Path = field(
        default="models/ocr.onnx", metadata={"help": "OCR ONNX file (fast-plate-ocr contract)"}
    )
    plate_config: Path = field(
        default="models/ocr_plate_config.yaml",
        metadata={"help": "fast-plate-ocr plate-config YAML of the OCR model"},
    )
    hub_model: str = option(
        "a published fast-plate-ocr model to download and use instead of `model` (e.g. "
        '"cct-s-v1-global-model"); empty = the shipped model',
        "",
    )
    expected_regions: tuple[str, ...] = option(
        'the plate regions this unit sees: state codes ("CA"), "US" for every state, "UK", '
        '"EU", "BR"; the OCR names the state among these alone and reads the text against '
        "their serial formats; empty = any region the model knows",
        [],
        _regions_check,
    )
    min_width: int = option(
        "plates narrower than this many pixels are tracked but not read yet", 40, at_least(1)
    )
    crop_margins: tuple[float, ...] = option(
        "in video, each plate is cut at these margins (width added on each side, as a share "
        "of the box's width) and the readings vote; the tracker votes across frames as well",
        VIDEO_CROP_MARGINS,
        _margins_check,
    )
    still_crop_margins: tuple[float, ...] = option(
        "the same for still photos (`alpr-edge read`), where one photo is all there is",
        STILL_CROP_MARGINS,
        _margins_check,
    )
    plate_crop_views: tuple[Point, ...] = option(
        "a whole image given as one plate crop (`alpr-edge read --plate-crops`) is read in "
        "these views, [width, height] added on each side as shares of its size (negative "
        "trims), and the readings vote; [[0, 0]] reads it once as given",
        PLATE_CROP_VIEWS,
        _views_check,
    )
    plate_crop_sure_confidence: float = option(
        "a plate crop read in the first view at this confidence or more is not read in the "
        "others (most plates then cost one OCR run); 1 = always read every view",
        PLATE_CROP_SURE_CONFIDENCE,
        between(0, 1),
    )
    min_characters: int = option(
        "a reading with fewer characters than this is no plate's text (a sign's letter, a "
        "bolt, a mark the detector took for a plate): it is reported unread (empty) and never "
        "becomes a vehicle read; 2 = the shortest serial any known region issues (vanity "
        "plates in California and nine other states); 1 = keep every reading",
        2,
        at_least(1),
    )
    candidates: int = option(
        "alternative readings each read carries (OpenALPR's top-N), best first, with their "
        "confidences; the hotlist considers them; 0 = the read text alone",
        10,
        at_least(0),
    )
    still_rectify: bool = option(
        "in still photos, warp each plate flat from the detector's four corners before "
        "reading it where the box around them agrees with the detector's box (IoU >= 0.7), "
        "instead of cutting its box (see models/README.md)",
        False,
    )
    still_pad_edges: bool = option(
        "in still photos, a plate at the frame's edge is padded with edge pixels so its crop "
        "keeps every margin (see models/README.md)",
        False,
    )
    still_second_look: bool = option(
        "in still photos, a small plate (under 100 px wide, or under 150 px and shaped like a "
        "US plate: less than 3 times as wide as tall) is boxed again by the detector on the "
        "area around it enlarged 2x, and read from that box (real/us top-1 0.545 -> 0.616 "
        "for the small ones, 81 -> 83 plates with the US-shaped ones; real/eu and real/br no "
        "lower: models/README.md)",
        True,
    )
    min_region_confidence: float = option(
        "the OCR names a plate's state or region only from this confidence on, otherwise "
        "null (never a guess); chosen on the state set's valid split (models/README.md): the "
        "shipped region head is never that sure, so only a unit told its one region names it",
        1.0,
        between(0, 1),
    )
    state_model: Path | None = field(
        default=None,
        metadata={
            "help": "a state classifier (models/state.onnx, edge.runtime.recognise.state) that "
            "names the region instead of the OCR's region head, from its own sure threshold; "
            "unset = the OCR's head"
        },
    )


@dataclass(frozen=True)
class TrackConfig:
    max_gap_frames: int = option(
        "a track ends when its plate has not been detected for this many frames", 12, at_least(1)
    )
    min_overlap: float = option(
        "least IoU between a track's predicted box and a detection to join them",
        0.05,
        between(0, 1),
    )
    max_jump_widths: float = option(
        "a detection not overlapping a track may still join it when its centre is within this "
        "many plate widths of the track's predicted box",
        1.5,
        at_least(0),
    )
    min_reads: int = option(
        "OCR reads, each the voted text or one character from it, that a track needs before it "
        "may become a vehicle read",
        2,
        at_least(1),
    )
    enough_reads: int = option(
        "a track with this many confident reads of one text is no longer followed between "
        "discoveries (saves detector work); 0 = always follow",
        3,
        at_least(0),
    )
    min_confidence: float = option(
        "voted reads less confident than this are dropped", 0.5, between(0, 1)
    )
    repeat_window_s: float = option(
        "the same plate seen again within this many seconds is not a new read (nor is a plate one "
        "character from a pass that just ended at the same place); 0 = no read is a repeat",
        30.0,
        at_least(0),
    )


@dataclass(frozen=True)
class StoreConfig:
    data_dir: Path = field(default="data", metadata={"help": "folder for reads.db and plate crops"})
    save_crops: bool = option("keep each read's best plate crop as a JPEG", True)
    retry_attempts: int = option(
        "tries for a write when the disk is full or the database is locked", 5, at_least(1)
    )
    retry_initial_s: float = option(
        "first wait between write tries (doubles each time)", 0.2, at_least(0)
    )
    retention_days: int = option(
        f"days reads with no hotlist hit are kept (1-{MAX_RETENTION_DAYS}); every unit purges "
        "them itself, audited, with or without [sharing]; legal holds keep a read longer",
        DEFAULT_RETENTION_DAYS,
        _retention_check,
    )
    purge_interval_s: float = option(
        "seconds between the unit's retention purges (the first runs at start)", 3600.0, _positive
    )
    backlog_limit: int = option(
        "reads kept in memory while the store cannot be written; beyond it the oldest waiting "
        "read is dropped (logged with the count)",
        1000,
        at_least(1),
    )


@dataclass(frozen=True)
class HotlistConfig:
    max_confusions: int = option(
        "how many characters may differ, each only within one OCR-confusion group, for a "
        "near match (0 = exact matches only)",
        1,
        between(0, 3),
    )


def _port_check(port: int) -> str | None:
    return None if 1 <= port <= 65535 else f"must be a TCP port (1-65535), got {port}"


@dataclass(frozen=True)
class HealthConfig:
    """The unit's health: warnings in the log, and an HTTP endpoint (off unless enabled)."""

    enabled: bool = option(
        "serve /healthz and /metrics (Prometheus text) over HTTP; `alpr-edge status` reads them",
        False,
    )
    host: str = option(
        "address the endpoint listens on; anything but 127.0.0.1 exposes reads counts and "
        "sharing state to the network (put a reverse proxy with authentication in front)",
        "127.0.0.1",
    )
    port: int = option("TCP port of the endpoint", 9108, _port_check)
    camera_down_after_s: float = option(
        "no frame for this many seconds: the camera is down (/healthz fails, a warning is "
        "logged, the heartbeat says so)",
        30.0,
        at_least(1),
    )
    disk_floor_mb: int = option(
        "free space (MB) on the data folder's disk below which a warning is logged and "
        "/healthz fails",
        500,
        at_least(0),
    )
    outbox_growing_after_s: float = option(
        "a warning is logged when an agency's oldest queued message is older than this",
        900.0,
        at_least(1),
    )
    audit_verify_every_s: float = option(
        "seconds between full verifications of the audit chain (the walk reads every row)",
        300.0,
        at_least(1),
    )


_UNIT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def _unit_id_check(value: str) -> str | None:
    if _UNIT_ID.match(value):
        return None
    return (
        f"must be 1-64 letters, digits, '-' or '_' starting with a letter or digit, got {value!r}"
    )


@dataclass(frozen=True)
class SharingConfig:
    """Present only when the unit shares: without a [sharing] table nothing leaves the device."""

    agencies_file: Path = field(
        metadata={
            "help": "the allow-list (config/agencies.toml): who may receive data; nothing is "
            "shared without a valid one",
            "required": True,
        }
    )
    data_dir: Path = field(
        metadata={
            "help": "folder of the audit log (audit.sqlite) and the outbox (outbox.sqlite)",
            "required": True,
        }
    )
    unit_id: str = option(
        "this unit's name in topics and messages (letters, digits, '-', '_')",
        check=_unit_id_check,
    )
    query_policy: Path | None = field(
        default=None,
        metadata={
            "help": "the published query policy (config/query-policy.toml); without it the "
            "unit answers no agency queries (docs/queries.md)"
        },
    )
    operator_agency: str = option(
        "ORI of the agency operating this unit (recorded in the audit log)", ""
    )
    heartbeat_interval_s: float = option(
        "seconds between heartbeats to agencies that receive them", 300.0, _positive
    )
    audit_head_interval_s: float = option(
        "seconds between audit chain heads published to every agency", 900.0, _positive
    )
    drain_on_exit_s: float = option(
        "at exit, seconds to wait for connected agencies to receive the queue",
        5.0,
        at_least(0),
    )

    @property
    def audit_file(self) -> Path:
        return self.data_dir / AUDIT_FILE

    @property
    def outbox_file(self) -> Path:
        return self.data_dir / OUTBOX_FILE


AUDIT_FILE = "audit.sqlite"
OUTBOX_FILE = "outbox.sqlite"


@dataclass(frozen=True)
class EdgeConfig:
    """The whole file; `sharing` is None when the file has no [sharing] table."""

    path: Path
    camera: CameraConfig
    motion: MotionConfig
    detector: DetectorConfig
    ocr: OcrConfig
    track: TrackConfig
    store: StoreConfig
    hotlist: HotlistConfig
    sharing: SharingConfig | None = None
    health: HealthConfig = field(default_factory=HealthConfig)
    # The [[camera]] entries after the first (`camera`), when the unit has several cameras.
    more_cameras: tuple[CameraConfig, ...] = ()

    @property
    def cameras(self) -> tuple[CameraConfig, ...]:
        """Every camera of the unit, the first (`camera`) first."""
        return (self.camera, *self.more_cameras)

    def motion_of(self, camera: CameraConfig) -> MotionConfig:
        """A camera's motion gate: its own [camera.motion] table, else the top-level [motion]."""
        return camera.motion or self.motion

    @property
    def audit_file(self) -> Path:
        """The unit's audit log: in `[sharing] data_dir`, or beside the reads when nothing is
        shared (local searches are audited either way)."""
        return self.sharing.audit_file if self.sharing else self.store.data_dir / AUDIT_FILE


SECTIONS: dict[str, type] = {
    "camera": CameraConfig,
    "motion": MotionConfig,
    "detector": DetectorConfig,
    "ocr": OcrConfig,
    "track": TrackConfig,
    "store": StoreConfig,
    "hotlist": HotlistConfig,
    "health": HealthConfig,
}
# Sections that may also be given as an array of tables ([[camera]] entries, one per camera).
LIST_SECTIONS = frozenset({"camera"})
# Sections that may be left out altogether; their absence means something (no sharing).
OPTIONAL_SECTIONS: dict[str, type] = {"sharing": SharingConfig}
