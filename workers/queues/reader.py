"""Read what is waiting in the agent queues (synchronous; for tools, the demo and tests)."""

from typing import cast

import redis

from schemas.escalation import Escalation
from workers.queues.keys import QueueKeys

StreamEntries = list[tuple[bytes, dict[bytes, bytes]]]


def queued_escalations(client: "redis.Redis", keys: QueueKeys) -> list[tuple[str, Escalation]]:
    """(stream, escalation) for every entry of every queue stream under ``keys``, oldest first."""
    found = []
    streams = cast(set[bytes], client.smembers(keys.queue_index))
    for stream in sorted(streams):
        for _entry_id, fields in cast(StreamEntries, client.xrange(stream)):
            found.append((stream.decode(), Escalation.model_validate_json(fields[b"payload"])))
    return sorted(found, key=lambda item: item[1].created_at)
