"""``escalator eval``: replay every labelled set through the worker's decision code and score it.

Each conversation becomes message events fed to the same ``Replayer`` that ``escalator replay
--trace`` uses, and only the trace records (frustration, signals, escalation) are read, so the
harness keeps working while the decision core changes. Baselines are scored in the same run.
"""

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Literal

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from schemas.escalation import ReasonCode
from schemas.events import MAX_TEXT_CHARS, MessageEvent, Role
from schemas.trace import TraceRecord
from workers.decision import DecisionEngine
from workers.evaluation import conversations as cs
from workers.evaluation import datasets as ds
from workers.evaluation.baselines import (
    VADER_NEGATIVE_COMPOUND,
    VADER_THRESHOLD,
    Vader,
    keyword_high_stakes,
    keyword_human_request,
)
from workers.evaluation.metrics import (
    Counts,
    confusion,
    golden_transfer_within_tolerance,
    mean,
    median_lag,
    pr_auc,
    roc_auc,
)
from workers.replay import Replayer

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
"""Replayed turns are one second apart from here; the decision core only needs the order."""
LATE_FLIGHT_REASONS = ("Late Flight", "Lost Luggage")
GT_TOLERANCES = (1, 2, 3)
USER_TURNS = "user turns"
MEDIAN_LAG = "median lag"
VADER = "VADER"
KEYWORD = "keyword"
COUNT = "count"
CONVERSATIONS = "conversations"


@dataclass(frozen=True, slots=True)
class Goal:
    """The target a headline metric should reach."""

    comparison: Literal[">=", "<="]
    target: float

    def met(self, value: float | None) -> bool | None:
        """Whether ``value`` reaches the target; unknown when the metric is undefined."""
        if value is None:
            return None
        return value >= self.target if self.comparison == ">=" else value <= self.target

    def __str__(self) -> str:
        return f"{'≥' if self.comparison == '>=' else '≤'} {self.target:.2f}"


@dataclass(frozen=True, slots=True)
class Row:
    """One metric for one task: escalator's value beside the baseline's."""

    dataset: str
    task: str
    metric: str
    escalator: float | None
    baseline: float | None
    baseline_name: str
    n: int
    positives: int
    goal: Goal | None = None
    unit: str = "rate"

    @property
    def met(self) -> bool | None:
        """Whether escalator reaches the goal; None without a goal or value."""
        return self.goal.met(self.escalator) if self.goal else None


@dataclass(frozen=True, slots=True)
class EvalResult:
    """Everything one ``escalator eval`` run measured."""

    rows: tuple[Row, ...]
    threshold: float
    limit: int | None
    seconds: float
    conversations: cs.ConversationScore | None = None
    """escalator's own multi-turn set (``workers/evaluation/conversations.jsonl``)."""

    @property
    def conversation_rows(self) -> tuple[Row, ...]:
        """The conversation set's rows, kept apart from ``rows`` (the public sets)."""
        return conversation_rows(self.conversations) if self.conversations else ()


@dataclass(frozen=True, slots=True)
class Replayed:
    """A conversation and the decision core's trace for each of its turns."""

    conversation: ds.Conversation
    traces: tuple[TraceRecord, ...]

    @property
    def escalated_at(self) -> int | None:
        """Index of the turn whose event escalated; the session counts as escalated after it."""
        return next((i for i, t in enumerate(self.traces) if t.escalation is not None), None)

    def flagged(self, reason: ReasonCode) -> bool:
        """Whether the (only) event of a one-turn conversation carries ``reason``."""
        return reason in self.traces[0].signals

    @property
    def text(self) -> str:
        """The text of a one-turn conversation."""
        return self.conversation.turns[0].text


