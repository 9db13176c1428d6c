"""`alpr-edge agencies ...`: the allow-list edited in place, comments kept, bad entries refused,
every change in the audit log."""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import REPO_ROOT
from query_support import Agencies

from edge.audit.export import export_rows
from edge.cli import main

HEADER = "# The allow-list of this test unit.\n# Second header line.\n\n"


@pytest.fixture
def files(tmp_path):
    agencies = tmp_path / "agencies.toml"
    text = (
        Agencies()
        .toml()
        .replace(
            '[[agency]]\nid = "chp"',
            '# The CHP agreement\n[[agency]]\nid = "chp"  # highway patrol',
        )
    )
    agencies.write_text(HEADER + text + "\n# End of the list.\n")
    return agencies, tmp_path / "audit.sqlite"


def run(files, *argv: str) -> int:
    agencies, audit = files
    action, *rest = argv
    extra = ["--audit-log", str(audit)] if action in ("add", "remove") else []
    return main(["agencies", action, "--agencies", str(agencies), *extra, *rest])


ADD_LAPD = [
    "add",
    "--id=lapd",
    "--name=Los Angeles Police Department",
    "--ori=CA0194200",
    "--kind=city_police",
    "--purpose=stolen vehicles, MOU LAPD-2026-3",
    "--broker=mqtt://127.0.0.1:18839",
    "--receives=hits,heartbeat",
    "--expires=2027-12-31",
]


def test_add_appends_an_entry_and_keeps_every_comment(files, capsys):
    agencies, _ = files
    before = agencies.read_text()
    assert run(files, *ADD_LAPD) == 0
    after = agencies.read_text()
    assert after.startswith(before.rstrip("\n"))
    assert '[[agency]]\nid = "lapd"' in after and 'receives = ["hits", "heartbeat"]' in after
    assert "# The CHP agreement" in after and 'id = "chp"  # highway patrol' in after
    assert run(files, "show", "lapd") == 0
    assert "Los Angeles Police Department" in capsys.readouterr().out


def test_remove_takes_the_entry_and_its_comment_and_nothing_else(files):
    agencies, _ = files
    before = agencies.read_text()
    assert run(files, "remove", "chp") == 0
    after = agencies.read_text()
    assert "chp" not in after and "# The CHP agreement" not in after
    assert after.startswith(HEADER) and after.endswith("# End of the list.\n")
    assert 'id = "oakland-pd"' in after and 'id = "sfpd"' in after
    assert len(before.splitlines()) - len(after.splitlines()) == 13


@pytest.mark.parametrize(
    ("option", "rule"),
    [
        ("--ori=NY0300000", "not a California ORI"),
        ("--kind=federal", "federal agencies are not California public agencies"),
        ("--broker=mqtts://mqtt.ice.gov:8883", "federal domain 'ice.gov'"),
        ("--broker=mqtt://10.0.0.5:1883", "plain mqtt:// is refused"),
        ("--id=chp", "already in the allow-list"),
    ],
)
def test_entry_the_rules_refuse_is_not_added_and_the_file_is_untouched(files, capsys, option, rule):
    agencies, audit = files
    before = agencies.read_text()
    key = option.split("=")[0]
    argv = [arg for arg in ADD_LAPD if not arg.startswith(key + "=")] + [option]
    assert run(files, *argv) == 2
    assert rule in capsys.readouterr().err
    assert agencies.read_text() == before
    assert not audit.exists() or list(export_rows(audit)) == []


def test_each_change_is_audited_with_who_and_the_diff(files):
    agencies, audit = files
    assert run(files, *ADD_LAPD) == 0
    assert run(files, "remove", "sfpd") == 0
    rows = [r for r in export_rows(audit) if r["event"] == "allowlist_change"]
    assert [r["reason"] for r in rows] == ["add agency lapd", "remove agency sfpd"]
    assert all(r["username"] and r["at"] for r in rows)
    diff = json.loads(rows[1]["details"])["diff"]
    changed = [line for line in diff.splitlines() if line[:1] in "+-"]
    assert '-id = "sfpd"' in changed and not [c for c in changed[2:] if c.startswith("+")]
    # The audit row names the allow-list the change put in force.
    assert rows[1]["allowlist_sha256"] == hashlib.sha256(agencies.read_bytes()).hexdigest()


