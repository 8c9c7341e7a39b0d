"""What Tracker and AsyncTracker share: admission, the bounded queue, verdicts, retry delays."""

from __future__ import annotations

import collections
import dataclasses
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from ._transport import Answer, Transport
from ._wire import Pending, body, encode
from .event import Event
from .failures import FailedEvent, Failure, InvalidEvent, Reason, Stats

log = logging.getLogger("charter_events")
OnFailure = Callable[[Failure], None]
RETRY_STATUSES = frozenset({429, 503})
RULES_NOTE = (
    "rule_violation: contract rules (x-contract.rules, CEL) are checked by the collector; this SDK checks them only"
    " with its `rules` extra installed, and never those that read sent_at"
)


@dataclass(frozen=True, slots=True)
class Options:
    batch_size: int
    max_bytes: int
    flush_interval: float
    max_queue: int
    strict: bool
    gzip: bool
    timeout: float
    max_retries: int
    backoff: float
    max_backoff: float
    close_timeout: float
    headers: dict[str, str]  # sent with every request, e.g. Authorization with a write key
    proxy: str | None  # an http:// proxy URL; None: the environment's (with trust_env)
    trust_env: bool  # read HTTP_PROXY, HTTPS_PROXY and NO_PROXY

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_bytes", "max_queue"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")


class Buffer:
    """Events waiting to be sent, oldest first, at most `max_queue` of them."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.items: collections.deque[Pending] = collections.deque()
        self.bytes = 0
        self.since = 0.0  # when the oldest waiting event was queued

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: Pending) -> bool:
        if len(self.items) >= self.options.max_queue:
            return False
        if not self.items:
            self.since = time.monotonic()
        self.items.append(item)
        self.bytes += item.size
        return True

    def full_batch(self) -> bool:
        return len(self.items) >= self.options.batch_size or self.bytes >= self.options.max_bytes

    def due_in(self) -> float | None:
        """Seconds until the oldest event has waited `flush_interval`; None when empty."""
        if not self.items:
            return None
        return max(0.0, self.since + self.options.flush_interval - time.monotonic())

    def take(self) -> list[Pending]:
        """The next batch: up to `batch_size` events and `max_bytes` (at least one event)."""
        batch: list[Pending] = []
        size = 0
        while self.items and len(batch) < self.options.batch_size:
            item = self.items[0]
            if batch and size + item.size > self.options.max_bytes:
                break
            batch.append(self.items.popleft())
            size += item.size
        self.bytes -= size
        self.since = time.monotonic()
        return batch

    def drain(self) -> list[Pending]:
        items, self.items, self.bytes = list(self.items), collections.deque(), 0
        return items


class Emitter:
    def __init__(self, endpoint: str, options: Options, on_failure: OnFailure | None) -> None:
        self.options = options
        self.transport = Transport(endpoint, options.timeout, options.headers, options.proxy, options.trust_env)
        self.buffer = Buffer(options)
        self._on_failure = on_failure
        self._counts = dict.fromkeys((f.name for f in dataclasses.fields(Stats)), 0)
        self._counts_lock = threading.Lock()

    @property
    def stats(self) -> Stats:
        with self._counts_lock:
            return Stats(**self._counts)

    def count(self, **deltas: int) -> None:
        with self._counts_lock:
            for name, n in deltas.items():
                self._counts[name] += n

    def admit(self, event: Event) -> Pending | None:
        """The checked event, or None after reporting it (strict mode raises instead)."""
        try:
            return encode(event)
        except InvalidEvent as exc:
            if self.options.strict:
                raise
            self.count(invalid=1)
            data = _try_encode(event)
            self.report(Failure("invalid", str(exc), (FailedEvent(exc.schema, None, data),)))
            return None

    def drop(self, items: list[Pending], reason: Reason, message: str) -> None:
        if items:
            self.count(dropped=len(items))
            self.report(Failure(reason, message, tuple(FailedEvent(p.schema, p.id, p.data) for p in items)))

    def report(self, failure: Failure) -> None:
        """Hand a failure to `on_failure` (or the log); a failing callback never reaches the sender."""
        if self._on_failure is None:
            log.warning("charter_events: %s: %s (%d events)", failure.reason, failure.message, len(failure.events))
            return
        try:
            self._on_failure(failure)
        except Exception:
            log.exception("charter_events: on_failure raised")

    def attempt(self, batch: list[Pending]) -> Answer | None:
        """Post the batch once; the answer if it should be retried, None once it is settled."""
        answer = self.transport.post(*body(batch, self.options.gzip))
        if answer.status == 0 or answer.status in RETRY_STATUSES:
            return answer
        self.settle(batch, answer)
        return None

    def settle(self, batch: list[Pending], answer: Answer) -> None:
        if answer.status == 200:
            self.count(sent=len(batch))
        elif answer.status == 207:
            self._partial(batch, answer.body)
        elif 200 <= answer.status < 300:
            self.count(sent=len(batch))
        else:
            excerpt = answer.body[:500].decode("utf-8", "replace")
            self.drop(batch, "refused", f"the collector answered {answer.status}: {excerpt}")

    def _partial(self, batch: list[Pending], raw: bytes) -> None:
        """207: the rejected events are in the dead-letter topic; report them, never retry them."""
        try:
            verdict = msgspec.json.decode(raw, type=_Verdict)
        except msgspec.DecodeError:
            verdict = _Verdict(0, len(batch), [{"index": i} for i in range(len(batch))])
        rejected = [_failed(batch[e["index"]], e) for e in verdict.errors if _index_in(e, len(batch))]
        self.count(sent=len(batch) - len(rejected), rejected=len(rejected))
        message = f"the collector rejected {len(rejected)} of {len(batch)} events (written to its dead-letter topic)"
        if any(e.error.get("type") == "rule_violation" for e in rejected if isinstance(e.error, dict)):
            message += f"; {RULES_NOTE}"
        self.report(Failure("rejected", message, tuple(rejected)))

    def give_up(self, batch: list[Pending], answer: Answer, attempts: int) -> None:
        why = answer.error or f"HTTP {answer.status}"
        self.drop(batch, "undeliverable", f"not delivered after {attempts} attempts: {why}")

    def delay(self, attempt: int, answer: Answer) -> float:
        """Exponential backoff with jitter, never shorter than the collector's Retry-After."""
        cap = self.options.max_backoff
        backoff = min(cap, self.options.backoff * 2**attempt)
        backoff = random.uniform(backoff / 2, backoff)
        return backoff if answer.retry_after is None else max(backoff, min(answer.retry_after, cap))

    def deliver_blocking(self, batch: list[Pending], wait: Callable[[float], bool]) -> None:
        """Send with retries; `wait(seconds)` returns True when the tracker wants to give up."""
        for attempt in range(self.options.max_retries + 1):
            answer = self.attempt(batch)
            if answer is None:
                return
            if attempt == self.options.max_retries or wait(self.delay(attempt, answer)):
                self.give_up(batch, answer, attempt + 1)
                return
            self.count(retries=1)


class _Verdict(msgspec.Struct):
    accepted: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = []


def _failed(item: Pending, error: dict[str, Any]) -> FailedEvent:
    return FailedEvent(item.schema, item.id, item.data, error)


def _index_in(error: dict[str, Any], size: int) -> bool:
    index = error.get("index")
    return isinstance(index, int) and 0 <= index < size


def _try_encode(event: object) -> bytes | None:
    try:
        return msgspec.json.encode(event)
    except (TypeError, ValueError, msgspec.EncodeError):
        return None
