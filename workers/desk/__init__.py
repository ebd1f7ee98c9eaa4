"""The agent-desk side of the handoff: claim escalations from the Redis queues, report on them.

See docs/desk-integration.md. ``DeskClient`` works on Redis and publishes to Kafka;
``StubDeskQueue`` is the same interface in memory, for testing desk code.
"""

from workers.desk.client import DEFAULT_CLAIM_TIMEOUT_SECONDS, DeskClient
from workers.desk.contract import Claim, DeskQueue, handoff_event_id
from workers.desk.exceptions import (
    ClaimLostError,
    DeskError,
    DeskUnavailableError,
    EscalationWithdrawnError,
    InvalidEntryError,
    InvalidReportError,
    PublisherNotStartedError,
)
from workers.desk.publisher import HandoffPublisher, KafkaHandoffPublisher
from workers.desk.stub import InMemoryPublisher, StubDeskQueue

__all__ = [
    "DEFAULT_CLAIM_TIMEOUT_SECONDS",
    "Claim",
    "ClaimLostError",
    "DeskClient",
    "DeskError",
    "DeskQueue",
    "DeskUnavailableError",
    "EscalationWithdrawnError",
    "HandoffPublisher",
    "InMemoryPublisher",
    "InvalidEntryError",
    "InvalidReportError",
    "KafkaHandoffPublisher",
    "PublisherNotStartedError",
    "StubDeskQueue",
    "handoff_event_id",
]
