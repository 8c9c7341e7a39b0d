"""The Python SDK's local check and the collector give the same verdict on the same events.

For every contract in schemas/ (through the committed SDK) and in the keyword fixtures of
tests/codegen/fixtures (through an SDK generated from them), hypothesis draws events guided by
the contract, and mutations of them; each one goes through the SDK's check and through
`collector.pipeline.process`, the collector's own per-event path. The promise tested: the SDK
never accepts an event the collector rejects for a schema reason, and it rejects nothing the
collector accepts. Rule violations and duplicates are not schema reasons: the SDK leaves them
to the collector.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema_rs
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen.model import Line, lines
from codegen.python_sdk import generate, write
from collector.annotate import Source
from collector.contracts import Registry, load_registry, read_document
from collector.errors import ErrorType
from collector.pipeline import Context, process
from tests.codegen.events import from_schema, mutated
from tests.codegen.pysdk import SDK_DIR
from tests.conftest import SCHEMAS

FIXTURES = Path(__file__).parent / "fixtures" / "schemas"
NOT_SCHEMA_REASONS = frozenset({ErrorType.RULE_VIOLATION, ErrorType.DUPLICATE})
EXAMPLES = 150
Check = Callable[[str, bytes], "str | None"]


def _sdk_check(package: str, directory: Path) -> Check:
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    check: Check = importlib.import_module(f"{package}._check").check
    return check


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Registry, Check]]:
    """Each schemas tree with its SDK's check: schemas/ with the committed SDK, the fixtures with a fresh one."""
    fixtures = load_registry(FIXTURES)
    out = tmp_path_factory.mktemp("kitchen-sdk")
    write(generate(fixtures, "kitchen_events"), out, "kitchen_events")
    return {
        "schemas": (load_registry(SCHEMAS), _sdk_check("charter_events", SDK_DIR)),
        "fixtures": (fixtures, _sdk_check("kitchen_events", out)),
    }


def _cases() -> list[Any]:
    return [
        pytest.param(tree, line.reference, id=f"{tree}:{line.reference}")
        for tree, root in (("schemas", SCHEMAS), ("fixtures", FIXTURES))
        for line in lines(load_registry(root))
    ]


def _dereferenced(line: Line) -> Any:
    """The contract with its `$ref`s inlined (recursive ones stay), to guide the drawing."""
    contract = line.contract

    def retrieve(uri: str) -> Any:
        return read_document(Path(uri.removeprefix("file://")))

    base = Path(contract.file).resolve().as_uri()
    return jsonschema_rs.dereference(contract.schema, retriever=retrieve, base_uri=base)


def collector_accepts(registry: Registry, reference: str, data: Any) -> bool:
    """The collector's verdict for schema reasons: accepted, or rejected for a rule or as a duplicate only."""
    item = msgspec.json.encode({"schema": reference, "id": "verdict-test", "data": data})
    outcome = process([item], registry, Context("2026-11-21T10:00:00Z", Source()))
    return not outcome.rejections or outcome.rejections[0].type in NOT_SCHEMA_REASONS


@pytest.mark.parametrize(("tree", "reference"), _cases())
def test_the_sdk_and_the_collector_agree_on_every_drawn_event(
    trees: dict[str, tuple[Registry, Check]], tree: str, reference: str
) -> None:
    registry, check = trees[tree]
    [line] = [line for line in lines(registry) if line.reference == reference]
    schema = _dereferenced(line)
    seen: set[bool] = set()
    disagreements: list[tuple[Any, str | None]] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.data())
    def run(data: st.DataObject) -> None:
        event = data.draw(from_schema(schema).flatmap(lambda v: mutated(v, schema)))
        server = collector_accepts(registry, reference, event)
        reason = check(reference, msgspec.json.encode(event))
        seen.add(server)
        if (reason is None) != server:
            disagreements.append((event, reason))

    run()
    assert disagreements == [], f"{len(disagreements)} events judged differently, e.g. {disagreements[0]}"
    assert seen == {True, False}, "the drawn events must include both accepted and rejected ones"
