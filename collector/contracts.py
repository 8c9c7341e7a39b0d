"""Load data contracts from `schemas/<namespace>/<name>/<version>.json|yaml` into a registry.

Every contract is compiled once at load. References resolve in O(1): the exact
`ns/name/1.2.0` and the major-only `ns/name/1` (the newest version of that major) are both
keys of one dict built here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec

from collector.dedupe import DedupeSpec, parse_window
from collector.privacy import PiiField
from collector.refs import ContractLoadError as ContractLoadError  # re-exported: where loaders look for it
from collector.refs import SchemaTree, pii_fields
from collector.refs import read_document as read_document
from collector.rules import Rule, RuleError, RuleSet, RuleSpec, compile_rule
from collector.schema import Compiled, SchemaError, compile_schema

# Reverse-DNS namespaces and snake_case names are the convention (`charter check` says so);
# imported Iglu schemas keep their vendors' and names' spelling (`com.acme/linkClick`).
NAMESPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)+$")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
VERSION = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
REFERENCE = re.compile(
    r"^(?P<namespace>[A-Za-z0-9][A-Za-z0-9_.-]*)/(?P<name>[A-Za-z][A-Za-z0-9_-]*)/(?P<version>\d+(\.\d+\.\d+)?)$"
)
SHARED_PREFIX = "_"  # schemas/_shared/… holds definition files that contracts `$ref`; they are not contracts
DEFAULT_DLQ_TOPIC = "events.bad"


class Owner(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    email: str | None = None


class Warehouse(msgspec.Struct, forbid_unknown_fields=True):
    table: str | None = None
    schema: str | None = None
    dist_key: str | None = None
    sort_key: str | None = None
    encode: dict[str, str] = {}  # column → Redshift compression encoding, over the default per type


class Redirect(msgspec.Struct, forbid_unknown_fields=True):
    """`x-contract.redirect`: events that carry any of `when` (top-level fields, present and not
    null) go to the restricted `topic` instead of the contract's, and, when rejected, to
    `dlq_topic` (default: the contract's dead-letter topic)."""

    topic: str
    when: list[str]
    dlq_topic: str | None = None


class Segment(msgspec.Struct, forbid_unknown_fields=True):
    """`x-contract.segment`: the Segment calls this contract governs: a track event by name
    (its `properties`), pages or screens (by `event`, their name, or all), identify or group
    (their `traits`), alias."""

    type: Literal["track", "identify", "page", "screen", "group", "alias"]
    event: str | None = None


class ContractMeta(msgspec.Struct, forbid_unknown_fields=True):
    """The `x-contract` block. Unknown keys are refused so a typo never goes unnoticed."""

    owner: Owner
    status: Literal["draft", "active", "deprecated"] = "active"
    topic: str | None = None
    dlq_topic: str = DEFAULT_DLQ_TOPIC
    partitions: int = 1
    partition_key: str | None = None
    compatibility: (
        Literal["BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"]
        | None
    ) = None
    sla: str | None = None
    expected_volume: str | None = None
    warehouse: Warehouse | None = None
    tags: list[str] = []
    rules: list[RuleSpec] = []
    dedupe: DedupeSpec | None = None
    redirect: Redirect | None = None
    segment: Segment | None = None
    cloudevents_type: str | None = None  # the CloudEvents `type` whose data this contract governs


@dataclass(frozen=True, slots=True)
class Version:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        m = VERSION.match(text)
        if m is None:
            raise ValueError(f"{text!r} is not a semantic version MAJOR.MINOR.PATCH")
        return cls(int(m[1]), int(m[2]), int(m[3]))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True, slots=True)
