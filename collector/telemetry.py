"""OpenTelemetry metrics per namespace, name and version, plus the in-process stats behind /v1/stats.

The hot path only bumps a per-request tally (one dict increment per event); the tally is
added to the OpenTelemetry counters once per request and per distinct attribute set, so the
cost of metrics does not grow with the batch size. Exported as Prometheus text at /metrics
(one registry per app) and, with `--otlp-endpoint`, over OTLP.
"""

from __future__ import annotations

import os
import socket
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector import __version__
from collector.limits import REFUSALS, refused

if TYPE_CHECKING:
    from collector.contracts import Contract

# every HTTP response this process sent, by (method, status): refused ones too
responses: Counter[tuple[str, int]] = Counter()
# (namespace, name, version, outcome, error_type): outcome is accepted | rejected | duplicate
Tally = Counter[tuple[str, str, str, str, str]]
MINUTES_KEPT = 15
# seconds, sub-millisecond to tens of seconds (the SDK's default boundaries are 0..10000, made for milliseconds)
SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
RECENT_FAILURES = 5
REQUEST_DURATION = ("charter.request.duration", "POST /v1/events duration")
SINK_DURATION = ("charter.sink.duration", "Time for the sink to accept a request")


@dataclass
class _ContractStats:
    good: int = 0
    bad: int = 0
    duplicates: int = 0
    last_seen: float | None = None
    minutes: dict[int, list[int]] = field(default_factory=dict)  # minute → [good, bad]
    errors: Counter[str] = field(default_factory=Counter)
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT_FAILURES))


