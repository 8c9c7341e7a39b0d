"""Sinks share one small protocol: start(), send(records), flush(), stop().

`stop` flushes before it closes. `send` returns only when every record is durably accepted (Kafka acknowledged it with
acks=all, or the file is fsynced); otherwise it raises `SinkUnavailable`, which the HTTP
layer turns into 503 + Retry-After. A sink never drops a record silently.

Two kinds of failure, two answers. A fault of the sink (broker down, disk full) is
retriable: `SinkUnavailable`, nothing of the request acknowledged. A record the sink can
never take (bigger than the broker accepts) is permanent: retrying it forever would only
block its neighbours, so `send` returns it as `Refused`, with every other record written,
and the caller records it as a `too_large` bad event instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from collector.route import Record
    from collector.settings import Settings


class SinkUnavailable(Exception):
    """The sink could not durably accept the records; the client must retry."""

    retriable = True


class Refused(NamedTuple):
    """A record the sink can never accept (not retriable), and why."""

    record: Record
    reason: str


class Sink(Protocol):
    name: str

    async def start(self) -> None: ...
    async def send(self, records: list[Record]) -> list[Refused]: ...
    async def flush(self) -> None: ...
    async def stop(self) -> None: ...
    def ready(self) -> bool: ...
    def problem(self) -> str | None: ...  # why the sink cannot write now (for /ready), or None


def make_sink(settings: Settings, topics: dict[str, int]) -> Sink:
    if settings.sink == "kafka":
        from collector.sinks.kafka import KafkaSink

        return KafkaSink(settings, topics)
    if settings.sink == "file":
        from collector.sinks.file import FileSink

        return FileSink(
            settings.data_dir, settings.file_rotate_bytes, settings.sink_timeout, settings.sink_probe_interval,
            settings.file_commit_window / 1000,
        )  # fmt: skip
    if settings.sink == "stdout":
        from collector.sinks.stdout import StdoutSink

        return StdoutSink()
    from collector.sinks.memory import MemorySink

    return MemorySink()