def replay(
    dataset: ds.Dataset, engine: DecisionEngine, advance: Callable[[], None]
) -> list[Replayed]:
    """Every conversation as its own session through one ``Replayer``, turns in order."""
    replayer = Replayer(engine)
    replayed = []
    for conversation in dataset.conversations:
        traces = []
        for index, turn in enumerate(conversation.turns):
            event = MessageEvent(
                event_id=f"{conversation.conversation_id}-{index}",
                session_id=conversation.conversation_id,
                ts=START + timedelta(seconds=index),
                type="message",
                role=turn.role,
                text=turn.text[:MAX_TEXT_CHARS],
            )
            traces.append(replayer.step_event(event))
        replayed.append(Replayed(conversation, tuple(traces)))
        advance()
    return replayed


class _Scorer:
    """Turns replayed sets into rows; holds what every set shares (threshold, VADER)."""

    def __init__(self, threshold: float, vader: Vader) -> None:
        self.threshold = threshold
        self.vader = vader

    def flag_rows(
        self,
        where: tuple[str, str],
        gold: Sequence[bool],
        ours: Sequence[bool],
        theirs: Sequence[bool],
        baseline: str,
        f1_goal: Goal | None = None,
    ) -> list[Row]:
        """Precision, recall and F1 of a flag against gold, beside the baseline's flag."""
        mine, other = confusion(gold, ours), confusion(gold, theirs)
        n, positives = len(gold), sum(gold)
        return [
            Row(*where, "precision", mine.precision, other.precision, baseline, n, positives),
            Row(*where, "recall", mine.recall, other.recall, baseline, n, positives),
            Row(*where, "F1", mine.f1, other.f1, baseline, n, positives, f1_goal),
        ]

    def score_rows(
        self,
        where: tuple[str, str],
        gold: Sequence[bool],
        ours: Sequence[float],
        theirs: Sequence[float],
        auc_goal: Goal | None = None,
        f1_goal: Goal | None = None,
    ) -> list[Row]:
        """Ranking quality of frustration against VADER, then P/R/F1 at each one's cut."""
        n, positives = len(gold), sum(gold)
        ranking = roc_auc(gold, ours), roc_auc(gold, theirs)
        average_precision = pr_auc(gold, ours), pr_auc(gold, theirs)
        return [
            Row(*where, "ROC-AUC", *ranking, VADER, n, positives, auc_goal),
            Row(*where, "PR-AUC", *average_precision, VADER, n, positives),
            *self.flag_rows(
                where,
                gold,
                [score >= self.threshold for score in ours],
                [score >= VADER_THRESHOLD for score in theirs],
                VADER,
                f1_goal,
            ),
        ]

    def airline(self, replayed: list[Replayed]) -> list[Row]:
        """Frustration on confidently labelled tweets; the high-stakes flag on cancellations."""
        confident = [r for r in replayed if ds.CONFIDENT_SENTIMENT in r.conversation.labels]
        rows = self.score_rows(
            ("airline_tweets", "negative sentiment, confidence ≥ 0.7 (frustration score)"),
            [ds.NEGATIVE_SENTIMENT in r.conversation.labels for r in confident],
            [r.traces[0].frustration for r in confident],
            [self.vader.negativity(r.text) for r in confident],
            auc_goal=Goal(">=", 0.91),
        )
        rows += self.flag_rows(
            ("airline_tweets", "Cancelled Flight (high_stakes flag)"),
            [ds.CANCELLED_FLIGHT in r.conversation.labels for r in replayed],
            [r.flagged(ReasonCode.HIGH_STAKES) for r in replayed],
            [keyword_high_stakes(r.text) for r in replayed],
            KEYWORD,
        )
        for reason in LATE_FLIGHT_REASONS:
            hard = [r for r in replayed if r.conversation.group == reason]
            rows.append(
                Row(
                    "airline_tweets",
                    f"{reason}, a hard negative (high_stakes flag)",
                    "flagged share",
                    _flag_rate([r.flagged(ReasonCode.HIGH_STAKES) for r in hard]),
                    _flag_rate([keyword_high_stakes(r.text) for r in hard]),
                    KEYWORD,
                    len(hard),
                    0,
                )
            )
        return rows

    def nlupp(self, replayed: list[Replayed]) -> list[Row]:
        """The human-request flag on ``handoff``; high-stakes recall on loss and refund topics."""
        rows = self.flag_rows(
            ("nlupp", "handoff (human_requested flag)"),
            [ds.HUMAN_REQUEST in r.conversation.labels for r in replayed],
            [r.flagged(ReasonCode.HUMAN_REQUESTED) for r in replayed],
            [keyword_human_request(r.text) for r in replayed],
            KEYWORD,
            Goal(">=", 0.93),
        )
        for topic in (ds.LOST_STOLEN, ds.REFUND):
            subset = [r for r in replayed if topic in r.conversation.labels]
            rows.append(
                Row(
                    "nlupp",
                    f"{topic} (high_stakes flag)",
                    "recall",
                    _flag_rate([r.flagged(ReasonCode.HIGH_STAKES) for r in subset]),
                    _flag_rate([keyword_high_stakes(r.text) for r in subset]),
                    KEYWORD,
                    len(subset),
                    len(subset),
                )
            )
        return rows

    def high_stakes(
        self, name: str, task: str, replayed: list[Replayed], f1_goal: Goal | None
    ) -> list[Row]:
        """P/R/F1 of the high-stakes flag against the gold high-stakes label."""
        return self.flag_rows(
            (name, task),
            [ds.HIGH_STAKES in r.conversation.labels for r in replayed],
            [r.flagged(ReasonCode.HIGH_STAKES) for r in replayed],
            [keyword_high_stakes(r.text) for r in replayed],
            KEYWORD,
            f1_goal,
        )

    def banking77(self, replayed: list[Replayed]) -> list[Row]:
        """Overall, then each group's intents against the negatives (the other group left out)."""
        rows = self.high_stakes(
            "banking77", "both groups vs negatives (high_stakes flag)", replayed, Goal(">=", 0.93)
        )
        for group in ds.BANKING77_GROUPS:
            subset = [r for r in replayed if r.conversation.group in (group, "")]
            rows += self.high_stakes(
                "banking77", f"{group} group vs negatives (high_stakes flag)", subset, None
            )
        return rows

    def natcs(self, replayed: list[Replayed]) -> list[Row]:
        """Each domain on its own: the intents that count as high-stakes differ."""
        rows = []
        for domain in ds.NATCS_HIGH_STAKES:
            subset = [r for r in replayed if r.conversation.group == domain]
            rows += self.high_stakes(
                "natcs_dstc11", f"{domain} domain (high_stakes flag)", subset, Goal(">=", 0.93)
            )
        return rows

    def uss(self, name: str, replayed: list[Replayed]) -> list[Row]:
        """Turn-level frustration, dialogue-level escalation and how early it came."""
        vader = {
            (r.conversation.conversation_id, i): self.vader.negativity(turn.text)
            for r in replayed
            for i, turn in enumerate(r.conversation.turns)
            if turn.role is Role.CUSTOMER
        }
        turns = [
            (turn, trace, vader[r.conversation.conversation_id, i])
            for r in replayed
            for i, (turn, trace) in enumerate(zip(r.conversation.turns, r.traces, strict=True))
            if turn.role is Role.CUSTOMER and turn.rating is not None
        ]
        rows = self.score_rows(
            (name, "dissatisfied user turns (frustration score)"),
            [turn.dissatisfied for turn, _, _ in turns],
            [trace.frustration for _, trace, _ in turns],
            [score for _, _, score in turns],
            f1_goal=Goal(">=", 0.35),
        )

        def first_vader_negative(r: Replayed) -> int | None:
            """The baseline escalates at the first customer turn VADER calls negative."""
            key = r.conversation.conversation_id
            negative = (
                i for i in range(len(r.traces)) if vader.get((key, i), 0) >= VADER_THRESHOLD
            )
            return next(negative, None)

        rated = [r for r in replayed if r.conversation.rating is not None]
        ours = [r.escalated_at for r in rated]
        theirs = [first_vader_negative(r) for r in rated]
        gold = [_dissatisfied_dialogue(r.conversation) for r in rated]
        rows += self.flag_rows(
            (name, "dialogues with OVERALL ≤ 2 (escalated at all)"),
            gold,
            [at is not None for at in ours],
            [at is not None for at in theirs],
            VADER,
        )
        satisfied = [i for i, label in enumerate(gold) if not label]
        rows.append(
            Row(
                name,
                "dialogues with OVERALL ≥ 3 (escalated at all)",
                "false escalations",
                _flag_rate([ours[i] is not None for i in satisfied]),
                _flag_rate([theirs[i] is not None for i in satisfied]),
                VADER,
                len(satisfied),
                0,
                Goal("<=", 0.04),
            )
        )
        timed = [
            (i, first)
            for i, r in enumerate(rated)
            if gold[i] and (first := _first_dissatisfied(r.conversation)) is not None
        ]
        mine = _timing([(rated[i].conversation, first, ours[i]) for i, first in timed])
        other = _timing([(rated[i].conversation, first, theirs[i]) for i, first in timed])
        task = "OVERALL ≤ 2 with a dissatisfied turn (timing)"
        rows += [
            Row(
                name,
                task,
                metric,
                value,
                other[metric],
                VADER,
                len(timed),
                len(timed),
                unit=USER_TURNS if metric == MEDIAN_LAG else "rate",
            )
            for metric, value in mine.items()
        ]
        return rows


