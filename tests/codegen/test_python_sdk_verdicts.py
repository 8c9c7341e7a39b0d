"""The Python SDK's local check and the collector give the same verdict on the same events.

For every contract in schemas/ (through the committed SDK) and in the keyword fixtures of
tests/codegen/fixtures (through an SDK generated from them), hypothesis draws events guided by
the contract, and mutations of them; each one goes through the SDK's check and through
`collector.pipeline.process`, the collector's own per-event path; and drawn events of every
contract in schemas/ are posted to a real `charter serve`, whose 200/207 answers are compared
too. The promise tested: the SDK never accepts an event the collector rejects for a schema
reason, and it rejects nothing the collector accepts. With cel-expr-python installed (it is, for
the collector) the SDK checks the `dlq` rules too, so those verdicts must agree as well; rules it
leaves to the collector (those reading `sent_at`) and duplicates are not held against it.
"""

from __future__ import annotations

import importlib
import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen.model import Line, lines
from codegen.python_sdk import generate, write
from collector.annotate import Source
from collector.contracts import Contract, Registry, load_registry, read_document
from collector.errors import ErrorType
from collector.pipeline import Context, process
from tests.codegen.events import drawn
from tests.codegen.pysdk import SDK_DIR
from tests.conftest import SCHEMAS, charter_serve

FIXTURES = Path(__file__).parent / "fixtures" / "schemas"
EXAMPLES = 150
SERVED_PER_CONTRACT = 40


@dataclass(frozen=True)
class Sdk:
    """A generated SDK's local check, and the rules it can check itself."""

    module: Any  # the package's `_check`
    rules: Any  # the package's `_rules`

    def check(self, reference: str, data: Any) -> str | None:
        reason: str | None = self.module.check(reference, msgspec.json.encode(data))
        return reason

    def checks_rules_of(self, contract: Contract) -> set[str]:
        return {rule.name for rule in self.rules.compile_rules(contract.schema)}


def _sdk(package: str, directory: Path) -> Sdk:
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    return Sdk(importlib.import_module(f"{package}._check"), importlib.import_module(f"{package}._rules"))


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Registry, Sdk]]:
    """Each schemas tree with its SDK: schemas/ with the committed SDK, the fixtures with a fresh one."""
    fixtures = load_registry(FIXTURES)
    out = tmp_path_factory.mktemp("kitchen-sdk")
    write(generate(fixtures, "kitchen_events"), out, "kitchen_events")
    return {"schemas": (load_registry(SCHEMAS), _sdk("charter_events", SDK_DIR)),
            "fixtures": (fixtures, _sdk("kitchen_events", out))}  # fmt: skip


def held_against_the_sdk(kind: str, failures: list[Any], checked_rules: set[str]) -> bool:
    """Whether a rejection is one the SDK must foresee: any but a duplicate, or a rule it leaves to the collector."""
    if kind == ErrorType.DUPLICATE.value:
        return False
    if kind == ErrorType.RULE_VIOLATION.value:
        return any(str(f["message"]).split(":", 1)[0] in checked_rules for f in failures)
    return True


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


def collector_accepts(registry: Registry, reference: str, data: Any, checked_rules: set[str]) -> bool:
    """The collector's verdict, through its own per-event path, as far as the SDK can foresee it."""
    item = msgspec.json.encode({"schema": reference, "id": "verdict-test", "data": data})
    outcome = process([item], registry, Context("2026-11-21T10:00:00Z", Source()))
    if not outcome.rejections:
        return True
    rejection = msgspec.to_builtins(outcome.rejections[0])
    return not held_against_the_sdk(rejection["type"], rejection["failures"], checked_rules)


@pytest.mark.parametrize(("tree", "reference"), _cases())
def test_the_sdk_and_the_collector_agree_on_every_drawn_event(
    trees: dict[str, tuple[Registry, Sdk]], tree: str, reference: str
) -> None:
    registry, sdk = trees[tree]
    [line] = [line for line in lines(registry) if line.reference == reference]
    schema, checked_rules = _dereferenced(line), sdk.checks_rules_of(line.contract)
    seen: set[bool] = set()
    disagreements: list[tuple[Any, str | None]] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.data())
    def run(data: st.DataObject) -> None:
        event = data.draw(drawn(schema))
        server = collector_accepts(registry, reference, event, checked_rules)
        reason = sdk.check(reference, event)
        seen.add(server)
        if (reason is None) != server:
            disagreements.append((event, reason))

    run()
    assert disagreements == [], f"{len(disagreements)} events judged differently, e.g. {disagreements[0]}"
    assert seen == {True, False}, "the drawn events must include both accepted and rejected ones"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `charter serve --sink memory` over schemas/."""
    with charter_serve(tmp_path_factory.mktemp("verdicts"), sink="memory") as url:
        yield url


def _drawn(line: Line, count: int) -> list[Any]:
    schema = _dereferenced(line)
    events: list[Any] = []

    @settings(max_examples=count, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.data())
    def draw(data: st.DataObject) -> None:
        events.append(data.draw(drawn(schema)))

    draw()
    return events


def test_a_real_collector_over_http_agrees_with_the_sdk_on_drawn_events(
    trees: dict[str, tuple[Registry, Sdk]], served: str
) -> None:
    registry, sdk = trees["schemas"]
    checked = {line.reference: sdk.checks_rules_of(line.contract) for line in lines(registry)}
    events = [(line.reference, e) for line in lines(registry) for e in _drawn(line, SERVED_PER_CONTRACT)]
    ids = (f"served-{n}" for n in itertools.count())
    verdicts: list[bool] = []
    for start in range(0, len(events), 50):
        batch = events[start : start + 50]
        body = [{"schema": ref, "id": next(ids), "data": data} for ref, data in batch]
        answer = httpx.post(f"{served}/v1/events", content=msgspec.json.encode(body),
                            headers={"Content-Type": "application/json"}, timeout=30)  # fmt: skip
        assert answer.status_code in (200, 207), answer.text
        rejected = {e["index"]: e for e in answer.json().get("errors", [])}
        verdicts += [
            i not in rejected or not held_against_the_sdk(rejected[i]["type"], rejected[i]["failures"], checked[ref])
            for i, (ref, _) in enumerate(batch)
        ]
    local = [sdk.check(ref, data) is None for ref, data in events]
    differ = [(events[i], verdicts[i]) for i in range(len(events)) if local[i] != verdicts[i]]
    assert differ == [], f"{len(differ)} events judged differently, e.g. {differ[0]}"
    assert set(verdicts) == {True, False}
