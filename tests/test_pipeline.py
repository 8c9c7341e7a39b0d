"""The per-event path: verdicts, envelopes, fingerprints, routing, PII in good and bad records."""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from collector.annotate import Source, fingerprint, uuid7
from collector.contracts import Registry
from collector.pipeline import Context, Outcome, process

CTX = Context("2026-11-21T10:00:00.123456Z", Source("10.0.0.7", "test-agent/1.0"))


def run(registry: Registry, *events: Any) -> Outcome:
    items = [e if isinstance(e, bytes) else msgspec.json.encode(e) for e in events]
    return process(items, registry, CTX)


def value(outcome: Outcome, i: int) -> dict[str, Any]:
    decoded: dict[str, Any] = msgspec.json.decode(outcome.records[i].value)
    return decoded


def pay(**data: Any) -> dict[str, Any]:
    from tests.conftest import payment

    return {"schema": "com.acme.shop/payment/1", "data": payment(**data)}


def test_good_event_becomes_the_design_envelope_on_the_contract_topic(registry: Registry) -> None:
    out = run(registry, {**pay(), "id": "evt-1", "sent_at": "2026-11-21T09:59:59Z"})
    assert out.accepted == 1 and not out.rejections
    rec = out.records[0]
    env = value(out, 0)
    assert (rec.kind, rec.topic, rec.key) == ("good", "payments", b"1001")
    assert env["id"] == "evt-1"
    assert (env["schema"], env["namespace"], env["name"], env["version"]) == (
        "com.acme.shop/payment/1.0.0", "com.acme.shop", "payment", "1.0.0")  # fmt: skip
    assert env["sent_at"] == "2026-11-21T09:59:59Z"
    assert env["collected_at"] == CTX.collected_at
    assert env["source"] == {"ip": "10.0.0.7", "user_agent": "test-agent/1.0"}
    assert env["collector"]["name"] == "charter"
    assert dict(rec.headers) == {"schema": b"com.acme.shop/payment/1.0.0", "fingerprint": env["fingerprint"].encode()}


def test_event_without_id_gets_a_uuid7_and_is_keyed_by_it_without_partition_key(registry: Registry) -> None:
    event = {"schema": "org.metmuseum.collection/object_images_normalized/1",
             "data": {"object_id": 7, "created_at": "2026-11-21T10:00:00Z"}}  # fmt: skip
    out = run(registry, event)
    env = value(out, 0)
    assert env["id"][14] == "7"  # version nibble of a UUIDv7
    assert out.records[0].key == b"7"  # object_id is the partition key


def test_uuid7_is_time_ordered_and_well_formed() -> None:
    ids = [uuid7() for _ in range(50)]
    assert all(len(i) == 36 and i[14] == "7" and i[19] in "89ab" for i in ids)
    assert len(set(ids)) == 50
    assert [i[:13] for i in ids] == sorted(i[:13] for i in ids)


def test_fingerprint_ignores_key_order_and_client_id_but_not_values(registry: Registry) -> None:
    a = run(registry, {**pay(), "id": "one"})
    reordered = {"schema": "com.acme.shop/payment/1", "id": "two", "data": dict(reversed(list(pay()["data"].items())))}
    b = run(registry, reordered)
    c = run(registry, pay(amount=10.5))
    assert value(a, 0)["fingerprint"] == value(b, 0)["fingerprint"]
    assert value(a, 0)["fingerprint"] != value(c, 0)["fingerprint"]
    assert fingerprint("x/y/1.0.0", {"a": 1}) != fingerprint("x/y/2.0.0", {"a": 1})


def test_fingerprint_distinguishes_card_numbers_even_though_they_are_redacted(registry: Registry) -> None:
    a, b = run(registry, pay(cc_number="4111111111111111")), run(registry, pay(cc_number="5500000000000004"))
    assert value(a, 0)["data"]["cc_number"] == value(b, 0)["data"]["cc_number"] == "[redacted]"
    assert value(a, 0)["fingerprint"] != value(b, 0)["fingerprint"]


