"""Where the collector's CPU goes per event, stage by stage: `python bench/stages.py`.

Runs the collector's own functions in this process on the batch of 50 events that
`bench/run.py` posts, and measures each stage with `time.process_time` (CPU of every thread of
this process: the file sink's fdatasync thread counts): splitting the body, decoding,
validation, CEL rules and PII protection (the protected set), canonical JSON and fingerprint,
envelope and record encoding, `process()` as a whole, the file sink, and one whole
`POST /v1/events` through the ASGI app (no socket, no uvicorn). Each figure is the median of 3
repeats. Deterministic where a sampling profile is not, so a change shows where it saved.

The stages of `process()` are measured twice: alone, each in a loop of its own, and counted
inside `process()` (its module's functions wrapped with timers for one run): alone, a stage's
code and data stay in the CPU's caches, so it looks cheaper than it is in the pipeline (CEL rules
and PII protection about 2x). The table's figure is the counted one.

`--root DIR` measures the collector of another tree (an old commit checked out with
`git worktree add`) with this script, the benchmark's events and contracts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH = Path(__file__).resolve().parent
SCHEMAS = BENCH / "schemas"
BATCH = 50  # events per body: bench/run.py's throughput body
REPEATS = 3
CONCURRENCY = 16  # requests (and sink sends) in flight at once: the file sink's group commit shares their sync
USER_AGENT = b"charter-loadgen/1"  # what bench/loadgen sends


class StagesError(Exception):
    """The breakdown could not be measured (e.g. the events are not all accepted)."""


@dataclass
class Stage:
    name: str
    us: float | None  # CPU µs per event of the batch, alone in a loop; None: not measurable on this tree
    runs: list[float] = field(default_factory=list)  # the repeats, µs per event
    note: str = ""
    key: str = ""  # which of process()'s functions it is, to count them inside process() (`inside`)
    inside: float | None = None  # µs per event spent in it while process() ran: caches as process() leaves them
    inside_runs: list[float] = field(default_factory=list)


# ---------------------------------------------------------------------------- timing


def _time(work: Callable[[], object], calls: int) -> float:
    t0 = time.process_time()
    for _ in range(calls):
        work()
    return time.process_time() - t0


def _calls_for(elapsed: Callable[[int], float], seconds: float) -> int:
    """How many calls take about `seconds` of CPU: double until 50 ms are measured, then scale."""
    calls = 1
    while (spent := elapsed(calls)) < 0.05:
        calls *= 2
    return max(1, math.ceil(calls * seconds / spent))


def per_event(work: Callable[[], object], events: int, seconds: float) -> list[float]:
    """CPU µs per event of `work` (one pass over `events` events), once per repeat."""
    calls = _calls_for(lambda n: _time(work, n), seconds / REPEATS)
    return [1e6 * _time(work, calls) / (calls * events) for _ in range(REPEATS)]


async def _atime(work: Callable[[], Awaitable[object]], calls: int) -> float:
    t0 = time.process_time()
    for _ in range(calls):
        await work()
    return time.process_time() - t0


async def aper_event(work: Callable[[], Awaitable[object]], events: int, seconds: float, cap: int) -> list[float]:
    """`per_event` for a coroutine; at most `cap` calls per repeat (each one writes to disk)."""
    calls = 1
    while (spent := await _atime(work, calls)) < 0.05 and calls < cap:
        calls *= 2
    calls = min(cap, max(1, math.ceil(calls * seconds / REPEATS / spent)))
    return [1e6 * await _atime(work, calls) / (calls * events) for _ in range(REPEATS)]


def _stage(name: str, runs: list[float], note: str = "", key: str = "") -> Stage:
    return Stage(name, statistics.median(runs), [round(r, 3) for r in runs], note, key)


# ---------------------------------------------------------------------------- the tree measured


@dataclass
class Tree:
    """The collector modules of the tree measured (imported after `--root` is on sys.path)."""

    root: Path
    annotate: ModuleType
    app: ModuleType
    contracts: ModuleType
    decode: ModuleType
    pipeline: ModuleType
    route: ModuleType
    rules: ModuleType
    settings: ModuleType
    sinks: ModuleType
    validate: ModuleType


def import_tree(root: Path | None) -> Tree:
    if root is not None:
        sys.path.insert(0, str(root.resolve()))
    names = ("annotate", "app", "contracts", "decode", "pipeline", "route", "rules", "settings", "sinks", "validate")
    mods = {n: importlib.import_module(f"collector.{n}") for n in names}
    tree_root = Path(mods["pipeline"].__file__ or "").resolve().parent.parent
    if root is not None and tree_root != root.resolve():
        raise StagesError(f"collector was imported from {tree_root}, not --root {root}")
    return Tree(tree_root, **mods)


def _commit(root: Path) -> str:
    git = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return git.stdout.strip() or "unknown"


def generate_keys(tree: Tree, path: Path) -> None:
    """A fresh key file made by the tree's own CLI (`charter keys generate`), as bench/run.py does."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree.root), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "collector.cli", "keys", "generate", "--out", str(path)]
    proc = subprocess.run(cmd, cwd=tree.root, env=env, capture_output=True, text=True)
    if proc.returncode or not path.exists():
        raise StagesError(f"charter keys generate failed ({proc.returncode}):\n{proc.stderr}")


