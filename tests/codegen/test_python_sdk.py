"""The Python SDK generator: golden files, determinism, --check, types that mean the contract, and
a local check that gives the collector's verdicts.

mypy must refuse at type-check time what the contract's types forbid; at run time the SDK checks
each event against its embedded contract with the collector's engine, so it accepts exactly what
the collector accepts (test_python_sdk_verdicts.py compares the two on generated events).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner

from codegen.python_sdk import DEFAULT_PACKAGE, generate, python_command, stale, write
from collector.annotate import Source
from collector.contracts import Registry, load_registry
from collector.pipeline import Context, process
from tests.codegen.pysdk import SDK_DIR
from tests.conftest import ROOT, SCHEMAS, make_contract

# --- generation: golden files, determinism, --check ---------------------------------------------


def test_committed_sdk_is_what_schemas_generate(registry: Registry) -> None:
    assert stale(generate(registry), SDK_DIR, DEFAULT_PACKAGE) == [], "run: charter codegen python --out sdks/python"


def test_regenerating_in_fresh_processes_writes_identical_bytes(tmp_path: Path, registry: Registry) -> None:
    trees = []
    for seed in ("1", "2"):  # a set iterated in hash order anywhere would show up here
        out = tmp_path / seed
        run = "from codegen.python_sdk import python_command; python_command()"
        cmd = [sys.executable, "-c", run, "--out", str(out), "--schemas", str(SCHEMAS)]
        done = subprocess.run(
            cmd, env={**os.environ, "PYTHONHASHSEED": seed}, cwd=ROOT, capture_output=True, timeout=60
        )
        assert done.returncode == 0, done.stderr.decode()
        trees.append({p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()})
    assert trees[0] == trees[1] == generate(registry)


def test_check_exits_1_naming_each_stale_file_and_0_when_up_to_date(tmp_path: Path) -> None:
    out = tmp_path / "sdk"
    args = ["--out", str(out), "--schemas", str(SCHEMAS)]
    assert CliRunner().invoke(python_command, args).exit_code == 0
    fresh = CliRunner().invoke(python_command, [*args, "--check"])
    count = len(generate(load_registry(SCHEMAS)))
    assert (fresh.exit_code, fresh.output) == (0, f"{out} is up to date ({count} files)\n")
    (out / "charter_events" / "com_acme_shop.py").write_text("# edited by hand\n")
    (out / "charter_events" / "tracker.py").unlink()
    (out / "charter_events" / "old_namespace.py").write_text("")
    (out / "charter_events" / "__pycache__").mkdir()
    (out / "charter_events" / "__pycache__" / "tracker.cpython-311.pyc").write_bytes(b"")
    result = CliRunner().invoke(python_command, [*args, "--check"])
    assert result.exit_code == 1
    assert f"run `charter codegen python --out {out} --schemas {SCHEMAS}`" in result.output
    for line in ("charter_events/com_acme_shop.py (differs)", "charter_events/tracker.py (missing)",
                 "charter_events/old_namespace.py (not generated)"):  # fmt: skip
        assert f"  {out}/{line}\n" in result.output
    assert "__pycache__" not in result.output
    CliRunner().invoke(python_command, args)  # regenerating repairs all three
    assert CliRunner().invoke(python_command, [*args, "--check"]).exit_code == 0


def test_package_option_names_the_import_package(tmp_path: Path, registry: Registry) -> None:
    files = generate(registry, "acme_events")
    assert 'name = "acme-events"' in files["pyproject.toml"].decode()
    assert "from acme_events.event import AwareDatetime, Event" in files["acme_events/com_acme_shop.py"].decode()
    result = CliRunner().invoke(python_command, ["--out", str(tmp_path), "--package", "Acme-Events"])
    assert result.exit_code == 2
    assert "'Acme-Events' is not a Python package name" in result.output


def test_unloadable_contracts_exit_2_with_the_reason(tmp_path: Path) -> None:
    result = CliRunner().invoke(python_command, ["--out", str(tmp_path / "sdk"), "--schemas", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "schemas directory does not exist" in result.output


def test_each_contract_major_is_a_class_that_knows_its_reference(registry: Registry) -> None:
    source = generate(registry)["charter_events/com_acme_shop.py"].decode()
    assert "class PaymentV1(Event, kw_only=True, forbid_unknown_fields=True):" in source
    assert '    __charter_schema__: ClassVar[str] = "com.acme.shop/payment/1"\n' in source
    assert "class OrderV1Item(Struct, kw_only=True, forbid_unknown_fields=True):" in source  # `$defs/item`
    assert "x-pii" not in source and "x-contract" not in source


# --- mypy: a contract violation is a type error -------------------------------------------------

SNIPPET = """\
import datetime
from charter_events import PaymentV1, Tracker
from charter_events.com_acme_shop import OrderV1, OrderV1Item

