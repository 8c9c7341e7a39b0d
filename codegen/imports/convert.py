"""Source schema bodies → contract bodies: the schema kept as is, plus provenance and an owner stub.

Iglu schemas declare Iglu's self-describing meta-schema as `$schema`; the JSON Schema under it
is draft 4, so the contract names draft 4 and keeps the original in `x-iglu` (the `self`
block stays too: unknown keywords are annotations).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

DRAFT4 = "http://json-schema.org/draft-04/schema#"
IGLU_META = "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#"
_IGLU_META = re.compile(
    r"^https?://iglucentral\.com/schemas/com\.snowplowanalytics\.self-desc/schema/jsonschema/1-0-0#?$"
)
_IGLU_VERSION = re.compile(r"^(\d+)-(\d+)-(\d+)$")
_REMOTE = re.compile(r"^https?://", re.IGNORECASE)
_OLD_DRAFT = re.compile(r"json-schema\.org/draft-0[4-7]/")
STUB: dict[str, Any] = {"owner": {"name": "TODO", "email": "todo@example.com"}, "status": "draft"}

# Keywords whose value maps names to subschemas (a property called `$ref` is not a reference),
# and keywords whose value is instance data or an annotation, never a schema.
_NAME_MAPS = frozenset({"properties", "patternProperties", "definitions", "$defs", "dependentSchemas", "dependencies"})
_NOT_SCHEMAS = frozenset({"enum", "const", "default", "examples", "self"})


@dataclass(frozen=True, slots=True)
class IgluKey:
    """`iglu:<vendor>/<name>/<format>/<M-R-A>`, as an Iglu repository's path spells it."""

    vendor: str
    name: str
    format: str
    version: str

    @property
    def uri(self) -> str:
        return f"iglu:{self.vendor}/{self.name}/{self.format}/{self.version}"

    def contract_version(self) -> str | None:
        """`1-0-2` → `1.0.2`, or None when the version is not Iglu's SchemaVer."""
        m = _IGLU_VERSION.match(self.version)
        return None if m is None else ".".join(str(int(part)) for part in m.groups())


def is_iglu_meta(schema_uri: object) -> bool:
    return isinstance(schema_uri, str) and _IGLU_META.match(schema_uri) is not None


def from_iglu(body: dict[str, Any], key: IgluKey) -> dict[str, Any]:
    """The contract for an Iglu schema: draft 4 named, `x-iglu` provenance, an `x-contract` stub."""
    original = body.get("$schema")
    iglu: dict[str, Any] = {"uri": key.uri}
    if original is not None:
        iglu["schema"] = original
    declared = DRAFT4 if original is None or is_iglu_meta(original) else original
    return _with_stub({"$schema": declared, **_without(body, "$schema", "x-iglu"), "x-iglu": iglu})


def from_jsonschema(body: dict[str, Any]) -> dict[str, Any]:
    """The contract for any JSON Schema: its `$schema` kept (none means 2020-12), an `x-contract` stub.

    An Iglu self-describing schema imported this way still gets draft 4 named, since Charter
    cannot resolve Iglu's meta-schema."""
    original = body.get("$schema")
    if not is_iglu_meta(original):
        return _with_stub(dict(body))
    return _with_stub({"$schema": DRAFT4, **_without(body, "$schema", "x-iglu"), "x-iglu": {"schema": original}})


def self_mismatch(body: dict[str, Any], key: IgluKey) -> str | None:
    """Why the schema's `self` block disagrees with its path, or None when they agree."""
    described = body.get("self")
    if not isinstance(described, dict):
        return "no `self` block: not an Iglu self-describing schema"
    claimed = IgluKey(*(str(described.get(k)) for k in ("vendor", "name", "format", "version")))
    if claimed == key:
        return None
    return f"`self` says {claimed.uri} but the path says {key.uri}; Iglu resolves schemas by path, so fix one of them"


def remote_refs(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """Every `$ref` that resolves to an http(s) document, as (schema path, reference resolved
    against the `$id`s above it), to say why the loader refused a contract."""
    old_draft = _OLD_DRAFT.search(str(schema.get("$schema", ""))) is not None
    return list(_refs(schema, "$", "", old_draft))


def _refs(node: Any, path: str, base: str, old_draft: bool) -> Iterator[tuple[str, str]]:
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _refs(item, f"{path}[{i}]", base, old_draft)
        return
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    declared = node.get("$id", node.get("id") if old_draft else None)  # `id` is draft 4's spelling
    # drafts 4 to 7 ignore every keyword beside `$ref`, `$id` included
    if isinstance(declared, str) and not (old_draft and isinstance(ref, str)):
        base = urljoin(base, declared)
    if isinstance(ref, str) and not ref.startswith("#") and _REMOTE.match(urljoin(base, ref)):
        yield path, urljoin(base, ref)
    for key, value in node.items():
        if key in _NOT_SCHEMAS or key.startswith("x-"):
            continue
        if key in _NAME_MAPS and isinstance(value, dict):
            for name, sub in value.items():
                yield from _refs(sub, f"{path}.{key}.{name}", base, old_draft)
        else:
            yield from _refs(value, f"{path}.{key}", base, old_draft)


def _without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def _with_stub(body: dict[str, Any]) -> dict[str, Any]:
    """The owner placeholder goes last, where a reviewer looks for what to fill in."""
    if "x-contract" not in body:
        body["x-contract"] = copy.deepcopy(STUB)
    return body
