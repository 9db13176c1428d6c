"""The sharing allow-list: who may receive data from this unit, parsed and checked once.

California Civil Code 1798.90.55(b) lets a public agency share ALPR data only with another
public agency; the Attorney General (Bulletin 2023-DLE-06) reads that to exclude federal and
out-of-state agencies and private entities. Every entry must therefore prove it is a California
public agency reached over verified, mutual TLS. Anything doubtful refuses the whole file: a
unit that starts without a valid allow-list shares nothing (deny by default), and a refused
edit can only narrow the list a running unit has in force (`narrow_allowlist`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edge.errors import ConfigError
from edge.tomlfile import load_toml, load_toml_with_bytes

# The one list of federal domains whose brokers are refused, whatever the entry claims to be.
# A host equal to, or under, any of these is refused. Add domains here, nowhere else.
FEDERAL_DOMAINS: tuple[str, ...] = (
    "dhs.gov",  # Homeland Security, parent of ICE, CBP and HSI
    "ice.gov",  # Immigration and Customs Enforcement (ERO, HSI)
    "cbp.gov",  # Customs and Border Protection, Border Patrol
    "uscis.gov",  # Citizenship and Immigration Services
    "tsa.gov",
    "fema.gov",
    "cisa.gov",
    "secretservice.gov",
    "fbi.gov",  # Justice
    "usdoj.gov",
    "justice.gov",
    "dea.gov",
    "atf.gov",
    "usmarshals.gov",
    "bop.gov",
    "treasury.gov",  # Treasury (IRS-CI)
    "irs.gov",
    "uspis.gov",  # Postal Inspection Service
    "usps.gov",
    "state.gov",  # Diplomatic Security
    "doi.gov",  # Interior (Park Police, land-management law enforcement)
    "nps.gov",
    "fws.gov",
    "fed.us",  # e.g. fs.fed.us, the Forest Service
    "mil",  # the armed forces, including military police
)

# California public-agency kinds (Civ. Code 1798.90.5(f): the state, a city or county, or an
# agency or political subdivision of one).
PUBLIC_AGENCY_KINDS: dict[str, str] = {
    "city_police": "a city police department",
    "county_sheriff": "a county sheriff's office",
    "state_agency": "a state agency (e.g. CHP, California DOJ)",
    "district_attorney": "a county district attorney",
    "county_probation": "a county probation department",
    "school_police": "a school or community-college district police department",
    "university_police": "a UC or CSU police department",
    "transit_police": "a transit district police department",
    "port_police": "a harbor, port or airport police department",
    "city": "a city or town government",
    "county": "a county government",
}

# Kinds that name an entity the law bars, each with the reason given in the error.
BARRED_KINDS: dict[str, str] = {
    "federal": "federal agencies are not California public agencies",
    "federal_agency": "federal agencies are not California public agencies",
    "out_of_state": "out-of-state agencies are not California public agencies",
    "private": "private entities may not receive ALPR data",
    "private_company": "private entities may not receive ALPR data",
    "vendor": "private entities may not receive ALPR data",
}

RECEIVABLE = ("reads", "hits", "heartbeat")
CALIFORNIA = "CA"
DEFAULT_MQTTS_PORT = 8883
DEFAULT_MQTT_PORT = 1883

_ORI_PATTERN = re.compile(r"^[A-Z]{2}[0-9A-Z]{7}$")
_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_LAW = "Civ. Code 1798.90.55(b)"

_ENTRY_FIELDS: dict[str, str] = {
    "id": "short unique id, lowercase letters, digits, '-' and '_'",
    "name": "the agency's name",
    "ori": "the agency's 9-character ORI, starting with CA",
    "kind": "a California public-agency kind",
    "state": "must be CA",
    "purpose": "the purpose of the data-sharing agreement (logged with every message)",
    "broker": "mqtts://host:port of the agency's broker",
    "ca_cert": "CA certificate that signs the broker's server certificate",
    "client_cert": "this unit's client certificate for that broker",
    "client_key": "the key of the client certificate",
    "receives": "what the agency receives: reads, hits, heartbeat",
    "expires": "the day the agreement ends (TOML date); nothing is sent from that day on",
    "query_key": "optional: base64 of the agency's raw 32-byte Ed25519 query public key",
    "crl": "optional: the broker CA's revocation list (PEM); a revoked broker cert is refused",
}
_TOP_LEVEL_FIELDS = {"demo", "agency"}
_TLS_FILES = ("ca_cert", "client_cert", "client_key")

# Records one problem of the entry being parsed: (key, reason).
_Report = Callable[[str, str], None]


@dataclass(frozen=True)
class Broker:
    """Where an agency's MQTT broker listens; `tls` is False only for demo loopback brokers."""

    host: str
    port: int
    tls: bool

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True)
class Agency:
    """One allow-listed California public agency and how to reach it."""

    id: str
    name: str
    ori: str
    kind: str
    state: str
    purpose: str
    broker: Broker
    ca_cert: Path | None
    client_cert: Path | None
    client_key: Path | None
    receives: frozenset[str]
    expires: date
    query_key: bytes | None = None
    crl: Path | None = None

    def is_active(self, today: date) -> bool:
        """An agreement runs up to the day before `expires`."""
        return today < self.expires


