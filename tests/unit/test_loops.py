"""The customer's facts: each kind found, and the substring gates never hide a match."""

import re

from hypothesis import example, given
from hypothesis import strategies as st

from workers.decision import loops
from workers.decision.loops import FACT_MARK, GIVES, facts_in, most_similar, similarity
from workers.decision.text import normalise


def _every_pattern(folded: str) -> dict[str, list[str]]:
    """facts_in without its gates: every pattern scanned."""
    found = {}
    for kind, gated_pattern in GIVES:
        values = [match.group(0).strip() for match in gated_pattern.pattern.finditer(folded)]
        if values:
            found[kind] = values
    return found


def test_each_kind_of_fact_is_found() -> None:
    folded = normalise(
        "Order #48213, account number 12345678, jane@example.com, call +44 7700 900123, "
        "I paid $45.99 on 3rd of March"
    )
    found = facts_in(folded)
    assert found["order_number"][0] == "#48213"
    assert found["account_number"] == ["account number 12345678"]
    assert found["email"] == ["jane@example.com"]
    assert "+44 7700 900123" in found["phone"]
    assert found["amount"] == ["$45.99"]
    assert found["date"] == ["3rd of march"]


def test_text_without_digits_or_at_has_no_facts() -> None:
    assert facts_in(normalise("my order never came and nobody answers")) == {}


_FACTISH = st.text(
    alphabet=st.sampled_from(list("0123456789 abcdejmnoprstuy@#$£€/-.,+()")), max_size=60
)
_WORDS = st.lists(
    st.sampled_from(
        [
            "account",
            "number",
            "is",
            "dollars",
            "eur",
            "gbp",
            "march",
            "dec",
            "12",
            "3rd",
            "of",
            "48213",
            "a@b.co",
            "#123",
            "7700 900123",
            "05/11",
            "pounds",
            "usd",
            "$5",
        ]
    ),
    max_size=8,
).map(" ".join)


@given(st.one_of(_FACTISH, _WORDS))
def test_the_gates_only_skip_patterns_that_cannot_match(text: str) -> None:
    folded = normalise(text)
    expected = _every_pattern(folded) if any(c.isdigit() or c == "@" for c in folded) else {}
    assert facts_in(folded) == expected


_PRINT = st.lists(
    st.sampled_from([FACT_MARK + "123", FACT_MARK + "abc", "card", "refund", "order", "late"]),
    max_size=5,
).map(lambda tokens: sorted(set(tokens)))


@given(_PRINT, st.lists(_PRINT, max_size=4))
def test_most_similar_is_the_best_similarity(print_: list[str], earlier: list[list[str]]) -> None:
    expected = max((similarity(print_, other) for other in earlier), default=0.0)
    assert most_similar(print_, earlier) == expected


# The order number, branch by branch: each word-start branch with its own \\b, the booking
# code with its look-aheads. GIVES scans a faster form of it.
ORDER_NUMBER_READABLE = re.compile(
    r"(?:#\s?\d{3,}|\b[a-z]{0,4}-?\d{4,}\b|\b\d{5,}\b|\b(?=[a-z]*\d)(?=\d*[a-z])[a-z\d]{6,10}\b)"
)


@given(st.text(alphabet=st.sampled_from(list("0123456789abcqxz#-_ .é٣")), max_size=40))
@example("abcdef-123 qx7trl ord-10001 #4821 48213")
def test_the_order_number_pattern_finds_what_its_readable_form_does(folded: str) -> None:
    fast = dict(GIVES)["order_number"].pattern
    assert [m.span() for m in fast.finditer(folded)] == [
        m.span() for m in ORDER_NUMBER_READABLE.finditer(folded)
    ]


@given(
    st.lists(
        st.sampled_from(
            [
                "see",
                "HTTPS://Help.Example.com/a",
                "http://x.io/",
                "WWW.Shop.com",
                "www.",
                "://",
                "https:",
                "hello.",
                "w w w.",
                "\u2019",
                " ",
                "\t",
            ]
        ),
        max_size=8,
    ).map("".join)
)
def test_links_skips_only_text_without_a_url(text: str) -> None:
    ungated = [url.lower().rstrip("/.,") for url in loops._URL.findall(text)]
    assert loops.links(text, normalise(text)) == ungated


def test_fact_patterns_have_no_groups() -> None:
    """``facts_in`` takes ``findall``'s strings as whole matches."""
    assert all(pattern.pattern.groups == 0 for _, pattern in GIVES)
