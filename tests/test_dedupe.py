"""Deduplication: one good record per key per window, duplicates recorded, bounded memory."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from collector.annotate import Source
from collector.contracts import ContractLoadError, Registry
from collector.dedupe import Claim, Deduper, DedupeSpec, Window, parse_window
from collector.pipeline import Context, Outcome, process, settle
from tests.conftest import make_contract, payment


def send(registry: Registry, deduper: Deduper, events: list[dict[str, Any]], clock: float = 0.0) -> Outcome:
    ctx = Context("t", Source(), dedupe=deduper, clock=clock)
    return process([msgspec.json.encode(e) for e in events], registry, ctx)


def pay(**data: Any) -> dict[str, Any]:
    return {"schema": "com.acme.shop/payment/1", "data": payment(**data)}


def test_same_payment_three_times_gives_one_good_record_and_two_duplicates(registry: Registry) -> None:
    deduper = Deduper(1000)
    first = send(registry, deduper, [pay(), pay(cc_number="5500000000000004")])  # same order, product, amount
    retry = send(registry, deduper, [{**pay(), "id": "client-retry"}])
    kinds = [r.kind for r in first.records + retry.records]
    assert kinds == ["good", "bad", "bad"]
    dup: dict[str, Any] = msgspec.json.decode(first.records[1].value)
    assert (first.records[1].topic, dup["error"]["type"]) == ("error-payments", "duplicate")
    assert "order_id, product_id, amount" in dup["error"]["failures"][0]["message"]
    assert send(registry, deduper, [pay(amount=12.5)]).accepted == 1  # another amount is another payment


def test_a_key_is_accepted_again_once_the_window_has_passed(registry: Registry) -> None:
    deduper = Deduper(1000)
    assert send(registry, deduper, [pay()], clock=0.0).accepted == 1
    assert send(registry, deduper, [pay()], clock=599.0).accepted == 0
    assert send(registry, deduper, [pay()], clock=600.0 + 60.0).accepted == 1  # 10m window + one bucket


def test_dedupe_by_id_ignores_events_without_a_client_id() -> None:
    contract = make_contract(
        {"n": {"type": "integer"}}, **{"x-contract": {"owner": {"name": "T"}, "dedupe": {"by": "id", "window": "1m"}}}
    )
    registry = Registry([contract])
    deduper = Deduper(100)
    ev = {"schema": contract.ref, "data": {"n": 1}}
    assert send(registry, deduper, [ev, ev]).accepted == 2
    assert send(registry, deduper, [{**ev, "id": "a"}, {**ev, "id": "a"}, {**ev, "id": "b"}]).accepted == 2


def test_memory_stays_under_the_cap_under_a_flood_of_unique_keys() -> None:
    window = Window(parse_window("10m"), max_keys=1000)
    for i in range(20_000):
        window.seen_or_add(i.to_bytes(16, "big"), now=i * 0.01)
        assert window.size <= 1000
    assert window.evicted >= 19_000
    assert window.seen_or_add((19_999).to_bytes(16, "big"), now=200.0) is True  # recent keys are still known


def test_released_keys_are_not_duplicates() -> None:
    window = Window(60.0, 100)
    assert window.seen_or_add(b"k", 0.0) is False
    window.release(b"k")
    assert window.seen_or_add(b"k", 1.0) is False


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param({"by": ["nope"]}, "fields the contract lacks", id="unknown-field"),
        pytest.param({"window": "10 minutes"}, "positive duration", id="bad-window"),
        pytest.param({"by": "order"}, "Invalid enum value", id="bad-by"),
    ],
)
def test_bad_dedupe_settings_fail_the_load(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ContractLoadError, match=message):
        make_contract({"n": {"type": "integer"}}, **{"x-contract": {"owner": {"name": "T"}, "dedupe": spec}})


def test_window_durations_parse() -> None:
    assert [parse_window(w) for w in ("30s", "10m", "2h", "1d")] == [30, 600, 7200, 86400]
    assert DedupeSpec().by == "fingerprint"


class SharedStore:
    """A store the pipeline cannot answer for itself (as Redis): keys wait for `settle`."""

    name, errors, failed_open = "shared", 0, 0

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def claim(self, claims: list[Claim]) -> list[bool]:
        raise AssertionError("the pipeline never awaits the store")

    async def release(self, claims: list[Claim]) -> None: ...
    def problem(self) -> None:
        return None


def test_a_shared_store_answers_after_the_pipeline_and_duplicates_take_their_place(registry: Registry) -> None:
    events = [pay(order_id=1), {"schema": "com.acme.shop/payment/1", "data": {}}, pay(order_id=2), pay(order_id=1)]
    outcome = process([msgspec.json.encode(e) for e in events], registry, Context("t", Source(), dedupe=SharedStore()))
    assert [p.claim.line for p in outcome.pending] == ["com.acme.shop/payment"] * 3  # one question per deduped event
    assert (outcome.accepted, [r.kind for r in outcome.records]) == (3, ["good", "bad", "good", "good"])
    settle(outcome, [True, False, False], registry)  # the store: order 2 and the repeat of 1 were seen before
    assert (outcome.accepted, [r.kind for r in outcome.records]) == (1, ["good", "bad", "bad", "bad"])
    assert [(r.index, r.type.value) for r in outcome.rejections] == [
        (1, "invalid_payload"),
        (2, "duplicate"),
        (3, "duplicate"),
    ]
    assert [c.key for c in outcome.reserved] == [outcome.reserved[0].key] and not outcome.pending
    assert sum(n for k, n in outcome.tally.items() if k[3] == "accepted") == 1


def test_the_in_process_store_releases_what_a_failed_request_reserved(registry: Registry) -> None:
    import asyncio

    deduper = Deduper(100)
    first = send(registry, deduper, [pay()])
    assert first.reserved and isinstance(first.reserved[0], Claim)
    asyncio.run(deduper.release(first.reserved))  # the sink said 503
    assert send(registry, deduper, [pay()]).accepted == 1
