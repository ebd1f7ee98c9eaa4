"""Learned text classifiers that back up the hand-written detectors.

The regular expressions in ``human_request.py`` and the policy's topic phrases are precise but
miss phrasings nobody wrote down. A small linear model over word unigrams and bigrams, learned
from public labelled data by ``tools/train_models.py``, catches many of those; the engine ORs
the two. At run time the model is pure Python: one dict lookup per n-gram of the message and a
softmax over a handful of labels, so it costs microseconds and needs no numpy or scikit-learn.

An artefact is a small JSON file (see ``docs/models.md``) holding the labels, the featuriser's
spec, per-n-gram weights, biases, the decision threshold chosen by cross-validation and a
training summary. Its ``sha256`` covers every other field, so a damaged or hand-edited file is
refused at load time instead of giving quietly wrong answers.
"""

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise, repeat
from operator import add
from pathlib import Path
from typing import Any

from workers.decision.text import normalise, words
from workers.errors import EscalatorError

MODELS_DIR = Path(__file__).with_name("models")
"""Where the shipped artefacts live (package data); bare names resolve against it."""

FORMAT = "escalator-text-model/1"
"""The artefact layout this module reads; bumped when the layout changes."""

FEATURES = {"tokens": "workers.decision.text.words(normalise(text))", "ngrams": [1, 2]}
"""The featuriser the weights were learned for; an artefact with another one is refused."""

CUES = 3
"""How many n-grams a prediction names as its evidence."""


class ModelError(EscalatorError):
    """A model artefact is missing, damaged, or not one this code can run."""


@dataclass(frozen=True, slots=True)
class Prediction:
    """What a model makes of one message.

    ``candidate`` is the most probable positive label and ``probability`` its probability,
    whether or not it reaches the threshold; ``label`` is ``candidate`` when it does and None
    otherwise, so callers can log near misses but act only on ``label``. ``cues`` are the
    n-grams that pushed hardest toward ``label`` (strongest first), for explanations; they
    are only worked out, and so only non-empty, when ``label`` is set.
    """

    label: str | None
    probability: float
    candidate: str
    cues: tuple[str, ...] = ()


def ngrams(folded: str) -> list[str]:
    """Word unigrams then bigrams of normalised text: the one featuriser, shared with training.

    Training imports this function, so the learned weights and the run-time lookups can never
    disagree about what a feature is.
    """
    return ngrams_of(words(folded))


def ngrams_of(tokens: list[str]) -> list[str]:
    """``ngrams`` of a message already split by ``words``."""
    return [*tokens, *map(" ".join, pairwise(tokens))]