@dataclass(frozen=True)
class AllowList:
    """The validated allow-list in force and the SHA-256 of the file it came from."""

    source: str
    sha256: str
    demo: bool
    agencies: tuple[Agency, ...]
    # The SHA-256 of a refused file that narrowed this list (edge.config.allowlist
    # .narrow_allowlist); None when the list is the file `sha256` names, as it stands.
    narrowed_by: str | None = None
    # The file's exact bytes (what `sha256` digests), kept for the audit bundle's versions.
    raw: bytes | None = field(default=None, compare=False, repr=False)

    def get(self, agency_id: str) -> Agency | None:
        return next((a for a in self.agencies if a.id == agency_id), None)

    def active(self, today: date) -> tuple[Agency, ...]:
        return tuple(a for a in self.agencies if a.is_active(today))

    def expired(self, today: date) -> tuple[Agency, ...]:
        return tuple(a for a in self.agencies if not a.is_active(today))

    def __iter__(self) -> Iterator[Agency]:
        return iter(self.agencies)


EMPTY_ALLOWLIST = AllowList(source="(none)", sha256="", demo=False, agencies=())


class AllowListError(ConfigError):
    """The allow-list was refused; `problems` holds every rule it breaks, each naming its entry."""

    def __init__(self, file: str | Path, problems: list[ConfigError]) -> None:
        self.problems = tuple(problems)
        first = problems[0]
        reason = first.reason
        if len(problems) > 1:
            others = "; ".join(f"{p.key}: {p.reason}" for p in problems[1:])
            reason = f"{reason} (and {len(problems) - 1} more: {others})"
        super().__init__(file, first.key, reason)


def load_allowlist(path: str | Path) -> AllowList:
    """Read and validate the allow-list file; raise ConfigError when it cannot be used at all."""
    path = Path(path)
    data, raw = load_toml_with_bytes(path)
    parsed = parse_allowlist(data, path, sha256=hashlib.sha256(raw).hexdigest())
    return replace(parsed, raw=raw)


def check_allowlist(path: str | Path) -> list[ConfigError]:
    """Every problem in the file (empty when valid); for `alpr-edge agencies check`."""
    try:
        load_allowlist(path)
    except AllowListError as exc:
        return list(exc.problems)
    except ConfigError as exc:
        return [exc]
    return []


