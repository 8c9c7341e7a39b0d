"""Charter's benchmark driver: `python bench/run.py`.

For each sink and each contract set of `bench/schemas/` (`plain`: types and constraints only;
`protected`: the same fields plus CEL rules and x-pii hash/encrypt) it starts a real
`charter serve` (one worker) as a subprocess, drives it with the Go load generator in
`bench/loadgen/` (a separate process, so the client does not share the collector's
interpreter), samples the collector's CPU and peak memory from /proc, and checks afterwards
(by consuming the topics, or counting the file sink's lines) that every event acknowledged
with a 200 was written and none went to a dead-letter topic. Prints a Markdown table and
writes the raw results to bench/results/.

`--scale-out` runs bench/scaleout.py instead: one collector, then two, behind one shared
Redis dedupe store and Kafka, checking that planted duplicates are forwarded once across them.

Not a test: it measures, it does not assert speed (only correctness: counts must match).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import importlib.util
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
LOADGEN = BENCH / ".bin" / "loadgen"
RESULTS = BENCH / "results"
KAFKA_SCRIPT = ROOT / "scripts" / "kafka"
KAFKA_DIR = Path(os.environ.get("CHARTER_KAFKA_DIR", "/tmp/charter-kafka"))
SCHEMAS = BENCH / "schemas"  # the benchmark's own contracts, not the examples in schemas/
CONTRACT_SETS = ("plain", "protected")
BATCH = 50
CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGET_EVENTS_PER_S, TARGET_P99_MS = 50_000, 10.0
PHASES = ("warmup", "throughput", "latency")
QUIET_OTHER_CPU_PCT = 15  # more CPU than this used by others during a phase skews the numbers


class BenchError(Exception):
    """The benchmark could not run, or its results are wrong (e.g. lost events)."""


# ---------------------------------------------------------------------------- events


def _ts(rng: random.Random) -> str:
    base = datetime.datetime(2026, 11, 21, 8, 0, tzinfo=datetime.UTC)
    t = base + datetime.timedelta(seconds=rng.randrange(0, 36_000), microseconds=rng.randrange(0, 10**6))
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


_FIRST = ["ana", "ben", "chloe", "dmitri", "emma", "farah", "goran", "hiro", "ines", "jamal", "kofi", "lena"]
_LAST = ["silva", "okafor", "nguyen", "schmidt", "rossi", "kowalski", "tanaka", "haddad", "larsen", "moreau"]
_CITIES = [("Lisbon", "PT"), ("Porto", "PT"), ("Lyon", "FR"), ("Gdansk", "PL"), ("Kyoto", "JP"), ("Austin", "US")]


def payment(i: int, rng: random.Random, contracts: str) -> dict[str, Any]:
    code = "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", k=8))
    data = {
        "order_id": 1_000_000 + i, "product_id": rng.randint(1, 5000),
        "amount": round(rng.uniform(1, 900), 2), "currency": rng.choice(["USD", "EUR", "GBP"]),
        "status": rng.choice(["paid", "paid", "paid", "refunded", "failed"]),
        "confirmation_code": code, "cc_number": "".join(rng.choices("0123456789", k=16)), "ts": _ts(rng),
    }  # fmt: skip
    ref = f"bench.shop/payment_{contracts}/1.0.0"
    return {"schema": ref, "id": _uuid(rng), "sent_at": _ts(rng), "data": data}


def clickstream(i: int, rng: random.Random, contracts: str) -> dict[str, Any]:
    hotel = f"H{rng.randint(1, 99_999):05d}"
    url = f"https://riverhotels.example/h/{hotel}"
    data = {
        "clickstream_id": _uuid(rng),
        "customer_email": f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}{i % 5000}@mail.example",
        "hotel_id": hotel, "action": rng.choice(["page-view", "booking-click", "search", "add-to-wishlist"]),
        "event_duration": rng.randint(0, 900), "url": url, "created_at": _ts(rng),
    }  # fmt: skip
    if rng.random() < 0.3:  # optional
        data["referrer"] = "https://google.example/"
    ref = f"bench.web/clickstream_{contracts}/1.0.0"
    return {"schema": ref, "id": _uuid(rng), "sent_at": _ts(rng), "data": data}


# Payments and clicks, half each; the same seed gives the same values in both contract sets.
_MIX = [(payment, 0.5), (clickstream, 0.5)]


def make_events(n: int, seed: int, contracts: str) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    makers = rng.choices([m for m, _ in _MIX], weights=[w for _, w in _MIX], k=n)
    return [make(seed * 10_000_000 + i, rng, contracts) for i, make in enumerate(makers)]


def _encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def load_contracts() -> Any:
    from collector.contracts import ContractLoadError, load_registry

    try:
        return load_registry(SCHEMAS)
    except ContractLoadError as exc:
        raise BenchError(f"cannot load {SCHEMAS.relative_to(ROOT)}: {exc}") from None


def check_valid(events: list[bytes], registry: Any) -> None:
    """Every generated event must be accepted, or the benchmark would measure the DLQ path."""
    from collector.annotate import Source, now_rfc3339
    from collector.pipeline import Context, process

    outcome = process(events, registry, Context(now_rfc3339(), Source()))
    if outcome.rejections:
        r = outcome.rejections[0]
        raise BenchError(
            f"{len(outcome.rejections)} generated events are invalid, e.g. #{r.index}: {r.type} {r.failures}"
        )


def describe_set(contracts: str, used: list[Any]) -> str:
    """What the set's contracts ask of each event; refuse a set that does not measure what it says."""
    rules = sum(len(c.rules) for c in used)
    pii = Counter(f.action.split("-")[0] for c in used for f in c.pii)
    deduped = [c.ref for c in used if c.meta.dedupe is not None]
    if deduped:  # the bodies repeat: every repeat would be a duplicate (207, dead-letter records)
        raise BenchError(f"contract set {contracts!r}: {', '.join(deduped)} dedupe; the benchmark re-posts bodies")
    if contracts == "plain" and (rules or pii):
        raise BenchError("contract set 'plain' must have no rules and no x-pii (it measures the core path)")
    if contracts == "protected" and (not rules or not pii["hash"] or not pii["encrypt"]):
        raise BenchError("contract set 'protected' must have CEL rules, an x-pii hash and an x-pii encrypt field")
    parts = [f"{c.ref}: {len(c.rules)} rules, x-pii {[f.action for f in c.pii] or 'none'}" for c in used]
    return "; ".join(parts)


