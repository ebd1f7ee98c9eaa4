"""Per-message frustration: a score 0..1 from explainable lexical cues.

Each cue adds weight; the sum is squashed with ``1 - exp(-weight)`` so that several weak cues
approach, but never exceed, 1. The cues found are returned so a handoff can say why.
"""

import math
import re
from dataclasses import dataclass

from workers.decision.text import normalise, words

NEGATIVE_WORDS = frozenset(
    """
    terrible awful horrible useless ridiculous pathetic unacceptable disgusting worst
    frustrated frustrating frustration annoyed annoying angry furious livid upset fed
    disappointed disappointing hopeless incompetent joke nonsense rubbish garbage
    scam ripoff rip-off waste wasted wasting hate hated stupid dumb broken sick tired
    outrageous appalling shocking insane absurd unbelievable lousy inexcusable
    """.split()
)
PROFANITY = frozenset(
    """
    damn dammit hell crap shit shitty fuck fucking fucked bullshit wtf ffs piss pissed bloody
    """.split()
)
INTENSIFIERS = frozenset("very so extremely absolutely totally really completely utterly".split())
POSITIVE_WORDS = frozenset(
    """
    thanks thank thx great perfect awesome appreciate appreciated helpful wonderful
    excellent brilliant lovely fantastic amazing resolved sorted glad happy
    """.split()
)
# Phrases that carry frustration on their own, whatever the individual words.
PHRASES: tuple[tuple[str, re.Pattern[str], float], ...] = (
    (
        "giving_up",
        re.compile(r"\b(i'?m done|i give up|forget it|never mind|never again|i quit)\b"),
        1.0,
    ),
    (
        "already_said",
        re.compile(
            r"\b(i (already|just) (told|said|gave|explained)|as i (said|told you|mentioned))\b"
        ),
        0.7,
    ),
    ("still_broken", re.compile(r"\b(still|again)\b.{0,30}\b(not|n't|no)\b|\bnot again\b"), 0.5),
    (
        "not_working",
        re.compile(
            r"\b(doesn'?t|does not|isn'?t|is not|not|won'?t|didn'?t|can'?t)"
            r" (work|working|help|helping|helpful)\b"
        ),
        0.6,
    ),
    ("how_many_times", re.compile(r"\bhow many times\b"), 0.8),
    ("waste_of_time", re.compile(r"\bwast(e|ing|ed) (of )?(my )?time\b"), 0.8),
    (
        "sarcasm",
        re.compile(
            r"\b(great|thanks|brilliant|perfect|wonderful)\b,? (thanks )?"
            r"(for nothing|job|that helps)\b"
        ),
        0.9,
    ),
)
NEGATIVE_WEIGHT = 0.45
PROFANITY_WEIGHT = 0.8
INTENSIFIED_BONUS = 0.25
CAPS_WEIGHT = 0.5
PUNCTUATION_WEIGHT = 0.35
POSITIVE_RELIEF = 0.35
_REPEATED_PUNCTUATION = re.compile(r"[!?]{2,}")
_SHOUTED_WORD = re.compile(r"\b[A-Z]{3,}\b")


@dataclass(frozen=True, slots=True)
class FrustrationScore:
    """A message's score and the names of the cues that produced it."""

    score: float
    cues: tuple[str, ...]


def _caps_ratio(text: str) -> float:
    """Share of alphabetic words (three letters or more) written in capitals."""
    candidates = [w for w in re.findall(r"\b[A-Za-z]{3,}\b", text)]
    if len(candidates) < 2:
        return 0.0
    return len(_SHOUTED_WORD.findall(text)) / len(candidates)


def score_message(text: str) -> FrustrationScore:
    """Score one customer message; pure and total (any string gives a score in 0..1)."""
    folded = normalise(text)
    tokens = words(folded)
    weight = 0.0
    cues: list[str] = []

    negatives = 0
    for index, token in enumerate(tokens):
        if token in NEGATIVE_WORDS or token in PROFANITY:
            negatives += 1
            weight += PROFANITY_WEIGHT if token in PROFANITY else NEGATIVE_WEIGHT
            if index and tokens[index - 1] in INTENSIFIERS:
                weight += INTENSIFIED_BONUS
    if negatives:
        cues.append("negative_words")
    if any(t in PROFANITY for t in tokens):
        cues.append("profanity")

    for name, pattern, phrase_weight in PHRASES:
        if pattern.search(folded):
            weight += phrase_weight
            cues.append(name)

    if _caps_ratio(text) >= 0.5:
        weight += CAPS_WEIGHT
        cues.append("shouting")
    if _REPEATED_PUNCTUATION.search(text):
        weight += PUNCTUATION_WEIGHT
        cues.append("repeated_punctuation")

    if "sarcasm" not in cues and any(t in POSITIVE_WORDS for t in tokens):
        weight = max(0.0, weight - POSITIVE_RELIEF)
        cues.append("positive_words")

    score = 1.0 - math.exp(-weight)
    return FrustrationScore(score=round(score, 4), cues=tuple(cues))
