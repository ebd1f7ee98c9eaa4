"""The consequence taxonomy: which high-stakes topics a customer message touches."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

from workers.decision.patterns import phrase_lead_literals
from workers.decision.policy import TopicRule
from workers.decision.text import normalise

_WORD_RUN = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class TopicHit:
    """A topic found in a message, with the words that matched."""

    rule: TopicRule
    matched: str
    learned: bool = False
    """Found by the learned model rather than a phrase (``matched`` names its strongest cues)."""


# -- hypothetical questions ------------------------------------------------------------------
#
# "What if my card is stolen?", "do you cover fraud?", "how would I report a lost card if it
# happens" ask about cover or procedure; nothing has happened. A topic hit is hypothetical when
# the sentence it is in has a hypothetical frame (below) and the message reports nothing:
# - no sentence outside a frame has an incident verb, a finite past or present-perfect verb
#   ("someone used", "was stolen", "I've lost", "the atm took", "they charged me"), or
#   payments there to be seen ("there are 3 payments I don't know");
# - no frame holds the customer's own past ("what do I do if I've lost my card"); a past
#   after "what if" about someone else is a subjunctive ("what if someone used my card?");
# - no first-person intention ("if you don't fix this I'll go to the ombudsman" is a threat).
# "What do I do, my card was stolen" and "my card got stolen, what now?" have no frame and
# count. "What should I do if ..." is not a frame: it is how people in the situation ask.
#
# A frame covers its clause and what follows ("my mother is in hospital, what happens if I
# miss the flight" keeps "hospital"); "if it happens", "if ever" cover the whole sentence.
# Hits are ignored only when every hit of the message is hypothetical, so a message that also
# reports something real keeps all of them. Topics at the top of the scale (consequence 1.0:
# self-harm, hardship, abuse, essential health) are never discounted: "what happens if I
# can't pay my rent" is usually asked by someone who cannot.

# A frame that opens a clause and covers what follows it: "what if ...", "do you cover ...",
# "am I protected if ...", "in case ...", "if my card ...". "If you ..." is a threat, not one.
_LEADING_FRAME = re.compile(
    r"(?:^|[,:] |- |\b(?:and|but|so|also|or) )"
    r"(?:(?:hi|hello|hey|ok|okay|so|and|but|also|just|quick question|a question|i was wondering"
    r"|i'?m wondering|just wondering|wondering|can you tell me|could you tell me|tell me"
    r"|i'?d like to know|i want to know)\W+){0,3}"
    r"(?:what (?:if|happens? (?:if|when)|would happen|will happen (?:if|when))\b"
    r"|(?:just )?in case\b|in the event (?:of|that)\b|hypothetically\b"
    r"|(?:am i|are we|are you|would i be|will i be|is (?:my|the|your) \w+)"
    r" (?:covered|protected|insured|liable)\b"
    r"|do you (?:cover|offer|provide|insure|protect|reimburse|refund)\b"
    r"|does (?:the|your|my|this|a|an) (?:\w+ ){0,2}?(?:cover|include|protect|insure)\b"
    r"|(?:is|are) there (?:any )?(?:\w+ )?(?:cover|coverage|protection|insurance|guarantee)\b"
    r"|what (?:kind of |type of |sort of |level of )?(?:\w+ ){0,2}?(?:cover|coverage"
    r"|protection|insurance|guarantee|policy|policies)s? (?:do|does|would|will|is|are|can"
    r"|should|on|for)\b"
    r"|how (?:would|could|should) (?:i|we|you)\b"
    r"|suppos(?:e|ing)\b"
    r"|(?:if|should) (?:my|our|a|an|the|someone|somebody|anyone|i|we|it|there|this|that)\b)"
)
# A frame that covers its whole sentence wherever it stands: "how do I report a lost card if
# it happens", "if my phone is ever stolen".
_SCOPED_FRAME = re.compile(
    r"\bif (?:it|that|this|that ever|this ever|it ever) (?:ever )?happens\b"
    r"|\bif ever\b|\bjust in case\b|\bhypothetically\b|\bif\b[^,.?!]{0,40}\bever\b"
)
_INTENTION = re.compile(
    r"\b(?:i'?ll|i will|i shall|we'?ll|we will|(?:i'?m|i am|we'?re|we are) going to|gonna"
    r"|unless|(?:i'?m|i am|we'?re|we are) (?:disputing|reporting|leaving|cancel+ing|closing"
    r"|switching|filing|contacting|calling|complaining|escalating|suing|taking))\b"
)
# A subject asked about ("am I covered", "would you refund") is not a subject that did something.
_NOT_ASKED = r"(?<!am )(?<!are )(?<!is )(?<!would )(?<!will )(?<!can )(?<!could )(?<!do )(?<!does )"
_PAST = (
    r"(?:[a-z]+(?<!e)ed|stole|stolen|took|taken|lost|made|spent|withdrew|withdrawn|got|gotten"
    r"|went|gone|saw|seen|did|done|gave|given|found|left|sent|paid|bought|broke|broken|fell"
    r"|forgot|forgotten|hit|came|ran)\b"
)
_ADVERBS = (
    r"(?:(?:just|already|recently|never|actually|definitely|apparently|also|even|then|now|else"
    r"|been) ){0,3}"
)
# Something happened: a finite past or present-perfect verb ("someone used", "was stolen",
# "I've lost", "the atm took", "they charged me"), or payments there to be seen.
_INCIDENT = re.compile(
    r"\b" + _NOT_ASKED + r"(?:i|we|you|they|he|she|someone|somebody|anyone|anybody|has|have"
    r"|had|was|were|got|been|'ve|i've|we've|'s been|hasn'?t|haven'?t|hadn'?t|wasn'?t|weren'?t) "
    + _ADVERBS
    + _PAST
    + r"|\b(?:stole|took|withdrew|went|gave|broke|fell|forgot|ran|came)\b"
    r"|\b[a-z]+(?<!e)ed (?:me|us)\b"
    r"|\bthere(?:'s| is| are| were| was) (?:\S+ ){0,3}?(?:payments?|transactions?|charges?"
    r"|withdrawals?|purchases?|debits?|transfers?|log ?ins?)\b"
)
# Inside a hypothetical frame, "what if someone used my card" is a subjunctive; only the
# customer's own past counts there ("what do I do if I've lost my card", "my card was stolen").
_OWN_INCIDENT = re.compile(
    r"\b"
    + _NOT_ASKED
    + r"(?:i|we)(?:'ve| have| had)? "
    + _ADVERBS
    + _PAST
    + r"|\b(?:my|our) (?:\S+ ){1,3}?(?:was|were|(?:has|have|had) been|got|'s been) "
    + _ADVERBS
    + _PAST
)
_SENTENCE_END = re.compile(r"[.!?;]+(?=\s|$)")
HYPOTHETICAL_EXEMPT_CONSEQUENCE = 1.0
_IF = re.compile(r"\bif\b")


def _sentences(folded: str) -> list[tuple[int, int]]:
    """Spans of the sentences of ``folded``."""
    spans, start = [], 0
    for end in _SENTENCE_END.finditer(folded):
        spans.append((start, end.end()))
        start = end.end()
    if start < len(folded):
        spans.append((start, len(folded)))
    return spans


def frame_start(sentence: str) -> int | None:
    """Where the hypothetical frame of a sentence begins (0 when it covers all of it), or None."""
    if _SCOPED_FRAME.search(sentence):
        return 0
    match = _LEADING_FRAME.search(sentence)
    return None if match is None else match.start()


def reports_something(folded: str) -> bool:
    """Whether a message reports something that happened or says what the customer will do:
    an incident verb outside hypothetical frames, the customer's own past inside one, or a
    first-person intention."""
    if _INTENTION.search(folded):
        return True
    for start, end in _sentences(folded):
        sentence = folded[start:end].strip()
        framed_from = frame_start(sentence)
        if framed_from is None:
            framed_from = len(sentence)
        if _INCIDENT.search(sentence, 0, framed_from) or _OWN_INCIDENT.search(
            sentence, framed_from
        ):
            return True
    return False


def _may_be_hypothetical(folded: str) -> bool:
    return _IF.search(folded) is not None or _LEADING_FRAME.search(folded) is not None


def _frames(folded: str) -> list[tuple[int, int]]:
    """Where each hypothetical frame begins and where its sentence ends."""
    framed = []
    for start, end in _sentences(folded):
        offset = len(folded[start:end]) - len(folded[start:end].lstrip())
        begins = frame_start(folded[start:end].strip())
        if begins is not None:
            framed.append((start + offset + begins, end))
    return framed


class Taxonomy:
    """The topics of a policy, compiled once, with an index of the words their phrases start with.

    Most messages touch no topic, and a regular-expression search is the costly part, so only
    the phrases whose first word the message has are searched (phrases whose start is not a
    plain word are always searched). A topic with several candidate phrases is searched with
    one alternation of just those, compiled once and cached, as is the list of searches for each
    set of candidates.
    """

    _CACHE_LIMIT = 4096
    _WORD_CACHE_LIMIT = 65536

    def __init__(self, topics: Sequence[TopicRule]) -> None:
        self.topics = tuple(topics)
        self._always: dict[int, list[int]] = {}
        self._patterns: dict[tuple[int, tuple[int, ...]], re.Pattern[str]] = {}
        self._plans: dict[frozenset[tuple[int, int]], list[tuple[TopicRule, re.Pattern[str]]]] = {}
        self._word_cache: dict[str, tuple[tuple[int, int], ...]] = {}
        self._inert: set[str] = set()
        by_prefix: dict[str, list[tuple[int, int]]] = {}
        for index, rule in enumerate(self.topics):
            for phrase_index, phrase in enumerate(rule.phrases):
                lead = phrase_lead_literals(phrase)
                if lead is None:
                    self._always.setdefault(index, []).append(phrase_index)
                    continue
                for prefix in lead:
                    by_prefix.setdefault(prefix, []).append((index, phrase_index))
        self._underscored = any("_" in prefix for prefix in by_prefix)
        # Prefixes keyed by their first 2 characters; one-character prefixes apart.
        self._by_start: dict[str, list[tuple[str, tuple[tuple[int, int], ...]]]] = {}
        self._by_letter: dict[str, tuple[tuple[int, int], ...]] = {}
        for prefix, targets in by_prefix.items():
            if len(prefix) == 1:
                self._by_letter[prefix] = tuple(targets)
            else:
                self._by_start.setdefault(prefix[:2], []).append((prefix, tuple(targets)))

    def _word_targets(self, word: str) -> tuple[tuple[int, int], ...]:
        """The (topic, phrase) pairs that can start at ``word``; cached, words recur (a word
        that starts no phrase, as most do, goes to ``_inert`` instead)."""
        targets = self._word_cache.get(word)
        if targets is None:
            found: list[tuple[int, int]] = []
            for prefix, pairs in self._by_start.get(word[:2], ()):
                if word.startswith(prefix):
                    found.extend(pairs)
            found.extend(self._by_letter.get(word[0], ()))
            targets = tuple(found)
            if len(self._word_cache) + len(self._inert) < self._WORD_CACHE_LIMIT:
                if targets:
                    self._word_cache[word] = targets
                else:
                    self._inert.add(word)
        return targets

    def _words(self, folded: str, tokens: list[str] | None) -> set[str]:
        """The distinct ``\\w+`` runs of ``folded``, or, for ASCII text with its ``words``
        tokens at hand, those tokens split at apostrophes: the same runs less underscores, which
        no phrase prefix has, so no candidate is lost (a few more may be searched)."""
        if tokens is None or self._underscored or not folded.isascii():
            return set(_WORD_RUN.findall(folded))
        return set(" ".join(tokens).replace("'", " ").split())

    def _candidate_key(self, folded: str, tokens: list[str] | None) -> frozenset[tuple[int, int]]:
        """The (topic, phrase) pairs that can start at one of ``folded``'s words."""
        words = self._words(folded, tokens).difference(self._inert)
        return frozenset(chain.from_iterable(map(self._word_targets, words)))

    def _searches(self, key: frozenset[tuple[int, int]]) -> list[tuple[TopicRule, re.Pattern[str]]]:
        """The searches for the candidate pairs ``key`` (and the phrases always searched): one
        pattern per topic, in taxonomy order. Cached: messages share their candidate sets."""
        searches = self._plans.get(key)
        if searches is None:
            found: dict[int, set[int]] = {topic: set(p) for topic, p in self._always.items()}
            for topic, phrase in key:
                found.setdefault(topic, set()).add(phrase)
            searches = [(self.topics[i], self._pattern(i, found[i])) for i in sorted(found)]
            if len(self._plans) < self._CACHE_LIMIT:
                self._plans[key] = searches
        return searches

    def candidates(self, folded: str) -> list[int]:
        """Indexes of the topics worth searching in ``folded``, in taxonomy order."""
        return sorted({*self._always, *(topic for topic, _ in self._candidate_key(folded, None))})

    def _pattern(self, topic: int, phrases: set[int]) -> re.Pattern[str]:
        rule = self.topics[topic]
        if len(phrases) == len(rule.phrases):
            return rule.pattern
        key = (topic, tuple(sorted(phrases)))
        pattern = self._patterns.get(key)
        if pattern is None:
            if len(self._patterns) >= self._CACHE_LIMIT:
                return rule.pattern  # the same hits, found a little more slowly
            pattern = re.compile("|".join(f"(?:{rule.phrases[i]})" for i in key[1]))
            self._patterns[key] = pattern
        return pattern

    def find(self, folded: str, tokens: list[str] | None = None) -> list[TopicHit]:
        """Every topic whose phrases match ``folded`` (normalised text), in taxonomy order,
        unless every hit is inside a hypothetical question (see ``is_hypothetical_sentence``).
        ``tokens`` is ``words(folded)`` when the caller already has it."""
        return _keep_real(folded, self._searches(self._candidate_key(folded, tokens)))

    def find_exhaustively(self, folded: str) -> list[TopicHit]:
        """``find`` without the index: every topic searched (the reference for tests)."""
        return _keep_real(folded, [(rule, rule.pattern) for rule in self.topics])


