"""`python bench/run.py --scale-out`: one collector, then two behind the load generator.

Both runs use the `dedupe` contract set of bench/schemas (the plain contracts, deduplicated:
payments by `(order_id, product_id, amount)`, clicks by event id), the Kafka sink and one
shared dedupe store: a `redis-server` this mode starts on a free port in its temporary
directory (and stops at the end), emptied before each run. The load generator sends request
i to collector i mod n, so in the two-collector run consecutive bodies always go to different
collectors.

The bodies repeat events on purpose, and always in the next body: of each batch's 50 events,
5 are copies of events of the previous batch; every 10th single event is a copy of the one
before. So with two collectors every planted duplicate is posted to the other collector than
its original (often while the original's request is still in flight), and only the shared
store can tell. The check: every distinct event posted is in the good topics exactly once,
the good topics hold as many records as the collectors answered `accepted`, the duplicates
topic as many as they answered `rejected` (each a `duplicate`), and nothing is in the
dead-letter topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import run  # the benchmark driver's helpers (run.py makes itself importable under this name)
from run import BATCH, PHASES, ROOT, SCHEMAS, BenchError, Options, ProcStats

SET = "dedupe"
REPEATS = 5  # of each batch's BATCH events: copies of the previous batch's events
SINGLE_REPEAT_EVERY = 10  # every 10th single event is a copy of the one before
GOOD = ["bench.dedupe.clickstream", "bench.dedupe.payments"]
DUPLICATES, DLQ = "bench.dedupe.duplicates", "bench.dedupe.bad"
ANSWERED = ("200", "207")  # 207: some events of the body were duplicates (recorded, not forwarded)
Key = tuple[Any, ...]


def event_key(event: dict[str, Any]) -> Key:
    """What the contract dedupes by: payments by (order_id, product_id, amount), clicks by id."""
    if "payment" in event["schema"]:
        d = event["data"]
        return ("payment", d["order_id"], d["product_id"], d["amount"])
    return ("click", event["id"])


@dataclass
class PhaseBodies:
    path: Path  # NDJSON: one request body a line
    keys: list[list[Key]]  # per body, the keys of its events


def _write(path: Path, bodies: list[list[dict[str, Any]]], array: bool) -> PhaseBodies:
    enc = run._encode
    lines = [b"[" + b",".join(enc(e) for e in b) + b"]" if array else enc(b[0]) for b in bodies]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return PhaseBodies(path, [[event_key(e) for e in b] for b in bodies])


def batches(path: Path, n: int, seed: int) -> PhaseBodies:
    """n batches; batch k carries BATCH - REPEATS fresh events and REPEATS of batch k-1's."""
    step = BATCH - REPEATS
    fresh = run.make_events(n * step + REPEATS, seed, SET)
    out = []
    for k in range(n):
        own = fresh[REPEATS + k * step : REPEATS + (k + 1) * step]
        prev = fresh[REPEATS + (k - 1) * step : REPEATS + (k - 1) * step + REPEATS] if k else fresh[:REPEATS]
        out.append(own + prev)
    return _write(path, out, array=True)


def singles(path: Path, n: int, seed: int) -> PhaseBodies:
    fresh = iter(run.make_events(n, seed, SET))
    out: list[list[dict[str, Any]]] = []
    for j in range(n):
        out.append(out[-1] if j % SINGLE_REPEAT_EVERY == SINGLE_REPEAT_EVERY - 1 else [next(fresh)])
    return _write(path, out, array=False)


def posted(phase: PhaseBodies, requests: int) -> tuple[int, set[Key]]:
    """Events and distinct keys of the first `requests` bodies taken (the generator wraps around)."""
    taken = [phase.keys[i % len(phase.keys)] for i in range(requests)]
    return sum(map(len, taken)), {k for keys in taken for k in keys}


# ---------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_redis(directory: Path, stack: contextlib.ExitStack) -> tuple[subprocess.Popen[bytes], str]:
    exe = shutil.which("redis-server") or shutil.which("valkey-server")
    if exe is None:
        raise BenchError("--scale-out needs redis-server (or valkey-server) on PATH: apt-get install redis-server")
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cmd = [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", "",
           "--appendonly", "no", "--logfile", str(directory / "redis.log")]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    stack.callback(run.stop_process, proc)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{exe} exited with {proc.returncode}:\n{run._tail(directory / 'redis.log')}")
        with contextlib.suppress(Exception):
            _redis(url, "ping")
            return proc, url
        time.sleep(0.1)
    raise BenchError(f"{exe} did not answer PING on port {port} within 15 s")


