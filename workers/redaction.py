"""Personal-data redaction: card numbers, national ids, emails, phone numbers and IBANs.

Pure and dependency-free, so the decision core, the log filter and the tests share it. Each
kind is found by a bounded regular expression and, where a checksum exists (Luhn for cards,
ISO 13616 mod-97 for IBANs), confirmed by it: order numbers, amounts and dates stay readable.
Replacements hold no digits that could be found again (a card keeps its last four after
"…"), so redacting twice changes nothing. Ids (UUIDs, hex digests) are never redacted inside:
their digit runs read as phone or card numbers, and an altered id no longer finds its record.
"""

import re
from collections.abc import Callable, Iterable
from enum import StrEnum


class RedactionKind(StrEnum):
    """What can be redacted; the policy lists which kinds apply where."""

    CARD = "card"
    NATIONAL_ID = "national_id"
    EMAIL = "email"
    PHONE = "phone"
    IBAN = "iban"


ALL_KINDS: frozenset[RedactionKind] = frozenset(RedactionKind)
LAST4_MARK = "…"

# Nothing to redact without a digit or an @: the common case returns at once.
_HINT = re.compile(r"[0-9@]")
# Every digit-based kind holds six digits at least (a UK NI number; phones 8, cards 13, IBANs
# and SSNs more): text with fewer is left to the e-mail step alone, the common case in a chat.
_SIX_DIGITS = re.compile(r"[0-9](?:[^0-9]*[0-9]){5}")

_EMAIL = re.compile(
    r"[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}", re.ASCII
)

# Ids the digit-based kinds skip: UUIDs and hex digests (md5 and longer) with a letter in
# them (an all-digit run that long is no card or phone anyway). One group: ``split`` keeps them.
_ID = re.compile(
    r"\b([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|(?=[0-9a-f]*[a-f])[0-9a-f]{32,})\b",
    re.IGNORECASE | re.ASCII,
)
# The placeholders ``Redactor`` writes, by kind (group "kind"); a card may keep its last four.
PLACEHOLDER = re.compile(rf"\[(?P<kind>{'|'.join(RedactionKind)})(?: {LAST4_MARK}[0-9]{{4}})?\]")

# Digit groups joined by single spaces or dashes; cards are searched for inside them.
_DIGIT_GROUPS = re.compile(r"(?<![0-9…])[0-9]+(?:[ -][0-9]+)*")
_CARD_DIGITS = (13, 19)
_CARD_GROUP = (3, 6)  # digits per group of a spaced card (4-4-4-4, 4-6-5, ...)

# US SSN without the never-issued ranges (000, 666, 9xx area; 00 group; 0000 serial).
_SSN = re.compile(r"(?<![0-9-])(?!000|666|9)[0-9]{3}-(?!00)[0-9]{2}-(?!0000)[0-9]{4}(?![0-9-])")
# UK National Insurance number: two prefix letters (D, F, I, Q, U, V never; O never second;
# BG, GB, KN, NK, NT, TN, ZZ not allocated), six digits, suffix A-D.
_NINO = re.compile(
    r"\b(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
    r" ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]\b",
    re.IGNORECASE | re.ASCII,
)

# Phone numbers: international (+ and 8-15 digits) and common national formats (8 or more
# digits by construction). A number stands as a word of its own and must not continue with
# more digits, so longer ids, codes and card numbers are left to the others.
_NOT_AFTER_DIGITS = r"(?<![0-9…\w+])(?<![0-9][ .-])"
_NO_MORE_DIGITS = r"(?![0-9]|[ .-][0-9]|\w)"
_PHONE = re.compile(
    _NOT_AFTER_DIGITS
    + r"(?:"
    + r"\+[1-9](?:[ .()-]{0,2}[0-9]){7,14}"  # +44 20 7946 0958, +1 (415) 555-0132
    + r"|\(?0[0-9]{1,4}\)?[ .-]?[0-9]{3,4}[ .-]?[0-9]{3,4}"  # 020 7946 0958, 07700 900123
    + r"|0[1-9](?:[ .-][0-9]{2}){4}"  # 01 23 45 67 89
    # (415) 555-0132, 415-555-0132 and with the US country code, 1-800-555-0199
    + r"|(?:1[ .-])?(?:\([0-9]{3}\) ?|[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}"
    + r")"
    + _NO_MORE_DIGITS,
    re.ASCII,
)

_IBAN_START = re.compile(r"\b[A-Za-z]{2}[0-9]{2}", re.ASCII)
# ISO 13616 registry: IBAN length per country.
_IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """ISO 13616: a known country, its length, and mod 97 of the rearranged number is 1."""
    iban = iban.upper()
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isalnum() or not iban.isascii():
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


