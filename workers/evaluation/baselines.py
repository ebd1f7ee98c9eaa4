"""Simple baselines scored in the same run, so every escalator number has a yardstick.

They are deliberately naive and fixed in advance: a sentiment lexicon for frustration and
keyword patterns for human requests and high-stakes topics. Beating them is the least a
decision rule must do.
"""

import importlib
import re
from typing import Protocol

from workers.errors import EscalatorError

HUMAN_REQUEST_PATTERN = re.compile(
    r"\b(human|agent|person|representative|operator|someone)\b", re.IGNORECASE
)
HIGH_STAKES_PATTERN = re.compile(
    r"\b(fraud\w*|scam\w*|stolen|theft|lost (my )?(card|phone|wallet)|compromised|hacked"
    r"|unauthori[sz]ed|(don'?t|do not) recogni[sz]e|charged twice|double[- ]charged?"
    r"|overcharged|refund\w*|dispute\w*|claims?|accident|cancel\w*)\b",
    re.IGNORECASE,
)

VADER_NEGATIVE_COMPOUND = -0.05
"""VADER's documented cut: a compound score at or below this is negative."""


def keyword_human_request(text: str) -> bool:
    """A person-word anywhere: what a first keyword router would do."""
    return HUMAN_REQUEST_PATTERN.search(text) is not None


def keyword_high_stakes(text: str) -> bool:
    """A fraud, loss, billing-dispute, claim or cancellation word anywhere."""
    return HIGH_STAKES_PATTERN.search(text) is not None


def vader_negativity(compound: float) -> float:
    """Map VADER's compound (-1..1, positive is good) to a 0..1 negativity like frustration."""
    return (1.0 - compound) / 2.0


VADER_THRESHOLD = vader_negativity(VADER_NEGATIVE_COMPOUND)
"""The negativity at which the VADER baseline calls a turn negative (its standard cut)."""


class VaderMissingError(EscalatorError):
    """The VADER baseline needs the ``eval`` extra."""


class _Analyzer(Protocol):
    def polarity_scores(self, text: str) -> dict[str, float]: ...


class Vader:
    """VADER sentiment as a negativity score 0..1.

    Imported at run time: vaderSentiment ships no type information and only ``escalator
    eval`` needs it, so the worker installs without it.
    """

    def __init__(self) -> None:
        try:
            module = importlib.import_module("vaderSentiment.vaderSentiment")
        except ImportError as exc:
            raise VaderMissingError(
                "the VADER baseline is not installed: pip install 'escalator[eval]'"
            ) from exc
        self._analyzer: _Analyzer = module.SentimentIntensityAnalyzer()

    def negativity(self, text: str) -> float:
        """0 for glowing text, 0.5 for neutral, 1 for the most negative."""
        return vader_negativity(self._analyzer.polarity_scores(text)["compound"])
