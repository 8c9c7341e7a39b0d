"""`charter` console script: serve, validate. Every flag is also a CHARTER_* env var."""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from collector.cliutil import kafka_security_options, load_or_exit
from collector.contracts import Registry
from collector.settings import Settings

EXIT_INVALID, EXIT_USAGE, EXIT_STARTUP = 1, 2, 3
_defaults = Settings()


F = TypeVar("F", bound=Callable[..., Any])


def _opt(*names: str, env: str, **kw: Any) -> Callable[[F], F]:
    option: Callable[[F], F] = click.option(*names, envvar=f"CHARTER_{env}", show_envvar=True, show_default=True, **kw)
    return option


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="charter")
def main() -> None:
    """Charter: a contract-powered event collector."""


@main.command()
@_opt(
    "--schemas", env="SCHEMAS", type=click.Path(path_type=Path), default=_defaults.schemas, help="Contracts directory."
)
@_opt(
    "--sink",
    env="SINK",
    type=click.Choice(["file", "stdout", "kafka", "memory"]),
    default=_defaults.sink,
    help="Where records go.",
)
@_opt(
    "--data-dir",
    env="DATA_DIR",
    type=click.Path(path_type=Path),
    default=_defaults.data_dir,
    help="File sink directory.",
)
@_opt(
    "--file-rotate-bytes",
    env="FILE_ROTATE_BYTES",
    type=int,
    default=_defaults.file_rotate_bytes,
    help="File sink rotation size.",
)
@_opt(
    "--file-commit-window",
    env="FILE_COMMIT_WINDOW",
    type=click.FloatRange(min=0, max=100),
    default=_defaults.file_commit_window,
    help="File sink: milliseconds a commit waits after its first request for others to share its fsync. "
    "Up to this much latency for fewer fsyncs under light load; 0: commit at once.",
)
@_opt("--kafka-bootstrap", env="KAFKA_BOOTSTRAP", default=_defaults.kafka_bootstrap, help="Kafka bootstrap HOST:PORT.")
@_opt(
    "--kafka-compression",
    env="KAFKA_COMPRESSION",
    type=click.Choice(["none", "gzip", "lz4", "snappy", "zstd"]),
    default=_defaults.kafka_compression,
    help="Producer compression.",
)
@_opt("--kafka-linger-ms", env="KAFKA_LINGER_MS", type=int, default=_defaults.kafka_linger_ms, help="Producer linger.")
@kafka_security_options
@_opt(
    "--kafka-replication-factor",
    env="KAFKA_REPLICATION_FACTOR",
    type=int,
    default=_defaults.kafka_replication_factor,
    help="Replication of topics Charter creates.",
)
@_opt(
    "--sink-timeout",
    env="SINK_TIMEOUT",
    type=float,
    default=_defaults.sink_timeout,
    help="Seconds to wait for the sink before answering 503.",
)
@_opt(
    "--kafka-wait",
    env="KAFKA_WAIT",
    type=click.FloatRange(min=0),
    default=_defaults.kafka_wait,
    help="With --sink kafka: seconds to wait for a broker that does not answer at start, retrying with backoff "
    "and answering /ready 503 meanwhile; then exit 2. 0: exit at once.",
)
@_opt(
    "--sink-probe-interval",
    env="SINK_PROBE_INTERVAL",
    type=click.FloatRange(min=0.05),
    default=_defaults.sink_probe_interval,
    help="While the sink is down, requests get 503 at once; a probe checks it this often (seconds).",
)
@_opt("--host", env="HOST", default=_defaults.host, help="Bind address.")
@_opt("--port", env="PORT", type=int, default=_defaults.port, help="Bind port.")
@_opt("--workers", env="WORKERS", type=click.IntRange(min=1), default=_defaults.workers, help="Worker processes.")
@_opt(
    "--max-body-bytes",
    env="MAX_BODY_BYTES",
    type=click.IntRange(min=1),
    default=_defaults.max_body_bytes,
    help="Request body limit (also after gzip inflation).",
)
@_opt(
    "--max-events",
    env="MAX_EVENTS",
    type=click.IntRange(min=1),
    default=_defaults.max_events,
    help="Events per request limit.",
)
@_opt(
    "--max-inflight-events",
    env="MAX_INFLIGHT_EVENTS",
    type=click.IntRange(min=1),
    default=_defaults.max_inflight_events,
    help="Events waiting for the sink before answering 429.",
)
@_opt(
    "--log-format",
    env="LOG_FORMAT",
    type=click.Choice(["json", "text"]),
    default=_defaults.log_format,
    help="json: one object per line with a request id; text: for a terminal.",
)
@_opt(
    "--log-level",
    env="LOG_LEVEL",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default=_defaults.log_level,
    help="Log level.",
)
@_opt("--metrics/--no-metrics", env="METRICS", default=True, help="Turn metrics off only to measure their cost.")
@_opt(
    "--otlp-endpoint",
    env="OTLP_ENDPOINT",
    default=None,
    help="Also push metrics over OTLP/HTTP, e.g. http://127.0.0.1:4318 (a base URL gets /v1/metrics); "
    "default: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/metrics.",
)
@_opt("--anonymize-ip", env="ANONYMIZE_IP", is_flag=True, default=False, help="Record IPv4 /24 and IPv6 /48 only.")
@_opt(
    "--record-headers",
    env="RECORD_HEADERS",
    default="user-agent",
    help="Comma-separated request headers recorded in `source` (cookies and authorization never are).",
)
@_opt(
    "--dedupe-max-keys",
    env="DEDUPE_MAX_KEYS",
    type=click.IntRange(min=1),
    default=_defaults.dedupe_max_keys,
    help="Dedupe keys kept per contract line (about 100 bytes each).",
)
@_opt(
    "--dedupe-store",
    env="DEDUPE_STORE",
    default=None,
    help="Share dedupe keys between workers and instances: redis://HOST:PORT/DB (Redis or Valkey; rediss:// "
    "for TLS). Without it each process keeps its own keys.",
)
@_opt(
    "--dedupe-store-fail",
    env="DEDUPE_STORE_FAIL",
    type=click.Choice(["closed", "open"]),
    default=_defaults.dedupe_store_fail,
    help="When the store does not answer: closed = 503 + Retry-After (never a silent double); "
    "open = forward without dedupe (logged).",
)
@_opt(
    "--dedupe-store-timeout",
    env="DEDUPE_STORE_TIMEOUT",
    type=click.FloatRange(min=0.01),
    default=_defaults.dedupe_store_timeout,
    help="Seconds to wait for the dedupe store before it counts as unreachable.",
)
@_opt(
    "--watch/--no-watch",
    env="WATCH",
    default=False,
    help="Reload contracts when files under --schemas change (SIGHUP always reloads).",
)
@_opt(
    "--watch-interval",
    env="WATCH_INTERVAL",
    type=click.FloatRange(min=0.05),
    default=_defaults.watch_interval,
    help="Seconds between two looks at the files under --schemas (with --watch).",
)
@_opt(
    "--keys",
    env="KEYS",
    type=click.Path(path_type=Path),
    default=None,
    help="PII key file for x-pii hash/encrypt (default: ./charter-keys.json if present).",
)
@_opt(
    "--cors-origins",
    env="CORS_ORIGINS",
    default="",
    help="Comma-separated origins allowed to POST from browsers ('*' for any).",
)
@_opt(
    "--auth",
    env="AUTH",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write keys file (YAML or JSON): without it anyone who reaches the port may post.",
)
@_opt(
    "--unplanned",
    env="UNPLANNED",
    type=click.Choice(["reject", "accept"]),
    default=_defaults.unplanned,
    help="Segment calls no contract claims (x-contract.segment): reject = dead-letter topic; "
    "accept = forward them as com.segment/unplanned.",
)
@_opt(
    "--cloudevents-headers/--no-cloudevents-headers",
    env="CLOUDEVENTS_HEADERS",
    default=False,
    help="Good records of CloudEvents inputs carry the CloudEvents Kafka binding's ce_* headers.",
)
@_opt(
    "--admin-token",
    env="ADMIN_TOKEN",
    default=None,
    help="Token for /v1/stats, /ui and the memory endpoints (Bearer); without it they answer loopback only. "
    "Prefer the env var: flags show in `ps`.",
)
@_opt(
    "--allowed-hosts",
    env="ALLOWED_HOSTS",
    default="",
    help="Comma-separated Host names served (`*.acme.com` allowed); others get 400. Set it in production.",
)
@_opt(
    "--max-connections",
    env="MAX_CONNECTIONS",
    type=click.IntRange(min=1),
    default=_defaults.max_connections,
    help="Open connections per process before requests get 503.",
)
@_opt(
    "--max-header-bytes",
    env="MAX_HEADER_BYTES",
    type=click.IntRange(min=1024),
    default=_defaults.max_header_bytes,
    help="Request line and headers limit (431).",
)
@_opt(
    "--max-headers",
    env="MAX_HEADERS",
    type=click.IntRange(min=1),
    default=_defaults.max_headers,
    help="Request header count limit (431).",
)
@_opt(
    "--header-timeout",
    env="HEADER_TIMEOUT",
    type=click.FloatRange(min=0.01),
    default=_defaults.header_timeout,
    help="Seconds for a request's headers to arrive (408).",
)
@_opt(
    "--body-timeout",
    env="BODY_TIMEOUT",
    type=click.FloatRange(min=0.01),
    default=_defaults.body_timeout,
    help="Seconds for a request's whole body to arrive (408).",
)
@_opt(
    "--access-log",
    env="ACCESS_LOG",
    is_flag=True,
    default=False,
    help="One JSON log line per request (method, path, query with keys redacted, status, ms, client).",
)
def serve(**options: Any) -> None:
    """Run the collector (uvicorn)."""
    if options["kafka_compression"] == "none":
        options["kafka_compression"] = None
    options["cors_origins"] = tuple(o.strip() for o in options["cors_origins"].split(",") if o.strip())
    options["record_headers"] = _headers(options["record_headers"])
    options["allowed_hosts"] = tuple(h.strip() for h in options["allowed_hosts"].split(",") if h.strip())
    options["otlp_endpoint"] = _otlp_endpoint(options["otlp_endpoint"])
    options["otlp_interval_ms"] = _otlp_interval()
    settings = Settings(**options)
    registry = load_or_exit(settings.schemas)
    _check_keys(settings, registry)
    _check_auth(settings)
    _check_dedupe(settings, registry)
    _check_kafka(settings)
    _check_data_dir(settings)
    _run(settings, registry)