class Redactor:
    """Replaces the configured kinds of personal data in text; total, fast and idempotent."""

    def __init__(self, kinds: Iterable[RedactionKind] = ALL_KINDS, card_last4: bool = False):
        self.kinds = frozenset(kinds)
        self.card_last4 = card_last4
        self._email = RedactionKind.EMAIL in self.kinds
        steps: list[Callable[[str], str]] = []
        if RedactionKind.IBAN in self.kinds:
            steps.append(_redact_ibans)
        if RedactionKind.CARD in self.kinds:
            steps.append(lambda text: _DIGIT_GROUPS.sub(self._cards, text))
        if RedactionKind.NATIONAL_ID in self.kinds:
            steps.append(lambda text: _NINO.sub("[national_id]", _SSN.sub("[national_id]", text)))
        if RedactionKind.PHONE in self.kinds:
            steps.append(lambda text: _PHONE.sub("[phone]", text))
        self._steps = tuple(steps)

    def redact(self, text: str) -> str:
        """``text`` with every configured kind replaced by a placeholder such as "[email]"."""
        if not _HINT.search(text):
            return text
        if self._email and "@" in text:
            text = _EMAIL.sub("[email]", text)
        if not self._steps or not _SIX_DIGITS.search(text):
            return text
        # Ids split the text; the digit-based kinds see the pieces between them.
        pieces = _ID.split(text)
        return "".join(
            self._digits(piece) if index % 2 == 0 else piece for index, piece in enumerate(pieces)
        )

    def _digits(self, text: str) -> str:
        """``text`` with the configured digit-based kinds (all but e-mail) replaced."""
        for step in self._steps:
            text = step(text)
        return text

    def _card_text(self, digits: str) -> str:
        return f"[card {LAST4_MARK}{digits[-4:]}]" if self.card_last4 else "[card]"

    def _cards(self, match: re.Match[str]) -> str:
        """Card numbers inside a run of digit groups: one group of 13-19 digits, or several
        groups of 3-6 digits (4-4-4-4, 4-6-5, ...), that pass the Luhn check."""
        run = match.group()
        digit_count = len(run) - run.count(" ") - run.count("-")
        if digit_count < _CARD_DIGITS[0]:
            return run
        groups = re.split(r"([ -])", run)
        numbers, separators = groups[0::2], groups[1::2]
        out: list[str] = []
        index = 0
        while index < len(numbers):
            end = _card_span(numbers, index)
            if end is None:
                out.append(numbers[index])
                index += 1
            else:
                out.append(self._card_text("".join(numbers[index:end])))
                index = end
            if index < len(numbers):
                out.append(separators[index - 1])
        return "".join(out)


def _card_span(numbers: list[str], start: int) -> int | None:
    """End (exclusive) of the longest Luhn-valid card starting at group ``start``."""
    low, high = _CARD_DIGITS
    if low <= len(numbers[start]) <= high:
        return start + 1 if luhn_valid(numbers[start]) else None
    best: int | None = None
    total = 0
    for end in range(start, len(numbers)):
        if not _CARD_GROUP[0] <= len(numbers[end]) <= _CARD_GROUP[1]:
            break
        total += len(numbers[end])
        if total > high:
            break
        if total >= low and end > start and luhn_valid("".join(numbers[start : end + 1])):
            best = end + 1
    return best


def _redact_ibans(text: str) -> str:
    """Each IBAN (compact or in groups split by single spaces or dashes) that validates."""
    out: list[str] = []
    position = 0
    search_from = 0
    while match := _IBAN_START.search(text, search_from):
        end = _iban_end(text, match.start())
        if end is None:
            search_from = match.start() + 1
            continue
        out.append(text[position : match.start()])
        out.append("[iban]")
        position = search_from = end
    out.append(text[position:])
    return "".join(out)


def _iban_end(text: str, start: int) -> int | None:
    """End of a valid IBAN starting at ``start``, or None."""
    length = _IBAN_LENGTHS.get(text[start : start + 2].upper())
    if length is None:
        return None
    compact: list[str] = []
    index = start
    while len(compact) < length and index < len(text):
        char = text[index]
        if char in " -" and compact and index + 1 < len(text) and text[index + 1].isalnum():
            index += 1
            continue
        if not (char.isascii() and char.isalnum()):
            return None
        compact.append(char)
        index += 1
    if len(compact) < length or (index < len(text) and text[index].isalnum()):
        return None
    return index if iban_valid("".join(compact)) else None
