"""The unit's MQTT links to agency brokers: the transport the egress gate's outbox drains into.

One connection per active agency, each on its own thread: MQTT 5, TLS 1.2+ with the agency's
CA pinned, hostname checked and this unit's client certificate presented (mutual TLS); plain
TCP only for demo brokers on loopback that the allow-list accepted. The connection's last will
sets the retained status topic to `offline`. Messages leave the outbox oldest first, one at a
time (QoS 1): a message is removed only after its PUBACK, so a broker outage, a lost network
or a killed process re-sends at most the one message in flight, under the same id.

Queries that agencies publish on their own broker are read on the same connection and handed,
with the id of the agency whose broker they came over, to the `QueryHandler` (edge.query); its
answers go back through the egress gate like everything else.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.audit.events import Decision, Event
from edge.config.allowlist import Agency
from edge.share.gate import EgressGate
from edge.share.messages import query_topic, status_topic
from edge.share.outbox import Outbox, QueuedMessage

log = logging.getLogger(__name__)

KEEPALIVE_S = 30
CONNECT_TIMEOUT_S = 10.0
RETRY_INITIAL_S = 0.5
RETRY_MAX_S = 30.0
# A message in flight this long without PUBACK: drop the connection and start again.
PUBACK_TIMEOUT_S = 30.0
# Also look at the outbox this often when nothing woke the link (belt and braces).
IDLE_CHECK_S = 2.0


@dataclass(frozen=True)
class IncomingQuery:
    """A message on this unit's query topic of `agency_id`'s broker (MQTT 5 request)."""

    agency_id: str
    payload: bytes
    response_topic: str | None
    correlation_data: bytes | None


QueryHandler = Callable[[IncomingQuery], None]


def tls_context(agency: Agency) -> ssl.SSLContext:
    """Verify the broker against the agency's CA only, check its hostname, present our cert."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(agency.ca_cert))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(agency.client_cert), str(agency.client_key))
    if agency.crl is not None:
        context.load_verify_locations(cafile=str(agency.crl))
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    # create_default_context already requires a certificate and checks the hostname; say so
    # explicitly so that nobody "simplifies" it away.
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    return context


def _status_payload(unit_id: str, status: str) -> bytes:
    return json.dumps({"schema": "alpr-edge/status/1", "unit": unit_id, "status": status}).encode()


def json_properties(packet: int = PacketTypes.PUBLISH) -> Properties:
    """MQTT 5 properties every message carries: UTF-8 JSON, said so (docs/sharing.md)."""
    properties = Properties(packet)
    properties.ContentType = "application/json"
    properties.PayloadFormatIndicator = 1
    return properties


