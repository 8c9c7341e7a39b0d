"""OpenTelemetry metrics per namespace, name and version, plus the in-process stats behind /v1/stats.

The hot path only bumps a per-request tally (one dict increment per event); the tally is
added to plain Python counts once per request, and the event counters are observable
instruments that read those counts when a reader collects: the OpenTelemetry SDK's cost per
`add` (hashing the attributes, finding the series) is paid per scrape, not per request.
Exported as Prometheus text at /metrics (one registry per app) and, with `--otlp-endpoint`, over OTLP.
"""

from __future__ import annotations

import bisect
import itertools
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Histogram, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import HistogramMetricFamily, Metric

from collector import __version__
from collector.limits import REFUSALS, refused
from collector.stats import ContractStats, count, raw_of, record_failure, summary_of

if TYPE_CHECKING:
    from collector.contracts import Contract

# every HTTP response this process sent, by (method, status): refused ones too
responses: Counter[tuple[str, int]] = Counter()
# (namespace, name, version, outcome, error_type): outcome is accepted | rejected | duplicate
Tally = Counter[tuple[str, str, str, str, str]]
# seconds, sub-millisecond to tens of seconds (the SDK's default boundaries are 0..10000, made for milliseconds)
SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# the event counters: (name, unit, description, outcome counted; None: all)
_EVENT_COUNTERS = (
    ("charter.events.received", "{event}", "Events received, by contract", None),
    ("charter.events.accepted", "{event}", "Events written to the good stream", "accepted"),
    ("charter.events.rejected", "{event}", "Events written to the dead-letter stream", "rejected"),
    ("charter.events.duplicates", "{event}", "Events dropped as duplicates", "duplicate"),
)
REQUEST_DURATION = ("charter.request.duration", "POST /v1/events duration")
SINK_DURATION = ("charter.sink.duration", "Time for the sink to accept a request")


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
        self.counts: Tally = Counter()  # every event since start, by contract, outcome and error type
        for name, unit, description, outcome in _EVENT_COUNTERS:
            meter.create_observable_counter(name, [self._observer(outcome)], unit, description)
        self.bytes_received = 0
        meter.create_observable_counter(
            "charter.request.bytes", [self._observe_bytes], "By", "Request body bytes received"
        )
        # the seconds histograms are aggregated here (a bisect per value: the SDK's `record` costs
        # ~15 µs), shown in /metrics by `_Histograms`, and handed to the SDK only for OTLP
        self.request_duration, self.sink_duration = _Seconds(*REQUEST_DURATION), _Seconds(*SINK_DURATION)
        self.registry.register(_Histograms(self))
        self.otlp_histograms = _otlp_histograms(otlp_endpoint, otlp_interval_ms, resource)
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
        self.stats: dict[str, ContractStats] = {}

    def record(self, tally: Tally, failures: list[dict[str, Any]], now: float | None = None) -> None:
        """Add one request's tally to the counters and the per-contract stats."""
        if not self.enabled:
            return
        now = time.time() if now is None else now
        minute = int(now // 60)
        self.counts.update(tally)
        for (ns, name, version, outcome, error_type), n in tally.items():
            count(self.stats, f"{ns}/{name}/{version}", outcome, error_type, n, now, minute)
        for f in failures:
            record_failure(self.stats[f["schema_key"]], f, minute)

    def zero(self, contracts: Iterable[Contract], key_refusals: Iterable[tuple[str, int, str]] = ()) -> None:
        """Every contract's counters exist from the start, at 0: a rate over a series that appears only
        with the first event misses that event, and an alert on an absent series never fires. So do
        the refusals, each reason (and each write key's own) at 0."""
        if not self.enabled:
            return
        self.refusals.update((reason, status, "") for reason, status in REFUSALS)
        self.refusals.update(key_refusals)
        self.sink_errors.add(0)
        for c in contracts:
            labels = (c.namespace, c.name, c.version_str)
            self.counts.setdefault((*labels, "accepted", ""), 0)
            self.counts.setdefault((*labels, "rejected", "invalid_payload"), 0)
            if c.meta.dedupe is not None:
                self.counts.setdefault((*labels, "duplicate", "duplicate"), 0)
        self.counts.setdefault(("unknown", "unknown", "unknown", "rejected", "unknown_schema"), 0)

    def request(self, size: int, seconds: float | None) -> None:
        """A POST /v1/events: its body size, and its duration once it got an answer."""
        if self.enabled:
            self.bytes_received += size
            if seconds is not None:
                self.request_duration.observe(seconds)
                if self.otlp_histograms is not None:
                    self.otlp_histograms[1].record(seconds)

    def sink(self, seconds: float | None) -> None:
        """One hand-over to the sink: its duration, or None when it failed (answered 503)."""
        if not self.enabled:
            return
        if seconds is None:
            self.sink_errors.add(1)
        else:
            self.sink_duration.observe(seconds)
            if self.otlp_histograms is not None:
                self.otlp_histograms[2].record(seconds)

    def prometheus(self) -> bytes:
        return generate_latest(self.registry)

    def summary(self, now: float | None = None) -> dict[str, Any]:
        return summary_of(self.stats, self.started, now)

    def bad_records(self, schema: str) -> list[dict[str, Any]]:
        """The latest bad records kept for one contract (`unknown/unknown/unknown` for the unresolved), newest first."""
        s = self.stats.get(schema)
        return list(s.records) if s is not None else []

    def raw(self) -> dict[str, Any]:
        """This process's stats as plain data, for /v1/stats to add up across workers (collector.workers)."""
        return {"started": self.started, "contracts": {k: raw_of(s) for k, s in self.stats.items()}}

    def shutdown(self) -> None:
        self.provider.shutdown()
        if self.otlp_histograms is not None:
            self.otlp_histograms[0].shutdown()

    def _observer(self, outcome: str | None) -> Callable[[CallbackOptions], list[Observation]]:
        """The counts of one outcome (None: every event received), one observation per contract
        (and error type: rejected and duplicate events carry `error.type`)."""

        def observe(options: CallbackOptions) -> list[Observation]:
            totals: Counter[tuple[str, ...]] = Counter()
            for (ns, name, version, out, error_type), n in list(self.counts.items()):
                if outcome is None:
                    totals[(ns, name, version)] += n
                elif out == outcome:
                    totals[(ns, name, version, error_type) if outcome != "accepted" else (ns, name, version)] += n
            return [Observation(n, _attributes(key)) for key, n in totals.items()]

        return observe

    def _observe_bytes(self, options: CallbackOptions) -> list[Observation]:
        return [Observation(self.bytes_received)]

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


class _Seconds:
    """A histogram of seconds with Charter's fixed buckets."""

    def __init__(self, name: str, description: str) -> None:
        self.name, self.description = name, description
        self.counts = [0] * (len(SECONDS_BUCKETS) + 1)  # per bucket (a value equal to a bound is in it), then +Inf
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(SECONDS_BUCKETS, seconds)] += 1
        self.sum += seconds


