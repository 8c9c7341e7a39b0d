"""Compile a contract's JSON Schema into a spec-complete validator (jsonschema-rs).

Validation is exactly JSON Schema's: draft 2020-12 unless `$schema` names 2019-09, 7, 6 or 4;
every keyword of those drafts; unknown keywords are annotations; the formats in `FORMATS` are
assertions; `pattern` is ECMA-262. References resolve inside the contract, to shared files in
the schemas tree (`_shared/…`) and to other contracts by relative path. Nothing is fetched over
the network: a remote `$ref` is refused here, at load, naming the file, the path and the reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urldefrag, urljoin, urlparse

import jsonschema_rs

# `$schema` values Charter knows, by the draft they select (trailing `#` and http/https ignored).
DRAFTS: dict[str, int] = {
    "json-schema.org/draft/2020-12/schema": jsonschema_rs.Draft202012,
    "json-schema.org/draft/2019-09/schema": jsonschema_rs.Draft201909,
    "json-schema.org/draft-07/schema": jsonschema_rs.Draft7,
    "json-schema.org/draft-06/schema": jsonschema_rs.Draft6,
    "json-schema.org/draft-04/schema": jsonschema_rs.Draft4,
}
DRAFT_NAMES = {
    jsonschema_rs.Draft202012: "2020-12",
    jsonschema_rs.Draft201909: "2019-09",
    jsonschema_rs.Draft7: "7",
    jsonschema_rs.Draft6: "6",
    jsonschema_rs.Draft4: "4",
}
# Formats Charter asserts (the spec lets an implementation assert them; a contract that names
# one means it). Others (e.g. `iri`, `json-pointer`) are asserted too where jsonschema-rs knows
# them; unknown format names are annotations.
FORMATS = (
    "date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname",
    "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uuid", "regex",
    "json-pointer", "relative-json-pointer", "uri-template",
)  # fmt: skip
ANNOTATIONS = frozenset(
    {"$schema", "$id", "id", "$comment", "$anchor", "$dynamicAnchor", "$recursiveAnchor", "$vocabulary",
     "title", "description", "examples", "default", "deprecated", "readOnly", "writeOnly",
     "contentEncoding", "contentMediaType", "contentSchema", "$defs", "definitions"}
)  # fmt: skip
ASSERTIONS = frozenset(
    {"type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
     "maxLength", "minLength", "pattern", "format", "maxItems", "minItems", "uniqueItems", "maxContains",
     "minContains", "maxProperties", "minProperties", "required", "dependentRequired", "dependencies",
     "$ref", "$dynamicRef", "$recursiveRef", "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
     "dependentSchemas", "prefixItems", "items", "additionalItems", "contains", "properties",
     "patternProperties", "additionalProperties", "propertyNames", "unevaluatedItems",
     "unevaluatedProperties"}
)  # fmt: skip
KEYWORDS = ANNOTATIONS | ASSERTIONS  # every keyword of drafts 4, 6, 7, 2019-09 and 2020-12
_REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
_URI_SAFE = ":/?#[]@!$&'()*+,;=-._~%"  # RFC 3986 reserved and unreserved characters, and escapes
# A pathological pattern stops at this many backtracking steps and fails the event, not the process.
_PATTERNS = jsonschema_rs.FancyRegexOptions(backtrack_limit=100_000)

Loader = Callable[[Path], Any]

# jsonschema-rs 0.61.2 reads the IDNA prefix `xn--` as case-sensitive in `hostname` and in e-mail
# domains (`XN--nxasmq6b` is refused), though host names are case-insensitive (RFC 4343, RFC 5891
# 5.3): those two formats are judged on the text with A-Z lowered (ASCII only: lowering `\u212a`
# would make the Kelvin sign a `k`).
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_HOSTNAME = jsonschema_rs.validator_for({"format": "hostname"}, validate_formats=True)
_EMAIL = jsonschema_rs.validator_for({"format": "email"}, validate_formats=True)
_FORMATS: dict[str, Callable[[str], bool]] = {
    "hostname": lambda text: _HOSTNAME.is_valid(text.translate(_ASCII_LOWER)),
    "email": lambda text: _EMAIL.is_valid(text.translate(_ASCII_LOWER)),
}


class SchemaError(Exception):
    """A contract the compiler refuses; the message names file, path and keyword."""

    def __init__(self, file: str, path: str, keyword: str, message: str) -> None:
        self.file, self.path, self.keyword = file, path, keyword
        super().__init__(f"{file}: {path}: `{keyword}`: {message}")


class _MultipleOf:
    """`multipleOf` for the fast validator, in exact integer arithmetic.

    jsonschema-rs judges a fraction like `123.45` against `0.01` exactly too, but through a
    big-fraction fallback that costs microseconds per value. This check says "valid" only when it is
    certain; anything else fails the fast validator, and the exact validator decides.

    With the divisor `a * 10^-k`, a float `x` is the decimal `n * 10^-k` (n = round(x * 10^k)) when
    |n| < 10^15 and n / 10^k is exactly `x` again: two decimals of at most 15 significant digits
    never round to the same double, and every number the pipeline did not decode as a decimal has
    at most 15 (more, or an exponent, and it is judged as the decimal sent, by the exact validator).
    """

    def __init__(self, parent_schema: Any, value: Any, schema_path: Any) -> None:
        _, digits, exponent = Decimal(repr(value)).as_tuple()
        assert isinstance(exponent, int)  # a finite divisor: the exact validator refused any other schema
        self.a = int("".join(map(str, digits))) * 10 ** max(exponent, 0)
        self.k = max(-exponent, 0)
        self.scale = float(10**self.k) if self.k <= 22 else 0.0  # 10^k is an exact double up to 10^22

    def validate(self, instance: Any) -> None:
        kind = type(instance)
        if kind is float and self.scale:
            scaled = instance * self.scale
            n = round(scaled) if -1e15 < scaled < 1e15 else 0  # (inf and nan fail both comparisons)
            certain = -1e15 < scaled < 1e15 and n / self.scale == instance
        elif kind is int:
            n, certain = instance * 10**self.k, True
        elif kind in _NOT_NUMBERS:
            return
        else:  # a Decimal, a huge or tiny float: the exact validator judges
            certain = False
        if not certain or n % self.a:
            raise ValueError("not a multiple, or not certain")


_NOT_NUMBERS = frozenset({str, bool, list, dict, type(None)})
_FAST_KEYWORDS: dict[str, Any] = {"multipleOf": _MultipleOf}


@dataclass(frozen=True, slots=True)
class Compiled:
    validator: jsonschema_rs.Validator  # the exact one: its verdicts and errors are the contract's
    draft: int
    # `is_valid` only, and only ever trusted when it says valid (never more permissive than
    # `validator`): jsonschema-rs's own formats (no Python call per host name or e-mail) and
    # `_MultipleOf`. The same object as `validator` when the schema has nothing it speeds up.
    fast: jsonschema_rs.Validator

    @property
    def draft_name(self) -> str:
        return DRAFT_NAMES[self.draft]


def draft_of(schema: Any, file: str) -> int:
    """The draft a schema's `$schema` selects (2020-12 when absent); refuse any other `$schema`."""
    uri = schema.get("$schema") if isinstance(schema, dict) else None
    if uri is None:
        return jsonschema_rs.Draft202012
    key = uri.split("://", 1)[-1].rstrip("#") if isinstance(uri, str) else None
    if key not in DRAFTS:
        known = ", ".join(f"https://{k}" for k in DRAFTS)
        raise SchemaError(
            file, "$.$schema", "$schema", f"{uri!r} is not a JSON Schema draft Charter knows; use {known}"
        )
    return DRAFTS[key]