def _redis(url: str, command: str) -> Any:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        return getattr(client, command)()
    finally:
        client.close()


def broker_pid(bootstrap: str) -> int | None:
    """The pid listening on the bootstrap port (for its CPU), if `ss` may tell; else scripts/kafka's."""
    port = bootstrap.rsplit(":", 1)[-1]
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True).stdout
    m = re.search(r"pid=(\d+)", out)
    return int(m[1]) if m else run.kafka_pid()


def ensure_kafka(bootstrap: str, stack: contextlib.ExitStack) -> None:
    host, _, port = bootstrap.rpartition(":")
    with socket.socket() as s:
        if s.connect_ex((host or "127.0.0.1", int(port))) == 0:
            return
    if bootstrap != "127.0.0.1:9092":
        raise BenchError(f"no Kafka answers at {bootstrap}; start one or drop --kafka-bootstrap")
    print("starting Kafka (scripts/kafka start) ...", flush=True)
    if subprocess.run([str(run.KAFKA_SCRIPT), "start"]).returncode:
        raise BenchError("scripts/kafka start failed")
    stack.callback(subprocess.run, [str(run.KAFKA_SCRIPT), "stop"])  # only a broker we started


def start_collector(
    i: int, port: int, store: str, opt: Options, keys: Path, workdir: Path, stack: contextlib.ExitStack
) -> tuple[subprocess.Popen[bytes], Path]:
    if not run.port_free(port):
        raise BenchError(f"port {port} is already in use; pass --port (the collectors use it and the next ones)")
    log = workdir / f"collector{i}.log"
    cmd = [sys.executable, "-m", "collector.cli", "serve", "--sink", "kafka", "--port", str(port),
           "--workers", "1", "--schemas", str(SCHEMAS), "--keys", str(keys), "--data-dir", str(workdir / f"data{i}"),
           "--kafka-bootstrap", opt.bootstrap, "--dedupe-store", store, "--log-level", "warning"]  # fmt: skip
    log_file = stack.enter_context(log.open("wb"))
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT)
    stack.callback(run.stop_process, proc)
    run.wait_ready(f"http://127.0.0.1:{port}/ready", proc, log)
    return proc, log


# ---------------------------------------------------------------------------- one run


@dataclass
class Setup:
    opt: Options
    keys: Path
    store: str
    redis_pid: int
    phases: dict[str, PhaseBodies]


def run_collectors(n: int, setup: Setup, workdir: Path) -> dict[str, Any]:
    opt, tag = setup.opt, f"[{n} collector{'s' if n > 1 else ''}]"
    _redis(setup.store, "flushall")  # the same bodies in each run: an empty store makes them fresh again
    result: dict[str, Any] = {"collectors": n, "ports": [opt.port + i for i in range(n)]}
    with contextlib.ExitStack() as stack:
        print(f"{tag} starting {n} x charter serve --sink kafka --dedupe-store {setup.store}", flush=True)
        started = [start_collector(i + 1, opt.port + i, setup.store, opt, setup.keys, workdir, stack) for i in range(n)]
        procs = {f"collector{i + 1}": ProcStats(p.pid) for i, (p, _) in enumerate(started)}
        procs["redis"] = ProcStats(setup.redis_pid)
        if (kpid := broker_pid(opt.bootstrap)) is not None:
            procs["kafka"] = ProcStats(kpid)
        since = asyncio.run(run._end_offsets(opt.bootstrap, [*GOOD, DUPLICATES, DLQ]))
        urls = [f"http://127.0.0.1:{port}/v1/events" for port in result["ports"]]
        _phases(tag, urls, setup, procs, result)
        for i, (proc, log) in enumerate(started, 1):
            result[f"collector{i}_peak_rss_mib"] = round(procs[f"collector{i}"].status_kib("VmHWM") / 1024, 1)
            run.stop_process(proc)
            result[f"collector{i}_exit"] = proc.returncode
            result[f"collector{i}_log"] = run._keep(log, f"scale-out-{n}-collector{i}")
        result["collector_clean_exit"] = all(p.returncode in (0, -signal.SIGTERM) for p, _ in started)
    result["verify"] = verify(opt.bootstrap, since, setup.phases, result, tag)
    return result


