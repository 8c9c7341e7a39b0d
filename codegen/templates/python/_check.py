"""The local contract check: an event's data against its contract, with the collector's own engine.

Each contract is embedded in this package (`contracts/`: the newest version of each major, as
the collector loads it, and every file it references) and compiled on first use with jsonschema-rs,
the collector's engine, at the same version and with the same options: every keyword of drafts
4 to 2020-12, formats asserted, ECMA-262 regular expressions. An event this check accepts is
therefore never rejected by the collector for a schema reason.

The contract's rules (`x-contract.rules`, CEL) are checked here too when the package's `rules`
extra (cel-expr-python, the collector's CEL engine) is installed, except rules that read `sent_at`
(see `_rules`). What only the collector checks: those rules without the extra, deduplication, and
contract versions newer than the embedded ones. An event that breaks those comes back in a 207
and reaches `on_failure` as `rejected`, and the message says so.
"""

from __future__ import annotations

import itertools
import math
import re
from decimal import Decimal
from importlib.resources import files
from typing import Any
from urllib.parse import unquote

import jsonschema_rs
import msgspec

from ._rules import Rule, broken, compile_rules

BASE = "file:///charter-schemas/"  # the embedded documents' URIs: relative `$ref`s resolve as in the schemas tree
MAX_REASONS = 5
# The collector's options (collector/schema.py): a pathological pattern fails the event, not the process.
_PATTERNS = jsonschema_rs.FancyRegexOptions(backtrack_limit=100_000)
# as the collector does (collector/schema.py): host names and e-mail domains judged with A-Z
# lowered, since jsonschema-rs 0.61.2 reads the IDNA prefix `xn--` as case-sensitive
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_HOSTNAME = jsonschema_rs.validator_for({"format": "hostname"}, validate_formats=True)
_EMAIL = jsonschema_rs.validator_for({"format": "email"}, validate_formats=True)
_FORMATS = {
    "hostname": lambda text: _HOSTNAME.is_valid(text.translate(_ASCII_LOWER)),
    "email": lambda text: _EMAIL.is_valid(text.translate(_ASCII_LOWER)),
}
_ROOT = files(__name__.rpartition(".")[0]).joinpath("contracts")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_exact = msgspec.json.Decoder(float_hook=Decimal)


class Contract(msgspec.Struct, frozen=True):
    """An entry of `contracts/index.json`: the file a contract major is checked against."""

    file: str
    version: str
    rules: tuple[str, ...] = ()


_index: dict[str, Contract] = {}
_validators: dict[str, tuple[jsonschema_rs.Validator, tuple[Rule, ...]]] = {}


def contract(schema: str) -> Contract | None:
    """The embedded contract of a major-only reference (`com.acme.shop/payment/1`), if any."""
    if not _index:
        raw = _ROOT.joinpath("index.json").read_bytes()
        _index.update(msgspec.json.decode(raw, type=dict[str, Contract]))
    return _index.get(schema)


def check(schema: str, data: bytes) -> str | None:
    """None when `data` (an event's `data`, as JSON) satisfies its contract; else why not.

    The message names paths, keywords and the contract's limits, never the event's values (they
    may be personal data).
    """
    compiled = _validators.get(schema)
    if compiled is None:
        compiled = _compile(schema)
    if compiled is None:
        return f"no contract {schema!r} is embedded in this SDK; regenerate it from the collector's contracts"
    validator, rules = compiled
    try:
        value, judged = _decode(data)
        if validator.is_valid(judged):
            return "; ".join(broken(rules, value, _exact_reference(schema))) or None
        reasons = [_reason(error) for error in itertools.islice(validator.iter_errors(judged), MAX_REASONS + 1)]
    except Exception as exc:  # the collector records such an event as an internal error: do not send it
        return f"the contract check failed on this event ({type(exc).__name__})"
    more = "; and more" if len(reasons) > MAX_REASONS else ""
    return "; ".join(reasons[:MAX_REASONS]) + more


def _compile(schema: str) -> tuple[jsonschema_rs.Validator, tuple[Rule, ...]] | None:
    found = contract(schema)
    if found is None:
        return None
    document = _load(found.file)
    validator = jsonschema_rs.validator_for(
        document,
        validate_formats=True,
        formats=_FORMATS,
        retriever=_retrieve,
        base_uri=BASE + found.file,
        pattern_options=_PATTERNS,
    )
    compiled = _validators[schema] = validator, compile_rules(document)
    return compiled


