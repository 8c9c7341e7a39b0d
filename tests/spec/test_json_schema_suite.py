"""Charter's verdicts against the official JSON-Schema-Test-Suite (drafts 2020-12, 2019-09, 7, 6, 4).

One case per group: the group's schema goes through `compile_schema` exactly as a contract's
would, then every test instance through `validate`; a failing case lists every instance whose
verdict differs. Required and optional files alike must agree 100%, with two documented rules:

- Remote references are refused at load. A group whose schema needs a document it does not
  contain (the suite serves those from `http://localhost:1234/`: `refRemote.json`, some
  `dynamicRef`, `vocabulary`, `cross-draft` and `format-assertion` groups) must raise
  `SchemaError` at compile; it is never validated. Which groups need one is decided from the
  schema text (`needs_remote`), not from the engine.
- Formats are assertions. The required `format.json` of 2019-09/2020-12 expects an invalid
  string to pass ("only an annotation by default"); for every format Charter claims
  (`collector.schema.FORMATS`), Charter must reject it instead. Everything else in that file
  (non-strings ignored, valid strings accepted) is asserted as the suite states it.
"""

from __future__ import annotations

from typing import Any

import pytest

from collector.schema import FORMATS, SchemaError, compile_schema
from collector.validate import validate
from tests.spec.suite import DRAFTS, Group, groups, needs_remote, suite_root

GROUPS = [g for draft in DRAFTS for g in groups(draft)]
_ANNOTATION_ONLY = "is only an annotation by default"


def expected(group: Group, test: dict[str, Any]) -> bool:
    """The suite's verdict, except where Charter asserts a format the suite treats as annotation."""
    asserted = group.file == "format.json" and group.schema.get("format") in FORMATS
    if asserted and _ANNOTATION_ONLY in test["description"]:
        return False
    return bool(test["valid"])


def mismatches(group: Group) -> list[str]:
    compiled = compile_schema(group.schema, group.file)
    out = []
    for test in group.tests:
        want = expected(group, test)
        got = not validate(compiled, test["data"])
        if got != want:
            out.append(f"{test['description']!r}: data {test['data']!r} expected {'valid' if want else 'invalid'}")
    return out


@pytest.mark.parametrize("group", [g for g in GROUPS if not needs_remote(g.schema, g.draft)], ids=lambda g: g.id)
def test_group_verdicts_match_the_suite(group: Group) -> None:
    wrong = mismatches(group)
    assert not wrong, f"{len(wrong)} of {len(group.tests)} verdicts differ from the suite:\n" + "\n".join(wrong)


@pytest.mark.parametrize("group", [g for g in GROUPS if needs_remote(g.schema, g.draft)], ids=lambda g: g.id)
def test_group_that_needs_a_remote_document_is_refused_at_load(group: Group) -> None:
    with pytest.raises(SchemaError) as refused:
        compile_schema(group.schema, group.file)
    assert refused.value.keyword in ("$ref", "$schema")


def test_every_claimed_format_has_its_suite_file_and_all_of_them_run() -> None:
    folder = suite_root() / "tests" / "draft2020-12" / "optional" / "format"
    missing = [f for f in FORMATS if not (folder / f"{f}.json").is_file()]
    assert not missing, f"formats Charter asserts but the suite does not test: {missing}"
    ran = {g.file for g in GROUPS if g.draft == "draft2020-12" and not needs_remote(g.schema, g.draft)}
    assert {f"optional/format/{f}.json" for f in FORMATS} <= ran


def test_annotation_only_format_cases_are_flipped_only_for_claimed_formats() -> None:
    flipped = [
        (g.schema["format"], t["description"])
        for g in GROUPS
        if g.file == "format.json"
        for t in g.tests
        if t["valid"] and not expected(g, t)
    ]
    assert flipped, "the required format.json no longer has annotation-only cases: revisit `expected`"
    assert {fmt for fmt, _ in flipped} <= set(FORMATS)
