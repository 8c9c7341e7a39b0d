"""The generated Tracker and AsyncTracker against a scripted collector (stdlib HTTP server in a thread).

What a host app would notice: invalid events fail at the call site (strict) or reach on_failure,
batches go out by count, bytes and time, 429/503/network errors are retried with backoff while
each event keeps its id, 207 and 4xx are never retried, nothing is dropped unreported, exit flushes.
"""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.codegen.pysdk import SDK_DIR, FakeCollector, Reply, collected, payment, rejecting, sdk
from tests.conftest import free_port


def test_503_twice_then_200_is_retried_with_backoff_and_the_collector_keeps_each_event_once() -> None:
    with (
        FakeCollector(Reply(503, {"Retry-After": "1"}), Reply(503)) as fake,
        sdk.Tracker(fake.url, backoff=0.2, flush_interval=60) as tracker,
    ):
        ids = [tracker.track(payment(order_id=i)) for i in (1, 2, 3)]
        assert tracker.flush(timeout=10)
    first, second, third = fake.requests
    assert first.ids == second.ids == third.ids == ids  # retried events keep their id
    assert second.at - first.at >= 1.0  # Retry-After: 1 is honoured
    assert third.at - second.at >= 0.2  # backoff 0.2 * 2**1, jittered down to half at most
    assert [e["id"] for e in fake.accepted] == ids
    assert (tracker.stats.sent, tracker.stats.retries, tracker.stats.dropped) == (3, 2, 0)


def test_429_is_retried_like_503() -> None:
    with FakeCollector(Reply(429, {"Retry-After": "0"})) as fake, sdk.Tracker(fake.url, backoff=0.01) as tracker:
        event_id = tracker.track(payment())
        assert tracker.flush(timeout=10)
    assert [r.ids for r in fake.requests] == [[event_id], [event_id]]


def test_207_rejected_events_reach_on_failure_and_are_never_retried() -> None:
    failures: list[Any] = []
    with (
        FakeCollector(rejecting(1)) as fake,
        sdk.Tracker(fake.url, on_failure=failures.append, flush_interval=60) as tracker,
    ):
        ids = [tracker.track(payment(order_id=i)) for i in (1, 2, 3)]
        assert tracker.flush(timeout=10)
    assert len(fake.requests) == 1
    assert list(collected(failures)) == [("rejected", ids[1])]
    assert failures[0].events[0].error["type"] == "invalid_payload"
    assert (tracker.stats.sent, tracker.stats.rejected, tracker.stats.retries) == (2, 1, 0)


def test_a_broken_rule_is_caught_before_sending_with_the_rules_extra() -> None:
    with FakeCollector() as fake, sdk.Tracker(fake.url, strict=True) as tracker:
        with pytest.raises(sdk.InvalidEvent, match=r": rule confirmation_code_format: confirmation_code must be 8"):
            tracker.track(payment(confirmation_code="lower"))  # the schema allows it; a CEL rule does not
        tracker.track(payment(status="paid", amount=0))  # a `flag` rule never rejects
        assert tracker.flush(timeout=10)
    assert len(fake.accepted) == 1


def test_without_the_rules_extra_a_rule_violation_comes_back_saying_the_collector_checks_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sdk._rules, "cel", None)  # as if cel-expr-python were not installed
    monkeypatch.setattr(sdk._check, "_validators", {})
    failures: list[Any] = []
    with (
        FakeCollector(rejecting(0, kind="rule_violation")) as fake,
        sdk.Tracker(fake.url, on_failure=failures.append) as tracker,
    ):
        event_id = tracker.track(payment(confirmation_code="lower"))
        assert tracker.flush(timeout=10)
    assert list(collected(failures)) == [("rejected", event_id)]
    assert "rule_violation: contract rules (x-contract.rules, CEL) are checked by the collector" in failures[0].message


def test_a_refused_request_is_reported_and_not_retried() -> None:
    failures: list[Any] = []
    refused = Reply(400, body={"error": {"type": "malformed_body", "message": "invalid JSON"}})
    with FakeCollector(refused) as fake, sdk.Tracker(fake.url, on_failure=failures.append) as tracker:
        event_id = tracker.track(payment())
        assert tracker.flush(timeout=10)
    assert len(fake.requests) == 1
    assert list(collected(failures)) == [("refused", event_id)]
    assert "400" in failures[0].message and "malformed_body" in failures[0].message


