"""The issuing regions of plates and the serial formats each one issues, with its letter rules.

A region is the jurisdiction that issues a plate: a US state (or DC), the UK, the EU (one
region for the serial shapes of several member states) or Brazil. Each region belongs to a
country (`Region.country`); the US states are the regions whose country is the US, so a
country added later is not taken for a state.

A format is a pattern of character classes, one token per class with an optional `{m,n}` count,
and group separators (`' '`, `'-'`) that only the renderer uses. The label never holds a
separator. US labels write the letter O as the digit 0 (as the real test labels and many US
plates do), so a US class that allows O also accepts 0 in that position.

This is what a plate *is*, used on the unit (decoding, tracking, configuration) and by the
lab (synthetic plates, training), so it is pure standard-library Python.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass

DIGITS = string.digits
LETTERS = string.ascii_uppercase
# The country code of the US states and DC; "US" in a list of region codes stands for all.
US = "US"


def _without(chars: str, excluded: str) -> str:
    return "".join(c for c in chars if c not in excluded)


# Class letters usable in every pattern; regions add their own (see Region.classes).
# D digit, N digit but 0, X any letter or digit.
_BASE_CLASSES = {"D": DIGITS, "N": "123456789", "X": LETTERS + DIGITS}
_TOKEN = re.compile(r"([A-Z])(?:\{(\d+),(\d+)\})?|([ \-])")
# A token of a pattern: (class, min count, max count); a group separator is (" ", 0, 0).
Token = tuple[str, int, int]


@dataclass(frozen=True)
class SerialFormat:
    """One way an issuer writes its serials. `kind` names the plate type that uses it."""

    kind: str
    pattern: str
    weight: float = 1.0

    def tokens(self) -> list[Token]:
        """(class, min, max) per token of the pattern; separators become (' ', 0, 0)."""
        tokens: list[Token] = []
        pos = 0
        while pos < len(self.pattern):
            match = _TOKEN.match(self.pattern, pos)
            if not match:
                raise ValueError(f"bad serial pattern {self.pattern!r} at {pos}")
            if match.group(4):
                tokens.append((" ", 0, 0))
            else:
                low = int(match.group(2) or 1)
                high = int(match.group(3) or 1)
                tokens.append((match.group(1), low, high))
            pos = match.end()
        return tokens


@dataclass(frozen=True)
class Region:
    """A state (US), a country group (EU) or a country (UK, BR) and the serials it issues."""

    code: str
    name: str
    # The country the region belongs to: US for the states and DC, else the region's own code.
    country: str
    formats: tuple[SerialFormat, ...]
    # Extra character classes; `L` (the serial letters), `D`, `N` and `X` always exist.
    classes: tuple[tuple[str, str], ...] = ()
    letters: str = _without(LETTERS, "IOQ")
    o_as_zero: bool = True
    # Every plate of the region fits one of `formats`: it issues no personalised plates, or
    # they keep the serial's layout (Brazil). A reader may then force a read into a format.
    formats_only: bool = False

    def charset(self, cls: str) -> str:
        table = {**_BASE_CLASSES, "L": self.letters}
        table.update(dict(self.classes))
        if cls not in table:
            raise ValueError(f"{self.code}: pattern class {cls!r} is not defined")
        chars = table[cls]
        if self.o_as_zero and "O" in chars:
            chars = _without(chars, "O") + ("" if "0" in chars else "0")
        return chars


def _us(
    code: str,
    name: str,
    *formats: tuple[str, str, float],
    classes: tuple[tuple[str, str], ...] = (),
    letters: str = _without(LETTERS, "IOQ"),
) -> Region:
    serials = tuple(SerialFormat(kind, pattern, weight) for kind, pattern, weight in formats)
    return Region(code, name, US, serials, classes=classes, letters=letters)


_ALL_LETTERS = (("V", LETTERS),)
# Vanity plates may use any letter: the serial letter rules do not bind their owners.
_VANITY = ("vanity", "X{2,7}", 0.12)

REGIONS: dict[str, Region] = {
    r.code: r
    for r in (
        # California: I, O and Q never in the first or third letter, any letter in the middle.
        _us(
            "CA",
            "California",
            ("standard", "N LVL DDD", 0.70),
            ("next", "DDD LVL N", 0.04),
            ("commercial", "N L DDDDD", 0.10),
            ("legacy", "LLL DDD", 0.04),
            _VANITY,
            classes=_ALL_LETTERS,
        ),
        _us("NV", "Nevada", ("standard", "DDD L DD", 0.6), ("legacy", "DDD-LLL", 0.3), _VANITY),
        _us("AZ", "Arizona", ("standard", "LLL DDDD", 0.6), ("legacy", "DDD-LLL", 0.3), _VANITY),
        _us("OR", "Oregon", ("standard", "DDD LLL", 0.5), ("next", "LLL DDD", 0.4), _VANITY),
        _us("WA", "Washington", ("standard", "LLL DDDD", 0.7), ("legacy", "DDD-LLL", 0.2)),
        _us(
            "TX",
            "Texas",
            ("standard", "LLL-DDDD", 0.7),
            ("legacy", "LLD-LDDD", 0.2),
            _VANITY,
            letters=_without(LETTERS, "IOQU"),
        ),
        _us("FL", "Florida", ("standard", "LLL LDD", 0.6), ("legacy", "DDD LLL", 0.3), _VANITY),
        _us("NY", "New York", ("standard", "LLL-DDDD", 0.85), _VANITY),
        _us("UT", "Utah", ("standard", "LDD DLL", 0.6), ("legacy", "DDD LLL", 0.3), _VANITY),
        _us(
            "ID",
            "Idaho",
            ("county", "N L DDDDD", 0.5),
            ("standard", "DDDDDD", 0.2),
            ("personal", "LLL DDD", 0.2),
        ),
        _us(
            "CO",
            "Colorado",
            ("standard", "LLL-LDD", 0.5),
            ("legacy", "DDD-LLL", 0.4),
            letters=LETTERS,
        ),
        _us("IL", "Illinois", ("standard", "LL DDDDD", 0.6), ("numeric", "DDD DDDD", 0.3)),
        _us("NM", "New Mexico", ("standard", "LLL DDD", 0.5), ("legacy", "DDD LLL", 0.4)),
        _us(
            "MD",
            "Maryland",
            ("standard", "NLL DDDD", 0.7),
            ("legacy", "DDD LDD", 0.2),
            letters=_without(LETTERS, "IOQU"),
        ),
        _us("MN", "Minnesota", ("standard", "LLL DDD", 0.5), ("legacy", "DDD LLL", 0.4)),
        _us("NJ", "New Jersey", ("standard", "LDD LLL", 0.6), ("legacy", "LLL DDL", 0.3)),
        _us(
            "VA",
            "Virginia",
            ("standard", "LLL-DDDD", 0.8),
            _VANITY,
            letters=_without(LETTERS, "IOQ"),
        ),
        _us("NC", "North Carolina", ("standard", "LLL-DDDD", 0.9)),
        # The other states and DC: seen less often in California, but a reader meets them.
        _us("AL", "Alabama", ("standard", "DDLDDDL", 0.5), ("county", "NLDDDDL", 0.5)),
        _us("AK", "Alaska", ("standard", "LLL DDD", 0.9)),
        _us("AR", "Arkansas", ("standard", "DDD LLL", 0.6), ("next", "LLL DDL", 0.4)),
        _us("CT", "Connecticut", ("standard", "LL DDDDD", 0.6), ("legacy", "DDD LLL", 0.4)),
        _us("DE", "Delaware", ("standard", "D{3,6}", 1.0)),
        _us("DC", "District of Columbia", ("standard", "LL-DDDD", 1.0)),
        _us("GA", "Georgia", ("standard", "LLL DDDD", 0.9), _VANITY),
        _us("HI", "Hawaii", ("standard", "LLL DDD", 1.0)),
        _us("IN", "Indiana", ("standard", "DDDLLL", 0.7), ("county", "DDL DDDD", 0.3)),
        _us("IA", "Iowa", ("standard", "LLL DDD", 0.6), ("legacy", "DDD LLL", 0.4)),
        _us("KS", "Kansas", ("standard", "DDD LLL", 1.0)),
        _us("KY", "Kentucky", ("standard", "DDD LLL", 0.9)),
        _us("LA", "Louisiana", ("standard", "DDD LLL", 0.9)),
        _us("ME", "Maine", ("standard", "DDDD LL", 0.9)),
        _us("MA", "Massachusetts", ("standard", "DLLL DD", 0.6), ("legacy", "DLL DDD", 0.4)),
        _us(
            "MI",
            "Michigan",
            ("standard", "LLL DDDD", 0.7),
            ("legacy", "DLL LDD", 0.3),
            letters=_without(LETTERS, "IO"),
        ),
        _us("MS", "Mississippi", ("standard", "LLL DDD", 0.9)),
        _us("MO", "Missouri", ("standard", "LLD LDL", 0.9)),
        _us("MT", "Montana", ("county", "N-DDDDL", 0.7), ("standard", "DDD DDDL", 0.3)),
        _us("NE", "Nebraska", ("standard", "LLL DDD", 0.6), ("county", "ND-LDDD", 0.4)),
        _us("NH", "New Hampshire", ("standard", "DDD DDDD", 1.0)),
        _us("ND", "North Dakota", ("standard", "DDD LLL", 1.0)),
        _us("OH", "Ohio", ("standard", "LLL DDDD", 1.0)),
        _us("OK", "Oklahoma", ("standard", "DDDLLL", 0.5), ("next", "LLL-DDD", 0.5)),
        _us(
            "PA",
            "Pennsylvania",
            ("standard", "LLL-DDDD", 1.0),
            letters=_without(LETTERS, "IOQU"),
        ),
        _us("RI", "Rhode Island", ("standard", "LL-DDD", 0.5), ("numeric", "DDDDDD", 0.5)),
        _us("SC", "South Carolina", ("standard", "LLL DDD", 1.0)),
        _us("SD", "South Dakota", ("standard", "DLL DDD", 1.0)),
        _us("TN", "Tennessee", ("standard", "LLL-DDDD", 0.5), ("legacy", "DDD LLL", 0.5)),
        _us("VT", "Vermont", ("standard", "LLL DDD", 1.0)),
        _us("WV", "West Virginia", ("standard", "DLL DDD", 1.0)),
        _us("WI", "Wisconsin", ("standard", "LLL-DDDD", 0.6), ("legacy", "DDD-LLL", 0.4)),
        _us("WY", "Wyoming", ("county", "N DDDD", 0.6), ("next", "N DDDL", 0.4)),
        # UK: two-letter memory tag (no I, Q, Z), age identifier, three random letters (no I, Q).
        Region(
            "UK",
            "United Kingdom",
            "UK",
            (SerialFormat("current", "MMDD LLL"),),
            classes=(("M", _without(LETTERS, "IQZ")),),
            letters=_without(LETTERS, "IQ"),
            o_as_zero=False,
        ),
        # EU: the shapes of the Italian, Slovak, French, German, Spanish, Polish and Czech serials.
        Region(
            "EU",
            "European Union",
            "EU",
            (
                SerialFormat("it", "LL DDD LL", 0.22),
                SerialFormat("sk", "SS DDDSS", 0.25),
                SerialFormat("fr", "LL-DDD-LL", 0.13),
                SerialFormat("de", "L{1,3} L{1,2} N{1,1}D{0,3}", 0.15),
                SerialFormat("es", "DDDD CCC", 0.1),
                SerialFormat("pl", "LL DDDDD", 0.08),
                SerialFormat("cz", "NLD DDDD", 0.07),
            ),
            # Spanish serials use consonants only; Slovak ones any letter but O and Q.
            classes=(("C", _without(LETTERS, "AEIOUQ")), ("S", _without(LETTERS, "OQ"))),
            letters=_without(LETTERS, "IOQU"),
            o_as_zero=False,
        ),
        # Brazil: Mercosul (ABC1D23) and the older grey plates (ABC-1234).
        Region(
            "BR",
            "Brazil",
            "BR",
            (SerialFormat("mercosul", "LLLDLDD", 0.5), SerialFormat("grey", "LLL-DDDD", 0.5)),
            letters=LETTERS,
            o_as_zero=False,
            formats_only=True,
        ),
    )
}

# Every region code, in table order (the OCR model's region head uses this order).
REGION_CODES: tuple[str, ...] = tuple(REGIONS)
US_STATES: tuple[str, ...] = tuple(r.code for r in REGIONS.values() if r.country == US)


def expand_region_codes(codes: Iterable[str]) -> frozenset[str]:
    """Region codes with "US" standing for every US state; ValueError names an unknown one."""
    expanded: set[str] = set()
    for code in (c.upper() for c in codes):
        if code == US:
            expanded.update(US_STATES)
        elif code in REGIONS:
            expanded.add(code)
        else:
            raise ValueError(f"unknown region {code!r}; known: US, {', '.join(REGION_CODES)}")
    return frozenset(expanded)


def region(code: str) -> Region:
    """The region for a code (any case), or ValueError naming the known codes."""
    key = code.upper()
    if key not in REGIONS:
        raise ValueError(f"unknown state {code!r}; known: {', '.join(REGION_CODES)}")
    return REGIONS[key]
