"""What the tracker reports instead of raising: failures (through `on_failure`) and counters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Reason = Literal["invalid", "queue_full", "closed", "rejected", "refused", "undeliverable"]
"""Why events did not reach the collector's good stream:

- `invalid`: the event broke its contract here, before it was queued (never sent);
- `queue_full`: the bounded queue was full, the event was dropped;
- `closed`: tracked after `close()`, or still queued when `close()` gave up waiting;
- `rejected`: the collector answered 207 and wrote these events to its dead-letter topic (never retried);
- `refused`: the collector refused the whole request (400, 413, 415, ...), so it is not retried;
- `undeliverable`: 429/503/network errors outlasted every retry.
"""


@dataclass(frozen=True, slots=True)
class FailedEvent:
    schema: str
    id: str | None
    data: bytes | None
    """The event's `data` as JSON, as it was (or would have been) sent; None if it cannot be encoded."""
    error: Any = None
    """For `rejected`: the collector's verdict (`index`, `id`, `type`, `failures`)."""


@dataclass(frozen=True, slots=True)
class Failure:
    reason: Reason
    message: str
    events: tuple[FailedEvent, ...]


@dataclass(frozen=True, slots=True)
class Stats:
    """Event counts since the tracker was created."""

    queued: int = 0
    sent: int = 0
    """Acknowledged as valid by the collector."""
    rejected: int = 0
    """Acknowledged, but written to the dead-letter topic (207)."""
    invalid: int = 0
    dropped: int = 0
    """Lost for good: queue full, closed, refused or undeliverable."""
    retries: int = 0
    """HTTP attempts repeated after 429/503/network errors."""


class InvalidEvent(ValueError):
    """Raised by `track()` in strict mode: the event breaks its contract."""

    def __init__(self, schema: str, message: str) -> None:
        self.schema, self.message = schema, message
        super().__init__(f"{schema}: {message}")
