"""What the app's lifespan creates, and what every endpoint reads of it."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from collector.auth import load_write_keys
from collector.contracts import Registry
from collector.dedupe import make_store, observe
from collector.privacy import Privacy
from collector.reload import Reloader
from collector.settings import Settings
from collector.sinks import Sink
from collector.telemetry import Telemetry
from collector.workers import SharedMetrics

_encoder = msgspec.json.Encoder()


class Collector:
    """What the lifespan creates: contracts, the sink, and the in-flight counter."""

    def __init__(self, settings: Settings, registry: Registry, sink: Sink, privacy: Privacy) -> None:
        self.settings, self.registry, self.sink, self.privacy = settings, registry, sink, privacy
        self.dedupe = make_store(settings.dedupe_store, settings.dedupe_max_keys, settings.dedupe_store_timeout,
                                 settings.dedupe_store_fail == "open")  # fmt: skip
        self.auth = load_write_keys(settings.auth) if settings.auth is not None else None
        self.telemetry = Telemetry(len(registry), settings.otlp_endpoint, settings.metrics, settings.otlp_interval_ms)
        observe(self.dedupe, self.telemetry.provider)
        dirs = settings.metrics_dir
        self.shared = SharedMetrics(dirs, self.telemetry.prometheus, self.telemetry.raw) if dirs is not None else None
        self.inflight = 0
        self.reloads = Reloader(settings, self)  # swaps `registry` whole: read it once per request


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encoder.encode(body), status, headers, media_type="application/json")


def state(request: Request) -> Collector:
    collector: Collector = request.app.state.collector
    return collector
