"""Each input protocol's own refusals and mappings, in-process (memory sink): what a client
sends that its protocol cannot express as a contract's event is recorded with a precise
reason, and the guarantees of /v1/events (limits, write keys, metrics) hold on every input."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from collector.app import create_app
from collector.contracts import ContractLoadError, load_registry
from collector.settings import Settings
from collector.sinks.memory import MemorySink
from tests.conftest import ROOT, TEST_KEYS, unseal

HERE = Path(__file__).parent
PAYLOAD_DATA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
UE = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
CLICK = "iglu:com.acme.web/link_click/jsonschema/1-0-0"
SNOWPLOW = "com.snowplowanalytics.snowplow"


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("schemas")
    for shipped in ("com.snowplowanalytics.snowplow", "com.segment"):
        shutil.copytree(ROOT / "schemas" / shipped, root / shipped)
    for ns in (HERE / "schemas").iterdir():
        shutil.copytree(ns, root / ns.name)
    return root


@pytest.fixture
def app(schemas: Path) -> Iterator[tuple[TestClient, MemorySink]]:
    sink = MemorySink()
    settings = Settings(schemas=schemas, keys=TEST_KEYS, max_events=3)
    with TestClient(create_app(settings, load_registry(schemas), sink)) as client:
        yield client, sink


def tp2(*events: dict[str, Any]) -> dict[str, Any]:
    return {"schema": PAYLOAD_DATA, "data": list(events)}


def ue(data: Any, schema: str = CLICK) -> str:
    return json.dumps({"schema": UE, "data": {"schema": schema, "data": data}})


def bad(sink: MemorySink) -> list[dict[str, Any]]:
    return sink.envelopes("bad")


@pytest.mark.parametrize(
    ("event", "kind", "path"),
    [
        pytest.param({"e": "ue", "ue_pr": "{not json"}, "malformed_event", "$.ue_pr", id="ue_pr-not-json"),
        pytest.param({"e": "ue", "ue_px": "%%%"}, "malformed_event", "$.ue_px", id="ue_px-not-base64"),
        pytest.param({"e": "ue", "ue_pr": ue({}, "com.acme/x/1")}, "invalid_schema_ref", "$.ue_pr.data.schema",
                     id="not-an-iglu-uri"),
        pytest.param({"e": "tr", "tr_id": "o-1"}, "unknown_schema", "$.e", id="event-type-without-contract"),
        pytest.param({"url": "https://a.example/"}, "malformed_event", "$.e", id="no-event-type"),
        pytest.param({"e": "pv", "url": "https://a.example/", "co": '{"schema": "x", "data": [{"data": {}}]}'},
                     "invalid_schema_ref", "$.co.data[0].schema", id="context-without-schema"),
        pytest.param({"e": "pp", "url": "https://a.example/", "pp_mix": "left"}, "invalid_payload",
                     "$.pp_xoffset_min", id="page-ping-offset-not-a-number"),
    ],
)  # fmt: skip
def test_snowplow_events_that_cannot_be_read_are_recorded_with_the_field_at_fault(
    app: tuple[TestClient, MemorySink], event: dict[str, Any], kind: str, path: str
) -> None:
    client, sink = app
    good = {"e": "se", "se_ca": "a", "se_ac": "b", "eid": "good-1"}
    answer = client.post("/com.snowplowanalytics.snowplow/tp2", json=tp2(good, {**event, "eid": "bad-1"}))
    assert answer.status_code == 200  # as a Snowplow collector answers; the bad event is in the dead-letter topic
    [record] = bad(sink)
    assert (record["id"], record["error"]["type"]) == ("bad-1", kind)
    assert record["error"]["failures"][0]["path"] == path
    assert record["source"]["protocol"] == "snowplow"
    assert [e["id"] for e in sink.envelopes("good")] == ["good-1"]


def test_snowplow_base64_fields_and_numbers_sent_as_numbers_are_read(app: tuple[TestClient, MemorySink]) -> None:
    client, sink = app
    px = base64.urlsafe_b64encode(ue({"target_url": "https://a.example/"}).encode()).decode().rstrip("=")
    answer = client.post(
        "/com.snowplowanalytics.snowplow/tp2", json=tp2({"e": "ue", "ue_px": px, "dtm": 1764576000000})
    )
    assert answer.status_code == 200
    [env] = sink.envelopes("good")
    assert (env["schema"], env["data"]) == ("com.acme.web/link_click/1.0.0", {"target_url": "https://a.example/"})
    assert env["sent_at"] == "2025-12-01T08:00:00Z" and env["source"]["client"]["dtm"] == "1764576000000"


def test_snowplow_body_that_is_not_payload_data_is_refused_and_recorded(app: tuple[TestClient, MemorySink]) -> None:
    client, sink = app
    answer = client.post("/com.snowplowanalytics.snowplow/tp2", json={"e": "pv"})
    assert answer.status_code == 400 and answer.json()["error"]["type"] == "malformed_body"
    assert json.loads(unseal(bad(sink)[0]["payload"])) == {"e": "pv"}  # contracts have PII: sealed whole


def test_a_pixel_refused_for_its_write_key_records_its_query_string(schemas: Path, tmp_path: Path) -> None:
    auth = tmp_path / "auth.yaml"
    auth.write_text("keys:\n  - name: web\n    key: sk-web-0123456789abcdef\n    namespaces: ['*']\n")
    sink = MemorySink()
    settings = Settings(schemas=schemas, keys=TEST_KEYS, auth=auth)
    with TestClient(create_app(settings, load_registry(schemas), sink)) as client:
        refused = client.get("/i", params={"e": "pv", "url": "https://a.example/"})
        allowed = client.get("/i", params={"e": "pv", "url": "https://a.example/", "key": "sk-web-0123456789abcdef"})
    assert refused.status_code == 401
    assert (allowed.status_code, allowed.headers["content-type"]) == (200, "image/gif")
    [record] = bad(sink)
    assert record["error"]["type"] == "unauthorized" and "url=https" in unseal(record["payload"])


def test_every_input_keeps_the_event_limit(app: tuple[TestClient, MemorySink]) -> None:
    client, _ = app
    batch = {"batch": [{"type": "track", "event": "E", "userId": "u"}] * 4}
    assert client.post("/v1/batch", json=batch).status_code == 413
    events = [{"e": "pv", "url": "https://a.example/"}] * 4
    assert client.post("/com.snowplowanalytics.snowplow/tp2", json=tp2(*events)).status_code == 413
    ce = [{"specversion": "1.0", "id": str(i), "source": "/s", "type": "t"} for i in range(4)]
    headers = {"content-type": "application/cloudevents-batch+json"}
    assert client.post("/v1/cloudevents", content=json.dumps(ce), headers=headers).status_code == 413


@pytest.mark.parametrize(
    ("message", "path"),
    [
        pytest.param({"type": "track", "event": "Order Completed"}, "$", id="no-user"),
        pytest.param({"type": "launch", "userId": "u"}, "$.type", id="unknown-call"),
        pytest.param({"type": "track", "userId": "u"}, "$.event", id="track-without-event"),
    ],
)
def test_segment_calls_the_api_would_refuse_are_recorded_and_the_batch_still_succeeds(
    app: tuple[TestClient, MemorySink], message: dict[str, Any], path: str
) -> None:
    client, sink = app
    answer = client.post("/v1/batch", json={"batch": [message]})
    assert (answer.status_code, answer.json()["success"]) == (200, True)
    [record] = bad(sink)
    assert (record["error"]["type"], record["error"]["failures"][0]["path"]) == ("malformed_event", path)


def test_segment_malformed_body_answers_with_the_code_its_libraries_read(app: tuple[TestClient, MemorySink]) -> None:
    client, _ = app
    answer = client.post("/v1/batch", content=b"{", headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert (answer.json()["success"], answer.json()["code"]) == (False, "malformed_body")


@pytest.mark.parametrize(
    ("event", "kind", "path"),
    [
        pytest.param({"id": "1", "source": "/s", "type": "com.acme.orders.shipped"}, "malformed_event",
                     "$.specversion", id="no-specversion"),
        pytest.param({"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "dataschema": "https://x/y"},
                     "invalid_schema_ref", "$.dataschema", id="foreign-dataschema"),
        pytest.param({"specversion": "1.0", "id": "1", "source": "/s", "type": "com.acme.orders.shipped",
                      "datacontenttype": "text/plain", "data_base64": "aGk="}, "malformed_event",
                     "$.datacontenttype", id="data-not-json"),
    ],
)  # fmt: skip
def test_cloudevents_that_cannot_be_checked_are_recorded_with_the_attribute_at_fault(
    app: tuple[TestClient, MemorySink], event: dict[str, Any], kind: str, path: str
) -> None:
    client, sink = app
    headers = {"content-type": "application/cloudevents+json"}
    answer = client.post("/v1/cloudevents", content=json.dumps(event), headers=headers)
    assert answer.status_code == 207
    [record] = bad(sink)
    assert (record["error"]["type"], record["error"]["failures"][0]["path"]) == (kind, path)
    assert json.loads(unseal(record["payload"])) == event  # no contract to map it to, and contracts have PII


def test_metrics_count_protocol_events_per_contract(app: tuple[TestClient, MemorySink]) -> None:
    client, _ = app
    client.post("/com.snowplowanalytics.snowplow/tp2", json=tp2({"e": "pv", "url": "https://a.example/"}))
    text = client.get("/metrics").text
    line = next(
        x
        for x in text.splitlines()
        if x.startswith("charter_events_accepted_total{") and 'charter_name="page_view"' in x
    )
    assert line.endswith(" 1.0")


def test_a_tracker_retry_gets_the_same_fingerprint_and_its_own_sent_at(app: tuple[TestClient, MemorySink]) -> None:
    client, sink = app
    event = {"e": "ue", "eid": "e-1", "ue_pr": ue({"target_url": "https://a.example/"}), "dtm": "1764576000000"}
    for stm in ("1764576001000", "1764576061000"):  # a retry: same event, sent again a minute later
        client.post("/com.snowplowanalytics.snowplow/tp2", json=tp2({**event, "stm": stm}))
    first, retry = sink.envelopes("good")
    assert first["fingerprint"] == retry["fingerprint"]
    assert (first["sent_at"], retry["sent_at"]) == ("2025-12-01T08:00:01Z", "2025-12-01T08:01:01Z")


def test_an_iglu_schema_imported_with_charter_import_governs_the_tracker_event_it_names(tmp_path: Path) -> None:
    from codegen.imports.iglu import import_one

    iglu = ROOT / "tests" / "import_fixtures" / "iglu" / "schemas"
    outcome = import_one(iglu / "com.acme" / "linkClick" / "jsonschema" / "1-0-0", iglu, tmp_path)
    assert (outcome.kind, outcome.ref) == ("imported", "com.acme/linkClick/1.0.0")
    sink = MemorySink()
    settings = Settings(schemas=tmp_path, keys=TEST_KEYS)
    with TestClient(create_app(settings, load_registry(tmp_path), sink)) as client:
        link = "iglu:com.acme/linkClick/jsonschema/1-0-0"
        good = {"e": "ue", "eid": "good-1", "ue_pr": ue({"targetUrl": "https://a.example/"}, link)}
        bad_event = {"e": "ue", "eid": "bad-1", "ue_pr": ue({"targetUrl": ""}, link)}
        client.post("/com.snowplowanalytics.snowplow/tp2", json=tp2(good, bad_event))
    [env] = sink.envelopes("good")
    assert (env["schema"], env["data"]) == ("com.acme/linkClick/1.0.0", {"targetUrl": "https://a.example/"})
    [record] = bad(sink)
    assert (record["schema"], record["error"]["failures"][0]["path"]) == ("com.acme/linkClick/1.0.0", "$.targetUrl")


@pytest.mark.parametrize("cors_origins", [(), ("https://shop.acme.example",)], ids=["any-origin", "listed"])
def test_tracker_paths_answer_one_credentialed_cors_origin_whatever_cors_origins_says(
    schemas: Path, cors_origins: tuple[str, ...]
) -> None:
    origin = "https://shop.acme.example"
    settings = Settings(schemas=schemas, keys=TEST_KEYS, cors_origins=cors_origins)
    with TestClient(create_app(settings, load_registry(schemas), MemorySink())) as client:
        answer = client.post("/i", json=tp2({"e": "pv", "url": "https://a.example/"}), headers={"Origin": origin})
        other = client.post(
            "/i", json=tp2({"e": "pv", "url": "https://a.example/"}), headers={"Origin": "https://evil.example"}
        )
    assert answer.headers.get_list("access-control-allow-origin") == [origin]
    assert answer.headers["access-control-allow-credentials"] == "true"
    expected = [] if cors_origins else ["https://evil.example"]  # a listed set of origins is kept
    assert other.headers.get_list("access-control-allow-origin") == expected


def test_two_contract_lines_claiming_one_segment_call_refuse_to_load(schemas: Path, tmp_path: Path) -> None:
    shutil.copytree(schemas, tmp_path / "schemas")
    claimed = json.loads((schemas / "com.acme.shop" / "order_completed" / "1.0.0.json").read_text())
    rival = tmp_path / "schemas" / "com.acme.shop" / "order_done" / "1.0.0.json"
    rival.parent.mkdir()
    rival.write_text(json.dumps(claimed))
    with pytest.raises(ContractLoadError, match=r"x-contract.segment .*Order Completed.* claimed by com.acme.shop/"):
        load_registry(tmp_path / "schemas")


def test_anonymize_ip_truncates_the_addresses_trackers_put_in_their_events(schemas: Path) -> None:
    sink = MemorySink()
    settings = Settings(schemas=schemas, keys=TEST_KEYS, anonymize_ip=True)
    with TestClient(create_app(settings, load_registry(schemas), sink)) as client:
        client.post("/com.snowplowanalytics.snowplow/tp2", json=tp2({"e": "pv", "ip": "203.0.113.77", "url": ""}))
        client.post("/v1/track", json={"event": "Nope", "userId": "u", "context": {"ip": "198.51.100.23"}})
    records = sink.envelopes("bad")
    sealed = [unseal(r["payload"]) for r in records if isinstance(r["payload"], dict) and "protected" in r["payload"]]
    assert len(records) == 2 and len(sealed) == 1  # the Segment call names no contract: sealed whole
    text = json.dumps(records) + "".join(sealed)
    assert "203.0.113.0" in text and "198.51.100.0" in text
    assert "203.0.113.77" not in text and "198.51.100.23" not in text


def test_a_refused_request_never_records_the_write_key_it_carried(schemas: Path, tmp_path: Path) -> None:
    auth = tmp_path / "auth.yaml"
    auth.write_text("keys:\n  - name: web\n    key: sk-web-0123456789abcdef\n    namespaces: ['com.acme.web']\n")
    sink = MemorySink()
    settings = Settings(schemas=schemas, keys=TEST_KEYS, auth=auth)
    with TestClient(create_app(settings, load_registry(schemas), sink)) as client:
        body = b'{"writeKey": "sk-web-0123456789abcdef", "batch": [{"type": "track", '  # cut short: not JSON
        segment = client.post("/v1/batch", content=body, auth=("sk-web-0123456789abcdef", ""))
        pixel = client.get("/i", params={"e": "se", "se_ca": "a", "se_ac": "b", "key": "sk-web-0123456789abcdef"})
    assert (segment.status_code, pixel.status_code) == (400, 403)  # the pixel's contract is outside the key's scope
    records = sink.envelopes("bad")
    text = json.dumps(records) + "".join(unseal(r["payload"]) for r in records)
    assert len(records) == 2 and "[redacted]" in text and "sk-web-0123456789abcdef" not in text


@pytest.mark.parametrize("path", ["/i", "/com.snowplowanalytics.snowplow/i"])
def test_a_head_of_the_pixel_gets_the_gifs_headers_and_records_nothing(
    app: tuple[TestClient, MemorySink], path: str
) -> None:
    client, sink = app
    bare = client.head(path)
    probe = client.head(path, params={"e": "pv", "url": "https://a.example/"})  # a link checker's or prefetch's
    pixel = client.get(path, params={"e": "pv", "url": "https://a.example/"})
    for answer in (bare, probe):
        assert (answer.status_code, answer.content) == (200, b"")
        assert answer.headers["content-type"] == pixel.headers["content-type"] == "image/gif"
        assert answer.headers["cache-control"] == pixel.headers["cache-control"]
    assert (len(sink.envelopes("good")), bad(sink)) == (1, [])  # only the GET was collected


def test_a_context_outside_the_write_keys_scope_refuses_the_request(schemas: Path, tmp_path: Path) -> None:
    auth = tmp_path / "auth.yaml"
    key = "sk-web-0123456789abcdef"
    auth.write_text(f"keys:\n  - name: web\n    key: {key}\n    namespaces: ['com.snowplowanalytics.snowplow']\n")
    user = json.dumps({"schema": "iglu:x/contexts/jsonschema/1-0-0",
                       "data": [{"schema": "iglu:com.acme.web/user/jsonschema/1-0-0", "data": {"user_id": "u-1"}}]})  # fmt: skip
    page_view = {"e": "pv", "url": "https://a.example/", "eid": "pv-1"}
    sink = MemorySink()
    with TestClient(
        create_app(Settings(schemas=schemas, keys=TEST_KEYS, auth=auth), load_registry(schemas), sink)
    ) as c:
        plain = c.post("/com.snowplowanalytics.snowplow/tp2", json=tp2(page_view), auth=(key, ""))
        attached = c.post("/com.snowplowanalytics.snowplow/tp2", json=tp2({**page_view, "co": user}), auth=(key, ""))
        pixel = c.get("/i", params={**page_view, "co": user, "key": key})
    assert plain.status_code == 200
    assert attached.status_code == pixel.status_code == 403
    assert "com.acme.web/user/1.0.0" in attached.json()["error"]["message"]
    assert len(sink.envelopes("good")) == 1  # nothing of a refused request is written to a contract's topic
    assert [r["error"]["type"] for r in bad(sink)] == ["unauthorized", "unauthorized"]


def test_events_over_the_limit_keep_what_the_tracker_sent(app: tuple[TestClient, MemorySink]) -> None:
    client, sink = app
    user = json.dumps({"schema": "iglu:x/contexts/jsonschema/1-0-0", "data": [
        {"schema": "iglu:com.acme.web/user/jsonschema/1-0-0", "data": {"user_id": "u-1", "email": "a@b.example"}}]})  # fmt: skip
    plain = [{"e": "pv", "url": "https://a.example/", "eid": f"pv-{i}"} for i in range(3)]
    with_pii = {"e": "pv", "url": "https://a.example/", "eid": "pv-user", "co": user}
    answer = client.post("/com.snowplowanalytics.snowplow/tp2", json=tp2(*plain, with_pii))
    assert answer.status_code == 413
    records = {r["id"]: r for r in bad(sink)}
    for event in plain:  # no contract they name protects a field: as sent
        record = records[event["eid"]]
        assert (record["payload"], record["error"]["type"]) == (event, "too_large")
        assert (record["schema"], record["source"]["protocol"]) == (f"{SNOWPLOW}/page_view/1", "snowplow")
    sealed = records["pv-user"]["payload"]  # its context's contract protects the email: sealed as a whole
    assert "a@b.example" not in json.dumps(sealed) and json.loads(unseal(sealed)) == with_pii
