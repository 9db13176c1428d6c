import pytest

from edge.plates.regions import (
    REGION_CODES,
    REGIONS,
    US,
    US_STATES,
    SerialFormat,
    expand_region_codes,
    region,
)


def test_us_states_are_the_fifty_states_and_dc():
    assert len(US_STATES) == 51 and len(set(US_STATES)) == 51
    assert "DC" in US_STATES and "CA" in US_STATES
    assert not {"UK", "EU", "BR"} & set(US_STATES)


def test_us_states_are_the_regions_whose_country_is_the_us():
    assert set(US_STATES) == {code for code, r in REGIONS.items() if r.country == US}
    # Only a region whose country is the US is a state: UK, EU and BR are their own country.
    others = [r for r in REGIONS.values() if r.code not in US_STATES]
    assert {r.code for r in others} == {"UK", "EU", "BR"}
    assert all(r.country == r.code for r in others)


def test_region_codes_keep_the_table_order_the_ocr_model_was_trained_on():
    assert REGION_CODES[:3] == ("CA", "NV", "AZ") and REGION_CODES[-3:] == ("UK", "EU", "BR")
    assert len(REGION_CODES) == 54


def test_us_expands_to_every_state_and_other_codes_stand_for_themselves():
    assert expand_region_codes(["us"]) == frozenset(US_STATES)
    assert expand_region_codes(["CA", "uk"]) == {"CA", "UK"}
    with pytest.raises(ValueError, match=r"unknown region 'XX'; known: US, CA"):
        expand_region_codes(["XX"])


def test_region_lookup_ignores_case_and_names_the_known_codes():
    assert region("ca") is REGIONS["CA"]
    with pytest.raises(ValueError, match=r"unknown state 'ZZ'.*CA"):
        region("ZZ")


def test_patterns_split_into_classes_counts_and_separators():
    assert SerialFormat("de", "L{1,3} N{1,1}D{0,3}").tokens() == [
        ("L", 1, 3),
        (" ", 0, 0),
        ("N", 1, 1),
        ("D", 0, 3),
    ]
    with pytest.raises(ValueError, match="bad serial pattern"):
        SerialFormat("bad", "L{1}").tokens()


def test_us_letter_classes_write_o_as_zero_and_other_regions_keep_it():
    assert "O" not in region("CO").charset("L") and "0" in region("CO").charset("L")
    assert "O" in region("BR").charset("L") and "0" not in region("BR").charset("L")
    with pytest.raises(ValueError, match="pattern class 'C' is not defined"):
        region("CA").charset("C")
