"""How well the frustration score tracks USS turn dissatisfaction, and whether learning helps.

    pip install 'scikit-learn>=1.4,<2'    # for the grouped folds and the learned comparisons
    python tools/frustration/uss_cv.py [--data ../shared/eval-data] [--skip-learned]

Reads the USS development half in place (nothing is copied) and prints, for MultiWOZ and SGD:

1. the shipped ``score_message`` on the whole development half: ROC-AUC, and precision,
   recall and F1 at the shipped threshold; plus the share of turns in satisfied dialogues
   (OVERALL >= 3) that it calls negative;
2. the same F1 per fold of a 5-fold split GROUPED by dialogue (mean and spread). The rules were
   written while looking at this half, so this shows fold-to-fold variance, not generalisation;
3. two learned alternatives, trained and tested inside the same grouped folds, so their numbers
   are honest estimates: (a) the rule weight plus a bag of word 1-2 grams (logistic
   regression, threshold picked on the training folds); (b) the rule score with the weight of a
   leading "no" learned from the words after it. Neither ships: in these folds they gained too
   little, and too unevenly across regularisation settings, to be worth an opaque artefact.

The numbers are deterministic (GroupKFold does not shuffle).
"""

import argparse
import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from workers.decision.frustration import score_message  # noqa: E402
from workers.decision.policy import FrustrationPolicy  # noqa: E402
from workers.evaluation import datasets as ds  # noqa: E402
from workers.evaluation.metrics import roc_auc  # noqa: E402

THRESHOLD = FrustrationPolicy().negative_turn_score
FOLDS = 5
SETS = ("MWOZ", "SGD")
_LEADING_NO = re.compile(r"^\W*(?:oh,? )?(?:no|nope|nah)\b\W*")


class Turn:
    """One rated USS user turn with what the shipped scorer made of it."""

    def __init__(self, corpus: str, dialogue: str, text: str, bad: bool, satisfied: bool) -> None:
        self.corpus, self.dialogue, self.text, self.bad = corpus, dialogue, text, bad
        self.satisfied_dialogue = satisfied
        result = score_message(text)
        self.score, self.cues = result.score, result.cues
        self.weight = -math.log(max(1.0 - result.score, 1e-6))


def load(data: Path) -> list[Turn]:
    turns = []
    for name in SETS:
        dataset = ds.load_uss(data / "uss_satisfaction" / f"{name}.txt", name)
        for conversation in dataset.conversations:
            satisfied = conversation.rating is not None and conversation.rating >= 3
            for turn in conversation.turns:
                if turn.role.name == "CUSTOMER" and turn.rating is not None:
                    turns.append(
                        Turn(
                            name,
                            conversation.conversation_id,
                            turn.text,
                            turn.dissatisfied,
                            satisfied,
                        )
                    )
    return turns


