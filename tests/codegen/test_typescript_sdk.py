"""The TypeScript SDK: generated from schemas/, identical to sdks/typescript, compiled by `tsc --strict`,
refusing misuse at compile time, and delivering events from Node and from headless Chromium to a real
`charter serve --sink memory`.

The npm packages come from the committed lockfiles (`npm ci` into temporary copies, so the work tree
is never touched). Tests that need Node or Chromium skip, saying so, only when those are not installed.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import random
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from codegen.model import lines
from codegen.typescript_sdk import (
    DEFAULT_PACKAGE,
    NOT_ONE_REF,
    RUNTIME,
    TEMPLATES,
    TYPESCRIPT_VERSION,
    events_ts,
    generate,
    stale,
    tarball_name,
    typescript_command,
    write,
)
from collector.contracts import Registry
from tests.conftest import OWNER, ROOT, SCHEMAS, charter_serve, make_contract

SDK_DIR = ROOT / "sdks" / "typescript"
TS_TEMPLATES = ROOT / "codegen" / "templates" / "typescript"
TS_TESTS = ROOT / "tests" / "codegen" / "ts"
UPDATE = os.environ.get("CHARTER_UPDATE_GOLDEN") == "1"
NODE, NPM = shutil.which("node"), shutil.which("npm")
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium")

needs_node = pytest.mark.skipif(
    NODE is None or NPM is None, reason="node and npm are not installed (Node 20+ with npm is needed)"
)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian chromium is not installed (apt-get install -y chromium)"
)


def _registry_of(*contracts: Any) -> Registry:
    return Registry(list(contracts))


# --- generation: golden files, determinism, --check ---------------------------------------------


def test_committed_sdk_is_what_schemas_generate(registry: Registry) -> None:
    assert stale(generate(registry), SDK_DIR) == [], "run: charter codegen typescript --out sdks/typescript"


def test_regenerating_writes_identical_bytes_and_changes_nothing(registry: Registry, tmp_path: Path) -> None:
    first = generate(registry)
    assert generate(registry) == first
    assert write(first, tmp_path) == sorted(first)
    assert write(generate(registry), tmp_path) == []


def test_check_exits_0_when_fresh_and_1_naming_each_stale_file(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["--out", str(tmp_path), "--schemas", str(SCHEMAS)]
    assert runner.invoke(typescript_command, args).exit_code == 0
    # npm's own files are not the generator's business
    (tmp_path / "node_modules/typescript").mkdir(parents=True)
    (tmp_path / "node_modules/typescript/package.json").write_text("{}")
    fresh = runner.invoke(typescript_command, [*args, "--check"])
    # package.json, and the contract types as src/events.ts, dist/events.d.ts and dist/events.js
    assert (fresh.exit_code, fresh.output) == (0, f"{tmp_path} is up to date ({len(TEMPLATES) + 4} files)\n")

    (tmp_path / "src" / "events.ts").write_text("// edited by hand\n")
    (tmp_path / "dist" / "tracker.js").write_text("// built by someone else\n")
    (tmp_path / "src" / "old.ts").write_text("export {};\n")
    (tmp_path / "dist" / "old.js").write_text("export {};\n")
    (tmp_path / "tsconfig.json").unlink()
    result = runner.invoke(typescript_command, [*args, "--check"])
    assert result.exit_code == 1
    assert f"run `charter codegen typescript --out {tmp_path} --schemas {SCHEMAS}`" in result.output
    named = re.findall(r"^  (\S+) \((\w[\w ]*)\)$", result.output, re.M)
    assert named == [
        (str(tmp_path / "dist/tracker.js"), "differs"),
        (str(tmp_path / "src/events.ts"), "differs"),
        (str(tmp_path / "tsconfig.json"), "missing"),
        (str(tmp_path / "src/old.ts"), "not generated"),
        (str(tmp_path / "dist/old.js"), "not generated"),
    ]


def test_writing_repairs_a_stale_package_and_removes_strays_only_from_src_and_dist(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["--out", str(tmp_path), "--schemas", str(SCHEMAS)]
    runner.invoke(typescript_command, args)
    (tmp_path / "src" / "old.ts").write_text("export {};\n")
    (tmp_path / "dist" / "old.js").write_text("export {};\n")
    (tmp_path / "NOTES.md").write_text("mine\n")
    assert runner.invoke(typescript_command, args).exit_code == 0
    assert not (tmp_path / "src" / "old.ts").exists()
    assert not (tmp_path / "dist" / "old.js").exists()
    assert (tmp_path / "NOTES.md").read_text() == "mine\n"
    assert runner.invoke(typescript_command, [*args, "--check"]).exit_code == 0


def test_package_option_names_the_npm_package(tmp_path: Path) -> None:
    args = ["--out", str(tmp_path), "--schemas", str(SCHEMAS)]
    assert CliRunner().invoke(typescript_command, [*args, "--package", "@acme/events"]).exit_code == 0
    manifest = json.loads((tmp_path / "package.json").read_text())
    assert manifest["name"] == "@acme/events"
    assert 'import { Tracker } from "@acme/events";' in (tmp_path / "src" / "index.ts").read_text()
    assert 'import { Tracker } from "@acme/events";' in (tmp_path / "dist" / "index.d.ts").read_text()
    lock = json.loads((tmp_path / "package-lock.json").read_text())
    assert (lock["name"], lock["version"]) == ("@acme/events", manifest["version"])
    assert manifest["devDependencies"]["typescript"] == TYPESCRIPT_VERSION
    assert lock["packages"]["node_modules/typescript"]["version"] == TYPESCRIPT_VERSION
    assert f"npm install ./acme-events-{manifest['version']}.tgz" in (tmp_path / "README.md").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--package", "Charter Events"], "is not an npm package name", id="bad-package-name"),
        pytest.param(["--schemas", "no/such/dir"], "schemas directory does not exist", id="no-schemas"),
    ],
)
def test_unusable_arguments_exit_2_with_the_fix(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(typescript_command, ["--out", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "package.json").exists()


# --- the types: what a developer sees in src/events.ts --------------------------------------------


def _events_for(properties: dict[str, Any], **schema: Any) -> str:
    contract = make_contract(properties, ref="com.example.test/page_view/2.1.0", **schema)
    return events_ts(lines(_registry_of(contract)))


def test_types_follow_required_nullable_and_enum_keywords() -> None:
    ts = _events_for(
        {
            "url": {"type": "string", "description": "Page URL."},
            "referrer": {"type": ["string", "null"]},
            "kind": {"enum": ["a", "b", None]},
            "count": {"type": "integer", "minimum": 0},
            "flag": {"const": True},
        },
        required=["url", "kind"],
        additionalProperties=False,
    )
    assert "export interface PageViewV2 {\n  /** Page URL. */\n  url: string;\n" in ts
    assert "  referrer?: string | null;\n" in ts
    assert '  kind: "a" | "b" | null;\n' in ts
    assert "  /** @minimum 0 */\n  count?: number;\n" in ts
    assert "  flag?: true;\n" in ts
    assert '  "com.example.test/page_view/2": PageViewV2;\n' in ts
    assert "[field: string]" not in ts


def test_nested_objects_arrays_and_defs_become_named_types() -> None:
    ts = _events_for(
        {
            "cart": {"type": "object", "properties": {"total": {"type": "number"}}, "required": ["total"]},
            "lines": {"type": "array", "items": {"$ref": "#/$defs/line"}},
            "tags": {"type": "array", "items": {"type": ["string", "integer"]}},
            "meta": {"type": "object"},
        },
        **{"$defs": {"line": {"type": "object", "properties": {"sku": {"type": "string"}}, "required": ["sku"]}}},
    )
    assert "  cart?: PageViewV2Cart;\n" in ts
    assert "export interface PageViewV2Cart {\n  total: number;\n" in ts
    assert "  lines?: PageViewV2Line[];\n" in ts
    assert "export interface PageViewV2Line {\n  sku: string;\n" in ts
    assert "  tags?: (string | number)[];\n" in ts
    assert "  meta?: Record<string, unknown>;\n" in ts
    # additionalProperties defaults to true in JSON Schema: the type must allow unnamed fields too
    assert ts.count("[field: string]: unknown;") == 3


def test_an_optional_tuple_element_that_is_a_union_is_parenthesised() -> None:
    ts = _events_for({"pair": {"prefixItems": [{"type": ["string", "null"]}, {"enum": [1, "a"]}], "minItems": 1}})
    assert '  pair?: [string | null, (1 | "a")?, ...unknown[]];\n' in ts


def test_a_deprecated_contract_is_struck_through_in_editors() -> None:
    ts = _events_for({"url": {"type": "string"}}, **{"x-contract": {**OWNER, "status": "deprecated"}})
    assert "@deprecated The contract is deprecated" in ts.split("export interface PageViewV2")[0]
    assert (
        '  /**\n   * PageViewV2, newest version 2.1.0.\n   * @deprecated\n   */\n  "com.example.test/page_view/2"' in ts
    )


def test_odd_field_names_are_quoted_and_descriptions_cannot_end_the_comment_early() -> None:
    ts = _events_for({"content-type": {"type": "string", "description": "Ends with */ here"}})
    assert '  "content-type"?: string;\n' in ts
    assert "/** Ends with *\\/ here */" in ts


# --- Node: npm ci, tsc --strict, misuse, the tracker, a real collector ----------------------------


def _run(args: list[str], cwd: Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout, check=False
    )


def _npm_ci(directory: Path) -> None:
    done = _run([str(NPM), "ci", "--no-audit", "--no-fund"], directory)
    assert done.returncode == 0, f"npm ci in {directory} failed:\n{done.stdout}\n{done.stderr}"


@dataclass(frozen=True)
class Built:
    root: Path

    @property
    def entry(self) -> Path:
        return self.root / "dist" / "index.js"

    @property
    def tsc(self) -> list[str]:
        return [str(NODE), str(self.root / "node_modules" / "typescript" / "bin" / "tsc")]


@pytest.fixture(scope="session")
def built_sdk(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A copy of the committed sdks/typescript, shipped built (nothing is compiled here), with the pinned
    TypeScript its lockfile names installed by `npm ci` for the tests' own compiles."""
    if NODE is None or NPM is None:
        pytest.skip("node and npm are not installed")
    root = tmp_path_factory.mktemp("sdk") / DEFAULT_PACKAGE
    shutil.copytree(SDK_DIR, root, ignore=shutil.ignore_patterns("node_modules", "*.tgz"))
    _npm_ci(root)
    return Built(root)


