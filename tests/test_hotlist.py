from datetime import datetime

import pytest

from edge.clock import UTC
from edge.errors import InputError
from edge.runtime.hotlist import Hotlist, import_csv
from edge.runtime.store import ReadStore
from edge.runtime.types import Box, VehicleRead

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def read(plate, region="CA", seen_at=NOW):
    return VehicleRead(plate, region, 0.9, seen_at, "cam", Box(0, 0, 10, 5), 3)


def write_csv(path, rows):
    path.write_text("plate,state,reason,source,expiry\n" + "\n".join(rows) + "\n")
    return path


def test_import_then_match_exact_and_near_within_configured_distance(tmp_path):
    store = ReadStore(tmp_path / "data")
    csv = write_csv(tmp_path / "h.csv", ["7ABC123,CA,stolen vehicle,CHP,2026-12-31"])
    assert import_csv(store, csv, now=NOW) == 1
    strict, lenient = Hotlist(store, max_confusions=0), Hotlist(store, max_confusions=1)
    assert [h.distance for h in strict.match(read("7ABC123"))] == [0]
    assert strict.match(read("7A8C123")) == []
    hit = lenient.match(read("7A8C123"))[0]
    assert (hit.listed_plate, hit.reason, hit.source, hit.distance) == (
        "7ABC123",
        "stolen vehicle",
        "CHP",
        1,
    )
    assert lenient.match(read("7ABC123", region="NV")) == []  # another state's plate
    assert lenient.match(read("7ABC123", region=None))  # state unknown: the plate decides


def test_expired_entries_never_match(tmp_path):
    store = ReadStore(tmp_path / "data")
    import_csv(store, write_csv(tmp_path / "h.csv", ["7ABC123,CA,x,y,2026-05-31"]), now=NOW)
    hotlist = Hotlist(store)
    assert hotlist.match(read("7ABC123")) == []
    assert hotlist.match(read("7ABC123", seen_at=datetime(2026, 5, 31, 23, 59, tzinfo=UTC)))


def test_reimport_updates_instead_of_duplicating_and_running_matcher_sees_it(tmp_path):
    store = ReadStore(tmp_path / "data")
    hotlist = Hotlist(store)
    assert hotlist.match(read("7ABC123")) == []
    import_csv(store, write_csv(tmp_path / "h.csv", ["7abc-123,ca,old,CHP,"]), now=NOW)
    # An import from another process (another connection) reaches the running matcher.
    other = ReadStore(tmp_path / "data")
    import_csv(other, write_csv(tmp_path / "h.csv", ["7ABC 123,CA,new,CHP,"]), now=NOW)
    assert store.db["hotlist"].count == 1
    assert [h.reason for h in hotlist.match(read("7ABC123"))] == ["new"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (",CA,x,y,", ":2: plate is empty"),
        ("7ABC123,California,x,y,", ":2: state 'CALIFORNIA'"),
        ("7ABC123,CA,x,y,next week", ":2: expiry 'next week'"),
    ],
)
def test_bad_rows_name_file_and_line_and_load_nothing(tmp_path, row, message):
    store = ReadStore(tmp_path / "data")
    csv = write_csv(tmp_path / "h.csv", ["1GOOD11,CA,x,y,", row])
    with pytest.raises(InputError, match=message.replace(":2:", ":3:")):
        import_csv(store, csv)
    assert store.db["hotlist"].count == 0


def test_missing_file_is_bad_input(tmp_path):
    with pytest.raises(InputError, match=r"absent\.csv"):
        import_csv(ReadStore(tmp_path), tmp_path / "absent.csv")


def test_a_row_with_more_fields_than_the_header_is_refused_naming_its_line(tmp_path):
    store = ReadStore(tmp_path / "data")
    csv = write_csv(tmp_path / "h.csv", ["7ABC123,CA,stolen,CHP,", "8XYZ000,CA,stolen,CHP,,extra"])
    with pytest.raises(InputError, match=r"h\.csv:3: 6 fields, the header has 5"):
        import_csv(store, csv, now=NOW)
    assert store.hotlist_entries() == []  # all or nothing


def test_an_unknown_column_is_refused(tmp_path):
    store = ReadStore(tmp_path / "data")
    path = tmp_path / "h.csv"
    path.write_text("plate,state,reason,source,expiry,colour\n7ABC123,CA,x,y,,red\n")
    with pytest.raises(InputError, match=r"unknown column.*'colour'"):
        import_csv(store, path, now=NOW)


