"""The HTTP API, status code by status code, on the memory sink (a unit-level test double)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from collector.app import create_app
from collector.contracts import Registry
from collector.route import Record
from collector.settings import Settings
from collector.sinks import SinkUnavailable
from collector.sinks.file import FileSink
from collector.sinks.memory import MemorySink
from tests.conftest import TEST_KEYS, payment, unseal

JSON = {"Content-Type": "application/json"}


class DownSink(MemorySink):
    """A sink whose broker is gone: every send fails as the Kafka sink's would."""

    name = "down"

    async def send(self, records: list[Record]) -> None:
        raise SinkUnavailable("Kafka did not acknowledge: broker unreachable")

    def ready(self) -> bool:
        return False


def client_for(registry: Registry, sink: Any, **settings: Any) -> TestClient:
    # From loopback, as a local operator: operator pages (/v1/stats, /ui, memory) answer only that without a token.
    return TestClient(create_app(Settings(keys=TEST_KEYS, **settings), registry, sink), client=("127.0.0.1", 50000))


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def client(registry: Registry, sink: MemorySink) -> Iterator[TestClient]:
    with client_for(registry, sink, max_body_bytes=4096, max_events=5) as c:
        yield c


def good(**data: Any) -> dict[str, Any]:
    return {"schema": "com.acme.shop/payment/1", "data": payment(**data)}


def test_all_valid_events_answer_200_with_counts(client: TestClient, sink: MemorySink) -> None:
    r = client.post("/v1/events", json=[good(), good(order_id=2)])
    assert (r.status_code, r.json()) == (200, {"accepted": 2, "rejected": 0})
    assert len(sink.envelopes("good")) == 2


def test_single_event_object_is_accepted(client: TestClient) -> None:
    assert client.post("/v1/events", json=good()).json() == {"accepted": 1, "rejected": 0}


def test_any_rejected_event_answers_207_listing_index_id_type_and_failures(
    client: TestClient, sink: MemorySink
) -> None:
    bad = {**good(confirmation_code="0"), "id": "evt-bad"}
    r = client.post("/v1/events", json=[good(), bad])
    body = r.json()
    assert r.status_code == 207
    assert (body["accepted"], body["rejected"]) == (1, 1)
    [error] = body["errors"]
    assert (error["index"], error["id"], error["type"]) == (1, "evt-bad", "rule_violation")
    assert error["failures"][0]["path"] == "$.confirmation_code"
    assert len(sink.envelopes("bad")) == 1


def test_all_rejected_is_still_207_and_every_event_is_recorded(client: TestClient, sink: MemorySink) -> None:
    r = client.post("/v1/events", json=[good(amount=-1), {"data": {}}])
    assert r.status_code == 207 and r.json()["rejected"] == 2
    assert len(sink.envelopes("bad")) == 2


def test_ndjson_body_is_one_event_per_line_and_a_bad_line_only_rejects_itself(
    client: TestClient, sink: MemorySink
) -> None:
    body = json.dumps(good()) + "\n\n" + '{"schema": broken\n' + json.dumps(good(order_id=3)) + "\n"
    r = client.post("/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 207
    assert r.json()["accepted"] == 2 and r.json()["errors"][0]["index"] == 1
    assert unseal(sink.envelopes("bad")[0]["payload"]) == '{"schema": broken'  # unmappable: sealed whole


def test_gzip_body_is_inflated(client: TestClient) -> None:
    body = gzip.compress(json.dumps([good(), good(order_id=2)]).encode())
    r = client.post("/v1/events", content=body, headers={**JSON, "Content-Encoding": "gzip"})
    assert r.json() == {"accepted": 2, "rejected": 0}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b'{"schema": ', "invalid JSON", id="invalid-json"),
        pytest.param(b'[{"schema": "a\xff"}]', "not valid UTF-8", id="invalid-utf8"),
        pytest.param(b'"just a string"', "must be a JSON object", id="not-object-or-array"),
        pytest.param(b"[]", "no events", id="empty-array"),
        pytest.param(b"[" * 2000 + b"]" * 2000, "too deep", id="deep-nesting"),
    ],
)  # fmt: skip
def test_unparseable_body_answers_400_and_is_recorded_sealed(
    client: TestClient, sink: MemorySink, body: bytes, reason: str
) -> None:
    r = client.post("/v1/events", content=body, headers=JSON)
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "malformed_body"
    assert reason in r.json()["error"]["message"]
    [bad] = sink.envelopes("bad")
    assert bad["error"]["type"] == "malformed_body"
    assert unseal(bad["payload"]) == body.decode("utf-8", "backslashreplace")  # encrypted: contracts have PII
    assert bad["payload"]["bytes"] == len(body)
    assert bad["id"] == r.json()["recorded_as"]


def test_corrupt_gzip_answers_400(client: TestClient, sink: MemorySink) -> None:
    r = client.post("/v1/events", content=b"\x1f\x8b not gzip", headers={**JSON, "Content-Encoding": "gzip"})
    assert r.status_code == 400 and "gzip" in r.json()["error"]["message"]
    assert len(sink.envelopes("bad")) == 1


def test_body_over_the_limit_answers_413_and_keeps_an_excerpt(client: TestClient, sink: MemorySink) -> None:
    r = client.post("/v1/events", content=b"[" + b" " * 5000 + b"]", headers=JSON)
    assert r.status_code == 413 and r.json()["error"]["type"] == "too_large"
    assert sink.envelopes("bad")[0]["error"]["type"] == "too_large"


