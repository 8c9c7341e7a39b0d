"""The four outputs of `charter check`: text (a terminal), json, github (annotations), markdown.

The json shape is stable: `{"ok", "findings": [{"level", "code", "file", "line", "path",
"message", "contract", "owner"}], "changes": [...], "suggestions": [...]}`; suggestions are
always computed there, the other formats print them with `--suggest-version`.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Sequence

import click

from codegen.check.findings import ChangeEntry, Finding, Result, Suggestion

FORMATS = ("text", "json", "github", "markdown")
_COLOURS = {"error": "red", "warning": "yellow", "info": "cyan"}
_GITHUB = {"error": "error", "warning": "warning", "info": "notice"}
_ICONS = {"error": "❌", "warning": "⚠️", "info": "ℹ️"}  # noqa: RUF001


def render(result: Result, fmt: str, suggest: bool, title: str) -> str:
    renderers: dict[str, Callable[[Result, bool, str], str]] = {
        "text": text,
        "json": as_json,
        "github": github,
        "markdown": markdown,
    }
    return renderers[fmt](result, suggest, title)


def as_json(result: Result, suggest: bool, title: str) -> str:
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"


def text(result: Result, suggest: bool, title: str) -> str:
    out = [click.style(title, bold=True), ""]
    width = max((len(f.code) for f in result.findings), default=0)
    for f in result.findings:
        where = f"{f.file}:{f.line}" if f.line else f.file
        level = click.style(f.level.upper().ljust(8), fg=_COLOURS[f.level], bold=True)
        out.append(f"  {level}{f.code.ljust(width)}  {where}" + (f"  {f.path}" if f.path else ""))
        out += _wrap(f.message, "           ")
    if result.findings:
        out.append("")
    if result.changes:
        out += [click.style("Changes", bold=True), *_table(_change_rows(result.changes)), ""]
    if suggest and result.suggestions:
        out += [click.style("Suggested versions", bold=True), *_table(_suggestion_rows(result.suggestions)), ""]
    out.append(_summary(result, styled=True))
    return "\n".join(out) + "\n"


def github(result: Result, suggest: bool, title: str) -> str:
    out = []
    for f in result.findings:
        props = [f"file={_prop(f.file)}"] + ([f"line={f.line}"] if f.line else [])
        props.append(f"title={_prop(f'{f.code}: {f.contract}' if f.contract else f.code)}")
        out.append(f"::{_GITHUB[f.level]} {','.join(props)}::{_data(f.message)}")
    if suggest:
        out += [f"{s.contract}: {s.version} → suggested {s.suggested} ({s.needs})" for s in result.suggestions]
    out.append(_summary(result, styled=False))
    return "\n".join(out) + "\n"


def markdown(result: Result, suggest: bool, title: str) -> str:
    mark = "✅" if result.ok else "❌"
    out = [f"## {mark} Charter contract check", "", f"{title}: {_summary(result, styled=False)}", ""]
    if result.findings:
        rows: list[tuple[str, ...]] = [("", "Contract", "File", "Field", "Problem", "Owner")]
        rows += [_finding_row(f) for f in result.findings]
        out += [*_md_table(rows), ""]
    if result.changes:
        out += ["### Changes", "", *_md_table(_change_rows(result.changes)), ""]
    if suggest and result.suggestions:
        out += ["### Suggested versions", "", *_md_table(_suggestion_rows(result.suggestions)), ""]
    return "\n".join(out)


def _summary(result: Result, styled: bool) -> str:
    counts = f"{result.count('error')} error(s), {result.count('warning')} warning(s)"
    scope = f"{result.contracts} contract(s), {result.versions} version file(s)"
    line = f"{'OK' if result.ok else 'FAILED'}: {counts} in {scope}"
    return click.style(line, fg="green" if result.ok else "red", bold=True) if styled else line


def _change_rows(changes: Sequence[ChangeEntry]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("CONTRACT", "VERSIONS", "PATH", "CHANGE", "BACKWARD", "FORWARD", "VERDICT")]
    for e in changes:
        c = e.change
        rows.append(
            (e.contract, f"{e.old} → {e.new}", c.path, _cut(c.message), _yes(c.backward), _yes(c.forward), e.verdict)
        )
    return rows


def _suggestion_rows(suggestions: Sequence[Suggestion]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("CONTRACT", "BASE", "VERSION", "NEEDS", "SUGGESTED", "OK")]
    rows += [(s.contract, s.base or "-", s.version, s.needs, s.suggested, _yes(s.ok)) for s in suggestions]
    return rows


def _finding_row(f: Finding) -> tuple[str, ...]:
    where = f"{f.file}:{f.line}" if f.line else f.file
    return (
        f"{_ICONS[f.level]} {f.code}",
        f"`{f.contract}`" if f.contract else "",
        f"`{where}`",
        f"`{f.path}`" if f.path else "",
        f.message,
        f.owner,
    )


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _md_table(rows: list[tuple[str, ...]]) -> list[str]:
    cells = [[_md(c) for c in row] for row in rows]
    head = [c.capitalize() if c.isupper() else c for c in cells[0]]
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in cells[1:]]


def _md(cell: str) -> str:
    return cell.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")


def _wrap(message: str, indent: str, width: int = 110) -> list[str]:
    """Each line of a message wrapped to `width`, continuation lines indented a little more."""
    out = []
    for line in message.splitlines():
        more = indent + " " * (len(line) - len(line.lstrip()) + 2)
        out += textwrap.wrap(
            line, width, initial_indent=indent, subsequent_indent=more, break_on_hyphens=False, break_long_words=False
        )
    return out


def _cut(message: str, width: int = 60) -> str:
    first = message.splitlines()[0] if message else ""
    return first if len(first) <= width else first[: width - 1] + "…"


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(value: str) -> str:
    return _data(value).replace(":", "%3A").replace(",", "%2C")
