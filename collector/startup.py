"""`charter serve` after its flags are read: the start-up checks (keys, write keys, dedupe store,
Kafka, data directory, port), each failing with one line that names the cause and the fix, then
uvicorn with one worker or several."""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Any

import click

from collector.cliutil import EXIT_USAGE
from collector.contracts import Registry
from collector.settings import Settings

EXIT_STARTUP = 3  # the app failed while starting (as uvicorn.run exits)


def otlp_endpoint(flag: str | None) -> str | None:
    """--otlp-endpoint, else the standard OpenTelemetry variables (the exporter reads OTEL_EXPORTER_OTLP_HEADERS)."""
    import os

    if flag:
        return flag
    if url := os.environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"):
        return url  # the spec: used as is
    if base := os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return base.rstrip("/") + "/v1/metrics"  # the spec: the signal's path is appended
    return None


def otlp_interval() -> float:
    """OTEL_METRIC_EXPORT_INTERVAL (milliseconds, the standard variable), else a push every 10 s."""
    import math
    import os

    text = os.environ.get("OTEL_METRIC_EXPORT_INTERVAL", "").strip()
    try:
        ms = float(text) if text else 10_000.0
    except ValueError:
        ms = math.nan
    if not 0 < ms < math.inf:
        raise click.BadParameter(
            f"{text!r} is not a positive number of milliseconds", param_hint="OTEL_METRIC_EXPORT_INTERVAL"
        )
    return ms


def record_headers(text: str) -> tuple[str, ...]:
    from collector.annotate import NEVER_RECORDED

    names = tuple(h.strip().lower() for h in text.split(",") if h.strip())
    refused = sorted(set(names) & NEVER_RECORDED)
    if refused:
        raise click.BadParameter(
            f"{', '.join(refused)} may carry credentials and is never recorded", param_hint="--record-headers"
        )
    return names


def check_keys(settings: Settings, registry: Registry) -> None:
    """A contract that needs a key the key file lacks stops the start, with the fix."""
    from collector.app import build_privacy
    from collector.keys import KeyRingError
    from collector.privacy import MissingKey

    try:
        build_privacy(settings, registry)
    except (KeyRingError, MissingKey) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)


def check_dedupe(settings: Settings, registry: Registry) -> None:
    """A store URL that cannot work, or --workers N deduping in each process alone, stops the start."""
    from collector.dedupe import refuse_unshared

    if settings.dedupe_store is not None:
        from collector.dedupe_redis import store_url

        try:
            store_url(settings.dedupe_store)
        except ValueError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        _ping_store(settings)
    refusal = refuse_unshared(settings.workers, settings.dedupe_store, [c.ref for c in registry if c.meta.dedupe])
    if refusal is not None:
        click.echo(f"error: {refusal}", err=True)
        sys.exit(EXIT_USAGE)


def check_kafka(settings: Settings) -> None:
    """Security settings that cannot work, a wrong password or an untrusted certificate stop the start in one line."""
    if settings.sink != "kafka":
        return
    import asyncio

    from collector.sinks.kafka_codec import level_problem
    from collector.sinks.kafka_security import KafkaSecurity, KafkaSecurityError, preflight

    try:
        security = KafkaSecurity.of(settings)
    except KafkaSecurityError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    compression = security.producer().get("compression_type", settings.kafka_compression)
    if (problem := level_problem(compression, settings.kafka_compression_level)) is not None:
        click.echo(f"error: {problem}", err=True)
        sys.exit(EXIT_USAGE)
    cause = asyncio.run(preflight(settings.kafka_bootstrap, security, settings.sink_timeout))
    if cause is None:
        return
    from collector.sinks.kafka_wait import listening

    if settings.kafka_wait > 0 and not listening(settings.kafka_bootstrap, settings.sink_timeout):
        click.echo(f"warning: cannot connect to Kafka: {cause}; serving not-ready (GET /ready 503) and trying again "
                   f"for up to {settings.kafka_wait:g}s (--kafka-wait)", err=True)  # fmt: skip
        return  # a broker that is not up yet: the sink waits for it
    click.echo(f"error: cannot connect to Kafka: {cause}", err=True)  # something answers, and refuses us
    sys.exit(EXIT_USAGE)


def _ping_store(settings: Settings) -> None:
    """A store that cannot be reached (or refuses the password) stops the start with one line."""
    import asyncio

    from collector.dedupe import DedupeUnavailable
    from collector.dedupe_redis import RedisStore

    assert settings.dedupe_store is not None
    store = RedisStore(settings.dedupe_store, settings.dedupe_store_timeout)

    async def ping() -> None:
        await store.start()
        await store.stop()

    try:
        asyncio.run(ping())
    except DedupeUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)


