"""The HTML catalog lists every contract and its search box filters them, in a real Chromium."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codegen.exports import docs
from codegen.exports.changelog import changelog
from codegen.exports.command import write
from collector.contracts import Registry
from tests.exports.conftest import ARTIFACTS, HERE, need, need_node_modules

QUERIES = ["payment", "cc_number", "museum", "river hotels", "zzz-no-such-contract"]


@pytest.fixture(scope="module")
def site(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    write(out, docs.render(registry))
    return out


@pytest.fixture(scope="module")
def http_url(site: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    thread.join()
    server.server_close()


def _browse(url: str, screenshot: Path) -> dict[str, Any]:
    need(shutil.which("node"), "Node.js not installed")
    need(Path("/usr/bin/chromium").exists(), "Chromium not installed: apt-get install -y chromium")
    need_node_modules()
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["node", str(HERE / "docs_browser.mjs"), url, str(screenshot), json.dumps(QUERIES)],
        capture_output=True, text=True, timeout=120, cwd=HERE,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _anchors(registry: Registry) -> list[str]:
    return list(dict.fromkeys(f"{c.namespace}/{c.name}" for c in registry))


@pytest.mark.parametrize("scheme", ["file", "http"])
def test_catalog_lists_every_contract_and_search_filters_it(
    scheme: str, registry: Registry, site: Path, http_url: str
) -> None:
    url = (site / "index.html").as_uri() if scheme == "file" else http_url
    result = _browse(url, ARTIFACTS / f"docs-search-{scheme}.png")
    everything = _anchors(registry)
    assert result["errors"] == []
    assert result["listed"] == everything and result["nav"] == everything
    assert result["count"] == f"{len(everything)} of {len(everything)} contracts"
    searches = result["searches"]
    assert searches["payment"]["visible"] == ["com.acme.shop/payment"]
    assert searches["payment"]["nav"] == ["com.acme.shop/payment"]
    assert searches["payment"]["count"] == f"1 of {len(everything)} contracts"
    assert searches["cc_number"]["visible"] == ["com.acme.shop/payment"]  # a field name
    assert searches["museum"]["visible"] == [a for a in everything if a.startswith("org.metmuseum")]  # owner e-mail
    assert searches["river hotels"]["visible"] == [a for a in everything if a.startswith("com.riverhotels")]  # owner
    assert searches["zzz-no-such-contract"]["visible"] == [] and searches["zzz-no-such-contract"]["empty"]
    assert (ARTIFACTS / f"docs-search-{scheme}.png").stat().st_size > 0


def test_catalog_shows_fields_pii_owner_and_topics(registry: Registry) -> None:
    html = docs.render(registry)["index.html"]
    assert '<span class="badge pii">' in html and "pci" in html
    assert "Payments Team" in html and "<code>error-payments</code>" in html
    assert "<code>items[*].price</code>" in html  # nested fields of $defs items are listed too
    assert "<script" in html and 'src="search.js"' in html and "fetch(" not in docs.render(registry)["search.js"]


def test_changelog_lists_the_field_added_in_a_minor(registry: Registry) -> None:
    versions = [c for c in registry if c.name == "clickstream"]
    entries = changelog(versions)
    assert [e.version for e in entries] == [c.version_str for c in reversed(versions)]
    newest = entries[0]
    assert newest.previous == "1.0.0"
    assert [(ch.kind, ch.subject) for ch in newest.changes] == [
        ("added", "field $.referrer"),
        ("changed", "compatibility"),
    ]
    assert entries[-1].previous is None
