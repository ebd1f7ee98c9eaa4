"""Personal-data redaction: each kind found and replaced, look-alikes left alone, and the
properties the worker relies on (total, idempotent, no card or email survives)."""

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.redaction import ALL_KINDS, RedactionKind, Redactor, iban_valid, luhn_valid

REDACT = Redactor(ALL_KINDS)
PACKETS = Redactor(ALL_KINDS, card_last4=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4242 4242 4242 4242 please", "card [card] please"),
        ("card 4242-4242-4242-4242", "card [card]"),
        ("amex 3782 822463 10005.", "amex [card]."),
        ("4111111111111111", "[card]"),
        ("write to jane.doe+bills@example.co.uk now", "write to [email] now"),
        ("call +44 20 7946 0958", "call [phone]"),
        ("call +1 (415) 555-0132 today", "call [phone] today"),
        ("my mobile 07700 900123", "my mobile [phone]"),
        ("office (415) 555-0132", "office [phone]"),
        ("415-555-0132", "[phone]"),
        ("tel 01 23 45 67 89", "tel [phone]"),
        ("ssn 123-45-6789", "ssn [national_id]"),
        ("NI number AB123456C", "NI number [national_id]"),
        ("NI AB 12 34 56 C thanks", "NI [national_id] thanks"),
        ("IBAN GB82 WEST 1234 5698 7654 32.", "IBAN [iban]."),
        ("to DE89370400440532013000 and GB82WEST12345698765432", "to [iban] and [iban]"),
    ],
)
def test_each_kind_is_redacted(text: str, expected: str) -> None:
    assert REDACT.redact(text) == expected


def test_packets_keep_the_last_four_digits_of_a_card() -> None:
    assert PACKETS.redact("charged on 4242 4242 4242 4242") == "charged on [card …4242]"


@pytest.mark.parametrize(
    "text",
    [
        "order 448812 never arrived",
        "order #1234567 and ticket AB-99812",
        "I paid $1,234.56 on 2026-01-05 at 10:30",
        "charged 49.99 twice on 05/01/2026",
        "4242 4242 4242 4241",  # fails the Luhn check
        "1234567812345678",  # fails the Luhn check
        "ssn 666-12-3456 and 000-12-3456 and 900-12-3456 and 123-00-4567",  # never issued
        "GB82 WEST 1234 5698 7654 33",  # fails mod 97
        "XX82 WEST 1234 5698 7654 32",  # no such country
        "NI BG123456C",  # prefix never allocated
        "no digits or at signs here",
        "it costs 12 345 678 dollars",
    ],
)
def test_look_alikes_are_left_alone(text: str) -> None:
    assert REDACT.redact(text) == text


def test_only_the_configured_kinds_are_redacted() -> None:
    emails_only = Redactor({RedactionKind.EMAIL})
    text = "a@b.io 4242424242424242"
    assert emails_only.redact(text) == "[email] 4242424242424242"
    assert Redactor(()).redact(text) == text


def test_checksums() -> None:
    assert luhn_valid("4242424242424242")
    assert not luhn_valid("4242424242424241")
    assert iban_valid("GB82WEST12345698765432")
    assert iban_valid("de89370400440532013000")
    assert not iban_valid("GB82WEST12345698765433")
    assert not iban_valid("GB82WEST1234569876543")


def _luhn_complete(prefix: str) -> str:
    """``prefix`` plus the check digit that makes it Luhn-valid."""
    return next(prefix + digit for digit in "0123456789" if luhn_valid(prefix + digit))


cards = st.integers(12, 18).flatmap(
    lambda n: st.text("0123456789", min_size=n, max_size=n).map(_luhn_complete)
)
emails = st.builds(
    "{}@{}.{}".format,
    st.text("abcdefghijklmnopqrstuvwxyz0123456789._+-", min_size=1, max_size=20),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=15),
    st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=6),
)
noise = st.text(st.sampled_from(list("ab @.-+()[]…0123456789\n\té")), max_size=30)
mixed = st.lists(st.one_of(noise, cards, emails, st.text(max_size=20)), max_size=8).map(" ".join)


@settings(max_examples=400)
@given(st.text())
def test_total_on_any_text(text: str) -> None:
    assert isinstance(REDACT.redact(text), str)
    assert isinstance(PACKETS.redact(text), str)


@settings(max_examples=400)
@given(mixed)
def test_idempotent(text: str) -> None:
    for redactor in (REDACT, PACKETS):
        once = redactor.redact(text)
        assert redactor.redact(once) == once


@settings(max_examples=400)
@given(mixed)
def test_no_luhn_valid_card_run_survives(text: str) -> None:
    runs = {run for run in re.findall(r"(?<![0-9])[0-9]{13,19}(?![0-9])", text) if luhn_valid(run)}
    output = PACKETS.redact(text)
    for run in runs:
        assert run not in output


@settings(max_examples=400)
@given(st.lists(st.tuples(noise, emails), min_size=1, max_size=4))
def test_no_email_survives(parts: list[tuple[str, str]]) -> None:
    text = "".join(f"{before} {email} " for before, email in parts)
    output = REDACT.redact(text)
    for _, email in parts:
        assert email not in output


def test_speed_sanity() -> None:
    """Not a benchmark: hostile and ordinary text both redact quickly (printed, not asserted)."""
    texts = ["hello there, my order never came " * 8, "1 " * 5_000, "a" * 10_000 + "@"]
    for text in texts:
        start = time.perf_counter()
        REDACT.redact(text)
        print(f"{len(text)} chars: {(time.perf_counter() - start) * 1e3:.2f} ms")
