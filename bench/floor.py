"""The floor: what this machine charges for an HTTP request on Charter's server stack doing no work.

A bare ASGI app on uvicorn, configured as `charter serve` runs it (uvloop and httptools when
installed, one worker, no access log), that reads the whole body and answers 200 with a JSON body
the size of the collector's. `bench/run.py` drives it with the same load generator, bodies,
connections and rates as the collector, so each run shows how much of the collector's CPU per event
is the server stack and the machine, and how much is Charter's own work.

`python bench/floor.py --port N` serves it alone (for profiling by hand).
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":  # lifespan: nothing to start
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    first = b""
    more = True
    while more:  # the whole body is read, as the collector reads it
        message = await receive()
        first = first or message.get("body", b"")
        more = message.get("more_body", False)
    events = b"50" if first[:1] == b"[" else b"1"  # an answer like the collector's, no parsing
    body = b'{"accepted":' + events + b',"rejected":0}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve(port: int) -> None:
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, server_header=False)


def measure(opt: Any, bodies: Any, workdir: Path, stack: contextlib.ExitStack) -> dict[str, Any]:
    """The throughput and latency phases of `run.run_sink` against the bare app: CPU per event."""
    import run

    if not run.port_free(opt.port):
        raise run.BenchError(f"port {opt.port} is already in use; pass --port")
    log = workdir / "floor.log"
    log_file = stack.enter_context(log.open("wb"))
    cmd = [sys.executable, str(Path(__file__)), "--port", str(opt.port)]
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT)
    stack.callback(run.stop_process, proc)
    _wait_listening(opt.port, proc, log)
    url = f"http://127.0.0.1:{opt.port}/v1/events"
    batch_flag, singles_flag = ["-body", str(bodies.batch)], ["-bodies", str(bodies.singles)]
    procs = {"collector": run.ProcStats(proc.pid)}
    result: dict[str, Any] = {"warmup": run.loadgen("throughput", url, batch_flag, opt.warmup, opt.connections)}
    with run.cpu_meter(procs, result.setdefault("throughput_cpu", {})):
        result["throughput"] = run.loadgen("throughput", url, batch_flag, opt.duration, opt.connections)
    with run.cpu_meter(procs, result.setdefault("latency_cpu", {})):
        result["latency"] = run.loadgen("latency", url, singles_flag, opt.duration, opt.latency_connections, opt.rate)
    for phase in ("throughput", "latency"):
        cpu, ok = result[f"{phase}_cpu"], result[phase]["events_ok"]
        run._others(cpu, result[phase])
        cpu["collector_cpu_us_per_event"] = round(1e6 * cpu["collector_cpu_s"] / ok, 2) if ok else None
    run.stop_process(proc)
    return result


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    import run

    deadline = time.monotonic() + timeout
    while run.port_free(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise run.BenchError(f"the floor app did not start:\n{run._tail(log)}")
        time.sleep(0.1)


def lines(floor: dict[str, Any], runs: list[dict[str, Any]]) -> list[str]:
    """The floor's CPU per event, and each run's CPU above it."""
    import run

    t, lat = run._us(floor["throughput_cpu"]), run._us(floor["latency_cpu"])
    cpu = f"{run._cpu_line(floor['throughput_cpu'], 'bare app')} / {run._cpu_line(floor['latency_cpu'], 'bare app')}"
    out = [
        f"- floor (bare ASGI app, same server stack and load; bench/floor.py): {t:.1f} µs of CPU per event in "
        f"batches of {run.BATCH} ({floor['throughput']['events_per_s']:,.0f} events/s), {lat:.1f} µs per "
        f"single-event request (p50/p99 {floor['latency']['latency_ms']['p50']:.2f}/"
        f"{floor['latency']['latency_ms']['p99']:.2f} ms); CPU %: {cpu}"
    ]
    for r in runs:
        bt, bl = run._us(r["throughput_cpu"]), run._us(r["latency_cpu"])
        out.append(
            f"  - {r['sink']} / {r['contracts']}: {bt - t:.1f} µs per event above the floor in batches "
            f"({bt:.1f} in all), {bl - lat:.1f} µs per single-event request ({bl:.1f} in all)"
        )
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=18080)
    serve(p.parse_args().port)
