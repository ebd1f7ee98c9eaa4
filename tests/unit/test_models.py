"""The learned text models (workers.decision.models) and their trainer (tools/train_models.py).

Every sentence here was written for this file; none is taken from a labelled data set.
"""

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.decision.models import (
    FEATURES,
    FORMAT,
    MODELS_DIR,
    ModelError,
    Prediction,
    TextModel,
    content_sha256,
    load_model,
    ngrams,
)
from workers.decision.policy import default_policy
from workers.decision.text import normalise

ROOT = Path(__file__).resolve().parents[2]

# The content sha256 of each shipped artefact. Retraining on the same data reproduces these
# exactly; a model trained on anything else must ship under a new version (and a new line here).
SHIPPED = {
    "human_request-2.json": "3e46d3ae21393d913ccbfeb61ff8ce5c29a6469c7773c73ade52622ad5a0215d",
    "high_stakes-2.json": "e8e757fcb6453418e98cc01a15c3411328332ac33696956ba94d886cd654c06b",
}

HUMAN_POSITIVE = [
    "get me a real person on the line please",
    "please let me talk to somebody, not a machine",
    "i want to speak with your supervisor right now",
    "transfer me to a live agent",
]
NEUTRAL = [
    "what time does the branch open tomorrow",
    "how do I update my postcode",
    "can I order a second card for my partner",
    "thanks, that solved it",
    "what is the interest rate on savings",
    "the app keeps logging me out",
    "is the spa open today",
]
# Customer service outside banking: version 1 (banking data only) flagged messages like these
# as lost cards or refunds; version 2 also learned from task-oriented dialogues.
OUT_OF_DOMAIN = [
    "could you give me the phone number of the restaurant",
    "what time does my return flight land",
    "where is my parcel, it was due on monday",
    "how do i send back a pair of boots that don't fit",
    "i'd like to cancel my table reservation for tonight",
    "i left my umbrella on the train",
    "my suitcase didn't arrive on the carousel",
]
HIGH_STAKES_POSITIVE = {
    "someone opened a credit card in my name": "fraud",
    "there's a payment to a shop in Lisbon that I never made": "fraud",
    "a card payment i don't recognise showed up": "fraud",
    "i lost my debit card yesterday on the bus": "lost_stolen_card",
    "the cashpoint only gave me half the cash i asked for": "money_missing",
    "i returned the shoes but never got my refund": "refund",
    "i need to file a claim for water damage to my kitchen": "insurance_claim",
}


@pytest.fixture(scope="module")
def human() -> TextModel:
    """The shipped human-request model."""
    return load_model("human_request-2.json")


@pytest.fixture(scope="module")
def high_stakes() -> TextModel:
    """The shipped high-stakes topic model."""
    return load_model("high_stakes-2.json")


def _document(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((MODELS_DIR / name).read_text(encoding="utf-8"))
    return document


# -- loading and the shipped artefacts ------------------------------------------------------------


@pytest.mark.parametrize(("file_name", "digest"), sorted(SHIPPED.items()))
def test_shipped_artefact_matches_its_recorded_sha256_and_version(
    file_name: str, digest: str
) -> None:
    document = _document(file_name)
    assert document["sha256"] == content_sha256(document) == digest
    assert file_name == f"{document['name']}-{document['version']}.json"
    model = load_model(file_name)
    assert (model.name, model.version, model.sha256) == (
        document["name"],
        document["version"],
        digest,
    )


@pytest.mark.parametrize("file_name", sorted(SHIPPED))
def test_shipped_artefact_is_small_and_documents_its_training(file_name: str) -> None:
    assert (MODELS_DIR / file_name).stat().st_size < 300_000
    training = load_model(file_name).training
    attributions = " ".join(source["attribution"] for source in training["sources"])
    assert "CC BY 4.0" in attributions
    assert "CDLA-Permissive-2.0" in attributions
    assert "MIT" in attributions
    assert "CC BY-SA 4.0" in attributions
    assert "airline" not in json.dumps(training).lower()
    scores = training["cross_validation"]["scores"]["all"]
    assert scores["precision"] >= 0.95
    threshold = load_model(file_name).threshold
    assert 0.0 < threshold < 1.0
    # Out of domain: at most one USS user turn in 2,000 flagged out-of-fold at the threshold.
    flagged = training["cross_validation"]["uss_user_turns_flagged"][f"{threshold:g}"]
    assert flagged["n"] > 10_000
    assert flagged["flagged"] <= flagged["n"] / 2000


def test_a_bare_name_resolves_in_the_package_and_a_path_is_read_as_given(tmp_path: Path) -> None:
    copy = tmp_path / "copy.json"
    copy.write_bytes((MODELS_DIR / "human_request-2.json").read_bytes())
    assert load_model(copy).sha256 == load_model("human_request-2.json").sha256
    assert load_model(str(copy)).sha256 == load_model("human_request-2.json").sha256


def test_high_stakes_labels_are_topics_of_the_default_policy(high_stakes: TextModel) -> None:
    high_stakes.check_labels(topic.name for topic in default_policy().topics)


def test_an_unknown_label_is_refused_clearly(high_stakes: TextModel) -> None:
    with pytest.raises(ModelError, match=r"unknown label\(s\) \['insurance_claim'\]"):
        high_stakes.check_labels(set(high_stakes.labels) - {"insurance_claim"})


def test_a_missing_model_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="cannot read model"):
        load_model("no_such_model-9.json")


