"""Heard but not helped: fingerprints of turns and the repetition cues built on them.

A fingerprint is the set of a turn's content words (stop words dropped, crudely stemmed,
capped in number), with numbers, ids and amounts marked so they weigh more: a customer who
repeats "order 48213, charged twice" is restating even when the wording changes.
"""

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from workers.decision.capability import refusal_in
from workers.decision.text import normalise

FACT_MARK = "#"
_AFTER_FACT_MARK = chr(ord(FACT_MARK) + 1)
FACT_WEIGHT = 3.0
MIN_CONTENT_WEIGHT = 4.0

STOP_WORDS = frozenset(
    """
    a about above after again all also am an and any are as at be been before being below
    between both but by can could did do does doing down during each few for from further had
    has have having he her here hers him his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours out over own same she
    should so some such than that the their them then there these they this those through to
    too under until up very was we were what when where which while who whom why will with
    would you your yours yourself ok okay yes yeah please thanks thank hi hello hey sure well
    oh im i'm i've i'd i'll it's that's there's don't didn't can't won't you're let get got
    want need like know one
    """.split()
)
_TOKEN = re.compile(r"[a-z0-9$£€][a-z0-9$£€.,:/'-]*[a-z0-9]|[a-z0-9]")
_HAS_DIGIT = re.compile(r"\d")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
_SUFFIXES = ("ing", "ed", "es", "s")

RESTATEMENT_CUES = re.compile(
    r"\b(?:i (?:already|just) (?:told|said|gave|explained|sent|provided)"
    r"|as i (?:said|told you|mentioned)"
    r"|like i (?:said|told you)|i said|you keep (?:asking|saying|sending|telling)"
    r"|for the (?:second|third|fourth|fifth|\d+(?:st|nd|rd|th)) time|(?:how many times|i repeat)"
    r"|(?:once|yet) again)\b"
)
EMPATHY = re.compile(
    r"\b(?:i (?:completely |totally |really )?understand (?:how|that|your|why|this)"
    r"|i can (?:see|imagine|understand) (?:how|that|why|this)|(?:that|this) must (?:be|feel)"
    r"|(?:i(?:'m| am)|we(?:'re| are)) (?:so |really |very |truly |deeply )?sorry"
    r" (?:to hear|for (?:the|any|your|this) \w+)"
    r"|i apologi[sz]e for (?:the|any) (?:inconvenience|trouble|frustration|confusion)"
    r"|sorry for (?:the|any) (?:inconvenience|trouble|frustration)|i hear you"
    r"|your frustration|how frustrating|i know how (?:frustrating|annoying|stressful))"
)
FALLBACK = re.compile(
    r"\b(?:i didn'?t (?:understand|get|catch) (?:that|you)"
    r"|i(?:'m| am) not sure (?:i understand|what you mean)"
    r"|could you (?:please )?(?:rephrase|reword|say that again)|i don'?t understand"
    r"|sorry,? i (?:didn'?t|did not|don'?t|do not) (?:understand|follow))\b"
)
# What a bot may ask the customer for, and how to recognise that the customer gave it.
ASKS_FOR: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "order_number",
        re.compile(
            r"\b(?:order|booking|reference|confirmation|ticket|case|reservation)"
            r" (?:number|id|code|no\.?|#)"
        ),
    ),
    ("account_number", re.compile(r"\baccount (?:number|id)\b")),
    ("email", re.compile(r"\be-?mail(?: address)?\b")),
    ("phone", re.compile(r"\b(?:phone|mobile|telephone) number\b")),
    ("amount", re.compile(r"\b(?:the )?amount\b|\bhow much\b")),
    ("date", re.compile(r"\b(?:the )?date\b|\bwhen did\b")),
)
_ASKING = re.compile(
    r"\b(?:what(?:'s| is| was) your|could you|can you|would you"
    r"|please (?:provide|share|give|send|confirm|enter|tell)"
    r"|may i have|i(?:'ll| will) need|i need)\b"
)
_MONTH = "(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
# Every fact the customer can give has a digit or an @ in it.
_FACT_HINT = re.compile(r"[\d@]")
GIVES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("order_number", re.compile(r"(?:#\s?\d{3,}|\b[a-z]{0,4}-?\d{4,}\b|\b\d{5,}\b)")),
    ("account_number", re.compile(r"\baccount (?:number |no\.? |#)?(?:is )?[a-z]{0,3}\d{4,}")),
    ("email", re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b")),
    ("phone", re.compile(r"(?:\+?\d[\d ()-]{7,}\d)")),
    (
        "amount",
        re.compile(r"(?:[$£€]\s?\d[\d,.]*|\b\d[\d,.]*\s?(?:dollars|pounds|euros|usd|gbp|eur)\b)"),
    ),
    (
        "date",
        re.compile(
            r"\b(?:\d{1,2}[/-]\d{1,2}(?:[/-]\d{2,4})?"
            rf"|{_MONTH}[a-z]* \d{{1,2}}"
            rf"|\d{{1,2}}(?:st|nd|rd|th)? (?:of )?{_MONTH}[a-z]*)\b"
        ),
    ),
)


