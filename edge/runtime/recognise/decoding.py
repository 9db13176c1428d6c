"""From per-slot character probabilities to plate text.

Greedy decoding takes the likeliest character in every slot. When the state is known, a serial
format of that state (which positions hold letters, which digits) often settles a look-alike the
model hesitates on (1/I, 8/B, 0/D, 5/S): the best reading that fits a format replaces the greedy
one unless it is much less likely. Vanity plates fit no structured format and stay greedy. Where
every plate fits a format (Brazil), the best fitting reading wins unless it is all but impossible:
a digit read as a letter there (1 as I, 8 as B) is a misread however sure the model is.

The letter O and the digit 0 are one glyph to the model: most US states print them alike and
label them 0, so a round character comes out as 0 whatever the plate. In regions that print a
letter O (UK, EU, Brazil: `Region.o_as_zero` false), where a format asks for a letter the
probability of 0 counts for O, and where it asks for a digit O's counts for 0. (In a US letter
slot a sure 0 is more likely a Q or a D: US serials leave O out.) Two formats that differ only
in whether that glyph is a letter (Brazil's LLLDLDD against LLL-DDDD) then tie, and the reading
nearer the model's own characters wins.

Alternative readings (`candidate_readings`, OpenALPR's top-N) come from a beam over the likeliest
few characters of every slot, scored by the same rule: a whole reading's probability is the
product of its slots' (pads included), and where the state's formats steer the text, readings
that fit a format are searched among the characters each format slot allows (O and 0 pooled as
above) while readings that fit none are scaled by the format prior, as the greedy one is.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from edge.plates.masks import structured_masks
from edge.plates.regions import REGIONS, region
from edge.runtime.types import Candidate

# A format-fitting reading wins while its probability is at least this share of the greedy one.
FORMAT_PRIOR = 0.05
# The same where every plate fits a format (`Region.formats_only`).
MANDATORY_FORMAT_PRIOR = 1e-9
# Below this state confidence the state's formats are not trusted to steer the text.
MIN_STATE_CONFIDENCE = 0.5
# Characters per slot the candidate beam considers.
CANDIDATE_TOP_K = 3
# A slot this sure of its best character offers no other to the candidate beam.
SURE_SLOT = 0.9999
# Formats searched for candidates: the ones whose best reading is likeliest (Europe has 20).
CANDIDATE_FORMATS = 3


@dataclass(frozen=True)
class DecodedText:
    text: str
    char_confidences: tuple[float, ...]


def _decode_indices(
    indices: np.ndarray, confidences: np.ndarray, alphabet: str, pad_index: int
) -> DecodedText:
    kept = [(alphabet[i], float(p)) for i, p in zip(indices, confidences, strict=True)]
    kept = [(char, p) for (char, p), i in zip(kept, indices, strict=True) if i != pad_index]
    return DecodedText("".join(c for c, _ in kept), tuple(p for _, p in kept))


def greedy(probabilities: np.ndarray, alphabet: str, pad_char: str) -> DecodedText:
    """The likeliest character per slot; pad slots are dropped wherever they fall."""
    indices = probabilities.argmax(axis=-1)
    confidences = probabilities[np.arange(len(indices)), indices]
    return _decode_indices(indices, confidences, alphabet, alphabet.index(pad_char))


@cache
def _structured_masks(state: str) -> tuple[str, ...]:
    """A state's letter/digit masks but the vanity ones; none for a region we hold no
    formats for."""
    if state not in REGIONS:
        return ()
    return structured_masks(state)


@cache
def _class_columns(alphabet: str, pad_char: str) -> dict[str, np.ndarray]:
    letters = [i for i, c in enumerate(alphabet) if c.isalpha() and c != pad_char]
    digits = [i for i, c in enumerate(alphabet) if c.isdigit()]
    return {
        "L": np.array(letters),
        "D": np.array(digits),
        "A": np.array(sorted(letters + digits)),
    }


def _class_probabilities(
    probabilities: np.ndarray, alphabet: str, pool_round_glyphs: bool
) -> dict[str, np.ndarray]:
    """Per character class (L, D, A), the probabilities its slots choose from; with
    `pool_round_glyphs`, O and 0 pooled into the one the class allows."""
    letter_o, digit_0 = alphabet.find("O"), alphabet.find("0")
    if not pool_round_glyphs or letter_o < 0 or digit_0 < 0:
        return dict.fromkeys("LDA", probabilities)
    pooled = probabilities[:, letter_o] + probabilities[:, digit_0]
    as_letter, as_digit = probabilities.copy(), probabilities.copy()
    as_letter[:, letter_o] = pooled
    as_digit[:, digit_0] = pooled
    return {"L": as_letter, "D": as_digit, "A": probabilities}


def _log_sum(probabilities: np.ndarray) -> float:
    return float(np.log(np.clip(probabilities, 1e-9, 1.0)).sum())


@dataclass(frozen=True)
class _FormatReading:
    score: float  # log probability with O and 0 pooled
    own_score: float  # log probability of the very characters chosen (breaks ties)
    indices: np.ndarray
    confidences: np.ndarray


def _best_for_mask(
    by_class: dict[str, np.ndarray], mask: str, columns: dict[str, np.ndarray], pad_index: int
) -> _FormatReading:
    raw = by_class["A"]
    slots = raw.shape[0]
    indices = np.full(slots, pad_index)
    confidences = raw[:, pad_index].copy()
    for slot, kind in enumerate(mask):
        allowed = columns[kind]
        indices[slot] = allowed[by_class[kind][slot, allowed].argmax()]
        confidences[slot] = by_class[kind][slot, indices[slot]]
    own = raw[np.arange(slots), indices]
    return _FormatReading(_log_sum(confidences), _log_sum(own), indices, confidences)


@dataclass(frozen=True)
class _Formats:
    """What steers one plate's decoding: its state's masks and class probabilities."""

    masks: list[str]
    by_class: dict[str, np.ndarray]
    columns: dict[str, np.ndarray]
    prior: float


def _formats(
    probabilities: np.ndarray, alphabet: str, pad_char: str, state: str | None, confidence: float
) -> _Formats | None:
    if state is None or confidence < MIN_STATE_CONFIDENCE:
        return None
    masks = [m for m in _structured_masks(state) if len(m) <= probabilities.shape[0]]
    if not masks:
        return None
    issuer = region(state)
    return _Formats(
        masks,
        _class_probabilities(probabilities, alphabet, not issuer.o_as_zero),
        _class_columns(alphabet, pad_char),
        MANDATORY_FORMAT_PRIOR if issuer.formats_only else FORMAT_PRIOR,
    )


def decode(
    probabilities: np.ndarray,
    alphabet: str,
    pad_char: str,
    state: str | None = None,
    state_confidence: float = 0.0,
) -> DecodedText:
    """Text for one plate from its (slots, alphabet) probabilities, format-aware when possible."""
    best = greedy(probabilities, alphabet, pad_char)
    formats = _formats(probabilities, alphabet, pad_char, state, state_confidence)
    if formats is None:
        return best
    pad_index = alphabet.index(pad_char)
    greedy_score = _log_sum(probabilities.max(axis=-1))
    reading = max(
        (
            _best_for_mask(formats.by_class, mask, formats.columns, pad_index)
            for mask in formats.masks
        ),
        key=lambda r: (r.score, r.own_score),
    )
    if reading.score < greedy_score + np.log(formats.prior):
        return best
    return _decode_indices(reading.indices, reading.confidences, alphabet, pad_index)


Choices = list[tuple[int, float]]  # (character index, log probability), likeliest first


def _beam(slot_choices: list[Choices], width: int) -> list[tuple[float, list[int]]]:
    """The `width` likeliest index sequences, one index per slot from that slot's choices,
    as (log probability, indices), best first. Plain Python: most slots offer one choice, and
    numpy's per-call cost outweighs its speed on a few dozen beams."""
    beams: list[tuple[float, list[int]]] = [(0.0, [])]
    for choices in slot_choices:
        if len(choices) == 1:
            [(index, log_probability)] = choices
            beams = [(score + log_probability, [*seq, index]) for score, seq in beams]
            continue
        expanded = [(score + lp, [*seq, index]) for score, seq in beams for index, lp in choices]
        expanded.sort(key=lambda beam: -beam[0])
        beams = expanded[:width]
    return beams