def test_check_reports_every_problem_with_exit_code_2(files, capsys):
    agencies, _ = files
    text = agencies.read_text().replace('state = "CA"', 'state = "NV"', 1)
    agencies.write_text(text.replace('kind = "city_police"', 'kind = "private"', 2))
    assert run(files, "check") == 2
    out = capsys.readouterr().out
    assert "'NV' is not California" in out and "private entities may not receive" in out
    # It says it describes the file on disk, and where to see what a running unit has in force.
    assert "This is the file on disk" in out and "alpr-edge sharing status" in out


def test_list_shows_each_agency_and_whether_it_may_query(files, capsys):
    assert run(files, "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:4]] == ["oakland-pd", "chp", "sfpd"]
    assert lines[1].endswith("signed") and lines[3].endswith("none")


def test_shipped_example_allow_list_is_checked_by_the_cli(capsys):
    # The example names certificate files a real unit has; the check says which are missing.
    code = main(["agencies", "check", "--agencies", str(REPO_ROOT / "config" / "agencies.toml")])
    assert code in (0, 2)
    assert "agencies.toml" in capsys.readouterr().out


def test_add_takes_the_query_key_from_a_generated_pub_file(files, tmp_path, capsys):
    assert main(["keys", "generate", "--out", str(tmp_path / "lapd.key")]) == 0
    assert run(files, *ADD_LAPD, f"--query-key={tmp_path / 'lapd.key.pub'}") == 0
    capsys.readouterr()
    assert run(files, "show", "lapd") == 0
    assert "accepted when signed with its key" in capsys.readouterr().out
    public = (tmp_path / "lapd.key.pub").read_text().strip()
    assert f'query_key = "{public}"' in files[0].read_text()


def test_query_key_that_is_not_an_ed25519_key_is_refused(files, capsys):
    assert run(files, *ADD_LAPD, "--query-key=bm90IGEga2V5") == 2
    assert "32-byte Ed25519 public key" in capsys.readouterr().err


def test_a_change_rewrites_the_entry_in_place_keeping_its_place_and_comments(files):
    import tomlkit

    from edge.audit.allowlist_edit import change_entry

    agencies, _ = files
    before = agencies.read_text()
    order = [a["id"] for a in tomlkit.parse(before)["agency"]]
    fields = {k: v for k, v in tomlkit.parse(before)["agency"][order.index("chp")].items()}
    fields["purpose"] = "stolen vehicles, MOU CHP-2027"
    fields.pop("query_key", None)
    change = change_entry(agencies, "chp", fields)
    after = change.new_text
    assert [a["id"] for a in tomlkit.parse(after)["agency"]] == order
    assert '# The CHP agreement\n[[agency]]\nid = "chp"  # highway patrol' in after
    assert after.endswith("# End of the list.\n") and after.startswith(HEADER)
    assert "MOU CHP-2027" in after and change.action == "change"
    # Only the changed line and the dropped key differ.
    changed = [
        line
        for line in change.diff.splitlines()
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert sorted(line.split(" =")[0] for line in changed) == ["+purpose", "-purpose", "-query_key"]


def test_a_change_to_the_id_of_another_agency_is_refused(files):
    import tomlkit

    from edge.audit.allowlist_edit import change_entry
    from edge.errors import InputError

    agencies, _ = files
    document = tomlkit.parse(agencies.read_text())
    ids = [a["id"] for a in document["agency"]]
    fields = dict(document["agency"][ids.index("chp")].items())
    fields["id"] = next(i for i in ids if i != "chp")
    with pytest.raises(InputError, match="already in the allow-list"):
        change_entry(agencies, "chp", fields)
