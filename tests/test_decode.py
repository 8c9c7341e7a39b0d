"""Request bodies: gzip read whole (every member), capped, and never partly ignored."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from collector.app import create_app
from collector.contracts import Registry
from collector.decode import BodyError, inflate
from collector.settings import Settings
from collector.sinks.memory import MemorySink
from tests.conftest import TEST_KEYS, payment

GZIP = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}


def ndjson(*order_ids: int) -> bytes:
    events = [{"schema": "com.acme.shop/payment/1", "data": payment(order_id=n)} for n in order_ids]
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


def test_every_member_of_a_multi_member_gzip_body_is_read() -> None:
    body = gzip.compress(b"first\n") + gzip.compress(b"second\n") + gzip.compress(b"third\n")
    assert inflate(body, "gzip", 1000) == b"first\nsecond\nthird\n"


def test_the_inflate_limit_counts_every_member() -> None:
    body = gzip.compress(b"a" * 600) + gzip.compress(b"b" * 600)  # each under the limit, together over
    result = inflate(body, "gzip", 1000)
    assert isinstance(result, BodyError) and (result.status, result.type) == (413, "too_large")


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(b"garbage", id="text"),
        pytest.param(b"\x00" * 8, id="zero-padding"),
        pytest.param(b"\x1f", id="half-a-magic-number"),
    ],
)
def test_bytes_after_the_gzip_stream_refuse_the_body(tail: bytes) -> None:
    result = inflate(gzip.compress(b"{}") + tail, "gzip", 1000)
    assert isinstance(result, BodyError) and (result.status, result.type) == (400, "malformed_body")
    assert "after the end of the gzip stream" in result.message


def test_a_truncated_second_member_refuses_the_body() -> None:
    second = gzip.compress(b"second")
    result = inflate(gzip.compress(b"first") + second[:-6], "gzip", 1000)
    assert isinstance(result, BodyError) and result.status == 400


@pytest.fixture
def client(registry: Registry) -> Any:
    sink = MemorySink()
    with TestClient(create_app(Settings(keys=TEST_KEYS), registry, sink)) as c:
        yield c, sink


def test_events_in_the_second_gzip_member_are_accepted_not_lost(client: Any) -> None:
    c, sink = client
    body = gzip.compress(ndjson(1, 2)) + gzip.compress(ndjson(3))  # what `cat a.gz b.gz` sends
    r = c.post("/v1/events", content=body, headers=GZIP)
    assert (r.status_code, r.json()) == (200, {"accepted": 3, "rejected": 0})
    assert sorted(e["data"]["order_id"] for e in sink.envelopes("good")) == [1, 2, 3]


def test_trailing_garbage_after_gzip_answers_400_and_is_recorded(client: Any) -> None:
    c, sink = client
    r = c.post("/v1/events", content=gzip.compress(ndjson(1)) + b"trailing", headers=GZIP)
    assert r.status_code == 400 and r.json()["error"]["type"] == "malformed_body"
    assert sink.envelopes("good") == []
    [bad] = sink.envelopes("bad")
    assert bad["error"]["type"] == "malformed_body" and bad["id"] == r.json()["recorded_as"]
