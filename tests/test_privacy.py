"""PII protection: redact, keyed hash, deterministic and randomised encryption, decrypt, key checks."""

from __future__ import annotations

import hmac
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.annotate import Source
from collector.cli import main
from collector.contracts import ContractLoadError, Registry
from collector.keys import generate, load_keys, rotate
from collector.pipeline import Context, process
from collector.privacy import REDACTED, HmacSha256, MissingKey, Privacy, decrypt_value, pii_field
from tests.conftest import SCHEMAS, TEST_KEYS, payment

CARD = "4111111111111111"


@pytest.fixture(scope="module")
def privacy() -> Privacy:
    return Privacy(load_keys(TEST_KEYS))


def test_redacts_top_level_nested_and_array_fields() -> None:
    fields = (pii_field("$.card", "redact"), pii_field("$.owner.email", "redact"),
              pii_field("$.guests[*].phone", "redact"), pii_field("$.tags[*]", "redact"))  # fmt: skip
    data = {"card": "4111", "owner": {"email": "a@b.c", "name": "Ana"},
            "guests": [{"phone": "+1"}, {"name": "no phone"}], "tags": ["x", "y"]}  # fmt: skip
    assert Privacy().protect(data, fields) == {
        "card": REDACTED, "owner": {"email": REDACTED, "name": "Ana"},
        "guests": [{"phone": REDACTED}, {"name": "no phone"}], "tags": [REDACTED, REDACTED],
    }  # fmt: skip


def test_missing_null_or_wrongly_shaped_values_are_left_for_validation() -> None:
    fields = (
        pii_field("$.card", "redact"),
        pii_field("$.owner.email", "redact"),
        pii_field("$.guests[*].phone", "redact"),
    )
    data = {"card": None, "owner": "not an object", "guests": {"phone": "+1"}}
    assert Privacy().protect(dict(data), fields) == data


def test_hash_is_keyed_stable_and_not_a_plain_sha256(privacy: Privacy, tmp_path: Path) -> None:
    import hashlib

    field = (pii_field("$.email", "hash"),)
    a = privacy.protect({"email": "ana@example.com"}, field)["email"]
    b = privacy.protect({"email": "ana@example.com"}, field)["email"]
    other_key = Privacy(load_keys(_write_keys(tmp_path / "other-keys.json")))
    c = other_key.protect({"email": "ana@example.com"}, field)["email"]
    assert a == b and len(a) == 64
    assert a != c, "a different secret must give a different hash"
    assert a != hashlib.sha256(b"ana@example.com").hexdigest()


# keys shorter than, equal to and longer than SHA-256's 64-byte block take different branches
@pytest.mark.parametrize("key_length", [0, 1, 32, 63, 64, 65, 200])
@settings(max_examples=30)
@given(key_byte=st.integers(0, 255), message=st.binary(max_size=300))
def test_the_precomputed_hmac_gives_the_standard_hmac_sha256_for_any_key_length(
    key_length: int, key_byte: int, message: bytes
) -> None:
    key = bytes((key_byte + i) % 256 for i in range(key_length))
    assert HmacSha256(key).hexdigest(message) == hmac.digest(key, message, "sha256").hex()


def test_deterministic_encryption_gives_equal_ciphertexts_that_decrypt(privacy: Privacy) -> None:
    field = (pii_field("$.card", "encrypt"),)
    a = privacy.protect({"card": CARD}, field)["card"]
    b = privacy.protect({"card": CARD}, field)["card"]
    assert a == b and a.startswith("enc:siv:") and CARD not in a
    assert decrypt_value(privacy.keys, a) == CARD


def test_randomized_encryption_differs_each_time_and_round_trips_any_json_value(privacy: Privacy) -> None:
    field = (pii_field("$.v", "encrypt-randomized"),)
    a = privacy.protect({"v": {"n": 1, "s": ["x"]}}, field)["v"]
    b = privacy.protect({"v": {"n": 1, "s": ["x"]}}, field)["v"]
    assert a != b and a.startswith("enc:gcm:")
    assert decrypt_value(privacy.keys, a) == decrypt_value(privacy.keys, b) == {"n": 1, "s": ["x"]}


