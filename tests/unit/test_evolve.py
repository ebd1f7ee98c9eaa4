"""evolve() is model_copy(update=...) and construct() is model_construct() for the engine's
models, but for the fields set they share; fails on a pydantic upgrade that changes the instance
attributes they set."""

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from schemas.escalation import Evidence, ReasonCode
from workers.decision.evolve import construct, evolve
from workers.decision.policy import EvidenceKind
from workers.decision.state import Observation, SessionState


def _same(first: BaseModel, second: BaseModel) -> None:
    """Equal in every way pydantic and escalator look at, bar the fields set."""
    assert type(first) is type(second)
    assert first == second
    assert first.__dict__ == second.__dict__
    assert first.__pydantic_extra__ == second.__pydantic_extra__
    assert first.__pydantic_private__ == second.__pydantic_private__
    assert first.model_dump_json() == second.model_dump_json()


def test_a_state_evolves_as_model_copy_does() -> None:
    state = SessionState(session_id="s-1", customer_turns=2, topics=["fraud"])
    updates = {
        "customer_turns": 3,
        "last_ts": datetime(2026, 12, 7, tzinfo=UTC),
        "recent_event_ids": ["e-1"],
    }
    evolved = evolve(state, updates)
    _same(evolved, state.model_copy(update=updates))
    assert evolved.__pydantic_fields_set__ is state.__pydantic_fields_set__  # shared, not grown
    assert state.customer_turns == 2  # the original is untouched
    assert evolved.topics is state.topics  # shallow, as model_copy is


def test_evidence_evolves_as_model_copy_does() -> None:
    item = Evidence(reason=ReasonCode.LOOP, event_id="e-1", cue="says:again", excerpt="again")
    updates = {"contribution": 0.5, "excerpt": "a"}
    _same(evolve(item, updates), item.model_copy(update=updates))


def test_an_evolved_model_stays_frozen() -> None:
    evolved = evolve(SessionState(session_id="s-1"), {"customer_turns": 1})
    with pytest.raises(ValidationError):
        evolved.customer_turns = 2  # type: ignore[misc]


def test_construct_is_model_construct_given_every_field() -> None:
    values: dict[str, Any] = {
        "reason": ReasonCode.FRUSTRATION,
        "event_id": "e-2",
        "cue": "negative_words",
        "excerpt": "this is useless",
        "score": 0.7,
        "contribution": None,
    }
    assert set(values) == set(Evidence.model_fields)  # every field, or construct is wrong
    _same(construct(Evidence, **values), Evidence.model_construct(**values))
    item = construct(Evidence, **values)
    observed: dict[str, Any] = {
        "turn": 2,
        "customer": True,
        "kind": EvidenceKind.FRUSTRATION,
        "evidence": item,
    }
    assert set(observed) == set(Observation.model_fields)
    _same(construct(Observation, **observed), Observation.model_construct(**observed))


def test_the_shared_fields_set_is_never_changed_by_pydantic() -> None:
    state = SessionState(session_id="s-1")
    shared = set(state.model_fields_set)
    evolved = evolve(state, {"customer_turns": 1})
    evolved.model_copy(update={"customer_turns": 2})
    item = construct(
        Evidence, reason=ReasonCode.LOOP, event_id="e", cue="c", excerpt="", score=None,
        contribution=None,
    )  # fmt: skip
    item.model_copy(update={"contribution": 0.5})
    assert state.model_fields_set == shared
    assert item.model_fields_set == set(Evidence.model_fields)
