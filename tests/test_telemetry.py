"""Metrics per namespace/name/version/error_type at /metrics, and the per-contract summary at /v1/stats."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from collector.app import create_app
from collector.contracts import Registry
from collector.settings import Settings
from collector.sinks.memory import MemorySink
from tests.conftest import TEST_KEYS, payment

CLICK = {"clickstream_id": "0b7f2a8e-4d43-4c2e-9d8e-2f5f1b3c9a10", "customer_email": "ana@example.com", "hotel_id": "H00042",
         "action": "page-view", "event_duration": 12, "url": "https://riverhotels.example/h/42", "created_at": "2026-11-21T10:00:00Z"}  # fmt: skip


@pytest.fixture
def client(registry: Registry) -> Iterator[TestClient]:
    app = create_app(Settings(keys=TEST_KEYS), registry, MemorySink())
    with TestClient(app, client=("127.0.0.1", 50000)) as c:  # /v1/stats answers loopback when no admin token is set
        yield c


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of charter_* metrics, keyed by name and the labels a user filters by."""
    keep = ("charter_namespace", "charter_name", "charter_version", "error_type")
    out = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            if s.name.startswith("charter_"):
                out[(s.name, tuple((k, v) for k, v in sorted(s.labels.items()) if k in keep))] = s.value
    return out


def labels(ns: str, name: str, version: str, error_type: str | None = None) -> tuple[tuple[str, str], ...]:
    pairs = {"charter_namespace": ns, "charter_name": name, "charter_version": version,
             **({"error_type": error_type} if error_type else {})}  # fmt: skip
    return tuple(sorted(pairs.items()))


def test_counters_per_namespace_name_version_and_error_type_equal_what_was_sent(
    client: TestClient, registry: Registry
) -> None:
    pay = "com.acme.shop/payment/1"
    click = "com.riverhotels.web/clickstream/1"
    batch: list[dict[str, Any]] = [
        *({"schema": pay, "data": payment(order_id=i)} for i in range(1, 4)),  # 3 good
        {"schema": pay, "data": payment(order_id=9, confirmation_code="0")},  # rule_violation
        {"schema": pay, "data": payment(order_id=1)},  # duplicate of the first
        {"schema": pay, "data": payment(order_id=10, amount=-1)},  # invalid_payload
        *({"schema": click, "data": CLICK} for _ in range(2)),  # 2 good (no dedupe on clickstream)
        {"schema": click, "data": {**CLICK, "action": "dance"}},  # invalid_payload
        {"schema": "com.acme.shop/refund/1", "data": {}},  # unknown_schema
    ]
    assert client.post("/v1/events", json=batch).status_code == 207
    assert client.post("/v1/events", content=b"{", headers={"Content-Type": "application/json"}).status_code == 400
    got = samples(client)
    p, c, u = ("com.acme.shop", "payment", "1.0.0"), ("com.riverhotels.web", "clickstream", "1.1.0"), ("unknown",) * 3
    assert got[("charter_events_received_total", labels(*p))] == 6
    assert got[("charter_events_accepted_total", labels(*p))] == 3
    assert got[("charter_events_rejected_total", labels(*p, "rule_violation"))] == 1
    assert got[("charter_events_rejected_total", labels(*p, "invalid_payload"))] == 1
    assert got[("charter_events_duplicates_total", labels(*p, "duplicate"))] == 1
    assert got[("charter_events_received_total", labels(*c))] == 3
    assert got[("charter_events_accepted_total", labels(*c))] == 2
    assert got[("charter_events_rejected_total", labels(*c, "invalid_payload"))] == 1
    assert got[("charter_events_rejected_total", labels(*u, "unknown_schema"))] == 1
    assert got[("charter_events_rejected_total", labels(*u, "malformed_body"))] == 1
    assert got[("charter_contracts_loaded", ())] == len(registry)
    assert got[("charter_request_duration_seconds_count", ())] == 1  # only the request that reached the pipeline


