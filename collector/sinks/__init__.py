"""Sinks share one small protocol: start(), send(records), flush(), stop().

`stop` flushes before it closes. `send` returns only when every record is durably accepted (Kafka acknowledged it with
acks=all, or the file is fsynced); otherwise it raises `SinkUnavailable`, which the HTTP
layer turns into 503 + Retry-After. A sink never drops a record silently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collector.route import Record
    from collector.settings import Settings


class SinkUnavailable(Exception):
    """The sink could not durably accept the records; the client must retry."""

    retriable = True


class Sink(Protocol):
    name: str

    async def start(self) -> None: ...
    async def send(self, records: list[Record]) -> None: ...
    async def flush(self) -> None: ...
    async def stop(self) -> None: ...
    def ready(self) -> bool: ...


def make_sink(settings: Settings, topics: dict[str, int]) -> Sink:
    if settings.sink == "kafka":
        from collector.sinks.kafka import KafkaSink

        return KafkaSink(settings, topics)
    if settings.sink == "file":
        from collector.sinks.file import FileSink

        return FileSink(settings.data_dir, settings.file_rotate_bytes)
    if settings.sink == "stdout":
        from collector.sinks.stdout import StdoutSink

        return StdoutSink()
    from collector.sinks.memory import MemorySink

    return MemorySink()
