"""`charter keys generate|rotate` and `charter decrypt` for authorised consumers."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import click
import msgspec

from collector.cliutil import kafka_security_options
from collector.keys import DEFAULT_KEYS_FILE, KeyRing, KeyRingError, generate, load_keys, rotate
from collector.privacy import ENCRYPTED_PREFIX, decrypt_value

if TYPE_CHECKING:
    from collector.sinks.kafka_security import KafkaSecurity


@click.group()
def keys() -> None:
    """Create and rotate the PII key file (hash secret and encryption keys)."""


@keys.command("generate")
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_KEYS_FILE, show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing file (old encrypted data becomes unreadable).")
def keys_generate(out: Path, force: bool) -> None:
    """Write a new key file, readable only by its owner."""
    if out.exists() and not force:  # never overwrite keys: data encrypted with them would be lost
        click.echo(f"{out} exists; kept it (`charter keys rotate` adds a key, --force replaces the file)", err=True)
        return
    _write(out, generate())
    click.echo(f"wrote {out}: keep it secret, back it up, never commit it", err=True)


@keys.command("rotate")
@click.option(
    "--keys", "path", type=click.Path(exists=True, path_type=Path), default=DEFAULT_KEYS_FILE, show_default=True
)
def keys_rotate(path: Path) -> None:
    """Add a new encryption key and make it active; old keys stay to decrypt old data."""
    try:
        raw = rotate(json.loads(path.read_text()))
    except (KeyRingError, ValueError) as exc:
        raise click.UsageError(f"{path}: {exc}") from None
    _write(path, raw)
    click.echo(f"{path}: active key is now {raw['encryption']['active']}", err=True)


@click.command()
@click.argument("source", required=False, default="-")
@click.option(
    "--keys",
    "path",
    envvar="CHARTER_KEYS",
    type=click.Path(path_type=Path),
    default=DEFAULT_KEYS_FILE,
    show_default=True,
)
@click.option("--kafka-bootstrap", default=None, help="Read SOURCE as a Kafka topic at this HOST:PORT.")
@kafka_security_options
def decrypt(source: str, path: Path, kafka_bootstrap: str | None, **kafka: Any) -> None:
    """Write envelopes (JSONL file, `-` for stdin, or a Kafka topic) with encrypted fields decrypted.

    Exit 0 when every encrypted value was decrypted, 1 if any could not be (unknown key id)
    or any line was damaged (not JSON: skipped, and reported on stderr with where it is).
    """
    try:
        ring = load_keys(path)
    except KeyRingError as exc:
        raise click.UsageError(str(exc)) from None
    if not kafka_bootstrap and source != "-" and not Path(source).is_file():
        click.echo(f"error: {source}: no such file; to read the Kafka topic {source}, add --kafka-bootstrap HOST:PORT",
                   err=True)  # fmt: skip
        sys.exit(2)
    lines = _from_kafka(kafka_bootstrap, source, _security(kafka)) if kafka_bootstrap else _from_file(source)
    failed = damaged = 0
    for where, line in lines:
        try:
            envelope = msgspec.json.decode(line)
        except msgspec.DecodeError as exc:  # a torn or corrupted line: say where, keep reading
            damaged += 1
            click.echo(f"{where}: damaged line skipped ({exc})", err=True)
            continue
        failed += _decrypt_all(ring, envelope)
        sys.stdout.write(msgspec.json.encode(envelope).decode() + "\n")
    if failed:
        click.echo(f"{failed} value(s) could not be decrypted with {path}", err=True)
    if damaged:
        click.echo(f"{damaged} damaged line(s) skipped", err=True)
    if failed or damaged:
        sys.exit(1)


def _decrypt_all(ring: KeyRing, node: Any) -> int:
    """Decrypt in place every `enc:` string under node; return how many failed."""
    failed = 0
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in list(items):
        if isinstance(value, str) and value.startswith(ENCRYPTED_PREFIX):
            try:
                node[key] = decrypt_value(ring, value)
            except Exception:  # wrong key id, tampered data: keep the ciphertext, count it
                failed += 1
        else:
            failed += _decrypt_all(ring, value)
    return failed


def _from_file(source: str) -> Iterator[tuple[str, bytes]]:
    """Each non-blank line with `file:line`; bytes, so a line that is not UTF-8 is reported, not fatal."""
    name = "<stdin>" if source == "-" else source
    stream: BinaryIO = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115
    with stream:
        for number, line in enumerate(stream, 1):
            if line.strip():
                yield f"{name}:{number}", line


def _security(kafka: dict[str, Any]) -> KafkaSecurity:
    """The same security flags `charter serve` takes."""
    from types import SimpleNamespace

    from collector.sinks.kafka_security import KafkaSecurity, KafkaSecurityError

    try:
        return KafkaSecurity.of(SimpleNamespace(**kafka))
    except KafkaSecurityError as exc:
        raise click.UsageError(str(exc)) from None


def _from_kafka(bootstrap: str, topic: str, security: KafkaSecurity) -> Iterator[tuple[str, bytes]]:
    """Every record of the topic up to its end offsets at start, then stop."""
    from collector.sinks.kafka_security import preflight

    cause = asyncio.run(preflight(bootstrap, security, 10.0))  # a wrong password: one line, not a traceback
    if cause is not None:  # one line with the fix, not a usage text: the command was right, the broker is not there
        click.echo(f"error: cannot connect to Kafka: {cause}; start it, or give its address with --kafka-bootstrap",
                   err=True)  # fmt: skip
        sys.exit(2)
    records = asyncio.run(_consume(bootstrap, topic, security.client()))
    return ((f"{topic} record {n}", value) for n, value in enumerate(records, 1))


async def _consume(bootstrap: str, topic: str, security: dict[str, Any]) -> list[bytes]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    parts = [TopicPartition(topic, p) for p in await _partitions(bootstrap, topic, security)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest", **security
    )
    await consumer.start()
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        out: list[bytes] = []
        while [tp for tp in parts if await consumer.position(tp) < end[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                out.extend(r.value for r in records if r.value is not None)
        return out
    finally:
        await consumer.stop()


async def _partitions(bootstrap: str, topic: str, security: dict[str, Any]) -> list[int]:
    """The topic's partitions, asked of the admin API so that reading never auto-creates a topic."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="charter-decrypt", **security)
    await admin.start()
    try:
        if topic not in set(await admin.list_topics()):
            raise click.UsageError(f"topic {topic!r} does not exist at {bootstrap}")
        [described] = await admin.describe_topics([topic])
        return sorted(p["partition"] for p in described["partitions"])
    finally:
        await admin.close()


def _write(path: Path, raw: dict[str, Any]) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps(raw, indent=2) + "\n")
