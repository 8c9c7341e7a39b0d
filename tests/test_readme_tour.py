"""The README's tour runs as pasted and prints what the README shows.

Every ```console block of "## A tour" is run: `$ charter serve` starts the collector (its first
line is compared), every other `$ ` line runs in bash in a fresh directory that holds the repo's
`schemas/` and `examples/` and a key file, as a reader's clone would after the two commands.
Outputs are compared after replacing what differs between runs (ids, times, the ciphertext).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import ROOT, free_port, stop_process

README = ROOT / "README.md"
PORT_IN_README = "8080"
START_DEADLINE = 30.0

VOLATILE = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z"), "<time>"),
    (re.compile(r"\d{8}T\d{6}Z"), "<stamp>"),
    (re.compile(r"enc:siv:[^\"]+"), "<ciphertext>"),
    (re.compile(r'"host":"[^"]*"'), '"host":"<host>"'),
    (re.compile(r"curl/[0-9.]+"), "curl/<version>"),
]


@dataclass(frozen=True)
class Step:
    command: str
    expected: str


def tour_steps() -> list[Step]:
    """The `$ ` commands of the tour's console blocks, each with the lines that follow it."""
    text = README.read_text(encoding="utf-8")
    tour = text[text.index("## A tour\n") : text.index("\n## ", text.index("## A tour\n") + 1)]
    steps: list[Step] = []
    for block in re.findall(r"```console\n(.*?)```", tour, re.S):
        command: str | None = None
        lines: list[str] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command is not None:
                    steps.append(Step(command, "\n".join(lines)))
                command, lines = line[2:], []
            else:
                lines.append(line)
        assert command is not None, f"a console block without a command:\n{block}"
        steps.append(Step(command, "\n".join(lines)))
    return steps


def normal(output: str, port: int) -> str:
    """Lines joined where the README wraps them (a line starting with a space), volatile parts named."""
    text = re.sub(r"\n[ \t]+", "", output.strip().replace(PORT_IN_README, "<port>").replace(str(port), "<port>"))
    for pattern, name in VOLATILE:
        text = pattern.sub(name, text)
    return text


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A directory like the reader's clone after `pip install -e . && charter keys generate`."""
    for name in ("schemas", "examples"):
        shutil.copytree(ROOT / name, tmp_path / name)
    subprocess.run(["charter", "keys", "generate"], cwd=tmp_path, check=True, capture_output=True)
    return tmp_path


@contextlib.contextmanager
def serving(command: str, cwd: Path, env: dict[str, str], port: int) -> Iterator[str]:
    """Start the tour's `charter serve`; yield its first line once /health answers."""
    log = cwd / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=cwd, env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + START_DEADLINE
        while not _healthy(port):
            assert proc.poll() is None, f"charter serve exited {proc.returncode}:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"charter serve not healthy after {START_DEADLINE:g}s"
            time.sleep(0.1)  # polling interval, not a synchronisation
        yield log.read_text().splitlines()[0]
    finally:
        stop_process(proc)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_every_tour_command_prints_what_the_readme_shows(clone: Path) -> None:
    steps = tour_steps()
    assert steps[0].command == "charter serve", "the tour starts the collector first"
    assert not any("…" in s.command for s in steps), "a command with an elision cannot be pasted"
    port = free_port()
    env = dict(os.environ, CHARTER_PORT=str(port), PYTHONUNBUFFERED="1")  # stdout and stderr in the order written
    with serving(steps[0].command, clone, env, port) as first_line:
        assert normal(first_line, port) == normal(steps[0].expected, port)
        for step in steps[1:]:
            command = step.command.replace(f"localhost:{PORT_IN_README}", f"localhost:{port}")
            done = subprocess.run(["bash", "-c", command], cwd=clone, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)  # fmt: skip
            assert normal(done.stdout.decode(), port) == normal(step.expected, port), step.command


def test_the_tour_uses_only_files_that_are_shipped() -> None:
    for step in tour_steps():
        for name in re.findall(r"examples/[\w./-]+", step.command):
            assert (ROOT / name).is_file(), f"{step.command}: {name} is not in the repo"
