"""The real Segment library (`segment-analytics-python`) sends to a real `charter serve
--auth …`, with its write key as HTTP Basic user: calls a contract claims with
`x-contract.segment` land in its topic of real Kafka, the others in the dead-letter topic with
the raw call and the reason, and the library hears `{"success": true}`."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from segment.analytics import Client
from segment.analytics.request import APIError

from tests.conftest import unseal
from tests.integration.conftest import Collector, consume
from tests.protocols.conftest import WRITE_KEY, serve

pytestmark = pytest.mark.kafka

ORDERS = "events.com.acme.shop.order_completed.v1"
TRAITS = "events.com.acme.shop.customer_traits.v1"
UNPLANNED = "events.com.segment.unplanned.v1"


@pytest.fixture(scope="module")
async def collector(
    protocol_kafka: str, protocol_schemas: Path, protocol_logs: Path, auth_file: Path
) -> AsyncIterator[Collector]:
    async with serve(protocol_kafka, protocol_schemas, protocol_logs, "--auth", str(auth_file)) as c:
        yield c


def client(collector: Collector, errors: list[Exception], key: str = WRITE_KEY, **kw: Any) -> Client:
    return Client(key, host=collector.url, on_error=lambda e, batch: errors.append(e), max_retries=0, **kw)


def mid() -> str:
    return str(uuid.uuid4())


async def envelopes(collector: Collector, ids: dict[str, str], topics: set[str], expected: int | None = None) -> Any:
    got = await consume(collector.bootstrap, topics, ids.values(), expected=expected)
    return got.by_id()


async def test_library_batch_lands_by_contract_and_rejections_go_to_the_dead_letter_topic(collector: Collector) -> None:
    errors: list[Exception] = []
    c = client(collector, errors)
    names = ("order", "bad_order", "big_order", "unplanned", "identify", "bad_identify", "again")
    ids = {name: mid() for name in names}
    order = {"order_id": "o-1", "revenue": 25.5, "currency": "EUR"}
    c.track("u-1", "Order Completed", order, message_id=ids["order"])
    c.track("u-1", "Order Completed", {**order, "revenue": -1}, message_id=ids["bad_order"])
    c.track("u-1", "Order Completed", {**order, "revenue": 20000}, message_id=ids["big_order"])
    c.track("u-1", "Coupon Applied", {"coupon": "WINTER10"}, message_id=ids["unplanned"])
    c.identify("u-1", {"email": "ada@acme.example", "plan": "pro"}, message_id=ids["identify"])
    c.identify("u-1", {"email": "ada@acme.example", "plan": "enterprise"}, message_id=ids["bad_identify"])
    c.shutdown()
    assert errors == []  # every batch answered 2xx: the library drops nothing and retries nothing
    d = mid()  # a retried send (same messageId) is caught by the contract's dedupe (by id)
    c2 = client(collector, errors)
    c2.track("u-1", "Order Completed", {**order, "order_id": "o-2"}, message_id=d)
    c2.track("u-1", "Order Completed", {**order, "order_id": "o-2"}, message_id=d)
    c2.shutdown()
    assert errors == []
    ids["again"] = d
    by_id = await envelopes(collector, ids, {ORDERS, TRAITS, "events.bad"}, expected=len(ids) + 1)

    [good] = by_id[ids["order"]]
    env = good.value
    assert (good.topic, env["schema"], env["data"]) == (ORDERS, "com.acme.shop/order_completed/1.0.0", order)
    assert env["source"]["protocol"] == "segment" and env["source"]["key"] == "shop-backend"
    client_fields = env["source"]["client"]
    assert (client_fields["type"], client_fields["event"], client_fields["userId"]) == (
        "track",
        "Order Completed",
        "u-1",
    )
    assert client_fields["context"]["library"]["name"] == "analytics-python"
    assert env["sent_at"] is not None

    [bad] = by_id[ids["bad_order"]]
    assert (bad.topic, bad.value["error"]["type"]) == ("events.bad", "invalid_payload")
    assert [(f["path"], f["keyword"]) for f in bad.value["error"]["failures"]] == [("$.revenue", "minimum")]
    assert bad.value["payload"]["messageId"] == ids["bad_order"]  # the call exactly as the library sent it
    assert bad.value["payload"]["properties"]["revenue"] == -1

    [big] = by_id[ids["big_order"]]  # the contract's CEL rule, as on /v1/events
    assert (big.topic, big.value["error"]["type"]) == ("events.bad", "rule_violation")
    assert "eur_orders_below_10k" in big.value["error"]["failures"][0]["message"]

    [unplanned] = by_id[ids["unplanned"]]
    assert (unplanned.topic, unplanned.value["schema"], unplanned.value["error"]["type"]) == (
        "events.bad", None, "unknown_schema")  # fmt: skip
    assert "Coupon Applied" in unplanned.value["error"]["failures"][0]["message"]

    [ident] = by_id[ids["identify"]]
    assert (ident.topic, ident.value["data"]["plan"]) == (TRAITS, "pro")
    assert "ada@acme.example" not in json.dumps(ident.value)  # x-pii: hash
    [bad_ident] = by_id[ids["bad_identify"]]
    assert [f["path"] for f in bad_ident.value["error"]["failures"]] == ["$.plan"]
    assert "ada@acme.example" not in json.dumps(bad_ident.value)
    assert json.loads(unseal(bad_ident.value["payload"]))["traits"]["plan"] == "enterprise"  # sealed whole: PII

    duplicate, kept = sorted(by_id[d], key=lambda r: r.topic)
    assert (kept.topic, duplicate.topic, duplicate.value["error"]["type"]) == (ORDERS, "events.bad", "duplicate")


async def test_a_wrong_write_key_is_refused_with_the_code_segment_libraries_read(collector: Collector) -> None:
    errors: list[Exception] = []
    c = client(collector, errors, key="not-a-key-of-this-collector", sync_mode=True)
    with pytest.raises(APIError) as caught:
        c.track("u-1", "Order Completed", {"order_id": "o-9", "revenue": 1, "currency": "EUR"})
    assert (caught.value.status, caught.value.code) == (401, "unauthorized")


@pytest.mark.parametrize(
    ("call", "body", "topic"),
    [
        pytest.param("track", {"event": "Order Completed", "properties": {"order_id": "o-3", "revenue": 3,
                                                                         "currency": "USD"}}, ORDERS, id="track"),
        pytest.param("identify", {"traits": {"email": "bo@acme.example"}}, TRAITS, id="identify"),
    ],
)  # fmt: skip
async def test_single_call_endpoints_answer_success(
    collector: Collector, call: str, body: dict[str, Any], topic: str
) -> None:
    message = {**body, "userId": "u-2", "messageId": mid()}
    async with httpx.AsyncClient(base_url=collector.url, auth=(WRITE_KEY, "")) as http:
        answer = await http.post(f"/v1/{call}", json=message)
    assert (answer.status_code, answer.json()["success"]) == (200, True)
    by_id = await envelopes(collector, {"m": message["messageId"]}, {topic})
    assert by_id[message["messageId"]][0].value["source"]["client"]["type"] == call


async def test_unplanned_accept_forwards_unclaimed_calls(
    protocol_kafka: str, protocol_schemas: Path, protocol_logs: Path
) -> None:
    errors: list[Exception] = []
    async with serve(protocol_kafka, protocol_schemas, protocol_logs, "--unplanned", "accept") as collector:
        c = client(collector, errors)
        m = mid()
        c.track("u-1", "Coupon Applied", {"coupon": "WINTER10"}, message_id=m)
        c.shutdown()
        assert errors == []
        [rec] = (await envelopes(collector, {"m": m}, {UNPLANNED}))[m]
    assert rec.value["schema"] == "com.segment/unplanned/1.0.0"
    assert rec.value["data"] == {"type": "track", "event": "Coupon Applied", "data": {"coupon": "WINTER10"}}


async def test_page_screen_group_and_alias_calls_of_the_library_land_by_their_claims(collector: Collector) -> None:
    errors: list[Exception] = []
    c = client(collector, errors)
    ids = {name: mid() for name in ("home", "page", "bad_page", "screen", "group", "alias")}
    c.page("u-1", name="Home", properties={"path": "/"}, message_id=ids["home"])
    c.page("u-1", name="Pricing", properties={"path": "/pricing"}, message_id=ids["page"])  # no claim by name
    c.page("u-1", name="Home", properties={"path": "/pricing"}, message_id=ids["bad_page"])
    c.screen("u-1", name="Settings", properties={"variant": "b"}, message_id=ids["screen"])
    c.group("u-1", "acme-gmbh", {"plan": "pro"}, message_id=ids["group"])
    c.alias("anon-7", "u-1", message_id=ids["alias"])
    c.shutdown()
    assert errors == []
    topics = {f"events.{t}.v1" for t in ("com.acme.web.home_page", "com.acme.web.page_viewed", "com.acme.app.screen_viewed",
                                         "com.acme.shop.account_traits", "com.acme.shop.user_alias")} | {"events.bad"}  # fmt: skip
    by_id = await envelopes(collector, ids, topics)
    got = {name: by_id[i][0] for name, i in ids.items()}
    assert got["home"].value["schema"] == "com.acme.web/home_page/1.0.0"
    assert got["page"].value["schema"] == "com.acme.web/page_viewed/1.0.0"  # the page contract without a name
    assert (got["bad_page"].topic, got["bad_page"].value["error"]["failures"][0]["path"]) == ("events.bad", "$.path")
    assert (got["screen"].value["schema"], got["screen"].value["data"]) == (
        "com.acme.app/screen_viewed/1.0.0",
        {"variant": "b"},
    )
    assert (got["group"].value["data"], got["group"].value["source"]["client"]["groupId"]) == (
        {"plan": "pro"},
        "acme-gmbh",
    )
    assert got["alias"].value["data"] == {"previousId": "anon-7", "userId": "u-1"}
