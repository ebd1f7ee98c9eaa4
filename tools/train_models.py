"""Train the shipped text models (``workers/decision/models/*.json``) from public labelled data.

Usage (from the repository root, with the ``train`` extra installed)::

    python tools/train_models.py --train-data ../shared/train-data \\
        --eval-data ../shared/eval-data --out workers/decision/models

Reads the data in place (none of it is copied anywhere), fits a logistic regression over the
run-time featuriser's n-grams (``workers.decision.models.ngrams``), prunes small weights, picks
the decision threshold from grouped 5-fold cross-validation for high precision, and writes
artefacts that are byte-identical for identical inputs. It prints, and records in each
artefact, the cross-validated scores per source, the agreement between scikit-learn and the
pure-Python run-time model, the final model's scores on the data it was trained on (not an
estimate), and for the high-stakes model a held-out score on the BANKING77 test development
half from a model trained without it. See docs/models.md.
"""

from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.decision.models import (
    FEATURES,
    FORMAT,
    TextModel,
    content_sha256,
    ngrams,
)
from workers.decision.text import normalise, words
from workers.evaluation.datasets import BANKING77_AMBIGUOUS

SEED = 20261207
FOLDS = 5
TARGET_PRECISION = 0.95
JACCARD = 0.8
SIZE_BUDGET = 280_000
"""Bytes an artefact may take; small weights are pruned until it fits."""
PRUNE_STEPS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5)
DECIMALS = 3

NONE = "none"
HUMAN = "human_requested"
HIGH_STAKES_LABELS = (
    "fraud",
    "lost_stolen_card",
    "billing_dispute",
    "refund",
    "money_missing",
    "insurance_claim",
)
BANKING77_TOPICS = {
    "compromised_card": "fraud",
    "card_payment_not_recognised": "fraud",
    "cash_withdrawal_not_recognised": "fraud",
    "direct_debit_payment_not_recognised": "fraud",
    "lost_or_stolen_card": "lost_stolen_card",
    "lost_or_stolen_phone": "lost_stolen_card",
    "transaction_charged_twice": "billing_dispute",
    "extra_charge_on_statement": "billing_dispute",
    "request_refund": "refund",
    "Refund_not_showing_up": "refund",
    "wrong_amount_of_cash_received": "money_missing",
}
NATCS_TOPICS = {
    "DisputeCharge": "billing_dispute",
    "ReportBillingIssue": "billing_dispute",
    "ReportLostStolenCard": "lost_stolen_card",
    "FileClaim": "insurance_claim",
    "ReportAutomobileAccident": "insurance_claim",
}
# Intents of sets never labelled for hand-off whose rows may still ask for a person: such rows
# are left out of the human-request model instead of being taught as negatives.
NOT_HANDOFF_LABELLED_EXCLUDE = frozenset({"FindAgent"})
PERSON_WORDS = frozenset(
    "speak talk someone somebody anyone anybody person human humans agent agents "
    "representative staff manager supervisor call".split()
)

ATTRIBUTION = {
    "banking77": (
        "BANKING77 (Casanueva et al., 'Efficient Intent Detection with Dual Sentence "
        "Encoders', NLP4ConvAI 2020), PolyAI-LDN/task-specific-datasets, CC BY 4.0"
    ),
    "nlupp": (
        "NLU++ (Casanueva et al., 'NLU++: A Multi-Label, Slot-Rich, Generalisable Dataset for "
        "Natural Language Understanding in Task-Oriented Dialogue', Findings of NAACL 2022), "
        "PolyAI-LDN/task-specific-datasets, CC BY 4.0"
    ),
    "natcs": (
        "NatCS / DSTC11 Track 2 (Gung et al., 'NatCS: Eliciting Natural Customer Support "
        "Dialogues', 2023), amazon-science/dstc11-track2-intent-induction, CDLA-Permissive-2.0"
    ),
    "uss": (
        "user turns (text only, no ratings) of the USS dialogues (Sun et al., 'Simulating User "
        "Satisfaction for the Evaluation of Task-oriented Dialogue Systems', SIGIR 2021, "
        "sunnweiwei/user-satisfaction-simulation), which are MultiWOZ 2.1 dialogues (Budzianowski "
        "et al., EMNLP 2018; Eric et al., 2019), MIT, and Schema-Guided Dialogue dialogues "
        "(Rastogi et al., AAAI 2020, google-research-datasets/dstc8-schema-guided-dialogue), "
        "CC BY-SA 4.0: the weights derived from them are shared under CC BY-SA 4.0"
    ),
}
USS_FILES = ("MWOZ.txt", "SGD.txt")
USS_PREFIX = "uss/"
"""Sources whose every row is out of domain ("none" for both models)."""
MAX_BACKGROUND_RATE = 1 / 2000
"""At most this share of out-of-domain (USS) user turns may be flagged out-of-fold."""
REPORT_THRESHOLDS = (0.5, 0.7)


