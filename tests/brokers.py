"""Real Mosquitto brokers and TLS certificates for the sharing and query tests.

Each broker listens on its own 127.0.0.x address with mutual TLS (`require_certificate`,
`use_identity_as_username`), a log file per test and persistence, and runs as root because
Mosquitto started as root otherwise drops to a user that cannot read keys in temp folders.
`AgencySubscriber` plays the agency: it connects with its own client certificate and keeps
every message it receives. Tests may import paho-mqtt; the product may not (see
test_share_transport.py).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import random
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path


class CertificateAuthority:
    """A throw-away CA that issues server and client certificates into `folder`."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.name = name
        folder.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} test CA")])
        now = dt.datetime.now(dt.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        self.cert = folder / f"{name}-ca.pem"
        self.cert.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, common_name: str, *, server_ip: str | None = None) -> CertFiles:
        """A leaf certificate; with `server_ip` a server certificate for that address."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server_ip else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        if server_ip:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(server_ip))]),
                critical=False,
            )
        cert = builder.sign(self._key, hashes.SHA256())
        files = CertFiles(
            cert=self.folder / f"{common_name}.pem", key=self.folder / f"{common_name}.key"
        )
        files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, files.key)
        return files

    def revocation_list(self, revoked: list[Path]) -> Path:
        """A CRL (PEM) revoking the certificates in `revoked`."""
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self._cert.subject)
            .last_update(now - dt.timedelta(minutes=1))
            .next_update(now + dt.timedelta(days=1))
        )
        for path in revoked:
            serial = x509.load_pem_x509_certificate(path.read_bytes()).serial_number
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(now - dt.timedelta(minutes=1))
                .build()
            )
        crl = self.folder / f"{self.name}-{len(revoked)}.crl"
        crl.write_bytes(
            builder.sign(self._key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
        )
        return crl


def free_loopback_address() -> tuple[str, int]:
    """A random 127.0.0.x address (x >= 2) and a port free on it."""
    for _ in range(50):
        host = f"127.0.0.{random.randint(2, 250)}"
        with socket.socket() as sock:
            try:
                sock.bind((host, 0))
            except OSError:
                continue
            return host, sock.getsockname()[1]
    raise RuntimeError("no free loopback address")


class MosquittoBroker:
    """One real broker with mutual TLS on a loopback address; restartable, with its own log."""

    def __init__(
        self,
        folder: Path,
        name: str,
        ca: CertificateAuthority,
        certificate_ip: str | None = None,
    ) -> None:
        """`certificate_ip`: the address the server certificate names (default: its own)."""
        self.folder = folder / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.host, self.port = free_loopback_address()
        self.ca = ca
        self.server = ca.issue(f"{name}-server", server_ip=certificate_ip or self.host)
        self.log = self.folder / "mosquitto.log"
        self.config = self.folder / "mosquitto.conf"
        self.config.write_text(
            "\n".join(
                [
                    "user root",
                    "per_listener_settings false",
                    "allow_anonymous false",
                    f"log_dest file {self.log}",
                    "log_type all",
                    "log_timestamp true",
                    "persistence true",
                    f"persistence_location {self.folder}/",
                    f"listener {self.port} {self.host}",
                    f"cafile {ca.cert}",
                    f"certfile {self.server.cert}",
                    f"keyfile {self.server.key}",
                    "require_certificate true",
                    "use_identity_as_username true",
                    "tls_version tlsv1.2",
                    "",
                ]
            )
        )
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtts://{self.host}:{self.port}"

    def start(self) -> None:
        """Start and wait until the log says it is listening.

        Readiness is read from the log, not probed with a TCP connect: a probe would itself be
        a connection, and tests count connections to prove that nothing reached a broker.
        """
        runs_before = self._runs_logged()
        self._process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode() if self._process.stderr else ""
                raise RuntimeError(f"mosquitto {self.name} exited: {err} {self.log_text()}")
            if self._runs_logged() > runs_before:
                return
            time.sleep(0.05)
        raise RuntimeError(f"mosquitto {self.name} did not listen on {self.host}:{self.port}")

    def stop(self) -> None:
        """SIGTERM: Mosquitto saves its persistence file and exits."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def _runs_logged(self) -> int:
        """How many times the log says "mosquitto version ... running" (listeners are open)."""
        return sum(
            1
            for line in self.log_text().splitlines()
            if "mosquitto version" in line and line.endswith(" running")
        )

    def connection_count(self) -> int:
        """TCP connections the broker accepted (before any TLS or MQTT)."""
        return self.log_text().count("New connection from")

    def clients_connected(self, client_id: str) -> int:
        return sum(
            1
            for line in self.log_text().splitlines()
            if "New client connected" in line and f" as {client_id} " in line
        )


@dataclass
class Received:
    topic: str
    document: dict[str, Any]
    properties: Any


