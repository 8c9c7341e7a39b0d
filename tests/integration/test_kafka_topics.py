"""The collector creates every contract topic at startup, with the contract's partition count."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

pytestmark = pytest.mark.kafka


async def test_topics_are_created_at_startup_with_the_contract_partition_count(
    http: httpx.AsyncClient, collector: Any
) -> None:
    # `collector` is running (GET /ready was 200) and nothing has been posted by this test:
    # the topics exist because the collector created them when it started.
    contracts = (await http.get("/v1/schemas")).json()["schemas"]
    expected: dict[str, int] = {}
    for c in contracts:
        schema = (await http.get(f"/v1/schemas/{c['namespace']}/{c['name']}/{c['version']}")).json()
        partitions = schema["x-contract"].get("partitions", 1)
        expected[c["topic"]] = max(expected.get(c["topic"], 1), partitions)
        expected.setdefault(c["dlq_topic"], 1)
    assert expected["payments"] == 3 and expected["interactions.messages"] == 4

    admin = AIOKafkaAdminClient(bootstrap_servers=collector.bootstrap, client_id="charter-it-admin")
    await admin.start()
    try:
        described = await admin.describe_topics(sorted(expected))
    finally:
        await admin.close()
    actual = {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}
    assert actual == expected
    assert (actual["payments"], actual["interactions.messages"]) == (3, 4)