class Contract:
    namespace: str
    name: str
    version: Version
    file: str
    schema: dict[str, Any]
    meta: ContractMeta
    compiled: Compiled = field(repr=False)
    pii: tuple[PiiField, ...] = ()
    rules: tuple[Rule, ...] = ()
    root: Path | None = None  # the schemas tree its `$ref`s may reach
    # derived once here, read on every event
    ref: str = field(init=False)
    version_str: str = field(init=False)
    topic: str = field(init=False)
    schema_header: bytes = field(init=False, repr=False)  # `ref` as a record header, and the fingerprint's prefix
    accepted_key: tuple[str, str, str, str, str] = field(init=False, repr=False)  # its accepted events' tally key

    def __post_init__(self) -> None:
        version = str(self.version)
        default_topic = f"events.{self.namespace}.{self.name}.v{self.version.major}"
        object.__setattr__(self, "version_str", version)
        object.__setattr__(self, "ref", f"{self.namespace}/{self.name}/{version}")
        object.__setattr__(self, "topic", self.meta.topic or default_topic)
        object.__setattr__(self, "schema_header", self.ref.encode())
        object.__setattr__(self, "accepted_key", (self.namespace, self.name, version, "accepted", ""))

    def inlined(self) -> dict[str, Any]:
        """The schema with every `$ref` replaced by its target (recursive ones kept), for tools
        that read fields (exports, docs) rather than validate."""
        inlined: dict[str, Any] = SchemaTree(self.root).inline(self.schema, self.file)
        return inlined

    @property
    def dlq_topic(self) -> str:
        return self.meta.dlq_topic

    def redirected(self, data: Any) -> bool:
        """Whether an event's data carries a field that sends it to the restricted topics."""
        r = self.meta.redirect
        return r is not None and isinstance(data, dict) and any(data.get(f) is not None for f in r.when)


class Registry:
    """All loaded contracts, addressable by exact and major-only reference."""

    def __init__(self, contracts: list[Contract]) -> None:
        self.contracts = sorted(
            contracts, key=lambda c: (c.namespace, c.name, c.version.major, c.version.minor, c.version.patch)
        )
        self._by_ref: dict[str, Contract] = {}
        self._line_pii: dict[tuple[str, str], tuple[PiiField, ...]] = {}
        for c in self.contracts:
            line = (c.namespace, c.name)
            self._line_pii[line] = tuple(dict.fromkeys(self._line_pii.get(line, ()) + c.pii))
            self._by_ref[c.ref] = c
            self._by_ref[f"{c.namespace}/{c.name}/{c.version.major}"] = c  # sorted: newest wins
        self.has_pii = any(c.pii for c in self.contracts)

    def get(self, ref: str) -> Contract | None:
        return self._by_ref.get(ref)

    def pii_for(self, ref: str) -> tuple[PiiField, ...]:
        """PII paths for a reference, even an unloaded version: every path any version of that
        contract line tags, so a rejected event never leaks a field its contract protects."""
        contract = self._by_ref.get(ref)
        if contract is not None:
            return contract.pii
        parts = parse_reference(ref)
        if parts is None:
            return ()
        return self._line_pii.get((parts[0], parts[1]), ())

    def knows_line(self, ref: str) -> bool:
        """Whether some version of the reference's contract line (namespace/name) is loaded."""
        parts = parse_reference(ref)
        return parts is not None and (parts[0], parts[1]) in self._line_pii

    def __iter__(self) -> Iterator[Contract]:
        return iter(self.contracts)

    def __len__(self) -> int:
        return len(self.contracts)

    def topics(self) -> dict[str, int]:
        """Every topic the contracts write to, with the partition count it needs."""
        out: dict[str, int] = {}
        for c in self.contracts:
            out[c.topic] = max(out.get(c.topic, 1), c.meta.partitions)
            out.setdefault(c.dlq_topic, 1)
            if c.meta.dedupe is not None and c.meta.dedupe.topic:
                out.setdefault(c.meta.dedupe.topic, 1)
            if c.meta.redirect is not None:
                out[c.meta.redirect.topic] = max(out.get(c.meta.redirect.topic, 1), c.meta.partitions)
                out.setdefault(c.meta.redirect.dlq_topic or c.dlq_topic, 1)
        return out


def load_registry(root: Path) -> Registry:
    """Load and compile every contract under `root`; raise on the first bad one."""
    if not root.is_dir():
        raise ContractLoadError(f"{root}: schemas directory does not exist (set --schemas DIR)")
    files = sorted(
        p
        for p in root.rglob("*")
        if p.suffix in (".json", ".yaml", ".yml")
        and p.is_file()
        and not p.relative_to(root).parts[0].startswith(SHARED_PREFIX)
    )
    contracts = [load_contract(p, root) for p in files]
    _check_claims(contracts)
    return Registry(contracts)


