"""Charter's own protocol: `POST /v1/events` with one event, a JSON array or NDJSON."""

from __future__ import annotations

from starlette.responses import Response

from collector.contracts import Registry
from collector.decode import BodyError, check_content_type, split_events
from collector.protocols.base import Batch, Incoming


class CharterInput:
    name = "charter"

    def accepts(self, content_type: str | None) -> BodyError | None:
        return check_content_type(content_type)

    def scrub(self, body: bytes) -> bytes:
        return body

    def decode(self, incoming: Incoming, registry: Registry, max_events: int) -> Batch | BodyError:
        items = split_events(incoming.body, incoming.content_type, max_events)
        return items if isinstance(items, BodyError) else Batch(items)

    def reply(self, method: str, response: Response) -> Response:
        return response


CHARTER = CharterInput()
