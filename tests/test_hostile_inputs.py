"""The hostile and unlucky inputs of the edges issue, one by one: each gets a clear answer and a
record, never a 500, never a silent drop. (Connection-level limits — huge or trickled headers,
slow bodies, half-open connections — are in test_limits.py; PII on every path in
test_pii_everywhere.py.)"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from collector.contracts import Registry
from collector.sinks.memory import MemorySink
from tests.conftest import payment
from tests.test_app import JSON, client_for

PAY = "com.acme.shop/payment/1"


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def client(registry: Registry, sink: MemorySink) -> Iterator[TestClient]:
    with client_for(registry, sink, max_body_bytes=2 * 1024 * 1024, max_events=500) as c:
        yield c


def _pay(order_id: int, **data: Any) -> bytes:
    return json.dumps({"schema": PAY, "data": payment(order_id=order_id, **data)}).encode()


def _post(client: TestClient, body: bytes, **headers: str) -> Any:
    return client.post("/v1/events", content=body, headers={**JSON, **headers})


def test_every_member_of_a_multi_member_gzip_body_is_read(client: TestClient, sink: MemorySink) -> None:
    body = gzip.compress(b"[" + _pay(1) + b"]") + gzip.compress(b"")  # `cat a.gz b.gz`, NDJSON style below
    ndjson = gzip.compress(_pay(2) + b"\n") + gzip.compress(_pay(3) + b"\n")
    assert _post(client, body, **{"Content-Encoding": "gzip"}).json()["accepted"] == 1
    r = _post(client, ndjson, **{"Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"})
    assert r.json() == {"accepted": 2, "rejected": 0}
    assert len(sink.envelopes("good")) == 3


def test_bytes_after_the_gzip_stream_make_a_recorded_400(client: TestClient, sink: MemorySink) -> None:
    r = _post(client, gzip.compress(_pay(1)) + b"garbage", **{"Content-Encoding": "gzip"})
    assert r.status_code == 400 and r.json()["recorded_as"]
    assert sink.envelopes("good") == [] and len(sink.envelopes("bad")) == 1


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(b'{"schema": "' + PAY.encode() + b'", "data": {"amount": 1e400}}', id="1e400-in-data"),
        pytest.param(b'{"schema": "' + PAY.encode() + b'", "data": {}, "x": -1e400}', id="1e400-beside-data"),
        pytest.param(b'{"schema": "' + PAY.encode() + b'", "data": {"order_id": ' + b"9" * 5000 + b"}}", id="5000-digits"),
        pytest.param(_pay(1).replace(b'"amount": 9.5', b'"amount": 1' + b"0" * 400), id="400-digit-amount"),
        pytest.param(_pay(1).replace(b'"order_id": 1', b'"order_id": -1' + b"0" * 400), id="huge-negative-checked-field"),
        pytest.param(b'{"schema": "' + PAY.encode() + b'", "data": {"n": ' + b"[" * 900 + b"]" * 900 + b"}}", id="deep-nesting"),
    ],
)  # fmt: skip
def test_a_number_or_value_nothing_can_hold_rejects_that_event_only(
    client: TestClient, sink: MemorySink, event: bytes
) -> None:
    r = _post(client, b"[" + _pay(77) + b"," + event + b"]")
    assert r.status_code == 207, r.text
    assert r.json()["accepted"] == 1 and r.json()["rejected"] == 1
    assert len(sink.envelopes("good")) == 1 and len(sink.envelopes("bad")) == 1


def test_a_lone_surrogate_is_invalid_json_for_its_line_or_its_body(client: TestClient, sink: MemorySink) -> None:
    broken = b'{"schema": "' + PAY.encode() + b'", "data": {"s": "\\ud800"}}'
    r = _post(client, _pay(1) + b"\n" + broken + b"\n", **{"Content-Type": "application/x-ndjson"})
    assert (r.status_code, r.json()["accepted"], r.json()["errors"][0]["type"]) == (207, 1, "malformed_event")
    r = _post(client, b"[" + _pay(2) + b"," + broken + b"]")  # inside a JSON array, the body is not JSON
    assert r.status_code == 400 and r.json()["recorded_as"]
    assert len(sink.envelopes("good")) == 1 and len(sink.envelopes("bad")) == 2


def test_sixty_thousand_unknown_fields_get_a_short_answer_and_a_record(client: TestClient, sink: MemorySink) -> None:
    data = {**payment(order_id=5), **{f"field_{i}": i for i in range(60_000)}}
    body = json.dumps({"schema": PAY, "data": data}).encode()
    assert len(body) > 1_000_000
    r = _post(client, body)
    assert r.status_code == 207
    assert len(r.content) < 16 * 1024  # the failures are capped, not 60,000 of them
    [error] = r.json()["errors"]
    assert error["failures"][-1]["keyword"] == "limit"
    [bad] = sink.envelopes("bad")
    assert "4111111111111111" not in json.dumps(bad)


def test_data_of_the_wrong_shape_is_a_verdict(client: TestClient, sink: MemorySink) -> None:
    events = [{"schema": PAY, "data": [payment()]}, {"schema": PAY, "Data": payment()}, {"schema": PAY, "data": None}]
    r = client.post("/v1/events", json=events)
    assert r.status_code == 207 and r.json()["rejected"] == 3
    assert [e["type"] for e in r.json()["errors"]] == ["invalid_payload", "malformed_event", "invalid_payload"]
    assert len(sink.envelopes("bad")) == 3


def test_a_batch_over_the_event_limit_is_refused_and_each_event_recorded(registry: Registry) -> None:
    sink = MemorySink()
    with client_for(registry, sink, max_events=3) as client:
        r = client.post("/v1/events", json=[json.loads(_pay(i)) for i in range(4)])
    assert r.status_code == 413 and "limit is 3" in r.json()["error"]["message"]
    bad = sink.envelopes("bad")
    assert len(bad) == 4 and sink.envelopes("good") == []
    assert all(b["payload"]["data"]["cc_number"].startswith("enc:") for b in bad)  # each under its contract
