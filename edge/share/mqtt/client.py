"""The agency's side of a query over MQTT 5 request/response (`alpr-edge query`).

Used by the agency's operator, never by the unit: it connects to the agency's own broker,
publishes a signed query on the unit's query topic and waits for the answer.
"""

from __future__ import annotations

import ssl
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.config.allowlist import Broker
from edge.errors import EdgeError
from edge.share.messages import TOPIC_ROOT
from edge.share.mqtt.link import KEEPALIVE_S


def request(
    broker: Broker,
    topic: str,
    payload: bytes,
    *,
    ca_cert: Path | None = None,
    client_cert: Path | None = None,
    client_key: Path | None = None,
    client_id: str = "",
    timeout_s: float = 15.0,
) -> bytes:
    """The agency's side of an MQTT 5 request/response (`alpr-edge query`): publish `payload`
    to `topic` on the agency's own broker and wait for the unit's answer.

    The answer comes on a fresh response topic, matched by correlation data. Raises EdgeError
    when the broker cannot be reached or no answer comes in time.
    """
    correlation = uuid.uuid4().bytes
    response_topic = f"{TOPIC_ROOT}/responses/{uuid.uuid4().hex}"
    answers: list[bytes] = []
    subscribed = threading.Event()
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
    )
    if broker.tls:
        context = ssl.create_default_context(cafile=str(ca_cert) if ca_cert else None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if client_cert and client_key:
            context.load_cert_chain(str(client_cert), str(client_key))
        client.tls_set_context(context)

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if getattr(message.properties, "CorrelationData", None) == correlation:
            answers.append(bytes(message.payload))

    client.on_message = on_message
    client.on_subscribe = lambda *details: subscribed.set()
    try:
        client.connect(broker.host, broker.port, keepalive=KEEPALIVE_S)
    except (OSError, ValueError) as exc:
        raise EdgeError(f"cannot connect to {broker.url}: {exc}") from None
    client.loop_start()
    try:
        client.subscribe(response_topic, qos=1)
        if not subscribed.wait(timeout_s):
            raise EdgeError(f"{broker.url} did not confirm the subscription")
        properties = Properties(PacketTypes.PUBLISH)
        properties.ResponseTopic = response_topic
        properties.CorrelationData = correlation
        client.publish(topic, payload, qos=1, properties=properties)
        deadline = time.monotonic() + timeout_s
        while not answers and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()
    if not answers:
        raise EdgeError(f"no answer on {broker.url} within {timeout_s:.0f} s")
    return answers[0]
