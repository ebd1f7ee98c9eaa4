"""The eval-data loaders on tiny synthetic files in each set's layout (no real data here)."""

import json
from pathlib import Path

import pytest

from schemas.events import Role
from workers.evaluation import datasets as ds

USS_TEXT = (
    "USER\tI need a cheap hotel in the north.\tHotel-Inform\t3,3,4\n"
    "SYSTEM\tThere is nothing there.\tHotel-NoOffer\t\n"
    "USER\tNo, this is terrible and useless. I said the north!\t\t2,3,2,3\n"
    "SYSTEM\tSorry, here is one in the north.\t\t\n"
    "USER\tFine. Goodbye.\tgeneral-bye\t1,2,3\n"
    "USER\tOVERALL\t\t2,2,3\n"
    "\n"
    "USER\tBook a table for two tonight.\tRestaurant-Inform\t3,3,3\n"
    "SYSTEM\tDone, reference AB12.\t\t\n"
    "USER\tThanks!\tgeneral-thank\t4,5,4\n"
    "USER\tOVERALL\t\t4,4,3\n"
    "\n"
)

NLUPP_ROWS: list[dict[str, object]] = [
    {
        "domain": "banking",
        "fold": "fold0",
        "text": "put me through to a person",
        "intents": ["handoff"],
    },
    {"domain": "banking", "fold": "fold0", "text": "my card is gone", "intents": ["lost_stolen"]},
    {"domain": "hotels", "fold": "fold1", "text": "money back please", "intents": ["refund"]},
    {"domain": "hotels", "fold": "fold1", "text": "yes", "intents": []},
]

BANKING77_CSV = (
    "text,category\n"
    "Someone used my card without asking,card_payment_not_recognised\n"
    '"I paid twice, why?",transaction_charged_twice\n'
    "Where is my new card?,card_arrival\n"
    "The ATM ate my card,card_swallowed\n"
)

AIRLINE_COLUMNS = (
    "tweet_id,airline,airline_sentiment,airline_sentiment_confidence,negativereason,"
    "negativereason_confidence,airline_sentiment_gold,negativereason_gold,tweet_created,text,"
    "text_restored\n"
)
AIRLINE_CSV = AIRLINE_COLUMNS + (
    "1,Air,negative,1.0,Cancelled Flight,0.9,,,2015-02-24,"
    "Cancelled Flightled again,cancelled again\n"
    "2,Air,neutral,0.6,,,,,2015-02-24,when do you board,when do you board\n"
    "3,Air,positive,0.8,,,,,2015-02-24,lovely crew,lovely crew\n"
    '4,Air,negative,0.75,Late Flight,1.0,,,2015-02-24,"two hours Late Flight, again",'
    '"two hours late, again"\n'
)

NATCS_BANKING: list[dict[str, object]] = [
    {
        "utterance": "I was billed twice for one thing",
        "utterance_id": "banking_1",
        "intent": "DisputeCharge",
    },
    {
        "utterance": "What is my balance?",
        "utterance_id": "banking_2",
        "intent": "CheckAccountBalance",
    },
    {
        "utterance": "There is a wrong charge on my bill",
        "utterance_id": "banking_3",
        "intent": "ReportBillingIssue",
    },
]
NATCS_INSURANCE: list[dict[str, object]] = [
    {
        "utterance": "I need to file a claim for my roof",
        "utterance_id": "insurance_1",
        "intent": "FileClaim",
    },
    {
        "utterance": "Can I get a quote for my car?",
        "utterance_id": "insurance_2",
        "intent": "GetQuote",
    },
    {
        "utterance": "My bill shows a charge I never agreed to",
        "utterance_id": "insurance_3",
        "intent": "ReportBillingIssue",
    },
]


