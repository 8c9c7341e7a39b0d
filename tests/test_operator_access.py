"""Operator pages need the admin token (or loopback), /ui's browser headers, the Host allow-list, CORS headers."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from collector.app import UI_PAGE, create_app
from collector.contracts import Registry
from collector.settings import Settings
from collector.sinks.memory import MemorySink
from tests.conftest import TEST_KEYS

TOKEN = "admin-token-0123456789abcdef"
LOOPBACK, REMOTE = ("127.0.0.1", 50000), ("203.0.113.7", 50000)
OPERATOR = [("GET", "/v1/stats"), ("GET", "/v1/stats/bad?schema=com.acme.shop/payment/1.0.0"), ("GET", "/ui"), ("GET", "/v1/memory/good"), ("GET", "/v1/memory/bad"),
            ("POST", "/v1/memory/reset")]  # fmt: skip


def client(registry: Registry, peer: tuple[str, int], **settings: Any) -> TestClient:
    return TestClient(create_app(Settings(keys=TEST_KEYS, **settings), registry, MemorySink()), client=peer)


@pytest.fixture
def guarded(registry: Registry) -> Iterator[TestClient]:
    with client(registry, REMOTE, admin_token=TOKEN) as c:
        yield c


@pytest.mark.parametrize(("method", "path"), OPERATOR)
def test_without_a_token_operator_pages_answer_loopback_only(registry: Registry, method: str, path: str) -> None:
    with client(registry, REMOTE) as remote:
        r = remote.request(method, path)
        assert r.status_code == 403
        assert "--admin-token" in r.json()["error"]["resolution"]
    with client(registry, LOOPBACK) as local:
        assert local.request(method, path).status_code == 200


@pytest.mark.parametrize(("method", "path"), OPERATOR)
def test_with_a_token_operator_pages_need_it(guarded: TestClient, method: str, path: str) -> None:
    missing = guarded.request(method, path)
    assert missing.status_code == 401
    assert "Bearer" in missing.headers["www-authenticate"]
    assert guarded.request(method, path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert guarded.request(method, path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_token_also_guards_loopback_clients(registry: Registry) -> None:
    with client(registry, LOOPBACK, admin_token=TOKEN) as local:
        assert local.get("/v1/stats").status_code == 401


def test_a_browser_may_send_the_token_as_basic_password(guarded: TestClient) -> None:
    basic = base64.b64encode(f"operator:{TOKEN}".encode()).decode()
    assert guarded.get("/ui", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    assert "Basic" in guarded.get("/ui").headers["www-authenticate"]  # so the browser asks for it


def test_collecting_and_health_stay_public(guarded: TestClient) -> None:
    assert guarded.get("/health").status_code == 200
    assert guarded.get("/v1/schemas").status_code == 200
    assert guarded.post("/v1/events", json={"schema": "x/y/1", "data": {}}).status_code == 207


def test_ui_sends_csp_frame_and_sniffing_headers_and_the_csp_allows_exactly_its_script(registry: Registry) -> None:
    with client(registry, LOOPBACK) as local:
        r = local.get("/ui")
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "connect-src 'self'" in csp
    [script] = re.findall(r"<script>(.*?)</script>", UI_PAGE.read_text(), flags=re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp
    assert "unsafe-inline" not in csp


@pytest.mark.parametrize(
    ("host", "status"),
    [
        pytest.param("collector.acme.com", 200, id="listed"),
        pytest.param("collector.acme.com:8080", 200, id="listed-with-port"),
        pytest.param("eu.events.acme.com", 200, id="wildcard"),
        pytest.param("attacker.example", 400, id="rebinding"),
        pytest.param("events.acme.com.attacker.example", 400, id="suffix-trick"),
        pytest.param("", 400, id="empty"),
    ],
)
def test_allowed_hosts_refuse_other_host_headers_with_400(registry: Registry, host: str, status: int) -> None:
    allowed = ("collector.acme.com", "*.events.acme.com")
    with client(registry, LOOPBACK, allowed_hosts=allowed) as c:
        r = c.get("/health", headers={"Host": host})
    assert r.status_code == status
    if status == 400:
        assert r.json()["error"]["type"] == "host_not_allowed"
        assert "x-request-id" in r.headers


def test_without_allowed_hosts_any_host_is_served(registry: Registry) -> None:
    with client(registry, LOOPBACK) as c:
        assert c.get("/health", headers={"Host": "anything.example"}).status_code == 200


def test_cors_lets_browsers_send_write_keys_and_trace_headers(registry: Registry) -> None:
    preflight = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type, traceparent, x-request-id"}  # fmt: skip
    with client(registry, LOOPBACK, cors_origins=("https://shop.example",)) as c:
        r = c.options("/v1/events", headers=preflight)
    assert r.status_code == 200
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "traceparent", "x-request-id"} <= allowed
