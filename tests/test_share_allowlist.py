import hashlib
import shutil
from datetime import date
from pathlib import Path

import pytest
import tomlkit
from conftest import REPO_ROOT

from edge.config.allowlist import (
    FEDERAL_DOMAINS,
    AllowListError,
    check_allowlist,
    load_allowlist,
    narrow_allowlist,
)
from edge.errors import ConfigError


def entry(**overrides):
    base = {
        "id": "oakland-pd",
        "name": "Oakland Police Department",
        "ori": "CA0010900",
        "kind": "city_police",
        "state": "CA",
        "purpose": "hotlist alerts under MOU 14",
        "broker": "mqtts://mqtt.oaklandca.gov:8883",
        "ca_cert": "ca.pem",
        "client_cert": "unit.pem",
        "client_key": "unit.key",
        "receives": ["reads", "hits"],
        "expires": date(2027, 6, 30),
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def write(tmp_path: Path, *entries, demo=None) -> Path:
    for name in ("ca.pem", "unit.pem", "unit.key"):
        (tmp_path / name).write_text("placeholder")
    doc = tomlkit.document()
    if demo is not None:
        doc["demo"] = demo
    doc["agency"] = list(entries)
    path = tmp_path / "agencies.toml"
    path.write_text(tomlkit.dumps(doc))
    return path


def refusal(path: Path) -> AllowListError:
    with pytest.raises(AllowListError) as caught:
        load_allowlist(path)
    return caught.value


def test_valid_entry_becomes_a_typed_agency_with_certificate_paths_from_the_files_folder(
    tmp_path,
):
    path = write(tmp_path, entry())
    allowlist = load_allowlist(path)
    agency = allowlist.get("oakland-pd")
    assert agency is not None
    assert agency.broker.host == "mqtt.oaklandca.gov" and agency.broker.port == 8883
    assert agency.broker.tls
    assert agency.ca_cert == tmp_path / "ca.pem"
    assert agency.receives == {"reads", "hits"}
    assert allowlist.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_example_config_is_valid_once_its_certificates_exist(tmp_path):
    example = tmp_path / "agencies.toml"
    shutil.copy(REPO_ROOT / "config" / "agencies.toml", example)
    for agency in ("oakland-pd", "alameda-so"):
        folder = tmp_path / "certs" / agency
        folder.mkdir(parents=True)
        for name in ("ca.pem", "unit.pem", "unit.key"):
            (folder / name).write_text("placeholder")
    allowlist = load_allowlist(example)
    assert [a.id for a in allowlist] == ["oakland-pd", "alameda-so"]
    assert not allowlist.demo


@pytest.mark.parametrize(
    ("overrides", "key", "words"),
    [
        ({"state": "NV"}, "state", "not California"),
        ({"ori": "NV0020000"}, "ori", "not a California ORI"),
        ({"ori": "CA12"}, "ori", "9-character ORI"),
        ({"kind": "federal"}, "kind", "federal agencies"),
        ({"kind": "out_of_state"}, "kind", "out-of-state"),
        ({"kind": "private"}, "kind", "private entities"),
        ({"kind": "fusion_center"}, "kind", "not a California public-agency kind"),
        ({"broker": "mqtts://alpr.ice.gov:8883"}, "broker", "federal domain 'ice.gov'"),
        ({"broker": "mqtts://ero.sfo.dhs.gov"}, "broker", "federal domain 'dhs.gov'"),
        ({"broker": "mqtt://mqtt.oaklandca.gov:1883"}, "broker", "plain mqtt://"),
        ({"broker": "https://mqtt.oaklandca.gov"}, "broker", "mqtts://host:port"),
        ({"client_key": "missing.key"}, "client_key", "file not found"),
        ({"crl": "missing.crl"}, "crl", "file not found"),
        ({"ca_cert": None}, "ca_cert", "mutual TLS"),
        ({"receives": ["everything"]}, "receives", "unknown"),
        ({"expires": "soon"}, "expires", "TOML date"),
        ({"recieves": ["reads"]}, "recieves", "unknown key"),
        ({"purpose": None}, "purpose", "missing"),
        ({"query_key": "not-a-key"}, "query_key", "Ed25519"),
    ],
)
def test_entry_breaking_a_rule_is_refused_naming_the_entry_and_the_rule(
    tmp_path, overrides, key, words
):
    error = refusal(
        write(
            tmp_path, entry(), entry(**({"id": "sfpd", "broker": "mqtts://b.sf.gov"} | overrides))
        )
    )
    assert error.key == f"agency[1] 'sfpd'.{key}"
    assert words in error.reason
    assert error.exit_code == 2
    assert str(error).startswith(str(tmp_path / "agencies.toml"))


def test_every_federal_domain_is_refused_however_deep_the_host(tmp_path):
    for domain in FEDERAL_DOMAINS:
        error = refusal(write(tmp_path, entry(broker=f"mqtts://a.b.{domain}:8883")))
        assert f"federal domain '{domain}'" in error.reason


def test_a_california_lookalike_domain_is_not_mistaken_for_a_federal_one(tmp_path):
    load_allowlist(write(tmp_path, entry(broker="mqtts://mqtt.nice.gov.example.org")))
    load_allowlist(write(tmp_path, entry(broker="mqtts://alpr.dojice.ca.gov")))


def test_plain_mqtt_is_accepted_only_to_loopback_in_demo_mode(tmp_path):
    demo_entry = entry(
        broker="mqtt://127.0.0.1:1883", ca_cert=None, client_cert=None, client_key=None
    )
    allowlist = load_allowlist(write(tmp_path, demo_entry, demo=True))
    assert not allowlist.get("oakland-pd").broker.tls
    assert "plain mqtt://" in refusal(write(tmp_path, demo_entry)).reason
    remote = entry(broker="mqtt://10.0.0.5:1883", ca_cert=None, client_cert=None, client_key=None)
    assert "plain mqtt://" in refusal(write(tmp_path, remote, demo=True)).reason


def test_duplicate_ids_and_brokers_are_refused(tmp_path):
    error = refusal(write(tmp_path, entry(), entry(name="again")))
    kinds = {p.reason.split(" ")[0] for p in error.problems}
    assert kinds == {"duplicate"}
    assert any("already used by 'oakland-pd'" in p.reason for p in error.problems)
    same_broker = entry(id="other", broker="mqtts://MQTT.oaklandca.gov:8883")
    assert "duplicate broker" in refusal(write(tmp_path, entry(), same_broker)).reason


def test_expired_entry_stays_listed_but_is_not_active(tmp_path):
    allowlist = load_allowlist(write(tmp_path, entry(expires=date(2026, 1, 1))))
    assert [a.id for a in allowlist.expired(date(2026, 1, 1))] == ["oakland-pd"]
    assert allowlist.active(date(2026, 1, 1)) == ()
    assert [a.id for a in allowlist.active(date(2025, 12, 31))] == ["oakland-pd"]


def test_check_lists_every_problem_and_missing_file_is_an_error(tmp_path):
    path = write(tmp_path, entry(state="TX", kind="private"))
    problems = check_allowlist(path)
    assert {p.key for p in problems} == {
        "agency[0] 'oakland-pd'.state",
        "agency[0] 'oakland-pd'.kind",
    }
    missing = check_allowlist(tmp_path / "absent.toml")
    assert len(missing) == 1 and isinstance(missing[0], ConfigError)
    assert "file not found" in missing[0].reason


BAD = entry(id="hsi-sf", kind="federal", broker="mqtts://alpr.hsi.dhs.gov:8883")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # (the oakland-pd entry in the refused file, what it keeps: receives or None = removed)
        ({}, {"hits", "reads"}),
        ({"receives": ["hits", "heartbeat"]}, {"hits"}),  # narrowed; heartbeat never added
        ({"receives": ["hits", "raeds"]}, {"hits"}),  # a misspelt kind grants nothing
        ({"receives": None, "recieves": ["reads", "hits"]}, None),  # the typo
        ({"expires": "2027-06-30"}, None),  # not a TOML date
        ({"broker": "mqtts://other.oaklandca.gov:8883"}, None),  # another broker
        ({"ori": "CA0010901"}, None),  # anything else changed
        ({"state": "NV"}, None),
    ],
)
def test_a_refused_file_only_narrows_each_agency_it_still_lists(tmp_path, change, expected):
    in_force = load_allowlist(write(tmp_path, entry()))
    narrowed = narrow_allowlist(in_force, write(tmp_path, entry(**change), BAD)).allowlist
    agency = narrowed.get("oakland-pd")
    assert (agency.receives if agency else None) == expected
    assert narrowed.get("hsi-sf") is None and narrowed.narrowed_by is not None