@pytest.fixture(scope="session")
def ts_tests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of tests/codegen/ts with its npm packages (playwright-core) installed by `npm ci`."""
    root = tmp_path_factory.mktemp("ts-tests") / "ts"
    shutil.copytree(TS_TESTS, root, ignore=shutil.ignore_patterns("node_modules"))
    _npm_ci(root)
    return root


def _compile(root: Path, out: Path) -> None:
    """The package's src/ compiled by its pinned TypeScript with its own tsconfig, into `out`."""
    tsc = [str(NODE), str(root / "node_modules" / "typescript" / "bin" / "tsc")]
    done = _run([*tsc, "-p", ".", "--noEmit", "false", "--outDir", str(out)], root)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_node
def test_shipped_dist_is_what_the_pinned_tsc_makes_of_src(built_sdk: Built, tmp_path: Path) -> None:
    typecheck = _run([str(NPM), "run", "typecheck"], built_sdk.root)
    assert typecheck.returncode == 0, typecheck.stdout + typecheck.stderr
    assert json.loads((built_sdk.root / "tsconfig.json").read_text())["compilerOptions"]["strict"] is True
    runtime = [f"{m}{ext}" for m in RUNTIME for ext in (".js", ".d.ts")]
    if UPDATE:  # the templates keep __PACKAGE__: compile a package of that name
        from collector.contracts import load_registry

        gen = tmp_path / "gen"
        write(generate(load_registry(SCHEMAS), "__PACKAGE__"), gen)
        (gen / "node_modules").symlink_to(built_sdk.root / "node_modules")
        _compile(gen, gen / "out")
        for name in runtime:
            shutil.copy(gen / "out" / name, TS_TEMPLATES / "dist" / name)
        pytest.fail(
            "rewrote codegen/templates/typescript/dist; now run charter codegen typescript --out sdks/typescript"
        )
    _compile(built_sdk.root, tmp_path / "out")
    shipped = built_sdk.root / "dist"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in shipped.iterdir())
    for name in [*runtime, "events.js"]:
        assert (tmp_path / "out" / name).read_bytes() == (shipped / name).read_bytes(), (
            f"dist/{name} is not what tsc {TYPESCRIPT_VERSION} makes of src/; if src/ changed on purpose, run "
            "CHARTER_UPDATE_GOLDEN=1 pytest tests/codegen/test_typescript_sdk.py -k shipped_dist, then regenerate"
        )
    # tsc reprints declarations; the shipped events.d.ts keeps them as src/events.ts writes them
    assert (shipped / "events.d.ts").read_text() == (built_sdk.root / "src/events.ts").read_text() + "export {};\n"
    assert "track<S extends SchemaRef>(schema: S, data: EventData<S>)" in (shipped / "tracker.d.ts").read_text()