tracker = Tracker("http://localhost:8080")
ts = datetime.datetime.now(datetime.UTC)
tracker.track(PaymentV1(order_id=1, product_id=7, amount=9.5, confirmation_code="AB12CD34", cc_number="4111111111111111", ts=ts))
tracker.track(OrderV1(orderid=1, orderdate=ts, customerid=2, customername="Ada", items=[OrderV1Item(orderitemid=1, productid=7, quantity=1, price=950)]))
tracker.track(PaymentV1(order_id="1", product_id=7, amount=9.5, confirmation_code="AB12CD34", cc_number="4111111111111111", ts=ts))
"""


def test_mypy_strict_refuses_a_str_where_the_contract_says_integer_and_passes_the_rest(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(SNIPPET)
    cmd = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull, "app.py"]
    env = {**os.environ, "MYPYPATH": str(SDK_DIR)}
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    # one error only: the generated package itself is mypy --strict clean (mypy follows the import)
    assert errors == [
        'app.py:9: error: Argument "order_id" to "PaymentV1" has incompatible type "str"; expected "int"  [arg-type]'
    ], done.stdout


# --- the local check accepts exactly what the collector accepts --------------------------------

CONTRACT = {
    "required": ["n", "at"],
    "additionalProperties": False,
    "$defs": {"item": {"type": "object", "required": ["id"], "additionalProperties": False,
                       "properties": {"id": {"type": "integer"}}}},
    "properties": {
        "n": {"type": "integer", "minimum": 1, "maximum": 10, "description": "A count."},
        "price": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.01},
        "step": {"type": "integer", "multipleOf": 5},
        "code": {"type": "string", "pattern": "^[A-Z]{3}$", "x-pii": "redact"},
        "email": {"type": "string", "format": "email", "maxLength": 20},
        "site": {"type": ["string", "null"], "format": "uri"},
        "at": {"type": "string", "format": "date-time"},
        "maybe_at": {"type": ["string", "null"], "format": "date-time"},
        "day": {"type": "string", "format": "date"},
        "uid": {"type": "string", "format": "uuid"},
        "kind": {"enum": ["a", "b"]},
        "fixed": {"const": "x"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2, "uniqueItems": True},
        "item": {"$ref": "#/$defs/item"},
        "class": {"type": "string", "minLength": 2},
        "flag": {"type": ["boolean", "null"]},
        "place": {"type": ["object", "null"], "description": "Where.", "properties": {
            "city": {"type": "string"}, "geo": {"type": "object", "properties": {"lat": {"type": "number"}}}}},
        "lines": {"type": "array", "items": {"type": "object", "required": ["sku"], "additionalProperties": False,
                                             "properties": {"sku": {"type": "string"}}}},
        "pick": {"oneOf": [{"type": "integer", "multipleOf": 2}, {"type": "integer", "multipleOf": 3}]},
        "not_blank": {"type": "string", "not": {"pattern": "^\\s*$"}},
    },
    "dependentRequired": {"step": ["price"]},
}  # fmt: skip
BASE = {"n": 1, "at": "2026-11-21T10:00:00Z"}
ABSENT = object()
VALID = {"minimal", "all-fields", "at-offset", "flag-true", "place-null", "place-open", "pick-2", "pick-3", "step-1e23"}
SAMPLES: dict[str, dict[str, Any]] = {
    "minimal": {}, "all-fields": {
        "price": 9.99, "step": 10, "code": "ABC", "email": "a@b.co", "site": "https://x.y/", "maybe_at": None,
        "day": "2026-11-21", "uid": "0192f8a0-0000-7000-8000-000000000000", "kind": "b", "fixed": "x",
        "tags": ["p", "q"], "item": {"id": 3}, "class": "zz", "flag": None, "place": {"city": "Oslo", "geo": {"lat": 1}},
        "lines": [{"sku": "a"}], "not_blank": "x",
    },
    "n-too-big": {"n": 11}, "n-str": {"n": "1"}, "n-missing": {"n": ABSENT}, "price-zero": {"price": 0},
    "price-not-a-cent-multiple": {"price": 9.999}, "step-not-multiple": {"step": 7, "price": 1}, "code-lower": {"code": "abc"},
    "code-trailing-newline": {"code": "ABC\n"}, "email-no-at": {"email": "ab.co"}, "email-too-long": {"email": "a" * 20 + "@b.co"},
    "site-no-scheme": {"site": "x.y"}, "at-naive": {"at": "2026-11-21T10:00:00"}, "at-offset": {"at": "2026-11-21T10:00:00+02:00"},
    "at-space": {"at": "2026-11-21 10:00:00Z"}, "maybe-at-naive": {"maybe_at": "2026-11-21T10:00:00"},
    "day-bad": {"day": "21/11/2026"}, "uid-bad": {"uid": "nope"}, "uid-no-hyphens": {"uid": "0192f8a0000070008000000000000000"},
    "kind-c": {"kind": "c"}, "fixed-y": {"fixed": "y"}, "tags-empty": {"tags": []}, "tags-3": {"tags": ["a", "b", "c"]},
    "tags-not-unique": {"tags": ["a", "a"]}, "item-extra": {"item": {"id": 1, "x": 2}}, "item-no-id": {"item": {}},
    "class-short": {"class": "z"}, "flag-true": {"flag": True}, "unknown-field": {"zzz": 1},
    "place-null": {"place": None}, "place-open": {"place": {"x": 1}}, "geo-lat-str": {"place": {"geo": {"lat": "1"}}},
    "lines-no-sku": {"lines": [{}]}, "lines-extra": {"lines": [{"sku": "a", "x": 1}]},
    "pick-2": {"pick": 2}, "pick-3": {"pick": 3}, "pick-6-both": {"pick": 6}, "pick-5-none": {"pick": 5},
    "blank": {"not_blank": "  "}, "step-without-price": {"step": 5},
    "step-1e23": {"step": 1e23, "price": 1},  # an integer, and a multiple of 5, as the decimal sent (not its double)
    "step-1e23-plus-1": {"step": 100000000000000000000001, "price": 1},
}  # fmt: skip


@pytest.fixture(scope="module")
def consistency_sdk(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The package generated for CONTRACT, imported from a temporary directory."""
    out = tmp_path_factory.mktemp("sdk")
    write(generate(Registry([make_contract(**CONTRACT)]), "consistency_events"), out, "consistency_events")
    sys.path.insert(0, str(out))
    try:
        return importlib.import_module("consistency_events")
    finally:
        sys.path.remove(str(out))


