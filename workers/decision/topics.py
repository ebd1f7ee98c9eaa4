"""The consequence taxonomy: which high-stakes topics a customer message touches."""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# The regular-expression parser, to read which words a phrase can start with.
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

from workers.decision.policy import TopicRule
from workers.decision.text import normalise

_WORD_RUN = re.compile(r"\w+")
_WORD_CHAR = re.compile(r"\w")


@dataclass(frozen=True, slots=True)
class TopicHit:
    """A topic found in a message, with the words that matched."""

    rule: TopicRule
    matched: str


def _lead_literals(items: Iterable[Any]) -> set[str] | None:
    """Literal word prefixes one of which every match must start with, or None if unknown.

    Works on parsed regular expressions: leading word boundaries and look-arounds are skipped,
    then a run of literal word characters is the prefix; a leading group or alternation gives
    the union of its branches' prefixes.
    """
    prefix = ""
    for op, arg in items:
        skippable = op is sre_constants.AT or op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT)
        if not prefix and skippable:
            continue
        if op is sre_constants.LITERAL and _WORD_CHAR.match(chr(arg)):
            prefix += chr(arg)
            continue
        group = _group_literals(op, arg)
        if prefix:
            # "c(?:ard|heque)" starts with "card" or "cheque": longer prefixes, fewer candidates.
            return {prefix + tail for tail in group} if group else {prefix}
        return group
    return {prefix} if prefix else None


def _group_literals(op: Any, arg: Any) -> set[str] | None:
    """Prefixes of a group or an alternation, or None when it is neither or one is unknown."""
    if op is sre_constants.SUBPATTERN:
        return _lead_literals(arg[-1])
    if op is sre_constants.BRANCH:
        found: set[str] = set()
        for branch in arg[1]:
            branch_prefixes = _lead_literals(branch)
            if branch_prefixes is None:
                return None
            found |= branch_prefixes
        return found
    return None


class Taxonomy:
    """The topics of a policy, compiled once, with an index of the words they start with.

    Most messages touch no topic, and a regular-expression search per topic is the costly
    part, so a topic is only searched when the message has a word that one of its phrases
    can start with (phrases whose start is not a plain word are always searched).
    """

    def __init__(self, topics: Sequence[TopicRule]) -> None:
        self.topics = tuple(topics)
        self._always: list[int] = []
        self._by_start: dict[str, list[tuple[str, int]]] = {}  # keyed by a prefix's first 2 chars
        self._by_letter: dict[str, list[int]] = {}  # one-character prefixes
        for index, rule in enumerate(self.topics):
            leads = [_lead_literals(sre_parse.parse(phrase)) for phrase in rule.phrases]
            if any(lead is None for lead in leads):
                self._always.append(index)
                continue
            prefixes = set().union(*(lead for lead in leads if lead is not None))
            for prefix in prefixes:
                if len(prefix) == 1:
                    self._by_letter.setdefault(prefix, []).append(index)
                else:
                    self._by_start.setdefault(prefix[:2], []).append((prefix, index))

    def candidates(self, folded: str) -> list[int]:
        """Indexes of the topics worth searching in ``folded``, in taxonomy order."""
        found = set(self._always)
        by_start, by_letter = self._by_start, self._by_letter
        for word in set(_WORD_RUN.findall(folded)):
            bucket = by_start.get(word[:2])
            if bucket:
                for prefix, topic in bucket:
                    if word.startswith(prefix):
                        found.add(topic)
            if by_letter and word[0] in by_letter:
                found.update(by_letter[word[0]])
        return sorted(found)

    def find(self, folded: str) -> list[TopicHit]:
        """Every topic whose phrases match ``folded`` (normalised text), in taxonomy order."""
        hits = []
        for index in self.candidates(folded):
            rule = self.topics[index]
            match = rule.pattern.search(folded)
            if match is not None:
                hits.append(TopicHit(rule=rule, matched=match.group(0)))
        return hits

    def find_exhaustively(self, folded: str) -> list[TopicHit]:
        """``find`` without the index: every topic searched (the reference for tests)."""
        hits = []
        for rule in self.topics:
            match = rule.pattern.search(folded)
            if match is not None:
                hits.append(TopicHit(rule=rule, matched=match.group(0)))
        return hits


def find_topics(text: str, topics: Sequence[TopicRule]) -> list[TopicHit]:
    """Every topic whose phrases match ``text``, in taxonomy order."""
    return Taxonomy(topics).find(normalise(text))