def parse_allowlist(data: Mapping[str, Any], file: str | Path, sha256: str) -> AllowList:
    """Validate parsed TOML; relative certificate paths are taken from the file's folder."""
    file = Path(file)
    problems: list[ConfigError] = []
    for key in sorted(set(data) - _TOP_LEVEL_FIELDS):
        problems.append(ConfigError(file, key, "unknown key (expected 'demo' and [[agency]])"))
    demo = data.get("demo", False)
    if not isinstance(demo, bool):
        problems.append(ConfigError(file, "demo", "must be true or false"))
        demo = False
    entries = data.get("agency", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        problems.append(ConfigError(file, "agency", "must be an array of tables ([[agency]])"))
        entries = []
    agencies: list[Agency] = []
    for index, entry in enumerate(entries):
        agency, entry_problems = _parse_entry(entry, index, file, demo)
        problems.extend(entry_problems)
        if agency is not None:
            agencies.append(agency)
    problems.extend(_duplicates(agencies, file))
    if problems:
        raise AllowListError(file, problems)
    return AllowList(source=str(file), sha256=sha256, demo=demo, agencies=tuple(agencies))


def _entry_label(entry: Mapping[str, Any], index: int) -> str:
    agency_id = entry.get("id")
    named = f" '{agency_id}'" if isinstance(agency_id, str) and agency_id else ""
    return f"agency[{index}]{named}"


def _parse_entry(
    entry: Mapping[str, Any], index: int, file: Path, demo: bool
) -> tuple[Agency | None, list[ConfigError]]:
    label = _entry_label(entry, index)
    problems: list[ConfigError] = []

    def problem(key: str, reason: str) -> None:
        problems.append(ConfigError(file, f"{label}.{key}", reason))

    for key in sorted(set(entry) - set(_ENTRY_FIELDS)):
        problem(key, f"unknown key (known: {', '.join(_ENTRY_FIELDS)})")
    optional = {"query_key", "crl", *_TLS_FILES}
    for key in _ENTRY_FIELDS:
        if key not in entry and key not in optional:
            problem(key, f"missing ({_ENTRY_FIELDS[key]})")
    text = {k: v for k, v in entry.items() if isinstance(v, str)}
    for key in set(entry) & (set(_ENTRY_FIELDS) - {"receives", "expires"}):
        if key not in text or not text[key].strip():
            problem(key, "must be a non-empty string")

    agency_id = text.get("id", "")
    if agency_id and not _ID_PATTERN.match(agency_id):
        problem("id", "use lowercase letters, digits, '-' and '_' (at most 63)")
    _check_california(text, problem)
    broker = _parse_broker(text.get("broker", ""), demo, problem) if "broker" in text else None
    certs = _certificate_paths(entry, file.parent, broker, problem)
    receives = _parse_receives(entry.get("receives"), problem) if "receives" in entry else None
    expires = entry.get("expires")
    if "expires" in entry and (not isinstance(expires, date) or isinstance(expires, datetime)):
        problem("expires", "must be a TOML date such as 2027-06-30")
        expires = None
    query_key = _parse_query_key(text["query_key"], problem) if "query_key" in text else None

    if problems or broker is None or receives is None or not isinstance(expires, date):
        return None, problems
    agency = Agency(
        id=agency_id,
        name=text["name"],
        ori=text["ori"],
        kind=text["kind"],
        state=text["state"],
        purpose=text["purpose"],
        broker=broker,
        ca_cert=certs.get("ca_cert"),
        client_cert=certs.get("client_cert"),
        client_key=certs.get("client_key"),
        receives=receives,
        expires=expires,
        query_key=query_key,
        crl=certs.get("crl"),
    )
    return agency, problems


def _check_california(text: Mapping[str, str], problem: _Report) -> None:
    state = text.get("state")
    if state is not None and state.strip().upper() != CALIFORNIA:
        problem("state", f"'{state}' is not California: only California agencies ({_LAW})")
    ori = text.get("ori")
    if ori is not None:
        if not _ORI_PATTERN.match(ori):
            problem("ori", f"'{ori}' is not a 9-character ORI (two letters, seven characters)")
        elif not ori.startswith(CALIFORNIA):
            problem("ori", f"'{ori}' is not a California ORI (must start with CA; {_LAW})")
    kind = text.get("kind")
    if kind is not None:
        if kind in BARRED_KINDS:
            problem("kind", f"'{kind}' is refused: {BARRED_KINDS[kind]} ({_LAW})")
        elif kind not in PUBLIC_AGENCY_KINDS:
            problem(
                "kind",
                f"'{kind}' is not a California public-agency kind "
                f"(one of: {', '.join(PUBLIC_AGENCY_KINDS)})",
            )


def federal_domain_of(host: str) -> str | None:
    """The federal domain `host` falls under, or None."""
    host = host.lower().rstrip(".")
    return next((d for d in FEDERAL_DOMAINS if host == d or host.endswith("." + d)), None)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_broker_url(url: str) -> Broker:
    """`mqtts://host:port` (or `mqtt://`) as a Broker; the one reading of a broker URL, for the
    allow-list and the agency-side query client. Raises ValueError naming what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"'{url}' is not a valid URL: {exc}") from None
    host = parts.hostname or ""
    if parts.scheme not in ("mqtts", "mqtt") or not host:
        raise ValueError(f"'{url}' must look like mqtts://host:port")
    if parts.path not in ("", "/") or parts.query or parts.username or parts.password:
        raise ValueError(f"'{url}': only scheme, host and port are allowed")
    tls = parts.scheme == "mqtts"
    return Broker(
        host=host, port=port or (DEFAULT_MQTTS_PORT if tls else DEFAULT_MQTT_PORT), tls=tls
    )


def _parse_broker(url: str, demo: bool, problem: _Report) -> Broker | None:
    try:
        broker = parse_broker_url(url)
    except ValueError as exc:
        problem("broker", str(exc))
        return None
    host, tls = broker.host, broker.tls
    federal = federal_domain_of(host)
    if federal:
        problem("broker", f"host '{host}' is under the federal domain '{federal}' ({_LAW})")
        return None
    if not tls and not (demo and is_loopback(host)):
        problem(
            "broker",
            f"plain mqtt:// is refused: only mqtts:// (verified TLS), except to a loopback "
            f"address when the file says demo = true (host '{host}', demo = {str(demo).lower()})",
        )
        return None
    return broker


def _certificate_paths(
    entry: Mapping[str, Any], base: Path, broker: Broker | None, problem: _Report
) -> dict[str, Path]:
    paths: dict[str, Path] = {}
    for key in (*_TLS_FILES, "crl"):
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            if key in _TLS_FILES and broker is not None and broker.tls:
                problem(key, f"missing: mutual TLS needs it ({_ENTRY_FIELDS[key]})")
            continue
        path = Path(value).expanduser()
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            problem(key, f"file not found: {path}")
            continue
        paths[key] = path
    return paths


def _parse_receives(value: Any, problem: _Report) -> frozenset[str] | None:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        problem("receives", f"must be a non-empty list drawn from {list(RECEIVABLE)}")
        return None
    unknown = sorted(set(value) - set(RECEIVABLE))
    if unknown:
        problem("receives", f"unknown {unknown}; choose from {list(RECEIVABLE)}")
        return None
    return frozenset(value)


def _parse_query_key(value: str, problem: _Report) -> bytes | None:
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        problem("query_key", "must be base64 of a raw 32-byte Ed25519 public key")
        return None
    return key


def _duplicates(agencies: Iterable[Agency], file: Path) -> list[ConfigError]:
    problems: list[ConfigError] = []
    ids: set[str] = set()
    brokers: dict[tuple[str, int], str] = {}
    for agency in agencies:
        if agency.id in ids:
            problems.append(ConfigError(file, f"agency '{agency.id}'.id", "duplicate id"))
        ids.add(agency.id)
        where = (agency.broker.host.lower(), agency.broker.port)
        if where in brokers:
            problems.append(
                ConfigError(
                    file,
                    f"agency '{agency.id}'.broker",
                    f"duplicate broker {agency.broker.url}: already used by '{brokers[where]}'",
                )
            )
        brokers.setdefault(where, agency.id)
    return problems


@dataclass(frozen=True)
class Narrowing:
    """What a refused allow-list file took away from the list in force, agency by agency."""

    allowlist: AllowList
    # agency id -> what was taken away and why ("removed: ...", "receives ... -> ...").
    changes: dict[str, str]


def narrow_allowlist(in_force: AllowList, path: str | Path) -> Narrowing:
    """The list in force, cut down to what a refused (invalid) file can still be read to allow.

    An invalid edit may only narrow: each agency in force keeps what the new file, read entry by
    entry, still grants it, and nothing else. It is removed when the file drops its entry, has
    two entries with its id, or changes anything but `receives`/`expires` (another broker,
    other certificates, a new ORI...) or leaves it with an invalid field; `receives` becomes
    the kinds both lists grant (a misspelt `recieves` grants none), `expires` the earlier date.
    Nothing is added or widened. A file that cannot be read as TOML at all (or is missing) can
    be trusted for nothing: everything is removed and nothing is shared (fail closed).
    """
    path = Path(path)
    try:
        data = load_toml(path)
    except ConfigError as exc:
        changes = {a.id: f"removed: the file cannot be read ({exc.reason})" for a in in_force}
        return Narrowing(replace(in_force, agencies=(), narrowed_by=_file_digest(path)), changes)
    demo = data.get("demo") is True and in_force.demo
    raw_entries = data.get("agency", [])
    entries = (
        [e for e in raw_entries if isinstance(e, dict)] if isinstance(raw_entries, list) else []
    )
    kept: list[Agency] = []
    changes: dict[str, str] = {}
    for agency in in_force:
        matching = [(i, e) for i, e in enumerate(entries) if e.get("id") == agency.id]
        if not matching:
            changes[agency.id] = "removed: no entry for it in the new file"
            continue
        if len(matching) > 1:
            changes[agency.id] = "removed: the new file has several entries with its id"
            continue
        index, entry = matching[0]
        narrowed, why = _narrow_entry(agency, entry, index, path, demo)
        if narrowed is None:
            changes[agency.id] = f"removed: {why}"
            continue
        if narrowed != agency:
            changes[agency.id] = why
        kept.append(narrowed)
    narrowed_list = replace(
        in_force, demo=demo, agencies=tuple(kept), narrowed_by=_file_digest(path)
    )
    return Narrowing(narrowed_list, changes)


def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


def _narrow_entry(
    agency: Agency, entry: Mapping[str, Any], index: int, file: Path, demo: bool
) -> tuple[Agency | None, str]:
    """`agency` as far as `entry` still allows it, with what changed (or why it is removed)."""
    raw_receives = entry.get("receives")
    granted = (
        {v for v in raw_receives if isinstance(v, str)} if isinstance(raw_receives, list) else set()
    )
    receives = frozenset(agency.receives & granted)
    if not receives:
        return None, "its entry grants none of what it received (`receives` missing or invalid)"
    expires = entry.get("expires")
    if not isinstance(expires, date) or isinstance(expires, datetime):
        return None, "its `expires` is missing or not a TOML date"
    # Parse the entry as the file states it, with only the kinds kept and unknown keys left out
    # (a misspelt key grants nothing, so it cannot widen): any other problem removes it.
    cleaned = {k: v for k, v in entry.items() if k in _ENTRY_FIELDS}
    cleaned["receives"] = sorted(receives)
    parsed, problems = _parse_entry(cleaned, index, file, demo)
    if parsed is None:
        return None, "its entry is invalid: " + "; ".join(f"{p.key}: {p.reason}" for p in problems)
    if replace(parsed, receives=agency.receives, expires=agency.expires) != agency:
        differ = [
            f.name
            for f in fields(Agency)
            if getattr(parsed, f.name) != getattr(agency, f.name)
            and f.name not in ("receives", "expires")
        ]
        return None, f"its entry changes {', '.join(differ)}: not applied until the file is valid"
    narrowed = replace(agency, receives=receives, expires=min(expires, agency.expires))
    what = []
    if receives != agency.receives:
        what.append(f"receives {sorted(agency.receives)} -> {sorted(receives)}")
    if narrowed.expires != agency.expires:
        what.append(f"expires {agency.expires} -> {narrowed.expires}")
    return narrowed, "; ".join(what)
