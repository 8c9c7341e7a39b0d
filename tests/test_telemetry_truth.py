"""Telemetry that tells the truth: seconds histograms whose buckets fit, so a quantile computed
from the scrape (as Prometheus does) agrees with measured latencies; OTEL_* names the service."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from collector.app import create_app
from collector.contracts import Registry
from collector.settings import Settings
from collector.sinks.memory import MemorySink
from collector.telemetry import Telemetry, otlp_metrics_url
from tests.conftest import TEST_KEYS


def buckets(text: str, name: str) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of one histogram in Prometheus text, in order."""
    out = []
    for line in text.splitlines():
        if line.startswith(f"{name}_bucket{{"):
            le = line.split('le="')[1].split('"')[0]
            out.append((float("inf") if le == "+Inf" else float(le), float(line.rpartition(" ")[2])))
    return sorted(out)


def histogram_quantile(q: float, bs: list[tuple[float, float]]) -> float:
    """Prometheus's histogram_quantile: linear interpolation inside the bucket that holds the rank."""
    total = bs[-1][1]
    rank = q * total
    lower, below = 0.0, 0.0
    for upper, count in bs:
        if count >= rank:
            if upper == float("inf"):
                return lower
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    raise AssertionError("no bucket holds the rank")


def test_request_quantiles_from_the_scraped_histogram_match_measured_latencies(registry: Registry) -> None:
    app = create_app(Settings(keys=TEST_KEYS), registry, MemorySink())
    click = {"schema": "com.riverhotels.web/clickstream/1", "data": {}}
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        measured = []
        for _ in range(200):
            started = time.perf_counter()
            client.post("/v1/events", json=click)
            measured.append(time.perf_counter() - started)
        text = client.get("/metrics").text
    bs = buckets(text, "charter_request_duration_seconds")
    assert bs[-1][1] == 200
    measured.sort()
    p50, p99 = histogram_quantile(0.5, bs), histogram_quantile(0.99, bs)
    # the server's own time is within the client's; a bucket is at most 2.5x its lower bound wide
    assert 0 < p50 <= measured[100] * 2.5, (p50, measured[100])
    assert 0 < p99 <= measured[-1] * 2.5, (p99, measured[-1])
    assert p50 < 0.1  # milliseconds, not the seconds that millisecond-sized buckets made of them


def test_seconds_buckets_tell_a_third_of_a_millisecond_from_twenty_seconds() -> None:
    t = Telemetry(1)
    t.request(10, 0.0003)
    t.request(10, 20.0)
    bs = dict(buckets(t.prometheus().decode(), "charter_request_duration_seconds"))
    assert (bs[0.0005], bs[0.001], bs[10.0], bs[30.0]) == (1, 1, 1, 2)
    t.shutdown()


def test_otel_service_name_and_resource_attributes_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "collector-eu")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod")
    t = Telemetry(1)
    text = t.prometheus().decode()
    info = next(line for line in text.splitlines() if line.startswith("target_info{"))
    assert 'service_name="collector-eu"' in info and 'deployment_environment="prod"' in info
    t.shutdown()


def test_without_otel_variables_the_service_is_charter() -> None:
    t = Telemetry(1)
    info = next(line for line in t.prometheus().decode().splitlines() if line.startswith("target_info{"))
    assert 'service_name="charter"' in info
    t.shutdown()


@pytest.mark.parametrize(
    ("given", "used"),
    [
        pytest.param("http://otel:4318", "http://otel:4318/v1/metrics", id="base"),
        pytest.param("http://otel:4318/", "http://otel:4318/v1/metrics", id="base-slash"),
        pytest.param("http://otel:4318/v1/metrics", "http://otel:4318/v1/metrics", id="full"),
        pytest.param("https://gw.example/otlp/v1/metrics", "https://gw.example/otlp/v1/metrics", id="custom-path"),
    ],
)
def test_a_base_otlp_url_gets_the_metrics_path(given: str, used: str) -> None:
    assert otlp_metrics_url(given) == used