class AgencyLink:
    """The connection to one agency's broker and the thread that drains its outbox."""

    def __init__(
        self,
        agency: Agency,
        unit_id: str,
        gate: EgressGate,
        outbox: Outbox,
        on_query: QueryHandler | None,
    ) -> None:
        self.agency = agency
        self._unit_id = unit_id
        self._gate = gate
        self._outbox = outbox
        self._on_query = on_query
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._connected = False
        self._refused: str | None = None
        self._inflight: tuple[QueuedMessage, int, float] | None = None
        self._acked: QueuedMessage | None = None
        self._last_failure: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"share-{agency.id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def connected(self) -> bool:
        return self._connected

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._connect_and_serve()
        except Exception:
            # Transport.sync starts a fresh link within seconds; the outbox keeps the messages.
            log.exception("link to %s failed", self.agency.id)

    def _connect_and_serve(self) -> None:
        delay = RETRY_INITIAL_S
        while not self._stop.is_set():
            if self._gate.active_agency(self.agency.id) is None:
                log.info("agency %s is no longer active: link closed", self.agency.id)
                return
            client = self._client()
            if client is not None and self._connect(client):
                delay = RETRY_INITIAL_S
                self._serve(client)
            self._stop.wait(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    def _client(self) -> mqtt.Client | None:
        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=self._unit_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
        )
        client.connect_timeout = CONNECT_TIMEOUT_S
        if self.agency.broker.tls:
            try:
                client.tls_set_context(tls_context(self.agency))
            except (OSError, ssl.SSLError) as exc:
                self._failure(f"cannot load TLS files: {exc}")
                return None
        # The last will is a message too: it carries the same content type as the others.
        client.will_set(
            status_topic(self._unit_id),
            _status_payload(self._unit_id, "offline"),
            1,
            True,
            properties=json_properties(PacketTypes.WILLMESSAGE),
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _connect(self, client: mqtt.Client) -> bool:
        broker = self.agency.broker
        self._connected, self._refused, self._inflight = False, None, None
        try:
            client.connect(broker.host, broker.port, keepalive=KEEPALIVE_S)
        except (OSError, ValueError) as exc:
            # ssl.SSLCertVerificationError (wrong CA, wrong host name) is an OSError.
            self._failure(f"{type(exc).__name__}: {exc}")
            return False
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while not self._connected and self._refused is None and time.monotonic() < deadline:
            if client.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS:
                break
            if self._stop.is_set():
                client.disconnect()
                return False
        if not self._connected:
            self._failure(self._refused or "no CONNACK from the broker")
            client.disconnect()
            return False
        self._last_failure = None
        self._gate.system_event(
            Event.CONNECT,
            Decision.DONE,
            f"connected to {broker.url} (TLS verified: {broker.tls}); status online",
            destination=self.agency.id,
            details={"status_topic": status_topic(self._unit_id)},
        )
        client.publish(
            status_topic(self._unit_id),
            _status_payload(self._unit_id, "online"),
            1,
            True,
            properties=json_properties(),
        )
        if self._on_query is not None:
            client.subscribe(query_topic(self._unit_id), qos=1)
        return True

    def _serve(self, client: mqtt.Client) -> None:
        next_check = 0.0
        while not self._stop.is_set() and self._connected:
            lost = client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS
            # A PUBACK read just before the connection dropped still counts as delivered.
            if self._acked is not None:
                self._outbox.acknowledge(self._acked.seq)
                self._acked = None
                self._wake.set()
            if lost:
                self._connected = False
                break
            if self._inflight is not None:
                if time.monotonic() - self._inflight[2] > PUBACK_TIMEOUT_S:
                    self._failure("no PUBACK in time; reconnecting")
                    break
                continue
            if self._wake.is_set() or time.monotonic() >= next_check:
                self._wake.clear()
                next_check = time.monotonic() + IDLE_CHECK_S
                self._publish_next(client)
        if self._connected:
            # MQTT 5 "disconnect with will message": agencies see the unit go offline.
            client.disconnect(ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message"))
            client.loop(timeout=0.2)
        else:
            self._gate.system_event(
                Event.DISCONNECT, Decision.FAILED, "connection lost", destination=self.agency.id
            )
            client.disconnect()
        self._inflight = None

    def _publish_next(self, client: mqtt.Client) -> None:
        # The allow-list is checked again at the moment of sending: an agency removed or expired
        # since the message was queued gets nothing (its queue is dropped and audited).
        if self._gate.active_agency(self.agency.id) is None:
            self._stop.set()
            return
        message = self._outbox.next_for(self.agency.id)
        if message is None:
            return
        properties = json_properties()
        properties.UserProperty = [("message-id", message.message_id)]
        if message.correlation_data is not None:
            properties.CorrelationData = message.correlation_data
        info = client.publish(message.topic, message.payload, qos=1, properties=properties)
        self._inflight = (message, info.mid, time.monotonic())

    def _failure(self, reason: str) -> None:
        # A broker that stays down would otherwise add an audit row per retry.
        if reason != self._last_failure:
            self._gate.system_event(
                Event.CONNECT_FAILED,
                Decision.FAILED,
                reason,
                destination=self.agency.id,
                details={"broker": self.agency.broker.url},
            )
            log.warning("agency %s: %s", self.agency.id, reason)
        self._last_failure = reason

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: Any,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        if reason_code.is_failure:
            self._refused = f"broker refused the connection: {reason_code}"
        else:
            self._connected = True

    def _on_disconnect(self, client: mqtt.Client, *details: Any) -> None:
        self._connected = False

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        if self._inflight is None or mid != self._inflight[1]:
            return  # the retained status message
        message = self._inflight[0]
        self._inflight = None
        if reason_code.is_failure:
            # Kept in the outbox and tried again after a reconnect; never silently lost.
            self._failure(f"broker refused message {message.message_id}: {reason_code}")
            self._connected = False
            return
        self._acked = message

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self._on_query is None:
            return
        props = message.properties
        query = IncomingQuery(
            agency_id=self.agency.id,
            payload=bytes(message.payload),
            response_topic=getattr(props, "ResponseTopic", None),
            correlation_data=getattr(props, "CorrelationData", None),
        )
        try:
            self._on_query(query)
        except Exception:
            log.exception("query handler failed on a message from %s", self.agency.id)


class Transport:
    """Keeps exactly one link per active agency of the allow-list in force."""

    def __init__(
        self, gate: EgressGate, outbox: Outbox, unit_id: str, on_query: QueryHandler | None = None
    ) -> None:
        self._gate = gate
        self._outbox = outbox
        self._unit_id = unit_id
        self._on_query = on_query
        self._links: dict[str, AgencyLink] = {}
        self._lock = threading.Lock()
        gate.on_queued(self.wake)

    def set_query_handler(self, handler: QueryHandler | None) -> None:
        """Set before `sync`: links subscribe to the query topic when they connect."""
        self._on_query = handler

    def sync(self, agencies: tuple[Agency, ...]) -> None:
        """Open links to new agencies, close those no longer listed or whose entry changed."""
        wanted = {agency.id: agency for agency in agencies}
        with self._lock:
            for agency_id, link in list(self._links.items()):
                if wanted.get(agency_id) != link.agency or not link.alive:
                    link.stop()
                    del self._links[agency_id]
            for agency_id, agency in wanted.items():
                if agency_id not in self._links:
                    link = AgencyLink(
                        agency, self._unit_id, self._gate, self._outbox, self._on_query
                    )
                    self._links[agency_id] = link
                    link.start()

    def connected(self) -> list[str]:
        """Agencies whose broker connection is up now."""
        with self._lock:
            return [agency_id for agency_id, link in self._links.items() if link.connected]

    def wake(self, agency_id: str) -> None:
        link = self._links.get(agency_id)
        if link is not None:
            link.wake()

    def close(self) -> None:
        with self._lock:
            for link in self._links.values():
                link.stop()
            self._links.clear()