class Telemetry:
    """Meters for one collector process; created in the app's lifespan."""

    def __init__(
        self, contracts_loaded: int, otlp_endpoint: str | None = None, enabled: bool = True,
        otlp_interval_ms: float = 10_000.0,
    ) -> None:  # fmt: skip
        self.enabled = enabled  # --no-metrics: only for measuring what metrics cost
        self.registry = CollectorRegistry(auto_describe=True)
        readers: list[MetricReader] = [PrometheusMetricReader(registry=self.registry)]
        if otlp_endpoint:
            readers.append(_otlp_reader(otlp_endpoint, otlp_interval_ms))
        instance = f"{socket.gethostname()}-{os.getpid()}"  # each worker reports as its own instance
        ours = Resource({"service.name": "charter", "service.version": __version__, "service.instance.id": instance})
        # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over Charter's defaults, as the spec says
        resource = Resource.create().merge(ours).merge(OTELResourceDetector().detect())
        self.provider = MeterProvider(metric_readers=readers, resource=resource)
        meter = self.provider.get_meter("charter", __version__)
        self.received = meter.create_counter("charter.events.received", "{event}", "Events received, by contract")
        self.accepted = meter.create_counter("charter.events.accepted", "{event}", "Events written to the good stream")
        self.rejected = meter.create_counter(
            "charter.events.rejected", "{event}", "Events written to the dead-letter stream"
        )
        self.duplicates = meter.create_counter("charter.events.duplicates", "{event}", "Events dropped as duplicates")
        self.request_bytes = meter.create_counter("charter.request.bytes", "By", "Request body bytes received")
        self.request_duration = meter.create_histogram(
            REQUEST_DURATION[0], "s", REQUEST_DURATION[1], explicit_bucket_boundaries_advisory=SECONDS_BUCKETS
        )
        self.sink_duration = meter.create_histogram(
            SINK_DURATION[0], "s", SINK_DURATION[1], explicit_bucket_boundaries_advisory=SECONDS_BUCKETS
        )
        self.unobserved = {REQUEST_DURATION, SINK_DURATION}  # histograms shown empty until their first value
        self.registry.register(_EmptyHistograms(self))
        self.sink_errors = meter.create_counter(
            "charter.sink.errors", "{request}", "Requests the sink could not accept (503)"
        )
        self.inflight = 0
        meter.create_observable_gauge(
            "charter.sink.inflight", [self._observe_inflight], "{event}", "Events waiting for the sink"
        )
        self.contracts_loaded = contracts_loaded  # a contract reload updates it
        meter.create_observable_gauge(
            "charter.contracts.loaded", [self._observe_loaded], "{contract}", "Contracts loaded"
        )
        meter.create_observable_counter(
            "charter.http.responses", [_observe_responses], "{response}",
            "HTTP responses by http.request.method and http.response.status_code",
        )  # fmt: skip
        self.refusals: set[tuple[str, int, str]] = set()  # (reason, status, key) shown at 0 until counted
        meter.create_observable_counter(
            "charter.requests.refused", [self._observe_refused], "{request}",
            "Requests refused at a limit or an access check, by reason (error.type), status and write key",
        )  # fmt: skip
        self.started = time.time()
        self.stats: dict[str, _ContractStats] = {}

    def record(self, tally: Tally, failures: list[dict[str, Any]], now: float | None = None) -> None:
        """Add one request's tally to the counters and the per-contract stats."""
        if not self.enabled:
            return
        now = time.time() if now is None else now
        minute = int(now // 60)
        for (ns, name, version, outcome, error_type), n in tally.items():
            attrs = _contract(ns, name, version)
            self.received.add(n, attrs)
            if outcome == "accepted":
                self.accepted.add(n, attrs)
            else:
                (self.duplicates if outcome == "duplicate" else self.rejected).add(
                    n, {**attrs, "error.type": error_type}
                )
            self._stat(f"{ns}/{name}/{version}", outcome, error_type, n, now, minute)
        for f in failures:
            self.stats[f["schema_key"]].recent.appendleft({k: v for k, v in f.items() if k != "schema_key"})

    def zero(self, contracts: Iterable[Contract], key_refusals: Iterable[tuple[str, int, str]] = ()) -> None:
        """Every contract's counters exist from the start, at 0: a rate over a series that appears only
        with the first event misses that event, and an alert on an absent series never fires. So do
        the refusals, each reason (and each write key's own) at 0."""
        if not self.enabled:
            return
        self.refusals.update((reason, status, "") for reason, status in REFUSALS)
        self.refusals.update(key_refusals)
        self.request_bytes.add(0)
        self.sink_errors.add(0)
        for c in contracts:
            attrs = _contract(c.namespace, c.name, c.version_str)
            self.received.add(0, attrs)
            self.accepted.add(0, attrs)
            self.rejected.add(0, {**attrs, "error.type": "invalid_payload"})
            if c.meta.dedupe is not None:
                self.duplicates.add(0, {**attrs, "error.type": "duplicate"})
        self.rejected.add(0, {**_contract("unknown", "unknown", "unknown"), "error.type": "unknown_schema"})

    def request(self, size: int, seconds: float | None) -> None:
        """A POST /v1/events: its body size, and its duration once it got an answer."""
        if self.enabled:
            self.request_bytes.add(size)
            if seconds is not None:
                self.request_duration.record(seconds)
                self.unobserved.discard(REQUEST_DURATION)

    def sink(self, seconds: float | None) -> None:
        """One hand-over to the sink: its duration, or None when it failed (answered 503)."""
        if not self.enabled:
            return
        if seconds is None:
            self.sink_errors.add(1)
        else:
            self.sink_duration.record(seconds)
            self.unobserved.discard(SINK_DURATION)

    def prometheus(self) -> bytes:
        return generate_latest(self.registry)

    def summary(self, now: float | None = None) -> dict[str, Any]:
        return _summary_of(self.stats, self.started, now)

    def raw(self) -> dict[str, Any]:
        """This process's stats as plain data, for /v1/stats to add up across workers (collector.workers)."""
        return {"started": self.started, "contracts": {k: _raw(s) for k, s in self.stats.items()}}

    def shutdown(self) -> None:
        self.provider.shutdown()

    def _stat(self, key: str, outcome: str, error_type: str, n: int, now: float, minute: int) -> None:
        s = self.stats.get(key)
        if s is None:
            s = self.stats[key] = _ContractStats()
        bucket = s.minutes.setdefault(minute, [0, 0])
        if outcome == "accepted":
            s.good += n
            bucket[0] += n
        else:
            s.bad += n
            bucket[1] += n
            s.errors[error_type] += n
            if outcome == "duplicate":
                s.duplicates += n
        s.last_seen = now
        for old in [m for m in s.minutes if m <= minute - MINUTES_KEPT]:
            del s.minutes[old]

    def _observe_inflight(self, options: CallbackOptions) -> list[Observation]:
        return [Observation(self.inflight)]

    def _observe_loaded(self, options: CallbackOptions) -> list[Observation]:
        return [Observation(self.contracts_loaded)]

    def _observe_refused(self, options: CallbackOptions) -> list[Observation]:
        """The process-wide refusal counts (collector.limits.refused: some happen before any app sees
        the request), and every refusal not yet counted at 0."""
        counts = dict.fromkeys(self.refusals, 0)
        counts.update(list(refused.items()))
        out = []
        for (reason, status, key), n in counts.items():
            attrs: dict[str, str | int] = {"error.type": reason, "http.response.status_code": status}
            if key:
                attrs["charter.key"] = key
            out.append(Observation(n, attrs))
        return out


class _EmptyHistograms:
    """The seconds histograms with zero counts until their first value (the OpenTelemetry SDK has
    no data point before one), labelled as the Prometheus exporter labels them once it has one."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    def describe(self) -> list[Metric]:
        return []  # nothing to check against other collectors: it shows only what the exporter does not yet

    def collect(self) -> Iterator[Metric]:
        if not self.telemetry.enabled:
            return
        scope = {"otel_scope_name": "charter", "otel_scope_schema_url": "", "otel_scope_version": __version__}
        buckets = [(str(bound), 0.0) for bound in SECONDS_BUCKETS] + [("+Inf", 0.0)]
        for name, description in sorted(self.telemetry.unobserved):
            family = HistogramMetricFamily(name.replace(".", "_"), description, labels=sorted(scope), unit="seconds")
            family.add_metric([scope[k] for k in sorted(scope)], buckets, sum_value=0.0)
            yield family


def _contract(ns: str, name: str, version: str) -> dict[str, str]:
    """OpenTelemetry attributes of a contract: `charter.`-prefixed (a bare `namespace` clashes with
    the Kubernetes target label Prometheus adds)."""
    return {"charter.namespace": ns, "charter.name": name, "charter.version": version}


def merged_summary(raws: list[dict[str, Any]], now: float | None = None) -> dict[str, Any]:
    """Several workers' /v1/stats as one: counts and minutes add up, the latest failures come first."""
    stats, started = _combine(raws)
    return _summary_of(stats, started, now)


def combined_raw(raws: list[dict[str, Any]]) -> dict[str, Any]:
    """Several raw stats as one raw (what dead workers counted, kept)."""
    stats, started = _combine(raws)
    return {"started": started, "contracts": {k: _raw(s) for k, s in stats.items()}}


def _combine(raws: list[dict[str, Any]]) -> tuple[dict[str, _ContractStats], float]:
    stats: dict[str, _ContractStats] = {}
    for raw in raws:
        for key, r in raw["contracts"].items():
            s = stats.setdefault(key, _ContractStats())
            s.good, s.bad, s.duplicates = s.good + r["good"], s.bad + r["bad"], s.duplicates + r["duplicates"]
            seen = [t for t in (s.last_seen, r["last_seen"]) if t is not None]
            s.last_seen = max(seen) if seen else None
            for minute, (good, bad) in r["minutes"].items():
                bucket = s.minutes.setdefault(int(minute), [0, 0])
                bucket[0], bucket[1] = bucket[0] + good, bucket[1] + bad
            s.errors.update(r["errors"])
            latest = sorted([*s.recent, *r["recent"]], key=lambda f: str(f["at"]), reverse=True)
            s.recent = deque(latest[:RECENT_FAILURES], maxlen=RECENT_FAILURES)
    return stats, min((r["started"] for r in raws), default=time.time())


def _raw(s: _ContractStats) -> dict[str, Any]:
    minutes = {str(m): v for m, v in s.minutes.items()}
    return {"good": s.good, "bad": s.bad, "duplicates": s.duplicates, "last_seen": s.last_seen,
            "minutes": minutes, "errors": dict(s.errors), "recent": list(s.recent)}  # fmt: skip


def _summary_of(stats: dict[str, _ContractStats], started: float, now: float | None) -> dict[str, Any]:
    current = int((time.time() if now is None else now) // 60)
    contracts = [_summary(key, s, current) for key, s in sorted(stats.items())]
    return {"since": _iso(started), "contracts": contracts}


def _summary(key: str, s: _ContractStats, current: int) -> dict[str, Any]:
    """One contract's counts, last full minute, 15-minute history, top errors, latest failures."""
    history = [(m, s.minutes.get(m, [0, 0])) for m in range(current - MINUTES_KEPT + 1, current + 1)]
    last = s.minutes.get(current - 1, [0, 0])
    return {
        "schema": key, "good": s.good, "bad": s.bad, "duplicates": s.duplicates,
        "last_minute": {"good": last[0], "bad": last[1]},
        "last_seen": _iso(s.last_seen) if s.last_seen else None,
        "history": [{"minute": _iso(m * 60), "good": g, "bad": b} for m, (g, b) in history],
        "top_errors": [{"type": t, "count": c} for t, c in s.errors.most_common(5)],
        "recent_failures": list(s.recent),
    }  # fmt: skip


def _observe_responses(options: CallbackOptions) -> list[Observation]:
    seen = list(responses.items()) or [(("POST", 200), 0)]  # there from the start, at 0
    return [Observation(n, {"http.request.method": m, "http.response.status_code": s}) for (m, s), n in seen]


class StatusMiddleware:
    """Pure ASGI, outermost: counts every response by method and status (`charter_http_responses_total`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                responses[(scope["method"], message["status"])] += 1
            await send(message)

        await self.app(scope, receive, counting)


def _otlp_reader(endpoint: str, interval_ms: float) -> MetricReader:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    return PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=otlp_metrics_url(endpoint)), export_interval_millis=interval_ms
    )


def otlp_metrics_url(endpoint: str) -> str:
    """A base URL (`http://collector:4318`, as the OpenTelemetry docs give it) gets the metrics path."""
    parts = urlsplit(endpoint)
    return urlunsplit(parts._replace(path="/v1/metrics")) if parts.path in ("", "/") else endpoint


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