@pytest.mark.parametrize("name", list(SAMPLES))
def test_the_local_check_accepts_exactly_what_the_collector_accepts(name: str, consistency_sdk: Any) -> None:
    data = {k: v for k, v in {**BASE, **SAMPLES[name]}.items() if v is not ABSENT}
    raw = msgspec.json.encode(data)
    item = msgspec.json.encode({"schema": "com.example.test/thing/1", "data": msgspec.Raw(raw)})
    collector_ok = process([item], Registry([make_contract(**CONTRACT)]), Context("now", Source())).accepted == 1
    assert collector_ok == (name in VALID)
    check = importlib.import_module("consistency_events._check").check
    reason = check("com.example.test/thing/1", raw)
    assert (reason is None) == collector_ok, f"SDK says {reason!r}, collector says {collector_ok}"


def test_the_generated_package_pins_the_collectors_engines(registry: Registry) -> None:
    """jsonschema-rs as a dependency, cel-expr-python as the `rules` extra: the versions the collector runs."""
    manifest = generate(registry)["pyproject.toml"].decode()
    for engine in ("jsonschema-rs", "cel-expr-python"):
        server = re.search(rf'"({engine}==[^"]+)"', (ROOT / "pyproject.toml").read_text())
        assert server is not None
        assert f'"{server[1]}"' in manifest
    assert 'rules = ["cel-expr-python==' in manifest
    assert "FancyRegexOptions(backtrack_limit=100_000)" in (ROOT / "collector" / "schema.py").read_text()
    assert "FancyRegexOptions(backtrack_limit=100_000)" in generate(registry)["charter_events/_check.py"].decode()