@dataclass
class Bodies:
    contracts: str  # the contract set: plain | protected
    batch: Path  # one JSON array of BATCH events: every throughput request
    singles: Path  # NDJSON, one event per line: latency requests take them in turn
    sizes: list[int]
    good: list[str]
    dlq: list[str]
    described: str


def write_bodies(directory: Path, n_singles: int, contracts: str, registry: Any) -> Bodies:
    batch_events = [_encode(e) for e in make_events(BATCH, 1, contracts)]
    singles = [_encode(e) for e in make_events(n_singles, 2, contracts)]
    check_valid(batch_events + singles[:2000], registry)
    directory.mkdir(parents=True, exist_ok=True)
    batch = directory / "batch.json"
    batch.write_bytes(b"[" + b",".join(batch_events) + b"]")
    lines = directory / "singles.ndjson"
    lines.write_bytes(b"\n".join(singles) + b"\n")
    refs = {json.loads(e)["schema"] for e in batch_events + singles[:2000]}
    used = sorted((registry.get(ref) for ref in refs), key=lambda c: c.ref)
    good, dlq = sorted({c.topic for c in used}), sorted({c.dlq_topic for c in used})
    sizes = [len(e) for e in batch_events + singles]
    return Bodies(contracts, batch, lines, sizes, good, dlq, describe_set(contracts, used))


def generate_keys(path: Path) -> None:
    """A fresh key file for x-pii hash/encrypt, made by the CLI the way an operator would."""
    cmd = [sys.executable, "-m", "collector.cli", "keys", "generate", "--out", str(path)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode or not path.exists():
        raise BenchError(f"charter keys generate failed ({proc.returncode}):\n{proc.stderr}")


# ---------------------------------------------------------------------------- processes


def build_loadgen() -> None:
    if shutil.which("go") is None:
        raise BenchError("`go` is not on PATH; the load generator is a Go program (bench/loadgen)")
    # The module lives in bench/loadgen (no go.mod at the repo root), hence -C.
    cmd = ["go", "-C", str(BENCH / "loadgen"), "build", "-o", str(LOADGEN), "."]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise BenchError(f"building the load generator failed:\n{proc.stderr}")


def loadgen(mode: str, url: str, body_flag: list[str], seconds: float, conns: int, rate: float = 0) -> dict[str, Any]:
    cmd = [str(LOADGEN), "-mode", mode, "-url", url, "-d", str(seconds), "-c", str(conns), *body_flag]
    if rate:
        cmd += ["-rate", str(rate)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise BenchError(f"loadgen {mode} failed ({proc.returncode}):\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


class ProcStats:
    """CPU and memory of one process, from /proc (Linux)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)

    def status_kib(self, key: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        return 0


def machine_busy_seconds() -> tuple[float, float]:
    """CPU seconds all cores spent busy since boot (/proc/stat), to see who else is busy, and of
    them the time the hypervisor gave our vCPUs to someone else (steal): a noisy neighbour."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(ticks[:8]) - ticks[3] - ticks[4]  # minus idle and iowait; guest is in user
    return busy / CLK_TCK, ticks[7] / CLK_TCK


@contextlib.contextmanager
def cpu_meter(procs: dict[str, ProcStats], out: dict[str, Any]) -> Iterator[None]:
    """Record each process's CPU, and the whole machine's, over the block, as % of one core."""
    start = {name: p.cpu_seconds() for name, p in procs.items()}
    (busy0, steal0), t0 = machine_busy_seconds(), time.monotonic()
    yield
    wall = time.monotonic() - t0
    for name, p in procs.items():
        used = p.cpu_seconds() - start[name]
        out[f"{name}_cpu_s"] = round(used, 3)
        out[f"{name}_cpu_pct"] = round(100 * used / wall, 1)
    busy, steal = machine_busy_seconds()
    out["machine_cpu_pct"] = round(100 * (busy - busy0) / wall, 1)
    out["steal_cpu_pct"] = round(100 * (steal - steal0) / wall, 1)
    out["wall_s"] = round(wall, 3)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"collector exited with {proc.returncode} during startup:\n{_tail(log)}")
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(url, timeout=2) as r,
        ):
            if r.status == 200:
                return
        time.sleep(0.2)
    raise BenchError(f"collector not ready after {timeout:g}s:\n{_tail(log)}")


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def stop_process(proc: subprocess.Popen[bytes], grace: float = 20) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # uvicorn shuts down gracefully: the sink flushes
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def kafka_running() -> bool:
    return subprocess.run([str(KAFKA_SCRIPT), "status"], capture_output=True).returncode == 0


def kafka_pid() -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int((KAFKA_DIR / "kafka.pid").read_text().strip())
    return None


# ---------------------------------------------------------------------------- kafka counts


async def _end_offsets(bootstrap: str, topics: list[str]) -> dict[tuple[str, int], int]:
    """The next offset of every partition of `topics` (topics that do not exist yet: none)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="charter-bench")
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    tps = [
        TopicPartition(d["topic"], p["partition"]) for d in described if d["error_code"] == 0 for p in d["partitions"]
    ]
    if not tps:
        return {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
        return {(tp.topic, tp.partition): off for tp, off in ends.items()}
    finally:
        await consumer.stop()


async def _consume_count(
    bootstrap: str, topics: list[str], since: dict[tuple[str, int], int], keep: int = 3
) -> tuple[int, int, list[bytes]]:
    """Consume every record written after `since`; return (records consumed, offset delta,
    the values of the first `keep` records of each partition)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    ends = await _end_offsets(bootstrap, topics)
    todo = {TopicPartition(t, p): end for (t, p), end in ends.items() if end > since.get((t, p), 0)}
    delta = sum(end - since.get(key, 0) for key, end in ends.items())
    samples: list[bytes] = []
    kept: Counter[Any] = Counter()
    if not todo:
        return 0, delta, samples
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=8 << 20
    )
    await consumer.start()
    count = 0
    try:
        consumer.assign(list(todo))
        for tp in todo:
            consumer.seek(tp, since.get((tp.topic, tp.partition), 0))
        deadline = time.monotonic() + 120
        while todo and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000, max_records=20_000)
            for tp, records in batches.items():
                end = todo.get(tp)
                if end is None:
                    continue
                count += sum(1 for r in records if r.offset < end)
                for r in records[: max(0, keep - kept[tp])]:
                    samples.append(r.value)
                    kept[tp] += 1
                if await consumer.position(tp) >= end:
                    del todo[tp]
                    consumer.pause(tp)
        if todo:
            raise BenchError(f"could not consume up to the end offsets of {sorted(map(str, todo))} within 120 s")
    finally:
        await consumer.stop()
    return count, delta, samples


