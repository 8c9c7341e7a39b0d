"""`dbt build` (dbt-duckdb) is green on what `charter export dbt` writes, over the tables `charter
export ddl --dialect duckdb` creates, bulk-loaded from `charter export rows` of the files a real
`charter serve` wrote, including one client id sent twice; and `dbt source freshness` passes
on the contracts' SLAs.

dbt runs from its own venv (scripts/test makes it and sets CHARTER_DBT; its pins would hold back
this environment's packages), else from `dbt` on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from codegen.exports import dbt, ddl
from codegen.exports.command import export_group, write
from codegen.exports.warehouse import tables
from collector.contracts import Registry
from tests.conftest import SCHEMAS
from tests.exports.conftest import need, need_module
from tests.exports.loading import DUPLICATE_ID, duckdb_load_rows

PROJECT = "name: charter_warehouse\nversion: '1.0.0'\nconfig-version: 2\nprofile: charter\nmodel-paths: [models]\n"
PROFILE = "charter:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {path}\n      threads: 4\n"


def dbt_executable() -> str:
    found = os.environ.get("CHARTER_DBT") or shutil.which("dbt")
    need(
        found and Path(found).exists(),
        "dbt-duckdb missing: run scripts/test, or pip install dbt-duckdb and set CHARTER_DBT",
    )
    assert found is not None
    return found


@pytest.fixture(scope="module")
def project(
    registry: Registry, served_run: tuple[list[dict[str, Any]], list[Path]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A dbt project over a DuckDB file holding the landing tables, bulk-loaded from the rows
    `charter export rows` made of the files a real `charter serve` wrote."""
    duckdb = need_module("duckdb")
    root = tmp_path_factory.mktemp("dbt")
    result = CliRunner().invoke(
        export_group, ["rows", *map(str, served_run[1]), "--process-id", "load-1", "--schemas", str(SCHEMAS),
                       "--out", str(root / "rows")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    con.execute(ddl.render(registry, "duckdb")["duckdb.sql"])
    for t in tables(registry):
        path = root / "rows" / f"{t.schema}.{t.name}.jsonl"
        assert path.exists(), f"no rows for {t.line.reference}"
        duckdb_load_rows(con, t, path)
    con.close()
    (root / "dbt_project.yml").write_text(PROJECT)
    (root / "profiles.yml").write_text(PROFILE.format(path=root / "warehouse.duckdb"))
    write(root / "models", dbt.render(registry))
    return root


def run_dbt(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    cmd = [dbt_executable(), *args, "--project-dir", str(project), "--profiles-dir", str(project)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=project, timeout=300, check=False)


def test_dbt_build_is_green_and_the_staging_model_keeps_one_row_per_event_id(project: Path) -> None:
    done = run_dbt(project, "build")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Completed successfully" in done.stdout
    assert "unique_stg_interactions__messages_event_id" in done.stdout  # the test that a resent id used to break
    con = need_module("duckdb").connect(str(project / "warehouse.duckdb"), read_only=True)
    landed = con.execute('SELECT count(*) FROM "interactions"."messages" WHERE event_id = ?', [DUPLICATE_ID]).fetchone()
    staged = con.execute("SELECT count(*) FROM main.stg_interactions__messages WHERE event_id = ?", [DUPLICATE_ID])
    assert (landed, staged.fetchone()) == ((2,), (1,))


def test_dbt_source_freshness_passes_for_events_collected_within_the_sla(project: Path) -> None:
    done = run_dbt(project, "source", "freshness")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "freshness of interactions.messages" in done.stdout