def _write(tmp_path: Path, document: dict[str, Any], reseal: bool = True) -> Path:
    if reseal:
        document["sha256"] = content_sha256(document)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_a_truncated_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_bytes((MODELS_DIR / "human_request-2.json").read_bytes()[:5000])
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model(path)


def test_an_edited_weight_is_refused(tmp_path: Path) -> None:
    document = _document("human_request-2.json")
    document["weights"]["speak"] = [9.0]
    with pytest.raises(ModelError, match="does not match its sha256"):
        load_model(_write(tmp_path, document, reseal=False))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="something-else/9"), "format"),
        (lambda d: d.update(features={"tokens": "chars", "ngrams": [3]}), "featuriser"),
        (lambda d: d["weights"].update(speak=[1.0, 2.0]), "one value per label"),
        (lambda d: d.update(biases=[]), "equal-length"),
        (lambda d: d.update(threshold=1.5), "outside"),
        (lambda d: d.pop("labels"), "not a valid model artefact"),
        (lambda d: d.update(weights=[1, 2]), "not a valid model artefact"),
    ],
)
def test_an_inconsistent_artefact_is_refused(tmp_path: Path, change: Any, message: str) -> None:
    document = _document("human_request-2.json")
    change(document)
    with pytest.raises(ModelError, match=message):
        load_model(_write(tmp_path, document))


def test_a_file_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text("[1, 2, 3]", encoding="utf-8")
    with pytest.raises(ModelError, match="not a JSON object"):
        load_model(path)


# -- predictions --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", HUMAN_POSITIVE)
def test_clear_requests_for_a_person(human: TextModel, text: str) -> None:
    prediction = human.predict(normalise(text))
    assert prediction.label == "human_requested"
    assert prediction.probability >= human.threshold
    assert 1 <= len(prediction.cues) <= 3
    assert all(cue in ngrams(normalise(text)) for cue in prediction.cues)


@pytest.mark.parametrize("text", NEUTRAL + list(HIGH_STAKES_POSITIVE))
def test_no_request_for_a_person(human: TextModel, text: str) -> None:
    prediction = human.predict(normalise(text))
    assert prediction.label is None
    assert prediction.cues == ()
    assert prediction.candidate == "human_requested"


@pytest.mark.parametrize(("text", "topic"), sorted(HIGH_STAKES_POSITIVE.items()))
def test_clear_high_stakes_topics(high_stakes: TextModel, text: str, topic: str) -> None:
    prediction = high_stakes.predict(normalise(text))
    assert (prediction.label, prediction.candidate) == (topic, topic)
    assert prediction.cues


@pytest.mark.parametrize("text", NEUTRAL + HUMAN_POSITIVE + OUT_OF_DOMAIN)
def test_no_high_stakes_topic(high_stakes: TextModel, text: str) -> None:
    assert high_stakes.predict(normalise(text)).label is None


def test_threshold_override_and_raw_text(high_stakes: TextModel) -> None:
    text = "i lost my debit card yesterday on the bus"
    default = high_stakes.predict_text(text)
    assert high_stakes.predict(normalise(text)) == default
    assert high_stakes.predict(normalise(text), threshold=1.0).label is None
    assert high_stakes.predict(normalise("thanks"), threshold=0.0).label is not None


