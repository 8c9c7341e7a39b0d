"""The dashboard's drill-down: the latest bad records of a contract, as the sink got them.

The collector keeps the last few bad records of each contract in memory (collector.telemetry,
`BAD_RECORDS_KEPT`), already protected exactly as written to the sink, and `GET /v1/stats/bad`
serves them to operators. Each record says where it holds a protected value and how it was
protected, so a hex digest or a ciphertext is never mistaken for what the client sent.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from collector.privacy import PiiField
from collector.stats import merged_records

UNKNOWN = "unknown/unknown/unknown"


async def bad_records(request: Request) -> Response:
    """`GET /v1/stats/bad?schema=<namespace/name/version>[&id=<event id>]`: newest first."""
    c = request.app.state.collector
    schema = request.query_params.get("schema", "")
    if not schema:
        error = {"type": "missing_parameter", "message": "name the contract: ?schema=<namespace>/<name>/<version>",
                 "resolution": f"Use a `schema` from /v1/stats (no contract: {UNKNOWN})."}  # fmt: skip
        return _json({"error": error}, 400)
    kept = c.telemetry.bad_records(schema)
    if c.shared is not None:  # with --workers N: every worker's, newest first
        kept = merged_records(c.shared.collect_stats(), schema)
    wanted = request.query_params.get("id")
    pii = c.registry.pii_for(schema) if schema != UNKNOWN else ()
    records = [_shown(r, pii) for r in kept if wanted is None or r["id"] == wanted]
    return _json({"schema": schema, "records": records})


def _json(body: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(body), status, media_type="application/json")


def _shown(kept: dict[str, Any], pii: tuple[PiiField, ...]) -> dict[str, Any]:
    out = {"at": kept["at"], "id": kept["id"], "type": kept["type"], "bytes": kept["bytes"]}
    if kept["record"] is None:
        return {**out, "record": None, "protected": [], "note": "too large to keep here: read it from the sink"}
    record = json.loads(kept["record"])
    return {**out, "record": record, "protected": protected_paths(record, pii)}


def protected_paths(record: Any, pii: tuple[PiiField, ...]) -> list[dict[str, str]]:
    """Where a bad record holds a protected value (`$.payload.data.cc_number`) and how (`encrypt`)."""
    payload = record.get("payload") if isinstance(record, dict) else None
    if isinstance(payload, dict) and payload.get("protected") == "whole":
        return [{"path": "$.payload", "action": "sealed"}]  # the body could not be mapped to one contract's fields
    data = payload.get("data") if isinstance(payload, dict) else None
    out: list[dict[str, str]] = []
    for f in pii:
        action = "encrypt" if f.action.startswith("encrypt") else f.action
        for path in _paths(data, f.steps, "$.payload.data"):
            out.append({"path": path, "action": action})
    return out


def _paths(node: Any, steps: tuple[str, ...], at: str) -> list[str]:
    """The concrete paths a PII field's steps reach in `node` (values that are null are not protected)."""
    if not steps:
        return [at] if node is not None else []
    step, rest = steps[0], steps[1:]
    if step == "*" and isinstance(node, list):
        return [p for i, child in enumerate(node) for p in _paths(child, rest, f"{at}[{i}]")]
    if step == "{*}" and isinstance(node, dict):
        return [p for k, child in node.items() for p in _paths(child, rest, f"{at}.{k}")]
    if isinstance(node, dict) and step in node:
        return _paths(node[step], rest, f"{at}.{step}")
    return []
