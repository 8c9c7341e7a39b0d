"""Fixtures for the input-protocol tests: a real `charter serve --sink kafka` with the test
contracts (tests/protocols/schemas) and the ones Charter ships for the protocols, a real broker
and a real consumer (tests/integration/conftest.py's)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from tests.integration.conftest import (
    ROOT,
    Collector,
    free_broker,
    run_collector,
)

HERE = Path(__file__).parent
WRITE_KEY = "sk-segment-test-0123456789"  # the test's write key (as Segment libraries send it: Basic user)


@pytest.fixture(scope="session")
def protocol_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """CHARTER_KAFKA_BOOTSTRAP if set (CI), else a private broker for these tests (free ports)."""
    external = os.environ.get("CHARTER_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    with free_broker(tmp_path_factory, "kafka-protocols") as broker:
        yield broker.bootstrap


@pytest.fixture(scope="session")
def protocol_schemas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test contracts plus the contracts Charter ships for the protocols."""
    root = tmp_path_factory.mktemp("protocol-schemas")
    for shipped in ("com.snowplowanalytics.snowplow", "com.segment"):
        shutil.copytree(ROOT / "schemas" / shipped, root / shipped)
    for ns in (HERE / "schemas").iterdir():
        shutil.copytree(ns, root / ns.name)
    return root


@pytest.fixture(scope="session")
def auth_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "keys.yaml"
    path.write_text(f"keys:\n  - name: shop-backend\n    key: {WRITE_KEY}\n    namespaces: ['*']\n")
    return path


def serve(bootstrap: str, schemas: Path, log_dir: Path, *flags: str) -> AbstractAsyncContextManager[Collector]:
    """`charter serve --sink kafka` with `flags`; waits for /ready, terminates afterwards."""
    return run_collector(bootstrap, log_dir, *flags, schemas=schemas)


@pytest.fixture(scope="session")
def protocol_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("protocol-collector-logs")