def test_each_contract_is_embedded_as_the_collector_loads_it(registry: Registry) -> None:
    files = generate(registry)
    index = json.loads(files["charter_events/contracts/index.json"])
    assert index["com.riverhotels.web/clickstream/1"] == {
        "file": "com.riverhotels.web/clickstream/1.1.0.json", "version": "1.1.0", "rules": []
    }  # fmt: skip
    assert index["com.acme.shop/payment/1"]["rules"] == [
        r.name for r in registry.get("com.acme.shop/payment/1").meta.rules
    ]
    for entry in index.values():
        doc = json.loads(files[f"charter_events/contracts/{entry['file']}"])
        assert doc == registry.get(f"{entry['file'].rsplit('/', 1)[0]}/{entry['version']}").schema


# --- every keyword: typed where a type can say it, checked by the schema where it cannot -------

FIXTURES = Path(__file__).parent / "fixtures" / "schemas"


@pytest.fixture(scope="module")
def kitchen(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The SDK of the keyword fixtures (`kitchen_events`): its directory and its namespace module's source."""
    out = tmp_path_factory.mktemp("kitchen")
    files = generate(load_registry(FIXTURES), "kitchen_events")
    write(files, out, "kitchen_events")
    return out, files["kitchen_events/com_example_kitchen.py"].decode()


@pytest.mark.parametrize(
    "expected",
    [
        pytest.param("    kind: Literal[\"sink\"]\n", id="const-literal"),
        pytest.param("    level: Literal[1, 2, 3] | UnsetType = UNSET\n", id="enum-literal"),
        pytest.param("    mixed: str | int | float | bool | list[Any] | dict[str, Any] | None | UnsetType", id="mixed-enum"),
        pytest.param("    contact: str | SinkV1ContactOption2 | UnsetType = UNSET\n", id="anyOf-union"),
        pytest.param("    payment: SinkV1PaymentOption1 | SinkV1PaymentOption2 | UnsetType = UNSET\n", id="oneOf-union"),
        pytest.param("    labels: dict[str, SinkV1LabelsAdditionalProperty] | UnsetType", id="additionalProperties-map"),
        pytest.param("    scores: dict[str, int] | UnsetType = UNSET\n", id="patternProperties-map"),
        pytest.param("    point: tuple[SinkV1PointItem1, SinkV1PointItem2] | UnsetType = UNSET\n", id="prefixItems-tuple"),
        pytest.param("LegacyV1Pair: TypeAlias = tuple[LegacyV1PairItem1, LegacyV1PairItem2]\n", id="draft7-items-tuple"),
        pytest.param("class SinkV1Window(Struct, kw_only=True):\n    start: AwareDatetime\n", id="allOf-merged"),
        pytest.param("    price: SinkV1Money\n", id="ref-shared-file"),
        pytest.param("    ship_to: SinkV1Address | UnsetType = UNSET\n", id="ref-other-contract"),
        pytest.param("SinkV1Currency: TypeAlias = Literal[\"EUR\", \"USD\", \"GBP\"]\n", id="ref-inside-shared-file"),
        pytest.param("    name: LegacyV1Name\n", id="definitions"),
        pytest.param("    count: Annotated[int, Meta(gt=0, le=10)]\n", id="draft4-exclusive-flag"),
        pytest.param("    self: SinkV1 | UnsetType = UNSET\n", id="recursive-ref"),
        pytest.param("    note: str | UnsetType = UNSET\n", id="not-stays-a-check"),
        pytest.param("ShapeV1: TypeAlias = ShapeV1Circle | ShapeV1Square\n", id="root-union"),
        pytest.param('class ShapeV1Circle(Event, kw_only=True, forbid_unknown_fields=True):\n    __charter_schema__: ClassVar[str] = "com.example.kitchen/shape/1"', id="root-union-members-are-events"),
    ],
)  # fmt: skip
def test_new_keywords_become_python_types(kitchen: tuple[Path, str], expected: str) -> None:
    assert expected in kitchen[1]


KITCHEN_APP = """\
import datetime, uuid
from kitchen_events import ShapeV1, ShapeV1Circle, SinkV1, SinkV1Money, Tracker

tracker = Tracker("http://localhost:8080")
shape: ShapeV1 = ShapeV1Circle(kind="circle", radius=1.5)
tracker.track(shape)
tracker.track(SinkV1(id=uuid.uuid4(), kind="sink", price=SinkV1Money(amount=9.5, currency="EUR"), point=(1.0, 2.0), labels={"a": "b"}))
tracker.track(SinkV1(id=uuid.uuid4(), kind="tap", price=SinkV1Money(amount=9.5, currency="EUR")))
"""


def test_mypy_strict_passes_the_kitchen_sdk_and_refuses_a_value_outside_a_const(
    kitchen: tuple[Path, str], tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text(KITCHEN_APP)
    cmd = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull, "app.py"]
    done = subprocess.run(cmd, cwd=tmp_path, env={**os.environ, "MYPYPATH": str(kitchen[0])},
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and errors[0].startswith('app.py:8: error: Argument "kind" to "SinkV1"'), done.stdout


def test_what_no_type_can_say_is_still_checked_before_sending(kitchen: tuple[Path, str]) -> None:
    sys.path.insert(0, str(kitchen[0]))
    try:
        sdk = importlib.import_module("kitchen_events")
        from kitchen_events._wire import encode
    finally:
        sys.path.remove(str(kitchen[0]))
    money = sdk.SinkV1Money(amount=9.5, currency="EUR")
    ok = sdk.SinkV1(id=uuid.uuid4(), kind="sink", price=money, gift=True, gift_message="hi",
                    ship_to=sdk.SinkV1Address(street="1 Main St", country="NO"))  # fmt: skip
    assert encode(ok).schema == "com.example.kitchen/sink/1"
    broken = {
        "$.ship_to: required property is missing": {"gift": True},  # if/then
        "$.gift: required property is missing": {"gift_message": "hi"},  # dependentRequired
        "$.note: must not match the schema in `not`": {"note": "  "},
        "$.price.amount: must be a multiple of 0.01": {"price": sdk.SinkV1Money(amount=1.001, currency="EUR")},
        "$.ship_to.country: must match the pattern": {"ship_to": sdk.SinkV1Address(street="x", country="no")},
        "$.payment: must match exactly one schema in `oneOf`": {"payment": sdk.SinkV1PaymentOption2(iban="short")},
        "$.scores.x: property not allowed": {"scores": {"x": 1}},
    }
    for message, fields in broken.items():
        with pytest.raises(sdk.InvalidEvent, match=re.escape(message)):
            encode(sdk.SinkV1(**{"id": uuid.uuid4(), "kind": "sink", "price": money, **fields}))