# ---------------------------------------------------------------------------- the batch


@dataclass
class Batch:
    """The batch as each stage needs it, computed once outside the timings."""

    body: bytes
    items: list[bytes]
    events: list[Any]
    contracts: list[Any]
    registry: Any
    privacy: Any
    settings: Any


def make_batch(tree: Tree, contracts: str, keys: Path) -> Batch:
    import run  # bench/run.py: the same events, encoded the same way

    items_in = [run._encode(e) for e in run.make_events(BATCH, 1, contracts)]
    body = b"[" + b",".join(items_in) + b"]"
    settings = tree.settings.Settings(schemas=SCHEMAS, sink="file", keys=keys)
    registry = tree.contracts.load_registry(SCHEMAS)
    privacy = tree.app.build_privacy(settings, registry)
    items = tree.decode.split_events(body, "application/json", settings.max_events)
    if not isinstance(items, list):
        raise StagesError(f"the batch body was refused: {items}")
    events = [tree.pipeline._event_decoder.decode(i) for i in items]
    return Batch(body, items, events, [registry.get(e.schema) for e in events], registry, privacy, settings)


def _context(tree: Tree, b: Batch) -> Any:
    """A request's context, as the app builds it for a loadgen request from 127.0.0.1."""
    source = tree.annotate.Source(ip="127.0.0.1", user_agent=USER_AGENT.decode())
    return tree.pipeline.Context(tree.annotate.now_rfc3339(), source, b.privacy)


def check_accepted(tree: Tree, b: Batch) -> None:
    out = tree.pipeline.process(b.items, b.registry, _context(tree, b))
    if out.rejections or out.accepted != BATCH:
        r = out.rejections[0]
        raise StagesError(f"{len(out.rejections)} events of the batch are rejected, e.g. #{r.index}: {r.type}")


# ---------------------------------------------------------------------------- the stages


def _fingerprinter(tree: Tree) -> Callable[[Any, Any], tuple[str, bytes | None]]:
    """The tree's way to fingerprint: canonical JSON encoded once (newer trees), or `fingerprint(ref, data)`."""
    a = tree.annotate
    if hasattr(a, "canonical") and hasattr(a, "fingerprint_of"):

        def once(contract: Any, data: Any) -> tuple[str, bytes | None]:
            canonical = a.canonical(data)
            header = getattr(contract, "schema_header", None) or contract.ref.encode()
            return a.fingerprint_of(header, canonical), canonical

        return once
    return lambda contract, data: (a.fingerprint(contract.ref, data), None)