def _keep_real(folded: str, searches: list[tuple[TopicRule, re.Pattern[str]]]) -> list[TopicHit]:
    """The hits of ``searches`` in ``folded``, or none when all are hypothetical."""
    found = []
    for rule, pattern in searches:
        match = pattern.search(folded)
        if match is not None:
            found.append((rule, pattern, match))
    hits = [TopicHit(rule=rule, matched=match.group(0)) for rule, _, match in found]
    if not hits or not _may_be_hypothetical(folded):
        return hits
    framed = _frames(folded)
    if not framed or reports_something(folded):
        return hits

    for rule, pattern, _first in found:
        if rule.consequence >= HYPOTHETICAL_EXEMPT_CONSEQUENCE:
            return hits
        # Real when a match starts outside every frame: the leftmost match from the start of
        # each stretch between frames tells, however many matches the message has.
        for start, end in _outside(framed, len(folded)):
            match = pattern.search(folded, start)
            if match is not None and match.start() < end:
                return hits
    return []


def _outside(framed: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """The stretches of a message of ``length`` characters that no frame covers."""
    stretches, position = [], 0
    for start, end in sorted(framed):
        if start > position:
            stretches.append((position, start))
        position = max(position, end)
    if position < length:
        stretches.append((position, length))
    return stretches


def find_topics(text: str, topics: Sequence[TopicRule]) -> list[TopicHit]:
    """Every topic whose phrases match ``text``, in taxonomy order."""
    return Taxonomy(topics).find(normalise(text))


def hypothetical(folded: str) -> bool:
    """Whether a message only asks what would happen ("what if my card is stolen?") and reports
    nothing: the test the learned topic model's findings pass, as phrase hits do in ``find``."""
    return _may_be_hypothetical(folded) and bool(_frames(folded)) and not reports_something(folded)