@pytest.fixture(scope="session")
def diagnostics(built_sdk: Built) -> dict[str, list[str]]:
    """`tsc --noEmit --strict` over tests/codegen/ts/misuse/*.ts, which import the built package by its name."""
    misuse = built_sdk.root / "misuse"
    shutil.copytree(TS_TESTS / "misuse", misuse, dirs_exist_ok=True)
    files = sorted(p.name for p in misuse.glob("*.ts"))
    flags = ["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022"]
    tsc = [str(NODE), "node_modules/typescript/bin/tsc", *flags, *(f"misuse/{f}" for f in files)]
    done = _run(tsc, built_sdk.root)
    found: dict[str, list[str]] = {f: [] for f in files}
    for m in re.finditer(r"^misuse/(\S+)\(\d+,\d+\): error (TS\d+: .*)$", done.stdout, re.M):
        found[m[1]].append(m[2])
    return found


@needs_node
def test_correct_usage_compiles(diagnostics: dict[str, list[str]]) -> None:
    assert diagnostics["ok.ts"] == []


@needs_node
@pytest.mark.parametrize(
    ("file", "error"),
    [
        pytest.param("wrong_type.ts", "TS2322: Type 'string' is not assignable to type 'number'.", id="wrong-field-type"),
        pytest.param("missing_required.ts", "TS2345: Argument of type '{ order_id: number;", id="missing-required-field"),
        pytest.param("missing_nested.ts", "TS2741: Property 'price' is missing in type", id="missing-nested-field"),
        pytest.param("wrong_enum.ts", "TS2322: Type '\"deleted\"' is not assignable to type '\"opened\" | \"unread\" | \"archived\"'.", id="value-outside-enum"),
        pytest.param("unknown_schema.ts", "TS2345: Argument of type '\"com.acme.shop/paymnt/1\"' is not assignable", id="unknown-contract"),
        pytest.param("schema_ref_variable.ts", f"TS2345: Argument of type 'OrderV1' is not assignable to parameter of type '{json.dumps(NOT_ONE_REF)}'", id="schema-ref-of-any-contract"),
        pytest.param("string_variable.ts", "TS2345: Argument of type 'string' is not assignable to parameter of type 'keyof Events'", id="any-string"),
        pytest.param("unknown_field.ts", "TS2353: Object literal may only specify known properties, and 'coupon'", id="field-not-in-contract"),
    ],
)  # fmt: skip
def test_misuse_fails_to_compile(diagnostics: dict[str, list[str]], file: str, error: str) -> None:
    assert len(diagnostics[file]) == 1, diagnostics[file]
    assert diagnostics[file][0].startswith(error)


