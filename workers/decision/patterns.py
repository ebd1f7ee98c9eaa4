"""What a regular expression's matches must contain, read from the pattern itself.

Python's ``re`` tries an alternation of phrases at every position of a message, so a cue list
like "I already told you | as I said | same link again | ..." costs a full scan even when the
message has none of its words. ``GatedPattern`` first checks for substrings one of which every
match must contain (read from the parsed pattern, never written by hand) and scans only when
one is there: the same matches, most messages ruled out by a few ``in`` tests.

Reading a pattern's structure needs the regular-expression parser, ``re._parser``, which is
private; this is the one module that uses it (``Taxonomy`` asks it for the words a phrase
can start with). ``tests/unit/test_patterns.py`` checks the gates of the shipped patterns on
generated text, so a parser change that breaks them fails there.
"""

import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from re import _constants as sre_constants  # type: ignore[attr-defined]  # isort: skip
from re import _parser as sre_parse  # type: ignore[attr-defined]  # isort: skip

MIN_GATE_CHARS = 3
"""A gate string shorter than this ("i ", "a") is in nearly every message: no gate is used."""

COMMON_WORDS = frozenset(
    "the that this these those you your it its is are was not and but for with have has can will"
    " what when how who why don".split()
)
"""Words in most messages: a gate of them rules little out, so another is chosen if any."""

_WORD_CHAR = re.compile(r"\w")
_ZERO_WIDTH = (sre_constants.AT, sre_constants.ASSERT, sre_constants.ASSERT_NOT)
_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT)


def required_substrings(pattern: re.Pattern[str]) -> tuple[str, ...] | None:
    """Strings one of which every match of ``pattern`` contains, or None when none are known
    (a case-insensitive pattern, or a branch that can match without a literal of 3+ chars)."""
    if pattern.flags & re.IGNORECASE:
        return None
    gate = _sequence_gate(sre_parse.parse(pattern.pattern, pattern.flags))
    return tuple(sorted(gate)) if gate else None


def _sequence_gate(items: Iterable[tuple[Any, Any]]) -> frozenset[str] | None:
    """The most selective gate among a sequence's literal runs and required parts."""
    candidates: list[frozenset[str]] = []
    run = ""
    for op, arg in items:
        if op is sre_constants.LITERAL:
            run += chr(arg)
            continue
        if len(run) >= MIN_GATE_CHARS:
            candidates.append(frozenset([run]))
        run = ""
        if op in _ZERO_WIDTH:
            continue
        found = _part_gate(op, arg)
        if found:
            candidates.append(found)
    if len(run) >= MIN_GATE_CHARS:
        candidates.append(frozenset([run]))
    if not candidates:
        return None
    return max(candidates, key=_selectivity)


def _selectivity(gate: frozenset[str]) -> tuple[bool, int, int]:
    """Rank gates: no common word first, then the longest shortest string, then the fewest."""
    common = any(part.strip() in COMMON_WORDS for part in gate)
    return (not common, min(map(len, gate)), -len(gate))


def _part_gate(op: Any, arg: Any) -> frozenset[str] | None:
    """The gate of a group, an alternation or a repeat that must occur at least once."""
    if op is sre_constants.SUBPATTERN:
        add_flags = arg[1]
        return None if add_flags & re.IGNORECASE else _sequence_gate(arg[-1])
    if op is sre_constants.BRANCH:
        union: set[str] = set()
        for branch in arg[1]:
            found = _sequence_gate(branch)
            if not found:
                return None
            union |= found
        return frozenset(union)
    if op in _REPEATS and arg[0] >= 1:
        return _sequence_gate(arg[2])
    return None


class GatedPattern:
    """A compiled pattern that skips the scan when a message lacks every required substring.

    ``search``, ``finditer`` and ``findall`` answer exactly as the pattern's own do. ``gate``
    names the substrings when the pattern's are not plain literals the parser can read (an
    ``@``, a character class of currency signs); the caller's tests must then show it never
    hides a match.
    """

    __slots__ = ("_screen", "gate", "pattern")

    def __init__(self, pattern: re.Pattern[str], gate: tuple[str, ...] | None = None) -> None:
        self.pattern = pattern
        self.gate = gate or required_substrings(pattern)
        self._screen = screen(self.gate) if self.gate else None

    def possible(self, text: str) -> bool:
        """False only when no match can exist in ``text``."""
        return self._screen is None or self._screen.search(text) is not None

    def search(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.pattern.search(text, pos, endpos) if self.possible(text) else None

    def finditer(
        self, text: str, pos: int = 0, endpos: int = sys.maxsize
    ) -> Iterator[re.Match[str]]:
        return self.pattern.finditer(text, pos, endpos) if self.possible(text) else iter(())

    def findall(self, text: str) -> list[Any]:
        return self.pattern.findall(text) if self.possible(text) else []


def screen(gate: Iterable[str]) -> re.Pattern[str]:
    """One literal alternation finding any of ``gate`` in a single scan: faster than an ``in``
    test per string, on the shipped gates of 1 to 45 strings. A string that contains another is
    left out (where it occurs, so does the shorter one)."""
    kept = {part for part in gate if not any(other != part and other in part for other in gate)}
    return re.compile("|".join(map(re.escape, sorted(kept, key=lambda part: (-len(part), part)))))


def gated(source: str, flags: int = 0, gate: tuple[str, ...] | None = None) -> GatedPattern:
    """``re.compile(source, flags)`` behind its gate (read from it unless ``gate`` is given)."""
    return GatedPattern(re.compile(source, flags), gate)


def lead_literals(items: Iterable[Any]) -> set[str] | None:
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


def phrase_lead_literals(phrase: str) -> set[str] | None:
    """``lead_literals`` of a phrase's source text."""
    return lead_literals(sre_parse.parse(phrase))


def _group_literals(op: Any, arg: Any) -> set[str] | None:
    """Prefixes of a group or an alternation, or None when it is neither or one is unknown."""
    if op is sre_constants.SUBPATTERN:
        return lead_literals(arg[-1])
    if op is sre_constants.BRANCH:
        found: set[str] = set()
        for branch in arg[1]:
            branch_prefixes = lead_literals(branch)
            if branch_prefixes is None:
                return None
            found |= branch_prefixes
        return found
    return None
