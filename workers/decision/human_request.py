"""Requests for a person: explicit ("let me talk to an agent") and indirect ("is there anyone
I can talk to", "I don't want to deal with a machine").

Person words only count in a person sense ("safe for human hair" is not a request), and a
negated request ("no need for an agent") is not one.
"""

import re
from dataclasses import dataclass

from workers.decision.text import normalise

_PERSON = (
    r"(?:a |an |the |your |some |real |actual |live |another )*"
    r"(?:human(?: being| agent)?|person|people|agent|representative|rep|operator|someone|somebody|"
    r"anyone|anybody|manager|supervisor|advisor|adviser|associate|staff|team member|"
    r"customer service|customer support|support team)"
)
_MACHINE = r"(?:a |an |the |this |your )?(?:bot|chatbot|robot|machine|computer|automated \w+|ai)"

PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "explicit_request",
        re.compile(
            r"\b(?:speak|talk|chat|connect|transfer|put|pass|get|escalate|forward|switch|hand)"
            r"(?: me| this| it)?(?: through| over| back)?(?: to| with)\s+" + _PERSON + r"\b"
        ),
    ),
    ("explicit_request", re.compile(r"\b(?:live|real|human) (?:agent|person|support|chat)\b")),
    (
        "explicit_request",
        re.compile(
            r"\b(?:i(?: want| need| would like|'d like)|can i (?:have|get)|give me|get me)\s+"
            + _PERSON
            + r"\b"
        ),
    ),
    (
        "bare_request",
        re.compile(r"^\W*(?:agent|human|representative|operator|person)(?: please)?\W*$"),
    ),
    (
        "rejects_machine",
        re.compile(
            r"\b(?:don'?t|do not|won'?t|will not|not going to|refuse to)"
            r" (?:want to |wish to )?(?:talk|speak|chat|deal) (?:to|with) " + _MACHINE + r"\b"
        ),
    ),
    (
        "asks_if_machine",
        re.compile(
            r"\b(?:are you|is this|am i (?:talking|speaking|chatting) (?:to|with))"
            r" (?:a |an |even a )?"
            r"(?:real person|real human|human being|bot|chatbot|robot|machine)\b"
            r"|\bam i (?:talking|speaking|chatting) (?:to|with) (?:a )?human\b"
            r"|\bare you (?:a )?human\b"
        ),
    ),
    (
        "anyone_there",
        re.compile(r"\bis there (?:anyone|anybody|someone|somebody|a person|a human)\b"),
    ),
)
# A negation shortly before a request cancels it: "no need for an agent", "I don't want a human".
_NEGATED = re.compile(
    r"\b(?:no need|don'?t need|do not need|don'?t want|do not want|no|not|without)\b[^.?!,;]{0,25}$"
)


@dataclass(frozen=True, slots=True)
class HumanRequest:
    """A detected request: the rule name and the words it matched."""

    cue: str
    matched: str


def detect_human_request(text: str) -> HumanRequest | None:
    """The first non-negated request for a person in ``text``, or None."""
    folded = normalise(text)
    for cue, pattern in PATTERNS:
        for match in pattern.finditer(folded):
            if cue != "rejects_machine" and _NEGATED.search(folded[: match.start()]):
                continue
            return HumanRequest(cue=cue, matched=match.group(0))
    return None
