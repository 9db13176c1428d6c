"""Build the pipeline's parts from the config: models and store."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from edge.config import DetectorConfig, EdgeConfig
from edge.errors import ConfigError
from edge.runtime.store import ReadStore

if TYPE_CHECKING:
    from edge.runtime.detect import PlateDetector
    from edge.runtime.pipeline.orchestrator import Detector
    from edge.runtime.recognise import PlateReader

log = logging.getLogger(__name__)


def usable_providers(
    config: EdgeConfig,
    section: str,
    wanted: Sequence[str],
    available: Sequence[str] | None = None,
    known: Sequence[str] | None = None,
) -> tuple[str, ...]:
    """The configured execution providers this machine has, in the configured order.

    onnxruntime itself runs a session on CPU, with only a warning, when a named provider is
    misspelt or not installed; a Jetson configured for TensorRT would then run many times
    slower and say nothing. So: a name onnxruntime does not know is a config error; a provider
    it knows but this build lacks is skipped only when the list names a fallback that is
    available (e.g. CPUExecutionProvider last), and the chain in use is logged.
    """
    import onnxruntime as ort

    available = list(ort.get_available_providers() if available is None else available)
    known = list(ort.get_all_providers() if known is None else known)
    key = f"{section}.providers"
    for name in wanted:
        if name not in known:
            raise ConfigError(config.path, key, f"unknown execution provider {name!r}")
    usable = tuple(name for name in wanted if name in available)
    missing = [name for name in wanted if name not in available]
    if not usable or (missing and len(wanted) == 1):
        raise ConfigError(
            config.path,
            key,
            f"{', '.join(missing)} not available in this onnxruntime (available: "
            f"{', '.join(available)}); install the build that has it or list a fallback",
        )
    if missing:
        log.warning(
            "%s: %s not available here; falling back to %s",
            section,
            ", ".join(missing),
            " -> ".join(usable),
            extra={"providers": list(usable), "missing": missing},
        )
    else:
        log.info("%s: execution providers %s", section, " -> ".join(usable))
    return usable


def open_detector(config: EdgeConfig, stills: bool = False) -> PlateDetector:
    """The unit's detector, for video or (`stills`) for still photos."""
    settings = config.detector
    providers = usable_providers(config, "detector", settings.providers)
    return detector_from(settings, providers, stills)


def detector_from(
    settings: DetectorConfig, providers: Sequence[str], stills: bool = False
) -> PlateDetector:
    """A detector opened from its settings, with the score threshold and passes of video or
    of stills (`alpr-edge read` and `alpr-edge eval` both open it here, so they never
    disagree)."""
    from edge.runtime.detect import PlateDetector

    return PlateDetector(
        settings.model,
        providers=tuple(providers),
        threads=settings.threads,
        score_threshold=settings.still_min_score if stills else settings.min_score,
        fine_pass=stills and settings.still_fine_pass,
        workers=settings.still_workers if stills else 1,
    )


def open_reader(config: EdgeConfig) -> PlateReader:
    from edge.runtime.recognise import PlateReader

    ocr = config.ocr
    providers = usable_providers(config, "ocr", ocr.providers)
    if ocr.hub_model:
        reader = PlateReader.from_hub(ocr.hub_model, providers=providers, threads=ocr.threads)
    else:
        reader = PlateReader(ocr.model, ocr.plate_config, providers=providers, threads=ocr.threads)
    return reader.expecting(ocr.expected_regions).configured(ocr)


def open_store(config: EdgeConfig) -> ReadStore:
    settings = config.store
    return ReadStore(
        settings.data_dir,
        save_crops=settings.save_crops,
        retry_attempts=settings.retry_attempts,
        retry_initial_s=settings.retry_initial_s,
    )


def open_models(config: EdgeConfig) -> tuple[Detector, PlateReader]:
    """Both models, loaded before anything is written, so a bad model file changes nothing;
    a folder of stills (`[camera] stills`) is searched as `alpr-edge read` searches a photo."""
    from edge.runtime.pipeline.search_areas import AreaDetector
    from edge.runtime.pipeline.stills import StillSearch

    if config.camera.stills:
        return StillSearch(open_detector(config, stills=True), config.ocr), open_reader(config)
    return AreaDetector(open_detector(config)), open_reader(config)


def as_stills(config: EdgeConfig) -> EdgeConfig:
    """The config for a folder of single stills (`[camera] stills`): every image is searched
    whole and read at the still-photo margins, and one reading makes a pass, as
    `alpr-edge read` reads a photo; a still has no motion to gate on, and no earlier frame
    of the same vehicle, so nothing in it is a repeat of the photo before."""
    return dataclasses.replace(
        config,
        camera=dataclasses.replace(config.camera, stills=True),
        motion=dataclasses.replace(config.motion, enabled=False),
        detector=dataclasses.replace(config.detector, discover_every_n_frames=1),
        ocr=dataclasses.replace(config.ocr, crop_margins=config.ocr.still_crop_margins),
        track=dataclasses.replace(config.track, min_reads=1, repeat_window_s=0.0),
    )