def _phases(tag: str, urls: list[str], setup: Setup, procs: dict[str, ProcStats], result: dict[str, Any]) -> None:
    opt, url_flags = setup.opt, [u for url in urls for u in ("-url", url)]

    def load(phase: str, seconds: float, conns: int, rate: float = 0) -> dict[str, Any]:
        mode = "latency" if phase == "latency" else "throughput"
        return run.loadgen(mode, url_flags[1], ["-bodies", str(setup.phases[phase].path), *url_flags[2:]],
                           seconds, conns, rate)  # fmt: skip

    print(f"{tag} warm-up {opt.warmup:g}s", flush=True)
    result["warmup"] = load("warmup", opt.warmup, opt.connections)
    print(f"{tag} throughput {opt.duration:g}s: {opt.connections} connections, batches of {BATCH}", flush=True)
    with run.cpu_meter(procs, cpu := result.setdefault("throughput_cpu", {})):
        result["throughput"] = load("throughput", opt.duration, opt.connections)
    _cpu_totals(cpu, result["throughput"])
    time.sleep(1)
    print(f"{tag} latency {opt.duration:g}s: single events at {opt.rate:g} req/s", flush=True)
    with run.cpu_meter(procs, cpu := result.setdefault("latency_cpu", {})):
        result["latency"] = load("latency", opt.duration, opt.latency_connections, opt.rate)
    _cpu_totals(cpu, result["latency"])


def _cpu_totals(cpu: dict[str, Any], report: dict[str, Any]) -> None:
    run._others(cpu, report)  # sums every process's share first, so the total below is not counted twice
    cpu["collector_cpu_pct"] = round(sum(v for k, v in cpu.items() if re.fullmatch(r"collector\d+_cpu_pct", k)), 1)


# ---------------------------------------------------------------------------- check


