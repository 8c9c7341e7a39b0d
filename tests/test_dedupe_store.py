"""The shared dedupe store: a real Redis (or Valkey) server, as many collectors see it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from collector.app import create_app
from collector.contracts import Registry
from collector.dedupe import Claim, DedupeUnavailable, refuse_unshared
from collector.dedupe_redis import RedisStore, redacted, store_url
from collector.settings import Settings
from collector.sinks.memory import MemorySink
from tests.conftest import TEST_KEYS, payment
from tests.redis_server import RedisServer, redis_server

PAY = "com.acme.shop/payment/1"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path / "redis") as s:
        yield s


@contextlib.asynccontextmanager
async def store(url: str, *, fail_open: bool = False) -> AsyncIterator[RedisStore]:
    s = RedisStore(url, timeout=1.0, fail_open=fail_open)
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


def claim(n: int, window: float = 60.0, line: str = "com.acme.shop/payment") -> Claim:
    return Claim(line, n.to_bytes(16, "big"), window)


async def test_two_stores_on_one_server_see_each_others_keys(server: RedisServer) -> None:
    async with store(server.url) as one, store(server.url) as two:
        assert await one.claim([claim(1), claim(2)]) == [True, True]
        assert await two.claim([claim(2), claim(3)]) == [False, True]  # the other instance's key is a duplicate
        assert await two.claim([claim(1, line="com.acme.shop/refund")]) == [True]  # windows are per contract line


async def test_the_second_of_two_equal_keys_in_one_request_is_the_duplicate(server: RedisServer) -> None:
    async with store(server.url) as s:
        assert await s.claim([claim(7), claim(8), claim(7)]) == [True, True, False]


async def test_a_released_key_is_free_again(server: RedisServer) -> None:
    async with store(server.url) as one, store(server.url) as two:
        assert await one.claim([claim(1), claim(2)]) == [True, True]
        await one.release([claim(1)])
        assert await two.claim([claim(1), claim(2)]) == [True, False]


async def test_a_key_expires_with_its_window(server: RedisServer) -> None:
    async with store(server.url) as s:
        assert await s.claim([claim(1, window=0.2)]) == [True]
        assert await s.claim([claim(1, window=0.2)]) == [False]
        deadline = asyncio.get_running_loop().time() + 5
        while not (await s.claim([claim(1, window=0.2)]))[0]:
            assert asyncio.get_running_loop().time() < deadline, "the key outlived its 200 ms window"
            await asyncio.sleep(0.05)  # polling the store, not synchronising on time


async def test_an_unreachable_store_is_an_error_not_a_fresh_key(server: RedisServer) -> None:
    async with store(server.url) as s:
        assert await s.claim([claim(1)]) == [True]
        server.stop()
        with pytest.raises(DedupeUnavailable, match="does not answer"):
            await s.claim([claim(2)])
        assert s.problem() is not None and "127.0.0.1" in s.problem()  # type: ignore[operator]
        server.start()  # a new, empty server on the same port
        assert await s.claim([claim(2)]) == [True]
        assert s.problem() is None


async def test_fail_open_forwards_without_dedupe_and_counts_it(server: RedisServer) -> None:
    async with store(server.url, fail_open=True) as s:
        server.stop()
        assert await s.claim([claim(1), claim(1)]) == [True, True]
        assert s.failed_open == 2 and s.problem() is not None


async def test_a_release_the_store_refused_goes_ahead_of_the_next_request(server: RedisServer) -> None:
    from redis.asyncio import Redis

    admin = Redis.from_url(server.url)
    async with store(server.url) as s:
        assert await s.claim([claim(1)]) == [True]
        await admin.execute_command("ACL", "SETUSER", "default", "-del")  # the store refuses the release
        await s.release([claim(1)])
        assert await s.claim([claim(2)]) == [True]  # the kept release fails again; the claim still counts
        await admin.execute_command("ACL", "SETUSER", "default", "+del")
        assert await s.claim([claim(1)]) == [True]  # the kept release ran first, in the same round trip
    await admin.aclose()


async def test_a_store_that_cannot_be_reached_at_start_names_it_without_the_password(tmp_path: Path) -> None:
    from tests.conftest import free_port

    s = RedisStore(f"redis://:hunter2@127.0.0.1:{free_port()}/0", timeout=0.5)
    with pytest.raises(DedupeUnavailable, match=r"cannot reach the dedupe store at redis://:\*\*\*@127\.0\.0\.1") as e:
        await s.start()
    assert "hunter2" not in str(e.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0", id="redis"),
        pytest.param("valkey://cache:6379/2", "redis://cache:6379/2", id="valkey"),
        pytest.param("valkeys://u:p@cache:6380/0", "rediss://u:p@cache:6380/0", id="valkey-tls"),
        pytest.param("unix:///run/redis.sock", "unix:///run/redis.sock", id="unix"),
    ],
)
def test_store_urls(url: str, expected: str) -> None:
    assert store_url(url) == expected


@pytest.mark.parametrize("url", ["memcached://x:1", "127.0.0.1:6379", "redis:///0"])
def test_unusable_store_urls_say_what_works(url: str) -> None:
    with pytest.raises(ValueError, match=r"redis://HOST:PORT/DB"):
        store_url(url)


def test_passwords_never_show() -> None:
    assert redacted("redis://user:s3cret@h:1/0") == "redis://user:***@h:1/0"


def test_workers_without_a_store_are_refused_when_a_contract_dedupes() -> None:
    message = refuse_unshared(2, None, ["com.acme.shop/payment/1.0.0"])
    assert message is not None and "--dedupe-store redis://" in message and "com.acme.shop/payment/1.0.0" in message
    assert refuse_unshared(2, "redis://h:1/0", ["a/b/1.0.0"]) is None
    assert refuse_unshared(2, None, []) is None
    assert refuse_unshared(1, None, ["a/b/1.0.0"]) is None


# --------------------------------------------------------------------------- through the app


def app_client(registry: Registry, sink: MemorySink, url: str, **settings: Any) -> TestClient:
    s = Settings(keys=TEST_KEYS, dedupe_store=url, dedupe_store_timeout=0.5, **settings)
    return TestClient(create_app(s, registry, sink), client=("127.0.0.1", 50000))


def test_two_collectors_sharing_a_store_forward_a_payment_once(registry: Registry, server: RedisServer) -> None:
    one, two = MemorySink(), MemorySink()
    event = {"schema": PAY, "data": payment(order_id=4242)}
    with app_client(registry, one, server.url) as a, app_client(registry, two, server.url) as b:
        assert a.post("/v1/events", json=[event]).json() == {"accepted": 1, "rejected": 0}
        r = b.post("/v1/events", json=[event, {"schema": PAY, "data": payment(order_id=4243)}])
        assert r.status_code == 207
        first_error = r.json()["errors"][0]
        assert (r.json()["accepted"], first_error["index"], first_error["type"]) == (1, 0, "duplicate")
    assert len(one.envelopes("good")) + len(two.envelopes("good")) == 2  # 4242 once, 4243 once
    assert [e["error"]["type"] for e in two.envelopes("bad")] == ["duplicate"]


def test_a_store_that_goes_away_gives_503_and_writes_nothing(registry: Registry, server: RedisServer) -> None:
    sink = MemorySink()
    with app_client(registry, sink, server.url) as c:
        assert c.post("/v1/events", json={"schema": PAY, "data": payment(order_id=1)}).status_code == 200
        server.stop()
        r = c.post("/v1/events", json={"schema": PAY, "data": payment(order_id=2)})
        assert (r.status_code, r.headers["Retry-After"]) == (503, "1")
        ready = c.get("/ready").json()
        assert ready["dedupe_store"] == "redis" and "does not answer" in ready["dedupe_problem"]
        errors = [x for x in c.get("/metrics").text.splitlines() if x.startswith("charter_dedupe_store_errors_total")]
        assert errors and errors[0].endswith(" 1.0")
        # contracts without dedupe never ask the store
        click = {"schema": "com.riverhotels.web/clickstream/1", "data": {}}
        assert c.post("/v1/events", json=click).status_code in (200, 207)
        server.start()
        deadline = time.monotonic() + 10
        while "dedupe_problem" in c.get("/ready").json():  # a probe notices, with no traffic needed
            assert time.monotonic() < deadline, "/ready still reports the store down"
            time.sleep(0.05)  # polling /ready, not synchronising on time
        assert c.post("/v1/events", json={"schema": PAY, "data": payment(order_id=2)}).status_code == 200
    assert [e["data"]["order_id"] for e in sink.envelopes("good") if e["name"] == "payment"] == [1, 2]


def test_a_failed_sink_releases_the_keys_in_the_store(registry: Registry, server: RedisServer) -> None:
    from tests.test_app import DownSink

    event = {"schema": PAY, "data": payment(order_id=77)}
    with app_client(registry, DownSink(), server.url) as down:
        assert down.post("/v1/events", json=event).status_code == 503
    with app_client(registry, MemorySink(), server.url) as up:  # the client's retry, at another instance
        assert up.post("/v1/events", json=event).json() == {"accepted": 1, "rejected": 0}


def test_serve_with_workers_and_no_store_stops_at_start_naming_the_flag(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import SCHEMAS

    r = subprocess.run(
        [sys.executable, "-m", "collector.cli", "serve", "--schemas", str(SCHEMAS), "--workers", "2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "CHARTER_KEYS": str(TEST_KEYS)},
    )  # fmt: skip
    assert r.returncode == 2
    assert "--dedupe-store redis://HOST:PORT/DB" in r.stderr and "com.acme.shop/payment/1.0.0" in r.stderr


def test_serve_with_a_store_it_cannot_reach_stops_at_start_in_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import SCHEMAS, free_port

    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    r = subprocess.run(
        [sys.executable, "-m", "collector.cli", "serve", "--schemas", str(SCHEMAS), "--dedupe-store", url],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "CHARTER_KEYS": str(TEST_KEYS)},
    )  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.startswith("error: cannot reach the dedupe store at redis://:***@127.0.0.1:")
    assert len(r.stderr.strip().splitlines()) == 1 and "hunter2" not in r.stderr
