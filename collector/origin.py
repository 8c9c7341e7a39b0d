"""Events that arrived in another wire protocol (see collector/protocols): what their records
keep of it. The pipeline reads an `Origin` without ever asking which protocol made it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from collector.annotate import Entity
from collector.contracts import Registry
from collector.errors import ErrorType
from collector.privacy import Privacy
from collector.validate import Failure, validate


@dataclass(frozen=True, slots=True)
class Origin:
    """One translated event's provenance, given to `pipeline.process` beside its Charter event."""

    protocol: str
    raw: bytes  # the event as received (JSON): its bad record keeps this, protected, not the translation
    client: dict[str, Any] | None = None  # the protocol's own fields, for the envelope's source.client
    entities: tuple[tuple[str, Any], ...] = ()  # attached entities (reference, data): each checked on its own
    failure: tuple[ErrorType, Failure] | None = None  # why the protocol could not translate the event
    headers: tuple[tuple[str, bytes], ...] = ()  # extra headers for its good record


def entity_failures(attached: tuple[tuple[str, Any], ...], registry: Registry) -> list[Failure]:
    """Each attached entity against its own contract; a failure's path says which entity, its
    schema_path which contract."""
    failures = []
    for i, (ref, data) in enumerate(attached):
        contract = registry.get(ref)
        if contract is None:
            failures.append(Failure(f"$.contexts[{i}]", "schema", f"no contract {ref!r} is loaded for this entity"))
            continue
        for f in validate(contract.compiled, data):
            path = f"$.contexts[{i}].data" + f.path[1:]
            failures.append(Failure(path, f.keyword, f"{contract.ref}: {f.message}", f"{contract.ref}{f.schema_path}"))
    return failures


def entities(attached: tuple[tuple[str, Any], ...], registry: Registry, privacy: Privacy) -> list[Entity]:
    """The entities of a valid event, each with the fields its own contract protects protected."""
    out = []
    for ref, data in attached:
        contract = registry.get(ref)
        assert contract is not None  # entity_failures found every one
        out.append(Entity(contract.ref, privacy.protect(data, contract.pii) if contract.pii else data))
    return out


def as_received(origin: Origin, schema: str | None, registry: Registry, privacy: Privacy, limit: int) -> Any:
    """The event in its own protocol's form: as is when no contract it names protects a field,
    else sealed as a whole (its fields cannot be mapped to one contract's)."""
    refs = [schema or "", *(ref for ref, _ in origin.entities)]
    if not registry.has_pii or all(registry.knows_line(r) and not registry.pii_for(r) for r in refs):
        return msgspec.Raw(origin.raw)
    return privacy.seal(origin.raw, limit)