# ---------------------------------------------------------------------------- one sink


@dataclass
class Options:
    duration: float
    warmup: float
    rate: float
    connections: int
    latency_connections: int
    port: int
    bootstrap: str
    profile: bool
    scale_out: bool = False
    stages: bool = True  # the per-stage breakdown (bench/stages.py) of each contract set, before the load
    floor: bool = True  # the same load on a bare ASGI app first (bench/floor.py): the server stack's own cost


def run_sink(
    sink: str, opt: Options, bodies: Bodies, keys: Path, workdir: Path, stack: contextlib.ExitStack
) -> dict[str, Any]:
    name = f"{sink}-{bodies.contracts}"
    tag = f"[{sink} / {bodies.contracts}]"
    result: dict[str, Any] = {"sink": sink, "contracts": bodies.contracts, "contract_set": bodies.described}
    base = f"http://127.0.0.1:{opt.port}"
    if not port_free(opt.port):
        raise BenchError(f"port {opt.port} is already in use; pass --port")
    data_dir = workdir / f"data-{name}"
    log = workdir / f"collector-{name}.log"
    cmd = [sys.executable, "-m", "collector.cli", "serve", "--sink", sink, "--port", str(opt.port),
           "--workers", "1", "--schemas", str(SCHEMAS), "--keys", str(keys), "--data-dir", str(data_dir),
           "--kafka-bootstrap", opt.bootstrap, "--log-level", "warning"]  # fmt: skip
    print(f"{tag} starting: charter serve --sink {sink} --schemas bench/schemas --keys <temp key file>", flush=True)
    log_file = stack.enter_context(log.open("wb"))
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT)
    stack.callback(stop_process, proc)
    wait_ready(base + "/ready", proc, log)
    procs = {"collector": ProcStats(proc.pid)}  # the loadgen reports its own CPU time
    kpid = kafka_pid() if sink == "kafka" else None
    if kpid is not None:
        procs["kafka"] = ProcStats(kpid)
    since = asyncio.run(_end_offsets(opt.bootstrap, bodies.good + bodies.dlq)) if sink == "kafka" else {}
    url = base + "/v1/events"
    batch_flag, singles_flag = ["-body", str(bodies.batch)], ["-bodies", str(bodies.singles)]

    print(f"{tag} warm-up {opt.warmup:g}s", flush=True)
    result["warmup"] = loadgen("throughput", url, batch_flag, opt.warmup, opt.connections)

    print(f"{tag} throughput {opt.duration:g}s: {opt.connections} connections, batches of {BATCH}", flush=True)
    profiler = _start_profiler(proc.pid, opt, workdir, f"{name}-throughput") if opt.profile else None
    with cpu_meter(procs, result.setdefault("throughput_cpu", {})):
        result["throughput"] = loadgen("throughput", url, batch_flag, opt.duration, opt.connections)
    _others(result["throughput_cpu"], result["throughput"])
    if profiler is not None:
        result["throughput_profile"] = _finish_profiler(*profiler)
    time.sleep(1)

    print(f"{tag} latency {opt.duration:g}s: single events at {opt.rate:g} req/s", flush=True)
    profiler = _start_profiler(proc.pid, opt, workdir, f"{name}-latency") if opt.profile else None
    with cpu_meter(procs, result.setdefault("latency_cpu", {})):
        result["latency"] = loadgen("latency", url, singles_flag, opt.duration, opt.latency_connections, opt.rate)
    _others(result["latency_cpu"], result["latency"])
    if profiler is not None:
        result["latency_profile"] = _finish_profiler(*profiler)
    for phase in ("throughput", "latency"):  # collector CPU time per event answered 200
        ok = result[phase]["events_ok"]
        cpu_s = result[f"{phase}_cpu"]["collector_cpu_s"]
        result[f"{phase}_cpu"]["collector_cpu_us_per_event"] = round(1e6 * cpu_s / ok, 2) if ok else None

    collector = procs["collector"]
    result["peak_rss_mib"] = round(collector.status_kib("VmHWM") / 1024, 1)
    result["rss_end_mib"] = round(collector.status_kib("VmRSS") / 1024, 1)
    stop_process(proc)
    log_file.flush()
    result["collector_log"] = _keep(log, f"collector-{name}")
    # uvicorn re-raises the SIGTERM after its graceful shutdown: -15 is a clean exit, -9 is not
    result["collector_exit"] = proc.returncode
    result["collector_clean_exit"] = proc.returncode in (0, -signal.SIGTERM)
    acked = sum(result[p]["events_ok"] for p in PHASES)
    result["events_acked_200"] = acked
    if sink == "kafka":
        verify, good_samples, bad_samples = _verify_kafka(opt.bootstrap, bodies, since, acked, tag)
    else:
        verify, good_samples, bad_samples = _verify_files(data_dir, acked, tag)
    result["verify"] = verify
    if bad_samples:
        verify["dlq_samples"] = [_bad_summary(b) for b in bad_samples[:3]]
        print(f"{tag} DEAD-LETTER records (there should be none), e.g.:", flush=True)
        for line in verify["dlq_samples"]:
            print(f"    {line}", flush=True)
    problems = check_protection(good_samples, bodies.contracts)
    if problems:
        verify["ok"] = False
        verify["protection_problems"] = problems
        print(f"{tag} PROTECTION not as the contracts say: {'; '.join(problems)}", flush=True)
    verify["non_200_events"] = refused = sum(result[p]["events_sent"] - result[p]["events_ok"] for p in PHASES)
    extra = verify["good_records"] - acked
    if 0 < extra <= refused:
        verify["note"] = (
            f"{extra:,} records more than answered 200: part of {refused:,} events that were answered "
            "non-200 (e.g. 503) was written anyway; the client retries them (at-least-once)"
        )
        print(f"{tag} note: {verify['note']}", flush=True)
    return result


