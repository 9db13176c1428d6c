"""systemd's notify protocol, spoken directly: datagrams to the socket in $NOTIFY_SOCKET.

The unit file says `Type=notify` and `WatchdogSec=`: systemd waits for READY=1 before it
counts the service as started, and kills and restarts it when WATCHDOG=1 stops coming. The
watchdog is fed from the frame loop (`on_frame`), never from a timer thread, so a pipeline
that stops taking frames is restarted while a quiet street, whose frames still flow through
the motion gate, is not. Without $NOTIFY_SOCKET (a terminal, a test) every call does nothing.
No libsystemd binding is needed: the protocol is one `sendto` per message.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

# The watchdog is fed at this share of its interval, as sd_watchdog_enabled(3) advises (half).
FEED_SHARE = 0.5
# STATUS= lines (shown by `systemctl status`) are refreshed at most this often.
STATUS_EVERY_S = 10.0


class Notifier:
    """Sends READY, WATCHDOG, STATUS and STOPPING to the service manager, if there is one."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        environ = os.environ if environ is None else environ
        self._address = _address(environ.get("NOTIFY_SOCKET", ""))
        self._clock = clock
        self.watchdog_s = _watchdog_interval(environ)
        self._socket: socket.socket | None = None
        self._last_feed = float("-inf")
        self._last_status = float("-inf")
        if self._address is not None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.setblocking(False)

    @property
    def active(self) -> bool:
        return self._socket is not None

    def send(self, **fields: str | int) -> bool:
        """One datagram of KEY=value lines; False when there is no manager or it is gone."""
        if self._socket is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items())
        try:
            self._socket.sendto(message.encode("utf-8"), self._address)
        except OSError as exc:  # the manager restarted, or the socket filled: not fatal
            log.debug("notify socket: %s", exc)
            return False
        return True

    def ready(self, status: str) -> None:
        self.send(READY=1, STATUS=status, MAINPID=os.getpid())
        self._last_feed = self._last_status = self._clock()

    def feed(self, status: Callable[[], str] | None = None) -> None:
        """Called per frame: feeds the watchdog (rate-limited) and refreshes STATUS now and
        then; `status` is only called when a STATUS line is due."""
        now = self._clock()
        fields: dict[str, str | int] = {}
        if self.watchdog_s is not None and now - self._last_feed >= self.watchdog_s * FEED_SHARE:
            fields["WATCHDOG"] = 1
            self._last_feed = now
        if status is not None and now - self._last_status >= STATUS_EVERY_S:
            fields["STATUS"] = status()
            self._last_status = now
        if fields:
            self.send(**fields)

    def stopping(self, status: str = "stopping: storing open tracks") -> None:
        self.send(STOPPING=1, STATUS=status)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _address(value: str) -> str | bytes | None:
    if not value:
        return None
    if value.startswith("@"):  # Linux abstract namespace
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    log.warning("NOTIFY_SOCKET %r is not a unix socket path: not notifying", value)
    return None


def _watchdog_interval(environ: Mapping[str, str]) -> float | None:
    """WatchdogSec in seconds when the watchdog is meant for this process, else None."""
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 1_000_000
