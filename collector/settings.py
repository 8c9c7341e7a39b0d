"""One frozen settings object, built once at startup from CLI flags and CHARTER_* env vars."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

SinkName = Literal["file", "stdout", "kafka", "memory"]


@dataclass(frozen=True, slots=True)
class Settings:
    schemas: Path = Path("schemas")
    sink: SinkName = "file"
    data_dir: Path = Path("data")
    file_rotate_bytes: int = 128 * 1024 * 1024
    file_commit_window: float = 1.0  # ms a commit waits for more requests to share its fsync
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_compression: str = "lz4"
    kafka_compression_level: int = 1  # each codec's fastest: collector/sinks/kafka_codec.py
    kafka_linger_ms: int = 1  # the Kafka sink's group-commit window (ms): requests close together share a batch
    kafka_replication_factor: int = 1
    kafka_security_protocol: str = "PLAINTEXT"  # SSL, SASL_PLAINTEXT, SASL_SSL: collector/sinks/kafka_security.py
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_options: tuple[str, ...] = ()  # KEY=VALUE, Java client property names
    kafka_wait: float = 60.0  # seconds serve waits for an unreachable broker at start (0: exit at once)
    sink_timeout: float = 10.0
    sink_probe_interval: float = 1.0  # while the sink is down: how often a probe checks it is back
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    max_body_bytes: int = 1024 * 1024
    max_events: int = 500
    max_inflight_events: int = 100_000
    retry_after: int = 1
    log_level: str = "info"
    log_format: str = "json"
    cors_origins: tuple[str, ...] = ()
    auth: Path | None = None  # write keys (--auth FILE); None: anyone may post
    admin_token: str | None = None  # operator pages; None: loopback clients only
    allowed_hosts: tuple[str, ...] = ()  # Host names served; empty: any
    max_connections: int = 1000
    max_header_bytes: int = 32 * 1024
    max_headers: int = 100
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    access_log: bool = False  # one JSON line per request (credentials in the query string redacted)
    keys: Path | None = None
    dedupe_max_keys: int = 500_000
    dedupe_store: str | None = None  # redis://HOST:PORT/DB shared by workers and instances; None: this process
    dedupe_store_fail: Literal["closed", "open"] = "closed"  # store unreachable: 503 (closed) or no dedupe (open)
    dedupe_store_timeout: float = 1.0
    watch: bool = False  # reload contracts when files under `schemas` change (SIGHUP always reloads)
    watch_interval: float = 1.0
    anonymize_ip: bool = False
    unplanned: Literal["reject", "accept"] = "reject"  # Segment calls no contract claims: dead-letter, or forward
    cloudevents_headers: bool = False  # CloudEvents' good records carry the Kafka binding's ce_* headers
    record_headers: tuple[str, ...] = ("user-agent",)
    otlp_endpoint: str | None = None
    otlp_interval_ms: float = 10_000.0  # how often metrics are pushed over OTLP (OTEL_METRIC_EXPORT_INTERVAL)
    metrics: bool = True
    metrics_dir: Path | None = None  # set by the CLI for --workers N: where workers share metrics


SETTINGS_ENV = "CHARTER_SETTINGS_JSON"


def dump(settings: Settings) -> str:
    """Serialize for worker processes (uvicorn --workers starts fresh interpreters)."""
    return json.dumps({f.name: _plain(getattr(settings, f.name)) for f in fields(settings)})


def load(text: str) -> Settings:
    raw: dict[str, Any] = json.loads(text)
    raw["schemas"], raw["data_dir"] = Path(raw["schemas"]), Path(raw["data_dir"])
    raw["cors_origins"] = tuple(raw["cors_origins"])
    raw["allowed_hosts"] = tuple(raw["allowed_hosts"])
    raw["auth"] = Path(raw["auth"]) if raw["auth"] else None
    raw["record_headers"] = tuple(raw["record_headers"])
    raw["keys"] = Path(raw["keys"]) if raw["keys"] else None
    for name in ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile"):
        raw[name] = Path(raw[name]) if raw[name] else None
    raw["kafka_options"] = tuple(raw["kafka_options"])
    raw["metrics_dir"] = Path(raw["metrics_dir"]) if raw["metrics_dir"] else None
    return Settings(**raw)


def _plain(value: object) -> object:
    return str(value) if isinstance(value, Path) else value
