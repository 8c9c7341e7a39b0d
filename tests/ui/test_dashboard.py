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
EVENTS: list[dict[str, Any]] = [
    *({"schema": "com.acme.shop/payment/1", "data": payment(order_id=i)} for i in (1, 2, 3)),  # 3 good
    {"schema": "com.acme.shop/payment/1", "data": payment(order_id=9, confirmation_code="0")},  # rule_violation
    {"schema": "com.riverhotels.web/clickstream/1", "data": CLICK},  # invalid_payload: action not in the enum
]


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
        assert (posted.status_code, posted.json()["accepted"], posted.json()["rejected"]) == (207, 3, 2)
        proc.stdin.write("posted\n")
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


def test_posted_events_appear_without_reload_with_good_bad_counts_and_a_chart(
    session: dict[str, dict[str, Any]],
) -> None:
    pay, click = _card(session, PAYMENT), _card(session, CLICKSTREAM)
    assert (pay["good"], pay["bad"], pay["duplicates"]) == ("3", "1", "0")
    assert (click["good"], click["bad"]) == ("0", "1")
    assert session["done"]["totals"] == {"good": "3", "bad": "2"}
    assert pay["chart_bars"] == 2  # this minute: one good bar and one bad bar stacked on it
    assert session["done"]["errors"] == []


def test_violations_show_their_error_type_and_reason(session: dict[str, dict[str, Any]]) -> None:
    pay, click = _card(session, PAYMENT), _card(session, CLICKSTREAM)
    assert pay["top_errors"] == ["rule_violation"] and click["top_errors"] == ["invalid_payload"]
    [rule] = pay["violations"]
    assert (rule["type"], rule["path"], rule["keyword"]) == ("rule_violation", "$.confirmation_code", "rule")
    assert "confirmation_code_format" in rule["message"]
    assert "confirmation_code_format" in session["done"]["visible_text"]
    assert "enc:siv:" in rule["excerpt"] and "4111111111111111" not in session["done"]["visible_text"]
    [enum] = click["violations"]
    assert (enum["type"], enum["path"], enum["keyword"]) == ("invalid_payload", "$.action", "enum")


def test_payload_excerpts_are_shown_as_text_never_run_as_markup(session: dict[str, dict[str, Any]]) -> None:
    [enum] = _card(session, CLICKSTREAM)["violations"]
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