def _flag_rate(flags: Sequence[bool]) -> float | None:
    return Counts(fp=sum(flags), tn=len(flags) - sum(flags)).flag_rate


def _dissatisfied_dialogue(conversation: ds.Conversation) -> bool:
    return conversation.rating is not None and conversation.rating <= ds.DISSATISFIED_MAX


def _first_dissatisfied(conversation: ds.Conversation) -> int | None:
    """The "escalate by" point: the first user turn with majority rating ≤ 2."""
    return next((i for i, t in enumerate(conversation.turns) if t.dissatisfied), None)


def _user_turn_number(conversation: ds.Conversation, index: int) -> int:
    """How many user turns have been seen up to and including utterance ``index``."""
    return sum(1 for turn in conversation.turns[: index + 1] if turn.role is Role.CUSTOMER)


def _timing(
    timed: Sequence[tuple[ds.Conversation, int, int | None]],
) -> dict[str, float | None]:
    """Share escalated at all and by the first dissatisfied turn (+0/+1/+2), median lag, GT-T.

    Each item is (dialogue, first dissatisfied utterance, escalating utterance or None). Lags
    count user turns from that turn to the escalation (negative = earlier); a dialogue that
    never escalated misses every share and has no lag. GT-T positions are utterance indices.
    """
    lags = [
        None if at is None else _user_turn_number(c, at) - _user_turn_number(c, first)
        for c, first, at in timed
    ]
    metrics = {"escalated at all": mean([0.0 if lag is None else 1.0 for lag in lags])}
    for label, allowed in (("escalated at or before", 0), ("within +1", 1), ("within +2", 2)):
        metrics[label] = mean([1.0 if lag is not None and lag <= allowed else 0.0 for lag in lags])
    metrics[MEDIAN_LAG] = median_lag([lag for lag in lags if lag is not None])
    for tolerance in GT_TOLERANCES:
        metrics[f"GT-{'I' * tolerance}"] = mean(
            [
                golden_transfer_within_tolerance([first], [] if at is None else [at], tolerance)
                for _, first, at in timed
            ]
        )
    return metrics


