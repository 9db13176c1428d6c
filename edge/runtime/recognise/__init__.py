"""Recognise: read the text and the state of a plate crop with an ONNX OCR model."""

from edge.runtime.recognise.reader import HUB_MODELS, PlateReader

__all__ = ["HUB_MODELS", "PlateReader"]