def _keep(path: Path, name: str) -> str | None:
    """Copy a collector log with warnings or errors (503s and their cause) next to the results."""
    if not path.exists() or not any(w in path.read_text(errors="replace") for w in ("WARNING", "ERROR")):
        return None
    dest = RESULTS / f"{_stamp()}-{name}.log"
    shutil.copy(path, dest)
    return str(dest.relative_to(ROOT))


def _others(cpu: dict[str, Any], run: dict[str, Any]) -> None:
    """CPU used by processes outside the benchmark (a busy machine skews every number)."""
    cpu["loadgen_cpu_pct"] = round(100 * run["loadgen_cpu_s"] / cpu["wall_s"], 1)
    ours = sum(v for k, v in cpu.items() if k.endswith("_cpu_pct") and k not in ("machine_cpu_pct", "steal_cpu_pct"))
    # steal is in the machine's busy time: "other processes" includes it, and says how much of it it was
    cpu["other_cpu_pct"] = round(max(0.0, cpu["machine_cpu_pct"] - ours), 1)


Verified = tuple[dict[str, Any], list[bytes], list[bytes]]  # counts, good samples, dead-letter samples


def _verify_kafka(bootstrap: str, bodies: Bodies, since: dict[tuple[str, int], int], acked: int, tag: str) -> Verified:
    print(f"{tag} verifying: consuming the good and dead-letter topics ...", flush=True)
    good, good_delta, good_samples = asyncio.run(_consume_count(bootstrap, bodies.good, since))
    bad, _, bad_samples = asyncio.run(_consume_count(bootstrap, bodies.dlq, since))
    print(f"{tag} records in good topics {', '.join(bodies.good)}: {good:,} (offset delta {good_delta:,}); "
          f"events answered 200: {acked:,}; records in {', '.join(bodies.dlq)}: {bad:,}", flush=True)  # fmt: skip
    verify = {"good_records": good, "good_offset_delta": good_delta, "dlq_records": bad,
              "events_acked_200": acked, "ok": good == acked and bad == 0}  # fmt: skip
    return verify, good_samples, bad_samples


