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
from itertools import islice

from workers.decision.capability import refusal_in
from workers.decision.patterns import GatedPattern, gated
from workers.decision.text import normalise
from workers.redaction import PLACEHOLDER, Redactor

FACT_MARK = "#"
_AFTER_FACT_MARK = chr(ord(FACT_MARK) + 1)
FACT_WEIGHT = 3.0
MIN_CONTENT_WEIGHT = 4.0
# Characters a fact token needs (besides FACT_MARK) to count as given again: "1,200", not "3".
MIN_FACT_CHARS = 3

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

# The customer says they are repeating themselves, or that the bot is ("you sent me that
# link already", "same answer as before", "you asked that already"), in plain and in
# non-native English ("i write it already", "is same like before").
_SAID = r"(?:told|said|gave|given|explained|sent|provided|wrote|written|write|typed|mentioned)"
RESTATEMENT_CUES = gated(
    rf"\b(?:i (?:already|just) {_SAID}|i(?:'ve| have)? {_SAID} (?:\S+ ){{0,3}}already"
    rf"|{_SAID} (?:\S+ ){{0,3}}(?:\d|two|three|four|several|many) times"
    r"|as i (?:said|told you|mentioned)"
    r"|like i (?:said|told you)|i said|you keep (?:asking|saying|sending|telling|repeating)"
    r"|you (?:already|just) (?:asked|said|sent|told|gave)"
    r"|(?:asked|said|sent) (?:me )?(?:that|this|it) (?:already|before)"
    r"|ask(?:ing)? (?:again and again|(?:the same|that) (?:thing|question) again)"
    r"|(?:the )?same (?:link|page|answer|reply|message|response|article)"
    r"(?: (?:as|like) (?:before|last time|earlier)| again| twice)?"
    r"|for the (?:second|third|fourth|fifth|\d+(?:st|nd|rd|th)) time|(?:how many times|i repeat)"
    r"|(?:once|yet) again)\b"
)
# The customer says the bot's reply does not help: it rejects the sympathy or the page it
# was sent to ("I don't need you to understand, I need it fixed", "I already read that page",
# "that doesn't answer my question"), or asks who can act when the bot cannot ("so who can?").
REJECTS_REPLY = gated(
    r"\b(?:(?:i )?(?:don'?t|do not) (?:need|want) (?:your |the |a |an |you to |more |another )?"
    r"(?:\S+ ){0,3}?(?:sympathy|understand\w*|apolog\w*|sorry|polic\w*|link|page|article|faq"
    r"|website|help page|advice)"
    r"|(?:that|this|it|the (?:page|link|article|faq|website)) (?:doesn'?t|does not|didn'?t"
    r"|did not|won'?t|will not) (?:help|answer|say|cover|explain|solve|fix|tell me)"
    r"|(?:that|this|it)(?:'s| is) not (?:an? )?(?:answer|what i asked|helpful|help)"
    r"|is not answer|not what i (?:asked|meant)"
    r"|(?:didn'?t|did not|doesn'?t|does not) answer (?:my|the) question"
    r"|i (?:already |have already |'ve already )?(?:read|tried|checked|looked at|seen|did)"
    r" (?:that|the|this|your) (?:page|link|article|faq|website|help page|steps?)"
    r"|(?:saying |say )?sorry (?:doesn'?t|does not|won'?t|will not) (?:help|fix|solve)"
    r"|stop (?:saying sorry|apologi[sz]ing)|(?:but|and) nothing (?:happens?|happened|changes?"
    r"|changed|is done|gets done|was done)"
    r"|(?:is|are|will) (?:anyone|anybody|someone|somebody) (?:actually |ever |even |really )?"
    r"(?:going to|gonna|do|fix|find|help|look|sort|call)\b"
    r"|is (?:anything|something) (?:actually |even )?being done"
    r"|\bwho (?:else )?(?:can|could|will|is going to)?(?: then)?\s*(?:(?:fix|sort|solve|help|do"
    r"|handle|deal with|remove|change|refund|cancel)\b(?: (?:it|this|that|me))?)?\s*(?:then)?\?)"
)
# Exaggerated praise: right after the bot failed again (a repeat, a re-ask, hollow empathy, a
# help link on a consequential topic) it is sarcasm ("oh brilliant, that cleared it all up").
PRAISE = gated(
    r"\b(?:wow|amazing|brilliant|wonderful|fantastic|fabulous|awesome|superb|excellent"
    r"|marvell?ous|genius|great job|well done|(?:so|very|really|super) (?:helpful|useful)"
    r"|lov(?:e|ing) (?:this|it)|cleared (?:everything|it all|that|it) up"
    r"|(?:will|would) (?:definitely|surely) (?:work|help)|thanks? (?:\S+ ){0,2}for nothing)\b"
)
_EARNESTLY = r"(?:(?:completely|totally|really|truly|fully|absolutely|definitely|do) )?"
EMPATHY = gated(
    rf"\b(?:i {_EARNESTLY}understand (?:how|that|your|why|this|what)"
    r"|i can (?:only )?(?:see|imagine|understand) (?:how|that|why|this|what)"
    r"|(?:that|this) must (?:be|feel)"
    r"|(?:i(?:'m| am)|we(?:'re| are)) (?:so |really |very |truly |deeply |terribly )?sorry"
    r" (?:to hear|for (?:the|any|your|this) \w+|(?:that|about) |your \w+)"
    r"|i apologi[sz]e for (?:the|any) (?:inconvenience|trouble|frustration|confusion)"
    r"|sorry for (?:the|any) (?:inconvenience|trouble|frustration)|i hear you"
    r"|your frustration|how frustrating|i know how (?:frustrating|annoying|stressful))"
)
FALLBACK = gated(
    r"\b(?:i didn'?t (?:understand|get|catch) (?:that|you)"
    r"|i(?:'m| am) not sure (?:i understand|what you mean)"
    r"|could you (?:please )?(?:rephrase|reword|say that again)|i don'?t understand"
    r"|sorry,? i (?:didn'?t|did not|don'?t|do not) (?:understand|follow))\b"
)
_DONE = (
    r"(?:processed|refunded|cancel+ed|updated|issued|approved|sent|resolved|fixed|completed"
    r"|reversed|credited|changed|reset|booked|rebooked|submitted|scheduled|confirmed|removed"
    r"|unlocked|unblocked|reactivated|activated|applied|added|waived|paid|transferred|moved"
    r"|rescheduled"
    r"|returned|replaced|arranged|upgraded|renewed|extended|closed|deleted|restored)"
)
# A bot telling the customer something was done ("your refund has been processed", "I've
# cancelled the order", "done!"): checked against the action events for a say-do mismatch.
CLAIMS_SUCCESS = gated(
    rf"\b(?:(?:has|have) (?:now )?been (?:successfully )?{_DONE}"
    rf"|i(?:'ve| have) (?:now |just |successfully )?{_DONE}"
    r"|(?:was|is|went through) successful(?:ly)?|successfully|all (?:done|set|sorted)"
    r"|(?:is|are) (?:now )?(?:on (?:its|their) way|confirmed|sorted|fixed|active|cancel+ed)"
    r"|(?:that(?:'s| is)|it(?:'s| is)) (?:done|sorted|taken care of))\b"
)
# What a bot may ask the customer for, and how to recognise that the customer gave it.
ASKS_FOR: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "order_number",
        re.compile(
            r"\b(?:order|booking|reference|confirmation|ticket|case|reservation)"
            r" (?:number|id|code|no\.?|#|reference)|\breference\b"
        ),
    ),
    ("account_number", re.compile(r"\baccount (?:number|id)\b")),
    ("email", re.compile(r"\be-?mail(?: address)?\b")),
    ("phone", re.compile(r"\b(?:phone|mobile|telephone) number\b")),
    ("amount", re.compile(r"\b(?:the )?amount\b|\bhow much\b")),
    ("date", re.compile(r"\b(?:the )?date\b|\bwhen did\b")),
)
_ASKING = gated(
    r"\b(?:what(?:'s| is| was) your|could you|can you|would you"
    r"|please (?:provide|share|give|send|confirm|enter|tell)"
    r"|may i have|i(?:'ll| will) need|i need)\b"
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = f"(?:{'|'.join(_MONTHS)})"
# Every fact the customer can give has a digit, an @ or a redaction placeholder's "[" in it.
_FACT_HINT = re.compile(r"[\d@\[]")
# Per kind of fact, its pattern, scanned only when the message has one of the strings every
# match contains (given by hand where they are no plain literal; tests/unit/test_loops.py).
GIVES: tuple[tuple[str, GatedPattern], ...] = (
    (
        "order_number",
        # "#4821", "ORD-10001", "48213", and booking codes that mix letters and digits: "QX7TRL".
        # The word-start branches sit behind one look-ahead for the digit each needs, which
        # rules most word starts out at once; tests/unit/test_loops.py holds the branch-by-
        # branch form and shows the two find the same.
        gated(
            r"#\s?\d{3,}|\b(?=[\w-]*\d)(?:[a-z]{0,4}-?\d{4,}\b|\d{5,}\b"
            r"|(?=[a-z]*\d)(?=\d*[a-z])[a-z\d]{6,10}\b)"
        ),
    ),
    ("account_number", gated(r"\baccount (?:number |no\.? |#)?(?:is )?[a-z]{0,3}\d{4,}")),
    ("email", gated(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b", gate=("@",))),
    ("phone", gated(r"(?:\+?\d[\d ()-]{7,}\d)")),
    (
        "amount",
        gated(
            r"(?:[$£€]\s?\d[\d,.]*|\b\d[\d,.]*\s?(?:dollars|pounds|euros|usd|gbp|eur)\b)",
            gate=("$", "£", "€", "dollars", "pounds", "eur", "usd", "gbp"),
        ),
    ),
    (
        "date",
        gated(
            r"\b(?:\d{1,2}[/-]\d{1,2}(?:[/-]\d{2,4})?"
            rf"|{_MONTH}[a-z]* \d{{1,2}}(?:st|nd|rd|th)?"
            rf"|\d{{1,2}}(?:st|nd|rd|th)? (?:of )?{_MONTH}[a-z]*)\b",
            gate=("/", "-", *_MONTHS),
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
    if "http" in folded or "www." in folded:  # normalised text is lower case
        folded = _URL.sub(" ", folded)
    keys = dict.fromkeys(filter(None, map(_key, _TOKEN.findall(folded))))
    return sorted(islice(keys, limit))


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
    """The highest similarity of ``print_`` to any earlier fingerprint: ``similarity``, with
    the shared weight counted from set sizes (the shared facts are ``print_``'s facts found
    in the other print) instead of sorting each intersection."""
    if not print_:
        return 0.0
    tokens, weight = set(print_), _weight(print_)
    facts = set(print_[: bisect.bisect_left(print_, _AFTER_FACT_MARK)])
    best = 0.0
    for other in earlier:
        if other:
            shared = len(tokens.intersection(other)) + (FACT_WEIGHT - 1.0) * (
                len(facts.intersection(other)) if facts else 0
            )
            best = max(best, 2.0 * shared / (weight + _weight(other)))
    return best


def shares_a_fact(print_: Sequence[str], earlier: Sequence[Sequence[str]]) -> bool:
    """Whether a fact of ``print_`` (a token with digits, of ``MIN_FACT_CHARS`` or more, so an
    amount or a reference, not "3 days") is in an earlier fingerprint: the customer gives
    again what they gave before."""
    if not print_ or print_[0] >= _AFTER_FACT_MARK:
        return False  # no fact: facts sort first
    given = {
        token
        for token in print_[: bisect.bisect_left(print_, _AFTER_FACT_MARK)]
        if len(token) > MIN_FACT_CHARS
    }
    return bool(given) and any(not given.isdisjoint(other) for other in earlier)


def is_substantial(print_: Sequence[str]) -> bool:
    """Enough content to count as a statement (not "yes", "thanks", "ok")."""
    return _weight(print_) >= MIN_CONTENT_WEIGHT


def links(text: str, folded: str) -> list[str]:
    """URLs in a message (``folded`` is ``normalise(text)``), normalised for comparison. Every
    URL has "://" or, in any case, "www.": without them the scan is skipped."""
    if "://" not in text and "www." not in folded:
        return []
    return [url.lower().rstrip("/.,") for url in _URL.findall(text)]


def facts_in(folded: str) -> dict[str, list[str]]:
    """Facts the customer gave in normalised (and redacted) text, by kind (order_number, email,
    amount, ...). A redaction placeholder is a fact of its kind ("[email]", "[card …4242]"),
    and no other pattern looks inside one: a card's last four is no order number."""
    if _FACT_HINT.search(folded) is None:
        return {}
    found: dict[str, list[str]] = {}
    if "[" in folded:
        for match in PLACEHOLDER.finditer(folded):
            found.setdefault(match["kind"], []).append(match.group())
        folded = PLACEHOLDER.sub(" ", folded)
    for kind, pattern in GIVES:
        if values := pattern.findall(folded):  # whole matches: the patterns have no groups
            found.setdefault(kind, []).extend(value.strip() for value in values)
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
    states: frozenset[str]
    """The kinds of fact the reply states, read only when it asks for some (a confirmation
    repeats the value it asks about); empty otherwise, as reading them is half the cost."""
    refusal: str | None
    claims_success: bool


@lru_cache(maxsize=4096)
def bot_reply(text: str, fingerprint_tokens: int, redactor: Redactor) -> BotReply:
    """Analyse a bot message, its personal data (an echoed e-mail, a phone) redacted first so
    no fragment of it becomes a fingerprint token. Cached: bots answer from templates, so
    texts repeat."""
    folded = normalise(redactor.redact(text))
    asks = asks_for(folded)
    return BotReply(
        print_=fingerprint(folded, fingerprint_tokens),
        links=links(text, folded),
        fallback=FALLBACK.search(folded) is not None,
        empathy=EMPATHY.search(folded) is not None,
        asks=asks,
        states=frozenset(facts_in(folded)) if asks else frozenset(),
        refusal=refusal_in(folded),
        claims_success=CLAIMS_SUCCESS.search(folded) is not None,
    )
