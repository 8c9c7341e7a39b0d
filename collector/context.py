"""What a request contributes to each of its events' envelopes: the time, the source, the key ring
and the dedupe store; for an event an input protocol translated, also its origin."""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass, field

import msgspec

from collector.annotate import Source, as_json
from collector.dedupe import DedupeStore
from collector.origin import Origin
from collector.privacy import Privacy

REDACT_ONLY = Privacy()  # no keys: hashed and encrypted fields are redacted, never left clear


@dataclass(frozen=True)
class Context:
    """What a request contributes to each of its envelopes."""

    collected_at: str
    source: Source
    privacy: Privacy = REDACT_ONLY
    dedupe: DedupeStore | None = None
    clock: float = field(default_factory=time.monotonic)  # for the in-process store's windows
    origin: Origin | None = None  # per event, for events that came in another protocol

    @functools.cached_property
    def source_json(self) -> msgspec.Raw:
        """`source` encoded once for all the request's good envelopes (on first use: the app sets
        the write key's name before any event is processed)."""
        return as_json(self.source)


def with_origin(ctx: Context, origin: Origin) -> Context:
    """The context of one translated event: its protocol and client fields in the source."""
    source = msgspec.structs.replace(ctx.source, protocol=origin.protocol, client=origin.client)
    return dataclasses.replace(ctx, source=source, origin=origin)