def _verify_files(data_dir: Path, acked: int, tag: str) -> Verified:
    counts = {"good": 0, "bad": 0}
    samples: dict[str, list[bytes]] = {"good": [], "bad": []}
    for prefix in counts:
        for path in sorted(data_dir.glob(f"{prefix}-*.jsonl")):
            text = path.read_bytes()
            counts[prefix] += text.count(b"\n")
            samples[prefix] += [line for line in text.split(b"\n", 20)[:20] if line.strip()]
    good, bad = counts["good"], counts["bad"]
    print(f"{tag} lines in good files: {good:,}; events answered 200: {acked:,}; bad lines: {bad:,}", flush=True)
    verify = {"good_records": good, "dlq_records": bad, "events_acked_200": acked, "ok": good == acked and bad == 0}
    return verify, samples["good"][:40], samples["bad"][:3]


def _bad_summary(raw: bytes) -> str:
    """One dead-letter record as `schema: error type: first failure` (its payload left out)."""
    try:
        env = json.loads(raw)
        err = env.get("error") or {}
        failures = err.get("failures") or [{}]
        first = failures[0]
        what = f"{first.get('path', '')}: {first.get('message', '')}" if first else err.get("message", "")
        return f"{env.get('schema')}: {err.get('type')}: {what}"[:300]
    except (ValueError, AttributeError):
        return raw[:300].decode(errors="replace")


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def check_protection(samples: list[bytes], contracts: str) -> list[str]:
    """Sampled records carry what their contracts ask: an HMAC-SHA256 hex digest for `x-pii: hash`,
    an `enc:` ciphertext for `encrypt` (so the protected run really paid for the protection)."""
    registry = load_contracts()
    problems: list[str] = []
    protected_seen = False
    for raw in samples:
        env = json.loads(raw)
        contract = registry.get(env.get("schema", ""))
        if contract is None or not isinstance(env.get("data"), dict):
            problems.append(f"unexpected record {raw[:120]!r}")
            continue
        protected_seen = protected_seen or bool(contract.pii)
        for f in contract.pii:
            value = env["data"].get(f.steps[0]) if len(f.steps) == 1 else None
            if f.action == "hash" and not (isinstance(value, str) and _HEX64.match(value)):
                problems.append(f"{contract.ref} {f.path} is not an HMAC-SHA256 hex digest: {value!r}")
            elif f.action.startswith("encrypt") and not (isinstance(value, str) and value.startswith("enc:")):
                problems.append(f"{contract.ref} {f.path} is not encrypted: {value!r}")
    if contracts == "protected" and not protected_seen:
        problems.append("no sampled record of a contract with x-pii fields")
    return sorted(set(problems))[:5]


# ---------------------------------------------------------------------------- profiling


def _start_profiler(pid: int, opt: Options, workdir: Path, name: str) -> tuple[subprocess.Popen[bytes], Path, str]:
    spy = shutil.which("py-spy")
    if spy is None:
        raise BenchError("--profile needs py-spy: pip install py-spy")
    out = workdir / f"profile-{name}.txt"
    seconds = str(int(opt.duration))
    cmd = [spy, "record", "--idle", "-p", str(pid), "-d", seconds, "-r", "100", "-f", "raw", "-o", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return proc, out, f"{_stamp()}-profile-{name}.collapsed.txt"


def _finish_profiler(proc: subprocess.Popen[bytes], raw: Path, name: str) -> dict[str, Any]:
    _, err = proc.communicate(timeout=60)
    if proc.returncode or not raw.exists():
        return {"error": err.decode(errors="replace")[-2000:]}
    summary = summarize_profile(raw.read_text())
    dest = RESULTS / name  # flamegraph: inferno-flamegraph or speedscope read this format
    shutil.copy(raw, dest)
    summary["collapsed_stacks"] = str(dest.relative_to(ROOT))
    return summary


# Where a sample's innermost Python frame lives → what the time is spent on. C code (msgspec,
# lz4, socket calls) has no frame of its own: it counts for the Python function calling it.
_AREAS = (
    ("selectors.py", "idle: waiting in epoll"),
    ("asyncio/", "asyncio: loop, tasks, socket writes"),
    ("uvicorn/", "HTTP: uvicorn + h11"),
    ("h11/", "HTTP: uvicorn + h11"),
    ("starlette/", "Starlette: routing, request, response"),
    ("collector/sinks/", "sink: collector/sinks + aiokafka"),
    ("aiokafka/", "sink: collector/sinks + aiokafka"),
    ("collector/collect.py", "collector/collect.py: the endpoint"),
    ("collector/", "pipeline: decode, validate, protect, annotate, route"),
)


def _split(f: str) -> tuple[str, str]:
    """`func (path/to/module.py:123)` → (`func (module.py)`, `path/to/module.py`)."""
    name, _, where = f.partition(" (")
    file = where.rstrip(")").rsplit(":", 1)[0]
    return (f"{name} ({file.rsplit('/', 1)[-1]})" if file else name), file


def _area(file: str) -> str:
    return next((area for part, area in _AREAS if part in file), "other")


def summarize_profile(collapsed: str, top: int = 25) -> dict[str, Any]:
    """Shares of the event-loop thread's wall time per function and per area.

    py-spy runs with --idle, so the event loop's samples cover its whole wall time (waiting
    in epoll included); worker threads (the file sink's writer) are summarized apart.
    """
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    loop = 0
    for line in collapsed.splitlines():
        stack, _, n = line.rpartition(" ")
        frames = [_split(f) for f in stack.split(";") if " (" in f]
        if not frames or not n.isdigit():
            continue
        count = int(n)
        if frames[0][1].endswith("threading.py"):  # a worker thread, not the main (event loop) thread
            threads[frames[-1][0]] += count
            continue
        loop += count
        self_c[frames[-1][0]] += count
        areas[_area(frames[-1][1])] += count
        for name in {name for name, file in frames if "collector/" in file and "cli.py" not in file}:
            incl[name] += count  # inclusive shares are only telling for Charter's own functions

    def pct(c: Counter[str], total: int) -> list[tuple[str, float]]:
        return [(f, round(100 * k / total, 1)) for f, k in c.most_common(top)] if total else []

    return {
        "loop_samples": loop,
        "areas_pct": pct(areas, loop),
        "self_pct": pct(self_c, loop),
        "collector_inclusive_pct": pct(incl, loop),
        "other_threads_pct_of_loop": pct(threads, loop),
    }


# ---------------------------------------------------------------------------- report


def _stamp() -> str:
    return datetime.datetime.now().strftime("%Y%m%dT%H%M%S")


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    git = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": git.stdout.strip(),
        # uvicorn picks uvloop and httptools when they are importable: they change the numbers a lot
        "uvloop": importlib.util.find_spec("uvloop") is not None,
        "httptools": importlib.util.find_spec("httptools") is not None,
        "loadavg_at_end": _loadavg(),
    }


