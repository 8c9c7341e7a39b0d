"""`--kafka-compression-level` reaches the batches aiokafka builds, which any consumer still reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from click.testing import CliRunner

from collector import cli
from collector.settings import Settings
from collector.sinks import kafka_producer
from collector.sinks.kafka_codec import level_problem, use_level
from collector.sinks.kafka_security import KafkaSecurity

CODES = {"gzip": 1, "lz4": 3, "zstd": 4}  # Kafka's compression attribute
STAMP = 1_764_590_400_000  # fixed: with the build time in it, a batch's size would depend on how fast it was built
EVENT = {"schema": "com.acme.shop/payment/1.0.0", "collected_at": "2026-12-01T17:00:00.123456Z",
         "source": {"ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"}}  # fmt: skip


def _value(i: int) -> bytes:
    data = {"order_id": 1000 + i * 37, "amount": 12.5 + i, "currency": ("EUR", "USD", "GBP")[i % 3],
            "status": ("paid", "refunded")[i % 2]}  # fmt: skip
    return json.dumps({**EVENT, "id": f"0193b3c2-{i * 7919:012d}", "data": data}).encode()


VALUES = [_value(i) for i in range(50)]


@pytest.fixture(autouse=True)
def _aiokafkas_own_levels() -> Iterator[None]:
    yield
    for compression in CODES:
        use_level(compression, None)


def batch(compression: str, level: int | None) -> bytes:
    use_level(compression, level)
    return built(compression)


def built(compression: str) -> bytes:
    """One batch as the Kafka sink's producer builds it (aiokafka's builder, C extension or not)."""
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=CODES[compression], is_transactional=False,
                                        producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)  # fmt: skip
    for offset, value in enumerate(VALUES):
        builder.append(offset, timestamp=STAMP, key=None, value=value, headers=[])
    return bytes(builder.build())


@pytest.mark.parametrize(
    ("compression", "fast", "small"),
    [
        pytest.param("lz4", 1, 17, id="lz4"),
        pytest.param("zstd", 1, 22, id="zstd"),
        pytest.param("gzip", 1, 9, id="gzip"),
    ],
)
def test_the_level_changes_the_batch_and_every_level_reads_back(compression: str, fast: int, small: int) -> None:
    quick, tight = batch(compression, fast), batch(compression, small)
    assert len(tight) < len(quick)  # a higher level: smaller batches
    for raw in (quick, tight):
        assert [record.value for record in DefaultRecordBatch(raw)] == VALUES


def test_level_one_is_the_default_and_lz4s_fast_mode() -> None:
    assert len(batch("lz4", 1)) > len(batch("lz4", None))  # aiokafka's own lz4 level is 9 (LZ4HC)


async def test_the_sinks_producer_compresses_at_the_configured_level(monkeypatch: pytest.MonkeyPatch) -> None:
    class Producer:  # aiokafka's, without a broker: new_producer only builds and starts it
        def __init__(self, **options: Any) -> None:
            self.options = options

        async def start(self) -> None:
            pass

    fast, default = batch("lz4", 1), batch("lz4", None)
    assert len(fast) != len(default)
    monkeypatch.setattr(kafka_producer, "AIOKafkaProducer", Producer)
    settings = Settings(sink="kafka")  # lz4 at level 1 by default
    producer = await kafka_producer.new_producer(settings, KafkaSecurity.of(settings), "127.0.0.1:9", 1.0)
    assert producer.options["compression_type"] == "lz4"
    assert built("lz4") == fast


@pytest.mark.parametrize(
    ("compression", "level", "problem"),
    [
        pytest.param("gzip", 12, "--kafka-compression-level 12: gzip takes 1 to 9", id="gzip-too-high"),
        pytest.param("lz4", 18, "--kafka-compression-level 18: lz4 takes 1 to 17", id="lz4-too-high"),
        pytest.param("zstd", 22, None, id="zstd-top"),
        pytest.param("snappy", 22, None, id="snappy-has-no-levels"),
        pytest.param(None, 22, None, id="no-compression"),
    ],
)
def test_a_level_the_codec_does_not_have_is_refused(compression: str | None, level: int, problem: str | None) -> None:
    assert level_problem(compression, level) == problem


@pytest.mark.parametrize(
    "codec_args",
    [
        pytest.param(["--kafka-compression", "gzip"], id="flag"),
        pytest.param(["--kafka-option", "compression.type=gzip"], id="producer-property"),
    ],
)
def test_serve_refuses_a_level_its_codec_does_not_have(codec_args: list[str]) -> None:
    # no broker at that address and no waiting for one: without the check, the start fails with another error
    args = ["serve", "--sink", "kafka", "--kafka-bootstrap", "127.0.0.1:1", "--kafka-wait", "0", *codec_args,
            "--kafka-compression-level", "12"]  # fmt: skip
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 2
    assert "error: --kafka-compression-level 12: gzip takes 1 to 9" in result.output
