"""Events POSTed over HTTP land in the right Kafka topic, with the right envelope, key and headers.

Real `charter serve --sink kafka` subprocess, real broker, real consumer (see conftest.py).
"""

from __future__ import annotations

import datetime
import gzip
import json
import random
import re
import uuid
from typing import Any

import httpx
import pytest
from aiokafka.partitioner import murmur2

from collector.annotate import fingerprint
from collector.keys import load_keys
from collector.privacy import Privacy, decrypt_value, pii_field
from tests.conftest import unseal
from tests.integration.conftest import TEST_KEYS

pytestmark = pytest.mark.kafka

UA = "charter-integration-tests/1.0"
RFC3339_MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
PAYMENT = "com.acme.shop/payment/1"  # major-only: resolves to the newest 1.x.y
PRIVACY = Privacy(load_keys(TEST_KEYS))  # the collector under test runs with the same test key ring
PAYMENT_PII = (pii_field("$.cc_number", "encrypt"),)
CLICKSTREAM = "com.riverhotels.web/clickstream/1"


def card_number() -> str:
    return "4" + "".join(random.choices("0123456789", k=15))


def payment_data(order_id: int, cc_number: str, **overrides: Any) -> dict[str, Any]:
    data = {"order_id": order_id, "product_id": 7, "amount": 25.5, "currency": "EUR",
            "confirmation_code": "AB12CD34", "cc_number": cc_number, "ts": "2026-11-21T10:00:00Z"}  # fmt: skip
    return {**data, **overrides}


def click_data(email: str) -> dict[str, Any]:
    return {"clickstream_id": str(uuid.uuid4()), "customer_email": email, "hotel_id": "H00042",
            "action": "page-view", "event_duration": 12, "url": "https://riverhotels.example/hotels/H00042",
            "created_at": "2026-11-21T10:00:00Z"}  # fmt: skip


def order_id() -> int:
    return random.randrange(10**9, 10**12)


