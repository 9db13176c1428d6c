from edge.plates.text import normalise_plate, strip_separators


def test_plates_are_upper_case_letters_and_digits_only():
    assert normalise_plate("7abc-123") == "7ABC123"
    assert normalise_plate(" ls15 ebc\t") == "LS15EBC"
    assert normalise_plate("AB.C 1") == "ABC1"


def test_pooling_writes_the_letter_o_as_zero_only_when_asked():
    assert normalise_plate("ab-c 0O1") == "ABC0O1"
    assert normalise_plate("ab-c 0O1", pool_o_zero=True) == "ABC001"


def test_query_patterns_lose_separators_but_keep_wildcards():
    assert strip_separators("7ab c-1?3 *") == "7ABC1?3*"
    assert strip_separators("a.b") == "A.B"
