"""Limits on what a client controls, against a real `charter serve` (uvicorn + httptools) over raw sockets.

Slow headers and slow bodies are cut off with 408, oversized or too many headers get 431,
connections over the limit get 503 + Retry-After, a 207 lists at most 100 errors; each is
counted in `charter_requests_refused_total`.
"""

from __future__ import annotations

import select
import selectors
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from collector.app import create_app
from collector.contracts import Registry
from collector.limits import MAX_ERRORS_LISTED
from collector.settings import Settings
from collector.sinks.memory import MemorySink
from tests.conftest import TEST_KEYS, charter_serve, payment

TIMEOUT = 0.5  # --header-timeout and --body-timeout of the server under test


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("limits")
    args = ("--sink", "memory", "--header-timeout", str(TIMEOUT), "--body-timeout", str(TIMEOUT))
    with charter_serve(tmp, *args, log=tmp / "serve.log") as url:
        yield url


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def exchange(url: str, head: bytes, trickle: bytes = b"", step: int = 1, give_up_s: float = 10) -> tuple[bytes, float]:
    """Send `head`, then `trickle` `step` bytes per 0.1 s, until the server answers and closes.

    Returns what the server sent and how long it took; a server that never closes the
    connection leaves the answer empty or unfinished after `give_up_s`.
    """
    sock = _connect(url)
    started = time.monotonic()
    sock.sendall(head)
    answer, rest = b"", memoryview(trickle)
    with sock:
        while time.monotonic() - started < give_up_s:
            readable, _, _ = select.select([sock], [], [], 0.1)  # paces the trickle: one step per 0.1 s
            if readable:
                chunk = sock.recv(65536)
                if not chunk:
                    return answer, time.monotonic() - started
                answer += chunk
            elif rest:
                try:
                    sock.sendall(rest[:step])
                except OSError:  # the server closed while we were writing
                    break
                rest = rest[step:]
    return answer, time.monotonic() - started


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split(b" ", 2)[1])


def refused(url: str) -> dict[tuple[str, str], float]:
    """charter_requests_refused_total by (error_type, status)."""
    out: dict[tuple[str, str], float] = {}
    deadline = time.monotonic() + 10
    metrics = httpx.get(f"{url}/metrics")
    while metrics.status_code == 503 and time.monotonic() < deadline:  # a test's own connection may linger
        metrics = httpx.get(f"{url}/metrics")
    for family in text_string_to_metric_families(metrics.text):
        for s in family.samples:
            if s.name == "charter_requests_refused_total":
                key = (s.labels["error_type"], s.labels["http_response_status_code"])
                out[key] = out.get(key, 0) + s.value
    return out


def test_a_client_trickling_its_headers_is_cut_off_with_408(server: str) -> None:
    answer, seconds = exchange(server, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ", trickle=b"a" * 200)
    assert status_of(answer) == 408
    assert b'"type":"timeout"' in answer
    assert seconds < 5  # the trickle would have lasted 20 s
    assert refused(server)[("header_timeout", "408")] >= 1


def test_a_connection_that_never_sends_a_request_is_closed(server: str) -> None:
    answer, seconds = exchange(server, b"")
    assert status_of(answer) == 408 and seconds < 5


def test_half_open_connections_are_all_closed_after_the_header_timeout(server: str) -> None:
    idle = [_connect(server) for _ in range(2000)]  # connect, send nothing: the issue's half-open flood
    held = set(idle)
    with selectors.DefaultSelector() as waiting:  # epoll: select() stops at descriptor 1024
        for sock in idle:
            waiting.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + 10
        try:
            while held and time.monotonic() < deadline:
                for key, _ in waiting.select(timeout=0.5):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    while sock.recv(65536):  # the 408, then the close
                        pass
                    waiting.unregister(sock)
                    held.discard(sock)
        finally:
            for sock in idle:
                sock.close()
    assert not held, f"{len(held)} of 2000 idle connections still held after 10 s"
    assert httpx.get(f"{server}/health").status_code == 200


def test_a_client_trickling_its_body_is_cut_off_with_408(server: str) -> None:
    head = b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n["
    answer, seconds = exchange(server, head, trickle=b" " * 200)
    assert status_of(answer) == 408
    assert b"the request body did not arrive within 0.5 s" in answer
    assert seconds < 5
    assert refused(server)[("body_timeout", "408")] >= 1
    assert httpx.get(f"{server}/v1/memory/bad").json() == []  # nothing half-read was recorded


def test_a_huge_header_is_refused_with_431_before_it_is_read_whole(server: str) -> None:
    head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: "
    answer, _ = exchange(server, head, trickle=b"a" * (200 * 1024 * 1024), step=16 * 1024)  # 200 MiB, if it were let
    assert status_of(answer) == 431
    assert b'"type":"header_too_large"' in answer
    assert refused(server)[("header_too_large", "431")] >= 1


def test_a_header_over_the_limit_in_one_packet_is_refused_with_431(server: str) -> None:
    answer, _ = exchange(server, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n")
    assert status_of(answer) == 431


def test_more_than_100_headers_are_refused_with_431(server: str) -> None:
    many = b"".join(b"X-H%d: 1\r\n" % i for i in range(101))
    answer, _ = exchange(server, b"GET /health HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert status_of(answer) == 431
    assert b"more than 100 request headers" in answer
    assert refused(server)[("too_many_headers", "431")] >= 1


def test_an_ordinary_request_is_untouched(server: str) -> None:
    answer, _ = exchange(server, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(answer) == 200


def test_a_connection_over_the_limit_gets_503_with_retry_after(tmp_path: Path) -> None:
    with charter_serve(tmp_path, "--sink", "memory", "--max-connections", "1") as url:
        holder = _connect(url)
        with holder:
            holder.sendall(b"GET /health HTTP/1.1\r\n")  # connection 1 of 1: open, request under way
            answer, _ = exchange(url, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(answer) == 503
        assert b"retry-after: 1\r\n" in answer.lower()
        assert b'"type":"overloaded"' in answer
        assert refused(url)[("too_many_connections", "503")] == 1


def test_a_207_lists_at_most_100_errors_and_counts_the_rest(registry: Registry) -> None:
    app = create_app(Settings(keys=TEST_KEYS), registry, MemorySink())
    bad = {"schema": "com.acme.shop/payment/1", "data": payment(confirmation_code="0")}
    with TestClient(app) as client:
        r = client.post("/v1/events", json=[bad] * 150)
    body = r.json()
    assert (r.status_code, body["rejected"]) == (207, 150)
    assert len(body["errors"]) == MAX_ERRORS_LISTED == 100
    assert body["errors_omitted"] == 50


def test_the_issues_event_with_60000_unknown_fields_gets_a_small_answer(registry: Registry) -> None:
    data = {**payment(), **{f"f{i}": 1 for i in range(60_000)}}  # ~0.8 MB; its answer was 6 MB
    app = create_app(Settings(keys=TEST_KEYS), registry, MemorySink())
    with TestClient(app) as client:
        r = client.post("/v1/events", json={"schema": "com.acme.shop/payment/1", "data": data})
    assert r.status_code == 207
    assert len(r.content) < 16 * 1024
