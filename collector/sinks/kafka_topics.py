"""Creating the Kafka topics the collector writes to, at start and on a contract reload.

A topic that exists already is left as it is; one that another collector creates at the
same moment is not an error.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger("charter.kafka")


async def create_topics(
    bootstrap: str, topics: dict[str, int], replication_factor: int, security: dict[str, Any]
) -> None:
    """Create those of `topics` (name → partitions) that the cluster does not have yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="charter-admin", **security)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [NewTopic(t, n, replication_factor) for t, n in topics.items() if t not in existing]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):  # another collector created it first
                await admin.create_topics(new)
            log.info("created topics: %s", ", ".join(t.name for t in new))
    finally:
        await admin.close()