class TrainingError(Exception):
    """The training data is missing or not laid out as expected."""


@dataclass(frozen=True, slots=True)
class Example:
    """One utterance with its source and its labels for both models.

    A label of None means "leave this row out of that model" (ambiguous or not labelled).
    """

    text: str
    source: str
    human: str | None
    topic: str | None
    group: str | None = None
    """Rows with the same group (a dialogue) are kept in one cross-validation fold."""


@dataclass(frozen=True, slots=True)
class DataFile:
    """An input file and its digest, for the artefact's record of what it was trained on."""

    name: str
    sha256: str
    rows: int


@dataclass
class Corpus:
    """Every example read, and the files they came from."""

    examples: list[Example] = field(default_factory=list)
    files: list[DataFile] = field(default_factory=list)


# -- reading ------------------------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _person_words(text: str) -> bool:
    return not PERSON_WORDS.isdisjoint(words(normalise(text)))


def _banking77(path: Path, source: str, corpus: Corpus) -> None:
    if not path.is_file():
        raise TrainingError(f"{path} does not exist")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        intent, text = row["category"], row["text"]
        topic = None if intent in BANKING77_AMBIGUOUS else BANKING77_TOPICS.get(intent, NONE)
        # BANKING77 has no hand-off label: a row that mentions a person is not a safe negative.
        human = None if _person_words(text) else NONE
        corpus.examples.append(Example(text, source, human, topic))
    corpus.files.append(DataFile(source, _digest(path), len(rows)))


def _json_lines(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise TrainingError(f"{path} does not exist")
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _nlupp(path: Path, corpus: Corpus) -> None:
    items = _json_lines(path)
    for item in items:
        intents = set(item.get("intents") or ())
        domain = item["domain"]
        human = HUMAN if "handoff" in intents else NONE
        topic: str | None = NONE
        if "lost_stolen" in intents:
            # A bank customer's lost or stolen item is a card, phone or wallet; a hotel guest's is
            # lost property (a teddy bear, a watch), which the topic does not mean: left out.
            # Bare answers such as "No, it's not lost" (deny / dont_know) are no topic cue.
            ambiguous = domain != "banking" or intents & {"deny", "dont_know"}
            topic = None if ambiguous else "lost_stolen_card"
        elif "refund" in intents:
            topic = "refund"
        corpus.examples.append(Example(item["text"], f"nlupp/{domain}", human, topic))
    corpus.files.append(DataFile("nlupp/utterances.jsonl", _digest(path), len(items)))


def _natcs(folder: Path, corpus: Corpus) -> None:
    for domain in ("banking", "insurance"):
        path = folder / f"{domain}_test-utterances.jsonl"
        items = _json_lines(path)
        for item in items:
            text, intent = item["utterance"], item["intent"]
            exclude = intent in NOT_HANDOFF_LABELLED_EXCLUDE or _person_words(text)
            human = None if exclude else NONE
            corpus.examples.append(
                Example(text, f"natcs/{domain}", human, NATCS_TOPICS.get(intent, NONE))
            )
        corpus.files.append(DataFile(f"natcs_dstc11/{path.name}", _digest(path), len(items)))


def uss_user_turns(path: Path) -> list[tuple[int, str]]:
    """(dialogue number, text) of every USER turn of a USS file, without the OVERALL lines.

    Sessions are separated by blank lines; lines are ``ROLE\ttext\taction\tratings``.
    """
    if not path.is_file():
        raise TrainingError(f"{path} does not exist")
    turns: list[tuple[int, str]] = []
    dialogue = 0
    started = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            dialogue += started
            started = False
            continue
        started = True
        role, _, rest = line.partition("\t")
        text = rest.split("\t", 1)[0].strip()
        if role == "USER" and text and text != "OVERALL":
            turns.append((dialogue, text))
    return turns


def _uss(folder: Path, corpus: Corpus) -> None:
    """USS user turns: task-oriented dialogues (restaurants, hotels, trains, flights, ...), none
    of which is a banking incident, so "none" for the topic model. A turn that mentions a
    person word is left out of the hand-off model, as for the other sets never labelled for it.
    """
    for name in USS_FILES:
        path = folder / name
        turns = uss_user_turns(path)
        stem = name.removesuffix(".txt").lower()
        for dialogue, text in turns:
            human = None if _person_words(text) else NONE
            corpus.examples.append(
                Example(text, f"{USS_PREFIX}{stem}", human, NONE, f"{stem}:{dialogue}")
            )
        corpus.files.append(DataFile(f"uss_satisfaction/{name}", _digest(path), len(turns)))


def read_corpus(train_data: Path, eval_data: Path) -> Corpus:
    """Every source the models may learn from (never the airline tweets: non-commercial)."""
    corpus = Corpus()
    _banking77(train_data / "banking77" / "train.csv", "banking77/train", corpus)
    _banking77(eval_data / "banking77" / "test.csv", "banking77/test-dev", corpus)
    _nlupp(eval_data / "nlupp" / "utterances.jsonl", corpus)
    _natcs(eval_data / "natcs_dstc11", corpus)
    _uss(eval_data / "uss_satisfaction", corpus)
    corpus.examples = drop_conflicts(corpus.examples)
    return corpus


def drop_conflicts(examples: Sequence[Example]) -> list[Example]:
    """Leave out of a model every copy of a text that its sources label both ways for it.

    NLU++ has "please connect me to the spa" once as a hand-off and once not; teaching both
    is noise, and scoring either would count a coin toss.
    """
    human: dict[str, set[str | None]] = defaultdict(set)
    topic: dict[str, set[str | None]] = defaultdict(set)
    for example in examples:
        key = normalise(example.text)
        human[key].add(example.human)
        topic[key].add(example.topic)
    out = []
    for example in examples:
        key = normalise(example.text)
        out.append(
            Example(
                example.text,
                example.source,
                example.human if len(human[key] - {None}) <= 1 else None,
                example.topic if len(topic[key] - {None}) <= 1 else None,
                example.group,
            )
        )
    return out


# -- grouping near-duplicates ---------------------------------------------------------------------


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)


