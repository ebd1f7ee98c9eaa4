"""The text helpers every detector shares: ``excerpt``'s fast path for text that is already
flat answers as the general path does, on any text."""

import re

from hypothesis import given
from hypothesis import strategies as st

from workers.decision.text import EXCERPT_CHARS, excerpt

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def flattened(text: str, limit: int) -> str:
    """``excerpt`` without its fast path: controls to spaces, white space runs folded."""
    flat = " ".join(CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


AWKWARD = st.sampled_from(
    ["a", "b", " ", "  ", "\t", "\n", "\x00", "\x7f", "\u00a0", "\u2028", "é"]
)


@given(st.one_of(st.text(), st.lists(AWKWARD).map("".join)), st.integers(2, 2 * EXCERPT_CHARS))
def test_excerpt_is_the_flattened_text_cut_to_its_limit(text: str, limit: int) -> None:
    assert excerpt(text, limit) == flattened(text, limit)


def test_excerpt_cuts_with_an_ellipsis() -> None:
    assert excerpt("word " * 50, 12) == "word word w\u2026"
    assert excerpt("line one\nline\ttwo") == "line one line two"
