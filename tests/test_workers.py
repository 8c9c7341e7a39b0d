"""With `--workers 2`, /metrics adds up what every worker process counted."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from collector.workers import merge
from tests.conftest import charter_serve, payment
from tests.redis_server import redis_server


def test_merge_sums_counters_and_buckets_but_not_identical_gauges() -> None:
    one = '# HELP c_total C\n# TYPE c_total counter\nc_total{a="x"} 2.0\n# HELP charter_contracts_loaded L\n# TYPE charter_contracts_loaded gauge\ncharter_contracts_loaded 9.0\n'
    two = '# HELP c_total C\n# TYPE c_total counter\nc_total{a="x"} 3.0\nc_total{a="y"} 1.5\n# HELP charter_contracts_loaded L\n# TYPE charter_contracts_loaded gauge\ncharter_contracts_loaded 9.0\n'
    merged = merge([one, two])
    assert 'c_total{a="x"} 5.0' in merged and 'c_total{a="y"} 1.5' in merged
    assert "charter_contracts_loaded 9.0" in merged
    assert merged.count("# TYPE c_total counter") == 1


def accepted_total(url: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    return sum(
        float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.startswith("charter_events_accepted_total{")
    )


def test_two_workers_metrics_add_up_to_what_was_sent(tmp_path: Path) -> None:
    with (
        redis_server(tmp_path / "redis") as store,  # --workers 2 with the deduping payment contract needs one
        charter_serve(tmp_path, log=tmp_path / "serve.log", sink="memory", workers="2", dedupe_store=store.url) as url,
    ):
        for i in range(60):  # a new connection each time, so both workers get requests
            with httpx.Client(headers={"Connection": "close"}) as c:
                r = c.post(
                    f"{url}/v1/events", json=[{"schema": "com.acme.shop/payment/1", "data": payment(order_id=i + 1)}]
                )
                assert r.json() == {"accepted": 1, "rejected": 0}
        deadline = time.monotonic() + 10  # other workers publish once a second
        while accepted_total(url) != 60 and time.monotonic() < deadline:
            time.sleep(0.1)  # polling the metric, not synchronising on time
        assert accepted_total(url) == 60
        assert httpx.get(f"{url}/metrics").text.count("target_info{") == 2  # both workers are in the sum
