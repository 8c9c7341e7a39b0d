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
import re
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
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

if TYPE_CHECKING:
    from collector.contracts import Contract

# every HTTP response this process sent, by (method, status): refused ones too
responses: Counter[tuple[str, int]] = Counter()
# (namespace, name, version, outcome, error_type): outcome is accepted | rejected | duplicate
Tally = Counter[tuple[str, str, str, str, str]]
MINUTES_KEPT = 15
# seconds, sub-millisecond to tens of seconds (the SDK's default boundaries are 0..10000, made for milliseconds)
SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
RECENT_FAILURES = 10  # the latest rejected events per contract, each with every failure
RECENT_DUPLICATES = 10  # kept apart, so duplicates never crowd out violations
FAILURES_PER_EVENT = 20  # an event's failures shown in /v1/stats (its bad record keeps all of them)
GROUPS_KEPT = 50  # violation groups (error type, path) per contract; the rest count under one group
OTHER_PATHS = "(other paths)"
BAD_RECORDS_KEPT = 20  # the latest bad records per contract, for the dashboard's drill-down
BAD_RECORD_LIMIT = 64 * 1024  # a bigger record is listed without its body (the sink has it whole)
_INDEX = re.compile(r"\[\d+\]")
# the event counters: (name, unit, description, outcome counted; None: all)
_EVENT_COUNTERS = (
    ("charter.events.received", "{event}", "Events received, by contract", None),
    ("charter.events.accepted", "{event}", "Events written to the good stream", "accepted"),
    ("charter.events.rejected", "{event}", "Events written to the dead-letter stream", "rejected"),
    ("charter.events.duplicates", "{event}", "Events dropped as duplicates", "duplicate"),
)
REQUEST_DURATION = ("charter.request.duration", "POST /v1/events duration")
SINK_DURATION = ("charter.sink.duration", "Time for the sink to accept a request")