def test_stats_summarise_each_contract_with_its_latest_failures_and_no_clear_pii(client: TestClient) -> None:
    card = "4111111111111111"
    client.post("/v1/events", json=[{"schema": "com.acme.shop/payment/1", "data": payment(order_id=1, cc_number=card)},
                                    {"schema": "com.acme.shop/payment/1", "data": payment(order_id=2, cc_number=card, confirmation_code="0")}])  # fmt: skip
    body = client.get("/v1/stats")
    assert card not in body.text
    [pay] = [x for x in body.json()["contracts"] if x["schema"] == "com.acme.shop/payment/1.0.0"]
    assert (pay["good"], pay["bad"], pay["duplicates"]) == (1, 1, 0)
    assert pay["top_errors"] == [{"type": "rule_violation", "count": 1}]
    [failure] = pay["recent_failures"]
    assert (failure["type"], failure["path"], failure["keyword"]) == ("rule_violation", "$.confirmation_code", "rule")
    assert "confirmation_code_format" in failure["message"] and "enc:siv:" in failure["excerpt"]
    assert len(pay["history"]) == 15 and sum(m["good"] for m in pay["history"]) == 1


def test_otlp_exporter_pushes_the_same_counters_and_histograms_to_a_collector_endpoint() -> None:
    import threading
    from collections import Counter
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    from collector.telemetry import Telemetry

    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        telemetry = Telemetry(9, f"http://127.0.0.1:{server.server_port}/v1/metrics")
        telemetry.record(Counter({("com.acme.shop", "payment", "1.0.0", "accepted", ""): 4}), [])
        telemetry.request(100, 0.003)
        telemetry.sink(0.002)
        telemetry.sink(0.004)
        assert telemetry.provider.force_flush(10_000)
        telemetry.shutdown()  # flushes the histograms' own provider
    finally:
        server.shutdown()
        server.server_close()
    request = ExportMetricsServiceRequest.FromString(received[0])
    points = {
        m.name: (dict((a.key, a.value.string_value) for a in p.attributes), p.as_double or p.as_int)
        for rm in request.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
        if m.HasField("sum") for p in m.sum.data_points
    }  # fmt: skip
    assert points["charter.events.accepted"] == (
        {"charter.namespace": "com.acme.shop", "charter.name": "payment", "charter.version": "1.0.0"},
        4,
    )
    histograms = {
        m.name: (p.count, round(p.sum, 6))
        for body in received for rm in ExportMetricsServiceRequest.FromString(body).resource_metrics
        for sm in rm.scope_metrics for m in sm.metrics if m.HasField("histogram") for p in m.histogram.data_points
    }  # fmt: skip
    assert histograms == {"charter.request.duration": (1, 0.003), "charter.sink.duration": (2, 0.006)}


def test_no_metrics_switch_records_nothing(registry: Registry) -> None:
    with TestClient(create_app(Settings(keys=TEST_KEYS, metrics=False), registry, MemorySink())) as c:
        assert c.post("/v1/events", json={"schema": "com.acme.shop/payment/1", "data": payment()}).status_code == 200
        assert not [k for k in samples(c) if k[0].startswith("charter_events")]


PAY = "com.acme.shop/payment/1"


def test_stats_buckets_good_rejected_and_duplicate_add_up_to_what_was_sent(client: TestClient) -> None:
    sent = [{"schema": PAY, "data": payment(order_id=i)} for i in (1, 2)]
    sent += [{"schema": PAY, "data": payment(order_id=1)}]  # duplicate of the first (dedupe by order, product, amount)
    sent += [{"schema": PAY, "data": payment(order_id=3, amount=-1, cc_number="x")}]  # rejected, two failures
    client.post("/v1/events", json=sent)
    body = client.get("/v1/stats").json()
    [pay] = [x for x in body["contracts"] if x["schema"] == "com.acme.shop/payment/1.0.0"]
    assert (pay["good"], pay["rejected"], pay["duplicates"], pay["received"]) == (2, 1, 1, len(sent))
    assert pay["bad"] == pay["rejected"] + pay["duplicates"]  # the dead-letter records, never shown as a bucket
    assert body["totals"] == {"received": 4, "good": 2, "rejected": 1, "duplicates": 1}
    assert body["window_minutes"] == len(pay["history"]) == 15
    assert sum(m["good"] + m["rejected"] + m["duplicates"] for m in pay["history"]) == len(sent)
    assert pay["top_errors"] == [{"type": "invalid_payload", "count": 1}]  # duplicates are not a violation


