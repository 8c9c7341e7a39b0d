"""Waiting for a broker that is not up yet (`--kafka-wait`).

A collector often starts beside its broker (one compose file, one deploy): exiting at once
would only make an orchestrator restart it in a loop. So the HTTP server comes up not-ready
(`/ready` 503 saying why, POSTs 503 + `Retry-After`) while the sink tries again with
exponential backoff; when `--kafka-wait` seconds pass without a broker, the process stops
with one line and exit 2, like any other start-up failure.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

from collector.sinks import SinkUnavailable

log = logging.getLogger("charter.kafka")
FIRST_DELAY = 0.5  # seconds before the second attempt; doubled each time ...
MAX_DELAY = 5.0  # ... up to this

gave_up: list[str] = []  # the one line `charter serve` prints when it exits for want of a broker
stop_server: list[Callable[[], None]] = []  # set by `charter serve` (one process): ends uvicorn's loop
NOTE = "kafka-gave-up"  # with --workers N: the file in the shared directory the parent reads the line from


async def wait_for_broker(connect: Callable[[], Awaitable[None]], first: SinkUnavailable, wait: float,
                          where: str, report: Callable[[str], None], shared: Path | None = None) -> bool:  # fmt: skip
    """Call `connect` with backoff until it succeeds (True) or `wait` seconds have passed (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    delay, cause = FIRST_DELAY, first
    while (left := deadline - loop.time()) > 0:
        report(f"waiting for Kafka ({left:.0f}s left of --kafka-wait {wait:g}): {cause}")
        await asyncio.sleep(min(delay, left))  # backoff between attempts, not a synchronisation
        try:
            await connect()
        except SinkUnavailable as exc:
            cause, delay = exc, min(delay * 2, MAX_DELAY)
            continue
        log.info("Kafka reachable: ready")
        return True
    log.warning("last attempt: %s", cause)
    give_up(f"cannot connect to Kafka at {where} within {wait:g}s (--kafka-wait): start the broker, "
            "or check --kafka-bootstrap", shared)  # fmt: skip
    return False


def give_up(line: str, shared: Path | None = None) -> None:
    """Shut the server down cleanly; `charter serve` then exits 2 with `line`.

    One of `--workers N` stops them all (a supervisor would only start it again, to wait anew):
    it leaves the line in the workers' `shared` directory and sends SIGTERM to the supervisor.
    """
    log.error("%s", line)
    gave_up.append(line)
    if stop_server:
        stop_server[0]()
    elif shared is not None:
        (shared / NOTE).write_text(line, encoding="utf-8")
        os.kill(os.getppid(), signal.SIGTERM)
    else:
        os.kill(os.getpid(), signal.SIGTERM)


def note_left(shared: Path) -> str | None:
    """The line a worker left when it gave up waiting, if one did."""
    note = shared / NOTE
    return note.read_text(encoding="utf-8") if note.is_file() else None


def listening(bootstrap: str, timeout: float) -> bool:
    """Whether any bootstrap HOST:PORT accepts a TCP connection (not yet whether it speaks Kafka to us)."""
    for item in bootstrap.split(","):
        host, _, port = item.strip().rpartition(":")
        if not (host and port.isdigit()):
            continue
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
        except OSError:
            continue
        return True
    return False
