"""Events built and encoded by the CloudEvents Python SDK (structured, batch and binary mode)
are POSTed to a real `charter serve --cloudevents-headers`: the contract comes from
`dataschema` or `x-contract.cloudevents_type`, good events land in its topic of real Kafka with
the Kafka binding's ce_* headers (the SDK reads them back natively), bad ones in the
dead-letter topic with the event as sent and the reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloudevents.core.bindings.http import to_binary, to_structured
from cloudevents.core.bindings.kafka import KafkaMessage
from cloudevents.core.bindings.kafka import from_binary as from_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from tests.integration.conftest import Collector, Rec, consume
from tests.protocols.conftest import serve

pytestmark = pytest.mark.kafka

SHIPPED = "events.com.acme.orders.order_shipped.v1"
FORMAT = JSONFormat()


@pytest.fixture(scope="module")
async def collector(protocol_kafka: str, protocol_schemas: Path, protocol_logs: Path) -> AsyncIterator[Collector]:
    async with serve(protocol_kafka, protocol_schemas, protocol_logs, "--cloudevents-headers") as c:
        yield c


def shipped(order_id: str, carrier: str, **attributes: Any) -> CloudEvent:
    attrs = {"type": "com.acme.orders.shipped", "source": "/warehouse/berlin", "subject": order_id,
             "datacontenttype": "application/json", **attributes}  # fmt: skip
    return CloudEvent(attrs, {"order_id": order_id, "carrier": carrier})


async def post(collector: Collector, headers: dict[str, str], body: bytes) -> httpx.Response:
    async with httpx.AsyncClient(base_url=collector.url) as http:
        return await http.post("/v1/cloudevents", headers=headers, content=body)


async def records(collector: Collector, events: list[CloudEvent]) -> dict[str, Rec]:
    ids = [e.get_id() for e in events]
    by_id = (await consume(collector.bootstrap, {SHIPPED, "events.bad"}, ids)).by_id()
    assert all(len(by_id.get(i, [])) == 1 for i in ids), by_id.keys()
    return {i: by_id[i][0] for i in ids}


async def test_structured_and_binary_events_land_in_the_contract_topic_with_ce_headers(collector: Collector) -> None:
    structured, binary = shipped("o-1", "DHL"), shipped("o-2", "UPS")
    for message in (to_structured(structured, FORMAT), to_binary(binary, FORMAT)):
        answer = await post(collector, dict(message.headers), message.body)
        assert answer.json() == {"accepted": 1, "rejected": 0}
    got = await records(collector, [structured, binary])
    for event in (structured, binary):
        rec = got[event.get_id()]
        env = rec.value
        assert (rec.topic, env["schema"], env["data"]) == (
            SHIPPED,
            "com.acme.orders/order_shipped/1.0.0",
            event.get_data(),
        )
        assert env["source"]["protocol"] == "cloudevents"
        assert env["source"]["client"]["source"] == "/warehouse/berlin"
        assert env["sent_at"] is not None
        # a CloudEvents consumer reads the record natively: the attributes from the ce_* headers
        native = from_kafka(KafkaMessage(headers=dict(rec.headers), key=rec.key, value=rec.raw), FORMAT, CloudEvent)
        assert (native.get_id(), native.get_type(), native.get_source()) == (
            event.get_id(), "com.acme.orders.shipped", "/warehouse/berlin")  # fmt: skip
        assert native.get_data()["data"] == event.get_data()


async def test_a_batch_is_checked_event_by_event_and_bad_ones_keep_the_event_as_sent(collector: Collector) -> None:
    schema_url = f"{collector.url}/v1/schemas/com.acme.orders/order_shipped/1.0.0"
    events = [
        shipped("o-3", "DHL"),
        shipped("o-4", "FedEx"),
        shipped("o-5", "UPS", type="com.acme.orders.sent", dataschema=schema_url),  # contract from dataschema
        shipped("o-6", "UPS", type="com.acme.orders.lost"),  # no contract claims this type
    ]
    body = b"[" + b",".join(FORMAT.write(e) for e in events) + b"]"
    answer = await post(collector, {"content-type": "application/cloudevents-batch+json"}, body)
    assert answer.status_code == 207
    assert (answer.json()["accepted"], answer.json()["rejected"]) == (2, 2)
    got = await records(collector, events)
    ok, bad, by_url, unknown = (got[e.get_id()] for e in events)
    assert ok.topic == by_url.topic == SHIPPED
    assert (bad.topic, bad.value["error"]["type"]) == ("events.bad", "invalid_payload")
    assert [f["path"] for f in bad.value["error"]["failures"]] == ["$.carrier"]
    assert bad.value["payload"]["data"]["carrier"] == "FedEx" and bad.value["payload"]["specversion"] == "1.0"
    assert (unknown.topic, unknown.value["error"]["type"]) == ("events.bad", "unknown_schema")
    assert "com.acme.orders.lost" in unknown.value["error"]["failures"][0]["message"]


async def test_a_request_that_is_not_a_cloudevent_is_refused_and_recorded(collector: Collector) -> None:
    answer = await post(collector, {"content-type": "application/json"}, b'{"order_id": "o-7"}')
    assert answer.status_code == 415
    assert answer.json()["error"]["type"] == "unsupported_content_type"
    assert answer.json()["recorded_as"]