def compile_schema(schema: Any, file: str, *, root: Path | None = None, load: Loader | None = None) -> Compiled:
    """Compile a schema (a contract's, or any). `root` is the schemas tree that relative `$ref`s
    may reach (with `load` reading a file there); without it only in-document references work."""
    draft = draft_of(schema, file)
    schema = _uri_safe_refs(schema)
    base = Path(file).resolve().as_uri() if root is not None else None
    refused: list[str] = []
    documents: list[Any] = [schema]  # the schema and every document its references load
    retrieve = _retriever(root, load, refused, documents)
    try:
        validator = jsonschema_rs.validator_for(
            schema,
            validate_formats=True,
            formats=_FORMATS,
            retriever=retrieve,
            base_uri=base,
            pattern_options=_PATTERNS,
        )
    except jsonschema_rs.ValidationError as exc:
        if refused:
            raise _remote(schema, file, base, refused[0]) from None
        path = _json_path(exc.instance_path)  # where in the contract: the meta-schema validated it
        keyword = next((p for p in reversed(exc.instance_path) if isinstance(p, str)), exc.kind.name)
        raise SchemaError(file, path, keyword, f"not a valid JSON Schema ({exc.kind.name}): {exc.message}") from None
    except (ValueError, TypeError) as exc:  # a pattern that does not compile, an unusable value
        if refused:
            raise _remote(schema, file, base, refused[0]) from None
        raise SchemaError(file, "$", "schema", str(exc)) from None
    return Compiled(validator, draft, _fast(schema, documents, retrieve, base) or validator)


