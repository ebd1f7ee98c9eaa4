"""Loaders for the public labelled sets in ``../shared/eval-data`` (see its README.md).

Each set becomes conversations of customer/bot turns with gold labels, so the runner can replay
them through the worker's own decision code. The gold rules (what counts as positive) live here,
next to the parsing, and follow the data README; they are fixed before looking at results.
"""

import csv
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.events import Role
from workers.errors import EscalatorError

# Gold label names a conversation may carry.
HUMAN_REQUEST = "human_request"
HIGH_STAKES = "high_stakes"
LOST_STOLEN = "lost_stolen"
REFUND = "refund"
NEGATIVE_SENTIMENT = "negative_sentiment"
CONFIDENT_SENTIMENT = "confident_sentiment"
CANCELLED_FLIGHT = "cancelled_flight"

DISSATISFIED_MAX = 2
"""A USS rating at or below this (majority vote) is dissatisfied."""
SENTIMENT_CONFIDENCE_MIN = 0.7
"""Airline tweets below this crowd agreement are left out of the sentiment scoring."""

FRAUD_GROUP = "fraud"
BILLING_GROUP = "billing"
BANKING77_GROUPS: dict[str, frozenset[str]] = {
    FRAUD_GROUP: frozenset(
        {
            "compromised_card",
            "card_payment_not_recognised",
            "cash_withdrawal_not_recognised",
            "direct_debit_payment_not_recognised",
            "lost_or_stolen_card",
            "lost_or_stolen_phone",
        }
    ),
    BILLING_GROUP: frozenset(
        {
            "transaction_charged_twice",
            "extra_charge_on_statement",
            "request_refund",
            "Refund_not_showing_up",
            "wrong_amount_of_cash_received",
        }
    ),
}
BANKING77_AMBIGUOUS = frozenset(
    {
        "card_payment_fee_charged",
        "reverted_card_payment?",
        "transfer_not_received_by_recipient",
        "card_swallowed",
        "declined_card_payment",
        "terminate_account",
    }
)
NATCS_HIGH_STAKES: dict[str, frozenset[str]] = {
    "banking": frozenset({"DisputeCharge", "ReportLostStolenCard"}),
    "insurance": frozenset({"ReportBillingIssue", "FileClaim", "ReportAutomobileAccident"}),
}

USS_ROLES = {"USER": Role.CUSTOMER, "SYSTEM": Role.BOT}
USS_OVERALL = "OVERALL"


class DatasetError(EscalatorError):
    """A data file is missing or does not have the layout its SOURCE.md describes."""


@dataclass(frozen=True, slots=True)
class Turn:
    """One utterance; ``rating`` is the majority satisfaction vote of a USS user turn."""

    role: Role
    text: str
    rating: int | None = None

    @property
    def dissatisfied(self) -> bool:
        """The USS gold for a user turn: majority rating of 2 or less."""
        return self.rating is not None and self.rating <= DISSATISFIED_MAX


@dataclass(frozen=True, slots=True)
class Conversation:
    """A dialogue (or one utterance) to replay as one session.

    ``labels`` are the gold facts the set's rules give it, ``group`` the domain or intent group
    per-group metrics split on, ``rating`` the USS dialogue-level (OVERALL) majority vote.
    """

    conversation_id: str
    turns: tuple[Turn, ...]
    labels: frozenset[str] = frozenset()
    group: str = ""
    rating: int | None = None


@dataclass(frozen=True, slots=True)
class Dataset:
    """One labelled set, read and ready to replay."""

    name: str
    conversations: tuple[Conversation, ...]


def majority_rating(ratings: Sequence[int]) -> int:
    """The most frequent rating, ties broken toward the lower one (USS ``get_main_score``)."""
    if not ratings:
        raise ValueError("no ratings to vote on")
    counts = Counter(ratings)
    return min(counts, key=lambda rating: (-counts[rating], rating))


def _ratings(text: str, where: str) -> list[int]:
    try:
        ratings = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise DatasetError(f"{where}: ratings {text!r} are not integers") from exc
    if not ratings:
        raise DatasetError(f"{where}: no ratings")
    return ratings


def load_uss(path: Path, name: str) -> Dataset:
    """USS: blank-line separated sessions of ``ROLE\\ttext\\taction\\tratings`` lines.

    USER turns become customer turns carrying their majority rating, SYSTEM turns bot turns;
    the closing ``USER\\tOVERALL`` line is the dialogue rating, not a turn.
    """
    conversations: list[Conversation] = []
    turns: list[Turn] = []
    overall: int | None = None

    def close() -> None:
        nonlocal turns, overall
        if turns:
            number = len(conversations)
            conversations.append(Conversation(f"{name}-{number}", tuple(turns), rating=overall))
        turns, overall = [], None

    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                close()
                continue
            where = f"{path}:{number}"
            parts = line.split("\t")
            if len(parts) != 4 or parts[0] not in USS_ROLES:
                raise DatasetError(f"{where}: expected ROLE\\ttext\\taction\\tratings")
            role, text, _action, ratings = parts
            if role == "USER" and text == USS_OVERALL:
                overall = majority_rating(_ratings(ratings, where))
                continue
            rating = majority_rating(_ratings(ratings, where)) if ratings.strip() else None
            turns.append(Turn(USS_ROLES[role], text, rating))
    close()
    return Dataset(name, tuple(conversations))


def _json_lines(path: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield f"{path}:{number}", json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"{path}:{number}: not JSON: {exc}") from exc


