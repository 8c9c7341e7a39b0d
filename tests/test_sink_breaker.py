"""Group commit keeps requests apart, and the breaker fails fast while the sink is known to be down."""

from __future__ import annotations

import asyncio
import time

import pytest

from collector.route import Record
from collector.sinks import Refused, SinkUnavailable
from collector.sinks.batching import Delivery, GroupCommitter
from collector.sinks.breaker import Breaker


def rec(key: str) -> Record:
    return Record("good", "t", key.encode(), b'{"id":"%s"}' % key.encode(), [])


async def together(committer: GroupCommitter, *requests: list[Record]) -> list[list[Refused] | BaseException]:
    """Submit every request before the writer runs, so they share one group commit."""
    return await asyncio.gather(*(committer.submit(r) for r in requests), return_exceptions=True)


async def test_a_refused_record_is_returned_to_its_own_request_only() -> None:
    big = rec("big")
    groups: list[int] = []

    async def commit(records: list[Record]) -> Delivery:
        groups.append(len(records))
        return Delivery(refused={id(big): "too large"})

    committer = GroupCommitter(commit, timeout=5)
    committer.start()
    a, b = await together(committer, [rec("a1"), big], [rec("b1")])
    await committer.stop()
    assert groups == [3]  # one commit for both requests
    assert a == [Refused(big, "too large")] and b == []


async def test_a_commit_that_crashes_fails_only_the_request_that_causes_it() -> None:
    groups: list[list[bytes]] = []

    async def commit(records: list[Record]) -> None:
        groups.append([r.key for r in records])
        if any(r.key == b"boom" for r in records):
            raise ValueError("a bug triggered by one record")

    committer = GroupCommitter(commit, timeout=5)
    committer.start()
    a, b, c = await together(committer, [rec("a")], [rec("boom")], [rec("c")])
    await committer.stop()
    assert groups[0] == [b"a", b"boom", b"c"]  # they did share the commit
    assert a == [] and c == []
    assert isinstance(b, SinkUnavailable) and "ValueError" in str(b)


async def test_records_the_sink_failed_fail_their_requests_and_trip_the_breaker() -> None:
    lost = rec("lost")

    async def commit(records: list[Record]) -> Delivery:
        return Delivery(failed={id(lost): SinkUnavailable("partition leader gone")})

    async def probe() -> None:
        raise SinkUnavailable("still down")

    breaker = Breaker(probe, interval=60, timeout=1)
    committer = GroupCommitter(commit, timeout=5, breaker=breaker)
    committer.start()
    a, b = await together(committer, [rec("a")], [lost])
    await committer.stop()
    assert a == [] and isinstance(b, SinkUnavailable)
    assert breaker.problem == "partition leader gone"


async def test_once_the_sink_timed_out_requests_get_503_at_once_until_a_probe_succeeds() -> None:
    sink_up = asyncio.Event()
    probes: list[bool] = []

    async def commit(records: list[Record]) -> None:
        await sink_up.wait()  # a broker that does not answer

    async def probe() -> None:
        probes.append(sink_up.is_set())
        if not sink_up.is_set():
            raise SinkUnavailable("no answer")

    breaker = Breaker(probe, interval=0.02, timeout=1)
    committer = GroupCommitter(commit, timeout=0.3, breaker=breaker)
    committer.start()
    breaker.start()
    started = time.monotonic()
    with pytest.raises(SinkUnavailable, match=r"within 0\.3s"):
        await committer.submit([rec("first")])  # the first request learns the hard way
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    for n in range(50):
        with pytest.raises(SinkUnavailable, match="failing fast"):
            await committer.submit([rec(f"r{n}")])
    assert time.monotonic() - started < 0.2  # 50 requests, not 50 timeouts
    deadline = time.monotonic() + 5
    while len(probes) < 2:
        assert time.monotonic() < deadline, "the breaker never probed"
        await asyncio.sleep(0.01)  # polling, not synchronising
    with pytest.raises(SinkUnavailable, match="failing fast"):  # failed probes keep it open
        await committer.submit([rec("still-down")])
    sink_up.set()
    deadline = time.monotonic() + 5
    while breaker.problem is not None:
        assert time.monotonic() < deadline, "the breaker did not close after the sink came back"
        await asyncio.sleep(0.01)  # polling the breaker, not synchronising
    assert probes[:2] == [False, False] and probes[-1] is True
    assert await committer.submit([rec("after")]) == []
    await breaker.stop()
    await committer.stop()


async def test_a_watching_breaker_notices_a_dead_sink_without_traffic() -> None:
    async def probe() -> None:
        raise SinkUnavailable("metadata request failed")

    breaker = Breaker(probe, interval=1, timeout=1, watch=0.01)
    breaker.start()
    deadline = time.monotonic() + 5
    while breaker.problem is None:
        assert time.monotonic() < deadline, "the watch probe never ran"
        await asyncio.sleep(0.01)  # polling, not synchronising
    await breaker.stop()
    assert "metadata request failed" in breaker.problem
    with pytest.raises(SinkUnavailable, match="failing fast"):
        breaker.check()


@pytest.mark.parametrize("turns", range(4), ids=lambda n: f"{n}-turns-after-the-probe-failed")
async def test_stop_ends_the_probe_loop_even_when_a_failing_probe_and_the_cancel_meet(turns: int) -> None:
    """A probe of a full disk fails just as shutdown cancels the loop: Python 3.11's `wait_for`
    would hand back the probe's error and drop the cancel, and `stop` (so SIGTERM) never ended."""
    probes: list[asyncio.Future[None]] = []
    probing = asyncio.Event()

    async def probe() -> None:
        answer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        probes.append(answer)
        probing.set()
        await answer
        raise OSError(28, "No space left on device")

    breaker = Breaker(probe, interval=0.0, timeout=5.0)
    breaker.trip("disk full")
    breaker.start()
    await probing.wait()
    probes[0].set_result(None)  # the probe's write comes back and fails...
    for _ in range(turns):  # ...and the cancel lands this many loop turns later
        await asyncio.sleep(0)
    stopping = asyncio.ensure_future(breaker.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)  # a bound, not a synchronisation
    assert stopping in done, "Breaker.stop() did not return: the probe loop swallowed its cancellation"
