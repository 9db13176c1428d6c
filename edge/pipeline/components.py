"""Build the pipeline's parts from the config: models, store, sharing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.config import EdgeConfig
from edge.store import ReadStore

if TYPE_CHECKING:
    from edge.detect import PlateDetector
    from edge.recognise import PlateReader
    from edge.share.sharing import Sharing


def open_detector(config: EdgeConfig) -> PlateDetector:
    from edge.detect import PlateDetector

    settings = config.detector
    return PlateDetector(
        settings.model,
        providers=settings.providers,
        threads=settings.threads,
        score_threshold=settings.min_score,
    )


def open_reader(config: EdgeConfig) -> PlateReader:
    from edge.recognise import PlateReader

    ocr = config.ocr
    if ocr.hub_model:
        reader = PlateReader.from_hub(ocr.hub_model, providers=ocr.providers, threads=ocr.threads)
    else:
        reader = PlateReader(
            ocr.model, ocr.plate_config, providers=ocr.providers, threads=ocr.threads
        )
    return reader.expecting(ocr.expected_regions)


def open_store(config: EdgeConfig) -> ReadStore:
    settings = config.store
    return ReadStore(
        settings.data_dir,
        save_crops=settings.save_crops,
        retry_attempts=settings.retry_attempts,
        retry_initial_s=settings.retry_initial_s,
    )


def open_sharing(config: EdgeConfig, store: ReadStore) -> Sharing | None:
    """Sharing from the [sharing] table; without that table nothing leaves the device."""
    if config.sharing is None:
        return None
    from edge.share.sharing import Sharing, parse_sharing_settings

    return Sharing(parse_sharing_settings(config.sharing, config.path), reads_db=store.path)
