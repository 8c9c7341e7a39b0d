"""The fixed catalogue of bad-event error types, each with the hint that tells the fix."""

from __future__ import annotations

from enum import StrEnum


class ErrorType(StrEnum):
    MALFORMED_BODY = "malformed_body"
    UNSUPPORTED_CONTENT_TYPE = "unsupported_content_type"
    TOO_LARGE = "too_large"
    MALFORMED_EVENT = "malformed_event"
    INVALID_SCHEMA_REF = "invalid_schema_ref"
    UNKNOWN_SCHEMA = "unknown_schema"
    INVALID_PAYLOAD = "invalid_payload"
    RULE_VIOLATION = "rule_violation"
    DUPLICATE = "duplicate"
    UNAUTHORIZED = "unauthorized"
    INTERNAL_ERROR = "internal_error"

    @property
    def resolution(self) -> str:
        return RESOLUTIONS[self]


RESOLUTIONS: dict[ErrorType, str] = {
    ErrorType.MALFORMED_BODY: (
        "Send UTF-8 JSON: one event object, an array of events, or NDJSON (one event per line)."
    ),
    ErrorType.UNSUPPORTED_CONTENT_TYPE: (
        "Send Content-Type application/json or application/x-ndjson (optionally with Content-Encoding: gzip)."
    ),
    ErrorType.TOO_LARGE: (
        "Split the request: stay under the body byte limit (after gzip inflation) and the per-request event limit; "
        "an event whose record is too large for the broker (failures say the limit) must be made smaller."
    ),
    ErrorType.MALFORMED_EVENT: (
        'Each event must be an object {"schema": "<namespace>/<name>/<version>", "data": {...}} '
        'with optional string "id" and RFC 3339 "sent_at", and no other keys.'
    ),
    ErrorType.INVALID_SCHEMA_REF: (
        'Name the contract as "<namespace>/<name>/<MAJOR.MINOR.PATCH>" or "<namespace>/<name>/<MAJOR>".'
    ),
    ErrorType.UNKNOWN_SCHEMA: (
        "No contract with this reference is loaded; check GET /v1/schemas, "
        "or add the contract under schemas/ and redeploy."
    ),
    ErrorType.INVALID_PAYLOAD: (
        "Fix the fields listed in failures so `data` matches the contract; "
        "the generated SDKs catch these at the call site."
    ),
    ErrorType.RULE_VIOLATION: (
        "The event matches the contract's types but breaks its data-quality rules (listed in "
        "failures); fix the values at the source, or ask the contract owner about the rule."
    ),
    ErrorType.DUPLICATE: (
        "An event with the same dedupe key was accepted within the contract's window; nothing to "
        "fix if this was a retry. Otherwise make the key fields differ."
    ),
    ErrorType.UNAUTHORIZED: (
        "Send a valid write key (Authorization: Bearer <key>, HTTP Basic with the key as user name, "
        "or ?key=) whose namespaces and contracts cover every event of the request; ask the "
        "collector's operators for one."
    ),
    ErrorType.INTERNAL_ERROR: (
        "Charter could not process this event (a bug or a value it cannot handle); the event is kept "
        "here and the collector log has the cause. Report it to the collector's operators."
    ),
}