def test_rotated_key_encrypts_new_values_and_old_ciphertexts_still_decrypt(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(generate("old")))
    old = Privacy(load_keys(path)).protect({"c": CARD}, (pii_field("$.c", "encrypt"),))["c"]
    path.write_text(json.dumps(rotate(json.loads(path.read_text()), "new")))
    ring = load_keys(path)
    new = Privacy(ring).protect({"c": CARD}, (pii_field("$.c", "encrypt"),))["c"]
    assert old.split(":")[2] == "old" and new.split(":")[2] == "new"
    assert decrypt_value(ring, old) == decrypt_value(ring, new) == CARD


def test_contract_needing_a_missing_key_is_refused_with_the_fix() -> None:
    with pytest.raises(MissingKey, match=r"\$.cc_number is tagged x-pii 'encrypt'.*charter keys generate"):
        Privacy().require((pii_field("$.cc_number", "encrypt"),), "payment/1.0.0.json")


def test_card_number_never_appears_in_clear_text_in_good_or_bad_records(registry: Registry, privacy: Privacy) -> None:
    events = [{"schema": "com.acme.shop/payment/1", "data": payment(cc_number=CARD)},
              {"schema": "com.acme.shop/payment/1", "data": payment(cc_number=CARD, confirmation_code="0")},
              {"schema": "com.acme.shop/payment/1", "data": payment(cc_number=CARD, amount=-1)},
              {"schema": "com.acme.shop/payment/3", "data": payment(cc_number=CARD)},
              {"schema": "com.acme.shop/payment/1", "data": payment(cc_number=CARD), "extra": 1}]  # fmt: skip
    out = process([msgspec.json.encode(e) for e in events], registry, Context("t", Source(), privacy))
    assert [r.kind for r in out.records] == ["good", "bad", "bad", "bad", "bad"]
    assert all(CARD.encode() not in r.value for r in out.records)
    good: dict[str, Any] = msgspec.json.decode(out.records[0].value)
    assert decrypt_value(privacy.keys, good["data"]["cc_number"]) == CARD


def test_serve_refuses_to_start_without_the_key_its_contracts_need(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--schemas", str(SCHEMAS), "--keys", str(tmp_path / "none.json")])
    assert result.exit_code == 2
    assert "key file not found" in result.output and "charter keys generate" in result.output
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    result = CliRunner().invoke(main, ["serve", "--schemas", str(SCHEMAS), "--keys", str(empty)])
    assert result.exit_code == 2 and "is tagged x-pii" in result.output


def test_decrypt_command_restores_encrypted_fields_of_envelopes(
    tmp_path: Path, registry: Registry, privacy: Privacy
) -> None:
    out = process([msgspec.json.encode({"schema": "com.acme.shop/payment/1", "data": payment(cc_number=CARD)})],
                  registry, Context("t", Source(), privacy))  # fmt: skip
    envelopes = tmp_path / "good.jsonl"
    envelopes.write_bytes(out.records[0].value + b"\n")
    result = CliRunner().invoke(main, ["decrypt", str(envelopes), "--keys", str(TEST_KEYS)])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["data"]["cc_number"] == CARD
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(generate()))
    failed = CliRunner().invoke(main, ["decrypt", str(envelopes), "--keys", str(wrong)])
    assert failed.exit_code == 1 and "could not be decrypted" in failed.output


def _write_keys(path: Path) -> Path:
    path.write_text(json.dumps(generate()))
    return path


@pytest.mark.parametrize(
    ("ip", "masked"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:db8:85a3::"),
        ("not-an-ip", "not-an-ip"),
    ],
)
def test_anonymize_ip_truncates_to_the_network(ip: str, masked: str) -> None:
    from collector.annotate import anonymize_ip

    assert anonymize_ip(ip) == masked


def test_only_allow_listed_headers_are_recorded_and_ip_is_masked_when_asked() -> None:
    from collector.annotate import source_of

    headers = {"user-agent": "ua/1", "x-app-version": "2.1", "cookie": "session=secret", "authorization": "Bearer x"}
    default = source_of("203.0.113.77", headers, ("user-agent",), anonymize=False)
    assert msgspec.to_builtins(default) == {"ip": "203.0.113.77", "user_agent": "ua/1"}
    wider = source_of("203.0.113.77", headers, ("x-app-version",), anonymize=True)
    assert msgspec.to_builtins(wider) == {"ip": "203.0.113.0", "headers": {"x-app-version": "2.1"}}


def test_serve_refuses_to_record_credential_headers() -> None:
    result = CliRunner().invoke(main, ["serve", "--schemas", str(SCHEMAS), "--record-headers", "user-agent,Cookie"])
    assert result.exit_code == 2 and "cookie may carry credentials" in result.output