def test_an_unterminated_quote_is_refused_with_the_line_it_starts_on(tmp_path):
    store = ReadStore(tmp_path / "data")
    csv = write_csv(
        tmp_path / "h.csv", ["7ABC123,CA,x,y,", '8XYZ000,CA,"stolen,CHP,', "9AAA999,CA,x,y,"]
    )
    with pytest.raises(InputError, match=r"h\.csv:3: .*quote left open"):
        import_csv(store, csv, now=NOW)
    assert store.hotlist_entries() == []


def test_already_expired_entries_are_named_in_a_warning(tmp_path, caplog):
    store = ReadStore(tmp_path / "data")
    csv = write_csv(tmp_path / "h.csv", ["7ABC123,CA,x,y,2026-01-01", "8XYZ000,CA,x,y,2099-01-01"])
    assert import_csv(store, csv, now=NOW) == 2
    assert "1 entry is already expired" in caplog.text and "7ABC123" in caplog.text
    assert "8XYZ000" not in caplog.text


def test_hotlist_list_and_remove_on_the_command_line(tmp_path, capsys):
    from edge.cli import main

    config = tmp_path / "edge.toml"
    config.write_text('[store]\ndata_dir = "data"\n')
    csv = write_csv(tmp_path / "h.csv", ["7ABC123,CA,stolen,CHP,", "8XYZ000,CA,amber,FBI,"])
    assert main(["hotlist", "import", "--config", str(config), str(csv)]) == 0
    store = ReadStore(tmp_path / "data")
    hit_entry = store.hotlist_entries()[1]
    from edge.runtime.types import HotlistHit

    store.add_read(read("8XYZ000"), None, [HotlistHit(hit_entry.id, "8XYZ000", "CA", "a", "F", 0)])
    capsys.readouterr()
    assert main(["hotlist", "list", "--config", str(config)]) == 0
    listing = capsys.readouterr().out
    assert "7ABC123" in listing and "8XYZ000" in listing and "never" in listing
    assert main(["hotlist", "remove", "--config", str(config), "1", "2", "99"]) == 1
    assert "removed 1 hotlist entries; 1 expired now" in capsys.readouterr().out
    assert main(["hotlist", "list", "--config", str(config), "--active"]) == 0
    assert "(no entries)" in capsys.readouterr().out
    assert [e.plate for e in store.hotlist_entries()] == ["8XYZ000"]  # its hit still explained


def test_a_confident_candidate_matches_exactly_and_says_which_reading_matched(tmp_path):
    from dataclasses import replace

    from edge.runtime.types import Candidate

    store = ReadStore(tmp_path / "data")
    import_csv(store, write_csv(tmp_path / "h.csv", ["5LTA600,CA,stolen vehicle,CHP,"]), now=NOW)
    hotlist = Hotlist(store, max_confusions=1)
    misread = replace(
        read("5LTA6O0X"),
        candidates=(
            Candidate("5LTA6O0X", 0.5),
            Candidate("5LTA601", 0.2),
            Candidate("5LTA600", 0.1),
        ),
    )
    [hit] = hotlist.match(misread)
    assert (hit.listed_plate, hit.matched_text, hit.candidate_rank, hit.distance) == (
        "5LTA600",
        "5LTA600",
        2,
        0,
    )
    # The read's own text still matches first, with its confusions allowed.
    [own] = hotlist.match(replace(misread, plate="5LTA6O0"))
    assert (own.matched_text, own.candidate_rank, own.distance) == ("5LTA6O0", 0, 1)


def test_an_unlikely_candidate_or_one_a_confusion_away_raises_no_hit(tmp_path):
    from dataclasses import replace

    from edge.runtime.types import Candidate

    store = ReadStore(tmp_path / "data")
    import_csv(store, write_csv(tmp_path / "h.csv", ["5LTA600,CA,stolen vehicle,CHP,"]), now=NOW)
    hotlist = Hotlist(store, max_confusions=1)
    tail = replace(
        read("8XYZ123"), candidates=(Candidate("8XYZ123", 0.99), Candidate("5LTA600", 0.01))
    )
    assert hotlist.match(tail) == []
    near = replace(
        read("8XYZ123"), candidates=(Candidate("8XYZ123", 0.6), Candidate("5LTA6O0", 0.3))
    )
    assert hotlist.match(near) == []