def _fast(
    schema: Any, documents: list[Any], retrieve: Callable[[str], Any], base: str | None
) -> jsonschema_rs.Validator | None:
    """The fast twin of a validator, when it has a `multipleOf` or a format callback to speed up.

    The twin accepts a subset of what the exact validator accepts, as long as every keyword above
    them is monotone: its `multipleOf` fails what it is not certain of, and jsonschema-rs's own
    `hostname` and `email` formats refuse an upper-case `XN--` that Charter's accept. Under `not`,
    an `if`, a `oneOf` or a `maxContains` count, refusing more could accept more: a schema (or a
    document it references) with one of those gets no twin.
    """
    text = json.dumps(documents, default=str)  # (a YAML date is text here: only keywords are looked for)
    if "multipleOf" not in text and '"format"' not in text:
        return None
    if any(f'"{keyword}": ' in text for keyword in _NOT_MONOTONE):
        return None
    return jsonschema_rs.validator_for(
        schema, validate_formats=True, retriever=retrieve, base_uri=base, pattern_options=_PATTERNS,
        keywords=_FAST_KEYWORDS,
    )  # fmt: skip


_NOT_MONOTONE = ("not", "if", "oneOf", "maxContains")


def _uri_safe_refs(node: Any) -> Any:
    """The schema with characters a URI may not hold (`<`, `>`, spaces, non-ASCII) percent-encoded in
    its references — `#/definitions/Spec<T>` is a valid JSON pointer but not a valid URI, and the
    validator resolves URIs. A schema that needs no change is returned as it is, not copied."""
    if isinstance(node, dict):
        out = {}
        changed = False
        for key, value in node.items():
            new = quote(value, safe=_URI_SAFE) if key in _REF_KEYWORDS and isinstance(value, str) else value
            new = _uri_safe_refs(new) if new is value else new
            changed |= new is not value
            out[key] = new
        return out if changed else node
    if isinstance(node, list):
        items = [_uri_safe_refs(v) for v in node]
        return items if any(a is not b for a, b in zip(items, node, strict=True)) else node
    return node


def _retriever(
    root: Path | None, load: Loader | None, refused: list[str], documents: list[Any]
) -> Callable[[str], Any]:
    def retrieve(uri: str) -> Any:
        target = _local_file(uri, root)
        if target is None or load is None:
            refused.append(uri)
            raise ValueError(f"{uri} is not a file in the schemas tree")
        document = load(target)
        documents.append(document)
        return document

    return retrieve


def _local_file(uri: str, root: Path | None) -> Path | None:
    parsed = urlparse(uri)
    if root is None or parsed.scheme != "file":
        return None
    path = Path(unquote(parsed.path)).resolve()
    root = root.resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def _remote(schema: Any, file: str, base: str | None, uri: str) -> SchemaError:
    """Name the `$ref` that points outside the schemas tree."""
    for path, ref in _refs(schema, "$"):
        target, file_part = urldefrag(urljoin(base or "", ref))[0], ref.split("#", 1)[0]
        if target == uri or (file_part and uri.endswith(file_part)):
            where, value = path, ref
            break
    else:
        where, value = "$", uri
    if urlparse(uri).scheme in ("http", "https"):
        reason = "remote references are refused: Charter never fetches schemas over the network"
    else:
        reason = "it names no file inside the schemas directory"
    fix = "copy the schema into schemas/_shared/ and reference it by relative path"
    return SchemaError(file, where, "$ref", f"cannot resolve {value!r}: {reason}; {fix}")


def _refs(node: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _REF_KEYWORDS and isinstance(value, str):
                yield f"{path}.{key}", value
            elif not key.startswith("x-"):
                yield from _refs(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _refs(value, f"{path}[{i}]")


def _json_path(parts: list[str | int]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