@needs_node
def test_tracker_batches_retries_and_reports_as_documented(built_sdk: Built) -> None:
    done = _run([str(NODE), "--test", str(TS_TESTS / "tracker.test.mjs")], TS_TESTS, CHARTER_SDK=str(built_sdk.entry))
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^# fail 0$", done.stdout, re.M)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def page_origin(built_sdk: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A static server on its own port (so another origin than the collector): the page and the built SDK."""
    site = tmp_path_factory.mktemp("site")
    shutil.copytree(TS_TESTS / "page", site, dirs_exist_ok=True)
    shutil.copytree(built_sdk.root / "dist", site / "sdk")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def collector(page_origin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`charter serve --sink memory`, allowing the page's origin (CORS)."""
    with charter_serve(tmp_path_factory.mktemp("collector"), sink="memory", cors_origins=page_origin) as url:
        yield url


def _memory(url: str, kind: str) -> list[dict[str, Any]]:
    envelopes: list[dict[str, Any]] = httpx.get(f"{url}/v1/memory/{kind}", timeout=5).json()
    return envelopes


def _arrived(url: str, ids: set[str], deadline_s: float = 15) -> dict[str, dict[str, Any]]:
    """The good envelopes of these ids, polling the memory sink until all are there (or the deadline)."""
    deadline = time.monotonic() + deadline_s
    while True:
        good = {e["id"]: e for e in _memory(url, "good") if e["id"] in ids}
        if len(good) == len(ids) or time.monotonic() > deadline:
            return good
        time.sleep(0.05)  # polling the sink, not synchronising on time


@needs_node
def test_node_events_arrive_valid_and_a_rejected_one_is_reported(built_sdk: Built, collector: str) -> None:
    done = _run([str(NODE), str(TS_TESTS / "send.mjs"), collector], TS_TESTS, CHARTER_SDK=str(built_sdk.entry))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    sent: dict[str, str] = result["sent"]
    good = _arrived(collector, set(sent.values()))
    assert {e["schema"] for e in good.values()} == {
        "com.acme.shop/payment/1.0.0", "com.acme.shop/order/1.0.0", "com.datingapp.interactions/messages/1.0.0",
        "com.riverhotels.web/clickstream/1.1.0", "org.metmuseum.collection/object_images/1.0.0",
    }  # fmt: skip
    assert all(e["sent_at"] and e["source"]["user_agent"] for e in good.values())
    assert good[sent["order"]]["data"]["items"][0]["price"] == 950
    [failure] = result["failures"]
    assert (failure["reason"], [e["id"] for e in failure["events"]]) == ("rejected", [result["invalid"]])
    bad = [e for e in _memory(collector, "bad") if e["id"] == result["invalid"]]
    assert bad[0]["error"]["failures"][0]["path"] == "$.order_id"


@needs_node
@needs_chromium
def test_browser_page_sends_with_fetch_and_beacons_on_page_hide(
    ts_tests: Path, page_origin: str, collector: str, tmp_path: Path
) -> None:
    screenshot = tmp_path / "browser-sdk.png"
    page = f"{page_origin}/index.html?collector={collector}"
    done = _run([str(NODE), "browser.mjs", page, str(screenshot)], ts_tests, timeout=90, CHROMIUM=str(CHROMIUM))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["failures"] == [], result["logs"]
    flushed, on_hide = set(result["flushed"]), result["onHide"]
    assert result["beacons"] == [{"queued": True, "ids": [on_hide]}]
    good = _arrived(collector, {*flushed, on_hide})
    assert set(good) == {*flushed, on_hide}, f"arrived: {sorted(good)}; browser log: {result['logs']}"
    assert all("Chrome" in e["source"]["user_agent"] for e in good.values())
    assert screenshot.stat().st_size > 0
    print(f"screenshot: {screenshot}")


# --- every keyword: types where TypeScript can say it ----------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures" / "schemas"


@pytest.fixture(scope="module")
def kitchen_ts() -> str:
    from collector.contracts import load_registry

    return events_ts(lines(load_registry(FIXTURES)))


@pytest.mark.parametrize(
    "expected",
    [
        pytest.param('  kind: "sink";\n', id="const-literal"),
        pytest.param('  mixed?: "a" | 1 | 2.5 | null | true | [1, 2] | {"k": "v"};\n', id="enum-of-any-json"),
        pytest.param("  contact?: string | SinkV1ContactOption2;\n", id="anyOf-union"),
        pytest.param("  payment?: SinkV1PaymentOption1 | SinkV1PaymentOption2;\n", id="oneOf-union"),
        pytest.param("  labels?: Record<string, string>;\n", id="additionalProperties-record"),
        pytest.param("  scores?: Record<string, number>;\n", id="patternProperties-record"),
        pytest.param("  point?: [number, number];\n", id="closed-prefixItems-tuple"),
        pytest.param("  row?: [string?, number?, ...unknown[]];\n", id="open-prefixItems-tuple"),
        pytest.param("export type LegacyV1Pair = [string?, number?];\n", id="draft7-items-tuple"),
        pytest.param("export interface SinkV1Window {\n  /** @format date-time */\n  start: string;\n", id="allOf-merged"),
        pytest.param("  price: SinkV1Money;\n", id="ref-shared-file"),
        pytest.param("  ship_to?: SinkV1Address;\n", id="ref-other-contract"),
        pytest.param('export type SinkV1Currency = "EUR" | "USD" | "GBP";\n', id="ref-inside-shared-file"),
        pytest.param("  name: LegacyV1Name;\n", id="definitions"),
        pytest.param("  self?: SinkV1;\n", id="recursive-ref"),
        pytest.param("export type ShapeV1 = ShapeV1Circle | ShapeV1Square;\n", id="root-union"),
        pytest.param('  "com.example.kitchen/shape/1": ShapeV1;\n', id="root-union-tracked"),
    ],
)  # fmt: skip
def test_new_keywords_become_typescript_types(kitchen_ts: str, expected: str) -> None:
    assert expected in kitchen_ts


KITCHEN_USAGE = """\
import { Tracker, type ShapeV1, type SinkV1 } from "../src/index.js";

const tracker = new Tracker({ endpoint: "http://localhost:8080" });
const shape: ShapeV1 = { kind: "circle", radius: 1 };
tracker.track("com.example.kitchen/shape/1", shape);
const sink: SinkV1 = {
  id: "0192f8a0-0000-7000-8000-000000000000", kind: "sink", price: { amount: 1, currency: "EUR" },
  point: [1, 2], row: ["a"], labels: { a: "b" }, mixed: { k: "v" }, payment: { iban: "NO9386011117947" },
};
tracker.track("com.example.kitchen/sink/1", sink);
// @ts-expect-error a circle has no side
export const notACircle: ShapeV1 = { kind: "circle", side: 1 };
// @ts-expect-error a point is two numbers
export const notAPoint: SinkV1["point"] = [1, 2, 3];
// @ts-expect-error a const
export const notSink: SinkV1["kind"] = "tap";
// @ts-expect-error a value outside the enum of a shared file
export const notACurrency: SinkV1["price"] = { amount: 1, currency: "NOK" };
"""


@needs_node
def test_the_keyword_fixtures_package_builds_and_its_types_refuse_misuse(
    built_sdk: Built, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from collector.contracts import load_registry

    root = tmp_path_factory.mktemp("kitchen") / "kitchen-events"
    write(generate(load_registry(FIXTURES), "kitchen-events"), root)
    (root / "node_modules").symlink_to(built_sdk.root / "node_modules")
    typecheck = _run([str(NPM), "run", "typecheck"], root)
    assert typecheck.returncode == 0, typecheck.stdout + typecheck.stderr
    (root / "usage").mkdir()
    (root / "usage" / "usage.ts").write_text(KITCHEN_USAGE)
    flags = ["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022"]
    done = _run([str(NODE), "node_modules/typescript/bin/tsc", *flags, "usage/usage.ts"], root)
    assert done.returncode == 0, done.stdout  # every @ts-expect-error line is an error, and nothing else is


@needs_node
def test_any_loadable_contract_generates_typescript_that_tsc_strict_compiles(built_sdk: Built, tmp_path: Path) -> None:
    from hypothesis import HealthCheck, assume, given, settings

    from tests.codegen.anyschema import contracts

    out = tmp_path / "drawn"
    out.mkdir()

    @settings(max_examples=40, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(contracts)
    def run(contract: Any) -> None:
        assume(contract is not None)
        (out / f"events{len(list(out.iterdir()))}.ts").write_text(events_ts(lines(_registry_of(contract))))

    run()
    files = sorted(str(p) for p in out.iterdir())
    assert len(files) >= 20, "most drawn contracts must load, or this proves little"
    flags = ["--noEmit", "--strict", "--target", "es2022", "--module", "es2022", "--moduleDetection", "force"]
    done = _run([str(NODE), str(built_sdk.root / "node_modules/typescript/bin/tsc"), *flags, *files], tmp_path)
    assert done.returncode == 0, done.stdout[:3000]


# --- installed the way a user installs it: npm pack + npm install <tgz>, npm install <path> --------

USER_APP = """\
// A user's app: the installed package, imported by its name as its README shows.
import { Tracker, type EventData, type SchemaRef, type TrackerFailure } from "charter-events";

const failures: TrackerFailure[] = [];
const tracker = new Tracker({ endpoint: ENDPOINT, onFailure: (f) => failures.push(f) });
function send<S extends SchemaRef>(schema: S, data: EventData<S>): string | undefined {
  return tracker.track(schema, data);
}
const ids = [
  send("com.acme.shop/payment/1", {
    order_id: ORDER_ID, product_id: 7, amount: 9.5, currency: "EUR", confirmation_code: "AB12CD34",
    cc_number: "4111111111111111", ts: "2026-11-21T10:00:00Z",
  }),
  tracker.track("com.riverhotels.web/clickstream/1", {
    clickstream_id: "0b9c5c1e-2f43-4a8e-9d3f-6f1c2b7a8e90", customer_email: "ada@example.com", hotel_id: "H00042",
    action: "page-view", event_duration: 12, url: "https://riverhotels.example/h/H00042",
    created_at: "2026-11-21T10:00:00Z", referrer: null,
  }),
];
await tracker.close();
console.log(JSON.stringify({ ids, failures }));
"""


def _user_project(root: Path) -> Path:
    root.mkdir()
    (root / "package.json").write_text(json.dumps({"name": "user-app", "private": True, "type": "module"}))
    return root


def _npm_install(project: Path, what: str) -> None:
    done = _run([str(NPM), "install", what, "--no-audit", "--no-fund"], project)
    assert done.returncode == 0, f"npm install {what} failed:\n{done.stdout}\n{done.stderr}"


@needs_node
@pytest.mark.parametrize("how", ["tarball", "path"])
def test_installed_package_compiles_in_a_user_project_and_delivers_from_node(
    how: str, built_sdk: Built, collector: str, tmp_path: Path
) -> None:
    package = tmp_path / "sdk"  # the committed package as a user's checkout has it: no node_modules
    shutil.copytree(SDK_DIR, package, ignore=shutil.ignore_patterns("node_modules", "*.tgz"))
    app = _user_project(tmp_path / "app")
    if how == "tarball":
        packed = _run([str(NPM), "pack", str(package), "--json"], app)
        assert packed.returncode == 0, packed.stderr
        [info] = json.loads(packed.stdout)
        version = json.loads((SDK_DIR / "package.json").read_text())["version"]
        assert info["filename"] == tarball_name(DEFAULT_PACKAGE, version)
        assert sorted(f["path"] for f in info["files"]) == sorted(
            ["README.md", "package.json", *(f"dist/{p.name}" for p in (SDK_DIR / "dist").iterdir())]
        )
        _npm_install(app, f"./{info['filename']}")
    else:
        _npm_install(app, str(package))
    order_id = str(random.randrange(10**6, 10**9))  # the payment contract dedupes by order id
    source = USER_APP.replace("ENDPOINT", json.dumps(collector)).replace("ORDER_ID", order_id)
    (app / "app.ts").write_text(source)
    flags = ["--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022"]
    compiled = _run([*built_sdk.tsc, *flags, "app.ts"], app)  # the app's compiler: the package brings none
    assert compiled.returncode == 0, compiled.stdout
    ran = _run([str(NODE), "app.js"], app, timeout=60)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["failures"] == []
    good = _arrived(collector, set(result["ids"]))
    assert sorted(e["schema"] for e in good.values()) == [
        "com.acme.shop/payment/1.0.0", "com.riverhotels.web/clickstream/1.1.0",
    ]  # fmt: skip
