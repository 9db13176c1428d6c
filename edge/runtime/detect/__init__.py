"""Detect stage: find licence plates in a frame (boxes, scores, corners) with an ONNX model."""

from edge.runtime.detect.detector import PlateDetector, plate_crop, rectified_crop

__all__ = ["PlateDetector", "plate_crop", "rectified_crop"]
