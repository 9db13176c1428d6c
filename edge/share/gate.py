"""The egress gate: the one way data leaves the unit.

For every message it checks the allow-list in force at that moment, writes the audit record
and queues the message in the outbox in the same transaction, and only then wakes the
transport. If the audit write fails the exception propagates and nothing was queued, so
nothing is sent. Connections to brokers are authorised (and audited) here too.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from edge.audit.events import SYSTEM_USER, Decision, Event
from edge.audit.log import AuditEvent, AuditLog, ChainHead, utc_now
from edge.clock import UTC
from edge.config.allowlist import EMPTY_ALLOWLIST, Agency, AllowList, Narrowing
from edge.share.messages import REQUIRED_OPTION, Outgoing, topic
from edge.share.outbox import Outbox, QueuedMessage

log = logging.getLogger(__name__)


def utc_today() -> date:
    return datetime.now(UTC).date()


class EgressGate:
    def __init__(
        self,
        audit: AuditLog,
        outbox: Outbox,
        unit_id: str,
        operator_agency: str,
        *,
        today: Callable[[], date] = utc_today,
    ) -> None:
        self.audit = audit
        self.outbox = outbox
        self.unit_id = unit_id
        self.operator_agency = operator_agency
        self._today = today
        self._allowlist = EMPTY_ALLOWLIST
        # Held while checking-and-queueing and while swapping the allow-list, so that no message
        # is queued for an agency after the change that removed it.
        self._lock = threading.RLock()
        self._queued_listeners: list[Callable[[str], None]] = []

    @property
    def allowlist(self) -> AllowList:
        return self._allowlist

    def on_queued(self, listener: Callable[[str], None]) -> None:
        """Call `listener(agency_id)` after each message is committed to the outbox."""
        self._queued_listeners.append(listener)

    def system_event(
        self,
        event: Event,
        decision: Decision,
        reason: str,
        *,
        username: str = SYSTEM_USER,
        purpose: str = "operation of the ALPR unit",
        destination: str | None = None,
        data_elements: str = "",
        record_count: int = 0,
        details: Mapping[str, Any] | None = None,
        allowlist_sha256: str | None = None,
    ) -> ChainHead:
        """Audit something the unit itself did (a purge, a refused config, a connection);
        the allow-list hash is the one in force unless given."""
        return self.audit.record(
            AuditEvent(
                event=event,
                decision=decision,
                reason=reason,
                username=username,
                user_agency=self.operator_agency,
                purpose=purpose,
                data_elements=data_elements,
                destination=destination,
                record_count=record_count,
                allowlist_sha256=allowlist_sha256 or self._allowlist.sha256 or None,
                details=details or {},
            )
        )

    def apply_allowlist(self, allowlist: AllowList, changed_by: str = SYSTEM_USER) -> None:
        """Put an allow-list in force: audit it (no record, no change), then drop what removed
        or expired agencies had queued (each drop audited)."""
        today = self._today()
        with self._lock:
            previous = self._allowlist
            self.system_event(
                Event.CONFIG_LOAD,
                Decision.DONE,
                f"allow-list {allowlist.source} in force: "
                f"{len(allowlist.active(today))} active, {len(allowlist.expired(today))} expired",
                username=changed_by,
                details={
                    "previous_sha256": previous.sha256 or None,
                    "active": [a.id for a in allowlist.active(today)],
                    "expired": {a.id: a.expires.isoformat() for a in allowlist.expired(today)},
                    "demo": allowlist.demo,
                },
                allowlist_sha256=allowlist.sha256,
            )
            self._allowlist = allowlist
            for agency in allowlist.expired(today):
                log.warning(
                    "agency %s: agreement expired on %s; it receives nothing",
                    agency.id,
                    agency.expires,
                )
            for agency_id in self.outbox.agencies():
                self._drop_if_inactive(agency_id, today, kinds=True)

    def refuse_allowlist(
        self,
        source: str,
        reason: str,
        narrowing: Narrowing | None = None,
        changed_by: str = SYSTEM_USER,
    ) -> None:
        """An allow-list file that cannot be used: audited, and what it removes or narrows in
        the list in force stops at once (`narrowing`); nothing it adds or widens applies."""
        log.error("allow-list %s refused: %s", source, reason)
        today = self._today()
        with self._lock:
            details: dict[str, Any] = {"source": source}
            if narrowing is not None:
                narrowed = narrowing.allowlist
                details |= {
                    "refused_sha256": narrowed.narrowed_by,
                    "in_force_sha256": narrowed.sha256 or None,
                    "narrowed": narrowing.changes,
                    "active": [a.id for a in narrowed.active(today)],
                    "receives": {a.id: sorted(a.receives) for a in narrowed.active(today)},
                }
                if narrowing.changes:
                    reason += "; narrowed at once: " + "; ".join(
                        f"{agency_id} {change}" for agency_id, change in narrowing.changes.items()
                    )
            self.system_event(
                Event.CONFIG_REFUSED,
                Decision.REFUSED,
                reason,
                username=changed_by,
                details=details,
            )
            if narrowing is not None:
                self._allowlist = narrowing.allowlist
                for agency_id in self.outbox.agencies():
                    self._drop_if_inactive(agency_id, today, kinds=True)

    def active_agency(self, agency_id: str) -> Agency | None:
        """The agency if it may receive anything now; otherwise drops what it has queued."""
        with self._lock:
            return self._drop_if_inactive(agency_id, self._today())

    def send(self, agency_id: str, message: Outgoing) -> str | None:
        """Queue one message for one agency if the allow-list allows it now.

        Returns the message id, or None when refused (the refusal is audited). Raises when the
        audit record cannot be written: then nothing was queued.
        """
        return self.send_all([(agency_id, message)])[0]

    def send_all(
        self, messages: Sequence[tuple[str, Outgoing]], read_id: int | None = None
    ) -> list[str | None]:
        """`send` for several messages in one transaction: a read shared with every agency
        costs one commit (two fsynced files), not one per agency. `read_id`: the stored read
        these messages share, recorded as handed over in the same transaction."""
        with self._lock, self.audit.transaction() as conn:
            results = [self._queue(conn, agency_id, message) for agency_id, message in messages]
            if read_id is not None:
                Outbox.mark_handled(conn, read_id)
        for (agency_id, _), message_id in zip(messages, results, strict=True):
            if message_id is not None:
                for listener in self._queued_listeners:
                    listener(agency_id)
        return results

    def _queue(self, conn: sqlite3.Connection, agency_id: str, message: Outgoing) -> str | None:
        agency = self._allowlist.get(agency_id)
        refusal = self._refusal(agency, agency_id, message)
        if refusal or agency is None:
            event = self._event(agency, message, Decision.REFUSED, refusal or "not allow-listed")
            self.audit.append(conn, replace(event, destination=agency_id))
            log.warning("refused %s to %s: %s", message.kind, agency_id, refusal)
            return None
        message_id = uuid.uuid4().hex
        queued_at = utc_now()
        document = {
            "schema": f"alpr-edge/{message.kind}/1",
            "id": message_id,
            "unit": self.unit_id,
            "queued_at": queued_at,
            **message.body,
        }
        head = self.audit.append(
            conn,
            self._event(
                agency, message, Decision.ALLOWED, self._allowed_reason(agency), message_id
            ),
        )
        Outbox.enqueue(
            conn,
            QueuedMessage(
                seq=0,
                message_id=message_id,
                agency_id=agency.id,
                kind=message.kind,
                topic=message.reply_topic or topic(self.unit_id, message.kind),
                payload=json.dumps(document).encode(),  # \u escapes: any text encodes
                correlation_data=message.correlation_data,
                queued_at=queued_at,
                audit_seq=head.seq,
            ),
        )
        return message_id

    def _refusal(self, agency: Agency | None, agency_id: str, message: Outgoing) -> str | None:
        if not self._allowlist.agencies:
            return "no valid allow-list in force: nothing is shared"
        if agency is None:
            return f"'{agency_id}' is not on the allow-list"
        if not agency.is_active(self._today()):
            return f"the agreement with '{agency_id}' expired on {agency.expires.isoformat()}"
        if message.kind not in REQUIRED_OPTION:
            return f"unknown message kind '{message.kind}'"
        option = REQUIRED_OPTION[message.kind]
        if option is not None and option not in agency.receives:
            return f"'{agency_id}' does not receive {option}"
        if message.reply_topic is not None and (
            not message.reply_topic or any(c in message.reply_topic for c in "+#\0")
        ):
            return f"invalid reply topic {message.reply_topic!r}"
        return None

    @staticmethod
    def _allowed_reason(agency: Agency) -> str:
        return (
            f"allow-listed California public agency ({agency.kind}, ORI {agency.ori}), "
            f"agreement until {agency.expires.isoformat()}"
        )

    def _event(
        self,
        agency: Agency | None,
        message: Outgoing,
        decision: Decision,
        reason: str,
        message_id: str | None = None,
    ) -> AuditEvent:
        details = dict(message.details or {})
        details["kind"] = message.kind
        return AuditEvent(
            event=Event.SHARE,
            decision=decision,
            reason=reason,
            username=message.username or (f"agency:{agency.id}" if agency else SYSTEM_USER),
            user_agency=message.user_agency or (agency.ori if agency else ""),
            purpose=message.purpose or (agency.purpose if agency else ""),
            data_elements=message.data_elements,
            destination=agency.id if agency else None,
            message_id=message_id,
            record_count=message.record_count,
            allowlist_sha256=self._allowlist.sha256 or None,
            details=details,
        )

    def _drop_if_inactive(
        self, agency_id: str, today: date, *, kinds: bool = False
    ) -> Agency | None:
        """The agency if it may still receive something; drops (audited) every queued message
        it may no longer receive: all of them once it is removed or expired and, with `kinds`
        (when a list is put in force), those of a kind it no longer receives. Nothing of such a
        kind is queued after that: `_refusal` checks `receives`."""
        agency = self._allowlist.get(agency_id)
        active = agency is not None and agency.is_active(today)
        if active and not kinds:
            return agency
        if agency is None:
            reason = "agency no longer on the allow-list"
        elif not active:
            reason = f"agreement expired on {agency.expires.isoformat()}"
        else:
            reason = f"the agency no longer receives this kind (receives {sorted(agency.receives)})"
        dropped = 0
        for queued in self.outbox.queued(agency_id):
            option = REQUIRED_OPTION.get(queued.kind)
            if active and agency is not None and (option is None or option in agency.receives):
                continue
            with self.audit.transaction() as conn:
                self.audit.append(
                    conn,
                    AuditEvent(
                        event=Event.DROP,
                        decision=Decision.DROPPED,
                        reason=f"queued message dropped: {reason}",
                        username=SYSTEM_USER,
                        user_agency=self.operator_agency,
                        purpose="enforce the allow-list",
                        destination=agency_id,
                        message_id=queued.message_id,
                        record_count=1,
                        allowlist_sha256=self._allowlist.sha256 or None,
                        details={"kind": queued.kind, "queued_at": queued.queued_at},
                    ),
                )
                Outbox.remove(conn, queued.seq)
            dropped += 1
        if dropped:
            log.warning("dropped %d queued messages for %s: %s", dropped, agency_id, reason)
        return agency if active else None
