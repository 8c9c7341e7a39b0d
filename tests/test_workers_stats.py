"""/v1/stats (and so /ui) with --workers N: every worker's counts, added up."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import httpx

from collector.stats import merged_summary
from collector.telemetry import Telemetry
from tests.conftest import charter_serve, payment
from tests.redis_server import redis_server


def test_two_workers_stats_add_up_and_keep_the_latest_failures_first() -> None:
    one, two = Telemetry(1, enabled=True), Telemetry(1, enabled=True)
    key = ("com.acme.shop", "payment", "1.0.0")
    fail = {"schema_key": "com.acme.shop/payment/1.0.0", "id": "x", "type": "invalid_payload", "path": "$",
            "keyword": "type", "message": "m", "excerpt": ""}  # fmt: skip
    one.record(Counter({(*key, "accepted", ""): 3, (*key, "rejected", "invalid_payload"): 1}),
               [{**fail, "at": "2026-12-01T08:00:00Z"}], now=600.0)  # fmt: skip
    two.record(Counter({(*key, "accepted", ""): 2, (*key, "rejected", "invalid_payload"): 1}),
               [{**fail, "at": "2026-12-01T09:00:00Z", "id": "y"}], now=600.0)  # fmt: skip
    [summary] = merged_summary([one.raw(), two.raw()], now=660.0)["contracts"]
    assert (summary["good"], summary["rejected"], summary["duplicates"], summary["bad"]) == (5, 2, 0, 2)
    assert summary["last_minute"] == {"good": 5, "rejected": 2, "duplicates": 0, "bad": 2}
    assert summary["top_errors"] == [{"type": "invalid_payload", "count": 2}]
    assert [(v["type"], v["path"], v["count"]) for v in summary["violations"]] == [("invalid_payload", "$", 2)]
    assert [f["id"] for f in summary["recent_failures"]] == ["y", "x"]
    one.shutdown()
    two.shutdown()


def test_stats_of_two_worker_processes_add_up_to_what_was_sent(tmp_path: Path) -> None:
    with (
        redis_server(tmp_path / "redis") as store,
        charter_serve(tmp_path, sink="memory", workers="2", dedupe_store=store.url) as url,
    ):
        for i in range(30):  # a new connection each time, so both workers get requests
            with httpx.Client(headers={"Connection": "close"}) as c:
                event = {"schema": "com.acme.shop/payment/1", "data": payment(order_id=7000 + i)}
                assert c.post(f"{url}/v1/events", json=[event]).status_code == 200

        def good() -> int:
            stats = httpx.get(f"{url}/v1/stats").json()["contracts"]
            return sum(s["good"] for s in stats if s["schema"] == "com.acme.shop/payment/1.0.0")

        deadline = time.monotonic() + 10
        while good() != 30:  # other workers publish once a second
            assert time.monotonic() < deadline, f"/v1/stats says {good()} of 30"
            time.sleep(0.1)  # polling the stats, not synchronising on time


def test_two_workers_kept_bad_records_merge_newest_first_for_the_drill_down() -> None:
    from collector.stats import merged_records

    one, two = Telemetry(1, enabled=True), Telemetry(1, enabled=True)
    key = ("com.acme.shop", "payment", "1.0.0")
    fail = {"schema_key": "com.acme.shop/payment/1.0.0", "type": "invalid_payload", "path": "$.amount",
            "keyword": "minimum", "message": "m", "excerpt": ""}  # fmt: skip
    for t, at, event_id in ((one, "2026-12-01T08:00:00Z", "x"), (two, "2026-12-01T09:00:00Z", "y")):
        record = b'{"id": "%s"}' % event_id.encode()
        t.record(
            Counter({(*key, "rejected", "invalid_payload"): 1}), [{**fail, "at": at, "id": event_id, "record": record}]
        )
    kept = merged_records([one.raw(), two.raw()], "com.acme.shop/payment/1.0.0")
    assert [(r["id"], r["record"]) for r in kept] == [("y", '{"id": "y"}'), ("x", '{"id": "x"}')]
    [group] = merged_summary([one.raw(), two.raw()])["contracts"][0]["violations"]
    assert (group["path"], group["count"]) == ("$.amount", 2)
    one.shutdown()
    two.shutdown()
