"""Build the pipeline's parts from the config: models and store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.config import EdgeConfig
from edge.runtime.store import ReadStore

if TYPE_CHECKING:
    from edge.runtime.detect import PlateDetector
    from edge.runtime.pipeline.search_areas import AreaDetector
    from edge.runtime.recognise import PlateReader


def open_detector(config: EdgeConfig) -> PlateDetector:
    from edge.runtime.detect import PlateDetector

    settings = config.detector
    return PlateDetector(
        settings.model,
        providers=settings.providers,
        threads=settings.threads,
        score_threshold=settings.min_score,
    )


def open_reader(config: EdgeConfig) -> PlateReader:
    from edge.runtime.recognise import PlateReader

    ocr = config.ocr
    if ocr.hub_model:
        reader = PlateReader.from_hub(ocr.hub_model, providers=ocr.providers, threads=ocr.threads)
    else:
        reader = PlateReader(
            ocr.model, ocr.plate_config, providers=ocr.providers, threads=ocr.threads
        )
    return reader.expecting(ocr.expected_regions).configured(ocr)


def open_store(config: EdgeConfig) -> ReadStore:
    settings = config.store
    return ReadStore(
        settings.data_dir,
        save_crops=settings.save_crops,
        retry_attempts=settings.retry_attempts,
        retry_initial_s=settings.retry_initial_s,
    )


def open_models(config: EdgeConfig) -> tuple[AreaDetector, PlateReader]:
    """Both models, loaded before anything is written, so a bad model file changes nothing."""
    from edge.runtime.pipeline.search_areas import AreaDetector

    return AreaDetector(open_detector(config)), open_reader(config)
