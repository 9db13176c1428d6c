"""Hotlists: import CSV files of wanted plates, then check each read against active entries.

OCR confuses some characters more than any others, so a read may differ from a listed plate in
up to `max_confusions` positions provided each differing pair is in one confusion group
(`edge.plates.confusions`). Any other difference, or a different length, is no match. Expired
entries never match. Plates are stored and compared as `edge.plates.text.normalise_plate`
writes them.

An import is all or nothing and says what is wrong with the line: a row with more fields than
the header, a column this format does not have, a quote left open (which would swallow the
rest of the file into one field). Entries already expired are imported (they document the
list as received) but named in a warning, since they will never match.

A read also carries its alternative readings (`VehicleRead.candidates`, best first). A listed
plate that the read's own text misses may match one of them, by a rule set before any
figure was measured: the candidate must equal the listed plate exactly (it already is the OCR's
own alternative, so no confusion is allowed on top of it) and the OCR must give it at least
`CANDIDATE_HIT_CONFIDENCE` (a one-in-twenty chance of being the plate). An officer checks
every hit against the crop, so a plausible second reading is worth a look, but the long tail
of a sure read (candidates at 1e-5) never raises one. The hit names the reading that matched
(`matched_text`) and its rank (0: the read's own text).
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import date, datetime, time, timedelta
from pathlib import Path

from edge.clock import UTC
from edge.errors import InputError
from edge.plates.confusions import confusion_distance, confusion_key
from edge.plates.text import normalise_plate
from edge.runtime.store import ReadStore
from edge.runtime.types import HotlistEntry, HotlistHit, VehicleRead

log = logging.getLogger(__name__)

# Least confidence of a non-first candidate that may raise a hit (see the module docstring).
CANDIDATE_HIT_CONFIDENCE = 0.05

CSV_COLUMNS = ("plate", "state", "reason", "source", "expiry")


def import_csv(
    store: ReadStore, path: Path, *, now: datetime | None = None, text: str | None = None
) -> int:
    """Load a hotlist CSV (header: plate,state,reason,source,expiry) into the store, all rows or
    none. A plate already listed with the same state and source is updated, not duplicated.
    `text`, when given, is the file's content as already read (and screened) by the caller:
    what is loaded is then exactly what was screened, even if the file changes meanwhile."""
    now = now or datetime.now(UTC)
    entries = _parse_csv(path, text)
    expired = [e for e in entries if e.expires_at is not None and e.expires_at <= now]
    if expired:
        log.warning(
            "%s: %d entr%s already expired and will never match: %s",
            path,
            len(expired),
            "y is" if len(expired) == 1 else "ies are",
            ", ".join(f"{e.plate} (expired {e.expires_at:%Y-%m-%d})" for e in expired[:10]),
            extra={"expired": len(expired)},
        )
    store.upsert_hotlist(entries, now.isoformat(), str(path))
    return len(entries)


class Hotlist:
    """The active entries, indexed for fast matching; reloaded when the table changes."""

    def __init__(
        self,
        store: ReadStore,
        max_confusions: int = 1,
        candidate_confidence: float = CANDIDATE_HIT_CONFIDENCE,
    ) -> None:
        self.store = store
        self.max_confusions = max_confusions
        self.candidate_confidence = candidate_confidence
        self._by_key: dict[str, list[HotlistEntry]] = {}
        self._loaded_version: tuple[int, int] | None = None

    def match(self, read: VehicleRead) -> list[HotlistHit]:
        """The entries the read's plate matches, then those only a confident enough candidate
        matches exactly; one hit per entry, best reading first."""
        self._reload_if_changed()
        hits: dict[int, HotlistHit] = {}
        for rank, text in self._readings(read):
            plate = normalise_plate(text)
            for entry in self._by_key.get(confusion_key(plate), ()):
                if entry.id in hits or not entry.active_at(read.seen_at):
                    continue
                if entry.region and read.region and entry.region != read.region:
                    continue
                distance = confusion_distance(plate, entry.plate)
                allowed = self.max_confusions if rank == 0 else 0
                if distance is not None and distance <= allowed:
                    hits[entry.id] = HotlistHit(
                        hotlist_id=entry.id,
                        listed_plate=entry.plate,
                        listed_region=entry.region,
                        reason=entry.reason,
                        source=entry.source,
                        distance=distance,
                        matched_text=plate,
                        candidate_rank=rank,
                    )
        return sorted(hits.values(), key=lambda hit: (hit.candidate_rank, hit.distance))

    def _readings(self, read: VehicleRead) -> list[tuple[int, str]]:
        """(rank, text): the read's plate, then its confident enough other candidates."""
        readings = [(0, read.plate)]
        for rank, candidate in enumerate(read.candidates):
            if rank == 0 or candidate.text == read.plate:
                continue
            if candidate.confidence >= self.candidate_confidence:
                readings.append((rank, candidate.text))
        return readings

    def _reload_if_changed(self) -> None:
        version = self.store.hotlist_version()
        if version == self._loaded_version:
            return
        self._loaded_version = version
        by_key: dict[str, list[HotlistEntry]] = {}
        for entry in self.store.hotlist_entries():
            by_key.setdefault(confusion_key(entry.plate), []).append(entry)
        self._by_key = by_key
        log.info("hotlist loaded: %d entries", sum(len(v) for v in by_key.values()))


