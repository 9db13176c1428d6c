"""The one list of prohibited-purpose terms, and how a query's free text is matched against it.

California bars sharing ALPR data for immigration enforcement (Gov. Code 7284.6(a)(1)); agencies'
published policies and vendors also bar reproductive-health enforcement and tracking people for
protest or other First Amendment activity. The terms come from real search logs and vendor
blocklists (docs/guardrails-research.md, section (c)): "immigration", "ICE", "ICE+ERO",
"ICE WARRANT", "HSI", "CBP" were seen in Danville, Oakland and Los Altos logs; Flock rejects
"immigration", "ICE" and "abortion"; EFF found searches tied to protests.

Keyword lists are easy to get around with vague reasons, so this is the *second* check: the first
is the identity of the requesting agency and of the agency it acts for, plus the case number.

Matching is by whole word or phrase, case-insensitive, after Unicode NFKC folding and after
dotted acronyms ("I.C.E.") are closed up, so "ICE case" matches and "police" or "device" do not.
A plural ending (-s, -es) on a term's last word also matches.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class ProhibitedTerm:
    term: str
    category: str


_IMMIGRATION = "immigration enforcement (Gov. Code 7284.6)"
_REPRODUCTIVE = "reproductive-health enforcement"
_PROTEST = "protest or First Amendment activity"

PROHIBITED_TERMS: tuple[ProhibitedTerm, ...] = tuple(
    ProhibitedTerm(term, category)
    for category, terms in (
        (
            _IMMIGRATION,
            (
                "immigration",
                "immigrant",
                "undocumented",
                "illegal alien",
                "ICE",
                "ERO",
                "HSI",
                "CBP",
                "USCIS",
                "border patrol",
                "deport",
                "deported",
                "deportation",
                "removal",
                "287(g)",
                "287g",
                "visa overstay",
            ),
        ),
        (_REPRODUCTIVE, ("abortion", "reproductive health")),
        (_PROTEST, ("protest", "protester", "protestor", "No Kings")),
    )
    for term in terms
)

_DOTTED_ACRONYM = re.compile(r"\b(?:[^\W\d_]\.){2,}")


def _fold(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _DOTTED_ACRONYM.sub(lambda m: m.group(0).replace(".", ""), folded)


def _term_pattern(term: str) -> str:
    # Words of a phrase may be separated by any run of spaces or punctuation ("border-patrol").
    words = (re.escape(word) for word in _fold(term).split())
    return r"(?<![^\W_])" + r"[\W_]+".join(words) + r"(?:e?s)?(?![^\W_])"


_MATCHERS: tuple[tuple[ProhibitedTerm, re.Pattern[str]], ...] = tuple(
    (term, re.compile(_term_pattern(term.term))) for term in PROHIBITED_TERMS
)


def prohibited_terms_in(*texts: str) -> list[ProhibitedTerm]:
    """The prohibited terms found, as whole words or phrases, in any of the texts."""
    folded = [_fold(text) for text in texts]
    return [term for term, pattern in _MATCHERS if any(pattern.search(t) for t in folded)]