def conversation_rows(score: cs.ConversationScore) -> tuple[Row, ...]:
    """Share right, median lateness, false escalations, missed and early, with goals."""
    task = f"escalate by the labelled customer turn ({score.source})"
    positives = score.n - score.never

    def row(metric: str, value: float | None, goal: Goal | None = None, unit: str = COUNT) -> Row:
        return Row(CONVERSATIONS, task, metric, value, None, "", score.n, positives, goal, unit)

    return (
        row("share right", score.share_right, Goal(">=", 1.0), "rate"),
        row("median lateness", score.median_lateness, unit=USER_TURNS),
        row("false escalations", float(score.false_escalations), Goal("<=", 0.0)),
        row("missed", float(score.missed)),
        row("early", float(score.early)),
        row("late", float(score.late)),
    )


def run_evaluation(
    data_dir: Path | None,
    limit: int | None = None,
    console: Console | None = None,
    conversations: Path | None = None,
) -> EvalResult:
    """Load, replay and score every set, with a progress bar per set on ``console`` when it
    is a terminal (none without a console, or when piped: logs and tests stay clean).

    The conversation set (``conversations``, by default the shipped one) is always scored;
    without ``data_dir`` it is the only one.
    """
    started = time.perf_counter()
    engine = DecisionEngine()  # pure: sessions live in each Replayer, so one engine serves all
    own = cs.score_file(conversations, engine)
    if data_dir is None:
        threshold = engine.policy.frustration.negative_turn_score
        return EvalResult((), threshold, limit, time.perf_counter() - started, own)
    loaded = ds.load_all(data_dir, limit)
    # The cut the engine itself applies, so P/R/F1 describe the shipped policy.
    scorer = _Scorer(engine.policy.frustration.negative_turn_score, Vader())
    replayed: dict[str, list[Replayed]] = {}
    show = console is not None and console.is_terminal
    with Progress(console=console, transient=True, disable=not show) as progress:
        for dataset in loaded:
            task = progress.add_task(f"replaying {dataset.name}", total=len(dataset.conversations))
            replayed[dataset.name] = replay(dataset, engine, partial(progress.advance, task))
        scoring = progress.add_task("scoring and baselines", total=None)
        rows = [
            *scorer.airline(replayed["airline_tweets"]),
            *scorer.nlupp(replayed["nlupp"]),
            *scorer.banking77(replayed["banking77"]),
            *scorer.natcs(replayed["natcs_dstc11"]),
            *scorer.uss("uss_mwoz", replayed["uss_mwoz"]),
            *scorer.uss("uss_sgd", replayed["uss_sgd"]),
        ]
        progress.remove_task(scoring)
    return EvalResult(tuple(rows), scorer.threshold, limit, time.perf_counter() - started, own)


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == COUNT:
        return f"{value:.0f}"
    return f"{value:+.1f}" if unit == USER_TURNS else f"{value:.3f}"


