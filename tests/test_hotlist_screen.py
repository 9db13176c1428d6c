"""The Values Act screen on hotlists: an entry whose source or reason is immigration enforcement
(NCIC's Immigration Violator File) is refused at import, with its reason and an audit row."""

from __future__ import annotations

import json

from edge.audit.export import export_rows
from edge.cli import main
from edge.errors import EXIT_BAD_INPUT
from edge.runtime.store import ReadStore

STOLEN = "7ABC123,CA,stolen vehicle,NCIC Vehicle File,2099-01-01\n"
HEADER = "plate,state,reason,source,expiry\n"


def import_hotlist(tmp_path, text: str) -> int:
    config = tmp_path / "edge.toml"
    config.write_text('[store]\ndata_dir = "data"\n')
    csv_file = tmp_path / "hotlist.csv"
    csv_file.write_text(text)
    return main(["hotlist", "import", "--config", str(config), str(csv_file)])


def stored_plates(tmp_path) -> list[str]:
    store = ReadStore(tmp_path / "data")
    try:
        return sorted(entry.plate for entry in store.hotlist_entries())
    finally:
        store.close()


def hotlist_rows(tmp_path) -> list[dict]:
    return [
        r for r in export_rows(tmp_path / "data" / "audit.sqlite") if r["event"] == "hotlist_import"
    ]


def test_ncic_immigration_violator_entry_refuses_the_import_with_an_audit_row(tmp_path, capsys):
    text = HEADER + STOLEN + "8XYZ999,CA,IMMIGRATION VIOLATOR,NCIC Immigration Violator File,\n"
    assert import_hotlist(tmp_path, text) == EXIT_BAD_INPUT
    assert "line 3 8XYZ999: immigration" in capsys.readouterr().err
    assert stored_plates(tmp_path) == []
    [row] = hotlist_rows(tmp_path)
    assert row["decision"] == "refused" and "Gov. Code 7284.6" in row["reason"]
    [refused] = json.loads(row["details"])["refused"]
    assert (refused["line"], refused["plate"]) == (3, "8XYZ999")


def test_ice_detainer_in_the_source_alone_is_refused(tmp_path):
    text = HEADER + "5DEF456,CA,wanted person,I.C.E. detainer list,\n"
    assert import_hotlist(tmp_path, text) == EXIT_BAD_INPUT
    assert stored_plates(tmp_path) == []


def test_clean_hotlist_is_imported_and_audited_and_a_plate_like_ice_is_no_term(tmp_path):
    text = HEADER + STOLEN + "ICE123,CA,AMBER alert,CA DOJ,\n"
    assert import_hotlist(tmp_path, text) == 0
    assert stored_plates(tmp_path) == ["7ABC123", "ICE123"]
    [row] = hotlist_rows(tmp_path)
    assert (row["decision"], row["record_count"]) == ("done", 2)


def test_a_file_rewritten_after_its_screen_imports_what_was_screened(tmp_path):
    """The screen, the digest and the import read the file once: swapping in an immigration
    entry between the screen and the load cannot slip it past the screen."""
    import hashlib

    from edge.audit.hotlist_screen import import_screened
    from edge.runtime.hotlist import import_csv

    csv_file = tmp_path / "hotlist.csv"
    screened = HEADER + STOLEN
    csv_file.write_text(screened)
    store = ReadStore(tmp_path / "data")

    def load_after_a_swap(path, text):
        path.write_text(
            HEADER + "8XYZ999,CA,IMMIGRATION VIOLATOR,NCIC Immigration Violator File,\n"
        )
        return import_csv(store, path, text=text)

    try:
        count = import_screened(csv_file, tmp_path / "audit.sqlite", load_after_a_swap, user="op")
        assert count == 1
        assert [e.plate for e in store.hotlist_entries()] == ["7ABC123"]
    finally:
        store.close()
    [row] = [r for r in export_rows(tmp_path / "audit.sqlite") if r["event"] == "hotlist_import"]
    assert json.loads(row["details"])["sha256"] == hashlib.sha256(screened.encode()).hexdigest()


def test_an_unreadable_hotlist_is_named_and_nothing_is_imported(tmp_path, capsys):
    config = tmp_path / "edge.toml"
    config.write_text('[store]\ndata_dir = "data"\n')
    bad = tmp_path / "hotlist.csv"
    bad.write_bytes(HEADER.encode() + b"\xff\xfe7ABC123,CA,stolen,x,\n")
    assert main(["hotlist", "import", "--config", str(config), str(bad)]) == EXIT_BAD_INPUT
    assert "not a readable CSV file" in capsys.readouterr().err
    missing = tmp_path / "gone.csv"
    assert main(["hotlist", "import", "--config", str(config), str(missing)]) == EXIT_BAD_INPUT
    assert "cannot read hotlist" in capsys.readouterr().err
    assert stored_plates(tmp_path) == []