def _loadavg() -> list[str]:
    return Path("/proc/loadavg").read_text().split()[:3]


def table(runs: list[dict[str, Any]], opt: Options) -> str:
    head = (
        f"| sink | contracts | events/s (batches of {BATCH}, {opt.connections} conns) | p50 ms | p99 ms "
        f"| achieved req/s (target {opt.rate:g}) | collector CPU % (thr / lat) | peak RSS MiB | non-200 |"
    )
    rows = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in runs:
        t, lat = r["throughput"], r["latency"]
        non200 = sum(v for phase in PHASES for k, v in r[phase]["status"].items() if k != "200")
        rows.append(
            f"| {r['sink']} | {r['contracts']} | {t['events_per_s']:,.0f} "
            f"| {lat['latency_ms']['p50']:.2f} | {lat['latency_ms']['p99']:.2f} "
            f"| {lat['achieved_rate']:,.0f} | {r['throughput_cpu']['collector_cpu_pct']:.0f} / "
            f"{r['latency_cpu']['collector_cpu_pct']:.0f} | {r['peak_rss_mib']:.0f} | {non200} |"
        )
    return "\n".join(rows)


def _cpu_line(cpu: dict[str, Any], name: str = "collector") -> str:
    parts = [f"{name} {cpu['collector_cpu_pct']:.0f}"]
    if "kafka_cpu_pct" in cpu:
        parts.append(f"Kafka {cpu['kafka_cpu_pct']:.0f}")
    parts += [f"loadgen {cpu['loadgen_cpu_pct']:.0f}", f"other processes {cpu['other_cpu_pct']:.0f}{_steal(cpu)}"]
    return ", ".join(parts) + f" (machine {cpu['machine_cpu_pct']:.0f} of {100 * (os.cpu_count() or 1)})"


def _steal(cpu: dict[str, Any]) -> str:
    """The part of "other processes" that is the hypervisor running someone else on our vCPUs."""
    return f" (of which steal {cpu['steal_cpu_pct']:.0f})" if cpu.get("steal_cpu_pct") else ""


def _spread(run: dict[str, Any]) -> str:
    """Slowest and fastest full second: how steady the collector (and the machine) was."""
    full = run.get("requests_per_second_timeline", [])[:-1]  # the last second is partial
    return f"{min(full):,}-{max(full):,}" if full else "n/a"


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _us(cpu: dict[str, Any]) -> float:
    """Collector CPU µs per event answered 200 in a phase (CPU % x duration / events)."""
    return float(cpu.get("collector_cpu_us_per_event") or float("nan"))


