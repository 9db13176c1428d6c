"""From per-slot character probabilities to plate text.

Greedy decoding takes the likeliest character in every slot. When the state is known, a serial
format of that state (which positions hold letters, which digits) often settles a look-alike the
model hesitates on (1/I, 8/B, 0/D, 5/S): the best reading that fits a format replaces the greedy
one unless it is much less likely. Vanity plates fit no structured format and stay greedy. Where
every plate fits a format (Brazil), the best fitting reading wins unless it is all but impossible:
a digit read as a letter there (1 as I, 8 as B) is a misread however sure the model is.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from edge.synth import formats

# A format-fitting reading wins while its probability is at least this share of the greedy one.
FORMAT_PRIOR = 0.05
# The same where every plate fits a format (`Region.formats_only`).
MANDATORY_FORMAT_PRIOR = 1e-9
# Below this state confidence the state's formats are not trusted to steer the text.
MIN_STATE_CONFIDENCE = 0.5


@dataclass(frozen=True)
class DecodedText:
    text: str
    char_confidences: tuple[float, ...]


def _decode_indices(
    probabilities: np.ndarray, indices: np.ndarray, alphabet: str, pad_index: int
) -> DecodedText:
    kept = [(alphabet[i], float(probabilities[slot, i])) for slot, i in enumerate(indices)]
    kept = [(char, p) for (char, p), i in zip(kept, indices, strict=True) if i != pad_index]
    return DecodedText("".join(c for c, _ in kept), tuple(p for _, p in kept))


def greedy(probabilities: np.ndarray, alphabet: str, pad_char: str) -> DecodedText:
    """The likeliest character per slot; pad slots are dropped wherever they fall."""
    return _decode_indices(
        probabilities, probabilities.argmax(axis=-1), alphabet, alphabet.index(pad_char)
    )


@cache
def _structured_masks(state: str) -> tuple[str, ...]:
    """A state's letter/digit masks, leaving out the all-'A' ones (vanity: anything goes)."""
    if state not in formats.REGIONS:
        return ()
    return tuple(m for m in formats.format_masks(state) if set(m) != {"A"})


@cache
def _class_columns(alphabet: str, pad_char: str) -> dict[str, np.ndarray]:
    letters = [i for i, c in enumerate(alphabet) if c.isalpha() and c != pad_char]
    digits = [i for i, c in enumerate(alphabet) if c.isdigit()]
    return {
        "L": np.array(letters),
        "D": np.array(digits),
        "A": np.array(sorted(letters + digits)),
    }


def _best_for_mask(
    log_probs: np.ndarray, mask: str, columns: dict[str, np.ndarray], pad_index: int
) -> tuple[float, np.ndarray]:
    slots = log_probs.shape[0]
    indices = np.full(slots, pad_index)
    for slot, kind in enumerate(mask):
        allowed = columns[kind]
        indices[slot] = allowed[log_probs[slot, allowed].argmax()]
    return float(log_probs[np.arange(slots), indices].sum()), indices


def decode(
    probabilities: np.ndarray,
    alphabet: str,
    pad_char: str,
    state: str | None = None,
    state_confidence: float = 0.0,
) -> DecodedText:
    """Text for one plate from its (slots, alphabet) probabilities, format-aware when possible."""
    best = greedy(probabilities, alphabet, pad_char)
    if state is None or state_confidence < MIN_STATE_CONFIDENCE:
        return best
    slots = probabilities.shape[0]
    masks = [m for m in _structured_masks(state) if len(m) <= slots]
    if not masks:
        return best
    pad_index = alphabet.index(pad_char)
    log_probs = np.log(np.clip(probabilities, 1e-9, 1.0))
    greedy_score = float(log_probs.max(axis=-1).sum())
    columns = _class_columns(alphabet, pad_char)
    score, indices = max(
        (_best_for_mask(log_probs, mask, columns, pad_index) for mask in masks),
        key=lambda scored: scored[0],
    )
    prior = MANDATORY_FORMAT_PRIOR if formats.region(state).formats_only else FORMAT_PRIOR
    if score < greedy_score + np.log(prior):
        return best
    return _decode_indices(probabilities, indices, alphabet, pad_index)