def test_a_refused_file_brings_an_earlier_expiry_and_never_a_later_one(tmp_path):
    in_force = load_allowlist(write(tmp_path, entry()))
    sooner = narrow_allowlist(in_force, write(tmp_path, entry(expires=date(2026, 1, 1)), BAD))
    later = narrow_allowlist(in_force, write(tmp_path, entry(expires=date(2099, 1, 1)), BAD))
    assert sooner.allowlist.get("oakland-pd").expires == date(2026, 1, 1)
    assert later.allowlist.get("oakland-pd").expires == date(2027, 6, 30)
    assert "expires 2027-06-30 -> 2026-01-01" in sooner.changes["oakland-pd"]


def test_a_refused_file_with_two_entries_for_an_agency_or_no_toml_removes_it(tmp_path):
    in_force = load_allowlist(write(tmp_path, entry()))
    twice = narrow_allowlist(in_force, write(tmp_path, entry(), entry()))
    assert twice.allowlist.agencies == () and "several entries" in twice.changes["oakland-pd"]
    (tmp_path / "agencies.toml").write_text("[[agency\n")
    broken = narrow_allowlist(in_force, tmp_path / "agencies.toml")
    assert broken.allowlist.agencies == () and "cannot be read" in broken.changes["oakland-pd"]
    (tmp_path / "agencies.toml").unlink()
    assert narrow_allowlist(in_force, tmp_path / "agencies.toml").allowlist.agencies == ()