def notes(runs: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in runs:
        t, lat = r["throughput"], r["latency"]
        tl, ll = t["latency_ms"], lat["latency_ms"]
        targets = "targets (core path)" if r["contracts"] == "plain" else "core-path targets, for comparison"
        out += [
            f"- {r['sink']} / {r['contracts']}: {targets}: >= {TARGET_EVENTS_PER_S:,} events/s "
            f"{_verdict(t['events_per_s'] >= TARGET_EVENTS_PER_S)}; "
            f"p99 <= {TARGET_P99_MS:g} ms {_verdict(ll['p99'] <= TARGET_P99_MS)}.",
            f"  - throughput: {t['requests_per_s']:,.0f} req/s ({_spread(t)} in single seconds), "
            f"per-request p50/p99 {tl['p50']:.1f}/{tl['p99']:.1f} ms; "
            f"CPU %: {_cpu_line(r['throughput_cpu'])}",
            f"  - latency: p90 {ll['p90']:.2f}, p99.9 {ll['p99_9']:.2f}, max {ll['max']:.2f} ms; generator send delay "
            f"p99 {lat['send_delay_ms']['p99']:.2f} ms; CPU %: {_cpu_line(r['latency_cpu'])}",
            f"  - collector CPU per event: {_us(r['throughput_cpu']):.1f} µs in batches of {BATCH}, "
            f"{_us(r['latency_cpu']):.1f} µs as single-event requests",
            f"  - check: {r['verify']['good_records']:,} records written, {r['events_acked_200']:,} events answered 200"
            f", {r['verify']['dlq_records']:,} dead-letter -> {'OK' if r['verify']['ok'] else 'MISMATCH'}"
            + (f" ({r['verify']['note']})" if "note" in r["verify"] else "")
            + (f"; protection: {'; '.join(r['verify']['protection_problems'])}" if "protection_problems" in r["verify"]
               else ""),
        ]  # fmt: skip
        busy = max(r["throughput_cpu"]["other_cpu_pct"], r["latency_cpu"]["other_cpu_pct"])
        if busy > QUIET_OTHER_CPU_PCT:
            out.append(
                f"  - WARNING: other processes used up to {busy:.0f} % CPU meanwhile: "
                "the machine was not quiet, so these numbers understate the collector"
            )
    out += cost_notes(runs)
    return out


def cost_notes(runs: list[dict[str, Any]]) -> list[str]:
    """Per sink: what rules + hash + encrypt cost per event, protected against plain."""
    out = []
    by = {(r["sink"], r["contracts"]): r for r in runs}
    for sink in dict.fromkeys(r["sink"] for r in runs):
        plain, prot = by.get((sink, "plain")), by.get((sink, "protected"))
        if plain is None or prot is None:
            continue
        e0, e1 = plain["throughput"]["events_per_s"], prot["throughput"]["events_per_s"]
        b0, b1 = _us(plain["throughput_cpu"]), _us(prot["throughput_cpu"])
        s0, s1 = _us(plain["latency_cpu"]), _us(prot["latency_cpu"])
        p0, p1 = plain["latency"]["latency_ms"]["p99"], prot["latency"]["latency_ms"]["p99"]
        out.append(
            f"- {sink}: cost of rules + hash + encrypt (protected vs plain): {e0:,.0f} -> {e1:,.0f} events/s "
            f"({100 * (e1 - e0) / e0:+.1f} %) in batches of {BATCH}; collector CPU per event {b0:.1f} -> {b1:.1f} µs "
            f"({b1 - b0:+.1f} µs) in batches, {s0:.1f} -> {s1:.1f} µs ({s1 - s0:+.1f} µs) as single events; "
            f"single-event p99 {p0:.2f} -> {p1:.2f} ms."
        )
    prot = next((r for r in runs if r["contracts"] == "protected"), None)
    if out and prot is not None:
        out.append(
            f"- protected set: {prot['contract_set']}. Events are about half payments, half clicks, "
            "so the cost is per event of that mix."
        )
    return out


def parse_args(argv: list[str] | None = None) -> tuple[Options, list[str], list[str]]:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--duration", type=float, default=10, help="seconds for each of the throughput and latency phases")
    p.add_argument("--warmup", type=float, default=3, help="seconds of throughput load before measuring")
    p.add_argument("--sinks", default="file,kafka", help="comma-separated sinks to benchmark")
    p.add_argument(
        "--contracts", default="plain,protected", help="comma-separated contract sets of bench/schemas, per sink"
    )
    p.add_argument("--rate", type=float, default=1000, help="latency phase: single-event requests per second")
    p.add_argument("--connections", type=int, default=32, help="throughput phase: concurrent keep-alive connections")
    p.add_argument("--latency-connections", type=int, default=64, help="latency phase: connection pool size")
    p.add_argument("--port", type=int, default=18080, help="collector port")
    p.add_argument("--kafka-bootstrap", default="127.0.0.1:9092")
    p.add_argument("--profile", action="store_true", help="py-spy the collector in both phases (slows it)")
    p.add_argument(
        "--stages",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="per-stage CPU per event of each contract set, in-process (bench/stages.py), before the load phases",
    )
    p.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="first, the same phases against a bare ASGI app on the same server stack (bench/floor.py): the CPU "
        "per event this machine charges for no work",
    )
    p.add_argument(
        "--scale-out",
        action="store_true",
        help="instead: one collector, then two on --port and --port+1, Kafka sink, a shared Redis dedupe store "
        "(bench/scaleout.py)",
    )
    a = p.parse_args(argv)
    sinks = [s.strip() for s in a.sinks.split(",") if s.strip()]
    for s in sinks:
        if s not in ("file", "kafka"):
            p.error(f"--sinks: {s!r} is not benchmarked; use file, kafka or both (file,kafka)")
    sets = [s.strip() for s in a.contracts.split(",") if s.strip()]
    for s in sets:
        if s not in CONTRACT_SETS:
            p.error(f"--contracts: {s!r} is not a contract set; use plain, protected or both (plain,protected)")
    if not sinks or not sets:
        p.error("--sinks and --contracts need at least one value each")
    if a.scale_out and a.profile:
        p.error("--profile does not apply to --scale-out")
    opt = Options(
        a.duration,
        a.warmup,
        a.rate,
        a.connections,
        a.latency_connections,
        a.port,
        a.kafka_bootstrap,
        a.profile,
        a.scale_out,
        a.stages,
        a.floor,
    )
    return opt, sinks, sets


def print_profile(name: str, phase: str, prof: dict[str, Any]) -> None:
    if "error" in prof:
        print(f"\n{name}: py-spy failed: {prof['error']}")
        return
    print(f"\n{name}, {phase} phase: event-loop thread, {prof['loop_samples']} samples at 100 Hz")
    for title, key, n in (
        ("by area", "areas_pct", 10),
        ("self time", "self_pct", 15),
        ("inclusive, collector/ functions", "collector_inclusive_pct", 15),
    ):
        print(f"  {title}:")
        for func, share in prof[key][:n]:
            print(f"    {share:5.1f} %  {func}")