def _json_lines(path: Path, rows: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_eval_tree(root: Path) -> Path:
    """A complete, tiny, made-up eval-data folder in every set's layout."""
    _text(root / "airline_tweets" / "tweets_labeled.csv", AIRLINE_CSV)
    _json_lines(root / "nlupp" / "utterances.jsonl", NLUPP_ROWS)
    _text(root / "banking77" / "test.csv", BANKING77_CSV)
    _json_lines(root / "natcs_dstc11" / "banking_test-utterances.jsonl", NATCS_BANKING)
    _json_lines(root / "natcs_dstc11" / "insurance_test-utterances.jsonl", NATCS_INSURANCE)
    _text(root / "uss_satisfaction" / "MWOZ.txt", USS_TEXT)
    _text(root / "uss_satisfaction" / "SGD.txt", USS_TEXT)
    return root


@pytest.mark.parametrize(
    ("ratings", "expected"),
    [([3, 3, 4], 3), ([2, 3, 2, 3], 2), ([1, 2, 3], 1), ([5], 5), ([4, 4, 2, 2, 3], 2)],
)
def test_majority_rating_breaks_ties_toward_the_lower_rating(
    ratings: list[int], expected: int
) -> None:
    assert ds.majority_rating(ratings) == expected


def test_uss_sessions_turns_and_ratings(tmp_path: Path) -> None:
    data = ds.load_uss(_text(tmp_path / "MWOZ.txt", USS_TEXT), "uss_mwoz")
    first, second = data.conversations
    assert [turn.role for turn in first.turns] == [Role.CUSTOMER, Role.BOT] * 2 + [Role.CUSTOMER]
    assert [turn.rating for turn in first.turns] == [3, None, 2, None, 1]
    assert [turn.dissatisfied for turn in first.turns] == [False, False, True, False, True]
    assert first.rating == 2
    assert second.rating == 4
    assert all(turn.text != ds.USS_OVERALL for turn in first.turns + second.turns)
    assert first.conversation_id != second.conversation_id


def test_uss_rejects_a_line_without_four_fields(tmp_path: Path) -> None:
    path = _text(tmp_path / "SGD.txt", "USER\thello\t3,3\n")
    with pytest.raises(ds.DatasetError, match=r"SGD\.txt:1"):
        ds.load_uss(path, "uss_sgd")


def test_nlupp_gold_labels(tmp_path: Path) -> None:
    data = ds.load_nlupp(_json_lines(tmp_path / "u.jsonl", NLUPP_ROWS))
    assert [c.labels for c in data.conversations] == [
        {ds.HUMAN_REQUEST},
        {ds.LOST_STOLEN},
        {ds.REFUND},
        frozenset(),
    ]
    assert [c.group for c in data.conversations] == ["banking", "banking", "hotels", "hotels"]


def test_banking77_groups_and_ambiguous_intents_left_out(tmp_path: Path) -> None:
    data = ds.load_banking77(_text(tmp_path / "test.csv", BANKING77_CSV))
    assert [(c.group, c.labels) for c in data.conversations] == [
        (ds.FRAUD_GROUP, {ds.HIGH_STAKES}),
        (ds.BILLING_GROUP, {ds.HIGH_STAKES}),
        ("", frozenset()),
    ]
    assert data.conversations[1].turns[0].text == "I paid twice, why?"


def test_airline_reads_restored_text_and_labels(tmp_path: Path) -> None:
    data = ds.load_airline(_text(tmp_path / "t.csv", AIRLINE_CSV))
    texts = [c.turns[0].text for c in data.conversations]
    assert texts[0] == "cancelled again"
    assert [c.labels for c in data.conversations] == [
        {ds.NEGATIVE_SENTIMENT, ds.CONFIDENT_SENTIMENT, ds.CANCELLED_FLIGHT},
        frozenset(),
        {ds.CONFIDENT_SENTIMENT},
        {ds.NEGATIVE_SENTIMENT, ds.CONFIDENT_SENTIMENT},
    ]
    assert data.conversations[3].group == "Late Flight"


def test_airline_needs_the_restored_column(tmp_path: Path) -> None:
    path = _text(tmp_path / "t.csv", "airline_sentiment,text\nnegative,hi\n")
    with pytest.raises(ds.DatasetError, match="text_restored"):
        ds.load_airline(path)


def test_natcs_positive_intents_depend_on_the_domain(tmp_path: Path) -> None:
    root = write_eval_tree(tmp_path)
    data = ds.load_natcs(root / "natcs_dstc11")
    assert [(c.group, ds.HIGH_STAKES in c.labels) for c in data.conversations] == [
        ("banking", True),
        ("banking", False),
        ("banking", False),
        ("insurance", True),
        ("insurance", False),
        ("insurance", True),
    ]


def test_spread_takes_evenly_spaced_items() -> None:
    conversations = [ds.Conversation(str(i), ()) for i in range(10)]
    assert [c.conversation_id for c in ds.spread(conversations, 3)] == ["0", "3", "6"]
    assert len(ds.spread(conversations, None)) == 10
    assert len(ds.spread(conversations, 50)) == 10


def test_load_all_names_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ds.DatasetError, match="nowhere"):
        ds.load_all(tmp_path / "nowhere")


def test_load_all_lists_missing_files(tmp_path: Path) -> None:
    root = write_eval_tree(tmp_path)
    (root / "banking77" / "test.csv").unlink()
    with pytest.raises(ds.DatasetError, match=r"banking77/test\.csv"):
        ds.load_all(root)


def test_load_all_reads_every_set_and_caps_each(tmp_path: Path) -> None:
    loaded = ds.load_all(write_eval_tree(tmp_path), limit=2)
    assert [d.name for d in loaded] == [
        "airline_tweets",
        "nlupp",
        "banking77",
        "natcs_dstc11",
        "uss_mwoz",
        "uss_sgd",
    ]
    assert all(0 < len(d.conversations) <= 2 for d in loaded)