def test_invalid_payload_goes_to_the_contract_dlq_with_reasons_and_payload_as_received(registry: Registry) -> None:
    out = run(registry, {**pay(amount=-1), "id": "bad-1"})
    rec, env = out.records[0], value(out, 0)
    assert (rec.kind, rec.topic, rec.key) == ("bad", "error-payments", b"bad-1")
    assert dict(rec.headers) == {"schema": b"com.acme.shop/payment/1", "error_type": b"invalid_payload"}
    assert env["error"]["type"] == "invalid_payload"
    assert env["error"]["resolution"]
    assert env["error"]["failures"] == [
        {
            "path": "$.amount",
            "keyword": "minimum",
            "message": "must be >= 0",
            "schema_path": "#/properties/amount/minimum",
        }
    ]
    assert env["payload"]["data"]["amount"] == -1
    assert env["schema"] == "com.acme.shop/payment/1"
    assert out.rejections[0].index == 0 and out.rejections[0].id == "bad-1"


def test_card_number_is_never_in_clear_text_in_good_or_bad_records(registry: Registry) -> None:
    card = "4111111111111111"
    out = run(registry, pay(cc_number=card), pay(cc_number=card, amount=-1),
              {**pay(cc_number=card), "extra_key": True})  # fmt: skip
    assert [r.kind for r in out.records] == ["good", "bad", "bad"]
    assert all(card.encode() not in r.value for r in out.records)


def test_unknown_and_malformed_references_have_distinct_error_types(registry: Registry) -> None:
    out = run(registry, {"schema": "com.acme.shop/payment/9", "data": {}}, {"schema": "payment", "data": {}})
    assert [r.type.value for r in out.rejections] == ["unknown_schema", "invalid_schema_ref"]
    assert all(r.topic == "events.bad" for r in out.records)


def test_malformed_events_are_rejected_one_by_one_with_the_reason(registry: Registry) -> None:
    out = run(registry, {"data": {}}, [1, 2], {**pay(), "sent_at": "yesterday"}, {**pay(), "extra": 1}, pay())
    assert out.accepted == 1
    reasons = [(r.index, r.type.value, r.failures[0].path, r.failures[0].keyword) for r in out.rejections]
    assert reasons == [
        (0, "malformed_event", "$.schema", "required"),
        (1, "malformed_event", "$", "type"),
        (2, "malformed_event", "$.sent_at", "format"),
        (3, "malformed_event", "$.extra", "additionalProperties"),
    ]


