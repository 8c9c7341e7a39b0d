"""A real Redis (or Valkey) server for tests: Debian's `redis-server`/`valkey-server`, on a free
port, in its own directory, nothing persisted, stopped after. `scripts/test` installs it; a
run without it skips these tests, unless CHARTER_REQUIRE_REDIS=1 (CI) makes that a failure."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port


def server_binary() -> str:
    found = shutil.which("valkey-server") or shutil.which("redis-server")
    if found is None:
        if os.environ.get("CHARTER_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server (or valkey-server) is missing: apt-get install redis-server")
        pytest.skip("redis-server (or valkey-server) is not installed: apt-get install redis-server")
    return found


@dataclass
class RedisServer:
    binary: str
    directory: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
                "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", str(self.directory / "redis.log")]  # fmt: skip
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.binary} did not start on port {self.port}: {log}")
            time.sleep(0.02)  # polling the port, not synchronising on time

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def answers(self) -> bool:
        """A PING answered with PONG."""
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
        return False


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[RedisServer]:
    directory.mkdir(parents=True, exist_ok=True)
    server = RedisServer(server_binary(), directory, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
