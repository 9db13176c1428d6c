"""`alpr-edge run` as a service: health, the systemd notify protocol and the heartbeat's state,
hooked onto the run through `run_pipeline`'s per-frame callback (nothing else in the run
changes).

READY=1 goes out once the models are loaded and sharing is up, just before the first frame;
every frame feeds the watchdog and the health state; STOPPING=1 goes out as the run ends.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from edge.service.health import UnitHealth, serving, unit_health
from edge.service.notify import Notifier

if TYPE_CHECKING:
    from edge.config import EdgeConfig
    from edge.runtime.capture import FrameSource
    from edge.runtime.pipeline.orchestrator import RunStats
    from edge.share.service import Sharing

log = logging.getLogger(__name__)

FrameCallback = Callable[["RunStats"], None]


@contextlib.contextmanager
def service_run(
    config: EdgeConfig,
    source: FrameSource | None,
    sharing: Sharing | None = None,
    on_frame: FrameCallback | None = None,
    notifier: Notifier | None = None,
) -> Iterator[tuple[FrameCallback, UnitHealth]]:
    """The per-frame callback to hand to `run_pipeline` (it calls `on_frame` too), and the
    unit's health, watching `source` (with several cameras, the first). The heartbeat carries
    that health while this is open."""
    notifier = notifier or Notifier()
    health = unit_health(config, getattr(source, "stats", None))
    health.sharing = sharing
    if sharing is not None:
        sharing.set_state_provider(health.heartbeat_state)
    if notifier.active:
        log.info(
            "systemd notify socket in use; watchdog %s",
            f"every {notifier.watchdog_s:g} s" if notifier.watchdog_s else "off",
        )

    def each_frame(stats: RunStats) -> None:
        if on_frame is not None:
            on_frame(stats)
        health.on_frame(stats)
        notifier.feed(health.status_line)

    with serving(health):
        name = source.name if source is not None else "no source"
        notifier.ready(f"reading {name} as camera {config.camera.id}")
        try:
            yield each_frame, health
        finally:
            notifier.stopping()
            if sharing is not None:
                sharing.set_state_provider(None)
            notifier.close()
