"""Turn a BGR plate crop into the array the OCR model reads, exactly as training does."""

from __future__ import annotations

import cv2
import numpy as np
from fast_plate_ocr.core.process import resize_image
from fast_plate_ocr.inference.config import PlateConfig


def to_model_input(crop_bgr: np.ndarray, config: PlateConfig) -> np.ndarray:
    """(H, W, C) uint8 in the model's colour mode and size; C is 1 (grayscale) or 3 (RGB)."""
    if crop_bgr.ndim == 2:
        crop_bgr = cv2.cvtColor(crop_bgr, cv2.COLOR_GRAY2BGR)
    code = cv2.COLOR_BGR2RGB if config.image_color_mode == "rgb" else cv2.COLOR_BGR2GRAY
    converted = cv2.cvtColor(crop_bgr, code)
    return resize_image(
        converted,
        config.img_height,
        config.img_width,
        image_color_mode=config.image_color_mode,
        keep_aspect_ratio=config.keep_aspect_ratio,
        interpolation_method=config.interpolation,
        padding_color=config.padding_color,
    )
