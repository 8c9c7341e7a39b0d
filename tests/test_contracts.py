"""Loading contracts from the schemas/ layout, and resolving references to them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from collector.contracts import ContractLoadError, Registry, load_registry
from tests.conftest import OWNER


def write(root: Path, rel: str, body: dict[str, Any] | str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return path


def contract_body(**props: Any) -> dict[str, Any]:
    return {"type": "object", "x-contract": OWNER, "properties": props or {"a": {"type": "string"}}}


def test_every_example_contract_loads(registry: Registry) -> None:
    refs = {c.ref for c in registry}
    assert {
        "com.riverhotels.web/customer/1.0.0", "com.riverhotels.web/hotel/1.0.0",
        "com.riverhotels.web/clickstream/1.0.0", "com.acme.shop/order/1.0.0",
        "com.acme.shop/payment/1.0.0", "com.datingapp.interactions/messages/1.0.0",
        "org.metmuseum.collection/object_images/1.0.0",
    } <= refs  # fmt: skip


def test_major_only_reference_resolves_to_newest_version_of_that_major(registry: Registry) -> None:
    newest = registry.get("com.riverhotels.web/clickstream/1")
    assert newest is not None and str(newest.version) == "1.1.0"
    exact = registry.get("com.riverhotels.web/clickstream/1.0.0")
    assert exact is not None and str(exact.version) == "1.0.0"
    assert registry.get("com.riverhotels.web/clickstream/2") is None


def test_default_topics_follow_the_design_naming(registry: Registry) -> None:
    images = registry.get("org.metmuseum.collection/object_images/1")
    assert images is not None
    assert images.topic == "events.org.metmuseum.collection.object_images.v1"
    assert images.dlq_topic == "events.bad"
    payment = registry.get("com.acme.shop/payment/1")
    assert payment is not None and (payment.topic, payment.dlq_topic) == ("payments", "error-payments")


def test_yaml_contracts_load_like_json(tmp_path: Path) -> None:
    write(tmp_path, "com.example.app/signup/1.0.0.yaml",
          "type: object\nx-contract:\n  owner: {name: Growth}\nproperties:\n  plan: {enum: [free, pro]}\n")  # fmt: skip
    registry = load_registry(tmp_path)
    assert [c.ref for c in registry] == ["com.example.app/signup/1.0.0"]


@pytest.mark.parametrize(
    ("rel", "body", "message"),
    [
        pytest.param("com.example.app/signup/1.0.json", contract_body(), "semantic version", id="bad-version"),
        pytest.param("Example/signup/1.0.0.json", contract_body(), "reverse-DNS", id="bad-namespace"),
        pytest.param("com.example.app/sign.up/1.0.0.json", contract_body(), "snake_case", id="bad-name"),
        pytest.param("com.example.app/signup.json", contract_body(), "<namespace>/<name>/<version>", id="bad-layout"),
        pytest.param("com.example.app/signup/1.0.0.json", {"type": "object"}, "missing `x-contract`", id="no-metadata"),
        pytest.param("com.example.app/signup/1.0.0.json", {"x-contract": {"owner": {"name": "x"}, "topik": "t"}}, "unknown field `topik`", id="typo-in-metadata"),
        pytest.param("com.example.app/signup/1.0.0.json", '{\n  "a": 1,\n  not json', "1.0.0.json:3:3: not valid JSON", id="not-json"),
        pytest.param("com.example.app/signup/1.0.0.json", {"type": "object", "x-contract": {"owner": {"name": "x"}, "partition_key": "nope"}}, "partition_key 'nope'", id="bad-partition-key"),
        pytest.param("com.example.app/signup/1.0.0.json", contract_body(card={"type": "string", "x-pii": "scramble"}), "`x-pii` 'scramble'", id="unknown-pii-action"),
    ],
)  # fmt: skip
def test_bad_contract_file_fails_the_load_naming_the_file(tmp_path: Path, rel: str, body: Any, message: str) -> None:
    path = write(tmp_path, rel, body)
    with pytest.raises(ContractLoadError) as err:
        load_registry(tmp_path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_missing_schemas_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ContractLoadError, match="schemas directory does not exist"):
        load_registry(tmp_path / "nope")


def test_topics_take_the_largest_partition_count_per_topic(registry: Registry) -> None:
    topics = registry.topics()
    assert topics["payments"] == 3
    assert topics["interactions.messages"] == 4
    assert topics["events.bad"] == 1 and topics["error-payments"] == 1