def _csv_rows(path: Path, columns: Iterable[str]) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = set(columns) - set(reader.fieldnames or ())
        if missing:
            raise DatasetError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        return list(reader)


def _one_turn(conversation_id: str, text: str, labels: set[str], group: str = "") -> Conversation:
    return Conversation(
        conversation_id, (Turn(Role.CUSTOMER, text),), labels=frozenset(labels), group=group
    )


def load_nlupp(path: Path) -> Dataset:
    """NLU++: ``handoff`` is a human request; ``lost_stolen`` and ``refund`` are kept as topics."""
    conversations = []
    for number, (where, item) in enumerate(_json_lines(path)):
        try:
            text, domain = item["text"], item["domain"]
        except KeyError as exc:
            raise DatasetError(f"{where}: missing {exc}") from exc
        intents = set(item.get("intents") or ())
        labels = intents & {LOST_STOLEN, REFUND}
        if "handoff" in intents:
            labels.add(HUMAN_REQUEST)
        conversations.append(_one_turn(f"nlupp-{number}", text, labels, domain))
    return Dataset("nlupp", tuple(conversations))


def load_banking77(path: Path) -> Dataset:
    """BANKING77: our high-stakes mapping; ambiguous intents are left out of scoring entirely."""
    conversations = []
    for number, row in enumerate(_csv_rows(path, ("text", "category"))):
        intent = row["category"]
        if intent in BANKING77_AMBIGUOUS:
            continue
        group = next((name for name, members in BANKING77_GROUPS.items() if intent in members), "")
        labels = {HIGH_STAKES} if group else set()
        conversations.append(_one_turn(f"banking77-{number}", row["text"], labels, group))
    return Dataset("banking77", tuple(conversations))


def load_airline(path: Path) -> Dataset:
    """Airline tweets, read from ``text_restored`` because the released ``text`` leaks labels.

    Every row is kept (the cancelled-flight check uses them all); rows whose sentiment the crowd
    agreed on enough carry ``confident_sentiment``. ``group`` is the negative reason.
    """
    columns = (
        "airline_sentiment",
        "airline_sentiment_confidence",
        "negativereason",
        "text_restored",
    )
    conversations = []
    for number, row in enumerate(_csv_rows(path, columns)):
        labels = set()
        if row["airline_sentiment"] == "negative":
            labels.add(NEGATIVE_SENTIMENT)
        try:
            confidence = float(row["airline_sentiment_confidence"])
        except ValueError as exc:
            raise DatasetError(f"{path}: row {number + 1}: bad confidence") from exc
        if confidence >= SENTIMENT_CONFIDENCE_MIN:
            labels.add(CONFIDENT_SENTIMENT)
        reason = row["negativereason"]
        if reason == "Cancelled Flight":
            labels.add(CANCELLED_FLIGHT)
        conversations.append(_one_turn(f"airline-{number}", row["text_restored"], labels, reason))
    return Dataset("airline_tweets", tuple(conversations))


def load_natcs(folder: Path) -> Dataset:
    """NatCS (DSTC11): one file per domain; each domain has its own high-stakes intents."""
    conversations = []
    for domain, positives in NATCS_HIGH_STAKES.items():
        for where, item in _json_lines(folder / f"{domain}_test-utterances.jsonl"):
            try:
                text, intent, utterance_id = item["utterance"], item["intent"], item["utterance_id"]
            except KeyError as exc:
                raise DatasetError(f"{where}: missing {exc}") from exc
            labels = {HIGH_STAKES} if intent in positives else set()
            conversations.append(_one_turn(f"natcs-{utterance_id}", text, labels, domain))
    return Dataset("natcs_dstc11", tuple(conversations))


def spread(conversations: Sequence[Conversation], limit: int | None) -> tuple[Conversation, ...]:
    """At most ``limit`` items, evenly spaced through the set.

    The files are grouped by intent or domain, so the first N would often hold one class only.
    """
    if limit is None or limit >= len(conversations):
        return tuple(conversations)
    return tuple(conversations[i * len(conversations) // limit] for i in range(limit))


DATA_FILES = (
    "airline_tweets/tweets_labeled.csv",
    "nlupp/utterances.jsonl",
    "banking77/test.csv",
    "natcs_dstc11/banking_test-utterances.jsonl",
    "natcs_dstc11/insurance_test-utterances.jsonl",
    "uss_satisfaction/MWOZ.txt",
    "uss_satisfaction/SGD.txt",
)


def load_all(data_dir: Path, limit: int | None = None) -> list[Dataset]:
    """Every set under ``data_dir`` in report order, each capped to ``limit`` items."""
    if not data_dir.is_dir():
        raise DatasetError(f"evaluation data folder {data_dir} does not exist")
    missing = [name for name in DATA_FILES if not (data_dir / name).is_file()]
    if missing:
        raise DatasetError(f"evaluation data folder {data_dir} lacks {', '.join(missing)}")
    datasets = [
        load_airline(data_dir / "airline_tweets" / "tweets_labeled.csv"),
        load_nlupp(data_dir / "nlupp" / "utterances.jsonl"),
        load_banking77(data_dir / "banking77" / "test.csv"),
        load_natcs(data_dir / "natcs_dstc11"),
        load_uss(data_dir / "uss_satisfaction" / "MWOZ.txt", "uss_mwoz"),
        load_uss(data_dir / "uss_satisfaction" / "SGD.txt", "uss_sgd"),
    ]
    return [Dataset(d.name, spread(d.conversations, limit)) for d in datasets]
