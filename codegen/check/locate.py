"""Find the line of a key in a contract file, so findings can point at it (GitHub annotations).

JSON is scanned with a small tokenizer (the decoders keep no positions); YAML keeps them in
its node graph. Both give `{("properties", "image"): 31, ...}`: the 1-based line of each key,
and of each array element by index.
"""

from __future__ import annotations

import bisect
import json
import re

import yaml

from codegen.check.findings import Keys

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]|[^\s{}\[\],:"]+')


def index(text: str, yaml_file: bool) -> dict[Keys, int]:
    """Every key path of the document with its line; empty when the text does not parse."""
    try:
        return _yaml_index(text) if yaml_file else _JsonIndex(text).run()
    except (ValueError, IndexError, yaml.YAMLError):
        return {}


def line_of(lines: dict[Keys, int], keys: Keys) -> int | None:
    """The line of `keys`, else of its nearest ancestor that exists."""
    for end in range(len(keys), 0, -1):
        line = lines.get(keys[:end])
        if line is not None:
            return line
    return None


def first_difference(old: bytes, new: bytes) -> int:
    """The 1-based line where two versions of a file first differ."""
    for i, (a, b) in enumerate(zip(old.splitlines(), new.splitlines(), strict=False)):
        if a != b:
            return i + 1
    return min(len(old.splitlines()), len(new.splitlines())) + 1


class _JsonIndex:
    def __init__(self, text: str) -> None:
        self.tokens = [(m.group(), m.start()) for m in _TOKEN.finditer(text)]
        self.starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        self.pos = 0
        self.out: dict[Keys, int] = {}

    def run(self) -> dict[Keys, int]:
        self.value(())
        return self.out

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def take(self) -> str:
        token = self.tokens[self.pos][0]
        self.pos += 1
        return token

    def value(self, keys: Keys) -> None:
        token = self.take()
        if token == "{":
            self.members(keys)
        elif token == "[":
            self.elements(keys)

    def members(self, keys: Keys) -> None:
        while (token := self.take()) != "}":
            if token == ",":
                continue
            if not token.startswith('"') or self.take() != ":":
                raise ValueError("not a JSON object member")
            key = (*keys, _unquote(token))
            self.out[key] = self.line(self.tokens[self.pos - 2][1])
            self.value(key)

    def elements(self, keys: Keys) -> None:
        i = 0
        while self.tokens[self.pos][0] != "]":
            if self.tokens[self.pos][0] == ",":
                self.pos += 1
                continue
            self.out[(*keys, i)] = self.line(self.tokens[self.pos][1])
            self.value((*keys, i))
            i += 1
        self.pos += 1


def _unquote(token: str) -> str:
    value: str = json.loads(token)
    return value


def _yaml_index(text: str) -> dict[Keys, int]:
    out: dict[Keys, int] = {}
    root = yaml.compose(text)
    stack: list[tuple[yaml.Node | None, Keys]] = [(root, ())]
    while stack:
        node, keys = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = (*keys, str(k.value))
                out[key] = k.start_mark.line + 1
                stack.append((v, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                out[(*keys, i)] = v.start_mark.line + 1
                stack.append((v, (*keys, i)))
    return out
