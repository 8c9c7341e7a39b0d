"""A card number tagged `x-pii` never leaves the process in clear text, whatever shape it arrives in.

A real `charter serve` (file sink, debug logs) gets every shape that once leaked: good and bad
events, bodies refused whole (400/413/415), a bad NDJSON line, `data` as a list, a `Data` key,
unknown contracts, an over-limit batch, an unrepresentable number, trailing gzip garbage. Then
every byte it wrote — records, logs, responses, /v1/stats, /ui, /metrics — is searched.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import charter_serve, payment, unseal

CARD = "4111111111111111"
PAY = "com.acme.shop/payment/1"
JSON = {"Content-Type": "application/json"}


def _pay(**data: Any) -> dict[str, Any]:
    return {"schema": PAY, "data": payment(**data)}


def _raw(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


SHAPES: list[tuple[str, bytes, dict[str, str], int]] = [
    ("good", _raw(_pay()), JSON, 200),
    ("invalid payload", _raw(_pay(amount=-1)), JSON, 207),
    ("rule violation", _raw(_pay(confirmation_code="0", order_id=2)), JSON, 207),
    ("duplicate", _raw(_pay()), JSON, 207),
    ("card as a number", _raw(_pay(cc_number=int(CARD), order_id=3)), JSON, 207),
    ("malformed JSON", b'{"schema": "' + PAY.encode() + b'", "data": {"cc_number": "' + CARD.encode() + b'"', JSON, 400),
    ("unsupported type", f"cc_number={CARD}".encode(), {"Content-Type": "application/x-www-form-urlencoded"}, 415),
    ("body too large", _raw(_pay(note="x" * 9000)), JSON, 413),
    ("bad NDJSON line", b'{"schema": "x", "data": {"cc": "' + CARD.encode() + b'"\n' + _raw(_pay(order_id=4)), {"Content-Type": "application/x-ndjson"}, 207),
    ("data is a list", _raw({"schema": PAY, "data": [payment()]}), JSON, 207),
    ("Data key", _raw({"schema": PAY, "Data": payment()}), JSON, 207),
    ("extra envelope key", _raw({**_pay(order_id=5), "card": CARD}), JSON, 207),
    ("unknown version", _raw({"schema": "com.acme.shop/payment/9", "data": payment()}), JSON, 207),
    ("unknown contract", _raw({"schema": "com.other/thing/1", "data": {"cc_number": CARD}}), JSON, 207),
    ("unrepresentable number", b'{"schema": "' + PAY.encode() + b'", "data": {"cc_number": "' + CARD.encode() + b'", "amount": 1e400}}', JSON, 207),
    ("over-limit batch", json.dumps([_pay(order_id=10 + i) for i in range(6)]).encode(), JSON, 413),
    ("gzip trailing garbage", gzip.compress(_raw(_pay(order_id=6))) + CARD.encode(), {**JSON, "Content-Encoding": "gzip"}, 400),
]  # fmt: skip


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Serve, send every shape, read back every surface; the server is stopped before reading logs."""
    cwd = tmp_path_factory.mktemp("pii")
    log = cwd / "serve.log"
    surfaces: dict[str, str] = {}
    statuses: dict[str, int] = {}
    serve = charter_serve(cwd, log=log, max_events="5", max_body_bytes="8192", log_level="debug", access_log="1")
    with serve as url, httpx.Client(base_url=url, timeout=10) as http:
        for name, body, headers, _ in SHAPES:
            r = http.post("/v1/events", content=body, headers=headers)
            statuses[name] = r.status_code
            surfaces[f"response to {name}"] = r.text
        for page in ("/v1/stats", "/ui", "/metrics", "/v1/schemas"):
            surfaces[page] = http.get(page).text
    surfaces["log"] = log.read_text()
    for path in sorted((cwd / "data").glob("*.jsonl")):
        surfaces[path.name] = path.read_text()
    return {"surfaces": surfaces, "statuses": statuses, "data": cwd / "data"}


def test_every_shape_gets_its_documented_status(sent: dict[str, Any]) -> None:
    assert sent["statuses"] == {name: status for name, _, _, status in SHAPES}


def test_the_card_number_is_in_no_record_log_response_or_page(sent: dict[str, Any]) -> None:
    assert '"path":"/v1/events"' in sent["surfaces"]["log"].replace(" ", "")  # the access log was on
    leaks = [where for where, text in sent["surfaces"].items() if CARD in text]
    assert leaks == []


def test_every_shape_was_recorded(sent: dict[str, Any]) -> None:
    records = [json.loads(line) for p in Path(sent["data"]).glob("*.jsonl") for line in p.read_text().splitlines()]
    bad = [r for r in records if "error" in r]
    # 16 shapes are bad or partly bad; the bad NDJSON body's good line and the batch count too
    assert len(records) - len(bad) == 2  # the good payment, and the good line of the NDJSON body
    assert len(bad) >= len(SHAPES) - 1 + 5  # the over-limit batch is six records, one per event


def test_sealed_payloads_decrypt_for_an_authorised_reader(sent: dict[str, Any]) -> None:
    records = [json.loads(line) for p in Path(sent["data"]).glob("bad-*.jsonl") for line in p.read_text().splitlines()]
    sealed = [r["payload"] for r in records if isinstance(r["payload"], dict) and r["payload"].get("protected")]
    assert len(sealed) >= 6
    assert all(CARD in unseal(p) for p in sealed if "cc" in unseal(p))