def content_sha256(document: Mapping[str, Any]) -> str:
    """The sha256 of an artefact's canonical JSON without its ``sha256`` field.

    Canonical = sorted keys, no spaces, ASCII: the same content always hashes the same, however
    the file was pretty-printed.
    """
    body = {key: value for key, value in document.items() if key != "sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class TextModel:
    """A linear softmax classifier over n-gram presence, with "none" as the reference class.

    ``rows[ngram][k]`` and ``biases[k]`` are the scores for ``labels[k]`` relative to "none"
    (whose score is 0), so a binary model is the one-label case of a multi-class one. Scoring
    looks each n-gram up once and sums the rows it finds label by label (``zip`` and ``sum``
    run at C speed), which keeps a prediction within a few microseconds.
    """

    name: str
    version: int
    sha256: str
    labels: tuple[str, ...]
    biases: tuple[float, ...]
    threshold: float
    rows: Mapping[str, tuple[float, ...]] = field(repr=False)
    """Per n-gram with any non-zero weight, its weight toward each label."""
    ceiling: Mapping[str, float] = field(repr=False)
    """Per n-gram, its largest positive weight toward any label: ``find``'s cheap bound."""
    training: Mapping[str, Any] = field(default_factory=dict)
    top_bias: float = field(init=False, repr=False)
    """The largest bias: the constant part of ``find``'s bound."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "top_bias", max(self.biases))

    @classmethod
    def from_document(cls, document: Mapping[str, Any], where: str = "model") -> "TextModel":
        """Build a model from a parsed artefact, refusing anything inconsistent."""
        try:
            if document["format"] != FORMAT:
                raise ModelError(f"{where}: format {document['format']!r} is not {FORMAT!r}")
            if document["features"] != FEATURES:
                raise ModelError(f"{where}: featuriser {document['features']!r} is not supported")
            recorded = document["sha256"]
            if recorded != content_sha256(document):
                raise ModelError(f"{where}: content does not match its sha256 (damaged or edited)")
            labels = tuple(str(label) for label in document["labels"])
            biases = tuple(float(bias) for bias in document["biases"])
            weights = {
                str(gram): tuple(float(value) for value in row)
                for gram, row in document["weights"].items()
            }
            threshold = float(document["threshold"])
            name, version = str(document["name"]), int(document["version"])
            training = dict(document.get("training", {}))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"{where}: not a valid model artefact ({exc!r})") from exc
        if not labels or len(set(labels)) != len(labels) or len(biases) != len(labels):
            raise ModelError(f"{where}: labels and biases must be equal-length and distinct")
        if any(len(row) != len(labels) for row in weights.values()):
            raise ModelError(f"{where}: every weight row needs one value per label")
        if not 0.0 <= threshold <= 1.0:
            raise ModelError(f"{where}: threshold {threshold} is outside [0, 1]")
        ceiling = {gram: top for gram, row in weights.items() if (top := max(row)) > 0.0}
        return cls(
            name=name,
            version=version,
            sha256=str(recorded),
            labels=labels,
            biases=biases,
            threshold=threshold,
            rows={gram: row for gram, row in weights.items() if any(row)},
            ceiling=ceiling,
            training=training,
        )

    @property
    def vocabulary(self) -> frozenset[str]:
        """The n-grams with a weight: a caller running several models on one message may keep
        only the n-grams some model knows before calling ``find`` (the others add nothing)."""
        return frozenset(self.rows)

    def check_labels(self, known: Iterable[str]) -> None:
        """Refuse a model that can answer a label the caller has no meaning for.

        The engine calls this at start-up with its topic names, so a model trained for another
        policy fails loudly there instead of naming topics no rule or route exists for.
        """
        unknown = sorted(set(self.labels) - set(known))
        if unknown:
            raise ModelError(f"model {self.name}-{self.version} has unknown label(s) {unknown}")

    def probabilities(self, folded: str) -> dict[str, float]:
        """Probability of every label and of ``"none"`` for normalised text."""
        scores = self._scores(set(ngrams(folded)))
        return dict(zip(("none", *self.labels), _softmax(scores), strict=True))

    def predict(self, folded: str, threshold: float | None = None) -> Prediction:
        """Classify normalised text (``normalise(text)``); ``threshold`` overrides the default.

        One dict lookup per n-gram, then a softmax: a 20-word message takes about 10-15 us.
        ``cues`` are only worked out for a message that passes the threshold (most do not,
        and near misses need no explanation).
        """
        return self.predict_ngrams(set(ngrams(folded)), threshold)

    def predict_ngrams(self, grams: AbstractSet[str], threshold: float | None = None) -> Prediction:
        """``predict`` on the distinct ``ngrams(folded)``, for a caller that runs several
        models on one message and featurises it once (the models learned presence, so each
        n-gram counts once)."""
        return self._predict(grams, self._scores(grams), threshold)

    def find(
        self,
        grams: AbstractSet[str],
        threshold: float | None = None,
        skip: AbstractSet[str] = frozenset(),
    ) -> Prediction | None:
        """The prediction when a label reaches the threshold, else None; most messages are
        ruled out without scoring them. None too when the most probable label is in ``skip``
        (labels the caller has found otherwise), before its cues are worked out.

        Exact, not a heuristic: a label's probability is at most the sigmoid of its score
        (the softmax also divides by "none" and the other labels), and its score at most the
        largest bias plus the n-grams' largest positive weights. When even that bound stays
        below the threshold's logit, no label can reach it; nor when the scores themselves do
        (the softmax is then not worked out).
        """
        limit = self.threshold if threshold is None else threshold
        if limit >= 1.0:
            return None
        floor = _logit(limit) if limit > 0.0 else -math.inf  # a threshold of 0 passes all
        if self.top_bias + sum(map(self.ceiling.get, grams, repeat(0.0))) < floor:
            return None
        scores = self._scores(grams)
        if max(scores[1:]) < floor:  # the labels' own scores: the same bound, now exact
            return None
        found = self._predict(grams, scores, limit, skip)
        return found if found.label is not None else None

    def _predict(
        self,
        grams: AbstractSet[str],
        scores: list[float],
        threshold: float | None,
        skip: AbstractSet[str] = frozenset(),
    ) -> Prediction:
        probabilities = _softmax(scores)
        probability = max(probabilities[1:])
        best = probabilities.index(probability, 1) - 1
        label = self.labels[best]
        if probability < (self.threshold if threshold is None else threshold) or label in skip:
            return Prediction(None, probability, label)
        # Evidence: the n-grams with the largest positive weight toward the chosen label.
        rows = self.rows
        pushing = sorted(
            (gram for gram in grams if gram in rows and rows[gram][best] > 0.0),
            key=lambda gram: (-rows[gram][best], gram),
        )
        return Prediction(label, probability, label, tuple(pushing[:CUES]))

    def predict_text(self, text: str, threshold: float | None = None) -> Prediction:
        """``predict`` for raw text, for callers that have not normalised it yet."""
        return self.predict(normalise(text), threshold)

    def _scores(self, grams: AbstractSet[str]) -> list[float]:
        """Scores of ("none", *labels): biases plus the summed weights of the n-grams found."""
        found = list(filter(None, map(self.rows.get, grams)))  # rows are never empty
        if not found:
            return [0.0, *self.biases]
        # Every row has one weight per label (checked at load time).
        return [0.0, *map(add, self.biases, map(sum, zip(*found, strict=True)))]


@lru_cache(maxsize=64)
def _logit(probability: float) -> float:
    """The score whose sigmoid is ``probability`` (0 < probability < 1)."""
    return math.log(probability / (1.0 - probability))


def _softmax(scores: Sequence[float]) -> list[float]:
    """Numerically safe softmax (shifted by the largest score)."""
    top = max(scores)
    exps = [math.exp(score - top) for score in scores]
    total = sum(exps)
    return [value / total for value in exps]


def resolve(name_or_path: str | Path) -> Path:
    """A bare file name ("high_stakes-1.json") means the shipped one; anything else is a path."""
    path = Path(name_or_path)
    if isinstance(name_or_path, str) and path.name == name_or_path:
        return MODELS_DIR / path.name
    return path


def load_model(name_or_path: str | Path) -> TextModel:
    """Read and check one artefact: a bare file name from the package, or a path."""
    path = resolve(name_or_path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"cannot read model {path}: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"model {path} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ModelError(f"model {path} is not a JSON object")
    return TextModel.from_document(document, where=str(path))


@lru_cache(maxsize=16)
def shared_model(name_or_path: str) -> TextModel:
    """``load_model`` once per process: every engine and policy check shares the artefact."""
    return load_model(name_or_path)