def prf(gold: Sequence[bool], flags: Sequence[bool]) -> tuple[float, float, float]:
    tp = sum(g and f for g, f in zip(gold, flags, strict=True))
    precision = tp / max(sum(flags), 1)
    recall = tp / max(sum(gold), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def report_dev(turns: list[Turn]) -> None:
    print("1. shipped score on the whole development half")
    for name in SETS:
        mine = [t for t in turns if t.corpus == name]
        gold = [t.bad for t in mine]
        p, r, f = prf(gold, [t.score >= THRESHOLD for t in mine])
        auc = roc_auc(gold, [t.score for t in mine]) or 0.0
        satisfied = [t.score >= THRESHOLD for t in mine if t.satisfied_dialogue]
        rate = sum(satisfied) / len(satisfied)
        print(
            f"   {name:4}  ROC-AUC {auc:.3f}  P {p:.3f}  R {r:.3f}  F1 {f:.3f}  "
            f"negative turns in satisfied dialogues {rate:.2%}"
        )


def _mean_sd(values: Sequence[float]) -> str:
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return f"{mean:.3f} ± {sd:.3f}"


def report_cv(turns: list[Turn], learned: bool) -> None:
    import numpy as np
    from sklearn.model_selection import GroupKFold

    y = np.array([t.bad for t in turns])
    groups = [t.dialogue for t in turns]
    corpus = np.array([t.corpus for t in turns])
    folds = list(GroupKFold(n_splits=FOLDS).split(np.zeros(len(turns)), y, groups))
    rules: dict[str, list[float]] = {name: [] for name in SETS}
    for _, test in folds:
        for name in SETS:
            idx = [i for i in test if corpus[i] == name]
            flags = [turns[i].score >= THRESHOLD for i in idx]
            rules[name].append(prf([bool(value) for value in y[idx]], flags)[2])
    print(f"2. shipped rules, F1 per grouped fold ({FOLDS} folds by dialogue): ", end="")
    print(", ".join(f"{name} {_mean_sd(rules[name])}" for name in SETS))
    if not learned:
        return
    for label, fit in (
        ("3a. rule weight + word 1-2 grams (C=0.05)", _ngram_residual),
        ("3b. rules, leading 'no' re-weighted from its words (C=0.1)", _learned_no),
    ):
        scores: dict[str, list[float]] = {name: [] for name in SETS}
        for train, test in folds:
            flags = fit(turns, y, train, test)
            for name in SETS:
                keep = [k for k, i in enumerate(test) if corpus[i] == name]
                scores[name].append(prf(y[test][keep], flags[keep])[2])
        print(f"{label}: " + ", ".join(f"{name} {_mean_sd(scores[name])}" for name in SETS))


def _best_cut(gold: Any, values: Any, cuts: Any) -> float:
    return float(max(cuts, key=lambda cut: prf(gold, values >= cut)[2]))


def _ngram_residual(turns: list[Turn], y: Any, train: Any, test: Any) -> Any:
    import numpy as np
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = [t.text.lower() for t in turns]
    weight = np.array([[t.weight] for t in turns])
    vectoriser = CountVectorizer(
        ngram_range=(1, 2), min_df=5, binary=True, token_pattern=r"[a-z0-9']+"
    )
    x_train = hstack([vectoriser.fit_transform([texts[i] for i in train]), weight[train]])
    x_test = hstack([vectoriser.transform([texts[i] for i in test]), weight[test]])
    model = LogisticRegression(C=0.05, max_iter=3000)
    model.fit(csr_matrix(x_train), y[train])
    cut = _best_cut(
        y[train], model.predict_proba(csr_matrix(x_train))[:, 1], np.linspace(0.05, 0.6, 56)
    )
    return model.predict_proba(csr_matrix(x_test))[:, 1] >= cut


def _learned_no(turns: list[Turn], y: Any, train: Any, test: Any) -> Any:
    import numpy as np
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    leading = next(w for cue, w, _, _ in _phrases() if cue == "leading_no")
    is_no = np.array([bool(_LEADING_NO.match(t.text.lower())) for t in turns])
    rest = [_LEADING_NO.sub("", t.text.lower()) for t in turns]
    base = np.array([t.weight - (leading if "leading_no" in t.cues else 0.0) for t in turns])
    rows = [i for i in train if is_no[i]]
    vectoriser = CountVectorizer(
        ngram_range=(1, 2), min_df=3, binary=True, token_pattern=r"[a-z0-9']+"
    )
    model = LogisticRegression(C=0.1, max_iter=3000)
    model.fit(vectoriser.fit_transform([rest[i] for i in rows]), y[rows])

    def probability(index: Any) -> Any:
        out = np.zeros(len(index))
        mask = is_no[index]
        if mask.any():
            texts = [rest[i] for i in np.asarray(index)[mask]]
            out[mask] = model.predict_proba(vectoriser.transform(texts))[:, 1]
        return out, mask

    p_train, m_train = probability(train)
    best = (-1.0, 0.0, 0.0)
    for a in np.linspace(0, 3, 31):
        for b in np.linspace(-1, 0.6, 17):
            total = base[train] + np.where(m_train, np.maximum(0, a * p_train + b), 0)
            f = prf(y[train], total >= math.log(2))[2]
            if f > best[0]:
                best = (f, a, b)
    _, a, b = best
    p_test, m_test = probability(test)
    return base[test] + np.where(m_test, np.maximum(0, a * p_test + b), 0) >= math.log(2)


def _phrases() -> tuple[tuple[str, float, str, str], ...]:
    from workers.decision import frustration

    return frustration._PHRASES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "eval-data")
    parser.add_argument("--skip-learned", action="store_true", help="sections 1 and 2 only")
    args = parser.parse_args()
    turns = load(args.data)
    report_dev(turns)
    report_cv(turns, learned=not args.skip_learned)


if __name__ == "__main__":
    main()