def test_every_counter_is_there_at_zero_before_the_first_event(registry: Registry) -> None:
    with TestClient(create_app(Settings(keys=TEST_KEYS), registry, MemorySink()), client=("127.0.0.1", 50000)) as c:
        lines = c.get("/metrics").text.splitlines()
    pay = 'charter_name="payment",charter_namespace="com.acme.shop",charter_version="1.0.0"'
    for name in ("charter_events_received_total", "charter_events_accepted_total"):
        assert any(x.startswith(f"{name}{{{pay}") and x.endswith(" 0.0") for x in lines), name
    assert any(x.startswith("charter_events_duplicates_total{") and pay in x and x.endswith(" 0.0") for x in lines)
    assert any(x.startswith("charter_events_rejected_total{") and pay in x and x.endswith(" 0.0") for x in lines)
    for name in ("charter_sink_errors_total", "charter_request_bytes_total"):
        assert any(x.startswith(name) and x.endswith(" 0.0") for x in lines), name
    assert not any("namespace=" in x and "charter_namespace=" not in x for x in lines)  # no bare `namespace` label


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_traceparent_is_recorded_in_the_envelope_and_logged(registry: Registry) -> None:
    import logging

    from collector.logs import JsonFormatter

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(JsonFormatter().format(record))  # formatted now, while the request's context holds

    sink = MemorySink()
    handler, log = Keep(), logging.getLogger("charter")
    log.addHandler(handler)
    level = log.level
    log.setLevel(logging.DEBUG)  # POST /v1/events logs one line at debug
    try:
        with TestClient(create_app(Settings(keys=TEST_KEYS), registry, sink), client=("127.0.0.1", 50000)) as c:
            click = {"schema": "com.riverhotels.web/clickstream/1", "data": {}}
            c.post("/v1/events", json=click, headers={"traceparent": TRACEPARENT})
            c.post("/v1/events", json=click, headers={"traceparent": "00-" + "0" * 32 + "-00f067aa0ba902b7-01"})
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    first, second = sink.envelopes("bad")
    assert first["source"]["traceparent"] == TRACEPARENT
    assert "traceparent" not in second["source"]  # an all-zero trace id is invalid: not recorded
    traced = [line for line in lines if '"trace_id"' in line]
    assert traced and all('"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"' in line for line in traced)


def test_responses_are_counted_by_status(registry: Registry) -> None:
    from collector.telemetry import responses

    before = dict(responses)
    with TestClient(create_app(Settings(keys=TEST_KEYS), registry, MemorySink()), client=("127.0.0.1", 50000)) as c:
        c.post("/v1/events", content=b"{", headers={"Content-Type": "application/json"})  # 400
        c.post("/v1/events", content=b"x", headers={"Content-Type": "image/png"})  # 415
        c.get("/health")
        text = c.get("/metrics").text
    assert responses[("POST", 400)] - before.get(("POST", 400), 0) == 1
    assert responses[("POST", 415)] - before.get(("POST", 415), 0) == 1
    assert any(
        x.startswith("charter_http_responses_total{")
        and 'http_request_method="POST"' in x
        and 'http_response_status_code="400"' in x
        for x in text.splitlines()
    )