def _envelope(tree: Tree, b: Batch) -> Callable[[], object] | None:
    """`_accept`'s envelope and record for every event (protected data precomputed), or None when
    this tree's envelope is neither of the shapes known here."""
    import msgspec

    a, route = tree.annotate, tree.route
    ctx, fp = _context(tree, b), _fingerprinter(tree)
    prepared = []
    for e, c in zip(b.events, b.contracts, strict=True):
        sig, canonical = fp(c, e.data)
        data = b.privacy.protect(dict(e.data), c.pii) if c.pii else e.data
        prepared.append((e, c, sig, data, canonical))
    if hasattr(a, "GoodOut") and hasattr(a, "COLLECTOR_JSON"):
        source, collector = ctx.source_json, a.COLLECTOR_JSON

        def envelope(e: Any, c: Any, sig: str, data: Any, canonical: bytes | None) -> Any:
            value = data if c.pii or canonical is None else msgspec.Raw(canonical)
            return a.GoodOut(e.id or a.uuid7(), c.ref, c.namespace, c.name, c.version_str, value, e.sent_at,
                             ctx.collected_at, sig, source, collector, a.UNSET)  # fmt: skip
    elif hasattr(a, "GoodEnvelope"):

        def envelope(e: Any, c: Any, sig: str, data: Any, canonical: bytes | None) -> Any:
            return a.GoodEnvelope(e.id or a.uuid7(), c.ref, c.namespace, c.name, c.version_str, data, e.sent_at,
                                  ctx.collected_at, sig, ctx.source, a.COLLECTOR, a.UNSET)  # fmt: skip
    else:
        return None

    def records() -> None:
        for e, c, sig, data, canonical in prepared:
            env = envelope(e, c, sig, data, canonical)
            key = env.id
            if c.meta.partition_key is not None and isinstance(data, dict):
                part = data.get(c.meta.partition_key)
                key = env.id if part is None else str(part)
            route.good_record(c, env, key, False)

    try:
        records()
    except (TypeError, AttributeError):  # the tree's _accept builds something else
        return None
    return records


def pipeline_stages(tree: Tree, b: Batch, seconds: float) -> list[Stage]:
    """Each stage of `process` on its own, in the pipeline's order, over the whole batch."""
    p, validate, rules = tree.pipeline, tree.validate.validate, tree.rules.evaluate
    pairs = list(zip(b.events, b.contracts, strict=True))
    ruled = [(e, c) for e, c in pairs if c.rules]
    pii = [(e.data, c.pii) for e, c in pairs if c.pii]
    fp = _fingerprinter(tree)
    max_events = b.settings.max_events

    def split() -> None:
        tree.decode.split_events(b.body, "application/json", max_events)

    def decode() -> None:
        for item in b.items:
            p._event_decoder.decode(item)

    def valid() -> None:
        for e, c in pairs:
            validate(c.compiled, e.data)

    def cel() -> None:
        for e, c in ruled:
            rules(c.rules, e.data, c.ref, p._rfc3339(e.sent_at), bool(c.pii))

    def copies() -> None:  # protect works in place: each pass protects fresh copies (their cost subtracted)
        for data, _ in pii:
            dict(data)

    def protect() -> None:
        for data, fields in pii:
            b.privacy.protect(dict(data), fields)

    def fingerprint() -> None:
        for e, c in pairs:
            fp(c, e.data)

    stages = [
        _stage("split the body into items (decode.split_events)", per_event(split, BATCH, seconds), key="split"),
        _stage("decode each event (msgspec, Event)", per_event(decode, BATCH, seconds), key="decode"),
        _stage("validate (jsonschema-rs)", per_event(valid, BATCH, seconds), key="validate"),
    ]
    if ruled:
        stages.append(
            _stage(f"CEL rules ({len(ruled)} of {BATCH} events)", per_event(cel, BATCH, seconds), key="rules")
        )
    if pii:
        with_copy, copy = per_event(protect, BATCH, seconds), per_event(copies, BATCH, seconds)
        runs = [w - statistics.median(copy) for w in with_copy]
        stages.append(_stage(f"PII protection ({len(pii)} of {BATCH} events)", runs, key="pii"))
    stages.append(_stage("canonical JSON + fingerprint", per_event(fingerprint, BATCH, seconds), key="fingerprint"))
    records = _envelope(tree, b)
    if records is None:
        stages.append(Stage("envelope + record encoding", None, note="n/a on this tree", key="envelope"))
    else:
        runs = per_event(records, BATCH, seconds)
        stages.append(_stage("envelope + record encoding (route.good_record)", runs, key="envelope"))
    return stages


# ---------------------------------------------------------------------------- counted inside process()


class _Count:
    def __init__(self) -> None:
        self.ns = self.calls = 0


def _counted(f: Callable[..., Any], count: _Count) -> Callable[..., Any]:
    def counted(*args: Any) -> Any:
        t0 = time.perf_counter_ns()
        result = f(*args)
        count.ns += time.perf_counter_ns() - t0
        count.calls += 1
        return result

    return counted