def test_invalid_json_line_is_sealed_whole_when_contracts_have_pii(registry: Registry) -> None:
    raw = b'{"schema": "com.acme.shop/payment/1", "data": '
    out = run(registry, raw)
    env = value(out, 0)
    assert env["error"]["type"] == "malformed_event"
    # no key ring here: the payload is kept as its size and digest, never as clear text
    assert env["payload"] == {"protected": "whole", "bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
    assert env["schema"] is None


def test_wrong_data_type_is_an_invalid_payload_at_the_root(registry: Registry) -> None:
    out = run(registry, {"schema": "com.acme.shop/payment/1", "data": "not an object"})
    assert (out.rejections[0].type.value, out.rejections[0].failures[0].path) == ("invalid_payload", "$")


def test_card_number_is_protected_even_when_the_event_names_an_unloaded_payment_version(registry: Registry) -> None:
    card = "4111111111111111"
    out = run(registry, {"schema": "com.acme.shop/payment/7", "data": {"cc_number": card}},
              {"schema": "com.acme.shop/payment/1.0.9", "data": {"cc_number": card}, "oops": 1})  # fmt: skip
    assert [r.type.value for r in out.rejections] == ["unknown_schema", "malformed_event"]
    assert all(card.encode() not in r.value for r in out.records)


def test_malformed_event_keeps_the_client_id(registry: Registry) -> None:
    out = run(registry, {"id": "client-7", "data": {}})
    assert out.rejections[0].id == "client-7" and out.records[0].key == b"client-7"


def _raw_pay(amount: str, order_id: int = 1001) -> bytes:
    return msgspec.json.encode(pay(order_id=order_id)).replace(b'"amount":9.5', b'"amount":' + amount.encode())


def test_numbers_no_float_can_hold_get_a_verdict_per_event_not_a_failed_batch(registry: Registry) -> None:
    out = run(registry, _raw_pay("1e400"), _raw_pay("9" * 5000, 2), _raw_pay("-5" + "0" * 400, 3), pay(order_id=4))
    verdicts = [(r.index, r.type.value, r.failures[0].keyword) for r in out.rejections]
    assert verdicts == [
        (0, "malformed_event", "json"),
        (1, "malformed_event", "json"),
        (2, "invalid_payload", "minimum"),
    ]
    assert out.accepted == 1
    assert "cannot be represented" in out.rejections[1].failures[0].message


def test_an_unexpected_error_in_one_event_is_its_bad_record_and_spares_the_others(
    registry: Registry, monkeypatch: Any
) -> None:
    import collector.pipeline as pipeline

    real = pipeline.validate

    def explode(compiled: Any, data: Any) -> Any:
        if data.get("order_id") == 666:
            raise RuntimeError("4111111111111111 broke something")  # a message that quotes data
        return real(compiled, data)

    monkeypatch.setattr(pipeline, "validate", explode)
    out = run(registry, pay(order_id=1), pay(order_id=666), pay(order_id=2))
    assert out.accepted == 2
    [rejection] = out.rejections
    assert (rejection.index, rejection.type.value) == (1, "internal_error")
    bad = next(value(out, i) for i, r in enumerate(out.records) if r.kind == "bad")
    assert "4111111111111111" not in msgspec.json.encode(bad).decode()  # sealed, and the message is not quoted
    assert bad["payload"]["protected"] == "whole"


def test_a_number_is_judged_as_the_decimal_sent_not_its_nearest_double() -> None:
    from collector.contracts import Registry as Reg
    from tests.conftest import make_contract

    contract = make_contract({"n": {"multipleOf": 10}}, ref="com.example.test/big/1.0.0")
    items = [b'{"schema": "com.example.test/big/1.0.0", "data": {"n": %s}}' % n for n in (b"1e23", b"1.5e1", b"15")]
    out = process(items, Reg([contract]), CTX)
    assert out.accepted == 1  # 1e23 is a multiple of 10 (its nearest double, 99999999999999991611392, is not)
    assert [r.index for r in out.rejections] == [1, 2]


def test_good_envelope_data_is_canonical_and_keeps_the_decimal_sent() -> None:
    """Keys sorted (the fingerprint's canonical form, encoded once), and a number a double cannot hold
    written as the client sent it, not as its nearest double."""
    from tests.conftest import make_contract

    contract = make_contract({"b": {"type": "number"}, "a": {"type": "string"}, "big": {"type": "number"}})
    reg = Registry([contract])
    body = b'{"schema": "com.example.test/thing/1", "data": {"b": 0.1, "a": "x", "big": 12345678901234567.25}}'
    out = process([body], reg, CTX)
    assert out.accepted == 1
    raw = out.records[0].value
    assert b'"data":{"a":"x","b":0.1,"big":12345678901234567.25}' in raw  # a float would read ...568.0
    reordered = b'{"schema": "com.example.test/thing/1", "data": {"big": 12345678901234567.25, "a": "x", "b": 0.1}}'
    other = b'{"schema": "com.example.test/thing/1", "data": {"big": 12345678901234567.26, "a": "x", "b": 0.1}}'
    fps = [value(process([b], reg, CTX), 0)["fingerprint"] for b in (body, reordered, other)]
    assert fps[0] == fps[1] != fps[2]  # the decimal sent decides, not its nearest double (the same for both)


def test_the_envelope_written_has_the_documented_envelopes_fields_in_order() -> None:
    """`GoodOut` (what is encoded) must stay `GoodEnvelope` (what AsyncAPI and the README document)."""
    from collector.annotate import GoodEnvelope, GoodOut

    assert GoodOut.__struct_fields__ == GoodEnvelope.__struct_fields__