def test_network_errors_are_retried_then_reported_and_never_raise_into_the_app() -> None:
    failures: list[Any] = []
    nobody = f"http://127.0.0.1:{free_port()}"
    with sdk.Tracker(nobody, on_failure=failures.append, max_retries=2, backoff=0.01) as tracker:
        event_id = tracker.track(payment())
        assert tracker.flush(timeout=10)
    assert list(collected(failures)) == [("undeliverable", event_id)]
    assert "after 3 attempts" in failures[0].message
    assert (tracker.stats.retries, tracker.stats.dropped) == (2, 1)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"order_id": "1001"}, "$.order_id: expected integer", id="str-for-int"),
        pytest.param({"order_id": 0}, "$.order_id: must be >= 1", id="minimum"),
        pytest.param({"cc_number": "4111"}, '$.cc_number: must match the pattern "^[0-9]{12,19}$"', id="pattern"),
        pytest.param(
            {"ts": datetime.datetime(2026, 11, 21, 10, 0)}, "$.ts: must be a valid date-time", id="naive-datetime"
        ),
        # what the msgspec types never caught: the collector's own engine runs here now
        pytest.param({"amount": 9.999}, "$.amount: must be a multiple of 0.01", id="fractional-multiple-of"),
        pytest.param({"cc_number": "4111111111111111\n"}, "$.cc_number: must match", id="ecma-dollar"),
        pytest.param({"cc_number": "\uff14" + "\uff11" * 11}, "$.cc_number: must match", id="ecma-ascii-digits"),
    ],
)
def test_strict_mode_raises_at_the_call_site(fields: dict[str, Any], message: str) -> None:
    with FakeCollector() as fake, sdk.Tracker(fake.url, strict=True) as tracker:
        with pytest.raises(sdk.InvalidEvent, match=f"^com.acme.shop/payment/1: {re.escape(message)}") as raised:
            tracker.track(payment(**fields))
        assert tracker.flush(timeout=10)
    assert fake.requests == []
    assert "4111" not in str(raised.value)  # the reason names the contract's limits, never the event's values


def test_invalid_events_go_to_on_failure_and_are_dropped_while_valid_ones_are_sent() -> None:
    failures: list[Any] = []
    with FakeCollector() as fake, sdk.Tracker(fake.url, on_failure=failures.append) as tracker:
        assert tracker.track(payment(order_id=0)) is None
        good = tracker.track(payment())
        assert tracker.flush(timeout=10)
    assert [r.ids for r in fake.requests] == [[good]]
    assert [(f.reason, f.message) for f in failures] == [
        ("invalid", "com.acme.shop/payment/1: $.order_id: must be >= 1")
    ]
    assert b'"order_id":0' in failures[0].events[0].data
    assert (tracker.stats.invalid, tracker.stats.sent) == (1, 1)


def test_a_full_queue_drops_new_events_and_reports_each_drop() -> None:
    failures: list[Any] = []
    with FakeCollector() as fake:
        with sdk.Tracker(
            fake.url, max_queue=2, batch_size=100, flush_interval=60, on_failure=failures.append
        ) as tracker:
            ids = [tracker.track(payment(order_id=i)) for i in range(1, 6)]
            assert ids[2:] == [None, None, None] and None not in ids[:2]
            assert tracker.flush(timeout=10)
        assert [r.ids for r in fake.requests] == [ids[:2]]
    assert [f.reason for f in failures] == ["queue_full"] * 3
    assert tracker.stats.dropped == 3


def test_batches_are_cut_by_count_and_by_bytes_and_gzipped() -> None:
    with FakeCollector() as fake:
        with sdk.Tracker(fake.url, batch_size=2, flush_interval=60) as tracker:
            for i in range(1, 6):
                tracker.track(payment(order_id=i))
            assert tracker.flush(timeout=10)
        assert [len(r.events) for r in fake.requests] == [2, 2, 1]
        assert {r.headers["Content-Encoding"] for r in fake.requests} == {"gzip"}
        with sdk.Tracker(fake.url, max_bytes=300, flush_interval=60, gzip=False) as tracker:
            for i in range(1, 4):
                tracker.track(payment(order_id=i))
            assert tracker.flush(timeout=10)
        assert [len(r.events) for r in fake.requests[3:]] == [1, 1, 1]  # each event is over half the limit
        assert "Content-Encoding" not in fake.requests[-1].headers