class _Decoder:
    def __init__(self, decode: Callable[[bytes], Any]) -> None:
        self.decode = decode


def _timer_bias() -> float:
    """ns a counted call adds inside its own interval (measured on a function that does nothing)."""
    count = _Count()
    noop = _counted(lambda *args: None, count)
    for _ in range(100_000):
        noop()
    return count.ns / count.calls


@contextlib.contextmanager
def _counting(tree: Tree, b: Batch) -> Iterator[dict[str, _Count]]:
    """process()'s stage functions, each wrapped to count its time (module globals, put back after)."""
    p = tree.pipeline
    counts = {k: _Count() for k in ("decode", "validate", "rules", "pii", "fingerprint", "envelope")}
    targets = {"validate": "validate", "evaluate": "rules", "canonical": "fingerprint", "fingerprint_of": "fingerprint",
               "fingerprint": "fingerprint", "GoodOut": "envelope", "GoodEnvelope": "envelope",
               "good_record": "envelope"}  # fmt: skip
    saved = {name: getattr(p, name) for name in targets if hasattr(p, name)}
    decoder = p._event_decoder
    try:
        for name, f in saved.items():
            setattr(p, name, _counted(f, counts[targets[name]]))
        setattr(p, "_event_decoder", _Decoder(_counted(decoder.decode, counts["decode"])))  # noqa: B010
        b.privacy.protect = _counted(b.privacy.protect, counts["pii"])  # an instance attribute, deleted after
        yield counts
    finally:
        for name, f in saved.items():
            setattr(p, name, f)
        setattr(p, "_event_decoder", decoder)  # noqa: B010
        del b.privacy.protect


def whole_process(tree: Tree, b: Batch, stages: list[Stage], seconds: float) -> Stage:
    """`process()` as the app calls it (a fresh context per request), and each stage's time inside it
    (`Stage.inside`, from counters around its functions), in turns so both see the same machine."""
    bias = _timer_bias()

    def run() -> None:
        tree.pipeline.process(b.items, b.registry, _context(tree, b))

    calls = _calls_for(lambda n: _time(run, n), seconds / REPEATS)
    whole: list[float] = []
    runs: dict[str, list[float]] = {}
    for _ in range(REPEATS):
        whole.append(1e6 * _time(run, calls) / (calls * BATCH))
        with _counting(tree, b) as counts:
            _time(run, calls)
        for key, c in counts.items():
            if c.calls:  # none: this tree's process() calls it by another name (the figure alone stands)
                runs.setdefault(key, []).append((c.ns - bias * c.calls) / 1000 / (calls * BATCH))
    for s in stages:
        if s.key in runs and s.us is not None:
            s.inside_runs = [round(r, 3) for r in runs[s.key]]
            s.inside = statistics.median(runs[s.key])
    return _stage("process() in all", whole)


def uuid7_stage(tree: Tree, seconds: float) -> Stage:
    runs = per_event(tree.annotate.uuid7, 1, seconds)
    note = "the batch's events carry ids: one call per request, for its X-Request-Id"
    return _stage("UUIDv7 (annotate.uuid7)", runs, note)


# ---------------------------------------------------------------------------- sink and request


async def sink_stage(tree: Tree, b: Batch, data_dir: Path, seconds: float) -> Stage:
    """The file sink as the server makes it (`make_sink`), CONCURRENCY sends of the batch's records at once."""
    settings = tree.settings.Settings(schemas=SCHEMAS, sink="file", data_dir=data_dir)
    sink = tree.sinks.make_sink(settings, b.registry.topics())
    records = tree.pipeline.process(b.items, b.registry, _context(tree, b)).records
    await sink.start()
    try:

        async def round_() -> None:
            await asyncio.gather(*(sink.send(records) for _ in range(CONCURRENCY)))

        runs = await aper_event(round_, BATCH * CONCURRENCY, seconds, cap=_rounds_cap(b))
    finally:
        await sink.stop()
    return _stage(f"file sink send ({CONCURRENCY} concurrent, group commit + fdatasync + thread)", runs)


