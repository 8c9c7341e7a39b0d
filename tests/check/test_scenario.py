"""The book's scenario on the repo's own contracts: renaming `primary_image` to `image` in a
MINOR of `object_images` fails CI naming contract, field and owner; the fix, a new contract
`object_images_normalized`, passes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.check.helpers import check, report
from tests.conftest import SCHEMAS

OBJECT_IMAGES = "org.metmuseum.collection/object_images"
OWNER = "Data Engineering Team <data-eng@museum.org>"


@pytest.fixture
def schemas(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SCHEMAS, tmp_path / "schemas"))


def rename_primary_image(schemas: Path) -> Path:
    body = json.loads((schemas / OBJECT_IMAGES / "1.0.0.json").read_text())
    body["properties"] = {("image" if k == "primary_image" else k): v for k, v in body["properties"].items()}
    path = schemas / OBJECT_IMAGES / "1.1.0.json"
    path.write_text(json.dumps(body, indent=2) + "\n")
    return path


def test_renaming_a_field_in_a_minor_fails_naming_contract_field_and_owner(schemas: Path) -> None:
    rename_primary_image(schemas)
    result = check(schemas)
    assert result.exit_code == 1
    block = result.output.split("breaking-change")[1].split("wrong-bump")[0]
    assert f"{OBJECT_IMAGES} 1.1.0: `$.primary_image`: renamed? `primary_image` → `image`" in block
    assert f"Owner: {OWNER}" in block
    assert "it should have been 2.0.0" in result.output


def test_the_breaking_finding_carries_contract_path_owner_and_line(schemas: Path) -> None:
    path = rename_primary_image(schemas)
    _, doc = report(schemas)
    (finding,) = [f for f in doc["findings"] if f["code"] == "breaking-change" and f["contract"] == OBJECT_IMAGES]
    assert (finding["path"], finding["owner"], finding["file"]) == ("$.primary_image", OWNER, str(path))
    assert path.read_text().splitlines()[finding["line"] - 1].strip() == '"image": {'


def test_the_normalized_contract_passes(schemas: Path) -> None:
    rename_primary_image(schemas)
    _, doc = report(schemas)
    assert [f for f in doc["findings"] if f["contract"].endswith("/object_images_normalized")] == []


def test_clickstream_adds_an_optional_field_to_a_closed_object_as_a_minor_under_the_default(schemas: Path) -> None:
    # Compatible BACKWARD only (the closed 1.0.0 rejects the new field), which is the default mode.
    path = schemas / "com.riverhotels.web/clickstream/1.1.0.json"
    body = json.loads(path.read_text())
    del body["x-contract"]["compatibility"]
    path.write_text(json.dumps(body, indent=2))
    _, doc = report(schemas)
    assert doc["findings"] == []
    (added,) = [c for c in doc["changes"] if c["contract"] == "com.riverhotels.web/clickstream"]
    assert (added["kind"], added["path"], added["verdict"]) == ("field-added-optional", "$.referrer", "compatible")


def test_repo_schemas_pass() -> None:
    assert check(SCHEMAS).exit_code == 0
