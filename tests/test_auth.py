"""Write keys (--auth): each way of sending a key, 401 and 403 recorded, scopes, rate limits, the file."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from collector import cli, startup
from collector.app import create_app
from collector.auth import AuthFileError, TokenBucket, load_write_keys
from collector.contracts import Registry
from collector.settings import Settings
from collector.sinks.memory import MemorySink
from tests.conftest import TEST_KEYS, payment

SHOP_KEY = "shop-key-0123456789abcdef"
HOTEL_KEY = "hotel-key-0123456789abcdef"
SLOW_KEY = "slow-key-0123456789abcdef"
WRONG_KEY = "wrong-key-0123456789abcdef"
KEYS = {
    "keys": [
        {"name": "web-shop", "key": SHOP_KEY, "namespaces": ["com.acme.shop"]},
        {"name": "hotel-site", "sha256": hashlib.sha256(HOTEL_KEY.encode()).hexdigest(),
         "namespaces": ["com.riverhotels.web"], "contracts": ["com.riverhotels.web/clickstream"]},
        {"name": "slow", "key": SLOW_KEY, "namespaces": ["*"], "rate": 1, "burst": 2},
    ]
}  # fmt: skip
PAYMENT = {"schema": "com.acme.shop/payment/1", "data": payment()}
CUSTOMER = {"schema": "com.riverhotels.web/customer/1", "data": {}}


@pytest.fixture
def auth_file(tmp_path: Path) -> Path:
    path = tmp_path / "auth.json"
    path.write_text(json.dumps(KEYS))
    return path


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def client(registry: Registry, sink: MemorySink, auth_file: Path) -> Iterator[TestClient]:
    app = create_app(Settings(keys=TEST_KEYS, auth=auth_file), registry, sink)
    with TestClient(app, client=("127.0.0.1", 50000)) as c:
        yield c


def grew(before: dict[tuple[str, str, str], float], after: dict[tuple[str, str, str], float]) -> dict[Any, float]:
    """What a test added to the refusal counts (they are per process, shared by every app in it)."""
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def refused(client: TestClient) -> dict[tuple[str, str, str], float]:
    """charter_requests_refused_total by (error_type, status, key name)."""
    out: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            if s.name == "charter_requests_refused_total":
                labels = s.labels
                out[(labels["error_type"], labels["http_response_status_code"], labels.get("charter_key", ""))] = (
                    s.value
                )
    return out


@pytest.mark.parametrize(
    ("headers", "url"),
    [
        pytest.param(bearer(SHOP_KEY), "/v1/events", id="bearer"),
        pytest.param(
            {"Authorization": "Basic " + base64.b64encode(f"{SHOP_KEY}:".encode()).decode()}, "/v1/events", id="basic"
        ),
        pytest.param({}, f"/v1/events?key={SHOP_KEY}", id="query"),
    ],
)
def test_a_valid_key_is_accepted_in_each_form_and_its_name_lands_in_source(
    client: TestClient, sink: MemorySink, headers: dict[str, str], url: str
) -> None:
    r = client.post(url, json=PAYMENT, headers=headers)
    assert (r.status_code, r.json()) == (200, {"accepted": 1, "rejected": 0})
    [envelope] = sink.envelopes("good")
    assert envelope["source"]["key"] == "web-shop"


def test_without_auth_anyone_may_post_and_source_has_no_key(registry: Registry, sink: MemorySink) -> None:
    with TestClient(create_app(Settings(keys=TEST_KEYS), registry, sink)) as c:
        assert c.post("/v1/events", json=PAYMENT).status_code == 200
    assert "key" not in sink.envelopes("good")[0]["source"]


@pytest.mark.parametrize(
    ("headers", "url"),
    [
        pytest.param({}, "/v1/events", id="no-key"),
        pytest.param(bearer(WRONG_KEY), "/v1/events", id="wrong-bearer"),
        pytest.param({}, f"/v1/events?key={WRONG_KEY}", id="wrong-query"),
        pytest.param({"Authorization": "Basic !!notbase64"}, "/v1/events", id="garbled-basic"),
    ],
)
def test_no_valid_key_answers_401_and_is_recorded_without_the_key(
    client: TestClient, sink: MemorySink, headers: dict[str, str], url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    before = refused(client)
    r = client.post(url, json=PAYMENT, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="charter"'
    body = r.json()
    assert (body["accepted"], body["error"]["type"]) == (0, "unauthorized")
    assert sink.envelopes("good") == []
    [bad] = sink.envelopes("bad")
    assert (bad["id"], bad["error"]["type"]) == (body["recorded_as"], "unauthorized")
    ours = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records if not r.name.startswith("httpx"))
    everything = [json.dumps(sink.envelopes("bad")), r.text, client.get("/v1/stats").text, ours]
    assert not [place for place in everything if WRONG_KEY in place]
    assert not [place for place in everything if payment()["cc_number"] in place]  # the payload is protected
    assert grew(before, refused(client)) == {("unauthorized", "401", ""): 1}


def test_a_contract_outside_the_keys_namespaces_answers_403_and_records_the_request(
    client: TestClient, sink: MemorySink
) -> None:
    before = refused(client)
    r = client.post("/v1/events", json=[PAYMENT, CUSTOMER], headers=bearer(SHOP_KEY))
    assert r.status_code == 403
    body = r.json()
    assert body["error"]["type"] == "unauthorized"
    assert "com.riverhotels.web/customer/1" in body["error"]["message"]
    assert sink.envelopes("good") == []  # the whole request is refused: nothing half-accepted
    [bad] = sink.envelopes("bad")
    assert bad["id"] == body["recorded_as"]
    assert bad["source"]["key"] == "web-shop"
    assert payment()["cc_number"] not in json.dumps(bad)  # the payload is protected
    assert grew(before, refused(client)) == {("forbidden", "403", "web-shop"): 1}


def test_contracts_narrow_a_keys_namespace(client: TestClient) -> None:
    assert client.post("/v1/events", json=CUSTOMER, headers=bearer(HOTEL_KEY)).status_code == 403
    click = {"schema": "com.riverhotels.web/clickstream/1", "data": {}}
    assert client.post("/v1/events", json=click, headers=bearer(HOTEL_KEY)).status_code == 207  # allowed; invalid


def test_a_key_over_its_rate_gets_429_with_retry_after_and_nothing_is_recorded(
    client: TestClient, sink: MemorySink
) -> None:
    two = [{**PAYMENT, "data": payment(order_id=n)} for n in (1, 2)]
    assert client.post("/v1/events", json=two, headers=bearer(SLOW_KEY)).status_code == 200
    before = refused(client)
    r = client.post("/v1/events", json=PAYMENT, headers=bearer(SLOW_KEY))
    assert r.status_code == 429
    assert r.headers["retry-after"] == "1"
    assert r.json()["error"]["type"] == "rate_limited"
    assert len(sink.envelopes("good")) == 2 and sink.envelopes("bad") == []
    other = client.post("/v1/events", json=PAYMENT, headers=bearer(SHOP_KEY))
    assert other.status_code == 200  # other keys are not limited by this one
    assert grew(before, refused(client)) == {("rate_limited", "429", "slow"): 1}


def test_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=10, burst=5, stamp=0.0)
    assert bucket.take(5, now=0.0) == 0
    assert bucket.take(1, now=0.0) == pytest.approx(0.1)
    assert bucket.take(2, now=0.2) == 0  # 0.2 s at 10/s refilled 2
    assert bucket.take(50, now=10.0) == 0  # bigger than the bucket: costs a full bucket


def test_keys_are_kept_as_digests_only(auth_file: Path) -> None:
    keys = load_write_keys(auth_file)
    assert SHOP_KEY not in repr(keys.keys)
    assert keys.identify({"authorization": f"Bearer {SHOP_KEY}"}, {}) is keys.keys[0]
    assert keys.identify({"authorization": f"Bearer {SHOP_KEY}x"}, {}) is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        pytest.param({"name": "a", "namespaces": ["*"]}, "exactly one of `sha256`", id="no-secret"),
        pytest.param({"name": "a", "key": SHOP_KEY, "sha256": "0" * 64, "namespaces": ["*"]}, "exactly one", id="both"),
        pytest.param({"name": "a", "key": "short", "namespaces": ["*"]}, "keys[0].key", id="short-key"),
        pytest.param({"name": "a", "key": SHOP_KEY, "namespaces": []}, "keys[0].namespaces", id="no-namespaces"),
        pytest.param(
            {"name": "a", "key": SHOP_KEY, "namespaces": ["*"], "burst": 3}, "`burst` needs `rate`", id="burst"
        ),
        pytest.param({"name": "a", "key": SHOP_KEY, "namespace": ["*"]}, "unknown field", id="typo"),
    ],
)
def test_a_bad_auth_file_names_the_entry_and_the_fix(tmp_path: Path, entry: dict[str, Any], message: str) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text(json.dumps({"keys": [entry]}))
    with pytest.raises(AuthFileError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        load_write_keys(path)


def test_yaml_auth_files_are_read(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text(f"keys:\n  - name: web-shop\n    key: {SHOP_KEY}\n    namespaces: ['com.acme.shop']\n")
    assert [k.name for k in load_write_keys(path).keys] == ["web-shop"]


def test_serve_refuses_to_start_with_a_bad_auth_file(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text("keys: []\n")
    result = CliRunner().invoke(cli.main, ["serve", "--auth", str(path), "--sink", "memory"])
    assert result.exit_code == 2
    assert f"error: {path}" in result.output


def test_serve_warns_without_auth_on_a_public_address(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Settings] = []
    monkeypatch.setattr(startup, "run", lambda settings, registry: started.append(settings))
    public = CliRunner().invoke(cli.main, ["serve", "--host", "0.0.0.0", "--sink", "memory"])
    assert "warning: no --auth: anyone who can reach 0.0.0.0:8080 may post events" in public.output
    local = CliRunner().invoke(cli.main, ["serve", "--sink", "memory"])
    assert "warning" not in local.output
    assert len(started) == 2
