"""Fonts from Debian packages (see APT_PACKAGES in the Makefile), rendered once and cached.

Glyphs and short strings are drawn with Pillow at a reference size and kept as tight ink
masks; callers scale the masks with OpenCV, which is far cheaper than rasterising text for
every plate.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from edge.errors import InputError

FONT_ROOT = Path("/usr/share/fonts")

# Role -> candidate files (relative to FONT_ROOT); a role keeps the ones that are installed.
_CANDIDATES: dict[str, tuple[str, ...]] = {
    # Bold, condensed faces that look like the dies US states stamp serials with.
    "serial": (
        "truetype/roboto/unhinted/RobotoCondensed-Bold.ttf",
        "truetype/roboto/unhinted/RobotoCondensed-Medium.ttf",
        "truetype/dejavu/DejaVuSansCondensed-Bold.ttf",
        "truetype/liberation/LiberationSansNarrow-Bold.ttf",
        "truetype/liberation/LiberationSansNarrow-Regular.ttf",
        "truetype/open-sans/OpenSans-CondBold.ttf",
        "truetype/freefont/FreeSansBold.ttf",
    ),
    # Wider faces for UK, EU and Brazilian plates.
    "wide": (
        "truetype/roboto/unhinted/RobotoTTF/Roboto-Bold.ttf",
        "truetype/dejavu/DejaVuSans-Bold.ttf",
        "truetype/liberation2/LiberationSans-Bold.ttf",
        "truetype/roboto/unhinted/RobotoCondensed-Bold.ttf",
    ),
    "script": (
        "opentype/lobster/lobster.otf",
        "truetype/liberation2/LiberationSerif-BoldItalic.ttf",
        "truetype/dejavu/DejaVuSerif-BoldItalic.ttf",
    ),
    "caps": (
        "truetype/roboto/unhinted/RobotoTTF/Roboto-Black.ttf",
        "truetype/dejavu/DejaVuSerif-Bold.ttf",
        "truetype/open-sans/OpenSans-ExtraBold.ttf",
        "truetype/liberation2/LiberationSans-Bold.ttf",
    ),
    "small": (
        "truetype/dejavu/DejaVuSans.ttf",
        "truetype/liberation2/LiberationSans-Regular.ttf",
        "truetype/dejavu/DejaVuSerif.ttf",
        "truetype/roboto/unhinted/RobotoCondensed-Regular.ttf",
    ),
    "symbol": ("truetype/dejavu/DejaVuSans.ttf",),
}

_REFERENCE_PX = 96


@cache
def fonts(role: str) -> tuple[Path, ...]:
    """Installed font files for a role; InputError names the packages when none is present."""
    found = tuple(FONT_ROOT / p for p in _CANDIDATES[role] if (FONT_ROOT / p).is_file())
    if not found:
        raise InputError(
            f"no {role!r} font found under {FONT_ROOT}; install the Debian font packages "
            "listed in the Makefile (make system-deps)"
        )
    return found


def all_font_files() -> list[Path]:
    """Every font file the renderer draws with, installed or not."""
    return sorted({FONT_ROOT / p for files in _CANDIDATES.values() for p in files})


@cache
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


@cache
def text_mask(text: str, path: Path) -> np.ndarray:
    """A float32 ink mask (0..1) of `text`, cropped tight, at the reference size."""
    font = _font(path, _REFERENCE_PX)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (max(right - left, 1) + 4, max(bottom - top, 1) + 4), 0)
    ImageDraw.Draw(image).text((2 - left, 2 - top), text, font=font, fill=255)
    mask = np.asarray(image, dtype=np.float32) / 255.0
    rows = np.flatnonzero(mask.max(axis=1) > 0.1)
    cols = np.flatnonzero(mask.max(axis=0) > 0.1)
    if rows.size == 0:
        return np.zeros((1, 1), np.float32)
    return np.ascontiguousarray(mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