class _Histograms:
    """The seconds histograms in /metrics, labelled as the OpenTelemetry exporter labels its metrics
    (zero counts until the first value: a histogram is there from the start)."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    def describe(self) -> list[Metric]:
        return []  # nothing to check against other collectors

    def collect(self) -> Iterator[Metric]:
        if not self.telemetry.enabled:
            return
        scope = {"otel_scope_name": "charter", "otel_scope_schema_url": "", "otel_scope_version": __version__}
        labels = sorted(scope)
        for h in (self.telemetry.request_duration, self.telemetry.sink_duration):
            family = HistogramMetricFamily(h.name.replace(".", "_"), h.description, labels=labels, unit="seconds")
            cumulative = list(itertools.accumulate(h.counts))
            bounds = [str(bound) for bound in SECONDS_BUCKETS] + ["+Inf"]
            family.add_metric(
                [scope[k] for k in labels], list(zip(bounds, map(float, cumulative), strict=True)), sum_value=h.sum
            )
            yield family


def _otlp_histograms(
    endpoint: str | None, interval_ms: float, resource: Resource
) -> tuple[MeterProvider, Histogram, Histogram] | None:
    """With --otlp-endpoint: the seconds histograms as SDK instruments too, in a provider of their own
    whose only reader is OTLP (the Prometheus reader would show them twice)."""
    if not endpoint:
        return None
    provider = MeterProvider(metric_readers=[_otlp_reader(endpoint, interval_ms)], resource=resource)
    meter = provider.get_meter("charter", __version__)
    request, sink = (
        meter.create_histogram(name, "s", description, explicit_bucket_boundaries_advisory=SECONDS_BUCKETS)
        for name, description in (REQUEST_DURATION, SINK_DURATION)
    )
    return provider, request, sink


def _attributes(key: tuple[str, ...]) -> dict[str, str]:
    """(namespace, name, version[, error type]) as the counters' attributes."""
    attrs = _contract(*key[:3])
    if len(key) > 3:
        attrs["error.type"] = key[3]
    return attrs


def _contract(ns: str, name: str, version: str) -> dict[str, str]:
    """OpenTelemetry attributes of a contract: `charter.`-prefixed (a bare `namespace` clashes with
    the Kubernetes target label Prometheus adds)."""
    return {"charter.namespace": ns, "charter.name": name, "charter.version": version}


def _observe_responses(options: CallbackOptions) -> list[Observation]:
    seen = list(responses.items()) or [(("POST", 200), 0)]  # there from the start, at 0
    return [Observation(n, {"http.request.method": m, "http.response.status_code": s}) for (m, s), n in seen]


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