async def _consume(bootstrap: str, topics: list[str], since: dict[tuple[str, int], int],
                   each: Callable[[bytes], None]) -> int:  # fmt: skip
    """Call `each` on every record written to `topics` after `since`; return how many."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    ends = await run._end_offsets(bootstrap, topics)
    todo = {TopicPartition(t, p): end for (t, p), end in ends.items() if end > since.get((t, p), 0)}
    if not todo:
        return 0
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=8 << 20
    )
    await consumer.start()
    count = 0
    try:
        consumer.assign(list(todo))
        for tp in todo:
            consumer.seek(tp, since.get((tp.topic, tp.partition), 0))
        deadline = time.monotonic() + 180
        while todo and time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=1000, max_records=20_000)).items():
                end = todo.get(tp)
                for r in records if end is not None else []:
                    if r.offset < end:
                        each(r.value)
                        count += 1
                if end is not None and await consumer.position(tp) >= end:
                    del todo[tp]
                    consumer.pause(tp)
        if todo:
            raise BenchError(f"could not consume up to the end offsets of {sorted(map(str, todo))} within 180 s")
    finally:
        await consumer.stop()
    return count


def _error_type(raw: bytes) -> str:
    return str((json.loads(raw).get("error") or {}).get("type"))


def verify(bootstrap: str, since: dict[tuple[str, int], int], phases: dict[str, PhaseBodies],
           result: dict[str, Any], tag: str) -> dict[str, Any]:  # fmt: skip
    print(f"{tag} verifying: consuming {', '.join(GOOD)}, {DUPLICATES} and {DLQ} ...", flush=True)
    good: Counter[Key] = Counter()
    dup_types: Counter[str] = Counter()
    bad: list[bytes] = []
    n_good = asyncio.run(_consume(bootstrap, GOOD, since, lambda v: good.update([event_key(json.loads(v))])))
    n_dup = asyncio.run(_consume(bootstrap, [DUPLICATES], since, lambda v: dup_types.update([_error_type(v)])))
    n_bad = asyncio.run(_consume(bootstrap, [DLQ], since, bad.append))
    sent, keys = 0, set()
    for phase in PHASES:
        events, phase_keys = posted(phases[phase], result[phase]["requests"])
        sent, keys = sent + events, keys | phase_keys
    rep = {p: result[p] for p in PHASES}
    accepted = sum(r["events_accepted"] for r in rep.values())
    rejected = sum(r["events_rejected"] for r in rep.values())
    unanswered = sum(n for r in rep.values() for code, n in r["status"].items() if code not in ANSWERED)
    twice = sum(1 for n in good.values() if n > 1)
    missing = len(keys - good.keys()) if not unanswered else 0  # a 503'd body's events may be absent, rightly
    v = {
        "events_posted": sent, "distinct_events_posted": len(keys), "planted_duplicates": sent - len(keys),
        "good_records": n_good, "events_accepted": accepted, "keys_written_twice": twice,
        "keys_posted_not_written": missing, "keys_written_not_posted": len(good.keys() - keys),
        "duplicate_records": n_dup, "duplicate_types": dict(dup_types), "events_rejected": rejected,
        "dlq_records": n_bad, "dlq_samples": [run._bad_summary(b) for b in bad[:3]], "non_200_207_requests": unanswered,
    }  # fmt: skip
    v["ok"] = (n_good == accepted and not twice and not missing and not v["keys_written_not_posted"]
               and n_dup == rejected and set(dup_types) <= {"duplicate"} and not n_bad
               and (unanswered or n_good == len(keys)))  # fmt: skip
    print(f"{tag} {sent:,} events posted ({len(keys):,} distinct, {sent - len(keys):,} planted duplicates); "
          f"good topics {n_good:,} records (answered accepted {accepted:,}), keys written twice {twice}, "
          f"posted but not written {missing}; {DUPLICATES} {n_dup:,} (answered rejected {rejected:,}); "
          f"{DLQ} {n_bad} -> {'OK' if v['ok'] else 'MISMATCH'}", flush=True)  # fmt: skip
    return v


# ---------------------------------------------------------------------------- report


def table(runs: list[dict[str, Any]], opt: Options) -> str:
    head = (f"| collectors | events/s (batches of {BATCH}, {opt.connections} conns) | forwarded/s | p50 ms | p99 ms "
            f"| achieved req/s (target {opt.rate:g}) | collectors CPU % (thr / lat) | Redis CPU % (thr / lat) "
            f"| other processes CPU % (thr / lat) | non-200/207 | exactly once |")  # fmt: skip
    rows = [head, "|" + "---|" * (head.count(" | ") + 1)]
    for r in runs:
        t, lat, tc, lc = r["throughput"], r["latency"], r["throughput_cpu"], r["latency_cpu"]
        non = sum(n for p in PHASES for code, n in r[p]["status"].items() if code not in ANSWERED)
        rows.append(
            f"| {r['collectors']} | {t['events_answered_per_s']:,.0f} | {t['events_accepted'] / t['elapsed_s']:,.0f} "
            f"| {lat['latency_ms']['p50']:.2f} | {lat['latency_ms']['p99']:.2f} | {lat['achieved_rate']:,.0f} "
            f"| {tc['collector_cpu_pct']:.0f} / {lc['collector_cpu_pct']:.0f} "
            f"| {tc['redis_cpu_pct']:.0f} / {lc['redis_cpu_pct']:.0f} "
            f"| {tc['other_cpu_pct']:.0f} / {lc['other_cpu_pct']:.0f} | {non} | {'OK' if r['verify']['ok'] else 'NO'} |"
        )
    return "\n".join(rows)


def notes(runs: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in runs:
        t, lat, v = r["throughput"], r["latency"], r["verify"]
        split = "; ".join(f"{u.split('//')[1].split('/')[0]} {sum(c.values()):,} requests ({c.get('207', 0):,} 207)"
                          for u, c in sorted(t["status_by_url"].items()))  # fmt: skip
        out += [
            f"- {r['collectors']} collector(s): throughput {t['requests_per_s']:,.0f} req/s "
            f"({run._spread(t)} in single seconds; {split}), per-request p50/p99 "
            f"{t['latency_ms']['p50']:.1f}/{t['latency_ms']['p99']:.1f} ms; "
            f"CPU %: {_cpu_line(r['throughput_cpu'])}",
            f"  - latency: p90 {lat['latency_ms']['p90']:.2f}, p99.9 {lat['latency_ms']['p99_9']:.2f}, max "
            f"{lat['latency_ms']['max']:.2f} ms; send delay p99 {lat['send_delay_ms']['p99']:.2f} ms; "
            f"CPU %: {_cpu_line(r['latency_cpu'])}",
            f"  - check: {v['events_posted']:,} events posted, {v['distinct_events_posted']:,} distinct "
            f"({v['planted_duplicates']:,} planted duplicates); {v['good_records']:,} in the good topics "
            f"(answered accepted: {v['events_accepted']:,}), {v['keys_written_twice']} written twice, "
            f"{v['keys_posted_not_written']} missing; {v['duplicate_records']:,} duplicate records (answered "
            f"rejected: {v['events_rejected']:,}); {v['dlq_records']} dead-letter -> {'OK' if v['ok'] else 'MISMATCH'}",
        ]
        busy = max(r["throughput_cpu"]["other_cpu_pct"], r["latency_cpu"]["other_cpu_pct"])
        if busy > run.QUIET_OTHER_CPU_PCT:
            out.append(f"  - WARNING: other processes used up to {busy:.0f} % CPU meanwhile: the machine was not quiet")
    by = {r["collectors"]: r for r in runs}
    if 1 in by and 2 in by:
        e1, e2 = (by[n]["throughput"]["events_answered_per_s"] for n in (1, 2))
        p1, p2 = (by[n]["latency"]["latency_ms"]["p99"] for n in (1, 2))
        out.append(
            f"- scale-out: {e1:,.0f} -> {e2:,.0f} events/s (x{e2 / e1:.2f}) from 1 to 2 collectors; "
            f"single-event p99 {p1:.2f} -> {p2:.2f} ms. All processes share {os.cpu_count()} cores."
        )
    return out


def _cpu_line(cpu: dict[str, Any]) -> str:
    each = [
        f"{k.removesuffix('_cpu_pct')} {v:.0f}"
        for k, v in sorted(cpu.items())
        if re.fullmatch(r"collector\d+_cpu_pct", k)
    ]
    parts = [*each, f"Redis {cpu['redis_cpu_pct']:.0f}"]
    if "kafka_cpu_pct" in cpu:
        parts.append(f"Kafka {cpu['kafka_cpu_pct']:.0f}")
    parts += [f"loadgen {cpu['loadgen_cpu_pct']:.0f}", f"other processes {cpu['other_cpu_pct']:.0f}{run._steal(cpu)}"]
    return ", ".join(parts) + f" (machine {cpu['machine_cpu_pct']:.0f} of {100 * (os.cpu_count() or 1)})"


def main(opt: Options) -> int:
    t0, load_start = time.monotonic(), run._loadavg()
    runs: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="charter-bench-scale-out-")))
        print("building bench/loadgen ...", flush=True)
        run.build_loadgen()
        keys = workdir / "charter-keys.json"
        run.generate_keys(keys)
        phases = _bodies(workdir, opt)
        ensure_kafka(opt.bootstrap, stack)
        redis, store = start_redis(workdir / "redis", stack)
        setup = Setup(opt, keys, store, redis.pid, phases)
        for n in (1, 2):
            runs.append(run_collectors(n, setup, workdir))
    info = run.machine()
    info["loadavg_at_start"], info["total_s"] = load_start, round(time.monotonic() - t0, 1)
    out = run.RESULTS / f"{run._stamp()}-scale-out.json"
    out.write_text(json.dumps({"machine": info, "options": vars(opt), "mode": "scale-out", "runs": runs}, indent=2))
    print(f"\nCharter benchmark, scale-out — {info['date']} — nproc {info['nproc']} ({info['cpu_model']}), Python "
          f"{info['python']}, commit {info['commit']}; loadgen, collectors, Redis and Kafka share this machine; load "
          f"average {' '.join(load_start)} at start, {' '.join(info['loadavg_at_end'])} at end; {opt.duration:g} s per "
          f"phase, {info['total_s']:.0f} s in all\n")  # fmt: skip
    print(table(runs, opt) + "\n")
    print("\n".join(notes(runs)))
    print(f"\nraw results: {out.relative_to(ROOT)}")
    failed = [str(r["collectors"]) for r in runs if not r["verify"]["ok"] or not r["collector_clean_exit"]]
    if failed:
        print(f"\nFAILED with {' and '.join(failed)} collector(s): an event was written twice or not at all, the "
              "counts differ from the answers, or a collector did not exit cleanly", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _bodies(workdir: Path, opt: Options) -> dict[str, PhaseBodies]:
    """Distinct events per phase (a fresh store per run, so both runs post the same bodies)."""
    workdir = workdir / SET
    workdir.mkdir()
    per_s = 30_000 / (BATCH - REPEATS)  # batches a second the bodies are sized for; past that they wrap around
    phases = {
        "warmup": batches(workdir / "warmup.ndjson", min(math.ceil(opt.warmup * per_s), 1500), 21),
        "throughput": batches(workdir / "throughput.ndjson", min(math.ceil(opt.duration * per_s), 4000), 22),
        "latency": singles(workdir / "singles.ndjson", min(int(opt.rate * opt.duration) + 1000, 60_000), 23),
    }
    sample = phases["throughput"].path.read_bytes().split(b"\n", 1)[0]
    run.check_valid([run._encode(e) for e in json.loads(sample)], run.load_contracts())
    events = sum(len(k) for p in phases.values() for k in p.keys)
    bodies = sum(len(p.keys) for p in phases.values())
    print(f"{SET}: {events:,} events in {bodies:,} bodies; {REPEATS} of each batch's {BATCH} and every "
          f"{SINGLE_REPEAT_EVERY}th single event repeat the body before", flush=True)  # fmt: skip
    return phases
