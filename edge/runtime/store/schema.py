"""The database schema, one migration per version; `PRAGMA user_version` records the version.

Add a migration to the end of MIGRATIONS to change the schema; never edit a released one.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils


def _create_reads_hotlist_hits(db: sqlite_utils.Database) -> None:
    db["reads"].create(
        {
            "id": int,
            "seen_at": str,  # ISO 8601 UTC
            "camera_id": str,
            "plate": str,
            "state": str,
            "confidence": float,
            "box_x": int,
            "box_y": int,
            "box_w": int,
            "box_h": int,
            "frame_count": int,
            "crop_path": str,
            "char_confidences": str,  # JSON list
        },
        pk="id",
        not_null={"seen_at", "camera_id", "plate", "confidence", "frame_count"},
    )
    db["reads"].create_index(["plate"])
    db["reads"].create_index(["seen_at"])
    db["hotlist"].create(
        {
            "id": int,
            "plate": str,
            "state": str,
            "reason": str,
            "source": str,
            "expires_at": str,  # ISO 8601 UTC; NULL never expires
            "loaded_at": str,
            "file": str,
        },
        pk="id",
        not_null={"plate", "loaded_at"},
    )
    db["hotlist"].create_index(["plate"])
    db["hits"].create(
        {
            "id": int,
            "read_id": int,
            "hotlist_id": int,
            "listed_plate": str,
            "distance": int,
            "reason": str,
            "source": str,
        },
        pk="id",
        not_null={"read_id", "hotlist_id", "listed_plate", "distance"},
        foreign_keys=[("read_id", "reads", "id"), ("hotlist_id", "hotlist", "id")],
    )
    db["hits"].create_index(["read_id"])


def _rename_state_to_region(db: sqlite_utils.Database) -> None:
    """The column holds UK, EU and BR as well as US states: it is the issuing region."""
    db.execute("ALTER TABLE reads RENAME COLUMN state TO region")
    db.execute("ALTER TABLE hotlist RENAME COLUMN state TO region")


def _add_candidates(db: sqlite_utils.Database) -> None:
    """Each read keeps its alternative readings (a JSON list of [text, confidence], best
    first), and each hit which of them matched (rank 0: the read's plate itself)."""
    db.execute("ALTER TABLE reads ADD COLUMN candidates TEXT")
    db.execute("ALTER TABLE hits ADD COLUMN matched_text TEXT")
    db.execute("ALTER TABLE hits ADD COLUMN candidate_rank INTEGER NOT NULL DEFAULT 0")


MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (
    _create_reads_hotlist_hits,
    _rename_state_to_region,
    _add_candidates,
)
SCHEMA_VERSION = len(MIGRATIONS)
