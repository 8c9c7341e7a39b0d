"""The flags of `charter serve`, in `--help`'s order. Every flag is also a CHARTER_* env var."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from collector.cliutil import kafka_security_options
from collector.settings import Settings

_defaults = Settings()
F = TypeVar("F", bound=Callable[..., Any])


def opt(*names: str, env: str, **kw: Any) -> Callable[[F], F]:
    """A click option read from CHARTER_<env> too, its env var and default shown in `--help`."""
    option: Callable[[F], F] = click.option(*names, envvar=f"CHARTER_{env}", show_envvar=True, show_default=True, **kw)
    return option


SCHEMAS = opt(
    "--schemas", env="SCHEMAS", type=click.Path(path_type=Path), default=_defaults.schemas, help="Contracts directory."
)
_SERVE: list[Callable[[Any], Any]] = [
    SCHEMAS,
    opt(
        "--sink",
        env="SINK",
        type=click.Choice(["file", "stdout", "kafka", "memory"]),
        default=_defaults.sink,
        help="Where records go.",
    ),
    opt(
        "--data-dir",
        env="DATA_DIR",
        type=click.Path(path_type=Path),
        default=_defaults.data_dir,
        help="File sink directory.",
    ),
    opt(
        "--file-rotate-bytes",
        env="FILE_ROTATE_BYTES",
        type=int,
        default=_defaults.file_rotate_bytes,
        help="File sink rotation size.",
    ),
    opt(
        "--file-commit-window",
        env="FILE_COMMIT_WINDOW",
        type=click.FloatRange(min=0, max=100),
        default=_defaults.file_commit_window,
        help="File sink: milliseconds a commit waits after its first request for others to share its fsync. "
        "Up to this much latency for fewer fsyncs under light load; 0: commit at once.",
    ),
    opt(
        "--kafka-bootstrap", env="KAFKA_BOOTSTRAP", default=_defaults.kafka_bootstrap, help="Kafka bootstrap HOST:PORT."
    ),
    opt(
        "--kafka-compression",
        env="KAFKA_COMPRESSION",
        type=click.Choice(["none", "gzip", "lz4", "snappy", "zstd"]),
        default=_defaults.kafka_compression,
        help="Producer compression.",
    ),
    opt(
        "--kafka-compression-level",
        env="KAFKA_COMPRESSION_LEVEL",
        type=click.IntRange(min=1, max=22),
        default=_defaults.kafka_compression_level,
        help="Kafka sink: compression level (lz4 1-17, zstd 1-22, gzip 1-9). 1, the fastest, costs the collector "
        "the least CPU; higher levels make smaller batches for more CPU.",
    ),
    opt(
        "--kafka-linger-ms",
        env="KAFKA_LINGER_MS",
        type=click.IntRange(min=0, max=100),
        default=_defaults.kafka_linger_ms,
        help="Kafka sink: milliseconds a commit waits after its first request for others to share its batches "
        "(linger.ms). 0: send at once (each small commit its own produce request, slower).",
    ),
    kafka_security_options,
    opt(
        "--kafka-replication-factor",
        env="KAFKA_REPLICATION_FACTOR",
        type=int,
        default=_defaults.kafka_replication_factor,
        help="Replication of topics Charter creates.",
    ),
    opt(
        "--sink-timeout",
        env="SINK_TIMEOUT",
        type=float,
        default=_defaults.sink_timeout,
        help="Seconds to wait for the sink before answering 503.",
    ),
    opt(
        "--kafka-wait",
        env="KAFKA_WAIT",
        type=click.FloatRange(min=0),
        default=_defaults.kafka_wait,
        help="With --sink kafka: seconds to wait for a broker that does not answer at start, retrying with backoff "
        "and answering /ready 503 meanwhile; then exit 2. 0: exit at once.",
    ),
    opt(
        "--sink-probe-interval",
        env="SINK_PROBE_INTERVAL",
        type=click.FloatRange(min=0.05),
        default=_defaults.sink_probe_interval,
        help="While the sink is down, requests get 503 at once; a probe checks it this often (seconds).",
    ),
    opt("--host", env="HOST", default=_defaults.host, help="Bind address."),
    opt("--port", env="PORT", type=int, default=_defaults.port, help="Bind port."),
    opt("--workers", env="WORKERS", type=click.IntRange(min=1), default=_defaults.workers, help="Worker processes."),
    opt(
        "--max-body-bytes",
        env="MAX_BODY_BYTES",
        type=click.IntRange(min=1),
        default=_defaults.max_body_bytes,
        help="Request body limit (also after gzip inflation).",
    ),
    opt(
        "--max-events",
        env="MAX_EVENTS",
        type=click.IntRange(min=1),
        default=_defaults.max_events,
        help="Events per request limit.",
    ),
    opt(
        "--max-inflight-events",
        env="MAX_INFLIGHT_EVENTS",
        type=click.IntRange(min=1),
        default=_defaults.max_inflight_events,
        help="Events waiting for the sink before answering 429.",
    ),
    opt(
        "--log-format",
        env="LOG_FORMAT",
        type=click.Choice(["json", "text"]),
        default=_defaults.log_format,
        help="json: one object per line with a request id; text: for a terminal.",
    ),
    opt(
        "--log-level",
        env="LOG_LEVEL",
        type=click.Choice(["debug", "info", "warning", "error"]),
        default=_defaults.log_level,
        help="Log level.",
    ),
    opt("--metrics/--no-metrics", env="METRICS", default=True, help="Turn metrics off only to measure their cost."),
    opt(
        "--otlp-endpoint",
        env="OTLP_ENDPOINT",
        default=None,
        help="Also push metrics over OTLP/HTTP, e.g. http://127.0.0.1:4318 (a base URL gets /v1/metrics); "
        "default: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/metrics.",
    ),
    opt("--anonymize-ip", env="ANONYMIZE_IP", is_flag=True, default=False, help="Record IPv4 /24 and IPv6 /48 only."),
    opt(
        "--record-headers",
        env="RECORD_HEADERS",
        default="user-agent",
        help="Comma-separated request headers recorded in `source` (cookies and authorization never are).",
    ),
    opt(
        "--dedupe-max-keys",
        env="DEDUPE_MAX_KEYS",
        type=click.IntRange(min=1),
        default=_defaults.dedupe_max_keys,
        help="Dedupe keys kept per contract line (about 100 bytes each).",
    ),
    opt(
        "--dedupe-store",
        env="DEDUPE_STORE",
        default=None,
        help="Share dedupe keys between workers and instances: redis://HOST:PORT/DB (Redis or Valkey; rediss:// "
        "for TLS). Without it each process keeps its own keys.",
    ),
    opt(
        "--dedupe-store-fail",
        env="DEDUPE_STORE_FAIL",
        type=click.Choice(["closed", "open"]),
        default=_defaults.dedupe_store_fail,
        help="When the store does not answer: closed = 503 + Retry-After (never a silent double); "
        "open = forward without dedupe (logged).",
    ),
    opt(
        "--dedupe-store-timeout",
        env="DEDUPE_STORE_TIMEOUT",
        type=click.FloatRange(min=0.01),
        default=_defaults.dedupe_store_timeout,
        help="Seconds to wait for the dedupe store before it counts as unreachable.",
    ),
    opt(
        "--watch/--no-watch",
        env="WATCH",
        default=False,
        help="Reload contracts when files under --schemas change (SIGHUP always reloads).",
    ),
    opt(
        "--watch-interval",
        env="WATCH_INTERVAL",
        type=click.FloatRange(min=0.05),
        default=_defaults.watch_interval,
        help="Seconds between two looks at the files under --schemas (with --watch).",
    ),
    opt(
        "--keys",
        env="KEYS",
        type=click.Path(path_type=Path),
        default=None,
        help="PII key file for x-pii hash/encrypt (default: ./charter-keys.json if present).",
    ),
    opt(
        "--cors-origins",
        env="CORS_ORIGINS",
        default="",
        help="Comma-separated origins allowed to POST from browsers ('*' for any).",
    ),
    opt(
        "--auth",
        env="AUTH",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Write keys file (YAML or JSON): without it anyone who reaches the port may post.",
    ),
    opt(
        "--unplanned",
        env="UNPLANNED",
        type=click.Choice(["reject", "accept"]),
        default=_defaults.unplanned,
        help="Segment calls no contract claims (x-contract.segment): reject = dead-letter topic; "
        "accept = forward them as com.segment/unplanned.",
    ),
    opt(
        "--cloudevents-headers/--no-cloudevents-headers",
        env="CLOUDEVENTS_HEADERS",
        default=False,
        help="Good records of CloudEvents inputs carry the CloudEvents Kafka binding's ce_* headers.",
    ),
    opt(
        "--admin-token",
        env="ADMIN_TOKEN",
        default=None,
        help="Token for /v1/stats, /ui and the memory endpoints (Bearer); without it they answer loopback only. "
        "Prefer the env var: flags show in `ps`.",
    ),
    opt(
        "--allowed-hosts",
        env="ALLOWED_HOSTS",
        default="",
        help="Comma-separated Host names served (`*.acme.com` allowed); others get 400. Set it in production.",
    ),
    opt(
        "--max-connections",
        env="MAX_CONNECTIONS",
        type=click.IntRange(min=1),
        default=_defaults.max_connections,
        help="Open connections per process before requests get 503.",
    ),
    opt(
        "--max-header-bytes",
        env="MAX_HEADER_BYTES",
        type=click.IntRange(min=1024),
        default=_defaults.max_header_bytes,
        help="Request line and headers limit (431).",
    ),
    opt(
        "--max-headers",
        env="MAX_HEADERS",
        type=click.IntRange(min=1),
        default=_defaults.max_headers,
        help="Request header count limit (431).",
    ),
    opt(
        "--header-timeout",
        env="HEADER_TIMEOUT",
        type=click.FloatRange(min=0.01),
        default=_defaults.header_timeout,
        help="Seconds for a request's headers to arrive (408).",
    ),
    opt(
        "--body-timeout",
        env="BODY_TIMEOUT",
        type=click.FloatRange(min=0.01),
        default=_defaults.body_timeout,
        help="Seconds for a request's whole body to arrive (408).",
    ),
    opt(
        "--access-log",
        env="ACCESS_LOG",
        is_flag=True,
        default=False,
        help="One JSON log line per request (method, path, query with keys redacted, status, ms, client).",
    ),
]


def serve_options(command: F) -> F:
    """Every `serve` flag on `command` (applied last to first, as stacked decorators are)."""
    for option in reversed(_SERVE):
        command = option(command)
    return command