@pytest.mark.parametrize(
    ("flag", "env", "used"),
    [
        pytest.param(None, {}, None, id="none"),
        pytest.param(
            None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318/"}, "http://otel:4318/v1/metrics", id="base"
        ),
        pytest.param(
            None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://gw/otlp"}, "http://gw/otlp/v1/metrics", id="base-path"
        ),
        pytest.param(
            None,
            {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://m:1/x", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://b"},
            "http://m:1/x",
            id="metrics-wins",
        ),
        pytest.param(
            "http://flag:4318", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://b"}, "http://flag:4318", id="flag-wins"
        ),
    ],
)
def test_the_standard_otlp_variables_are_honoured(
    flag: str | None, env: dict[str, str], used: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collector.startup import otlp_endpoint as _otlp_endpoint

    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert _otlp_endpoint(flag) == used


def test_the_access_log_line_has_events_bytes_and_key(registry: Registry, caplog: pytest.LogCaptureFixture) -> None:
    import json
    import logging

    body = json.dumps([{"schema": "com.riverhotels.web/clickstream/1", "data": {}}] * 2).encode()
    app = create_app(Settings(keys=TEST_KEYS, access_log=True), registry, MemorySink())
    with caplog.at_level(logging.INFO, "charter.access"), TestClient(app, client=("127.0.0.1", 50000)) as c:
        c.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
    [line] = [r for r in caplog.records if r.name == "charter.access" and r.__dict__.get("path") == "/v1/events"]
    assert (line.__dict__["status"], line.__dict__["events"], line.__dict__["bytes"]) == (207, 2, len(body))
    assert "key" in line.__dict__ and line.__dict__["key"] is None  # no --auth: no write key name


@pytest.mark.parametrize(
    ("env", "ms"),
    [
        pytest.param(None, 10_000.0, id="unset"),
        pytest.param("250", 250.0, id="set"),
        pytest.param("1500.5", 1500.5, id="fraction"),
    ],
)
def test_otel_metric_export_interval_is_the_otlp_push_interval(
    env: str | None, ms: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collector.startup import otlp_interval as _otlp_interval

    monkeypatch.delenv("OTEL_METRIC_EXPORT_INTERVAL", raising=False)
    if env is not None:
        monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", env)
    assert _otlp_interval() == ms


@pytest.mark.parametrize("value", ["ten", "0", "-5", "inf"])
def test_an_unusable_otel_metric_export_interval_is_a_startup_error_naming_it(value: str) -> None:
    from click.testing import CliRunner

    from collector.cli import main

    result = CliRunner().invoke(main, ["serve", "--sink", "memory"], env={"OTEL_METRIC_EXPORT_INTERVAL": value})
    assert result.exit_code == 2
    assert "OTEL_METRIC_EXPORT_INTERVAL" in result.output and "milliseconds" in result.output


def test_metrics_are_pushed_over_otlp_at_the_interval_asked_for() -> None:
    import threading
    from collections import Counter
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from typing import Any

    pushed = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            pushed.set()
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        t = Telemetry(1, f"http://127.0.0.1:{server.server_port}", otlp_interval_ms=100)
        t.record(Counter({("com.acme.shop", "payment", "1.0.0", "accepted", ""): 1}), [])
        assert pushed.wait(5)  # no flush asked for: the reader's own timer pushed (a fixed 10 s would not have yet)
        t.shutdown()
    finally:
        server.shutdown()
        server.server_close()


def _samples(text: str, family: str) -> list[tuple[str, dict[str, str], float]]:
    """One family's samples in Prometheus text: (sample name, labels, value)."""
    from prometheus_client.parser import text_string_to_metric_families

    return [
        (s.name, s.labels, s.value) for f in text_string_to_metric_families(text) if f.name == family for s in f.samples
    ]


def _refusals(text: str) -> dict[tuple[str, str, str], float]:
    """charter_requests_refused_total by (reason, status, write key name or "")."""
    return {
        (labels["error_type"], labels["http_response_status_code"], labels.get("charter_key", "")): value
        for _, labels, value in _samples(text, "charter_requests_refused")
    }


def test_refusals_are_there_at_zero_and_the_same_series_counts_the_first(registry: Registry, tmp_path: Path) -> None:
    from collector.limits import REFUSALS

    auth = tmp_path / "auth.yaml"  # a key name of this test's own: its series start at 0 whatever ran before
    auth.write_text("keys:\n  - name: zero-test-shop\n    key: sk-zero-0123456789abcdef\n"
                    "    namespaces: ['com.acme.other']\n    rate: 5\n")  # fmt: skip
    bearer = {"authorization": "Bearer sk-zero-0123456789abcdef"}
    event = {"schema": "com.acme.shop/payment/1", "data": {}}
    with TestClient(create_app(Settings(keys=TEST_KEYS, auth=auth), registry, MemorySink())) as c:
        before = _refusals(c.get("/metrics").text)
        assert c.post("/v1/events", json=event).status_code == 401
        assert c.post("/v1/events", json=event, headers=bearer).status_code == 403  # outside the key's namespaces
        after = _refusals(c.get("/metrics").text)
    assert {(reason, str(status), "") for reason, status in REFUSALS} <= set(before)  # before any refusal
    assert before[("forbidden", "403", "zero-test-shop")] == before[("rate_limited", "429", "zero-test-shop")] == 0
    assert after[("forbidden", "403", "zero-test-shop")] == 1  # the series that was at 0 counts the refusal
    assert after[("unauthorized", "401", "")] == before[("unauthorized", "401", "")] + 1
    assert set(after) == set(before)  # no series appeared: each was there from the start


def test_duration_histograms_are_there_empty_before_the_first_request_labelled_as_after(registry: Registry) -> None:
    with TestClient(create_app(Settings(keys=TEST_KEYS), registry, MemorySink())) as c:
        before = c.get("/metrics").text
        assert c.post("/v1/events", json={"schema": "com.acme.shop/payment/1", "data": {}}).status_code == 207
        after = c.get("/metrics").text
    for family in ("charter_request_duration_seconds", "charter_sink_duration_seconds"):
        empty, counted = _samples(before, family), _samples(after, family)
        assert empty and {value for _, _, value in empty} == {0.0}, family
        # the same series (name and labels): a rate() over them counts from the first request on
        assert sorted((n, sorted(labels.items())) for n, labels, _ in empty) == sorted(
            (n, sorted(labels.items())) for n, labels, _ in counted
        )
        assert [value for name, _, value in counted if name == f"{family}_count"] == [1.0]
        assert after.count(f"# TYPE {family} histogram") == 1  # shown once: by the exporter, now it has a value