def measure_stages(sets: list[str]) -> dict[str, Any]:
    """bench/stages.py for each contract set, each in its own interpreter, while nothing else of the run is up."""
    import stages

    out: dict[str, Any] = {}
    for cset in sets:
        print(f"{cset}: measuring CPU per stage in-process (bench/stages.py, ~20 s) ...", flush=True)
        try:
            out[cset] = stages.measure_in_subprocess(cset)
        except stages.StagesError as exc:  # the breakdown is extra: the load phases still run
            out[cset] = {"error": str(exc)}
    return out


def print_stages(breakdowns: dict[str, Any]) -> None:
    import stages

    for cset, result in breakdowns.items():
        print(f"\nCPU per stage, {cset} contracts (bench/stages.py: in-process, before the load phases):\n")
        print(f"error: {result['error']}" if "error" in result else stages.markdown(result))


def measure_floor(opt: Options, bodies: Bodies, workdir: Path) -> dict[str, Any]:
    import floor

    print(f"floor: a bare ASGI app on the same server stack, same phases ({2 * opt.duration + opt.warmup:g} s) ...",
          flush=True)  # fmt: skip
    with contextlib.ExitStack() as stack:
        return floor.measure(opt, bodies, workdir, stack)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    opt, sinks, sets = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # stop like Ctrl-C: the exit stacks clean up
    RESULTS.mkdir(parents=True, exist_ok=True)
    if opt.scale_out:
        import scaleout

        return scaleout.main(opt)
    t0, load_start = time.monotonic(), _loadavg()
    runs: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="charter-bench-")))
        print("building bench/loadgen ...", flush=True)
        build_loadgen()
        keys = workdir / "charter-keys.json"
        generate_keys(keys)
        registry = load_contracts()
        n_singles = min(int(opt.rate * opt.duration) + 1000, 60_000)
        all_bodies = {}
        for cset in sets:
            bodies = all_bodies[cset] = write_bodies(workdir / cset, n_singles, cset, registry)
            sizes = sorted(bodies.sizes)
            print(f"{cset}: {len(sizes):,} events generated, {sizes[0]}-{sizes[-1]} bytes "
                  f"(median {sizes[len(sizes) // 2]}); good topics {', '.join(bodies.good)}; "
                  f"{bodies.described}", flush=True)  # fmt: skip
        breakdowns = measure_stages(sets) if opt.stages else {}
        floor = measure_floor(opt, all_bodies[sets[0]], workdir) if opt.floor else None
        for sink in sinks:
            if sink == "kafka" and not kafka_running():
                print("starting Kafka (scripts/kafka start) ...", flush=True)
                if subprocess.run([str(KAFKA_SCRIPT), "start"]).returncode:
                    raise BenchError("scripts/kafka start failed")
                stack.callback(subprocess.run, [str(KAFKA_SCRIPT), "stop"])  # only a broker we started
            for cset in sets:
                with contextlib.ExitStack() as run_stack:
                    runs.append(run_sink(sink, opt, all_bodies[cset], keys, workdir, run_stack))
    info = machine()
    info["loadavg_at_start"] = load_start
    info["total_s"] = round(time.monotonic() - t0, 1)
    out = RESULTS / f"{_stamp()}.json"
    doc = {"machine": info, "options": vars(opt), "sinks": sinks, "contracts": sets, "runs": runs, "stages": breakdowns,
           "floor": floor}  # fmt: skip
    out.write_text(json.dumps(doc, indent=2))
    print()
    stack_ = f"{'uvloop' if info['uvloop'] else 'asyncio'} + {'httptools' if info['httptools'] else 'h11'}"
    print(f"Charter benchmark — {info['date']} — nproc {info['nproc']} ({info['cpu_model']}), Python {info['python']}, "
          f"uvicorn on {stack_}, commit {info['commit']}; loadgen, collector and Kafka share this machine; "
          f"load average {' '.join(load_start)} at start, {' '.join(info['loadavg_at_end'])} at end; "
          f"{opt.duration:g} s per phase, {info['total_s']:.0f} s in all")  # fmt: skip
    print()
    print(table(runs, opt))
    print()
    print("\n".join(notes(runs)))
    if floor is not None:
        import floor as floor_app

        print("\n".join(floor_app.lines(floor, runs)))
    print_stages(breakdowns)
    print(f"\nraw results: {out.relative_to(ROOT)}")
    for r in runs:
        for phase in ("throughput", "latency"):
            if f"{phase}_profile" in r:
                print_profile(f"{r['sink']} / {r['contracts']}", phase, r[f"{phase}_profile"])
    failed = [
        f"{r['sink']} / {r['contracts']}"
        for r in runs
        if not r.get("verify", {}).get("ok", True) or not r["collector_clean_exit"]
    ]
    if failed:
        print(f"\nFAILED: {', '.join(failed)}: record counts do not match the 200 answers, records went to a "
              "dead-letter topic, or the collector did not exit cleanly", file=sys.stderr)  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    sys.modules["run"] = sys.modules["__main__"]  # bench/scaleout.py imports this file's helpers: the same module
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("bench: interrupted; everything started was stopped", file=sys.stderr)
        sys.exit(130)
