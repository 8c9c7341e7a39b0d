"""Structured JSON logs with a request id; never payloads or PII.

Every request gets an id (the client's `X-Request-Id` if it is a sane token, else a UUIDv7),
echoed in the response header and carried by every log line written while it is handled, with
the trace id of the client's W3C `traceparent` when it sends a valid one (`trace_id`).
Log lines hold counts, statuses, timings and error types; event data never reaches a logger.
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
import re
import time
from typing import Any

import msgspec
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector.annotate import trace_id, uuid7
from collector.telemetry import responses

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
trace: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace", default=None)  # W3C trace id
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_encoder = msgspec.json.Encoder()
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and any `extra=`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid is not None:
            line["request_id"] = rid
        tid = trace.get()
        if tid is not None:
            line["trace_id"] = tid
        line.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _encoder.encode(line).decode()


def configure(level: str, fmt: str) -> dict[str, Any]:
    """Set up Charter's and uvicorn's loggers; returns uvicorn's `log_config`."""
    formatter = "json" if fmt == "json" else "text"
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": JsonFormatter},
            "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        },
        "handlers": {
            "default": {"class": "logging.StreamHandler", "formatter": formatter, "stream": "ext://sys.stderr"}
        },
        "loggers": {
            "": {"handlers": ["default"], "level": level.upper()},
            "uvicorn": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": True},
        },
    }
    logging.config.dictConfig(config)
    return config


class RequestIdMiddleware:
    """Pure ASGI, outermost: give each HTTP request an id (in the log context and the response's
    `X-Request-Id`), and count every response by method and status (`charter_http_responses_total`),
    refused ones too. One layer for both: they wrap the same `send`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = traceparent = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value
            elif name == b"traceparent":
                traceparent = value
        text = given.decode("latin-1")
        rid = text if _SANE_ID.match(text) else uuid7()
        token = request_id.set(rid)
        traced = trace.set(trace_id(traceparent.decode("latin-1")) if traceparent else None)
        method = scope["method"]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                responses[(method, message["status"])] += 1
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
            trace.reset(traced)
