"""The Starlette app: its routes, middleware and lifespan (contracts, keys, sink, dedupe store).

The collection endpoint itself (`POST /v1/events` and every input protocol's routes) is
`collect.py`; the read-only pages (health, readiness, contracts, stats, memory sink) are `pages.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route

from collector.access_log import AccessLogMiddleware
from collector.badrecords import bad_records
from collector.collect import CollectionRoutes, Endpoint, input_endpoint, post_events
from collector.contracts import Registry, load_registry
from collector.dedupe import DedupeUnavailable
from collector.keys import DEFAULT_KEYS_FILE, load_keys
from collector.limits import BodyTimeoutMiddleware
from collector.logs import RequestIdMiddleware
from collector.pages import UI_PAGE as UI_PAGE
from collector.pages import (
    get_schema,
    health,
    list_schemas,
    memory_bad,
    memory_good,
    memory_reset,
    metrics,
    ready,
    stats,
    ui,
)
from collector.privacy import Privacy
from collector.protocols import SNOWPLOW_PATHS
from collector.protocols import routes as input_routes
from collector.protocols.cors import CredentialedCorsMiddleware
from collector.security import AllowedHostsMiddleware, OperatorAccessMiddleware
from collector.settings import Settings
from collector.sinks import Sink, make_sink
from collector.state import Collector

log = logging.getLogger("charter")


def build_privacy(settings: Settings, registry: Registry) -> Privacy:
    """The key ring from --keys (or ./charter-keys.json if present), checked against every contract."""
    path = settings.keys or (DEFAULT_KEYS_FILE if DEFAULT_KEYS_FILE.exists() else None)
    privacy = Privacy(load_keys(path) if path is not None else None)
    for c in registry:
        privacy.require(c.pii, c.file)
    return privacy


def create_app(
    settings: Settings, registry: Registry | None = None, sink: Sink | None = None, privacy: Privacy | None = None
) -> Starlette:
    """Build the app; contracts, keys and the sink are created in the lifespan unless given."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        reg = registry if registry is not None else load_registry(settings.schemas)
        prv = privacy if privacy is not None else build_privacy(settings, reg)
        snk = sink if sink is not None else make_sink(settings, reg.topics())
        await snk.start()
        app.state.collector = c = Collector(settings, reg, snk, prv)
        try:
            await c.dedupe.start()
        except DedupeUnavailable:
            await snk.stop()
            raise
        c.reloads.start()
        c.telemetry.zero(reg, c.auth.refusals() if c.auth is not None else ())
        publisher = asyncio.create_task(c.shared.run()) if c.shared is not None else None
        gc.freeze()  # what start-up built lives as long as the process: collections need not walk it again
        log.info("charter ready: %d contracts, sink=%s", len(reg), snk.name)
        try:
            yield
        finally:
            await c.reloads.stop()
            if publisher is not None and c.shared is not None:
                publisher.cancel()
                c.shared.remove()
            await snk.stop()  # every sink flushes what it holds before it stops
            await c.dedupe.stop()
            app.state.collector.telemetry.shutdown()

    inputs = [(path, input_endpoint(inp), methods) for path, inp, methods in input_routes(settings)]
    routes = [
        Route("/v1/events", post_events, methods=["POST"]),
        Route("/health", health),
        Route("/metrics", metrics),
        Route("/v1/stats", stats),
        Route("/v1/stats/bad", bad_records),
        Route("/ui", ui),
        Route("/ready", ready),
        Route("/v1/schemas", list_schemas),
        Route("/v1/schemas/{namespace}/{name}/{version}", get_schema),
        Route("/v1/memory/good", memory_good),
        Route("/v1/memory/bad", memory_bad),
        Route("/v1/memory/reset", memory_reset, methods=["POST"]),
        *(Route(path, endpoint, methods=methods) for path, endpoint, methods in inputs),
    ]
    collection: dict[tuple[str, str], Endpoint] = {("/v1/events", "POST"): post_events}
    collection.update({(path, method): endpoint for path, endpoint, methods in inputs for method in methods})
    middleware = [Middleware(RequestIdMiddleware)]  # outermost: every status counted, every response has its id
    if settings.access_log:  # inside the request id, outside every refusal: refused requests are logged too
        middleware.append(Middleware(AccessLogMiddleware, anonymize=settings.anonymize_ip))
    if settings.allowed_hosts:
        middleware.append(Middleware(AllowedHostsMiddleware, allowed=settings.allowed_hosts))
    # browser trackers send with credentials: their paths answer CORS themselves, before --cors-origins' policy
    middleware.append(Middleware(CredentialedCorsMiddleware, paths=SNOWPLOW_PATHS, origins=settings.cors_origins))
    if settings.cors_origins:  # browsers (the TypeScript SDK) POST cross-origin
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Content-Type", "Content-Encoding", "Authorization", "traceparent", "X-Request-Id"],
                expose_headers=["Retry-After"],  # so a browser SDK can honour it
                max_age=600,
            )
        )
    middleware.append(Middleware(OperatorAccessMiddleware, admin_token=settings.admin_token))
    middleware.append(Middleware(BodyTimeoutMiddleware, timeout=settings.body_timeout))
    middleware.append(Middleware(CollectionRoutes, endpoints=collection))
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware)


def app_from_env() -> Starlette:
    """Factory for `uvicorn --workers N`: each worker rebuilds the app from the CLI's settings."""
    import os
    import signal

    from collector.settings import SETTINGS_ENV, load

    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the lifespan listens: a SIGHUP reloads, never kills
    return create_app(load(os.environ[SETTINGS_ENV]))
