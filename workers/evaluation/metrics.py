"""Pure scoring functions for the evaluation; no numpy, so the worker image needs nothing more.

Every function returns None where the metric is undefined (a set with one class only, nothing
to average), so a small or one-sided sample shows "n/a" instead of a made-up 0 or 1.
"""

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Counts:
    """A confusion matrix for one binary flag."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float | None:
        """Share of flagged items that are positive; undefined when nothing was flagged."""
        flagged = self.tp + self.fp
        return self.tp / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        """Share of positives that were flagged; undefined without positives."""
        positives = self.tp + self.fn
        return self.tp / positives if positives else None

    @property
    def f1(self) -> float | None:
        """2·TP / (2·TP + FP + FN): 0 when positives exist and none was found."""
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else None

    @property
    def flag_rate(self) -> float | None:
        """Share of all items flagged (the false-alarm rate when every item is negative)."""
        total = self.tp + self.fp + self.fn + self.tn
        return (self.tp + self.fp) / total if total else None


def confusion(gold: Sequence[bool], predicted: Sequence[bool]) -> Counts:
    """Count agreements between gold labels and predicted flags, item by item."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    pairs = list(zip(gold, predicted, strict=True))
    return Counts(
        tp=sum(1 for g, p in pairs if g and p),
        fp=sum(1 for g, p in pairs if not g and p),
        fn=sum(1 for g, p in pairs if g and not p),
        tn=sum(1 for g, p in pairs if not g and not p),
    )


def _average_ranks(scores: Sequence[float]) -> list[float]:
    """1-based ranks of ``scores``, tied scores sharing the mean of their ranks."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        mean_rank = (start + end) / 2 + 1
        for position in range(start, end + 1):
            ranks[order[position]] = mean_rank
        start = end + 1
    return ranks


def roc_auc(gold: Sequence[bool], scores: Sequence[float]) -> float | None:
    """Chance that a random positive outscores a random negative (ties count half).

    Computed from ranks (Mann-Whitney U), so it needs no threshold; undefined with one class.
    """
    if len(gold) != len(scores):
        raise ValueError(f"{len(gold)} gold labels but {len(scores)} scores")
    positives = sum(gold)
    negatives = len(gold) - positives
    if not positives or not negatives:
        return None
    ranks = _average_ranks(scores)
    rank_sum = sum(rank for rank, label in zip(ranks, gold, strict=True) if label)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def pr_auc(gold: Sequence[bool], scores: Sequence[float]) -> float | None:
    """Average precision: precision at each distinct score, weighted by the recall it adds.

    Tied scores form one threshold (as in scikit-learn), so ties are not ordered by luck.
    """
    if len(gold) != len(scores):
        raise ValueError(f"{len(gold)} gold labels but {len(scores)} scores")
    positives = sum(gold)
    if not positives:
        return None
    by_score: dict[float, list[int]] = {}
    for score, label in zip(scores, gold, strict=True):
        counts = by_score.setdefault(score, [0, 0])
        counts[0 if label else 1] += 1
    true_positives = flagged = 0
    total = 0.0
    for score in sorted(by_score, reverse=True):
        gained, false_alarms = by_score[score]
        true_positives += gained
        flagged += gained + false_alarms
        total += gained / positives * (true_positives / flagged)
    return total


def golden_transfer_within_tolerance(
    gold: Sequence[int], predicted: Sequence[int], tolerance: float
) -> float:
    """MHCH's GT-T for one dialogue: how close predicted handoff positions are to gold ones.

    Each prediction p scores max over gold q of exp(-(p-q)²/(2T²)); the dialogue scores their
    mean. No gold: 1 when nothing was predicted, else 0. Gold but no prediction: 0.
    """
    if tolerance <= 0:
        raise ValueError("tolerance must be positive")
    if not gold:
        return 0.0 if predicted else 1.0
    if not predicted:
        return 0.0
    best = [max(math.exp(-((p - q) ** 2) / (2 * tolerance**2)) for q in gold) for p in predicted]
    return sum(best) / len(best)


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean; undefined for no values."""
    return sum(values) / len(values) if values else None


def median_lag(lags: Sequence[int]) -> float | None:
    """Median of per-dialogue lags (negative = early); undefined when nothing escalated."""
    return float(statistics.median(lags)) if lags else None