def near_duplicate_groups(
    texts: Sequence[str],
    jaccard: float = JACCARD,
    links: Sequence[str | None] | None = None,
) -> list[int]:
    """A group id per text; texts identical up to digits and punctuation, or whose word sets
    have Jaccard similarity >= ``jaccard``, share a group (transitively), and so do texts with
    the same non-None ``links`` key (the turns of one dialogue).

    Two texts with different non-None links (turns of two dialogues) are not joined as
    near-duplicates: generic turns ("thank you, goodbye") recur in most dialogues and would
    chain nearly all of them into one group. Each can still join a text without a link.

    Jaccard pairs are found with prefix filtering (rarest words first), so only pairs that
    share a rare word are compared instead of all n^2.
    """
    sets = [
        frozenset(token for token in words(normalise(text)) if not token.isdigit())
        for text in texts
    ]
    union = _UnionFind(len(texts))
    link_of: Sequence[str | None] = links if links is not None else [None] * len(texts)
    first_by_link: dict[str, int] = {}
    for index, link in enumerate(link_of):
        if link is not None:
            union.union(first_by_link.setdefault(link, index), index)

    def apart(a: int, b: int) -> bool:
        return link_of[a] is not None and link_of[b] is not None and link_of[a] != link_of[b]

    by_key: dict[str, list[int]] = defaultdict(list)
    for index, text in enumerate(texts):
        by_key["".join(ch for ch in normalise(text) if ch.isalpha())].append(index)
    for members in by_key.values():
        free = [i for i in members if link_of[i] is None]
        for index in members:
            if free and index != free[0]:
                union.union(free[0], index)
    frequency = Counter(token for tokens in sets for token in tokens)
    ordered = [sorted(tokens, key=lambda t: (frequency[t], t)) for tokens in sets]
    index_by_token: dict[str, list[int]] = defaultdict(list)
    for index, tokens in enumerate(ordered):
        size = len(tokens)
        if size == 0:
            continue
        prefix = size - int(jaccard * size + 1e-9) + 1
        candidates: set[int] = set()
        for token in tokens[:prefix]:
            candidates.update(index_by_token[token])
        for other in candidates:
            if apart(index, other):
                continue
            a, b = sets[index], sets[other]
            if len(a & b) >= jaccard * len(a | b) - 1e-9:
                union.union(index, other)
        for token in tokens[:prefix]:
            index_by_token[token].append(index)
    return [union.find(index) for index in range(len(texts))]


# -- fitting and exporting ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What to learn: the artefact's name and version, its positive labels, the fit's C."""

    name: str
    version: int
    labels: tuple[str, ...]
    c: float
    description: str
    positive_weight: float = 1.0
    """Sample weight of positive examples (rare labels need more say in the fit)."""