@dataclass
class _ContractStats:
    """Three buckets that add up to what was received: good, rejected (a violation of any
    kind) and duplicates. `bad` in /v1/stats is rejected + duplicates (the dead-letter records)."""

    good: int = 0
    rejected: int = 0
    duplicates: int = 0
    last_seen: float | None = None
    minutes: dict[int, list[int]] = field(default_factory=dict)  # minute → [good, rejected, duplicates]
    errors: Counter[str] = field(default_factory=Counter)  # rejected events by error type (no duplicates)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)  # "type\tpath" → count, minutes, latest
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT_FAILURES))
    recent_duplicates: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT_DUPLICATES))
    records: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=BAD_RECORDS_KEPT))


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
        self.stats: dict[str, _ContractStats] = {}

    def record(self, tally: Tally, failures: list[dict[str, Any]], now: float | None = None) -> None:
        """Add one request's tally to the counters and the per-contract stats."""
        if not self.enabled:
            return
        now = time.time() if now is None else now
        minute = int(now // 60)
        self.counts.update(tally)
        for (ns, name, version, outcome, error_type), n in tally.items():
            self._stat(f"{ns}/{name}/{version}", outcome, error_type, n, now, minute)
        for f in failures:
            _failure(self.stats[f["schema_key"]], f, minute)

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
        return _summary_of(self.stats, self.started, now)

    def bad_records(self, schema: str) -> list[dict[str, Any]]:
        """The latest bad records kept for one contract (`unknown/unknown/unknown` for the unresolved), newest first."""
        s = self.stats.get(schema)
        return list(s.records) if s is not None else []

    def raw(self) -> dict[str, Any]:
        """This process's stats as plain data, for /v1/stats to add up across workers (collector.workers)."""
        return {"started": self.started, "contracts": {k: _raw(s) for k, s in self.stats.items()}}

    def shutdown(self) -> None:
        self.provider.shutdown()
        if self.otlp_histograms is not None:
            self.otlp_histograms[0].shutdown()

    def _stat(self, key: str, outcome: str, error_type: str, n: int, now: float, minute: int) -> None:
        s = self.stats.get(key)
        if s is None:
            s = self.stats[key] = _ContractStats()
        bucket = s.minutes.setdefault(minute, [0, 0, 0])
        if outcome == "accepted":
            s.good += n
            bucket[0] += n
        elif outcome == "duplicate":
            s.duplicates += n
            bucket[2] += n
        else:
            s.rejected += n
            bucket[1] += n
            s.errors[error_type] += n
        s.last_seen = now
        for old in [m for m in s.minutes if m <= minute - MINUTES_KEPT]:
            del s.minutes[old]

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


def merged_summary(raws: list[dict[str, Any]], now: float | None = None) -> dict[str, Any]:
    """Several workers' /v1/stats as one: counts and minutes add up, the latest failures come first."""
    stats, started = _combine(raws)
    return _summary_of(stats, started, now)


def merged_records(raws: list[dict[str, Any]], schema: str) -> list[dict[str, Any]]:
    """Several workers' kept bad records of one contract, newest first."""
    stats, _ = _combine(raws)
    s = stats.get(schema)
    return list(s.records) if s is not None else []


def combined_raw(raws: list[dict[str, Any]]) -> dict[str, Any]:
    """Several raw stats as one raw (what dead workers counted, kept)."""
    stats, started = _combine(raws)
    return {"started": started, "contracts": {k: _raw(s) for k, s in stats.items()}}


def _failure(s: _ContractStats, f: dict[str, Any], minute: int) -> None:
    """One rejected or duplicate event: its group counts, the latest list, its kept bad record."""
    every = f.get("failures") or [{"path": f["path"], "keyword": f["keyword"], "message": f["message"]}]
    entry = {k: v for k, v in f.items() if k not in ("schema_key", "record")}
    entry["failures"], entry["more_failures"] = every[:FAILURES_PER_EVENT], max(len(every) - FAILURES_PER_EVENT, 0)
    if f["type"] == "duplicate":
        s.recent_duplicates.appendleft(entry)
    else:
        s.recent.appendleft(entry)
        for failure in {(x["path"], x["keyword"]): x for x in every}.values():
            _group(s, f["type"], failure, f["at"], minute)
    record = f.get("record")
    if record is not None:
        body = bytes(record).decode("utf-8", "replace") if len(record) <= BAD_RECORD_LIMIT else None
        s.records.appendleft({"at": f["at"], "id": f["id"], "type": f["type"], "record": body, "bytes": len(record)})


def _group(s: _ContractStats, kind: str, failure: dict[str, Any], at: str, minute: int) -> None:
    """Violations grouped by error type and path (array indexes as [*], so items[3] and items[7] are one)."""
    path = _INDEX.sub("[*]", str(failure["path"]))
    key = f"{kind}\t{path}"
    if key not in s.groups and len(s.groups) >= GROUPS_KEPT:
        key = f"{kind}\t{OTHER_PATHS}"
    g = s.groups.setdefault(key, _new_group())
    g["count"] += 1
    g["minutes"][str(minute)] = g["minutes"].get(str(minute), 0) + 1
    for old in [m for m in g["minutes"] if int(m) <= minute - MINUTES_KEPT]:
        del g["minutes"][old]
    if at >= g["last"]:
        g.update(keyword=failure["keyword"], message=failure["message"], last=at)


def _combine(raws: list[dict[str, Any]]) -> tuple[dict[str, _ContractStats], float]:
    stats: dict[str, _ContractStats] = {}
    for raw in raws:
        for key, r in raw["contracts"].items():
            s = stats.setdefault(key, _ContractStats())
            s.good, s.rejected = s.good + r["good"], s.rejected + r["rejected"]
            s.duplicates += r["duplicates"]
            seen = [t for t in (s.last_seen, r["last_seen"]) if t is not None]
            s.last_seen = max(seen) if seen else None
            for minute, counts in r["minutes"].items():
                bucket = s.minutes.setdefault(int(minute), [0, 0, 0])
                for i, n in enumerate(counts):
                    bucket[i] += n
            s.errors.update(r["errors"])
            for gkey, g in r["groups"].items():
                _add_group(s.groups.setdefault(gkey, _new_group()), g)
            s.recent = _latest(s.recent, r["recent"], RECENT_FAILURES)
            s.recent_duplicates = _latest(s.recent_duplicates, r["recent_duplicates"], RECENT_DUPLICATES)
            s.records = _latest(s.records, r["records"], BAD_RECORDS_KEPT)
    return stats, min((r["started"] for r in raws), default=time.time())


def _new_group() -> dict[str, Any]:
    return {"count": 0, "minutes": {}, "keyword": "", "message": "", "last": ""}


def _add_group(into: dict[str, Any], g: dict[str, Any]) -> None:
    into["count"] += g["count"]
    for minute, n in g["minutes"].items():
        into["minutes"][minute] = into["minutes"].get(minute, 0) + n
    if g["last"] >= into["last"]:
        into.update(keyword=g["keyword"], message=g["message"], last=g["last"])


def _latest(mine: Iterable[dict[str, Any]], theirs: Iterable[dict[str, Any]], keep: int) -> deque[dict[str, Any]]:
    latest = sorted([*mine, *theirs], key=lambda f: str(f["at"]), reverse=True)
    return deque(latest[:keep], maxlen=keep)


def _raw(s: _ContractStats) -> dict[str, Any]:
    minutes = {str(m): v for m, v in s.minutes.items()}
    return {"good": s.good, "rejected": s.rejected, "duplicates": s.duplicates, "last_seen": s.last_seen,
            "minutes": minutes, "errors": dict(s.errors), "groups": s.groups, "recent": list(s.recent),
            "recent_duplicates": list(s.recent_duplicates), "records": list(s.records)}  # fmt: skip


def _summary_of(stats: dict[str, _ContractStats], started: float, now: float | None) -> dict[str, Any]:
    current = int((time.time() if now is None else now) // 60)
    contracts = [_summary(key, s, current) for key, s in sorted(stats.items())]
    totals = {k: sum(c[k] for c in contracts) for k in ("received", "good", "rejected", "duplicates")}
    return {"since": _iso(started), "window_minutes": MINUTES_KEPT, "totals": totals, "contracts": contracts}


def _summary(key: str, s: _ContractStats, current: int) -> dict[str, Any]:
    """One contract's counts since start, last full minute, 15-minute history, violations grouped
    by error type and path (each with its per-minute trend), latest rejected events and duplicates."""
    window = range(current - MINUTES_KEPT + 1, current + 1)
    history = [(m, s.minutes.get(m, [0, 0, 0])) for m in window]
    return {
        "schema": key, "received": s.good + s.rejected + s.duplicates, "good": s.good, "rejected": s.rejected,
        "duplicates": s.duplicates, "bad": s.rejected + s.duplicates,
        "last_minute": _counts(s.minutes.get(current - 1, [0, 0, 0])),
        "last_seen": _iso(s.last_seen) if s.last_seen else None,
        "history": [{"minute": _iso(m * 60), **_counts(c)} for m, c in history],
        "top_errors": [{"type": t, "count": c} for t, c in s.errors.most_common(5)],
        "violations": [_violation(k, g, window) for k, g in sorted(s.groups.items(), key=lambda kg: -kg[1]["count"])],
        "recent_failures": list(s.recent),
        "recent_duplicates": list(s.recent_duplicates),
    }  # fmt: skip


def _counts(c: list[int]) -> dict[str, int]:
    good, rejected, duplicates = [*c, 0, 0, 0][:3]
    return {"good": good, "rejected": rejected, "duplicates": duplicates, "bad": rejected + duplicates}


def _violation(key: str, g: dict[str, Any], window: range) -> dict[str, Any]:
    kind, _, path = key.partition("\t")
    trend = [g["minutes"].get(str(m), 0) for m in window]
    return {"type": kind, "path": path, "keyword": g["keyword"], "message": g["message"], "count": g["count"],
            "last_minute": trend[-2], "window": sum(trend), "trend": trend, "last_at": g["last"]}  # fmt: skip


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


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
