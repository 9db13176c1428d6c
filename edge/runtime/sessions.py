"""Opening an ONNX model for inference, the same way for every model the unit runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge.errors import ModelError


def open_session(path: Path, providers: Sequence[str], threads: int, what: str = "") -> Any:
    """An onnxruntime session on `threads` intra-op threads with onnxruntime's own chatter
    silenced; a missing or damaged file raises ModelError naming the file."""
    import onnxruntime as ort

    if not path.is_file():
        raise ModelError(path, f"{what} file not found".strip())
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=list(providers))
    except Exception as exc:  # onnxruntime raises its own types for every kind of damage
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(path, f"cannot load as an ONNX model ({reason})") from None
