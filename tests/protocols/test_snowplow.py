"""The real Snowplow Python tracker (`snowplow-tracker`) sends to a real `charter serve`, and
its events land in real Kafka: good ones in their contract's topic with the tracker's fields
in `source.client`, bad ones in the dead-letter topic with the raw tracker payload and the
precise reason (a context names its entity)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from snowplow_tracker import Emitter, SelfDescribingJson, Subject, Tracker
from snowplow_tracker.events import PagePing, PageView, SelfDescribing, StructuredEvent

from collector.annotate import fingerprint
from tests.conftest import unseal
from tests.integration.conftest import Collector, consume
from tests.protocols.conftest import WRITE_KEY, serve

pytestmark = pytest.mark.kafka

LINK_CLICK = "iglu:com.acme.web/link_click/jsonschema/1-0-0"
USER = "iglu:com.acme.web/user/jsonschema/1-0-0"
GOOD_TOPICS = {
    "com.snowplowanalytics.snowplow/page_view/1.0.0": "events.com.snowplowanalytics.snowplow.page_view.v1",
    "com.snowplowanalytics.snowplow/page_ping/1.0.0": "events.com.snowplowanalytics.snowplow.page_ping.v1",
    "com.snowplowanalytics.snowplow/structured_event/1.0.0": "events.com.snowplowanalytics.snowplow.structured_event.v1",
    "com.acme.web/link_click/1.0.0": "events.com.acme.web.link_click.v1",
}


class RecordingSession(requests.Session):
    """A requests session that keeps every answer, so a test can see what the tracker got back."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[requests.Response] = []

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = super().request(*args, **kwargs)
        self.answers.append(response)
        return response


@pytest.fixture(scope="module")
async def collector(protocol_kafka: str, protocol_schemas: Path, protocol_logs: Path) -> AsyncIterator[Collector]:
    async with serve(protocol_kafka, protocol_schemas, protocol_logs) as c:
        yield c


def tracker(collector: Collector, method: str, session: requests.Session) -> tuple[Tracker, Emitter]:
    port = int(collector.url.rsplit(":", 1)[1])
    emitter = Emitter("127.0.0.1", protocol="http", port=port, method=method, batch_size=50, session=session)  # type: ignore[arg-type]
    subject = Subject().set_user_id("u-1")
    return Tracker("charter-test", emitter, subject=subject, app_id="shop"), emitter


def user(email: str) -> SelfDescribingJson:
    return SelfDescribingJson(USER, {"user_id": "u-1", "email": email})


def click(url: str, *contexts: SelfDescribingJson) -> SelfDescribing:
    return SelfDescribing(
        SelfDescribingJson(LINK_CLICK, {"target_url": url, "element_id": "buy"}), context=list(contexts)
    )


async def sent(collector: Collector, ids: dict[str, str], topics: set[str]) -> dict[str, dict[str, Any]]:
    """The envelope of each tracked event, by name, read from Kafka."""
    got = await consume(collector.bootstrap, topics, ids.values())
    by_id = got.by_id()
    assert all(len(by_id.get(i, [])) == 1 for i in ids.values()), {n: len(by_id.get(i, [])) for n, i in ids.items()}
    out = {}
    for name, eid in ids.items():
        rec = by_id[eid][0]
        out[name] = {"topic": rec.topic, **rec.value}
    return out


