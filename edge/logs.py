"""Logging set-up shared by every command: readable text, or one JSON object per line.

Nothing secret reaches a log: credentials in URLs (`rtsp://user:password@camera/`) are masked
in every record, message and fields alike (`redact`), whoever logs them. Under
`--log-format json` every stderr line is JSON: OpenCV's and FFmpeg's own console output, which
bypasses Python's logging, is silenced (their warnings would be plain text), and the CLI
prints its fatal errors as JSON too (`fatal`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import datetime
from typing import Any, TextIO

from edge.clock import UTC

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({})))
# scheme://user:password@host or scheme://token@host: everything between :// and @ goes.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")
# Query parameters that carry secrets in camera URLs.
_SECRET_PARAMS = re.compile(
    r"(?P<key>[?&](?:password|passwd|pwd|token|key|secret|auth)=)[^&\s]+", re.IGNORECASE
)
MASK = "***"


def redact(text: str) -> str:
    """The text with URL credentials and secret query parameters masked."""
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    return _SECRET_PARAMS.sub(lambda m: f"{m.group('key')}{MASK}", text)


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message, its arguments and its `extra=` fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Fields passed with `extra=` become fields of the JSON line.
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS})
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def silence_native_logs() -> None:
    """OpenCV's and FFmpeg's console output, which Python's logging never sees, is turned off
    (read by OpenCV when it starts, so before cv2 is imported; cv2 is quietened too if it is).
    What they would say shows in our own records: a failed open, a corrupt frame count."""
    os.environ["OPENCV_LOG_LEVEL"] = "SILENT"
    os.environ["OPENCV_FFMPEG_LOGLEVEL"] = "-8"  # AV_LOG_QUIET
    cv2 = sys.modules.get("cv2")
    if cv2 is not None:
        cv2.setLogLevel(0)


def configure_logging(fmt: str = "text", level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
        silence_native_logs()
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def fatal(message: str, fmt: str = "text", stream: TextIO | None = None, **fields: Any) -> None:
    """The CLI's last word (an error that ends the command), as text or one JSON line."""
    stream = stream or sys.stderr
    message = redact(message)
    if fmt == "json":
        entry = {
            "time": datetime.now(UTC).isoformat(),
            "level": "error",
            "logger": "alpr-edge",
            "message": message,
            **fields,
        }
        stream.write(json.dumps(entry, default=str) + "\n")
    else:
        stream.write(f"alpr-edge: {message}\n")
    stream.flush()
