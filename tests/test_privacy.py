"""`x-pii: redact` reaches nested objects and arrays, and leaves absent or null values alone."""

from __future__ import annotations

from collector.privacy import REDACTED, pii_field, protect


def test_redacts_top_level_nested_and_array_fields() -> None:
    fields = (pii_field("$.card", "redact"), pii_field("$.owner.email", "redact"),
              pii_field("$.guests[*].phone", "redact"), pii_field("$.tags[*]", "redact"))  # fmt: skip
    data = {"card": "4111", "owner": {"email": "a@b.c", "name": "Ana"},
            "guests": [{"phone": "+1"}, {"name": "no phone"}], "tags": ["x", "y"]}  # fmt: skip
    assert protect(data, fields) == {
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
    assert protect(dict(data), fields) == data
