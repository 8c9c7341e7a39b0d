"""The /ui dashboard in a real headless Chromium, against a real `charter serve --sink memory`.

One browser session (tests/ui/dashboard_browser.mjs, playwright-core driving Debian's
/usr/bin/chromium) loads /ui on an empty collector, then the events below are posted and the
page must show them by itself; the tests here each check one thing a data steward sees.
Screenshots land in tests/ui/artifacts/. Without Node.js or Chromium the tests are skipped
(CHARTER_REQUIRE_BROWSER=1, for CI, turns that skip into a failure).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.conftest import charter_serve, payment

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
PAYMENT = "com.acme.shop/payment/1.0.0"
CLICKSTREAM = "com.riverhotels.web/clickstream/1.1.0"
MARKUP = '<img src=x onerror="document.title=1" data-testid="injected">'  # must be shown as text
CLICK = {"action": MARKUP, "clickstream_id": "0b7f2a8e-4d43-4c2e-9d8e-2f5f1b3c9a10", "customer_email": "ana@example.com", "hotel_id": "H00042",
         "event_duration": 12, "url": "https://riverhotels.example/h/42", "created_at": "2026-11-21T10:00:00Z"}  # fmt: skip
CARD = "4111111111111111"
TWO_FAILURES = "pay-two-failures"
# (event, what the collector must make of it): the page's numbers are checked against this list
SENT: list[tuple[dict[str, Any], str]] = [
    *(({"schema": "com.acme.shop/payment/1", "data": payment(order_id=i)}, "good") for i in (1, 2, 3)),
    *(({"schema": "com.acme.shop/payment/1", "data": payment(order_id=1)}, "duplicates") for _ in (1, 2)),  # dedupe by order
    ({"schema": "com.acme.shop/payment/1", "data": payment(order_id=9, confirmation_code="0")}, "rejected"),  # rule
    ({"schema": "com.acme.shop/payment/1", "id": TWO_FAILURES, "data": payment(order_id=10, amount=-1, cc_number=CARD + "x")},
     "rejected"),  # minimum and pattern: two failures
    ({"schema": "com.riverhotels.web/clickstream/1", "data": CLICK}, "rejected"),  # action not in the enum
]  # fmt: skip
EVENTS = [event for event, _ in SENT]


def _expected(schema_line: str) -> dict[str, str]:
    """What was sent to one contract line, bucket by bucket, as the page prints numbers."""
    outcomes = [o for e, o in SENT if e["schema"].rsplit("/", 1)[0] == schema_line]
    counts = {k: outcomes.count(k) for k in ("good", "rejected", "duplicates")}
    return {"received": str(len(outcomes)), **{k: str(n) for k, n in counts.items()}}


def _need(condition: object, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CHARTER_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (CHARTER_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


def _node_modules() -> None:
    """`npm ci` once when playwright-core is missing (it brings no browser: Debian's is used)."""
    if (HERE / "node_modules" / "playwright-core").is_dir():
        return
    npm = shutil.which("npm")
    _need(npm, "npm not installed: install Node.js 20+ with npm")
    done = subprocess.run(
        [str(npm), "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"`npm ci --prefix tests/ui` failed:\n{done.stderr}"


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("ui")
    with charter_serve(tmp, "--sink", "memory", log=tmp / "serve.log") as url:  # CHARTER_KEYS: tests/conftest.py
        yield url


def _line(stream: IO[str], timeout_s: float, stderr: Path) -> dict[str, Any]:
    """The browser script's next JSON line, or a failure that shows what it printed."""
    ready, _, _ = select.select([stream], [], [], timeout_s)
    line = stream.readline() if ready else ""
    assert line, f"no answer from the browser script in {timeout_s}s:\n{stderr.read_text()}"
    out: dict[str, Any] = json.loads(line)
    assert out["phase"] != "failed", f"{out['error']}\npage errors: {out['errors']}\npage text:\n{out['visible_text']}"
    return out


@pytest.fixture(scope="module")
def browser_tools() -> None:
    """Node.js, Debian's Chromium and playwright-core, checked before any collector starts."""
    _need(shutil.which("node"), "Node.js not installed: install Node.js 20+ (apt-get install -y nodejs npm)")
    _need(CHROMIUM.exists(), f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    _node_modules()
    ARTIFACTS.mkdir(exist_ok=True)


@pytest.fixture(scope="module")
def session(browser_tools: None, collector: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Load /ui empty, post EVENTS, let the page catch up; both phases' readings, by phase."""
    stderr = tmp_path_factory.mktemp("browser") / "stderr.txt"
    with stderr.open("w") as err:
        proc = subprocess.Popen(
            ["node", str(HERE / "dashboard_browser.mjs"), collector, str(ARTIFACTS)],
            cwd=HERE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
        )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        empty = _line(proc.stdout, 30, stderr)
        posted = httpx.post(f"{collector}/v1/events", json=EVENTS)
        assert (posted.status_code, posted.json()["accepted"], posted.json()["rejected"]) == (207, 3, len(EVENTS) - 3)
        proc.stdin.write(json.dumps({"received": len(EVENTS), "drill_id": TWO_FAILURES}) + "\n")
        proc.stdin.flush()
        done = _line(proc.stdout, 30, stderr)
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()
    return {"empty": empty, "done": done}


def _card(session: dict[str, dict[str, Any]], schema: str) -> dict[str, Any]:
    cards: list[dict[str, Any]] = [c for c in session["done"]["cards"] if c["schema"] == schema]
    assert len(cards) == 1, f"expected one card for {schema}, got {[c['schema'] for c in session['done']['cards']]}"
    return cards[0]


def test_before_any_event_the_page_shows_an_empty_state_and_lists_every_contract(
    session: dict[str, dict[str, Any]], collector: str
) -> None:
    empty = session["empty"]
    loaded = [s["schema"] for s in httpx.get(f"{collector}/v1/schemas").json()["schemas"]]
    assert empty["empty"].startswith("No events yet")
    assert sorted(empty["links"]) == sorted(loaded) and PAYMENT in loaded and CLICKSTREAM in loaded
    assert empty["errors"] == []


def test_the_page_counts_match_what_was_sent_in_three_buckets_that_add_up(session: dict[str, dict[str, Any]]) -> None:
    done = session["done"]
    pay, click = _card(session, PAYMENT), _card(session, CLICKSTREAM)
    assert {k: pay[k] for k in ("received", "good", "rejected", "duplicates")} == _expected("com.acme.shop/payment")
    assert {k: click[k] for k in ("received", "good", "rejected", "duplicates")} == _expected(
        "com.riverhotels.web/clickstream"
    )
    sent = {k: str(sum(o == k for _, o in SENT)) for k in ("good", "rejected", "duplicates")}
    assert done["totals"] == {"received": str(len(SENT)), **sent}
    assert int(sent["good"]) + int(sent["rejected"]) + int(sent["duplicates"]) == len(SENT)
    assert pay["chart"] == {"good": 1, "rejected": 1, "duplicates": 1}  # this minute: three stacked bars
    assert done["errors"] == []


def test_every_number_says_its_window_and_no_all_time_ratio_sits_beside_minute_numbers(
    session: dict[str, dict[str, Any]],
) -> None:
    done = session["done"]
    assert "since" in done["since"] and "collector start" in done["since"] and "last 15 min" in done["since"]
    assert _card(session, PAYMENT)["last_minute"].startswith("last full minute:")
    assert "%" not in done["visible_text"].replace(MARKUP, "")


def test_violations_are_grouped_by_error_type_and_path_with_counts_and_trend(
    session: dict[str, dict[str, Any]],
) -> None:
    pay, click = _card(session, PAYMENT), _card(session, CLICKSTREAM)
    assert pay["top_errors"] == ["rule_violation", "invalid_payload"] and click["top_errors"] == ["invalid_payload"]
    groups = {(g["type"], g["path"]): (g["count"], g["window"]) for g in pay["groups"]}
    assert groups == {("rule_violation", "$.confirmation_code"): ("1", "1"), ("invalid_payload", "$.amount"): ("1", "1"),
                      ("invalid_payload", "$.cc_number"): ("1", "1")}  # fmt: skip
    assert all(g["trend"].endswith(", 1") for g in pay["groups"])  # this minute's bar, oldest first
    assert "duplicate" not in {g["type"] for g in pay["groups"]}
    rule = next(g for g in pay["groups"] if g["type"] == "rule_violation")
    assert "confirmation_code_format" in rule["message"]
    assert [(g["type"], g["path"]) for g in click["groups"]] == [("invalid_payload", "$.action")]


def test_every_failure_of_an_event_is_shown_with_its_full_id(session: dict[str, dict[str, Any]]) -> None:
    events = {e["id"]: e for e in _card(session, PAYMENT)["events"]}
    assert len(events) == 2 and all(e["type"] != "duplicate" for e in events.values())  # duplicates have their own view
    two = events[TWO_FAILURES]
    assert sorted((f["path"], f["keyword"]) for f in two["failures"]) == [
        ("$.amount", "minimum"),
        ("$.cc_number", "pattern"),
    ]
    assert "enc:siv:" in two["excerpt"] and CARD not in session["done"]["visible_text"]


def test_the_drill_down_shows_the_full_bad_record_with_protected_values_marked(
    session: dict[str, dict[str, Any]],
) -> None:
    record = session["done"]["record"]
    assert TWO_FAILURES in record["title"] and "invalid_payload" in record["title"]
    [cc] = record["protected"]
    assert (cc["path"], cc["action"], cc["badge"]) == ("$.payload.data.cc_number", "encrypt", "protected: encrypted")
    assert "enc:siv:" in cc["text"] and CARD not in record["text"]
    assert "1 protected value" in record["protection"]
    for part in ("collected_at", "failures", "$.amount", "$.cc_number", "source", "collector"):
        assert part in record["text"]


def test_duplicates_have_their_own_view(session: dict[str, dict[str, Any]]) -> None:
    dup = session["done"]["duplicates"]
    wanted = _expected("com.acme.shop/payment")["duplicates"]
    assert dup["tab"] == f"Duplicates ({wanted})" and dup["contract_cards"] == 0
    assert dup["cards"] == [{"schema": PAYMENT, "count": wanted, "events": ["duplicate"] * int(wanted)}]
    assert session["done"]["violations_again"]


def test_payload_excerpts_are_shown_as_text_never_run_as_markup(session: dict[str, dict[str, Any]]) -> None:
    [enum] = _card(session, CLICKSTREAM)["events"]
    assert "<img src=x" in enum["excerpt"]
    assert session["done"]["injected"] == 0 and session["done"]["title"] != "1"


def test_clicking_a_contract_shows_its_fields_types_pii_tags_owner_and_topics(
    session: dict[str, dict[str, Any]], collector: str
) -> None:
    browser = session["done"]["browser"]
    assert browser["title"] == "Payment"
    assert browser["owner"].startswith("Payments Team") and "payments@acme.example" in browser["owner"]
    assert (browser["topic"], browser["dlq"]) == ("payments", "error-payments")
    assert browser["cc_number"] == {"type": "string", "pii": "encrypt", "pii_visible": True, "classification": "pci"}
    assert browser["fields"] == list(httpx.get(f"{collector}/v1/schemas/{PAYMENT}").json()["properties"])
    assert browser["rules"] == ["confirmation_code_format", "paid_amount_positive"]
    assert "[object" not in browser["text"] and "undefined" not in browser["text"]


def test_the_page_loads_nothing_from_any_other_origin(session: dict[str, dict[str, Any]]) -> None:
    assert session["done"]["foreign"] == []