@lru_cache(maxsize=1 << 16)
def _key(token: str) -> str:
    """A token's fingerprint key ("" to drop it): facts marked, words crudely stemmed.

    Cached: chat vocabulary repeats, so most tokens are seen before.
    """
    if token in STOP_WORDS:
        return ""
    if _HAS_DIGIT.search(token):
        return FACT_MARK + token.strip(".,:")[:16]
    if len(token) <= 2:
        return ""
    for suffix in _SUFFIXES:
        if len(token) > len(suffix) + 3 and token.endswith(suffix):
            return token[: -len(suffix)][:10]
    return token[:10]


def fingerprint(folded: str, limit: int) -> list[str]:
    """Sorted distinct content tokens of normalised text; facts (tokens with digits) carry
    FACT_MARK, which sorts before every other token character."""
    folded = _URL.sub(" ", folded)
    tokens: set[str] = set()
    for token in _TOKEN.findall(folded):
        key = _key(token)
        if key:
            tokens.add(key)
            if len(tokens) >= limit:
                break
    return sorted(tokens)


def _weight(tokens: Sequence[str]) -> float:
    """Weight of a sorted fingerprint: facts sort first, so a bisection counts them."""
    facts = bisect.bisect_left(tokens, _AFTER_FACT_MARK)
    return len(tokens) + (FACT_WEIGHT - 1.0) * facts


def similarity(first: Sequence[str], second: Sequence[str]) -> float:
    """Weighted Dice overlap of two fingerprints, 0..1 (facts count three times)."""
    if not first or not second:
        return 0.0
    shared = _weight(sorted(set(first).intersection(second)))
    return 2.0 * shared / (_weight(first) + _weight(second))


def most_similar(print_: Sequence[str], earlier: Sequence[Sequence[str]]) -> float:
    """The highest similarity of ``print_`` to any earlier fingerprint."""
    return max((similarity(print_, other) for other in earlier), default=0.0)


def is_substantial(print_: Sequence[str]) -> bool:
    """Enough content to count as a statement (not "yes", "thanks", "ok")."""
    return _weight(print_) >= MIN_CONTENT_WEIGHT


def links(text: str) -> list[str]:
    """URLs in a message, normalised for comparison."""
    return [url.lower().rstrip("/.,") for url in _URL.findall(text)]


def facts_in(folded: str) -> dict[str, list[str]]:
    """Facts the customer gave in normalised text, by kind (order_number, email, amount, ...)."""
    if _FACT_HINT.search(folded) is None:
        return {}
    found = {}
    for kind, pattern in GIVES:
        values = [match.group(0).strip() for match in pattern.finditer(folded)]
        if values:
            found[kind] = values
    return found


def asks_for(folded: str) -> list[str]:
    """Kinds of fact the bot asks for in normalised text."""
    if not _ASKING.search(folded) and "?" not in folded:
        return []
    return [kind for kind, pattern in ASKS_FOR if pattern.search(folded)]


@dataclass(frozen=True, slots=True)
class BotReply:
    """What the loop and gap rules need from a bot message, computed once per distinct text."""

    print_: list[str]
    links: list[str]
    fallback: bool
    empathy: bool
    asks: list[str]
    refusal: str | None


@lru_cache(maxsize=4096)
def bot_reply(text: str, fingerprint_tokens: int) -> BotReply:
    """Analyse a bot message. Cached: bots answer from templates, so texts repeat."""
    folded = normalise(text)
    return BotReply(
        print_=fingerprint(folded, fingerprint_tokens),
        links=links(text),
        fallback=FALLBACK.search(folded) is not None,
        empathy=EMPATHY.search(folded) is not None,
        asks=asks_for(folded),
        refusal=refusal_in(folded),
    )