def _baseline(row: Row) -> str:
    if not row.baseline_name:
        return ""
    return f"{_format(row.baseline, row.unit)} {row.baseline_name}"


def _met(row: Row) -> str:
    return {True: "yes", False: "no", None: ""}[row.met]


def _settings_line(result: EvalResult) -> str:
    limit = f"; at most {result.limit} items per set" if result.limit else ""
    if not result.rows:
        return f"conversation set only (no --data); {result.seconds:.0f} s"
    return (
        f"frustration flag: score ≥ {result.threshold:.2f} (policy negative_turn_score); "
        f"VADER flag: compound ≤ {VADER_NEGATIVE_COMPOUND}{limit}; {result.seconds:.0f} s"
    )


def render_table(result: EvalResult) -> Table:
    """The result for a terminal: one section per set, set and task named once."""
    table = Table(title="escalator eval", caption=_settings_line(result))
    for header in ("set", "task", "n (pos)"):
        table.add_column(header)
    table.add_column("metric")
    for header in ("escalator", "baseline"):
        table.add_column(header, justify="right")
    table.add_column("goal")
    table.add_column("met")
    shown = ("", "")
    for row in (*result.rows, *result.conversation_rows):
        if row.dataset != shown[0] and shown[0]:
            table.add_section()
        new_task = (row.dataset, row.task) != shown
        table.add_row(
            row.dataset if row.dataset != shown[0] else "",
            row.task if new_task else "",
            f"{row.n:,} ({row.positives:,})" if new_task else "",
            f"{row.metric} ({row.unit})" if row.unit == USER_TURNS else row.metric,
            _format(row.escalator, row.unit),
            _baseline(row),
            str(row.goal or ""),
            _met(row),
            style={True: "green", False: "red", None: None}[row.met],
        )
        shown = (row.dataset, row.task)
    return table


