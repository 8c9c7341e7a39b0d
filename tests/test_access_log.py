"""`--access-log`: one line per request, refused ones included, and never a write key."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from collector.access_log import redact_query
from collector.app import create_app
from collector.contracts import Registry
from collector.settings import Settings
from collector.sinks.memory import MemorySink
from tests.conftest import TEST_KEYS, payment

KEY = "shop-key-0123456789abcdef"


def lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "charter.access"]


def test_each_request_is_one_line_and_a_key_in_the_query_is_redacted(
    registry: Registry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps({"keys": [{"name": "web-shop", "key": KEY, "namespaces": ["*"]}]}))
    settings = Settings(keys=TEST_KEYS, auth=auth, access_log=True, anonymize_ip=True)
    caplog.set_level(logging.INFO)
    with TestClient(create_app(settings, registry, MemorySink()), client=("198.51.100.23", 5000)) as c:
        event = {"schema": "com.acme.shop/payment/1", "data": payment()}
        assert c.post(f"/v1/events?key={KEY}&debug=1", json=event).status_code == 200
        assert c.post("/v1/events?key=wrong-key-000000000000", json=event).status_code == 401
        assert c.get("/v1/stats").status_code == 403  # refused before any route: logged all the same
    ok, unauthorized, stats = lines(caplog)
    assert {k: getattr(ok, k) for k in ("method", "path", "query", "status", "client")} == {
        "method": "POST", "path": "/v1/events", "query": "key=[redacted]&debug=1", "status": 200,
        "client": "198.51.100.0",
    }  # fmt: skip
    assert (unauthorized.status, stats.status) == (401, 403)
    everything = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records if not r.name.startswith("httpx"))
    assert KEY not in everything and "wrong-key" not in everything


def test_without_the_flag_nothing_is_logged_per_request(registry: Registry, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with TestClient(create_app(Settings(keys=TEST_KEYS), registry, MemorySink())) as c:
        c.get("/health")
    assert lines(caplog) == []


@pytest.mark.parametrize(
    ("query", "logged"),
    [
        pytest.param(b"", "", id="empty"),
        pytest.param(b"refresh=5000", "refresh=5000", id="kept-as-sent"),
        pytest.param(b"KEY=s3cret", "KEY=[redacted]", id="any-case"),
        pytest.param(b"a=1&token=t&key=k", "a=1&token=[redacted]&key=[redacted]", id="several"),
    ],
)
def test_redact_query(query: bytes, logged: str) -> None:
    assert redact_query(query) == logged