def test_pii_inside_a_referenced_definition_is_protected() -> None:
    from tests.conftest import make_contract

    contract = make_contract(
        {"guest": {"$ref": "#/$defs/guest"}, "card": {"$ref": "#/$defs/card", "x-pii": "redact"}},
        **{"$defs": {"guest": {"type": "object", "properties": {"email": {"type": "string", "x-pii": "redact"}}},
                     "card": {"type": "string"}}},
    )  # fmt: skip
    assert sorted(f.path for f in contract.pii) == ["$.card", "$.guest.email"]
    data = Privacy().protect({"guest": {"email": "a@b.c"}, "card": "4111"}, contract.pii)
    assert data == {"guest": {"email": REDACTED}, "card": REDACTED}


def test_keys_generate_never_overwrites_an_existing_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    assert CliRunner().invoke(main, ["keys", "generate", "--out", str(path)]).exit_code == 0
    first = path.read_text()
    again = CliRunner().invoke(main, ["keys", "generate", "--out", str(path)])
    assert again.exit_code == 0 and "kept it" in again.output and path.read_text() == first
    assert oct(path.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    ("keep", "value", "masked"),
    [
        pytest.param((0, 4), CARD, "************1111", id="last-4-of-a-card"),
        pytest.param((6, 4), CARD, "411111******1111", id="bin-and-last-4"),
        pytest.param((0, 4), "123", "***", id="short-value-masked-whole"),
        pytest.param((2, 2), "abcd", "****", id="kept-parts-cover-the-value"),
        pytest.param((0, 4), 4111111111111111, "************1111", id="a-number-is-masked-as-text"),
    ],
)
def test_mask_keeps_only_the_configured_prefix_and_suffix(keep: tuple[int, int], value: Any, masked: str) -> None:
    assert Privacy().protect({"card": value}, (pii_field("$.card", "mask", keep),)) == {"card": masked}


def test_mask_applies_in_good_and_bad_records_and_its_options_are_checked_at_load() -> None:
    from tests.conftest import make_contract

    card = {"type": "string", "x-pii": "mask", "x-pii-mask": {"keep_last": 4}}
    contract = make_contract({"card": card, "n": {"type": "integer"}}, ref="com.example.test/masked/1.0.0")
    registry = Registry([contract])
    items = [
        json.dumps({"schema": contract.ref, "data": d}).encode()
        for d in ({"card": CARD, "n": 1}, {"card": CARD, "n": "x"})
    ]
    out = process(items, registry, Context("2026-11-21T10:00:00Z", Source()))
    good, bad = (msgspec.json.decode(r.value) for r in out.records)
    assert good["data"]["card"] == "************1111"
    assert bad["payload"]["data"]["card"] == "************1111"
    with pytest.raises(ContractLoadError, match="x-pii-mask"):
        make_contract({"card": {**card, "x-pii-mask": {"keep_last": -1}}})


def test_redirect_sends_events_carrying_a_sensitive_field_to_the_restricted_topics() -> None:
    from tests.conftest import make_contract

    contract = make_contract(
        {"card": {"type": ["string", "null"], "x-pii": "redact"}, "n": {"type": "integer"}},
        ref="com.example.test/redirected/1.0.0",
        **{"x-contract": {"owner": {"name": "T"}, "topic": "payments", "dlq_topic": "payments.bad",
                          "redirect": {"topic": "payments.restricted", "when": ["card"], "dlq_topic": "payments.restricted.bad"}}},
    )  # fmt: skip
    registry = Registry([contract])
    events = [{"n": 1}, {"n": 2, "card": CARD}, {"n": "x", "card": CARD}, {"n": "y"}, {"n": 3, "card": None}]
    items = [json.dumps({"schema": contract.ref, "data": d}).encode() for d in events]
    out = process(items, registry, Context("2026-11-21T10:00:00Z", Source()))
    assert [r.topic for r in out.records] == [
        "payments", "payments.restricted", "payments.restricted.bad", "payments.bad", "payments"]  # fmt: skip
    assert {"payments.restricted": 1, "payments.restricted.bad": 1}.items() <= registry.topics().items()
    with pytest.raises(ContractLoadError, match=r"redirect\.when names top-level fields the contract lacks"):
        make_contract(
            {"n": {"type": "integer"}},
            **{"x-contract": {"owner": {"name": "T"}, "redirect": {"topic": "t", "when": ["card"]}}},
        )
