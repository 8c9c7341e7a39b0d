"""A record the sink can never take is recorded as `too_large` and answered 207, never an endless 503."""

from __future__ import annotations

import json
from typing import Any

from starlette.testclient import TestClient

from collector.app import create_app
from collector.contracts import Registry
from collector.route import Record
from collector.settings import Settings
from collector.sinks import Refused
from collector.sinks.memory import MemorySink
from tests.conftest import TEST_KEYS


class SmallSink(MemorySink):
    """A sink with a record size limit, as a Kafka topic has: it refuses bigger records for good."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.sends = 0

    async def send(self, records: list[Record]) -> list[Refused]:
        self.sends += 1
        self.records.extend(r for r in records if len(r.value) <= self.limit)
        return [Refused(r, f"the {len(r.value)}-byte record exceeds {self.limit}") for r in records
                if len(r.value) > self.limit]  # fmt: skip


def order(n: int, name: str = "Ana") -> dict[str, Any]:
    return {"schema": "com.acme.shop/order/1", "id": f"order-{n}",
            "data": {"orderid": n, "orderdate": "2026-11-21T10:00:00Z", "customerid": 7, "customername": name,
                     "items": [{"orderitemid": 1, "productid": 2, "quantity": 1, "price": 250}]}}  # fmt: skip


def post(registry: Registry, sink: SmallSink, body: Any) -> Any:
    """POST a JSON body (bytes as they are) to a collector on `sink`."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    with TestClient(create_app(Settings(keys=TEST_KEYS), registry, sink)) as c:
        return c.post("/v1/events", content=content, headers={"Content-Type": "application/json"})


def test_an_event_too_large_for_the_sink_is_a_207_and_a_too_large_record(registry: Registry) -> None:
    sink = SmallSink(limit=20_000)
    r = post(registry, sink, [order(1), order(2, "x" * 50_000), order(3)])
    assert r.status_code == 207, r.text
    assert (r.json()["accepted"], r.json()["rejected"]) == (2, 1)
    [error] = r.json()["errors"]
    assert (error["index"], error["id"], error["type"]) == (1, "order-2", "too_large")
    assert "exceeds 20000" in error["failures"][0]["message"]
    assert [e["id"] for e in sink.envelopes("good")] == ["order-1", "order-3"]
    [bad] = sink.envelopes("bad")
    assert (bad["id"], bad["error"]["type"], bad["schema"]) == ("order-2", "too_large", "com.acme.shop/order/1.0.0")
    assert bad["payload"]["bytes"] > 50_000 and len(bad["payload"]["sha256"]) == 64
    # the excerpt is the start of the event's data as the good record held it (keys sorted)
    assert 0 < len(bad["payload"]["excerpt"]) <= 1024 and bad["payload"]["excerpt"].startswith('{"customerid":7,')


def test_when_even_the_excerpt_does_not_fit_the_record_keeps_size_and_hash_only(registry: Registry) -> None:
    sink = SmallSink(limit=1200)  # a stand-in with a 1 kB excerpt does not fit; one without does
    r = post(registry, sink, [order(2, "x" * 5000)])
    assert r.status_code == 207 and r.json()["errors"][0]["type"] == "too_large"
    [bad] = sink.envelopes("bad")
    assert bad["payload"]["excerpt"] == "" and bad["payload"]["bytes"] > 5000


def test_a_sink_that_refuses_even_a_small_too_large_record_answers_503(registry: Registry) -> None:
    sink = SmallSink(limit=100)  # nothing fits: nothing can be recorded, so nothing is acknowledged
    r = post(registry, sink, [order(1)])
    assert r.status_code == 503 and r.headers["retry-after"]


def test_an_unparseable_body_whose_record_is_too_large_is_still_a_recorded_400(registry: Registry) -> None:
    sink = SmallSink(limit=8_000)
    body = b'[{"schema": "' + b"y" * 30_000 + b'"'  # unterminated: malformed, and its record is big
    r = post(registry, sink, body)
    assert r.status_code == 400, r.text
    [bad] = sink.envelopes("bad")
    assert bad["id"] == r.json()["recorded_as"] and bad["error"]["type"] == "too_large"
    assert json.dumps(bad).count("y") < 2_000  # an excerpt, not the body