def test_gzip_bomb_inflating_past_the_limit_answers_413(client: TestClient) -> None:
    bomb = gzip.compress(b"[" + b" " * 100_000 + b"]")
    assert len(bomb) < 4096
    r = client.post("/v1/events", content=bomb, headers={**JSON, "Content-Encoding": "gzip"})
    assert r.status_code == 413 and "inflates past" in r.json()["error"]["message"]


def test_too_many_events_in_one_request_answers_413(client: TestClient, sink: MemorySink) -> None:
    r = client.post("/v1/events", json=[{"schema": "a/b/1", "data": {}}] * 6)
    assert r.status_code == 413 and "limit is 5" in r.json()["error"]["message"]
    assert sink.envelopes("good") == []


def test_wrong_content_type_answers_415_and_is_recorded(client: TestClient, sink: MemorySink) -> None:
    r = client.post("/v1/events", content=b"a=b", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and r.json()["error"]["type"] == "unsupported_content_type"
    assert unseal(sink.envelopes("bad")[0]["payload"]) == "a=b"


def test_unknown_content_encoding_answers_415(client: TestClient) -> None:
    r = client.post("/v1/events", content=b"{}", headers={**JSON, "Content-Encoding": "br"})
    assert r.status_code == 415


def test_sink_down_answers_503_with_retry_after_and_never_2xx(registry: Registry) -> None:
    with client_for(registry, DownSink()) as c:
        r = c.post("/v1/events", json=good())
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        assert "Retry-After" in r.json()["error"]["resolution"]
        bad = c.post("/v1/events", content=b"{", headers=JSON)
        assert bad.status_code == 503  # the bad record could not be written either: retry
        assert c.get("/ready").status_code == 503


def test_too_many_events_waiting_for_the_sink_answers_429(registry: Registry) -> None:
    with client_for(registry, MemorySink(), max_inflight_events=1) as c:
        c.app.state.collector.inflight = 1  # type: ignore[attr-defined]  # one request already waits
        r = c.post("/v1/events", json=good())
        assert r.status_code == 429 and r.headers["Retry-After"] == "1"


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True and ready.json()["contracts"] > 0


def test_schemas_are_listed_and_served_by_exact_or_major_reference(client: TestClient) -> None:
    listed = {s["schema"]: s for s in client.get("/v1/schemas").json()["schemas"]}
    assert listed["com.acme.shop/payment/1.0.0"]["owner"]["name"] == "Payments Team"
    exact = client.get("/v1/schemas/com.riverhotels.web/clickstream/1.0.0")
    newest = client.get("/v1/schemas/com.riverhotels.web/clickstream/1")
    assert "referrer" not in exact.json()["properties"]
    assert "referrer" in newest.json()["properties"]
    assert newest.headers["Charter-Schema"] == "com.riverhotels.web/clickstream/1.1.0"
    assert client.get("/v1/schemas/com.acme.shop/nope/1").status_code == 404


def test_memory_sink_inspection_endpoints(client: TestClient) -> None:
    client.post("/v1/events", json=[good(), good(confirmation_code="x")])
    assert len(client.get("/v1/memory/good").json()) == 1
    assert client.get("/v1/memory/bad").json()[0]["error"]["type"] == "rule_violation"
    client.post("/v1/memory/reset")
    assert client.get("/v1/memory/good").json() == []


def test_memory_endpoints_are_absent_on_other_sinks(registry: Registry, tmp_path: Path) -> None:
    with client_for(registry, FileSink(tmp_path)) as c:
        assert c.get("/v1/memory/good").status_code == 404


def test_cors_is_off_by_default_and_allows_only_configured_origins(registry: Registry) -> None:
    preflight = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}  # fmt: skip
    with client_for(registry, MemorySink()) as c:
        assert "access-control-allow-origin" not in c.options("/v1/events", headers=preflight).headers
    with client_for(registry, MemorySink(), cors_origins=("https://shop.example",)) as c:
        ok = c.options("/v1/events", headers=preflight)
        assert ok.headers["access-control-allow-origin"] == "https://shop.example"
        other = c.options("/v1/events", headers={**preflight, "Origin": "https://evil.example"})
        assert other.status_code == 400
        posted = c.post("/v1/events", json=good(), headers={"Origin": "https://shop.example"})
        assert posted.headers["access-control-allow-origin"] == "https://shop.example"
        assert posted.headers["access-control-expose-headers"] == "Retry-After"


class FlakySink(MemorySink):
    """Fails the first send, like a broker that blinks."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def send(self, records: list[Record]) -> None:
        if self.failures:
            self.failures -= 1
            raise SinkUnavailable("broker blinked")
        await super().send(records)


def test_a_retry_after_503_is_accepted_not_taken_for_a_duplicate(registry: Registry) -> None:
    sink = FlakySink()
    with client_for(registry, sink) as c:
        assert c.post("/v1/events", json=good()).status_code == 503
        assert c.post("/v1/events", json=good()).json() == {"accepted": 1, "rejected": 0}
        assert c.post("/v1/events", json=good()).json()["errors"][0]["type"] == "duplicate"


def test_every_response_carries_a_request_id_and_a_sane_client_id_is_kept(client: TestClient) -> None:
    generated = client.get("/health").headers["x-request-id"]
    assert len(generated) == 36 and generated[14] == "7"
    assert client.get("/health", headers={"X-Request-Id": "checkout-42"}).headers["x-request-id"] == "checkout-42"
    assert client.get("/health", headers={"X-Request-Id": "bad id\n"}).headers["x-request-id"] != "bad id\n"
