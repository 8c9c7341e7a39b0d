"""Instructions per request, counted by callgrind: a measure the machine's speed does not move.

`python bench/icount.py [--root TREE] [--mode batch|single] [--contracts plain|protected] [--sink S]`
drives the collector of TREE (default: this checkout) in-process, straight into its ASGI app (no
sockets, no uvicorn), with the benchmark's events and the file sink (`--sink kafka`: a running
broker at `--kafka-bootstrap`; `memory`), under `valgrind --tool=callgrind` twice: once with a few
requests and once with many. The difference divided by the difference in requests is what one
request costs, start-up and imports cancelled out. Compare trees with `git worktree add`.

It counts user-space instructions only: the kernel's share (fdatasync, sockets) is not in it. Each
run takes a minute or two under valgrind.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
COUNTS = {"batch": (16, 80), "single": (100, 500)}  # requests in the short and the long run
CONCURRENCY = {"batch": 16, "single": 4}


def drive(root: Path, mode: str, requests: int, bodies: Path, keys: Path, sink: str, bootstrap: str) -> None:
    """The child: `requests` POSTs of the batch body (or of single events in turn) into TREE's app."""
    sys.path.insert(0, str(root))
    from collector.app import create_app
    from collector.settings import Settings

    batch = (bodies / "batch.json").read_bytes()
    singles = (bodies / "singles.ndjson").read_bytes().splitlines()
    data_dir = Path(tempfile.mkdtemp())
    settings = Settings(schemas=BENCH / "schemas", sink=sink, data_dir=data_dir, keys=keys, kafka_bootstrap=bootstrap)
    app = create_app(settings)

    async def post(body: bytes) -> None:
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"), (b"user-agent", b"icount")]
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/v1/events", "raw_path": b"/v1/events", "query_string": b"",
                 "root_path": "", "headers": headers, "client": ("127.0.0.1", 5555),
                 "server": ("127.0.0.1", 8080), "state": {}}  # fmt: skip
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        if sent[0]["status"] != 200:
            raise SystemExit(f"icount: the collector answered {sent[0]['status']}: {sent[-1].get('body', b'')!r}")

    async def main() -> None:
        startup: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        await startup.put({"type": "lifespan.startup"})
        started = asyncio.Event()

        async def lifespan_send(message: dict[str, Any]) -> None:
            if message["type"].startswith("lifespan.startup"):
                started.set()

        scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
        lifespan = asyncio.create_task(app(scope, startup.get, lifespan_send))
        await started.wait()
        step = CONCURRENCY[mode]
        for i in range(0, requests, step):
            bodies_now = [batch] * step if mode == "batch" else [singles[(i + j) % len(singles)] for j in range(step)]
            await asyncio.gather(*(post(b) for b in bodies_now))
        await startup.put({"type": "lifespan.shutdown"})
        await lifespan

    asyncio.run(main())


def instructions(root: Path, mode: str, requests: int, bodies: Path, keys: Path, workdir: Path, opt: Any) -> int:
    out = workdir / f"callgrind-{mode}-{requests}.out"
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", os.path.realpath(sys.executable),
           __file__, "--child", "--root", str(root), "--mode", mode, "--requests", str(requests),
           "--bodies", str(bodies), "--keys", str(keys),
           "--sink", opt.sink, "--kafka-bootstrap", opt.kafka_bootstrap]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"icount: valgrind failed ({done.returncode}):\n{done.stderr[-3000:]}")
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit(f"icount: no totals in {out}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=BENCH.parent, help="the tree whose collector is measured")
    p.add_argument("--mode", choices=sorted(COUNTS), default="batch", help="50-event batches or single events")
    p.add_argument("--contracts", choices=("plain", "protected"), default="plain", help="contract set of bench/schemas")
    p.add_argument("--sink", choices=("file", "kafka", "memory"), default="file", help="the sink the requests go to")
    p.add_argument("--kafka-bootstrap", default="127.0.0.1:9092", help="--sink kafka: a running broker")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--requests", type=int, help=argparse.SUPPRESS)
    p.add_argument("--bodies", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--keys", type=Path, help=argparse.SUPPRESS)
    opt = p.parse_args(argv)
    if opt.child:
        drive(opt.root.resolve(), opt.mode, opt.requests, opt.bodies, opt.keys, opt.sink, opt.kafka_bootstrap)
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("icount: needs valgrind (apt-get install valgrind)")
    sys.path.insert(0, str(BENCH))
    import run

    with tempfile.TemporaryDirectory(prefix="charter-icount-") as tmp:
        work = Path(tmp)
        keys = work / "keys.json"
        run.generate_keys(keys)
        bodies = run.write_bodies(work / "bodies", 2000, opt.contracts, run.load_contracts())
        few, many = COUNTS[opt.mode]
        counts = [
            instructions(opt.root.resolve(), opt.mode, n, bodies.batch.parent, keys, work, opt) for n in (few, many)
        ]
    per_request = (counts[1] - counts[0]) / (many - few)
    per = f", {per_request / 50 / 1e3:.1f} k per event" if opt.mode == "batch" else ""
    print(f"{opt.root.resolve()}: {per_request / 1e6:.3f} M instructions per {opt.mode} request{per} ({opt.contracts}, "
          f"{opt.sink} sink)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