def _wrong_line(j: cs.Judged) -> str:
    reasons = ", ".join(j.reasons) or "-"
    return f"{j.id} [{j.case}]: expected {j.expected}, got {j.got} ({j.miss}); reasons: {reasons}"


def render_wrong(result: EvalResult) -> Table | None:
    """The conversations the engine got wrong, printed after the main table."""
    score = result.conversations
    if score is None:
        return None
    table = Table(
        title=f"conversation set: {len(score.wrong)} of {score.n} wrong ({score.source})",
    )
    for header in ("id", "case", "expected", "got", "miss", "reasons"):
        table.add_column(header)
    for j in sorted(score.wrong, key=lambda j: (j.outcome.value, j.case, j.id)):
        table.add_row(j.id, j.case, j.expected, j.got, j.miss, ", ".join(j.reasons))
    return table


def _markdown_conversations(result: EvalResult) -> list[str]:
    """The conversation set as a list (not table rows: the main table stays one row per row)."""
    score = result.conversations
    if score is None:
        return []
    lines = [
        f"Conversation set ({score.source}): {score.n} conversations, {score.never} never.",
        "",
    ]
    for row in result.conversation_rows:
        goal = f" (goal {row.goal}, met: {_met(row)})" if row.goal else ""
        lines.append(f"- {row.metric}: **{_format(row.escalator, row.unit)}**{goal}")
    lines += ["", f"Wrong conversations ({len(score.wrong)}):", ""]
    lines += [f"- {_wrong_line(j)}" for j in score.wrong] or ["- none"]
    return [*lines, ""]


def render_markdown(result: EvalResult) -> str:
    """The result as a GitHub table for docs/evaluation.md."""
    lines = [
        "| set | task | n (pos) | metric | escalator | baseline | goal | met |",
        "|---|---|---:|---|---:|---:|---|---|",
    ]
    for row in result.rows:
        metric = f"{row.metric} ({row.unit})" if row.unit == USER_TURNS else row.metric
        goal = str(row.goal or "")
        escalator = _format(row.escalator, row.unit)
        lines.append(
            f"| {row.dataset} | {row.task} | {row.n:,} ({row.positives:,}) | {metric} | "
            f"{f'**{escalator}**' if row.goal else escalator} | "
            f"{_format(row.baseline, row.unit)} ({row.baseline_name}) | {goal} | {_met(row)} |"
        )
    return "\n".join([*lines, "", _settings_line(result), "", *_markdown_conversations(result)])


def render_json(result: EvalResult) -> str:
    """The result for tools: every row with its numbers, goal and whether it is met."""
    rows = [{**asdict(row), "met": row.met} for row in result.rows]
    payload: dict[str, object] = {
        "threshold": result.threshold,
        "baseline_threshold": VADER_THRESHOLD,
        "limit": result.limit,
        "seconds": round(result.seconds, 3),
        "datasets": list(dict.fromkeys(row.dataset for row in result.rows)),
        "rows": rows,
    }
    if result.conversations is not None:
        score = result.conversations
        payload[CONVERSATIONS] = {
            "source": score.source,
            "n": score.n,
            "never": score.never,
            "rows": [{**asdict(row), "met": row.met} for row in result.conversation_rows],
            "wrong": [
                {
                    "id": j.id,
                    "case": j.case,
                    "expected_by": j.escalate_by,
                    "not_before": j.not_before,
                    "escalated_at": j.escalated_at,
                    "outcome": j.outcome.value,
                    "lateness": j.lateness,
                    "reasons": list(j.reasons),
                }
                for j in score.wrong
            ],
        }
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
