"""Broker outage: a 2xx is a promise that every event of the request is in Kafka.

These tests stop and restart a broker of their own (`outage_broker`, on free ports with a
temporary data dir), never the shared one nor another Kafka on the machine. A broker outage costs tens of seconds, so each scenario runs once
(a module fixture records what clients and probes saw) and several tests check what it
recorded, one property each.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.kafka

WORKERS = 3  # concurrent clients
MAX_REQUESTS_PER_WORKER = 400  # bounds the loop whatever happens
PACE = 0.05  # seconds between one client's requests: keeps the event count small; never a wait
TOPICS = ("payments", "interactions.messages")
RECOVERY_DEADLINE = 15.0  # seconds after the broker is back for traffic to flow again
READY_DEADLINE_NO_TRAFFIC = 8.0  # seconds for /ready to notice a dead broker with no traffic
EXIT_DEADLINE = 10.0  # seconds for `charter serve` to exit on SIGTERM (3 x --sink-timeout + 1)


def message(event_id: str) -> dict[str, Any]:
    return {"schema": "com.datingapp.interactions/messages/1", "id": event_id,
            "data": {"user_id": f"user-{event_id}", "subject_id": "subject-1", "message_text": "hello",
                     "status": "unread", "created_at": "2026-11-21T10:00:00Z", "updated_at": "2026-11-21T10:00:00Z"}}  # fmt: skip


def payment(event_id: str) -> dict[str, Any]:
    return {"schema": "com.acme.shop/payment/1", "id": event_id,
            "data": {"order_id": random.randrange(1, 10**12), "product_id": 3, "amount": 12.5,
                     "confirmation_code": "ZX98YW76", "cc_number": "5500000000000004", "ts": "2026-11-21T10:00:00Z"}}  # fmt: skip


@dataclass(frozen=True)
class Sent:
    ids: tuple[str, ...]
    status: int  # 0: no HTTP answer at all
    retry_after: str | None
    sent_in: str  # broker phase when the request was sent ...
    answered_in: str  # ... and when its answer arrived
    body: str


@dataclass
class OutageRun:
    sent: list[Sent]
    ready_seen: list[tuple[str, int]]  # (broker phase, GET /ready status)
    recovered: bool
    found: dict[str, list[Any]]  # event id → its records in TOPICS

    def acknowledged(self) -> list[str]:
        return [i for s in self.sent if s.status == 200 for i in s.ids]


async def get_status(http: httpx.AsyncClient, path: str) -> int:
    try:
        return (await http.get(path)).status_code
    except httpx.TransportError:
        return 0


@pytest.fixture(scope="module")
async def outage_run(outage_broker: Any, collector_factory: Any, consume_records: Any, wait_until: Any) -> OutageRun:
    """Clients POST distinct events while the broker is up, stopping, down, starting and back."""
    broker = outage_broker
    broker.ensure_running()
    run_id = uuid.uuid4().hex[:12]
    phase = "up"  # up → stopping → down → starting → back
    sent: list[Sent] = []
    ready_seen: list[tuple[str, int]] = []
    stop_posting = asyncio.Event()

    async with (
        collector_factory(broker.bootstrap) as collector,
        httpx.AsyncClient(base_url=collector.url, timeout=30) as http,
    ):

        async def client(worker: int) -> None:
            for n in range(MAX_REQUESTS_PER_WORKER):
                if stop_posting.is_set():
                    return
                ids = (f"out-{run_id}-{worker}-{n}-m", f"out-{run_id}-{worker}-{n}-p")
                sent_in = phase
                try:
                    r = await http.post("/v1/events", json=[message(ids[0]), payment(ids[1])])
                    outcome = Sent(ids, r.status_code, r.headers.get("retry-after"), sent_in, phase, r.text)
                except httpx.TransportError as exc:
                    outcome = Sent(ids, 0, None, sent_in, phase, repr(exc))
                sent.append(outcome)
                await asyncio.sleep(PACE)

        def within(in_phase: str) -> list[Sent]:
            return [s for s in sent if s.sent_in == s.answered_in == in_phase]

        async def ready_is(expected: int) -> bool:
            status = await get_status(http, "/ready")
            ready_seen.append((phase, status))
            return status == expected

        async def answered_up() -> bool:
            return sum(s.status == 200 for s in within("up")) >= 10

        async def refused_down() -> bool:
            return sum(s.status == 503 for s in within("down")) >= WORKERS

        async def flowing_again() -> bool:
            back = within("back")
            return len(back) >= 10 and all(s.status == 200 for s in back[-10:]) and await ready_is(200)

        clients = [asyncio.create_task(client(w)) for w in range(WORKERS)]
        try:
            await wait_until(answered_up, 30, "10 acknowledged requests before the outage")
            phase = "stopping"
            await asyncio.to_thread(broker.stop)  # returns once the broker process has exited
            phase = "down"
            await wait_until(lambda: ready_is(503), 20, "GET /ready 503 while the broker is down")
            await wait_until(refused_down, 30, "503s while the broker is down")
            phase = "starting"
            await asyncio.to_thread(broker.start, True)  # --keep: same data; returns once ready
            phase = "back"
            recovered = await wait_until(flowing_again, RECOVERY_DEADLINE, "traffic to flow again", fail=False)
        finally:
            stop_posting.set()
            await asyncio.gather(*clients)

    acknowledged = [i for s in sent if s.status == 200 for i in s.ids]
    all_ids = [i for s in sent for i in s.ids]
    consumed = await consume_records(broker.bootstrap, TOPICS, all_ids, expected=len(acknowledged))
    return OutageRun(sent, ready_seen, recovered, consumed.by_id())


async def test_every_event_answered_2xx_across_a_broker_outage_is_in_kafka_exactly_once(outage_run: OutageRun) -> None:
    acknowledged = outage_run.acknowledged()
    assert len(acknowledged) >= 20  # the clients really were acknowledged before the outage
    missing = [i for i in acknowledged if i not in outage_run.found]
    assert missing == [], f"{len(missing)} of {len(acknowledged)} acknowledged events are not in Kafka: {missing[:5]}"
    duplicated = {i: len(outage_run.found[i]) for i in acknowledged if len(outage_run.found[i]) > 1}
    assert duplicated == {}
    topic_of = {"m": "interactions.messages", "p": "payments"}
    assert all(rec.topic == topic_of[i[-1]] for i in acknowledged for rec in outage_run.found[i])


async def test_requests_while_the_broker_is_down_get_503_with_retry_after(outage_run: OutageRun) -> None:
    sent = outage_run.sent
    assert {s.status for s in sent} <= {200, 503}, [s for s in sent if s.status not in (200, 503)][:3]
    during = [s for s in sent if s.sent_in == s.answered_in == "down"]
    assert len(during) >= WORKERS
    assert {s.status for s in during} == {503}, "nothing may be acknowledged while the broker is down"
    refused = [s for s in sent if s.status == 503]
    assert all(s.retry_after is not None and int(s.retry_after) >= 1 for s in refused), refused[:3]
    assert all('"unavailable"' in s.body for s in refused), refused[:3]


async def test_ready_is_503_while_the_broker_is_down(outage_run: OutageRun) -> None:
    assert ("down", 503) in outage_run.ready_seen


async def test_traffic_flows_again_and_ready_is_200_once_the_broker_is_back(outage_run: OutageRun) -> None:
    back = [s for s in outage_run.sent if s.sent_in == s.answered_in == "back"]
    last_refusal = next((s.body for s in reversed(back) if s.status != 200), None)
    assert outage_run.recovered, (
        f"{RECOVERY_DEADLINE:g}s after the broker was back: {sum(s.status == 200 for s in back)} of {len(back)} "
        f"requests acknowledged, last /ready {outage_run.ready_seen[-1]}, last refusal {last_refusal}"
    )
    assert ("back", 200) in outage_run.ready_seen


@dataclass
class DownRun:
    ready_without_traffic: list[int]  # GET /ready statuses after the broker stopped, before any POST
    exited_after: float | None  # seconds from SIGTERM to exit; None: still running at the deadline
    log_tail: str


@pytest.fixture(scope="module")
async def down_run(outage_broker: Any, collector_factory: Any, wait_until: Any) -> DownRun:
    """The broker dies under an idle collector; then one POST (refused with 503); then SIGTERM."""
    broker = outage_broker
    broker.ensure_running()
    async with collector_factory(broker.bootstrap) as collector:
        proc = collector.proc
        try:
            async with httpx.AsyncClient(base_url=collector.url, timeout=30) as http:
                assert await get_status(http, "/ready") == 200
                await asyncio.to_thread(broker.stop)
                seen: list[int] = []

                async def ready_503() -> bool:
                    seen.append(await get_status(http, "/ready"))
                    return seen[-1] == 503

                await wait_until(ready_503, READY_DEADLINE_NO_TRAFFIC, "/ready 503", interval=0.5, fail=False)
                r = await http.post("/v1/events", json=message(f"down-{uuid.uuid4().hex}"))
                assert r.status_code == 503, r.text  # the client is told to retry: nothing is owed to Kafka

            async def exited() -> bool:
                return proc.poll() is not None

            proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            done = await wait_until(exited, EXIT_DEADLINE, "exit after SIGTERM", fail=False)
            exited_after = time.monotonic() - started if done else None
        finally:
            if proc.poll() is None:
                proc.kill()  # rather than the fixture's 20 s grace
    return DownRun(seen, exited_after, collector.log_tail(6, own=True))


async def test_ready_turns_503_when_the_broker_goes_down_even_without_traffic(down_run: DownRun) -> None:
    # an orchestrator polls /ready to stop routing traffic to a collector whose sink is gone
    assert 503 in down_run.ready_without_traffic, (
        f"/ready answered {down_run.ready_without_traffic} for {READY_DEADLINE_NO_TRAFFIC:g}s with the broker stopped"
    )


async def test_sigterm_stops_the_collector_promptly_while_the_broker_is_down(down_run: DownRun) -> None:
    assert down_run.exited_after is not None, (
        f"`charter serve` still running {EXIT_DEADLINE:g}s after SIGTERM; log: {down_run.log_tail}"
    )