def _fit(texts: Sequence[str], y: Sequence[int], spec: ModelSpec) -> Any:
    """A scikit-learn pipeline over the run-time featuriser's n-grams (presence, not counts)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    pipeline = make_pipeline(
        CountVectorizer(analyzer=ngrams, binary=True, lowercase=False, dtype=float),
        LogisticRegression(C=spec.c, max_iter=5000, tol=1e-6),
    )
    weights = [1.0 if label == 0 else spec.positive_weight for label in y]
    # One BLAS thread: multi-threaded reductions can change the last bits of the weights.
    with threadpool_limits(limits=1):
        pipeline.fit(
            [normalise(text) for text in texts], list(y), logisticregression__sample_weight=weights
        )
    return pipeline


def _relative_weights(pipeline: Any, n_labels: int) -> tuple[dict[str, list[float]], list[float]]:
    """Weights and biases of each positive label relative to "none" (class 0)."""
    vectoriser, regression = pipeline.steps[0][1], pipeline.steps[1][1]
    vocabulary = vectoriser.get_feature_names_out()
    classes = [int(c) for c in regression.classes_]
    if classes != list(range(n_labels + 1)):
        raise TrainingError(f"every label needs examples in every fit; got classes {classes}")
    coef, intercept = regression.coef_, regression.intercept_
    if n_labels == 1:  # binary: one row, already the positive class against class 0
        rows = [[float(value)] for value in coef[0]]
        return dict(zip(vocabulary, rows, strict=True)), [float(intercept[0])]
    relative = coef[1:] - coef[0]
    biases = [float(b - intercept[0]) for b in intercept[1:]]
    return {
        str(gram): [float(v) for v in relative[:, j]] for j, gram in enumerate(vocabulary)
    }, biases


def _compact(value: float, prune: float) -> float | int:
    """A weight rounded to DECIMALS places, or the integer 0 (shortest JSON) when pruned."""
    rounded = round(value, DECIMALS)
    return 0 if abs(value) < prune or rounded == 0 else rounded


def _document(
    spec: ModelSpec,
    weights: dict[str, list[float]],
    biases: list[float],
    threshold: float,
    prune: float,
    training: dict[str, Any],
) -> dict[str, Any]:
    kept = {}
    for gram, row in sorted(weights.items()):
        values = [_compact(value, prune) for value in row]
        if any(values):
            kept[gram] = values
    document: dict[str, Any] = {
        "format": FORMAT,
        "name": spec.name,
        "version": spec.version,
        "description": spec.description,
        "labels": list(spec.labels),
        "features": FEATURES,
        "weights": kept,
        "biases": [round(b, DECIMALS) for b in biases],
        "threshold": threshold,
        "training": training,
    }
    document["sha256"] = content_sha256(document)
    return document


def _encode(document: dict[str, Any]) -> bytes:
    """The artefact's bytes: sorted keys, one compact line, newline-terminated."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return (text + "\n").encode("ascii")


def _pruned(spec: ModelSpec, pipeline: Any, budget: int) -> tuple[float, TextModel]:
    """The least pruning that fits the size budget, and the run-time model it gives."""
    weights, biases = _relative_weights(pipeline, len(spec.labels))
    for prune in PRUNE_STEPS:
        document = _document(spec, weights, biases, 0.5, prune, {})
        if len(_encode(document)) <= budget:
            return prune, TextModel.from_document(document)
    return PRUNE_STEPS[-1], TextModel.from_document(document)


# -- scoring ------------------------------------------------------------------------------------


def _prf(flags: Sequence[bool], truth: Sequence[bool]) -> dict[str, float | int]:
    tp = sum(1 for f, t in zip(flags, truth, strict=True) if f and t)
    fp = sum(1 for f, t in zip(flags, truth, strict=True) if f and not t)
    fn = sum(1 for f, t in zip(flags, truth, strict=True) if t and not f)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "n": len(truth),
        "positives": tp + fn,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
    }


def choose_threshold(
    scores: Sequence[float],
    truth: Sequence[bool],
    target: float,
    background: Sequence[bool] | None = None,
    max_rate: float = MAX_BACKGROUND_RATE,
) -> float:
    """The lowest threshold (3 decimals) at which precision on these scores is >= ``target``
    and at most ``max_rate`` of the ``background`` rows (out-of-domain turns) are flagged.

    Lowest = most recall; both are checked at the rounded value actually shipped.
    """
    candidates = sorted({round(s, 3) for s in scores if s > 0.0} | {1.0})
    ood = [i for i, b in enumerate(background or ()) if b]
    for threshold in candidates:
        if ood and sum(1 for i in ood if scores[i] >= threshold) > max_rate * len(ood):
            continue
        flags = [s >= threshold for s in scores]
        result = _prf(flags, truth)
        if result["tp"] and float(result["precision"]) >= target:
            # precision rounded to 3 places can round up to the target; check unrounded too
            tp, fp = int(result["tp"]), int(result["fp"])
            if tp / (tp + fp) >= target:
                return max(threshold, 0.05)
    return 1.0


def background_flags(
    examples: Sequence[Example],
    predictions: Sequence[tuple[str, float]],
    thresholds: Iterable[float],
) -> dict[str, Any]:
    """Out-of-domain (USS) turns flagged per threshold: count, rate, and count per label."""
    ood = [i for i, e in enumerate(examples) if e.source.startswith(USS_PREFIX)]
    result: dict[str, Any] = {}
    for threshold in thresholds:
        hits = [i for i in ood if predictions[i][1] >= threshold]
        result[f"{threshold:g}"] = {
            "n": len(ood),
            "flagged": len(hits),
            "per_2000": round(2000 * len(hits) / len(ood), 2) if ood else 0.0,
            "per_label": dict(sorted(Counter(predictions[i][0] for i in hits).items())),
        }
    return result


