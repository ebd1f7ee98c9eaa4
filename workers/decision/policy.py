"""Thresholds and routing the decision core follows.

The defaults here are the shipped policy; a policy file overrides them (see docs/decisions.md).
"""

from pydantic import BaseModel, ConfigDict, Field

from schemas.escalation import ReasonCode


class Route(BaseModel):
    """Where an escalation for a reason goes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    queue: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    priority: int = Field(ge=1, le=9, description="1 is served first.")


class FrustrationPolicy(BaseModel):
    """When frustration alone is worth a handoff: high and persistent, not one mild complaint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    negative_turn_score: float = Field(
        default=0.5, ge=0.0, le=1.0, description="A turn this high is negative."
    )
    persistent_turns: int = Field(
        default=3, ge=1, description="Consecutive negative turns that escalate."
    )
    level_threshold: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="Smoothed level that escalates after two negative turns.",
    )
    smoothing: float = Field(
        default=0.5, gt=0.0, le=1.0, description="Weight of the newest turn in the level."
    )


class StateBounds(BaseModel):
    """Caps on what a session keeps, so state stays small however long the chat runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    recent_event_ids: int = Field(
        default=64, ge=1, description="Ids remembered to drop redeliveries."
    )
    frustration_turns: int = Field(default=20, ge=1)
    actions: int = Field(default=10, ge=1)
    intent_confidences: int = Field(default=10, ge=1)
    evidence_per_reason: int = Field(default=5, ge=1)


def _default_routes() -> dict[ReasonCode, Route]:
    return {
        ReasonCode.HIGH_STAKES: Route(queue="priority", priority=1),
        ReasonCode.HUMAN_REQUESTED: Route(queue="general", priority=2),
        ReasonCode.FRUSTRATION: Route(queue="general", priority=2),
        ReasonCode.CAPABILITY_GAP: Route(queue="general", priority=3),
        ReasonCode.LOOP: Route(queue="general", priority=3),
    }


class Policy(BaseModel):
    """Everything the decision core is tuned by."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    frustration: FrustrationPolicy = FrustrationPolicy()
    bounds: StateBounds = StateBounds()
    routes: dict[ReasonCode, Route] = Field(default_factory=_default_routes)
    default_route: Route = Route(queue="general", priority=3)
    watch_emotional_load: float = Field(default=0.5, ge=0.0, le=1.0)
    watch_context_ambiguity: float = Field(default=0.5, ge=0.0, le=1.0)

    def route_for(self, reason: ReasonCode) -> Route:
        """The route for one reason, or the default route."""
        return self.routes.get(reason, self.default_route)
