"""Input protocols (STYLE rule 13): each wire protocol is one module behind `base.Input`.

- `charter`: `POST /v1/events`, Charter's own events.
- `snowplow`: the Snowplow tracker protocol (tp2 POST and the GET pixel).
- `segment`: Segment's HTTP tracking API.
- `cloudevents`: CloudEvents over HTTP (structured, batch and binary mode).
"""

from __future__ import annotations

from collector.protocols.base import Batch, Incoming, Input
from collector.protocols.charter import CHARTER
from collector.protocols.cloudevents import CloudEventsInput
from collector.protocols.segment import CALLS, SegmentInput
from collector.protocols.snowplow import SnowplowInput
from collector.settings import Settings

__all__ = ["CHARTER", "SNOWPLOW_PATHS", "Batch", "Incoming", "Input", "routes"]

SNOWPLOW_PATHS = frozenset({"/com.snowplowanalytics.snowplow/tp2", "/i", "/com.snowplowanalytics.snowplow/i"})


def routes(settings: Settings) -> list[tuple[str, Input, list[str]]]:
    """(path, input, methods) for every input protocol but Charter's own."""
    snowplow = SnowplowInput(settings.anonymize_ip)
    table: list[tuple[str, Input, list[str]]] = [
        ("/com.snowplowanalytics.snowplow/tp2", snowplow, ["POST"]),
        ("/i", snowplow, ["GET", "POST"]),
        ("/com.snowplowanalytics.snowplow/i", snowplow, ["GET", "POST"]),
    ]
    table += [
        (f"/v1/{call}", SegmentInput(call, settings.unplanned, settings.anonymize_ip), ["POST"]) for call in CALLS
    ]
    table.append(("/v1/batch", SegmentInput(None, settings.unplanned, settings.anonymize_ip), ["POST"]))
    table.append(("/v1/cloudevents", CloudEventsInput(settings.cloudevents_headers), ["POST"]))
    return table
