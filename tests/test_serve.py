"""The README's first promise over real HTTP: `charter serve` with the embedded file sink."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import charter_serve, payment


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with charter_serve(tmp_path, log=tmp_path / "serve.log", log_level="debug") as url:
        yield url, tmp_path / "data"


def test_good_event_200_bad_event_207_and_both_land_in_data_dir_as_jsonl(served: tuple[str, Path]) -> None:
    url, data = served
    good = {"schema": "com.acme.shop/payment/1", "id": "pay-good", "data": payment()}
    bad = {"schema": "com.acme.shop/payment/1", "id": "pay-bad", "data": payment(confirmation_code="0")}
    r1 = httpx.post(f"{url}/v1/events", json=good)
    r2 = httpx.post(f"{url}/v1/events", json=bad)
    assert (r1.status_code, r1.json()) == (200, {"accepted": 1, "rejected": 0})
    assert r2.status_code == 207
    assert r2.json()["errors"][0]["failures"][0]["path"] == "$.confirmation_code"
    # a 2xx means durable: the records are on disk the moment the answer arrives
    [good_file] = data.glob("good-*.jsonl")
    [bad_file] = data.glob("bad-*.jsonl")
    assert [json.loads(x)["id"] for x in good_file.read_text().splitlines()] == ["pay-good"]
    bad_env = json.loads(bad_file.read_text())
    assert (bad_env["id"], bad_env["error"]["type"]) == ("pay-bad", "rule_violation")
    assert "4111111111111111" not in good_file.read_text() + bad_file.read_text()
    log = (data.parent / "serve.log").read_text()
    assert "4111111111111111" not in log  # nor in the logs, even at debug
    lines = [json.loads(x) for x in log.splitlines() if x.startswith("{")]
    summaries = [x for x in lines if x["message"] == "events"]
    assert [x["request_id"] for x in summaries] == [r1.headers["x-request-id"], r2.headers["x-request-id"]]
    assert summaries[1]["rejected"] == 1 and "data" not in summaries[1]
