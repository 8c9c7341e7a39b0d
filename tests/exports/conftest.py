"""Shared by the export tests: real envelopes from the pipeline, goldens, and the external tools.

Postgres, Chromium, the npm packages under tests/exports/ and the test-only PyPI packages
(jsonschema, sqlglot) are external: a test that needs one it cannot find is skipped with the
reason and the install command, unless CHARTER_REQUIRE_EXPORT_TOOLS=1 (set it in CI), which
turns the skip into a failure.
"""

from __future__ import annotations

import importlib
import json
import os
import pwd
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from codegen.model import lines
from collector.annotate import Source
from collector.contracts import Registry
from collector.pipeline import Context, process
from tests.exports.postgres import Postgres, bin_dir

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
NODE_MODULES = HERE / "node_modules"
ARTIFACTS = HERE / "artifacts"
SAMPLES: dict[str, Any] = json.loads((HERE / "samples.json").read_text())
CTX = Context("2026-11-21T10:00:02.123456Z", Source("203.0.113.7", "charter-tests/1.0"))
UPDATE = os.environ.get("CHARTER_UPDATE_GOLDEN") == "1"


def need(condition: object, reason: str) -> None:
    """Skip (or, with CHARTER_REQUIRE_EXPORT_TOOLS=1, fail) when an external tool is missing."""
    if condition:
        return
    if os.environ.get("CHARTER_REQUIRE_EXPORT_TOOLS") == "1":
        pytest.fail(f"{reason} (CHARTER_REQUIRE_EXPORT_TOOLS=1)")
    pytest.skip(reason)


def need_module(name: str) -> Any:
    """Import a test-only PyPI package, or skip (fail when required) naming the pip install."""
    try:
        return importlib.import_module(name)
    except ImportError:
        need(False, f"Python package {name!r} missing: pip install {name}")


def need_node_modules() -> None:
    need(
        (NODE_MODULES / "@asyncapi" / "specs").is_dir() and (NODE_MODULES / "playwright-core").is_dir(),
        f"npm packages missing: run `npm ci --prefix {HERE.relative_to(HERE.parents[1])}`",
    )


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL server for the session (each test module uses its own schemas or database)."""
    bindir = bin_dir()
    need(bindir is not None, "PostgreSQL server not installed: apt-get install -y postgresql")
    assert bindir is not None
    if os.geteuid() == 0:
        need(shutil.which("runuser"), "running as root needs runuser (util-linux) to start PostgreSQL as postgres")
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            need(False, "running as root needs the `postgres` user that Debian's postgresql package creates")
    server = Postgres(bindir)
    server.start()
    yield server
    server.stop()


def check_golden(name: str, text: str) -> None:
    """Compare with tests/exports/golden/<name>; CHARTER_UPDATE_GOLDEN=1 rewrites it instead."""
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
    assert path.exists(), f"no golden {path}; run CHARTER_UPDATE_GOLDEN=1 pytest tests/exports"
    assert path.read_bytes().decode() == text, f"{name} drifted from its golden; if intended, CHARTER_UPDATE_GOLDEN=1"


def envelopes(registry: Registry) -> dict[str, dict[str, Any]]:
    """One real good envelope per contract major (reference → decoded envelope), via the pipeline."""
    missing = [line.reference for line in lines(registry) if line.reference not in SAMPLES]
    assert not missing, f"add a valid sample `data` for {missing} to tests/exports/samples.json"
    out = {}
    for line in lines(registry):
        event = {"schema": line.reference, "id": f"evt-{line.name}-{line.major}", "data": SAMPLES[line.reference],
                 "sent_at": "2026-11-21T10:00:01Z"}  # fmt: skip
        outcome = process([msgspec.json.encode(event)], registry, CTX)
        assert outcome.accepted == 1, f"sample for {line.reference} was rejected: {outcome.rejections}"
        out[line.reference] = msgspec.json.decode(outcome.records[0].value)
    return out


def bad_envelope(registry: Registry) -> dict[str, Any]:
    event = {"schema": "com.acme.shop/payment/1", "data": {"order_id": "not a number"}}
    outcome = process([msgspec.json.encode(event)], registry, CTX)
    assert outcome.rejections, "the bad sample was accepted"
    return dict(msgspec.json.decode(outcome.records[0].value))


@pytest.fixture(scope="session")
def served_run(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], list[Path]]:
    """A real `charter serve --sink file` sent one event per contract major (and one twice with the
    same client id): the good envelopes it wrote, and its good-*.jsonl files."""
    from tests.exports.loading import serve_and_collect  # it reads SAMPLES from here

    references = [line.reference for line in lines(registry)]
    return serve_and_collect(tmp_path_factory.mktemp("serve"), references)


@pytest.fixture(scope="session")
def served(served_run: tuple[list[dict[str, Any]], list[Path]]) -> list[dict[str, Any]]:
    return served_run[0]
