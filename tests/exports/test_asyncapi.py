"""The AsyncAPI document is valid AsyncAPI 3.0 and describes the envelopes the collector really sends."""

from __future__ import annotations

import json
from typing import Any

import yaml

from codegen.exports import asyncapi
from collector.contracts import Registry
from tests.exports.conftest import NODE_MODULES, bad_envelope, envelopes, need_module, need_node_modules


def _official_schema() -> dict[str, Any]:
    need_node_modules()
    path = NODE_MODULES / "@asyncapi" / "specs" / "schemas" / "3.0.0-without-$id.json"
    return dict(json.loads(path.read_text()))


def _document(registry: Registry) -> dict[str, Any]:
    return dict(yaml.safe_load(asyncapi.render(registry)["asyncapi.yaml"]))


def _errors(schema: dict[str, Any], instance: Any) -> list[str]:
    validator = need_module("jsonschema").Draft7Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(instance)]


def test_document_is_valid_against_the_official_asyncapi_3_schema(registry: Registry) -> None:
    assert _errors(_official_schema(), _document(registry)) == []


def test_official_schema_rejects_an_asyncapi_2_style_operation(registry: Registry) -> None:
    doc = _document(registry)
    next(iter(doc["operations"].values()))["action"] = "publish"  # 2.x verb: proves the check has teeth
    assert _errors(_official_schema(), doc)


def test_every_topic_is_a_channel_and_dead_letter_topics_carry_the_bad_envelope(registry: Registry) -> None:
    doc = _document(registry)
    assert set(doc["channels"]) == set(registry.topics())
    payments = doc["channels"]["payments"]
    assert payments["messages"] == {
        "com.acme.shop.payment.v1": {"$ref": "#/components/messages/com.acme.shop.payment.v1"}
    }
    assert payments["bindings"]["kafka"]["partitions"] == 3
    assert list(doc["channels"]["error-payments"]["messages"]) == ["charter.bad"]
    assert {op["action"] for op in doc["operations"].values()} == {"send"}


def _payload_schema(doc: dict[str, Any], message: str) -> dict[str, Any]:
    """The message's payload schema, resolvable against the whole document (refs are #/components/...)."""
    return {**doc, "$ref": doc["components"]["messages"][message]["payload"]["$ref"]}


def test_real_good_envelopes_match_their_message_payload(registry: Registry) -> None:
    doc = _document(registry)
    for reference, envelope in envelopes(registry).items():
        message = reference.replace("/", ".").rsplit(".", 1)[0] + ".v" + reference.rsplit("/", 1)[1]
        assert _errors(_payload_schema(doc, message), envelope) == [], reference


def test_real_bad_envelope_matches_the_dead_letter_message(registry: Registry) -> None:
    doc = _document(registry)
    assert _errors(_payload_schema(doc, "charter.bad"), bad_envelope(registry)) == []


def test_protected_field_is_published_as_a_string_without_its_pattern(registry: Registry) -> None:
    data = _document(registry)["components"]["schemas"]["com.acme.shop.payment.v1.data"]
    cc = data["properties"]["cc_number"]
    assert cc["type"] == "string" and "pattern" not in cc and cc["x-pii"] != "none"


def test_contract_defs_move_to_components_and_refs_follow(registry: Registry) -> None:
    schemas = _document(registry)["components"]["schemas"]
    items = schemas["com.acme.shop.order.v1.data"]["properties"]["items"]["items"]
    assert items == {"$ref": "#/components/schemas/com.acme.shop.order.v1.defs.item"}
    assert "orderitemid" in schemas["com.acme.shop.order.v1.defs.item"]["properties"]
