"""Write each record as one JSON line on standard output: `{"topic", "key", "value"}`."""

from __future__ import annotations

import asyncio
import sys

import msgspec

from collector.route import Record
from collector.sinks import Refused, SinkUnavailable


class _Line(msgspec.Struct):
    topic: str
    key: str
    value: msgspec.Raw


_encoder = msgspec.json.Encoder()


class StdoutSink:
    name = "stdout"

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        return None

    async def send(self, records: list[Record]) -> list[Refused]:
        data = b"".join(_encoder.encode(_Line(r.topic, r.key.decode(), msgspec.Raw(r.value))) + b"\n" for r in records)
        async with self._lock:
            try:
                await asyncio.to_thread(self._write, data)
            except OSError as exc:  # a closed pipe or a full disk behind the redirect: retriable, never a 500
                raise SinkUnavailable(f"cannot write to stdout: {type(exc).__name__}: {exc}") from exc
        return []

    async def flush(self) -> None:
        await asyncio.to_thread(sys.stdout.flush)

    async def stop(self) -> None:
        await self.flush()

    def ready(self) -> bool:
        return True

    def problem(self) -> str | None:
        return None

    @staticmethod
    def _write(data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