def _top(probabilities: np.ndarray, allowed: np.ndarray) -> list[Choices]:
    """Per slot (row), the `CANDIDATE_TOP_K` likeliest of the `allowed` columns and their log
    probabilities; a slot whose best is all but sure keeps that one alone."""
    choices = probabilities[:, allowed]
    order = np.argsort(-choices, axis=1, kind="stable")[:, :CANDIDATE_TOP_K]
    chosen = np.take_along_axis(choices, order, axis=1)
    logs = np.log(np.clip(chosen, 1e-9, 1.0)).tolist()
    sure = (chosen[:, 0] >= SURE_SLOT).tolist()
    indices = allowed[order].tolist()
    return [
        list(zip(i[:1] if one else i, lp[:1] if one else lp, strict=True))
        for i, lp, one in zip(indices, logs, sure, strict=True)
    ]


def candidate_readings(
    probabilities: np.ndarray,
    alphabet: str,
    pad_char: str,
    count: int,
    state: str | None = None,
    state_confidence: float = 0.0,
) -> list[Candidate]:
    """Up to `count` distinct readings of one plate, likeliest first by the rule of the
    module docstring; each confidence is the model's probability of the reading (its slots'
    product, O and 0 pooled where a format slot pools them), without the format prior."""
    if count <= 0:
        return []
    pad_index = alphabet.index(pad_char)
    everything = np.arange(probabilities.shape[1])
    width = max(2 * count, 8)
    formats = _formats(probabilities, alphabet, pad_char, state, state_confidence)
    scaled = 0.0 if formats is None else float(np.log(formats.prior))
    scored: dict[str, tuple[float, float]] = {}  # text: (rank, log probability)

    def collect(beam: list[tuple[float, list[int]]], bonus: float) -> None:
        for score, indices in beam:
            text = "".join(alphabet[i] for i in indices if i != pad_index)
            if text and score + bonus > scored.get(text, (-np.inf,))[0]:
                scored[text] = (score + bonus, score)

    collect(_beam(_top(probabilities, everything), width), scaled)
    if formats is not None:
        tops = {kind: _top(formats.by_class[kind], formats.columns[kind]) for kind in "LDA"}
        pads = _top(probabilities, np.array([pad_index]))

        def mask_choices(mask: str) -> list[Choices]:
            return [tops[kind][slot] for slot, kind in enumerate(mask)] + pads[len(mask) :]

        # The formats whose best reading is likeliest (the first choice of every slot).
        best_first = sorted(
            formats.masks, key=lambda m: -sum(choices[0][1] for choices in mask_choices(m))
        )
        for mask in best_first[:CANDIDATE_FORMATS]:
            collect(_beam(mask_choices(mask), width), 0.0)
    ranked = sorted(scored.items(), key=lambda item: -item[1][0])[:count]
    return [Candidate(text, float(np.exp(score))) for text, (_, score) in ranked]