def _rounds_cap(b: Batch) -> int:
    """Rounds per repeat so that a repeat writes at most ~64 MB."""
    return max(8, (64 << 20) // (len(b.body) * 2 * CONCURRENCY))


def _scope(body: bytes) -> dict[str, Any]:
    headers = [
        (b"host", b"127.0.0.1:18080"), (b"user-agent", USER_AGENT), (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()), (b"accept-encoding", b"gzip"),
    ]  # fmt: skip
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": "POST", "scheme": "http", "path": "/v1/events", "raw_path": b"/v1/events", "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 18080),
        "state": {},
    }  # fmt: skip


async def post(app: Any, body: bytes) -> int:
    """One POST /v1/events straight into the ASGI app; its status."""
    done = asyncio.Event()
    status = 0
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()  # nothing more comes: the client hangs up only after the answer
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            done.set()

    await app(_scope(body), receive, send)
    return status


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """The app's lifespan, run as a server runs it (ASGI lifespan messages)."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise StagesError(f"the app did not start: {started.get('message', started)}")
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


async def request_stage(tree: Tree, b: Batch, keys: Path, data_dir: Path, seconds: float) -> Stage:
    settings = tree.settings.Settings(schemas=SCHEMAS, sink="file", data_dir=data_dir, keys=keys)
    app = tree.app.create_app(settings)
    async with lifespan(app):

        async def round_() -> None:
            statuses = await asyncio.gather(*(post(app, b.body) for _ in range(CONCURRENCY)))
            if any(s != 200 for s in statuses):
                raise StagesError(f"POST /v1/events answered {sorted(set(statuses))}, not 200")

        runs = await aper_event(round_, BATCH * CONCURRENCY, seconds, cap=_rounds_cap(b))
    note = f"{CONCURRENCY} concurrent, in-process: no socket, no uvicorn/HTTP parsing"
    return _stage("one POST /v1/events through the ASGI app", runs, note)


async def single_stage(tree: Tree, b: Batch, keys: Path, data_dir: Path, seconds: float, sink: str) -> Stage:
    """One single-event POST at a time (the latency phase's requests), into the ASGI app: with the
    memory sink (HTTP/ASGI + pipeline only), or the file sink committing each request at once
    (`--file-commit-window 0`: its write, fdatasync and thread hop, kernel time included)."""
    settings = tree.settings.Settings(
        schemas=SCHEMAS, sink=sink, data_dir=data_dir, keys=keys, file_commit_window=0.0
    )  # fmt: skip
    app = tree.app.create_app(settings)
    bodies = iter(b.items * 1_000_000)
    async with lifespan(app):

        async def one() -> None:
            status = await post(app, next(bodies))
            if status != 200:
                raise StagesError(f"POST /v1/events answered {status} for a single event, not 200")

        runs = await aper_event(one, 1, seconds, cap=20_000)
    return _stage(f"one single-event POST, {sink} sink", runs, "in-process, one request at a time")


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop when it is installed, as uvicorn picks it."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


# ---------------------------------------------------------------------------- the breakdown


def measure(contracts: str, root: Path | None = None, seconds: float = 1.5) -> dict[str, Any]:
    """The per-stage breakdown of one contract set (see the module docstring), as a JSON-ready dict."""
    tree = import_tree(root)
    with tempfile.TemporaryDirectory(prefix="charter-stages-") as tmp:
        keys = Path(tmp) / "charter-keys.json"
        generate_keys(tree, keys)  # every app loading bench/schemas needs them: the protected contracts use them
        b = make_batch(tree, contracts, keys)
        check_accepted(tree, b)
        stages = pipeline_stages(tree, b, seconds)
        whole = whole_process(tree, b, stages, seconds)
        uuid = uuid7_stage(tree, seconds)
        loop = _loop_factory()
        with asyncio.Runner(loop_factory=loop) as runner:
            sink = runner.run(sink_stage(tree, b, Path(tmp) / "sink", seconds))
            request = runner.run(request_stage(tree, b, keys, Path(tmp) / "app", seconds))
            singles = [
                runner.run(single_stage(tree, b, keys, Path(tmp) / f"single-{sink}", seconds, sink))
                for sink in ("memory", "file")
            ]
    return {
        "contracts": contracts,
        "collector": str(tree.root),
        "commit": _commit(tree.root),
        "loop": loop.__module__.split(".")[0],
        "batch": BATCH,
        "concurrency": CONCURRENCY,
        "repeats": REPEATS,
        "seconds_per_stage": seconds,
        "stages": [vars(s) for s in stages],
        "process": vars(whole),
        "sink": vars(sink),
        "request": vars(request),
        "uuid7": vars(uuid),
        "single": [vars(s) for s in singles],
    }


def _row(name: str, us: float | None, request: float, alone: float | None = None, bold: bool = False) -> str:
    cells = [name, "n/a" if us is None else f"{us:.2f}", "" if alone is None else f"{alone:.2f}"]
    cells.append("" if us is None else f"{100 * us / request:.1f} %")
    if bold:
        cells = [f"**{c}**" if c else c for c in cells]
    return "| " + " | ".join(cells) + " |"


def _in_process(s: dict[str, Any]) -> float | None:
    """A stage's share of process(): as counted inside it, else as measured alone."""
    inside: float | None = s.get("inside")
    return inside if inside is not None else s["us"]


def markdown(result: dict[str, Any]) -> str:
    """The breakdown as a Markdown table: stage | µs/event (inside process(), and alone) | share of the request."""
    request, whole, sink = result["request"]["us"], result["process"]["us"], result["sink"]["us"]
    split, *inside = result["stages"]  # split_events runs before process(), in the input protocol
    known = sum(us for s in inside if (us := _in_process(s)) is not None)
    rows = [
        f"| stage ({result['contracts']} contracts, {result['commit']}) | µs/event | alone, hot loop "
        "| share of the request |",
        "|---|---|---|---|",
        _row(split["name"], split["us"], request),
        *(_row(s["name"], _in_process(s), request, s["us"]) for s in inside),
        _row("pipeline overhead (process() - the stages above)", whole - known, request),
        _row("process() in all", whole, request, bold=True),
        _row(result["sink"]["name"], sink, request),
        _row("HTTP/ASGI + other (request - process() - split - sink)", request - whole - split["us"] - sink, request),
        _row("HTTP/ASGI + sink + other (request - process())", request - whole, request, bold=True),
        _row(f"one request in all ({result['request']['note']})", request, request, bold=True),
    ]
    u = result["uuid7"]
    per_event = u["us"] / BATCH
    rows += [
        "",
        f"µs/event: CPU per event of a batch of {BATCH}, median of {REPEATS} repeats of ~"
        f"{result['seconds_per_stage']:g} s CPU each (time.process_time, all threads). process()'s stages are "
        "counted inside process() (timers around its functions, their own cost taken off); 'alone, hot loop' is "
        "the same function in a loop of its own, where its code and data stay in the CPU's caches.",
        f"UUIDv7: {u['us']:.2f} µs per call; {u['note']} ({per_event:.3f} µs per event, in HTTP/ASGI). "
        f"Event loop: {result['loop']}; collector: {result['collector']}.",
    ]
    if "single" in result:  # older results (bench/results/) have no single-event figures
        memory, file = (s["us"] for s in result["single"])
        rows += [
            "",
            "| single-event request, in-process, one at a time | µs of CPU |",
            "|---|---|",
            f"| HTTP/ASGI + pipeline (memory sink) | {memory:.0f} |",
            f"| file sink commit: write, fdatasync (kernel time), thread hop | {file - memory:.0f} |",
            f"| **one request, file sink** (uvicorn's HTTP parsing and the socket not included) | **{file:.0f}** |",
        ]
    return "\n".join(rows)


def measure_in_subprocess(contracts: str, seconds: float = 1.5) -> dict[str, Any]:
    """`measure` in a fresh interpreter (the app's metrics and gc.freeze stay out of the caller)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--contracts", contracts, "--json", "--seconds", str(seconds)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise StagesError(f"bench/stages.py --contracts {contracts} failed ({proc.returncode}):\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--contracts", choices=("plain", "protected"), default="plain", help="contract set of bench/schemas")
    p.add_argument("--json", action="store_true", help="print the raw result as JSON instead of the table")
    p.add_argument("--root", type=Path, help="the tree whose collector/ is measured (default: the installed one)")
    p.add_argument("--seconds", type=float, default=1.5, help="CPU seconds per stage (3 repeats)")
    a = p.parse_args(argv)
    result = measure(a.contracts, a.root, a.seconds)
    print(json.dumps(result, indent=2) if a.json else markdown(result))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except StagesError as exc:
        print(f"stages: error: {exc}", file=sys.stderr)
        sys.exit(1)
