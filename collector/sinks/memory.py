"""In-process sink for unit tests and local instrumentation tests (like Snowplow Micro)."""

from __future__ import annotations

from typing import Any

import msgspec

from collector.route import Record
from collector.sinks import Refused


class MemorySink:
    name = "memory"

    def __init__(self) -> None:
        self.records: list[Record] = []

    async def start(self) -> None:
        return None

    async def send(self, records: list[Record]) -> list[Refused]:
        self.records.extend(records)
        return []

    async def flush(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def ready(self) -> bool:
        return True

    def problem(self) -> str | None:
        return None

    def envelopes(self, kind: str) -> list[Any]:
        return [msgspec.json.decode(r.value) for r in self.records if r.kind == kind]

    def reset(self) -> None:
        self.records.clear()