def _decode(data: bytes) -> tuple[Any, Any]:
    """The data as the collector decodes it, and as it validates it (collector/pipeline.py): a number
    whose text a double may not hold exactly (an exponent, or more than 16 characters) makes it
    judge the data with its numbers as the decimals sent (`1e23` is a multiple of 10); a number
    beyond the float range is refused."""
    lossy: list[str] = []

    def number(text: str) -> float:
        value = float(text)
        if math.isinf(value):
            raise ValueError("a number beyond the float range")
        if len(text) > 16 or "e" in text or "E" in text:
            lossy.append(text)
        return value

    value = msgspec.json.Decoder(float_hook=number).decode(data)
    return value, (_exact.decode(data) if lossy else value)


def _exact_reference(schema: str) -> str:
    """The exact reference the collector resolves `ns/name/<major>` to (what a rule sees as `schema`)."""
    found = contract(schema)
    return schema.rsplit("/", 1)[0] + "/" + found.version if found else schema


def _load(path: str) -> Any:
    return msgspec.json.decode(_ROOT.joinpath(*path.split("/")).read_bytes())


def _retrieve(uri: str) -> Any:
    """A shared definition file or another contract the contract references: embedded, never fetched."""
    if not uri.startswith(BASE):
        raise ValueError(f"{uri} is not embedded in this SDK")
    return _load(unquote(uri.removeprefix(BASE)))


def _reason(error: jsonschema_rs.ValidationError) -> str:
    kind: Any = error.kind
    at, name = list(error.instance_path), kind.name
    keyword = next((p for p in reversed(error.schema_path) if isinstance(p, str)), name)
    if name == "required":
        return f"{_path([*at, kind.property])}: required property is missing"
    if name in ("additionalProperties", "unevaluatedProperties"):
        return "; ".join(f"{_path([*at, p])}: property not allowed (`{name}`)" for p in kind.unexpected)
    if name == "oneOf":  # one kind name for two failures; the kind's class tells them apart
        name = type(kind).__name__
    return f"{_path(at)}: {_EXPLAIN.get(name, lambda k: f'does not satisfy `{keyword}`')(kind)}"


_EXPLAIN: dict[str, Any] = {
    "type": lambda k: f"expected {' or '.join(k.types)}",
    "enum": lambda k: f"must be one of {_show(k.options)}",
    "const": lambda k: f"must be {_show(k.expected_value)}",
    "minimum": lambda k: f"must be >= {_show(k.limit)}",
    "maximum": lambda k: f"must be <= {_show(k.limit)}",
    "exclusiveMinimum": lambda k: f"must be > {_show(k.limit)}",
    "exclusiveMaximum": lambda k: f"must be < {_show(k.limit)}",
    "multipleOf": lambda k: f"must be a multiple of {_show(k.multiple_of)}",
    "minLength": lambda k: f"must be at least {k.limit} characters long",
    "maxLength": lambda k: f"must be at most {k.limit} characters long",
    "minItems": lambda k: f"must have at least {k.limit} items",
    "maxItems": lambda k: f"must have at most {k.limit} items",
    "uniqueItems": lambda k: "items must be unique",
    "pattern": lambda k: f"must match the pattern {_show(k.pattern)}",
    "format": lambda k: f"must be a valid {k.format}",
    "anyOf": lambda k: "must match at least one schema in `anyOf`",
    "OneOfNotValid": lambda k: "must match exactly one schema in `oneOf`, matches none",
    "OneOfMultipleValid": lambda k: "must match exactly one schema in `oneOf`, matches more than one",
    "not": lambda k: "must not match the schema in `not`",
    "falseSchema": lambda k: "no value is allowed here (the schema is `false`)",
}


def _show(value: Any, limit: int = 120) -> str:
    """A value of the contract (never of the event) for a message, cut short."""
    text = msgspec.json.encode(value).decode()
    return text if len(text) <= limit else text[:limit] + "…"


def _path(parts: list[str | int]) -> str:
    """`$.items[2].price`, as the collector names paths; a name that is not an identifier is quoted."""
    out = ["$"]
    for p in parts:
        if isinstance(p, int):
            out.append(f"[{p}]")
        else:
            out.append(f".{p}" if _IDENTIFIER.match(p) else f"[{msgspec.json.encode(p).decode()}]")
    return "".join(out)