def test_a_lone_event_is_sent_once_flush_interval_has_passed() -> None:
    with FakeCollector() as fake, sdk.Tracker(fake.url, flush_interval=0.05) as tracker:
        event_id = tracker.track(payment())
        [request] = fake.wait_for_requests(1)
    assert request.ids == [event_id]
    event = request.events[0]
    assert (event["schema"], event["data"]["ts"]) == ("com.acme.shop/payment/1", "2026-11-21T10:00:00Z")
    assert event["sent_at"].endswith("Z") and event["id"][14] == "7"  # RFC 3339 UTC, UUIDv7


def test_close_gives_up_after_its_timeout_and_reports_every_event_left() -> None:
    failures: list[Any] = []
    with FakeCollector(*[Reply(503)] * 20) as fake:
        tracker = sdk.Tracker(fake.url, on_failure=failures.append, backoff=30, batch_size=2, flush_interval=60)
        ids = [tracker.track(payment(order_id=i)) for i in (1, 2, 3)]
        fake.wait_for_requests(1)  # the first batch is now waiting out its backoff
        started = time.monotonic()
        tracker.close(timeout=0.2)
        assert time.monotonic() - started < 5
    assert sorted(event_id for _, event_id in collected(failures)) == sorted(ids)
    assert {reason for reason, _ in collected(failures)} == {"undeliverable", "closed"}
    assert tracker.track(payment()) is None
    assert failures[-1].reason == "closed"


def test_events_still_queued_at_exit_are_flushed() -> None:
    script = """
import asyncio, datetime, sys
from charter_events import AsyncTracker, PaymentV1, Tracker
ts = datetime.datetime.now(datetime.UTC)
def event(i):
    return PaymentV1(order_id=i, product_id=7, amount=9.5, confirmation_code="AB12CD34", cc_number="4111111111111111", ts=ts)
tracker = Tracker(sys.argv[1], flush_interval=60)
print(tracker.track(event(1)))
atracker = AsyncTracker(sys.argv[1], flush_interval=60)
async def main():
    print(atracker.track(event(2)))
asyncio.run(main())
"""
    with FakeCollector() as fake:
        env = {**os.environ, "PYTHONPATH": str(SDK_DIR)}
        done = subprocess.run(
            [sys.executable, "-c", script, fake.url], env=env, capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        assert sorted(e["id"] for e in fake.accepted) == sorted(done.stdout.split())


async def test_async_tracker_checks_batches_and_retries_like_tracker() -> None:
    failures: list[Any] = []
    with FakeCollector(Reply(503)) as fake:
        async with sdk.AsyncTracker(fake.url, on_failure=failures.append, backoff=0.01, flush_interval=60) as tracker:
            ids = [tracker.track(payment(order_id=i)) for i in (1, 2)]
            assert tracker.track(payment(order_id=0)) is None
            assert await tracker.flush(timeout=10)
    assert [r.ids for r in fake.requests] == [ids, ids]
    assert [e["id"] for e in fake.accepted] == ids
    assert list(collected(failures)) == [("invalid", None)]
    assert (tracker.stats.sent, tracker.stats.retries, tracker.stats.invalid) == (2, 1, 1)


async def test_async_tracker_strict_mode_raises_and_207_is_reported_not_retried() -> None:
    failures: list[Any] = []
    with FakeCollector(rejecting(0)) as fake:
        async with sdk.AsyncTracker(fake.url, strict=True, on_failure=failures.append) as tracker:
            with pytest.raises(sdk.InvalidEvent, match=r"\$\.order_id: expected integer"):
                tracker.track(payment(order_id="1"))
            event_id = tracker.track(payment())
            assert await tracker.flush(timeout=10)
    assert len(fake.requests) == 1
    assert list(collected(failures)) == [("rejected", event_id)]


async def test_async_tracker_close_gives_up_after_its_timeout_and_reports_every_event_left() -> None:
    failures: list[Any] = []
    nobody = f"http://127.0.0.1:{free_port()}"
    tracker = sdk.AsyncTracker(nobody, on_failure=failures.append, backoff=30, batch_size=2, flush_interval=60)
    ids = [tracker.track(payment(order_id=i)) for i in (1, 2, 3)]
    started = time.monotonic()
    await tracker.close(timeout=0.2)
    assert time.monotonic() - started < 5
    assert sorted(event_id for _, event_id in collected(failures)) == sorted(ids)
    assert tracker.stats.dropped == 3
