"""The evaluation metrics against hand-computed values and their defining properties."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.evaluation.metrics import (
    Counts,
    confusion,
    golden_transfer_within_tolerance,
    mean,
    median_lag,
    pr_auc,
    roc_auc,
)

GOLD = [False, False, True, True]
SCORES = [0.1, 0.4, 0.35, 0.8]

labelled_scores = st.lists(
    st.tuples(st.booleans(), st.floats(min_value=0, max_value=1)), min_size=1, max_size=40
)


def test_confusion_counts_each_cell() -> None:
    counts = confusion([True, True, False, False, True], [True, False, True, False, True])
    assert counts == Counts(tp=2, fp=1, fn=1, tn=1)
    assert counts.precision == pytest.approx(2 / 3)
    assert counts.recall == pytest.approx(2 / 3)
    assert counts.f1 == pytest.approx(2 / 3)
    assert counts.flag_rate == pytest.approx(3 / 5)


def test_precision_recall_f1_by_hand() -> None:
    counts = Counts(tp=3, fp=1, fn=5, tn=11)
    assert counts.precision == pytest.approx(0.75)
    assert counts.recall == pytest.approx(0.375)
    assert counts.f1 == pytest.approx(2 * 0.75 * 0.375 / (0.75 + 0.375))


def test_undefined_metrics_are_none_not_zero() -> None:
    assert Counts(fn=4, tn=2).precision is None
    assert Counts(fn=4, tn=2).f1 == 0.0
    assert Counts(fp=1, tn=2).recall is None
    assert Counts(tn=3).f1 is None
    assert Counts().flag_rate is None


def test_confusion_needs_aligned_inputs() -> None:
    with pytest.raises(ValueError, match="3 gold labels but 2"):
        confusion([True, False, True], [True, False])


def test_roc_auc_by_hand() -> None:
    # Positives 0.35 and 0.8 against negatives 0.1 and 0.4: 3 of 4 pairs ordered right.
    assert roc_auc(GOLD, SCORES) == pytest.approx(0.75)


def test_roc_auc_counts_ties_half() -> None:
    assert roc_auc([False, True, True], [0.5, 0.5, 0.9]) == pytest.approx(0.75)
    assert roc_auc([False, True], [0.2, 0.2]) == pytest.approx(0.5)


def test_roc_auc_is_undefined_with_one_class() -> None:
    assert roc_auc([True, True], [0.1, 0.9]) is None
    assert roc_auc([False], [0.3]) is None


def test_average_precision_by_hand() -> None:
    # Thresholds 0.8 (P=1, recall +0.5) and 0.35 (P=2/3, recall +0.5).
    assert pr_auc(GOLD, SCORES) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_average_precision_treats_ties_as_one_threshold() -> None:
    assert pr_auc([True, False], [0.5, 0.5]) == pytest.approx(0.5)
    assert pr_auc([False, False], [0.5, 0.1]) is None


@pytest.mark.parametrize(
    ("gold", "predicted", "tolerance", "expected"),
    [
        ([], [], 1, 1.0),
        ([], [4], 1, 0.0),
        ([4], [], 1, 0.0),
        ([4], [4], 1, 1.0),
        ([4], [5], 1, math.exp(-0.5)),
        ([4], [2], 2, math.exp(-0.5)),
        ([4], [7], 3, math.exp(-0.5)),
        ([4], [6], 1, math.exp(-2)),
        ([2, 8], [7], 1, math.exp(-0.5)),
        ([4], [4, 6], 1, (1 + math.exp(-2)) / 2),
    ],
)
def test_golden_transfer_within_tolerance_definition(
    gold: list[int], predicted: list[int], tolerance: float, expected: float
) -> None:
    assert golden_transfer_within_tolerance(gold, predicted, tolerance) == pytest.approx(expected)


def test_golden_transfer_needs_a_positive_tolerance() -> None:
    with pytest.raises(ValueError, match="positive"):
        golden_transfer_within_tolerance([1], [1], 0)


def test_median_lag_and_mean() -> None:
    assert median_lag([3, -1, 2]) == 2.0
    assert median_lag([1, 2]) == 1.5
    assert median_lag([]) is None
    assert mean([1.0, 0.0, 0.5]) == pytest.approx(0.5)
    assert mean([]) is None


@given(labelled_scores)
def test_roc_and_pr_auc_stay_in_the_unit_interval(pairs: list[tuple[bool, float]]) -> None:
    gold, scores = [g for g, _ in pairs], [s for _, s in pairs]
    for value in (roc_auc(gold, scores), pr_auc(gold, scores)):
        assert value is None or 0.0 <= value <= 1.0 + 1e-12


@given(labelled_scores)
def test_roc_auc_matches_counting_pairs(pairs: list[tuple[bool, float]]) -> None:
    gold, scores = [g for g, _ in pairs], [s for _, s in pairs]
    positives = [s for g, s in pairs if g]
    negatives = [s for g, s in pairs if not g]
    if not positives or not negatives:
        assert roc_auc(gold, scores) is None
        return
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    assert roc_auc(gold, scores) == pytest.approx(wins / (len(positives) * len(negatives)))


@given(
    st.lists(st.floats(min_value=-1, max_value=1), min_size=2, max_size=40, unique=True),
    st.data(),
)
def test_reversing_the_scores_reverses_roc_auc(scores: list[float], data: st.DataObject) -> None:
    gold = data.draw(st.lists(st.booleans(), min_size=len(scores), max_size=len(scores)))
    forward, backward = roc_auc(gold, scores), roc_auc(gold, [-s for s in scores])
    if forward is None or backward is None:
        assert forward is backward is None
    else:
        assert forward == pytest.approx(1 - backward)


@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=50))
def test_f1_stays_in_the_unit_interval(pairs: list[tuple[bool, bool]]) -> None:
    counts = confusion([g for g, _ in pairs], [p for _, p in pairs])
    for value in (counts.precision, counts.recall, counts.f1):
        assert value is None or 0.0 <= value <= 1.0


@given(
    st.lists(st.integers(0, 30), max_size=4),
    st.lists(st.integers(0, 30), max_size=4),
    st.sampled_from([1, 2, 3]),
)
def test_golden_transfer_stays_in_the_unit_interval(
    gold: list[int], predicted: list[int], tolerance: int
) -> None:
    assert 0.0 <= golden_transfer_within_tolerance(gold, predicted, tolerance) <= 1.0