def test_probabilities_cover_every_label_and_sum_to_one(high_stakes: TextModel) -> None:
    probabilities = high_stakes.probabilities(normalise("my wallet was stolen"))
    assert set(probabilities) == {"none", *high_stakes.labels}
    assert sum(probabilities.values()) == pytest.approx(1.0)


def _tiny(weights: dict[str, list[float]], bias: float = 0.0) -> TextModel:
    document: dict[str, Any] = {
        "format": FORMAT,
        "name": "tiny",
        "version": 1,
        "labels": ["yes"],
        "features": FEATURES,
        "weights": weights,
        "biases": [bias],
        "threshold": 0.5,
    }
    document["sha256"] = content_sha256(document)
    return TextModel.from_document(document)


def test_an_ngram_counts_once_however_often_it_occurs() -> None:
    model = _tiny({"refund": [2.0]}, bias=-1.0)
    once = model.predict("refund")
    assert once.probability == pytest.approx(1 / (1 + math.exp(-1.0)))
    assert model.predict("refund refund refund") == once
    assert once.cues == ("refund",)


def test_cues_are_the_strongest_positive_ngrams_in_order() -> None:
    model = _tiny({"a": [0.5], "b": [3.0], "c": [1.0], "d": [-4.0], "a b": [2.0], "c d": [0.7]})
    assert model.predict("a b c d e", threshold=0.0).cues == ("b", "a b", "c")


def test_predictions_are_deterministic_across_loads() -> None:
    texts = HUMAN_POSITIVE + NEUTRAL + list(HIGH_STAKES_POSITIVE)
    for name in SHIPPED:
        first, second = load_model(name), load_model(name)
        assert [first.predict(normalise(t)) for t in texts] == [
            second.predict(normalise(t)) for t in texts
        ]


def test_empty_text_gives_the_prior(human: TextModel) -> None:
    prediction = human.predict("")
    assert prediction == Prediction(None, prediction.probability, "human_requested")
    assert prediction.probability < human.threshold


SHIPPED_MODELS = tuple(load_model(name) for name in sorted(SHIPPED))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_predict_never_raises_and_gives_a_probability(text: str) -> None:
    for model in SHIPPED_MODELS:
        for folded in (text, normalise(text)):
            prediction = model.predict(folded)
            assert 0.0 <= prediction.probability <= 1.0
            assert prediction.candidate in model.labels
            assert prediction.label in (None, prediction.candidate)
            assert len(prediction.cues) <= 3


# -- the trainer ---------------------------------------------------------------------------------


def _trainer() -> ModuleType:
    """tools/train_models.py, imported by path (tools/ is not a package)."""
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location("train_models", ROOT / "tools/train_models.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_models"] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def _synthetic(trainer: ModuleType) -> list[Any]:
    """A tiny made-up set: asks for a person (positive) and everyday questions (negative)."""
    asks = ["please put me through to", "i would like to talk with", "can i speak to", "get me"]
    who = ["a manager", "an adviser", "your supervisor", "a real person", "someone senior"]
    topics = ["opening hours", "my balance", "the exchange rate", "a new card", "my address"]
    verbs = ["what is", "tell me about", "how do i check", "where can i see"]
    examples = [
        trainer.Example(f"{ask} {person}", "synthetic", "human_requested", None)
        for ask in asks
        for person in who
    ]
    examples += [
        trainer.Example(f"{verb} {topic}", "synthetic", "none", None)
        for verb in verbs
        for topic in topics
    ]
    # A row left out of this model (label None) is not counted at all.
    examples.append(trainer.Example("what is a refund", "synthetic", None, None))
    return examples


def test_training_is_reproducible_and_gives_a_loadable_model() -> None:
    trainer = _trainer()
    examples = _synthetic(trainer)
    sources = [{"file": "synthetic", "sha256": "0" * 64, "rows": len(examples), "attribution": ""}]
    spec = trainer.ModelSpec("synthetic_request", 1, ("human_requested",), 1.0, "test model")

    def label_of(example: Any) -> str | None:
        return example.human  # type: ignore[no-any-return]

    runs = [trainer.train_model(spec, examples, label_of, sources, folds=3) for _ in range(2)]
    first, second = (trainer._encode(run.document) for run in runs)
    assert first == second
    model = TextModel.from_document(runs[0].document)
    assert model.name == "synthetic_request"
    assert model.predict(normalise("can i speak to a manager")).probability > 0.5
    assert model.predict(normalise("what is my balance")).probability < 0.5
    summary = model.training["cross_validation"]
    assert summary["runtime_vs_sklearn"]["decision_agreement"] >= 0.95
    assert model.training["examples"] == {"synthetic": {"human_requested": 20, "none": 20}}