def check_auth(settings: Settings) -> None:
    """A bad --auth file stops the start; no --auth on a public address is worth a warning."""
    from collector.auth import AuthFileError, load_write_keys
    from collector.security import is_loopback

    if settings.auth is not None:
        try:
            load_write_keys(settings.auth)
        except AuthFileError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
    elif not (settings.host == "localhost" or is_loopback(settings.host)):
        click.echo(f"warning: no --auth: anyone who can reach {settings.host}:{settings.port} may post events "
                   "for every contract; give write keys with --auth FILE", err=True)  # fmt: skip


def run(settings: Settings, registry: Registry) -> None:
    import uvicorn

    from collector.app import create_app
    from collector.settings import SETTINGS_ENV, dump

    _check_port(settings)
    lines = len({(c.namespace, c.name) for c in registry})
    click.echo(f"charter: {lines} contracts ({len(registry)} versions) from {settings.schemas}, sink={settings.sink}, "
               f"http://{settings.host}:{settings.port}", err=True)  # fmt: skip
    from collector.logs import configure

    log_config = configure(settings.log_level, settings.log_format)
    common: dict[str, Any] = {"host": settings.host, "port": settings.port, "log_level": settings.log_level,
                              "access_log": False, "server_header": False, "log_config": log_config,
                              "http": _protocol(settings), "limit_concurrency": settings.max_connections}  # fmt: skip
    import signal

    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the app listens for it: SIGHUP reloads, never kills
    if settings.workers == 1:
        _serve_one(uvicorn.Server(uvicorn.Config(create_app(settings, registry), **common)))
        return
    import dataclasses
    import os
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="charter-metrics-"))  # so /metrics adds up all workers
    settings = dataclasses.replace(settings, metrics_dir=shared)
    os.environ[SETTINGS_ENV] = dump(settings)  # workers are new processes: hand them the settings
    from collector.reload import serve_workers
    from collector.sinks.kafka_wait import note_left

    try:
        serve_workers(uvicorn.Config("collector.app:app_from_env", factory=True, workers=settings.workers, **common))
        if (line := note_left(shared)) is not None:  # a worker gave up waiting for Kafka and stopped them all
            click.echo(f"error: {line}", err=True)
            sys.exit(EXIT_USAGE)
    finally:
        import shutil

        shutil.rmtree(shared, ignore_errors=True)  # no stale metrics files behind


def _check_port(settings: Settings) -> None:
    """A port that is taken stops the start in one line, before anything says it is ready."""
    import socket

    try:
        infos = socket.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        click.echo(f"error: cannot listen on {settings.host}: {exc.strerror}; check --host", err=True)
        sys.exit(EXIT_USAGE)
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no conflict
        try:
            probe.bind(address)
        except OSError as exc:
            fix = _BIND_FIXES.get(exc.errno or 0, "choose another --host or --port")
            click.echo(f"error: cannot listen on {settings.host}:{settings.port}: {exc.strerror}; {fix}", err=True)
            sys.exit(EXIT_USAGE)


_BIND_FIXES = {
    errno.EADDRINUSE: "stop what uses it, or choose another --port",
    errno.EACCES: "a port below 1024 needs privileges: choose --port 1024 or above",
    errno.EADDRNOTAVAIL: "no interface of this machine has that address; check --host",
}


def check_data_dir(settings: Settings) -> None:
    """A file sink that cannot write its directory stops the start in one line, not a traceback at startup."""
    if settings.sink != "file":
        return
    import tempfile

    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=settings.data_dir).close()
    except OSError as exc:
        click.echo(f"error: cannot write to --data-dir {settings.data_dir}: {exc.strerror}; create it writable, or "
                   "choose another --data-dir", err=True)  # fmt: skip
        sys.exit(EXIT_USAGE)


def _serve_one(server: Any) -> None:
    """uvicorn.run for one process, but a sink that gives up waiting (--kafka-wait) can end it with exit 2."""
    from collector.sinks import kafka_wait

    kafka_wait.stop_server.append(lambda: setattr(server, "should_exit", True))
    server.run()
    if kafka_wait.gave_up:
        click.echo(f"error: {kafka_wait.gave_up[0]}", err=True)
        sys.exit(EXIT_USAGE)
    if not server.started:
        sys.exit(EXIT_STARTUP)  # the app failed while starting (as uvicorn.run exits): its log line says why


def _protocol(settings: Settings) -> Any:
    """uvicorn's httptools protocol with Charter's header limits, header timeout and connection limit."""
    import functools

    from collector.limits import EdgeLimits, GuardedHttpToolsProtocol

    limits = EdgeLimits(settings.max_header_bytes, settings.max_headers, settings.header_timeout,
                        settings.max_connections, settings.retry_after)  # fmt: skip
    return functools.partial(GuardedHttpToolsProtocol, limits=limits)