def test_stats_list_every_failure_of_an_event_and_keep_duplicates_apart(client: TestClient) -> None:
    client.post("/v1/events", json=[{"schema": PAY, "data": payment(order_id=5)}, {"schema": PAY, "data": payment(order_id=5)},
                                    {"schema": PAY, "data": payment(order_id=6, amount=-1, cc_number="x")}])  # fmt: skip
    [pay] = [x for x in client.get("/v1/stats").json()["contracts"] if x["schema"] == "com.acme.shop/payment/1.0.0"]
    [event] = pay["recent_failures"]
    assert sorted(f["path"] for f in event["failures"]) == ["$.amount", "$.cc_number"]
    assert "4111" not in str(event) and event["more_failures"] == 0
    [dup] = pay["recent_duplicates"]
    assert (dup["type"], dup["failures"][0]["keyword"]) == ("duplicate", "dedupe")


def test_violations_are_grouped_by_error_type_and_path_with_a_per_minute_trend(client: TestClient) -> None:
    bad = [{"schema": PAY, "data": payment(order_id=i, amount=-1)} for i in (1, 2, 3)]
    client.post("/v1/events", json=[*bad, {"schema": PAY, "data": payment(order_id=4, confirmation_code="0")}])
    [pay] = [x for x in client.get("/v1/stats").json()["contracts"] if x["schema"] == "com.acme.shop/payment/1.0.0"]
    groups = [(v["type"], v["path"], v["keyword"], v["count"], v["trend"][-1]) for v in pay["violations"]]
    assert groups == [
        ("invalid_payload", "$.amount", "minimum", 3, 3),
        ("rule_violation", "$.confirmation_code", "rule", 1, 1),
    ]
    assert len(pay["violations"][0]["trend"]) == 15


def test_the_drill_down_serves_the_full_bad_record_protected_and_says_where(client: TestClient) -> None:
    card = "4111111111111111"
    posted = client.post(
        "/v1/events", json=[{"schema": PAY, "id": "evt-1", "data": payment(cc_number=card, amount=-1)}]
    )
    assert posted.status_code == 207
    r = client.get("/v1/stats/bad", params={"schema": "com.acme.shop/payment/1.0.0", "id": "evt-1"})
    assert r.status_code == 200 and card not in r.text
    [kept] = r.json()["records"]
    assert kept["record"] == client.get("/v1/memory/bad").json()[0]  # exactly what the sink got
    assert kept["record"]["error"]["failures"][0]["path"] == "$.amount"
    assert kept["protected"] == [{"path": "$.payload.data.cc_number", "action": "encrypt"}]
    assert kept["record"]["payload"]["data"]["cc_number"].startswith("enc:siv:")


def test_the_drill_down_marks_a_body_sealed_whole_and_needs_a_contract(client: TestClient) -> None:
    client.post("/v1/events", content=b"{not json", headers={"content-type": "application/json"})
    [kept] = client.get("/v1/stats/bad", params={"schema": "unknown/unknown/unknown"}).json()["records"]
    assert kept["type"] == "malformed_body" and kept["protected"] == [{"path": "$.payload", "action": "sealed"}]
    missing = client.get("/v1/stats/bad")
    assert missing.status_code == 400 and "?schema=" in missing.json()["error"]["message"]


def test_the_drill_down_keeps_only_the_latest_bad_records_of_each_contract(client: TestClient) -> None:
    from collector.stats import BAD_RECORDS_KEPT

    sent = [{"schema": PAY, "id": f"e{i}", "data": payment(order_id=i, amount=-1)} for i in range(BAD_RECORDS_KEPT + 5)]
    client.post("/v1/events", json=sent)
    kept = client.get("/v1/stats/bad", params={"schema": "com.acme.shop/payment/1.0.0"}).json()["records"]
    assert [r["id"] for r in kept] == [f"e{i}" for i in reversed(range(5, BAD_RECORDS_KEPT + 5))]


def test_protected_paths_name_every_protected_value_and_how_even_inside_arrays() -> None:
    from collector.badrecords import protected_paths
    from collector.privacy import pii_field

    record = {
        "payload": {"data": {"email": "0af3", "items": [{"card": "****1111"}, {"card": None}], "ip": "[redacted]"}}
    }
    pii = (pii_field("$.email", "hash"), pii_field("$.items[*].card", "mask"), pii_field("$.ip", "redact"),
           pii_field("$.phone", "encrypt-randomized"))  # fmt: skip
    assert protected_paths(record, pii) == [
        {"path": "$.payload.data.email", "action": "hash"},
        {"path": "$.payload.data.items[0].card", "action": "mask"},
        {"path": "$.payload.data.ip", "action": "redact"},
    ]