def _otlp_endpoint(flag: str | None) -> str | None:
    """--otlp-endpoint, else the standard OpenTelemetry variables (the exporter reads OTEL_EXPORTER_OTLP_HEADERS)."""
    import os

    if flag:
        return flag
    if url := os.environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"):
        return url  # the spec: used as is
    if base := os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return base.rstrip("/") + "/v1/metrics"  # the spec: the signal's path is appended
    return None


def _otlp_interval() -> float:
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


def _headers(text: str) -> tuple[str, ...]:
    from collector.annotate import NEVER_RECORDED

    names = tuple(h.strip().lower() for h in text.split(",") if h.strip())
    refused = sorted(set(names) & NEVER_RECORDED)
    if refused:
        raise click.BadParameter(
            f"{', '.join(refused)} may carry credentials and is never recorded", param_hint="--record-headers"
        )
    return names


def _check_keys(settings: Settings, registry: Registry) -> None:
    """A contract that needs a key the key file lacks stops the start, with the fix."""
    from collector.app import build_privacy
    from collector.keys import KeyRingError
    from collector.privacy import MissingKey

    try:
        build_privacy(settings, registry)
    except (KeyRingError, MissingKey) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)


def _check_dedupe(settings: Settings, registry: Registry) -> None:
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


def _check_kafka(settings: Settings) -> None:
    """Security settings that cannot work, a wrong password or an untrusted certificate stop the start in one line."""
    if settings.sink != "kafka":
        return
    import asyncio

    from collector.sinks.kafka_security import KafkaSecurity, KafkaSecurityError, preflight

    try:
        security = KafkaSecurity.of(settings)
    except KafkaSecurityError as exc:
        click.echo(f"error: {exc}", err=True)
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


