"""The read-only endpoints: health and readiness, metrics and stats, the dashboard, the contracts
served, and the memory sink's inspection endpoints for local instrumentation tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from collector.security import page_headers
from collector.sinks.memory import MemorySink
from collector.state import json_response, state
from collector.stats import merged_summary

UI_PAGE = Path(__file__).parent / "ui" / "index.html"


async def metrics(request: Request) -> Response:
    c = state(request)
    body = c.shared.collect() if c.shared is not None else c.telemetry.prometheus()
    return Response(body, media_type=CONTENT_TYPE_LATEST)


async def stats(request: Request) -> Response:
    c = state(request)  # with --workers N: every worker's, added up (so /ui shows them all)
    return json_response(merged_summary(c.shared.collect_stats()) if c.shared is not None else c.telemetry.summary())


async def ui(request: Request) -> Response:
    """The data steward's dashboard: one static page that polls /v1/stats and /v1/schemas."""
    return FileResponse(UI_PAGE, media_type="text/html", headers=page_headers(UI_PAGE))


async def health(request: Request) -> Response:
    return json_response({"status": "ok"})


async def ready(request: Request) -> Response:
    c = state(request)
    ok = len(c.registry) > 0 and c.sink.ready()
    body: dict[str, Any] = {"ready": ok, "contracts": len(c.registry), "sink": c.sink.name}
    body["sink_ready"] = c.sink.ready()
    if not body["sink_ready"]:  # say why, so an operator need not dig through the log
        body["sink_problem"] = c.sink.problem() or "not ready"
    body["dedupe_store"] = c.dedupe.name
    if (store_problem := c.dedupe.problem()) is not None:  # deduping contracts get 503 until it answers
        body["dedupe_problem"] = store_problem
    if (reload := c.reloads.status()) is not None:  # a failed reload: the previous set keeps serving
        body["contracts_reload"] = reload
    return json_response(body, 200 if ok else 503, None if ok else {"Retry-After": str(c.settings.retry_after)})


async def list_schemas(request: Request) -> Response:
    c = state(request)
    return json_response({"schemas": [_summary(x) for x in c.registry]})


async def get_schema(request: Request) -> Response:
    p = request.path_params
    ref = f"{p['namespace']}/{p['name']}/{p['version']}"
    contract = state(request).registry.get(ref)
    if contract is None:
        return json_response({"error": {"type": "unknown_schema", "message": f"no contract {ref!r} is loaded"}}, 404)
    return json_response(contract.schema, headers={"Charter-Schema": contract.ref})


def _summary(c: Any) -> dict[str, Any]:
    return {
        "schema": c.ref, "namespace": c.namespace, "name": c.name, "version": str(c.version),
        "title": c.schema.get("title"), "description": c.schema.get("description"),
        "owner": c.meta.owner, "status": c.meta.status, "topic": c.topic, "dlq_topic": c.dlq_topic,
    }  # fmt: skip


def _memory(request: Request) -> MemorySink | None:
    sink = state(request).sink
    return sink if isinstance(sink, MemorySink) else None


async def memory_good(request: Request) -> Response:
    sink = _memory(request)
    return json_response(sink.envelopes("good")) if sink else json_response({"error": "not the memory sink"}, 404)


async def memory_bad(request: Request) -> Response:
    sink = _memory(request)
    return json_response(sink.envelopes("bad")) if sink else json_response({"error": "not the memory sink"}, 404)


async def memory_reset(request: Request) -> Response:
    sink = _memory(request)
    if sink is None:
        return json_response({"error": "not the memory sink"}, 404)
    sink.reset()
    return json_response({"reset": True})
