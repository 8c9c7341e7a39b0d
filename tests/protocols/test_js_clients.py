"""The official JavaScript clients against a real `charter serve --sink kafka`: the Snowplow
browser tracker in headless Chromium on a page of another origin (credentialed CORS), and
`@segment/analytics-node` with its write key. Scripts in tests/protocols/js; without Node.js,
its packages or Chromium the tests are skipped (CHARTER_REQUIRE_BROWSER=1 makes that a failure)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Collector, consume
from tests.protocols.conftest import WRITE_KEY, serve

pytestmark = pytest.mark.kafka

JS = Path(__file__).parent / "js"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))


def _need(condition: object, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CHARTER_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (CHARTER_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


def node(script: str, *args: str) -> dict[str, Any]:
    exe = shutil.which("node")
    _need(exe, "node not installed")
    _need((JS / "node_modules" / "playwright-core").is_dir(), "run `npm ci --prefix tests/protocols/js`")
    done = subprocess.run([str(exe), str(JS / script), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


@pytest.fixture(scope="module")
async def collector(
    protocol_kafka: str, protocol_schemas: Path, protocol_logs: Path, auth_file: Path
) -> AsyncIterator[Collector]:
    async with serve(protocol_kafka, protocol_schemas, protocol_logs) as c:
        yield c


async def test_snowplow_browser_tracker_in_chromium_delivers_through_credentialed_cors(collector: Collector) -> None:
    _need(CHROMIUM.exists(), f"{CHROMIUM} not installed (apt-get install chromium)")
    marker = uuid.uuid4().hex
    out = node("snowplow_browser.mjs", collector.url, marker)
    assert out["failed"] == [] and out["errors"] == []
    assert len(out["sent"]) == 5  # the trackers saw every request answered: CORS let the page read the answers
    assert sorted(set(out["requests"])) == ["GET /i", "POST /com.snowplowanalytics.snowplow/tp2"]
    kinds = {}
    for payload in out["sent"]:
        if payload["e"] == "ue":
            ctx = json.loads(payload["co"] if "co" in payload else base64.urlsafe_b64decode(payload["cx"] + "=="))
            kinds["good_click" if ctx["data"][0]["data"]["email"] == "ada@acme.example" else "bad_click"] = payload
        else:
            kinds["pixel" if payload.get("se_ca") == "pixel" else payload["e"]] = payload
    ids = {name: p["eid"] for name, p in kinds.items()}
    topics = {"events.com.snowplowanalytics.snowplow.page_view.v1", "events.com.acme.web.link_click.v1",
              "events.com.snowplowanalytics.snowplow.structured_event.v1", "events.bad"}  # fmt: skip
    by_id = (await consume(collector.bootstrap, topics, ids.values())).by_id()
    pv, se, good, bad, pixel = (by_id[ids[k]][0] for k in ("pv", "se", "good_click", "bad_click", "pixel"))
    assert pv.topic == "events.com.snowplowanalytics.snowplow.page_view.v1", pv.value
    assert pv.value["data"]["page_url"].startswith(out["site"]) and pv.value["data"]["page_title"] == marker
    client = pv.value["source"]["client"]
    assert (client["aid"], client["p"], client["uid"]) == ("shop-web", "web", "u-1") and client["tv"].startswith("js-")
    assert se.value["data"]["se_label"] == marker and se.value["data"]["se_value"] == 2
    assert pixel.value["data"] == {"se_category": "pixel", "se_action": "view", "se_label": marker}  # sent with GET /i
    assert good.topic == "events.com.acme.web.link_click.v1"
    assert "ada@acme.example" not in json.dumps(good.value)  # the context's PII field, hashed
    assert (bad.topic, bad.value["error"]["failures"][0]["path"]) == ("events.bad", "$.contexts[0].data.email")


async def test_segment_analytics_node_batch_lands_by_contract(
    protocol_kafka: str, protocol_schemas: Path, protocol_logs: Path, auth_file: Path
) -> None:
    marker = uuid.uuid4().hex
    async with serve(protocol_kafka, protocol_schemas, protocol_logs, "--auth", str(auth_file)) as collector:
        out = node("segment_node.mjs", collector.url, WRITE_KEY, marker)
        assert out["errors"] == [] and set(out["ids"]) == {"order", "bad_order", "identify", "unplanned"}
        ids = out["ids"]
        topics = {"events.com.acme.shop.order_completed.v1", "events.com.acme.shop.customer_traits.v1", "events.bad"}
        by_id = (await consume(collector.bootstrap, topics, ids.values())).by_id()
    order, bad, ident, unplanned = (by_id[ids[k]][0] for k in ("order", "bad_order", "identify", "unplanned"))
    assert (order.topic, order.value["data"]["order_id"]) == ("events.com.acme.shop.order_completed.v1", marker)
    assert order.value["source"]["key"] == "shop-backend"
    assert order.value["source"]["client"]["context"]["library"]["name"] == "@segment/analytics-node"
    assert (bad.topic, bad.value["error"]["failures"][0]["path"]) == ("events.bad", "$.revenue")
    assert ident.topic == "events.com.acme.shop.customer_traits.v1"
    assert (unplanned.topic, unplanned.value["error"]["type"]) == ("events.bad", "unknown_schema")