def read_hotlist_bytes(path: Path) -> bytes:
    """A hotlist file's bytes, or an InputError that says why it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read hotlist {path}: {exc.strerror}") from None


def decode_hotlist(path: Path, data: bytes) -> str:
    """A hotlist file's text (UTF-8, a byte-order mark allowed), or an InputError."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc})") from None


def _parse_csv(path: Path, text: str | None = None) -> list[HotlistEntry]:
    if text is None:
        text = decode_hotlist(path, read_hotlist_bytes(path))
    line = 1
    try:
        with io.StringIO(text, newline="") as handle:
            # strict: a quote left open is an error, not a field that runs to the end.
            reader = csv.DictReader(handle, strict=True)
            header = [name.strip().lower() for name in reader.fieldnames or []]
            if "plate" not in header:
                raise InputError(f"{path}: no 'plate' column (expected {','.join(CSV_COLUMNS)})")
            unknown = [name for name in header if name not in CSV_COLUMNS]
            if unknown:
                raise InputError(
                    f"{path}:1: unknown column(s) {', '.join(map(repr, unknown))} "
                    f"(expected {','.join(CSV_COLUMNS)})"
                )
            reader.fieldnames = header
            rows = []
            for row in reader:
                line = reader.line_num
                if None in row:  # DictReader puts fields beyond the header under None
                    raise InputError(
                        f"{path}:{line}: {len(header) + len(row[None])} fields, the header has "
                        f"{len(header)} (a comma inside a value must be quoted)"
                    )
                rows.append(_parse_row(path, line, row))
    except csv.Error as exc:
        raise InputError(
            f"{path}:{line + 1}: not a readable CSV record ({exc}; a quote left open?)"
        ) from None
    return rows


def _parse_row(path: Path, line: int, row: dict[str, str | None]) -> HotlistEntry:
    def cell(name: str) -> str:
        return (row.get(name) or "").strip()

    plate = normalise_plate(cell("plate"))
    if not plate:
        raise InputError(f"{path}:{line}: plate is empty")
    state = cell("state").upper() or None
    if state is not None and not (len(state) == 2 and state.isalpha()):
        raise InputError(f"{path}:{line}: state {state!r} is not a two-letter code")
    expires_at = _parse_expiry(path, line, cell("expiry"))
    # id 0: not stored yet; the store gives it its id.
    return HotlistEntry(0, plate, state, cell("reason"), cell("source"), expires_at)


def _parse_expiry(path: Path, line: int, text: str) -> datetime | None:
    """An ISO date (valid through that day, UTC) or date-time; empty never expires."""
    if not text:
        return None
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text) + timedelta(days=1), time(), UTC)
        else:
            moment = datetime.fromisoformat(text)
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    except ValueError:
        raise InputError(
            f"{path}:{line}: expiry {text!r} is not an ISO date (YYYY-MM-DD) or date-time"
        ) from None
    return moment.astimezone(UTC)
