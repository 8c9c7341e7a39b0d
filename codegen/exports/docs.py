"""A static HTML catalog of the contracts: one page, a stylesheet and a small search script.

No build step and no fetch: everything is in `index.html`, so the catalog works from
`file://` as well as from any static web server. The search box filters contracts by name,
namespace, title, owner, tag, topic or field name (`search.js`, plain DOM).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from codegen.exports.changelog import Entry, changelog
from codegen.exports.fields import Field, walk
from codegen.exports.warehouse import table
from codegen.model import Line, lines
from collector import __version__
from collector.contracts import Contract, Registry

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "docs"
STATIC = ("style.css", "search.js")
_CODE = re.compile(r"`([^`]+)`")


@dataclass(frozen=True, slots=True)
class Major:
    line: Line
    fields: list[Field]
    warehouse: str


@dataclass(frozen=True, slots=True)
class Page:
    """One contract (namespace/name) with every major and version."""

    contract: Contract  # the newest version of all
    majors: list[Major]
    versions: list[Contract]
    changelog: list[Entry]

    @property
    def anchor(self) -> str:
        return f"{self.contract.namespace}/{self.contract.name}"

    @property
    def search_text(self) -> str:
        c = self.contract
        words = [c.namespace, c.name, c.schema.get("title", ""), c.meta.owner.name, c.meta.owner.email or ""]
        words += c.meta.tags + [m.line.contract.topic for m in self.majors]
        words += sorted({f.name for m in self.majors for f in m.fields if f.name != "[*]"})
        return " ".join(w for w in words if w).lower()


def render(registry: Registry) -> dict[str, str]:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["constraint"] = constraint_text
    env.filters["prose"] = prose
    pages = _pages(registry)
    html = env.get_template("index.html.j2").render(pages=pages, version=__version__, namespaces=_namespaces(pages))
    out = {"index.html": html}
    for name in STATIC:
        out[name] = (TEMPLATES / name).read_text(encoding="utf-8")
    return out


def _pages(registry: Registry) -> list[Page]:
    grouped: dict[tuple[str, str], list[Line]] = {}
    for line in lines(registry):
        grouped.setdefault((line.namespace, line.name), []).append(line)
    pages = []
    for group in grouped.values():
        versions = [v for line in group for v in line.versions]
        majors = [Major(line, walk(line.contract), _warehouse(line)) for line in reversed(group)]
        pages.append(Page(versions[-1], majors, versions[::-1], changelog(versions)))
    return pages


def _warehouse(line: Line) -> str:
    t = table(line)
    keys = [f"{k} {v}" for k, v in (("dist key", t.dist_key), ("sort key", t.sort_key)) if v]
    return f"{t.schema}.{t.name}" + (f" ({', '.join(keys)})" if keys else "")


def _namespaces(pages: list[Page]) -> list[tuple[str, list[Page]]]:
    out: dict[str, list[Page]] = {}
    for p in pages:
        out.setdefault(p.contract.namespace, []).append(p)
    return list(out.items())


def prose(text: str) -> Markup:
    """Escaped text whose `backticked` spans, as contracts write them, become <code>."""
    return Markup(_CODE.sub(lambda m: f"<code>{m[1]}</code>", str(escape(text))))


def constraint_text(item: tuple[str, Any]) -> str:
    keyword, value = item
    if isinstance(value, bool):
        return keyword if value else f"{keyword}: false"
    return f"{keyword} {value}"