@dataclass
class AgencySubscriber:
    """The agency's side: subscribes to a unit's topics on its own broker with a client cert.

    Keeps its session across broker restarts (clean_start False, long session expiry) so that
    QoS 1 messages published while it was away are delivered when it returns.
    """

    broker: MosquittoBroker
    identity: str
    topic_filter: str = "alpr/v1/#"
    messages: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        files = self.broker.ca.issue(self.identity)
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.identity,
            protocol=mqtt.MQTTv5,
        )
        context = ssl.create_default_context(cafile=str(self.broker.ca.cert))
        context.load_cert_chain(str(files.cert), str(files.key))
        self.client.tls_set_context(context)
        self.client.reconnect_delay_set(0.2, 1)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self._subscribed.set()

    def start(self) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600
        self.client.connect(
            self.broker.host, self.broker.port, clean_start=False, properties=properties
        )
        self.client.loop_start()
        assert self._subscribed.wait(10), f"{self.identity} could not subscribe"

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()

    def _on_connect(self, client: mqtt.Client, *args: Any) -> None:
        client.subscribe(self.topic_filter, qos=1)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(
                Received(message.topic, json.loads(message.payload), message.properties)
            )

    def of_schema(self, schema: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m.document for m in self.messages if m.document.get("schema") == schema]

    def wait_for(self, predicate: Callable[[AgencySubscriber], bool], timeout: float = 20) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.05)
        return predicate(self)


@pytest.fixture
def certificate_authority(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority(tmp_path / "pki", "agencies")


@pytest.fixture
def broker_factory(
    tmp_path: Path, certificate_authority: CertificateAuthority
) -> Iterator[Callable[..., MosquittoBroker]]:
    """`make(name, ca=None, certificate_ip=None)` starts a broker (with the shared test CA
    unless given another; its certificate names its own address unless told otherwise)."""
    started: list[MosquittoBroker] = []

    def make(
        name: str, ca: CertificateAuthority | None = None, certificate_ip: str | None = None
    ) -> MosquittoBroker:
        broker = MosquittoBroker(
            tmp_path / "brokers", name, ca or certificate_authority, certificate_ip
        )
        broker.start()
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.stop()


@pytest.fixture
def subscriber_factory() -> Iterator[Callable[..., AgencySubscriber]]:
    started: list[AgencySubscriber] = []

    def make(broker: MosquittoBroker, identity: str) -> AgencySubscriber:
        subscriber = AgencySubscriber(broker, identity)
        subscriber.start()
        started.append(subscriber)
        return subscriber

    yield make
    for subscriber in started:
        subscriber.stop()


def agency_toml(
    broker: MosquittoBroker,
    agency_id: str,
    unit_id: str = "unit-1",
    *,
    ori: str = "CA0010900",
    receives: tuple[str, ...] = ("reads", "hits", "heartbeat"),
    expires: str = "2099-12-31",
    ca_cert: Path | None = None,
    extra: str = "",
) -> str:
    """An [[agency]] table for `broker`, with a client certificate for the unit issued by the
    broker's CA (`ca_cert` overrides the CA the unit trusts, e.g. to test a wrong one)."""
    unit = broker.ca.issue(f"{unit_id}-for-{agency_id}")
    lines = [
        "[[agency]]",
        f'id = "{agency_id}"',
        f'name = "{agency_id} police department"',
        f'ori = "{ori}"',
        'kind = "city_police"',
        'state = "CA"',
        'purpose = "hotlist alerts under a test agreement"',
        f'broker = "{broker.url}"',
        f'ca_cert = "{ca_cert or broker.ca.cert}"',
        f'client_cert = "{unit.cert}"',
        f'client_key = "{unit.key}"',
        f"receives = {json.dumps(list(receives))}",
        f"expires = {expires}",
        extra,
    ]
    return "\n".join(lines) + "\n"


@dataclass
class AgencyPair:
    """Two allow-listed agencies, each with its own broker and a dispatch subscriber."""

    brokers: dict[str, MosquittoBroker]
    allowlist: str
    inbox: dict[str, AgencySubscriber]


@pytest.fixture
def agency_pair(broker_factory, subscriber_factory) -> AgencyPair:
    """oakland-pd and alameda-so (reads, hits, heartbeat), listening on their brokers."""
    brokers = {"oakland-pd": broker_factory("oakland"), "alameda-so": broker_factory("alameda")}
    allowlist = agency_toml(brokers["oakland-pd"], "oakland-pd") + agency_toml(
        brokers["alameda-so"], "alameda-so", ori="CA0010000"
    )
    inbox = {
        agency: subscriber_factory(broker, f"{agency}-dispatch")
        for agency, broker in brokers.items()
    }
    return AgencyPair(brokers, allowlist, inbox)
