"""Prove that one version of a contract accepts every event another accepts.

jsonschema-rs reduces a schema to a canonical form that can decide containment:
BACKWARD (consumers on the new version read data written with the old one) holds when the
new schema covers the old one; FORWARD when the old covers the new. Only a `YES` is a proof;
`NO` and `UNKNOWN` (e.g. two different regular expressions) both leave the direction unproven,
and `compat` then reports it as breaking.

Annotations and `x-` keywords are removed first: they never change which events pass.
One assumption is Charter's own (see `compat`): data written with a version carries no field
that version does not declare, even where its object is open. So before comparing, a field the
reader declares and the writer's open object does not is added to the writer as never valid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import jsonschema_rs
import msgspec
from jsonschema_rs import canonical

from codegen.check.constraints import annotation
from codegen.check.walk import rewrite

Loader = Callable[[Path], Any]


@dataclass(frozen=True, slots=True)
class Source:
    """Where a contract file lives, so `$ref`s to shared files in the schemas tree resolve."""

    file: Path
    root: Path
    load: Loader


@dataclass(frozen=True, slots=True)
class Proof:
    backward: bool
    forward: bool
    backward_why: str = ""  # why BACKWARD is not proven
    forward_why: str = ""


def prove(old: Any, new: Any, old_at: Source | None = None, new_at: Source | None = None) -> Proof:
    """Whether `new` accepts all data `old` accepts (backward), and the reverse (forward)."""
    o, n = validation_only(old), validation_only(new)
    if _key(o) == _key(n):  # not `==`: in Python `1 == True`
        return Proof(True, True)
    back, back_why = _covers(n, new_at, assume_declared(o, n), old_at, "old", "new")
    fwd, fwd_why = _covers(o, old_at, assume_declared(n, o), new_at, "new", "old")
    return Proof(back, fwd, back_why, fwd_why)


def validation_only(schema: Any) -> Any:
    """`schema` without annotations, `x-` and unknown keywords."""
    return rewrite(schema, lambda kw: not annotation(kw))


def assume_declared(writer: Any, reader: Any) -> Any:
    """`writer` with each field `reader` declares and `writer`'s open object does not set to `false`."""
    if not isinstance(writer, dict) or not isinstance(reader, dict):
        return writer
    out = dict(writer)
    wp, rp = writer.get("properties"), reader.get("properties")
    if isinstance(wp, dict) and isinstance(rp, dict):
        props = {name: assume_declared(sub, rp.get(name)) for name, sub in wp.items()}
        if _open(writer):
            # `{"not": {}}`, not `false`: draft 4 has no boolean schemas
            props |= {name: {"not": {}} for name in rp if name not in wp}
        out["properties"] = props
    if isinstance(writer.get("items"), dict):
        out["items"] = assume_declared(writer["items"], reader.get("items"))
    for defs in ("$defs", "definitions"):
        wd, rd = writer.get(defs), reader.get(defs)
        if isinstance(wd, dict) and isinstance(rd, dict):
            out[defs] = {name: assume_declared(sub, rd.get(name)) for name, sub in wd.items()}
    return out


def _open(schema: dict[str, Any]) -> bool:
    """An object that takes any undeclared field: no pattern or schema decides what one may be."""
    absent = ("patternProperties", "unevaluatedProperties", "propertyNames")
    return schema.get("additionalProperties", True) is True and not any(k in schema for k in absent)


def _covers(
    reader: Any, reader_at: Source | None, writer: Any, writer_at: Source | None, w: str, r: str
) -> tuple[bool, str]:
    try:
        wide = _canonical(_key(reader), reader_at)
        narrow = _canonical(_key(writer), writer_at)
        answer = wide.covers(narrow)
    except canonical.IncompatibleOperands:
        return False, "the two versions are written in different JSON Schema drafts (`$schema`)"
    except (canonical.CanonicalizationError, jsonschema_rs.ValidationError, ValueError) as exc:
        return False, f"the schema could not be analysed ({_message(exc)})"
    if answer == canonical.Containment.YES:
        return True, ""
    if answer == canonical.Containment.NO:
        return False, f"some data valid under the {w} version is rejected by the {r} version"
    return False, f"it cannot be proven that the {r} version accepts all data valid under the {w} version"


def _key(schema: Any) -> str:
    return msgspec.json.encode(schema, order="sorted").decode()


@lru_cache(maxsize=256)
def _canonical(text: str, at: Source | None) -> jsonschema_rs.CanonicalSchema:
    schema = msgspec.json.decode(text)
    if at is None:
        return jsonschema_rs.canonicalize(schema, validate_formats=True, offline=True)
    base = at.file.resolve().as_uri()
    return jsonschema_rs.canonicalize(schema, validate_formats=True, base_uri=base, retriever=_retriever(at))


def _retriever(at: Source) -> Callable[[str], Any]:
    root = at.root.resolve()

    def retrieve(uri: str) -> Any:
        parsed = urlparse(uri)
        path = Path(unquote(parsed.path)).resolve()
        if parsed.scheme != "file" or not path.is_relative_to(root) or not path.is_file():
            raise ValueError(f"{uri} is not a file in the schemas tree")
        return validation_only(at.load(path))

    return retrieve


def _message(exc: Exception) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return str(text).splitlines()[0] if text else type(exc).__name__