async def test_tracker_posts_land_in_contract_topics_and_bad_ones_keep_the_raw_payload_and_the_reason(
    collector: Collector,
) -> None:
    session = RecordingSession()
    t, emitter = tracker(collector, "post", session)
    ids = {
        "page_view": t.track(PageView(page_url="https://shop.acme.example/", page_title="Home")),
        "page_ping": t.track(PagePing(page_url="https://shop.acme.example/", min_x=0, max_x=10, min_y=5, max_y=400)),
        "structured": t.track(StructuredEvent("checkout", "add-to-basket", label="anvil", value=2.5)),
        "click": t.track(click("https://acme.example/buy", user("ada@acme.example"))),
        "bad_payload": t.track(click("ftp://acme.example/buy")),
        "bad_context": t.track(click("https://acme.example/buy", user("ada@acme.example"), user("not-an-email"))),
        "unknown": t.track(SelfDescribing(SelfDescribingJson("iglu:com.acme.web/missing/jsonschema/1-0-0", {}))),
    }
    emitter.flush()
    assert [r.status_code for r in session.answers] == [200]  # one tp2 POST, answered as a Snowplow collector does
    assert session.answers[0].request.url is not None
    assert session.answers[0].request.url.endswith("/com.snowplowanalytics.snowplow/tp2")
    assert all(isinstance(i, str) for i in ids.values())
    env = await sent(collector, {k: str(v) for k, v in ids.items()}, {*GOOD_TOPICS.values(), "events.bad"})

    pv = env["page_view"]
    assert pv["topic"] == GOOD_TOPICS[pv["schema"]]
    assert pv["data"] == {"page_url": "https://shop.acme.example/", "page_title": "Home"}
    client = pv["source"]["client"]
    assert pv["source"]["protocol"] == "snowplow"
    assert (client["e"], client["aid"], client["uid"], client["p"]) == ("pv", "shop", "u-1", "pc")
    assert client["tv"].startswith("py-") and "dtm" in client and "url" not in client  # url went into data
    assert pv["fingerprint"] == fingerprint(pv["schema"], pv["data"])  # a retry of the same event: same fingerprint
    assert env["page_ping"]["data"] == {"page_url": "https://shop.acme.example/", "pp_xoffset_min": 0,
                                        "pp_xoffset_max": 10, "pp_yoffset_min": 5, "pp_yoffset_max": 400}  # fmt: skip
    assert env["structured"]["data"] == {"se_category": "checkout", "se_action": "add-to-basket",
                                         "se_label": "anvil", "se_value": 2.5}  # fmt: skip

    good = env["click"]
    assert (good["topic"], good["schema"]) == (
        GOOD_TOPICS["com.acme.web/link_click/1.0.0"],
        "com.acme.web/link_click/1.0.0",
    )
    assert good["data"] == {"target_url": "https://acme.example/buy", "element_id": "buy"}
    [ctx] = good["contexts"]
    assert ctx["schema"] == "com.acme.web/user/1.0.0" and ctx["data"]["user_id"] == "u-1"
    assert "ada@acme.example" not in json.dumps(good)  # the context's x-pii field is protected by its own contract

    bad = env["bad_payload"]
    assert (bad["topic"], bad["schema"], bad["error"]["type"]) == (
        "events.bad",
        "com.acme.web/link_click/1.0.0",
        "invalid_payload",
    )
    assert [(f["path"], f["keyword"]) for f in bad["error"]["failures"]] == [("$.target_url", "pattern")]
    assert bad["payload"]["e"] == "ue" and "ue_px" in bad["payload"]  # the tracker's own payload, as sent
    inner = json.loads(base64.urlsafe_b64decode(bad["payload"]["ue_px"] + "=="))
    assert inner["data"] == {
        "schema": LINK_CLICK,
        "data": {"target_url": "ftp://acme.example/buy", "element_id": "buy"},
    }

    bad = env["bad_context"]
    assert (bad["topic"], bad["error"]["type"]) == ("events.bad", "invalid_payload")
    [failure] = bad["error"]["failures"]
    assert (failure["path"], failure["keyword"]) == ("$.contexts[1].data.email", "format")
    assert failure["schema_path"].startswith("com.acme.web/user/1.0.0#")  # names the entity's contract
    assert "not-an-email" not in json.dumps(bad) and "ada@acme.example" not in json.dumps(bad)
    raw = json.loads(unseal(bad["payload"]))  # a context with x-pii: the raw payload is sealed whole
    assert raw["e"] == "ue" and "cx" in raw and raw["eid"] == ids["bad_context"]

    bad = env["unknown"]
    assert (bad["schema"], bad["error"]["type"]) == ("com.acme.web/missing/1.0.0", "unknown_schema")


async def test_pixel_gets_a_gif_and_its_event_lands_in_kafka(collector: Collector) -> None:
    session = RecordingSession()
    t, emitter = tracker(collector, "get", session)
    eid = t.track(StructuredEvent("newsletter", "open", label="issue-42"))
    emitter.flush()
    [answer] = session.answers
    assert answer.request.url is not None and "/i?" in answer.request.url
    assert (answer.status_code, answer.headers["content-type"]) == (200, "image/gif")
    assert answer.content.startswith(b"GIF89a")
    env = await sent(
        collector, {"se": str(eid)}, {GOOD_TOPICS["com.snowplowanalytics.snowplow/structured_event/1.0.0"]}
    )
    assert env["se"]["data"] == {"se_category": "newsletter", "se_action": "open", "se_label": "issue-42"}
    assert env["se"]["source"]["client"]["aid"] == "shop"


@pytest.mark.parametrize("path", ["/com.snowplowanalytics.snowplow/tp2", "/i"])
async def test_browser_trackers_get_credentialed_cors(collector: Collector, path: str) -> None:
    origin = "https://shop.acme.example"
    async with httpx.AsyncClient(base_url=collector.url) as http:
        pre = await http.options(path, headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                                "Access-Control-Request-Headers": "content-type"})  # fmt: skip
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == origin  # never `*` with credentials
        assert pre.headers["access-control-allow-credentials"] == "true"
        assert "content-type" in pre.headers["access-control-allow-headers"]
        body = {"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
                "data": [{"e": "pv", "url": "https://shop.acme.example/", "tv": "js-4.0.0", "p": "web"}]}  # fmt: skip
        post = await http.post(path, json=body, headers={"Origin": origin})
        assert post.status_code == 200
        assert post.headers["access-control-allow-origin"] == origin
        assert post.headers["access-control-allow-credentials"] == "true"


async def test_with_write_keys_a_tracker_presents_its_key_and_one_without_is_refused(
    protocol_kafka: str, protocol_schemas: Path, protocol_logs: Path, auth_file: Path
) -> None:
    async with serve(protocol_kafka, protocol_schemas, protocol_logs, "--auth", str(auth_file)) as collector:
        keyed, anonymous = RecordingSession(), RecordingSession()
        keyed.auth = (WRITE_KEY, "")  # HTTP Basic with the key as user name
        t, emitter = tracker(collector, "post", keyed)
        eid = t.track(StructuredEvent("checkout", "pay"))
        emitter.flush()
        t2, emitter2 = tracker(collector, "post", anonymous)
        t2.track(StructuredEvent("checkout", "pay"))
        emitter2.flush()
        assert [a.status_code for a in keyed.answers] == [200]
        assert [a.status_code for a in anonymous.answers] == [401]  # the tracker does not retry a 401
        env = await sent(
            collector, {"se": str(eid)}, {GOOD_TOPICS["com.snowplowanalytics.snowplow/structured_event/1.0.0"]}
        )
    assert env["se"]["source"]["key"] == "shop-backend"
