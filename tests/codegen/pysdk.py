"""The generated Python SDK under test, and a scripted stand-in for the collector.

The SDK is the committed one, sdks/python, imported without installing it; the golden test in
test_python_sdk.py proves it is exactly what the generator writes today.
"""

from __future__ import annotations

import datetime
import gzip
import http.server
import itertools
import json
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Self

from tests.conftest import ROOT

SDK_DIR = ROOT / "sdks" / "python"
if str(SDK_DIR) not in sys.path:
    sys.path.insert(0, str(SDK_DIR))

import charter_events  # noqa: E402

sdk = charter_events
NOW = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)
# the payment contract dedupes by (order_id, product_id): a fresh order id per event, unless a test picks one
_ORDER_IDS = itertools.count(random.randrange(10**6, 10**9))


def payment(**overrides: Any) -> Any:
    """A valid PaymentV1, as the app would build it."""
    fields: dict[str, Any] = {
        "order_id": next(_ORDER_IDS), "product_id": 7, "amount": 9.5, "confirmation_code": "AB12CD34",
        "cc_number": "4111111111111111", "ts": NOW,
    }  # fmt: skip
    fields.update(overrides)
    return sdk.PaymentV1(**fields)


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # None: the collector's 200 body for the events received


@dataclass(frozen=True)
class Request:
    at: float  # time.monotonic() when it arrived
    headers: dict[str, str]
    events: list[dict[str, Any]]

    @property
    def ids(self) -> list[str]:
        return [e["id"] for e in self.events]


Script = Callable[[list[dict[str, Any]]], Reply]


class Served:
    """A stdlib HTTP server on a thread and a free port, for the length of a `with` block;
    subclasses give the request handler class (`_handler`)."""

    def _serve(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # shutdown() waits for the serving loop to poll its flag: poll often
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeCollector(Served):
    """`POST /v1/events` on a stdlib HTTP server thread: answers the scripted replies in turn,
    then 200; records every request, and the events a 2xx answer kept (`accepted`)."""

    def __init__(self, *replies: Reply | Script) -> None:
        self.script = list(replies)
        self.requests: list[Request] = []
        self.accepted: list[dict[str, Any]] = []
        self.changed = threading.Condition()
        self._serve(self._handler())

    def wait_for_requests(self, n: int, timeout: float = 10) -> list[Request]:
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.requests) >= n, timeout):
                raise AssertionError(f"{len(self.requests)} requests arrived in {timeout}s, expected {n}")
            return list(self.requests)

    def _answer(self, headers: dict[str, str], raw: bytes) -> Reply:
        body = gzip.decompress(raw) if headers.get("Content-Encoding") == "gzip" else raw
        events: list[dict[str, Any]] = json.loads(body)
        with self.changed:
            step = self.script.pop(0) if self.script else Reply()
            reply = step(events) if callable(step) else step
            if 200 <= reply.status < 300:
                rejected = {e["index"] for e in (reply.body or {}).get("errors", [])}
                self.accepted += [e for i, e in enumerate(events) if i not in rejected]
            self.requests.append(Request(time.monotonic(), headers, events))
            self.changed.notify_all()
        if reply.body is not None:
            return reply
        ok = 200 <= reply.status < 300
        body = {"accepted": len(events), "rejected": 0} if ok else {"error": {"type": "unavailable"}}
        return Reply(reply.status, reply.headers, body)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as uvicorn

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                reply = fake._answer(dict(self.headers.items()), raw)
                out = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                for name, value in {**reply.headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def rejecting(*indexes: int, kind: str = "invalid_payload") -> Script:
    """A 207 that rejects the events at `indexes`, as the collector words it."""

    def reply(events: list[dict[str, Any]]) -> Reply:
        errors = [{"index": i, "id": events[i]["id"], "schema": events[i]["schema"], "type": kind,
                   "failures": [{"path": "$.order_id", "keyword": "minimum", "message": "…"}]} for i in indexes]  # fmt: skip
        return Reply(207, body={"accepted": len(events) - len(indexes), "rejected": len(indexes), "errors": errors})

    return reply


def collected(failures: list[Any]) -> Iterator[tuple[str, str | None]]:
    """(reason, event id) for every event in the failures on_failure received."""
    for f in failures:
        for e in f.events:
            yield f.reason, e.id