def java_partition(key: bytes, partitions: int) -> int:
    """Where Kafka's Java DefaultPartitioner puts a keyed record."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


async def all_topics(http: httpx.AsyncClient) -> set[str]:
    """Every topic the loaded contracts write to (good and dead-letter), as the collector serves them."""
    schemas = (await http.get("/v1/schemas")).json()["schemas"]
    return {s["topic"] for s in schemas} | {s["dlq_topic"] for s in schemas}


def post_json(http: httpx.AsyncClient, body: Any) -> Any:
    content = json.dumps(body).encode()
    return http.post("/v1/events", content=content, headers={"content-type": "application/json", "user-agent": UA})


def utc(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def assert_provenance(env: dict[str, Any], before: datetime.datetime, after: datetime.datetime) -> None:
    assert RFC3339_MICRO.match(env["collected_at"]), env["collected_at"]
    assert before <= utc(env["collected_at"]) <= after
    assert env["source"] == {"ip": "127.0.0.1", "user_agent": UA}
    assert env["collector"]["name"] == "charter"
    assert env["collector"]["version"] and env["collector"]["host"]


async def test_mixed_batch_routes_each_event_to_exactly_its_topic_with_envelope_key_and_headers(
    http: httpx.AsyncClient, collector: Any, consume_records: Any, run_id: str
) -> None:
    cc = {name: card_number() for name in ("pay1", "pay2", "bad_pay", "bad_shape")}
    oid1, oid2, oid3, oid4 = order_id(), order_id(), order_id(), order_id()
    email = f"guest-{run_id}@example.com"
    hashed_email = PRIVACY.protect({"e": email}, (pii_field("$.e", "hash"),))["e"]
    ids = {name: f"it-{run_id}-{name}" for name in ("pay1", "pay2", "click", "bad_pay", "unknown", "bad_shape", "no_schema")}  # fmt: skip
    pay1 = payment_data(oid1, cc["pay1"])
    pay2 = payment_data(oid2, cc["pay2"], currency="USD")
    bad_pay = payment_data(oid3, cc["bad_pay"], confirmation_code="not-a-code")
    click = click_data(email)
    batch: list[dict[str, Any]] = [
        {"schema": PAYMENT, "id": ids["pay1"], "sent_at": "2026-11-21T09:59:59Z", "data": pay1},  # 0 good
        {"schema": PAYMENT, "id": ids["bad_pay"], "data": bad_pay},  # 1 rule_violation (the seed scenario)
        {"schema": CLICKSTREAM, "id": ids["click"], "data": click},  # 2 good
        {"schema": "com.acme.shop/refund/1.0.0", "id": ids["unknown"], "data": {"order_id": oid1}},  # 3 unknown_schema
        {"schema": PAYMENT, "id": ids["pay2"], "data": pay2},  # 4 good
        {"id": ids["no_schema"], "data": {"order_id": oid1, "note": run_id}},  # 5 malformed_event: no `schema`
        # 6 malformed_event that names the payment contract: an extra key cannot be mapped, so it is sealed
        {"schema": PAYMENT, "id": ids["bad_shape"], "data": payment_data(oid4, cc["bad_shape"]), "user": "x"},
    ]
    before = datetime.datetime.now(datetime.UTC)
    r = await post_json(http, batch)
    after = datetime.datetime.now(datetime.UTC)

    # --- what the client is told
    assert r.status_code == 207, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (3, 4)
    errors = body["errors"]
    assert [(e["index"], e["type"]) for e in errors] == [
        (1, "rule_violation"), (3, "unknown_schema"), (5, "malformed_event"), (6, "malformed_event")]  # fmt: skip
    by_index = {e["index"]: e for e in errors}
    assert by_index[1]["id"] == ids["bad_pay"] and by_index[1]["schema"] == PAYMENT
    assert [(f["path"], f["keyword"]) for f in by_index[1]["failures"]] == [("$.confirmation_code", "rule")]
    assert by_index[3]["id"] == ids["unknown"] and by_index[3]["schema"] == "com.acme.shop/refund/1.0.0"
    assert by_index[5]["schema"] is None
    assert [(f["path"], f["keyword"]) for f in by_index[5]["failures"]] == [("$.schema", "required")]
    no_schema_id = by_index[5]["id"]  # the collector names the bad record; the 207 says which id
    bad_shape_id = by_index[6]["id"]
    assert not any(n in r.text for n in cc.values())

    # --- what lands in Kafka: every record of every contract topic and dead-letter topic
    topics = await all_topics(http)
    assert {"payments", "riverhotels.clickstream", "error-payments", "events.bad"} <= topics
    want = {ids["pay1"], ids["pay2"], ids["click"], ids["bad_pay"], ids["unknown"], no_schema_id, bad_shape_id}
    consumed = await consume_records(collector.bootstrap, topics, want)
    found = consumed.by_id()
    placement = {i: [(rec.topic, rec.key) for rec in found.get(i, [])] for i in want}
    assert placement == {
        ids["pay1"]: [("payments", str(oid1).encode())],  # partition_key order_id
        ids["pay2"]: [("payments", str(oid2).encode())],
        ids["click"]: [("riverhotels.clickstream", hashed_email.encode())],  # partition_key, hashed like the field
        ids["bad_pay"]: [("error-payments", ids["bad_pay"].encode())],  # the contract's dlq_topic, keyed by id
        ids["unknown"]: [("events.bad", ids["unknown"].encode())],
        no_schema_id: [("events.bad", no_schema_id.encode())],
        bad_shape_id: [("error-payments", bad_shape_id.encode())],
    }  # exactly one record per event, in exactly one topic

    # --- good envelopes
    for name, data, oid in (("pay1", pay1, oid1), ("pay2", pay2, oid2)):
        (rec,) = found[ids[name]]
        env = rec.value
        assert rec.partition == java_partition(str(oid).encode(), 3)
        assert {k: env[k] for k in ("id", "schema", "namespace", "name", "version")} == {
            "id": ids[name], "schema": "com.acme.shop/payment/1.0.0", "namespace": "com.acme.shop",
            "name": "payment", "version": "1.0.0"}  # fmt: skip
        assert env["data"] == {**data, "cc_number": PRIVACY.protect(dict(data), PAYMENT_PII)["cc_number"]}
        assert decrypt_value(PRIVACY.keys, env["data"]["cc_number"]) == data["cc_number"]
        assert env["fingerprint"] == fingerprint("com.acme.shop/payment/1.0.0", data)  # of the data as sent
        assert_provenance(env, before, after)
        assert dict(rec.headers) == {
            "schema": b"com.acme.shop/payment/1.0.0",
            "fingerprint": env["fingerprint"].encode(),
        }
    assert found[ids["pay1"]][0].value["sent_at"] == "2026-11-21T09:59:59Z"
    assert found[ids["pay2"]][0].value["sent_at"] is None

    (rec,) = found[ids["click"]]
    env = rec.value
    newest = "com.riverhotels.web/clickstream/1.1.0"  # "/1" means the newest 1.x.y
    assert (env["id"], env["schema"], env["namespace"], env["name"], env["version"]) == (
        ids["click"], newest, "com.riverhotels.web", "clickstream", "1.1.0")  # fmt: skip
    assert env["data"] == {**click, "customer_email": hashed_email}  # keyed hash, never the address
    assert env["fingerprint"] == fingerprint(newest, click)
    assert rec.partition == java_partition(hashed_email.encode(), 3)
    assert_provenance(env, before, after)
    assert dict(rec.headers) == {"schema": newest.encode(), "fingerprint": env["fingerprint"].encode()}

    # --- bad envelopes
    env = found[ids["bad_pay"]][0].value
    assert (env["id"], env["schema"]) == (ids["bad_pay"], PAYMENT)  # the schema as claimed
    assert env["error"]["type"] == "rule_violation" and env["error"]["resolution"]
    assert [(f["path"], f["keyword"]) for f in env["error"]["failures"]] == [("$.confirmation_code", "rule")]
    assert env["payload"] == {**batch[1], "data": PRIVACY.protect(dict(bad_pay), PAYMENT_PII)}
    assert_provenance(env, before, after)
    assert dict(found[ids["bad_pay"]][0].headers) == {"schema": PAYMENT.encode(), "error_type": b"rule_violation"}

    env = found[ids["unknown"]][0].value
    assert (env["schema"], env["error"]["type"]) == ("com.acme.shop/refund/1.0.0", "unknown_schema")
    # refund is no loaded contract line and other contracts tag PII: sealed, decryptable to the event
    assert json.loads(unseal(env["payload"])) == batch[3]
    assert_provenance(env, before, after)
    assert dict(found[ids["unknown"]][0].headers) == {
        "schema": b"com.acme.shop/refund/1.0.0", "error_type": b"unknown_schema"}  # fmt: skip

    env = found[no_schema_id][0].value
    assert (env["schema"], env["error"]["type"]) == (None, "malformed_event")
    assert [(f["path"], f["keyword"]) for f in env["error"]["failures"]] == [("$.schema", "required")]
    assert json.loads(unseal(env["payload"])) == batch[5]  # no schema: cannot be mapped, sealed
    assert_provenance(env, before, after)
    assert dict(found[no_schema_id][0].headers) == {"error_type": b"malformed_event"}

    env = found[bad_shape_id][0].value
    assert (env["schema"], env["error"]["type"]) == (PAYMENT, "malformed_event")
    assert "text" in env["payload"] and cc["bad_shape"] not in json.dumps(env)
    assert json.loads(unseal(env["payload"]))["data"]["cc_number"] == cc["bad_shape"]
    assert dict(found[bad_shape_id][0].headers) == {"schema": PAYMENT.encode(), "error_type": b"malformed_event"}

    # --- no card number in clear text anywhere in Kafka (the payment contract redacts cc_number)
    assert consumed.scanned, "the consumer read nothing"
    leaks = [(rec.topic, rec.offset) for rec in consumed.scanned for n in cc.values() if n.encode() in rec.raw]
    assert leaks == []


async def test_ndjson_and_gzip_bodies_reach_kafka_like_a_json_array(
    http: httpx.AsyncClient, collector: Any, consume_records: Any, run_id: str
) -> None:
    oid = order_id()
    cc = card_number()
    email = f"enc-{run_id}@example.com"
    pay, click = payment_data(oid, cc), click_data(email)

    product = {"json": 1, "ndjson": 2, "gzip-json": 3, "gzip-ndjson": 4}  # else the payment dedupe drops repeats

    def events(encoding: str) -> list[dict[str, Any]]:
        return [{"schema": PAYMENT, "id": f"it-{run_id}-{encoding}-pay", "data": {**pay, "product_id": product[encoding]}},
                {"schema": CLICKSTREAM, "id": f"it-{run_id}-{encoding}-click", "data": click}]  # fmt: skip

    def ndjson(evs: list[dict[str, Any]]) -> bytes:
        return b"\n".join(json.dumps(e).encode() for e in evs) + b"\n"

    bodies: dict[str, tuple[bytes, dict[str, str]]] = {
        "json": (json.dumps(events("json")).encode(), {"content-type": "application/json"}),
        "ndjson": (ndjson(events("ndjson")), {"content-type": "application/x-ndjson"}),
        "gzip-json": (gzip.compress(json.dumps(events("gzip-json")).encode()),
                      {"content-type": "application/json", "content-encoding": "gzip"}),
        "gzip-ndjson": (gzip.compress(ndjson(events("gzip-ndjson"))),
                        {"content-type": "application/x-ndjson", "content-encoding": "gzip"}),
    }  # fmt: skip
    for encoding, (content, headers) in bodies.items():
        r = await http.post("/v1/events", content=content, headers={**headers, "user-agent": UA})
        assert (r.status_code, r.json()) == (200, {"accepted": 2, "rejected": 0}), (encoding, r.text)

    ids = [e["id"] for enc in bodies for e in events(enc)]
    consumed = await consume_records(collector.bootstrap, await all_topics(http), ids)
    found = consumed.by_id()
    assert {i: len(found.get(i, [])) for i in ids} == dict.fromkeys(ids, 1)

    def seen(rec: Any) -> tuple[Any, ...]:
        """What a consumer sees of a record, minus what differs per request (id, collected_at, product)."""
        env = {k: v for k, v in rec.value.items() if k not in ("id", "collected_at", "fingerprint")}
        env["data"] = {k: v for k, v in env["data"].items() if k != "product_id"}
        headers = {k: v for k, v in rec.headers if k != "fingerprint"}
        return rec.topic, rec.partition, rec.key, headers, env

    for kind in ("pay", "click"):
        baseline = seen(found[f"it-{run_id}-json-{kind}"][0])
        for encoding in ("ndjson", "gzip-json", "gzip-ndjson"):
            assert seen(found[f"it-{run_id}-{encoding}-{kind}"][0]) == baseline, (encoding, kind)
    assert found[f"it-{run_id}-gzip-ndjson-pay"][0].topic == "payments"
    assert found[f"it-{run_id}-gzip-ndjson-pay"][0].value["data"]["cc_number"].startswith("enc:siv:")
    assert found[f"it-{run_id}-gzip-ndjson-click"][0].topic == "riverhotels.clickstream"
    assert not any(cc.encode() in rec.raw for rec in consumed.scanned)


async def test_unparseable_body_gets_400_and_is_recorded_raw_in_events_bad(
    http: httpx.AsyncClient, collector: Any, consume_records: Any, run_id: str
) -> None:
    raw = '[{"schema": "com.acme.shop/payment/1", "id": "it-' + run_id + '-broken", "data": {"order_id": 12,'
    r = await http.post(
        "/v1/events", content=raw.encode(), headers={"content-type": "application/json", "user-agent": UA}
    )
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"]["type"] == "malformed_body"
    recorded = body["recorded_as"]  # the id of the bad record that keeps the body

    consumed = await consume_records(collector.bootstrap, await all_topics(http), [recorded])
    records = consumed.by_id().get(recorded, [])
    assert [(rec.topic, rec.key) for rec in records] == [("events.bad", recorded.encode())]
    env = records[0].value
    assert unseal(env["payload"]) == raw  # the raw text, exactly, sealed (the contracts tag PII fields)
    assert env["schema"] is None
    assert env["error"]["type"] == "malformed_body" and env["error"]["resolution"]
    assert env["source"] == {"ip": "127.0.0.1", "user_agent": UA}
    assert RFC3339_MICRO.match(env["collected_at"])
    assert dict(records[0].headers) == {"error_type": b"malformed_body"}


async def test_card_number_is_not_in_clear_text_when_a_payment_names_an_unloaded_version(
    http: httpx.AsyncClient, collector: Any, consume_records: Any, run_id: str
) -> None:
    cc = card_number()
    event = {"schema": "com.acme.shop/payment/2", "id": f"it-{run_id}-v2", "data": payment_data(order_id(), cc)}
    r = await post_json(http, [event])
    if r.status_code != 207 or r.json()["errors"][0]["type"] != "unknown_schema":
        pytest.fail(f"expected a 207 with unknown_schema, got {r.status_code} {r.text}")
    consumed = await consume_records(collector.bootstrap, ["events.bad"], [event["id"]])
    (rec,) = consumed.by_id()[event["id"]]
    assert cc.encode() not in rec.raw, f"cc_number in clear text in events.bad: {rec.raw[:300]!r}"


async def test_charter_decrypt_reads_a_topic_and_restores_the_card_number(
    http: httpx.AsyncClient, collector: Any
) -> None:
    import asyncio

    from click.testing import CliRunner

    from collector.cli import main

    oid, cc = order_id(), card_number()
    r = await http.post(
        "/v1/events", json={"schema": PAYMENT, "data": payment_data(oid, cc)}, headers={"user-agent": UA}
    )
    assert r.status_code == 200, r.text
    args = ["decrypt", "payments", "--kafka-bootstrap", collector.bootstrap, "--keys", str(TEST_KEYS)]
    result = await asyncio.to_thread(CliRunner().invoke, main, args)
    assert result.exit_code == 0, result.output
    mine = [json.loads(line) for line in result.stdout.splitlines() if f'"order_id":{oid},' in line]
    assert [env["data"]["cc_number"] for env in mine] == [cc]
