"""The Python SDK installed the way its README says, into a fresh virtual environment: `pip install
<path>`, and a wheel built with `pip wheel` then installed; the app imports it from there (not from
this checkout) and tracks to a real `charter serve --auth`.

Each environment is made with `venv --without-pip` and filled by this interpreter's pip
(`pip --python`), which is quicker than bootstrapping pip into it and installs the same way.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, charter_serve

SDK_DIR = ROOT / "sdks" / "python"
VERSION = tomllib.loads((SDK_DIR / "pyproject.toml").read_text())["project"]["version"]
WRITE_KEY = "install-key-0123456789abcdef"
APP = """\
import importlib.metadata, json, sys
import charter_events
from charter_events import PaymentV1, Tracker

failures = []
tracker = Tracker(sys.argv[1], headers={"Authorization": f"Bearer {sys.argv[3]}"}, on_failure=failures.append)
event_id = tracker.track(PaymentV1(order_id=int(sys.argv[2]), product_id=7, amount=9.5, confirmation_code="AB12CD34",
                                   cc_number="4111111111111111", ts="2026-11-21T10:00:00Z"))
tracker.close()
print(json.dumps({"id": event_id, "failures": [f.message for f in failures], "file": charter_events.__file__,
                  "version": importlib.metadata.version("charter-events")}))
"""


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False)


def _pip(*args: str, cwd: Path) -> None:
    done = _run([sys.executable, "-m", "pip", *args], cwd)
    assert done.returncode == 0, f"pip {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed SDK as a user's checkout has it (a copy: building must not touch the work tree)."""
    root = tmp_path_factory.mktemp("checkout") / "python"
    shutil.copytree(SDK_DIR, root, ignore=shutil.ignore_patterns("__pycache__", "build", "dist", "*.egg-info"))
    return root


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("install-collector")
    (tmp / "auth.json").write_text(json.dumps({"keys": [{"name": "app", "key": WRITE_KEY, "namespaces": ["*"]}]}))
    with charter_serve(tmp, "--sink", "memory", "--auth", str(tmp / "auth.json")) as url:
        yield url


@pytest.mark.parametrize("source", ["path", "wheel"])
def test_pip_installed_sdk_is_imported_from_the_venv_and_tracks_to_a_real_collector(
    source: str, checkout: Path, collector: str, tmp_path: Path
) -> None:
    if source == "path":
        what = str(checkout)
    else:
        _pip("wheel", "--no-deps", "--quiet", str(checkout), "-w", str(tmp_path / "wheels"), cwd=tmp_path)
        [wheel] = (tmp_path / "wheels").iterdir()
        assert wheel.name == f"charter_events-{VERSION}-py3-none-any.whl"  # as the README names it
        what = str(wheel)
    venv = tmp_path / "venv"
    created = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    assert created.returncode == 0, created.stderr
    python = venv / "bin" / "python"
    _pip("--python", str(python), "install", "--quiet", what, cwd=tmp_path)
    (tmp_path / "app.py").write_text(APP)
    order_id = str(random.randrange(10**6, 10**9))  # the payment contract dedupes by order id
    ran = _run([str(python), "app.py", collector, order_id, WRITE_KEY], tmp_path)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["failures"] == []
    assert Path(result["file"]).is_relative_to(venv)
    assert result["version"] == VERSION
    good = httpx.get(f"{collector}/v1/memory/good", timeout=5).json()
    assert [e["data"]["order_id"] for e in good if e["id"] == result["id"]] == [int(order_id)]
