"""Integration fixtures: a real Kafka broker, a real `charter serve` process, a real consumer.

Nothing here is faked: the collector runs as a subprocess (`charter serve --sink kafka`),
tests talk to it over TCP with httpx, and read what it wrote with an aiokafka consumer.

Broker: if CHARTER_KAFKA_BOOTSTRAP is set (CI starts Kafka with scripts/kafka before
pytest) that broker is used; otherwise a private one is started with scripts/kafka on
free ports and a temporary data dir, and stopped at the end of the session. The broker-outage
tests always use a broker of their own (free ports too), so stopping it never disturbs the
shared one, and another Kafka on the machine (9092, 29092, …) never disturbs them.

No sleep is used to wait for anything: every wait polls a condition against a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
TEST_KEYS = ROOT / "tests" / "keys.test.json"
KAFKA_SCRIPT = ROOT / "scripts" / "kafka"
SINK_TIMEOUT = 3  # seconds: `--sink-timeout`, how long a request waits for Kafka before 503
READY_DEADLINE = 60.0
KAFKA_SCRIPT_TIMEOUT = 240.0  # the script's own start timeout is 120 s, plus the jar fetch


# --------------------------------------------------------------------------- polling


async def poll_until(
    condition: Callable[[], Awaitable[bool]], timeout: float, what: str, interval: float = 0.1, *, fail: bool = True
) -> bool:
    """Poll `condition` until it is true (→ True); at the deadline fail with `what`, or return False."""
    deadline = time.monotonic() + timeout
    while True:
        if await condition():
            return True
        if time.monotonic() >= deadline:
            if fail:
                pytest.fail(f"timed out after {timeout:g}s waiting for {what}")
            return False
        await asyncio.sleep(interval)  # polling interval, not a synchronisation


# --------------------------------------------------------------------------- broker


@dataclass
class KafkaBroker:
    """A broker run by scripts/kafka on its own ports and data dir."""

    port: int
    controller_port: int
    data_dir: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _script(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, KAFKA_PORT=str(self.port), KAFKA_CONTROLLER_PORT=str(self.controller_port),
                   CHARTER_KAFKA_DIR=str(self.data_dir))  # fmt: skip
        result = subprocess.run(
            [str(KAFKA_SCRIPT), *args], env=env, capture_output=True, text=True, timeout=KAFKA_SCRIPT_TIMEOUT
        )
        if result.returncode != 0 and args[0] != "status":
            raise RuntimeError(f"scripts/kafka {' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout}\n{result.stderr}")  # fmt: skip
        return result

    def start(self, keep: bool = False) -> None:
        """Start and wait until ready (the script polls the port and the broker log)."""
        self._script("start", *(["--keep"] if keep else []))

    def stop(self) -> None:
        """SIGTERM the broker and wait until it has exited (the script waits)."""
        self._script("stop")

    def running(self) -> bool:
        return self._script("status").returncode == 0

    def ensure_running(self) -> None:
        if not self.running():
            self.start(keep=True)


@contextlib.contextmanager
def private_broker(port: int, controller_port: int, data_dir: str) -> Iterator[KafkaBroker]:
    """A broker on the given ports; `free_broker` picks free ports and a temporary data dir."""
    broker = KafkaBroker(port, controller_port, Path(data_dir))
    broker.stop()  # a broker left over by an interrupted run of this suite
    broker.start()  # wipes and formats the data dir: a clean slate
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The shared broker: CHARTER_KAFKA_BOOTSTRAP if set, else a private one for the session."""
    external = os.environ.get("CHARTER_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    with free_broker(tmp_path_factory, "kafka-tests") as broker:
        yield broker.bootstrap


@pytest.fixture(scope="module")
def outage_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A broker that tests may stop and restart; always private, even in CI."""
    with free_broker(tmp_path_factory, "kafka-outage") as broker:
        yield broker


@contextlib.contextmanager
def free_broker(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[KafkaBroker]:
    """A private broker on two free ports, its data in a directory of this test session."""
    port, controller_port = free_ports(2)
    with private_broker(port, controller_port, str(tmp_path_factory.mktemp(name))) as broker:
        yield broker


# --------------------------------------------------------------------------- collector


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free now: every socket stays bound until all are picked."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


@dataclass
class Collector:
    """A running `charter serve` subprocess."""

    url: str
    bootstrap: str
    proc: subprocess.Popen[bytes]
    log: Path
    sink_timeout: float = SINK_TIMEOUT

    def log_tail(self, lines: int = 40, *, own: bool = False) -> str:
        """The last lines of its output; `own`: only uvicorn's and charter's (not aiokafka's retries)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        kept = [x for x in text.splitlines() if not own or x.startswith("INFO:") or " charter" in x]
        return "\n".join(kept[-lines:])


def _charter_command() -> list[str]:
    exe = Path(sys.executable).parent / "charter"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("charter")
    return [found] if found else [sys.executable, "-m", "collector.cli"]


@contextlib.asynccontextmanager
async def run_collector(
    bootstrap: str, log_dir: Path, *flags: str, schemas: Path = SCHEMAS
) -> AsyncIterator[Collector]:
    """Start `charter serve --sink kafka` (plus `flags`), wait for GET /ready 200, terminate it afterwards."""
    port = free_port()
    log = log_dir / f"collector-{port}.log"
    cmd = [*_charter_command(), "serve", "--sink", "kafka", "--kafka-bootstrap", bootstrap,
           "--port", str(port), "--schemas", str(schemas), "--sink-timeout", str(SINK_TIMEOUT),
           "--keys", str(TEST_KEYS), *flags]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTER_")}  # flags only
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    collector = Collector(f"http://127.0.0.1:{port}", bootstrap, proc, log)
    try:
        async with httpx.AsyncClient(base_url=collector.url, timeout=5) as client:

            async def ready() -> bool:
                if proc.poll() is not None:
                    pytest.fail(f"collector exited with {proc.returncode} during startup:\n{collector.log_tail()}")
                with contextlib.suppress(httpx.TransportError):
                    return (await client.get("/ready")).status_code == 200
                return False

            await poll_until(ready, READY_DEADLINE, f"GET /ready 200 from {collector.url}", interval=0.2)
        yield collector
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen[bytes], grace: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait()


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("collector-logs")


@pytest.fixture(scope="session")
def collector_factory(log_dir: Path) -> Callable[[str], contextlib.AbstractAsyncContextManager[Collector]]:
    """`async with collector_factory(bootstrap) as c:` runs a collector of one's own."""
    return lambda bootstrap: run_collector(bootstrap, log_dir)


@pytest.fixture(scope="session")
async def collector(kafka_bootstrap: str, log_dir: Path) -> AsyncIterator[Collector]:
    """The collector shared by the tests that do not stop their broker."""
    async with run_collector(kafka_bootstrap, log_dir) as c:
        yield c


@pytest.fixture(scope="session")
async def http(collector: Collector) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=collector.url, timeout=30) as client:
        yield client


# --------------------------------------------------------------------------- consumer


@dataclass(frozen=True)
class Rec:
    """One consumed Kafka record, its value decoded (None if it is not JSON)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    raw: bytes
    headers: tuple[tuple[str, bytes], ...]
    value: Any

    @property
    def id(self) -> str | None:
        return self.value.get("id") if isinstance(self.value, dict) else None


@dataclass
class Consumed:
    records: list[Rec]  # the records whose envelope id was asked for
    scanned: list[Rec] = field(repr=False)  # every record read from the topics

    def by_id(self) -> dict[str, list[Rec]]:
        out: dict[str, list[Rec]] = {}
        for r in self.records:
            out.setdefault(r.id or "", []).append(r)
        return out


async def partitions(bootstrap: str, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of those of `topics` that exist (never auto-creates a topic)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="charter-it-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = sorted(set(topics) & existing)
        described = await admin.describe_topics(wanted) if wanted else []
    finally:
        await admin.close()
    return [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]


async def consume(
    bootstrap: str, topics: Iterable[str], ids: Iterable[str], *, expected: int | None = None,
    timeout: float = 30.0,
) -> Consumed:  # fmt: skip
    """Read `topics` from the beginning; keep the records whose envelope `id` is in `ids`.

    Reads at least up to the end offsets seen at the start (so a record that is anywhere in
    these topics is found, and a duplicate in another topic is seen too), then on until
    `expected` matching records (default: one per id) have been read or the deadline passes.
    """
    topics = sorted(set(topics))
    wanted = set(ids)
    expected = len(wanted) if expected is None else expected
    tps = await partitions(bootstrap, topics)
    if not tps:
        return Consumed([], [])
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", client_id="charter-it")  # fmt: skip
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        matched: list[Rec] = []
        scanned: list[Rec] = []
        deadline = time.monotonic() + timeout
        while True:
            at_end = all([await consumer.position(tp) >= ends[tp] for tp in tps])
            if at_end and len(matched) >= expected:
                break
            if time.monotonic() >= deadline:
                if not at_end:  # then a record could hide in what was not read
                    pytest.fail(f"the consumer did not reach the end of {topics} in {timeout:g}s")
                break  # the end was reached with fewer matches than expected: the caller's asserts say which
            batches = await consumer.getmany(timeout_ms=200)
            for tp, msgs in batches.items():
                for m in msgs:
                    try:
                        value = json.loads(m.value) if m.value is not None else None
                    except ValueError:
                        value = None
                    rec = Rec(tp.topic, tp.partition, m.offset, m.key, m.value or b"", tuple(m.headers), value)
                    scanned.append(rec)
                    if rec.id in wanted:
                        matched.append(rec)
        return Consumed(matched, scanned)
    finally:
        await consumer.stop()


@pytest.fixture(scope="session")
def wait_until() -> Callable[..., Awaitable[bool]]:
    """`await wait_until(async_condition, timeout_s, "what", fail=True)`: poll with a deadline."""
    return poll_until


@pytest.fixture(scope="session")
def consume_records() -> Callable[..., Awaitable[Consumed]]:
    """`await consume_records(bootstrap, topics, ids, expected=..., timeout=...)`."""
    return consume


@pytest.fixture
def run_id() -> str:
    """A value unique to this test run, to tell this test's records from any other's."""
    return uuid.uuid4().hex[:12]
