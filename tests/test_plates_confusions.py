import pytest

from edge.plates.confusions import (
    CONFUSION_GROUPS,
    confusable_with,
    confusion_distance,
    confusion_key,
)


@pytest.mark.parametrize(
    ("read_text", "listed", "expected"),
    [
        ("7ABC123", "7ABC123", 0),
        ("7AB0123", "7ABD123", 1),  # 0/D
        ("7A8C123", "7ABC123", 1),  # 8/B
        ("75BC1Z3", "7SBC123", 2),  # 5/S and Z/2
        ("7ABC124", "7ABC123", None),  # 4/3 is no OCR confusion
        ("7ABC12", "7ABC123", None),
    ],
)
def test_confusion_distance_counts_only_confusable_differences(read_text, listed, expected):
    assert confusion_distance(read_text, listed) == expected


def test_texts_differing_only_within_groups_share_a_key():
    assert confusion_key("7ABO123") == confusion_key("7A8D1Z3")
    assert confusion_key("7ABC123") != confusion_key("7ABC124")


def test_confusable_characters_are_the_rest_of_their_group():
    assert confusable_with("O") == ["0", "D", "Q"]
    assert confusable_with("1") == ["I", "L"]
    assert confusable_with("7") == []


def test_no_character_is_in_two_groups():
    chars = "".join(CONFUSION_GROUPS)
    assert len(chars) == len(set(chars))