def _check_auth(settings: Settings) -> None:
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


def _run(settings: Settings, registry: Registry) -> None:
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


def _check_data_dir(settings: Settings) -> None:
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


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_opt(
    "--schemas", env="SCHEMAS", type=click.Path(path_type=Path), default=_defaults.schemas, help="Contracts directory."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON line per event.")
def validate(file: Path, schemas: Path, as_json: bool) -> None:
    """Validate a JSON array or NDJSON file of events offline, with the server's verdicts.

    Exit 0 if every event is valid, 1 if any is invalid, 2 on usage or contract errors.
    """
    from collector.offline import validate_file

    registry = load_or_exit(schemas)
    sys.exit(validate_file(file, registry, as_json))


@main.group()
def codegen() -> None:
    """Generate a typed tracking SDK from the contracts."""


CODEGEN_EXTRA = "pip install 'charter[codegen]'"


def _needs_extra(command: click.Command, module: str) -> click.Command:
    """Make `command` exit 2 with the install line when `module`, which the `codegen` extra
    brings, is missing: a serve-only install still lists the command and shows its --help."""
    import functools
    import importlib.util

    callback = command.callback
    assert callback is not None

    @functools.wraps(callback)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if importlib.util.find_spec(module) is None:
            path = click.get_current_context().command_path
            click.echo(f"error: `{path}` needs the codegen extra ({module} is missing): {CODEGEN_EXTRA}", err=True)
            sys.exit(EXIT_USAGE)
        return callback(*args, **kwargs)

    command.callback = guarded
    return command


def _attach() -> None:
    from codegen.check.command import check_command
    from codegen.exports.command import docs_command, export_group
    from codegen.imports.command import import_group
    from codegen.python_sdk import python_command
    from codegen.typescript_sdk import typescript_command
    from collector.keys_cli import decrypt, keys
    from collector.scaffold import new_command

    main.add_command(check_command)
    main.add_command(new_command)
    main.add_command(keys)
    main.add_command(decrypt)
    main.add_command(export_group)
    main.add_command(import_group)
    main.add_command(_needs_extra(docs_command, "jinja2"))
    codegen.add_command(_needs_extra(python_command, "datamodel_code_generator"))
    codegen.add_command(typescript_command)


_attach()

if __name__ == "__main__":
    main()
