"""Unknown keywords that look like typos of real ones.

JSON Schema treats an unknown keyword as an annotation, so `maxlength: 10` checks nothing and
every event passes it. That is the spec's rule and the validator follows it; `charter check`
warns when the keyword is probably a misspelt real one: the same word in another case
(`additionalproperties`), or a close match (`requried`, `minimun`). `x-` keywords are the
contract's own and never warned about.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from codegen.check.findings import Keys
from codegen.check.walk import subschemas
from collector.schema import KEYWORDS

_BY_LOWER = {kw.lower(): kw for kw in KEYWORDS}
_CUTOFF = 0.8  # `requried` → `required` (0.88), `minimun` → `minimum` (0.86); `unit` matches nothing


@dataclass(frozen=True, slots=True)
class Typo:
    keyword: str
    meant: str
    keys: Keys  # to the keyword in the document

    @property
    def path(self) -> str:
        return "$" + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in self.keys)


def typos(body: dict[str, Any]) -> Iterator[Typo]:
    """Every likely typo of a keyword in every subschema of `body`."""
    for schema, keys in subschemas(body):
        for kw in schema:
            meant = likely(kw)
            if meant is not None:
                yield Typo(kw, meant, (*keys, kw))


def likely(keyword: str) -> str | None:
    """The real keyword `keyword` probably meant, or None when it is one or resembles none."""
    if keyword in KEYWORDS or keyword.startswith("x-"):
        return None
    lower = keyword.lower()
    if lower in _BY_LOWER:
        return _BY_LOWER[lower]
    close = difflib.get_close_matches(lower, _BY_LOWER, n=1, cutoff=_CUTOFF)
    return _BY_LOWER[close[0]] if close else None
