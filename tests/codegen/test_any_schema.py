"""The Python generator takes any contract the collector loads: no keyword, nesting or reference
makes it fail, and the module imports. A keyword no type can say is left to the schema check.
(test_typescript_sdk.py compiles the same drawn contracts with `tsc --strict`.)
"""

from __future__ import annotations

import importlib
import itertools
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings

from codegen.python_sdk import generate, write
from collector.contracts import Registry
from tests.codegen.anyschema import contracts

_packages = itertools.count()


def test_any_loadable_contract_generates_an_importable_python_module(tmp_path: Path) -> None:
    loaded = []

    @settings(max_examples=40, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(contracts)
    def run(contract: Any) -> None:
        assume(contract is not None)
        package = f"fuzz_events_{next(_packages)}"
        write(generate(Registry([contract]), package), tmp_path, package)
        event = importlib.import_module(f"{package}.com_example_fuzz").ThingV1
        members = getattr(event, "__args__", None) or (event,)  # a root union names its event classes
        assert all(m.__charter_schema__ == "com.example.fuzz/thing/1" for m in members)
        loaded.append(contract)

    sys.path.insert(0, str(tmp_path))
    try:
        run()
    finally:
        sys.path.remove(str(tmp_path))
    assert len(loaded) >= 20, "most drawn contracts must load, or this proves little"