def test_near_duplicates_share_a_group() -> None:
    trainer = _trainer()
    groups = trainer.near_duplicate_groups(
        [
            "My card was stolen yesterday at the station!",
            "my card was stolen yesterday at the station",  # same words
            "my card was stolen 12 days ago",
            "My card was stolen 3 days ago!",  # the same but for digits and punctuation
            "what is the exchange rate for dollars",
            "what is the exchange rate for dollars today",  # Jaccard 7/8 >= 0.8
            "how do I open a savings account",
        ]
    )
    assert groups[0] == groups[1]
    assert groups[2] == groups[3]
    assert groups[4] == groups[5]
    assert len({groups[0], groups[2], groups[4], groups[6]}) == 4


def test_uss_user_turns_are_read_per_dialogue(tmp_path: Path) -> None:
    trainer = _trainer()
    path = tmp_path / "dialogues.txt"
    path.write_text(
        "USER\tfind me a table for two\tInform\t3,3,3\n"
        "SYSTEM\tdone, anything else?\treqmore\t\n"
        "USER\tno thanks\t\t3,4,3\n"
        "USER\tOVERALL\t\t3,3,3\n"
        "\n"
        "USER\twhen does the museum open\t\t3,3,3\n"
        "USER\tOVERALL\t\t3,3,3\n",
        encoding="utf-8",
    )
    assert trainer.uss_user_turns(path) == [
        (0, "find me a table for two"),
        (0, "no thanks"),
        (1, "when does the museum open"),
    ]


def test_turns_of_one_dialogue_share_a_group_and_generic_turns_do_not_chain_dialogues() -> None:
    trainer = _trainer()
    groups = trainer.near_duplicate_groups(
        [
            "thank you goodbye",  # dialogue a
            "book a table for four",  # dialogue a
            "thank you goodbye",  # dialogue b: the same generic turn
            "thank you, goodbye!",  # not from a dialogue: joins its near-duplicates
            "where is the train station",  # dialogue c
        ],
        links=["a", "a", "b", None, "c"],
    )
    assert groups[0] == groups[1]
    assert groups[2] != groups[4]
    assert groups[3] in (groups[0], groups[2])


def test_threshold_respects_the_out_of_domain_budget() -> None:
    trainer = _trainer()
    scores = [0.9, 0.8, 0.7, 0.6, 0.3] + [0.5, 0.5] + [0.0] * 2000
    truth = [True] * 5 + [False] * 2002
    background = [False] * 5 + [True] * 2002
    assert trainer.choose_threshold(scores, truth, 0.7) == 0.3  # precision 5/7
    # 0.3 and 0.5 flag two of 2,002 background rows; one per 2,000 is the budget
    assert trainer.choose_threshold(scores, truth, 0.7, background) == 0.6


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            "i my card was stolen charged twice refund money back speak to a person agent "
            "someone used fraud lost phone the order please help thanks hotel room".split()
        ),
        max_size=14,
    ),
    st.sampled_from([None, 0.0, 0.05, 0.3, 0.6, 0.95]),
)
def test_find_agrees_with_predict_and_only_skips_what_cannot_pass(
    words_: list[str], threshold: float | None
) -> None:
    """``find`` rules most messages out without scoring them; the bound must be exact."""
    grams = set(ngrams(normalise(" ".join(words_))))
    for model in (load_model("human_request-2.json"), load_model("high_stakes-2.json")):
        full = model.predict_ngrams(grams, threshold)
        found = model.find(grams, threshold)
        assert (found is None) == (full.label is None)
        assert found is None or found == full
        # A label the caller skips is not found; the others are, unchanged.
        skipped = model.find(grams, threshold, skip=frozenset({full.candidate}))
        assert skipped is None
        assert model.find(grams, threshold, skip=frozenset({"no such label"})) == found