def _check_claims(contracts: list[Contract]) -> None:
    """One contract line per Segment call and per CloudEvents type: which contract governs an
    event must never depend on load order."""
    claims: dict[object, Contract] = {}
    for c in contracts:
        keys: list[tuple[str, object]] = []
        if c.meta.segment is not None:
            keys.append(("x-contract.segment", (c.meta.segment.type, c.meta.segment.event)))
        if c.meta.cloudevents_type is not None:
            keys.append(("x-contract.cloudevents_type", c.meta.cloudevents_type))
        for key in keys:
            other = claims.setdefault(key, c)
            if (other.namespace, other.name) != (c.namespace, c.name):
                raise ContractLoadError(
                    f"{c.file}: {key[0]} {key[1]!r} is claimed by {other.namespace}/{other.name} too; "
                    "give each Segment call or CloudEvents type to one contract line"
                )


def load_contract(path: Path, root: Path) -> Contract:
    rel = path.relative_to(root)
    file = str(path)
    if len(rel.parts) != 3:
        raise ContractLoadError(
            f"{file}: contracts live at <namespace>/<name>/<version>.json, got {rel} "
            f"(shared definitions go under {SHARED_PREFIX}shared/)"
        )
    namespace, name, stem = rel.parts[0], rel.parts[1], path.stem
    if not NAMESPACE.match(namespace):
        raise ContractLoadError(f"{file}: namespace {namespace!r} must be reverse-DNS, e.g. com.acme.shop")
    if not NAME.match(name):
        raise ContractLoadError(f"{file}: name {name!r} must be snake_case, e.g. page_view")
    try:
        version = Version.parse(stem)
    except ValueError as exc:
        raise ContractLoadError(f"{file}: file name: {exc}") from None
    return build_contract(namespace, name, version, read_document(path), file, root)


def build_contract(
    namespace: str, name: str, version: Version, schema: dict[str, Any], file: str, root: Path | None = None
) -> Contract:
    """Check the metadata, compile the schema and collect PII paths of one contract."""
    meta = _meta(schema, file)
    try:
        compiled = compile_schema(schema, file, root=root, load=read_document)
    except SchemaError as exc:
        raise ContractLoadError(str(exc)) from None
    pii = tuple(pii_fields(schema, file, root))
    rules = _rules(meta, schema, file)
    return Contract(namespace, name, version, file, schema, meta, compiled, pii, rules, root)


def _check_dedupe(spec: DedupeSpec, schema: dict[str, Any], file: str) -> None:
    try:
        parse_window(spec.window)
    except ValueError as exc:
        raise ContractLoadError(f"{file}: x-contract.dedupe: {exc}") from None
    if isinstance(spec.by, list):
        missing = [f for f in spec.by if f not in schema.get("properties", {})]
        if not spec.by or missing:
            raise ContractLoadError(f"{file}: x-contract.dedupe.by names fields the contract lacks: {missing or '[]'}")


def _rules(meta: ContractMeta, schema: dict[str, Any], file: str) -> tuple[Rule, ...]:
    names = [spec.name for spec in meta.rules]
    if len(set(names)) != len(names):
        raise ContractLoadError(f"{file}: x-contract.rules: rule names must be unique, got {names}")
    try:
        return RuleSet(compile_rule(spec, schema) for spec in meta.rules)
    except RuleError as exc:
        raise ContractLoadError(f"{file}: x-contract.rules: {exc}") from None


def _meta(schema: dict[str, Any], file: str) -> ContractMeta:
    if "x-contract" not in schema:
        raise ContractLoadError(f"{file}: missing `x-contract` (owner, topic, ...); see README 'Contracts'")
    try:
        meta = msgspec.convert(schema["x-contract"], ContractMeta)
    except msgspec.ValidationError as exc:
        raise ContractLoadError(f"{file}: x-contract: {exc}") from None
    if meta.dedupe is not None:
        _check_dedupe(meta.dedupe, schema, file)
    if meta.redirect is not None:
        missing = [f for f in meta.redirect.when if f not in schema.get("properties", {})]
        if not meta.redirect.when or missing:
            raise ContractLoadError(
                f"{file}: x-contract.redirect.when names top-level fields the contract lacks: {missing or '[]'}"
            )
    if meta.partitions < 1:
        raise ContractLoadError(f"{file}: x-contract.partitions must be >= 1")
    if meta.partition_key is not None and meta.partition_key not in schema.get("properties", {}):
        raise ContractLoadError(f"{file}: x-contract.partition_key {meta.partition_key!r} is not a top-level property")
    return meta


def parse_reference(ref: str) -> tuple[str, str, str] | None:
    m = REFERENCE.match(ref)
    return (m["namespace"], m["name"], m["version"]) if m else None
