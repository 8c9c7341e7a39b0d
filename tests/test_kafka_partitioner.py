"""The Kafka sink's partitioner hash is Kafka's own murmur2: a key lands where the Java client puts it."""

from __future__ import annotations

import random

import pytest
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from collector.sinks.kafka_partitioner import murmur2


@pytest.mark.parametrize(
    "key, java",
    [  # the Java client's own test vectors (org.apache.kafka.common.utils.UtilsTest#testMurmur2)
        pytest.param(b"21", -973932308, id="21"),
        pytest.param(b"foobar", -790332482, id="foobar"),
        pytest.param(b"a-little-bit-long-string", -985981536, id="long"),
        pytest.param(b"a-little-bit-longer-string", -1486304829, id="longer"),
        pytest.param(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971, id="longest"),
        pytest.param(b"abc", 479470107, id="abc"),
    ],
)
def test_murmur2_gives_the_java_clients_value(key: bytes, java: int) -> None:
    assert murmur2(key) == java & 0xFFFFFFFF


def test_murmur2_agrees_with_aiokafka_on_every_length_and_byte() -> None:
    rng = random.Random(2)
    for length in range(0, 70):
        for _ in range(40):
            key = bytes(rng.randrange(256) for _ in range(length))
            assert murmur2(key) == aiokafka_murmur2(key) & 0xFFFFFFFF, key
