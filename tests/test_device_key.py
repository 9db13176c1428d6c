"""The unit's Ed25519 device key signs every published audit chain head; agencies pin its public
key (`alpr-edge keys device`), and the private key stays in the data_dir, owner-only."""

from __future__ import annotations

import json
import stat

from edge.audit.signing import DEVICE_KEY_FILE, device_key, head_signature_is_valid
from edge.cli import main
from edge.config import SharingConfig
from edge.share.service import Sharing

AGENCIES = (
    "demo = true\n[[agency]]\n"
    'id = "oakland-pd"\nname = "Oakland PD"\nori = "CA0010900"\nkind = "city_police"\n'
    'state = "CA"\npurpose = "MOU 14"\nbroker = "mqtt://127.0.0.1:9"\n'
    'receives = ["hits"]\nexpires = 2099-01-01\n'
)


def test_published_head_is_signed_by_the_device_key_and_a_changed_head_fails(tmp_path):
    agencies = tmp_path / "agencies.toml"
    agencies.write_text(AGENCIES)
    settings = SharingConfig(agencies_file=agencies, data_dir=tmp_path / "share", unit_id="unit-1")
    sharing = Sharing(settings)
    sharing.reload_allowlist()
    assert sharing.publish_audit_head()
    [queued] = [q for q in sharing.outbox.queued("oakland-pd") if q.kind == "audit_head"]
    sharing.close()
    head = json.loads(queued.payload)["audit"]
    key = device_key(settings.data_dir)
    assert head["key_id"] == key.key_id
    assert head_signature_is_valid(
        "unit-1", head["seq"], head["hash"], head["signature"], key.public_text
    )
    assert not head_signature_is_valid(
        "unit-1", head["seq"] - 1, head["hash"], head["signature"], key.public_text
    )
    assert not head_signature_is_valid(
        "unit-2", head["seq"], head["hash"], head["signature"], key.public_text
    )
    mode = stat.S_IMODE((settings.data_dir / DEVICE_KEY_FILE).stat().st_mode)
    assert mode == 0o600


def test_keys_device_prints_the_same_public_key_every_time(tmp_path, capsys):
    config = tmp_path / "edge.toml"
    config.write_text(
        '[sharing]\nagencies_file = "agencies.toml"\ndata_dir = "share"\nunit_id = "u1"\n'
    )
    assert main(["keys", "device", "--config", str(config)]) == 0
    first = capsys.readouterr().out.splitlines()
    assert main(["keys", "device", "--config", str(config)]) == 0
    assert capsys.readouterr().out.splitlines() == first
    assert first[0] == device_key(tmp_path / "share").public_text
    assert "PRIVATE" not in "".join(first)