def _score_by_source(
    examples: Sequence[Example],
    label_of: Callable[[Example], str | None],
    predictions: Sequence[tuple[str, float]],
    threshold: float,
) -> dict[str, Any]:
    """P/R/F1 of the flag (any positive label) per source and overall, plus label accuracy."""
    by_source: dict[str, list[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        by_source[example.source].append(index)
    result: dict[str, Any] = {}
    for source in ["all", *sorted(by_source)]:
        indexes = range(len(examples)) if source == "all" else by_source[source]
        truth = [label_of(examples[i]) != NONE for i in indexes]
        flags = [predictions[i][1] >= threshold for i in indexes]
        scores = _prf(flags, truth)
        hits = [
            i for i in indexes if label_of(examples[i]) != NONE and predictions[i][1] >= threshold
        ]
        if hits:
            right = sum(1 for i in hits if predictions[i][0] == label_of(examples[i]))
            scores["label_accuracy"] = round(right / len(hits), 3)
        result[source] = scores
    return result


def _predict_all(model: TextModel, texts: Sequence[str]) -> list[tuple[str, float]]:
    out = []
    for text in texts:
        prediction = model.predict(normalise(text))
        out.append((prediction.candidate, prediction.probability))
    return out


def _sklearn_predict(
    pipeline: Any, texts: Sequence[str], labels: Sequence[str]
) -> list[tuple[str, float]]:
    probabilities = pipeline.predict_proba([normalise(text) for text in texts])
    out = []
    for row in probabilities:
        best = max(range(1, len(row)), key=lambda k: row[k])
        out.append((labels[best - 1], float(row[best])))
    return out


@dataclass
class CrossValidation:
    """Out-of-fold predictions of the run-time model and of scikit-learn, and the fold sizes."""

    runtime: list[tuple[str, float]]
    sklearn: list[tuple[str, float]]
    fold_of: list[int]


def cross_validate(
    examples: Sequence[Example],
    label_of: Callable[[Example], str | None],
    spec: ModelSpec,
    prune: float,
    folds: int = FOLDS,
) -> CrossValidation:
    """Grouped, stratified k-fold CV; each fold's model is pruned and run as shipped."""
    from sklearn.model_selection import StratifiedGroupKFold

    texts = [e.text for e in examples]
    index_of = {label: k for k, label in enumerate((NONE, *spec.labels))}
    y = [index_of[str(label_of(e))] for e in examples]
    groups = near_duplicate_groups(texts, links=[e.group for e in examples])
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=SEED)
    runtime: list[tuple[str, float]] = [("", 0.0)] * len(examples)
    sk: list[tuple[str, float]] = [("", 0.0)] * len(examples)
    fold_of = [0] * len(examples)
    for fold, (train, test) in enumerate(splitter.split(texts, y, groups)):
        pipeline = _fit([texts[i] for i in train], [y[i] for i in train], spec)
        weights, biases = _relative_weights(pipeline, len(spec.labels))
        model = TextModel.from_document(_document(spec, weights, biases, 0.5, prune, {}))
        held = [texts[i] for i in test]
        for i, r, s in zip(
            test,
            _predict_all(model, held),
            _sklearn_predict(pipeline, held, spec.labels),
            strict=True,
        ):
            runtime[i], sk[i], fold_of[i] = r, s, fold
    return CrossValidation(runtime, sk, fold_of)


def _with_rules(
    examples: Sequence[Example],
    label_of: Callable[[Example], str | None],
    predictions: Sequence[tuple[str, float]],
    threshold: float,
    rule: Callable[[str], bool],
) -> dict[str, Any]:
    """Flag P/R/F1 per source of the hand-written rules alone and of rules OR model (CV)."""
    fired = [rule(e.text) for e in examples]
    result: dict[str, Any] = {}
    by_source: dict[str, list[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        by_source[example.source].append(index)
    for source in ["all", *sorted(by_source)]:
        indexes = list(range(len(examples))) if source == "all" else by_source[source]
        truth = [label_of(examples[i]) != NONE for i in indexes]
        if not any(truth):
            continue
        rules = _prf([fired[i] for i in indexes], truth)
        either = _prf([fired[i] or predictions[i][1] >= threshold for i in indexes], truth)
        keep = ("precision", "recall", "f1")
        result[source] = {
            "rules": {key: rules[key] for key in keep},
            "rules_or_model": {key: either[key] for key in keep},
        }
    return result


def _human_rule(text: str) -> bool:
    from workers.decision.human_request import detect_human_request

    return detect_human_request(text) is not None


@functools.cache
def _taxonomy() -> Any:
    from workers.decision.policy import default_policy
    from workers.decision.topics import Taxonomy

    return Taxonomy([t for t in default_policy().topics if t.name in HIGH_STAKES_LABELS])


def _topic_rule(text: str) -> bool:
    return bool(_taxonomy().find(normalise(text)))


def _library_versions() -> dict[str, str]:
    """The versions the weights came from (another version may round differently)."""
    import numpy
    import sklearn

    return {"scikit-learn": str(sklearn.__version__), "numpy": str(numpy.__version__)}


def _agreement(cv: CrossValidation, threshold: float) -> dict[str, float]:
    same = sum(
        1
        for (rl, rp), (sl, sp) in zip(cv.runtime, cv.sklearn, strict=True)
        if (rp >= threshold) == (sp >= threshold) and (rp < threshold or rl == sl)
    )
    gap = max(abs(rp - sp) for (_, rp), (_, sp) in zip(cv.runtime, cv.sklearn, strict=True))
    return {
        "decision_agreement": round(same / len(cv.runtime), 4),
        "max_probability_gap": round(gap, 4),
    }


def _label_counts(examples: Sequence[Example], label_of: Callable[[Example], str | None]) -> Any:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for example in examples:
        counts[example.source][str(label_of(example))] += 1
    return {source: dict(sorted(counts[source].items())) for source in sorted(counts)}


@dataclass
class Trained:
    """An artefact and the report printed about it."""

    document: dict[str, Any]
    report: dict[str, Any]


def train_model(
    spec: ModelSpec,
    examples: Sequence[Example],
    label_of: Callable[[Example], str | None],
    sources: Sequence[dict[str, Any]],
    budget: int = SIZE_BUDGET,
    folds: int = FOLDS,
    target: float = TARGET_PRECISION,
    rule: Callable[[str], bool] | None = None,
) -> Trained:
    """Fit on every usable example, cross-validate, choose the threshold, build the artefact."""
    usable = [e for e in examples if label_of(e) is not None]
    texts = [e.text for e in usable]
    index_of = {label: k for k, label in enumerate((NONE, *spec.labels))}
    y = [index_of[str(label_of(e))] for e in usable]
    final = _fit(texts, y, spec)
    prune, _ = _pruned(spec, final, budget)
    cv = cross_validate(usable, label_of, spec, prune, folds)
    truth = [label_of(e) != NONE for e in usable]
    ood = [e.source.startswith(USS_PREFIX) for e in usable]
    threshold = choose_threshold([p for _, p in cv.runtime], truth, target, ood)
    cv_scores = _score_by_source(usable, label_of, cv.runtime, threshold)
    ood_flags = background_flags(usable, cv.runtime, (threshold, *REPORT_THRESHOLDS))
    with_rules: dict[str, Any] | None = None
    if rule is not None:
        # A side-by-side for the report only: the rules live in files other people edit, so a
        # broken rule file must not stop the artefacts from being built.
        try:
            with_rules = _with_rules(usable, label_of, cv.runtime, threshold, rule)
        except Exception as exc:
            print(f"train_models: rules comparison skipped: {exc!r}"[:300], file=sys.stderr)
    weights, biases = _relative_weights(final, len(spec.labels))
    model = TextModel.from_document(_document(spec, weights, biases, threshold, prune, {}))
    trained_on = _score_by_source(usable, label_of, _predict_all(model, texts), threshold)
    training = {
        "algorithm": (
            f"scikit-learn LogisticRegression (lbfgs, L2, C={spec.c:g}, positive sample weight "
            f"{spec.positive_weight:g}) on word unigram+bigram presence of normalise(text); "
            f"weights relative to 'none', rounded to {DECIMALS} decimals, weights with "
            f"|w| < {prune:g} set to 0"
        ),
        "seed": SEED,
        "libraries": _library_versions(),
        "sources": list(sources),
        "examples": _label_counts(usable, label_of),
        "cross_validation": {
            "method": (
                f"{folds}-fold StratifiedGroupKFold; near-duplicates (same letters, or word-set "
                f"Jaccard >= {JACCARD}) kept in one fold; the pruned run-time model of each fold "
                "scores its held-out fold; USS turns of one dialogue kept in one fold; "
                f"threshold = lowest giving pooled out-of-fold precision >= {target} and at most "
                f"{MAX_BACKGROUND_RATE * 2000:g} flagged USS user turn per 2,000 (chosen on "
                "these same scores)"
            ),
            "scores": cv_scores,
            "uss_user_turns_flagged": ood_flags,
            "runtime_vs_sklearn": _agreement(cv, threshold),
        },
        "trained_on_scores_not_an_estimate": trained_on,
        "threshold_target_precision": target,
    }
    document = _document(spec, weights, biases, threshold, prune, training)
    return Trained(
        document,
        {"cv": cv_scores, "trained_on": trained_on, "rules": with_rules, "model": model},
    )


# -- the two shipped models -----------------------------------------------------------------------

HUMAN_SPEC = ModelSpec(
    name="human_request",
    version=2,
    labels=(HUMAN,),
    c=4.0,
    positive_weight=20.0,
    description="Does a customer message ask for a person (directly or indirectly)?",
)
HIGH_STAKES_SPEC = ModelSpec(
    name="high_stakes",
    version=2,
    labels=HIGH_STAKES_LABELS,
    c=4.0,
    description="Which high-stakes topic (engine topic names) a customer message is about, if any.",
)


def _sources(corpus: Corpus, names: Iterable[str]) -> list[dict[str, Any]]:
    wanted = set(names)
    out = []
    for data in corpus.files:
        if data.name.split("/")[0] in wanted:
            family = data.name.split("/")[0].split("_")[0]
            out.append(
                {
                    "file": data.name,
                    "sha256": data.sha256,
                    "rows": data.rows,
                    "attribution": ATTRIBUTION[family],
                }
            )
    return out


def _held_out_banking77(corpus: Corpus, also_at: Iterable[float] = ()) -> dict[str, Any]:
    """Train the high-stakes model without the BANKING77 test half, score it on that half
    (at the threshold of its own CV, and for comparison at each of ``also_at``)."""
    train = [e for e in corpus.examples if e.source != "banking77/test-dev" and e.topic is not None]
    test = [e for e in corpus.examples if e.source == "banking77/test-dev" and e.topic is not None]
    index_of = {label: k for k, label in enumerate((NONE, *HIGH_STAKES_SPEC.labels))}
    pipeline = _fit(
        [e.text for e in train], [index_of[str(e.topic)] for e in train], HIGH_STAKES_SPEC
    )
    spec = HIGH_STAKES_SPEC
    usable_train = train
    truth = [e.topic != NONE for e in usable_train]
    ood = [e.source.startswith(USS_PREFIX) for e in usable_train]
    prune, _ = _pruned(spec, pipeline, SIZE_BUDGET)
    cv = cross_validate(usable_train, lambda e: e.topic, spec, prune)
    threshold = choose_threshold([p for _, p in cv.runtime], truth, TARGET_PRECISION, ood)
    weights, biases = _relative_weights(pipeline, len(spec.labels))
    model = TextModel.from_document(_document(spec, weights, biases, threshold, prune, {}))
    predictions = _predict_all(model, [e.text for e in test])
    overall = _score_by_source(test, lambda e: e.topic, predictions, threshold)["all"]
    groups = {
        "fraud_group": {"fraud", "lost_stolen_card"},
        "billing_group": {"billing_dispute", "refund", "money_missing"},
    }
    per_group = {}
    for name, members in groups.items():
        indexes = [i for i, e in enumerate(test) if e.topic in members]
        caught = sum(1 for i in indexes if predictions[i][1] >= threshold)
        per_group[name] = {"positives": len(indexes), "recall": round(caught / len(indexes), 3)}
    return {
        "what": (
            "high-stakes flag on banking77/test.csv (eval development half; ambiguous intents "
            "left out) by a model trained without it (BANKING77 train + NLU++ + NatCS + USS), "
            "threshold chosen by that model's own grouped CV"
        ),
        "threshold": threshold,
        "scores": overall,
        "per_group": per_group,
        "scores_at_other_thresholds": {
            f"{other:g}": _score_by_source(test, lambda e: e.topic, predictions, other)["all"]
            for other in sorted(set(also_at))
        },
    }


def build(train_data: Path, eval_data: Path) -> tuple[dict[str, Trained], dict[str, Any]]:
    """Both artefacts from the data folders, and the held-out BANKING77 figure."""
    corpus = read_corpus(train_data, eval_data)
    human = train_model(
        HUMAN_SPEC,
        corpus.examples,
        lambda e: e.human,
        _sources(corpus, ("banking77", "nlupp", "natcs_dstc11", "uss_satisfaction")),
        rule=_human_rule,
    )
    high_stakes = train_model(
        HIGH_STAKES_SPEC,
        corpus.examples,
        lambda e: e.topic,
        _sources(corpus, ("banking77", "nlupp", "natcs_dstc11", "uss_satisfaction")),
        rule=_topic_rule,
    )
    shipped = high_stakes.document["threshold"]
    held_out = _held_out_banking77(corpus, (shipped, *REPORT_THRESHOLDS))
    high_stakes.document["training"]["held_out_banking77_test_dev"] = held_out
    high_stakes.document["sha256"] = content_sha256(high_stakes.document)
    return {"human_request": human, "high_stakes": high_stakes}, held_out


AIRLINE_MIN_CONFIDENCE = 0.7
AIRLINE_EXAMPLES = 5


def airline_flags(model: TextModel, path: Path) -> dict[str, Any]:
    """How many airline tweets (``text_restored``) a model flags at its own threshold.

    Measurement only: the tweets are CC BY-NC-SA, so nothing learned or stored comes from them
    (this is printed, never written into an artefact). Every flag is a false positive for the
    policy's topics and, nearly always, for a hand-off request to the bank's staff.
    """
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    result: dict[str, Any] = {}
    for name, keep in (
        (f"confidence >= {AIRLINE_MIN_CONFIDENCE:g}", AIRLINE_MIN_CONFIDENCE),
        ("all", 0.0),
    ):
        chosen = [r for r in rows if float(r["airline_sentiment_confidence"] or 0) >= keep]
        hits: list[tuple[str, float, str]] = []
        for row in chosen:
            prediction = model.predict(normalise(row["text_restored"]))
            if prediction.label is not None:
                hits.append((prediction.label, prediction.probability, row["text_restored"]))
        result[name] = {
            "n": len(chosen),
            "flagged": len(hits),
            "per_label": dict(sorted(Counter(label for label, _, _ in hits).items())),
            "examples": [
                f"{label} {p:.2f}: {text}"
                for label, p, text in sorted(hits, key=lambda h: (-h[1], h[2]))[:AIRLINE_EXAMPLES]
            ],
        }
    return result


def _table(title: str, scores: dict[str, Any]) -> str:
    lines = [title, f"  {'source':<22}{'n':>7}{'pos':>6}{'P':>8}{'R':>8}{'F1':>8}{'label acc':>11}"]
    for source, s in scores.items():
        accuracy = s.get("label_accuracy")
        lines.append(
            f"  {source:<22}{s['n']:>7}{s['positives']:>6}{s['precision']:>8.3f}"
            f"{s['recall']:>8.3f}{s['f1']:>8.3f}{'' if accuracy is None else f'{accuracy:>11.3f}'}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point: train, print the tables, write the artefacts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-data", type=Path, default=Path("../shared/train-data"))
    parser.add_argument("--eval-data", type=Path, default=Path("../shared/eval-data"))
    parser.add_argument("--out", type=Path, default=Path("workers/decision/models"))
    parser.add_argument(
        "--airline",
        type=Path,
        default=None,
        help="airline tweets CSV to count false positives on (measurement only; default: "
        "EVAL_DATA/airline_tweets/tweets_labeled.csv when present)",
    )
    args = parser.parse_args(argv)
    try:
        trained, held_out = build(args.train_data, args.eval_data)
    except (TrainingError, OSError, KeyError, ValueError) as exc:
        print(f"train_models: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for result in trained.values():
        document = result.document
        path = args.out / f"{document['name']}-{document['version']}.json"
        data = _encode(document)
        path.write_bytes(data)
        cv = document["training"]["cross_validation"]
        print(
            f"\n== {path} ({len(data):,} bytes, {len(document['weights']):,} n-grams, "
            f"threshold {document['threshold']}, sha256 {document['sha256'][:16]}...)"
        )
        print(_table("grouped 5-fold CV (run-time model, estimate):", cv["scores"]))
        print(f"  run-time vs scikit-learn on CV folds: {cv['runtime_vs_sklearn']}")
        print("  USS user turns flagged out-of-fold (threshold: flagged/n, per 2,000, per label):")
        for threshold, flags in cv["uss_user_turns_flagged"].items():
            print(
                f"    {threshold:<6} {flags['flagged']}/{flags['n']}  {flags['per_2000']}"
                f"  {flags['per_label']}"
            )
        # Printed, not stored: the rules change with other files, the artefact must not.
        rules = result.report["rules"] or {}
        if rules:
            print("  hand-written rules alone vs rules OR model (CV), flag P/R/F1:")
            for source, pair in rules.items():
                r, e = pair["rules"], pair["rules_or_model"]
                print(
                    f"    {source:<20} rules {r['precision']:.3f}/{r['recall']:.3f}/{r['f1']:.3f}"
                    f"   OR {e['precision']:.3f}/{e['recall']:.3f}/{e['f1']:.3f}"
                )
        print(
            _table(
                "final model on the data it was trained on (NOT an estimate):",
                document["training"]["trained_on_scores_not_an_estimate"],
            )
        )
    airline = args.airline or args.eval_data / "airline_tweets" / "tweets_labeled.csv"
    if airline.is_file():
        print(f"\nairline tweets flagged (measurement only, never trained on): {airline}")
        for result in trained.values():
            model = result.report["model"]
            for subset, flags in airline_flags(model, airline).items():
                print(
                    f"  {model.name}-{model.version} @ {model.threshold} on {subset}: "
                    f"{flags['flagged']}/{flags['n']} {flags['per_label']}"
                )
                for example in flags["examples"]:
                    print(f"      {example}"[:200])
    s = held_out["scores"]
    print(
        f"\nheld-out BANKING77 test dev half, high-stakes flag (model without it, threshold "
        f"{held_out['threshold']}): n={s['n']} pos={s['positives']} P={s['precision']:.3f} "
        f"R={s['recall']:.3f} F1={s['f1']:.3f} per group {held_out['per_group']}"
    )
    for other, s in held_out["scores_at_other_thresholds"].items():
        print(
            f"  same model at threshold {other}: P={s['precision']:.3f} R={s['recall']:.3f} "
            f"F1={s['f1']:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
