"""A throwaway PostgreSQL server for one test session: initdb + pg_ctl into a temp directory.

As root (CI), the server runs as the `postgres` user (initdb refuses root) from a directory
it owns. It listens on 127.0.0.1 at a free port and on a Unix socket in that directory;
`pg_ctl start -w` returns once the server accepts connections and `pg_isready` confirms it.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any


def bin_dir() -> Path | None:
    """The newest installed server's bin directory (Debian puts it off PATH), or None."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent  # /usr/local/bin may hold a symlink to initdb alone
    candidates = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not candidates:
        return None
    newest = max(candidates, key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(newest).parent


class Postgres:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="charter-pg-"))
        self.port = _free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def start(self) -> None:
        data = self.dir / "data"
        self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8",
                  "--locale=C")  # fmt: skip
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off"
        self._run("pg_ctl", "-D", str(data), "-l", str(self.dir / "server.log"), "-o", options, "-w", "-t", "60",
                  "start")  # fmt: skip
        subprocess.run([str(self.bindir / "pg_isready"), *self._where()], check=True, capture_output=True)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        path = self.dir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def psql(self, sql: str, database: str = "postgres") -> subprocess.CompletedProcess[str]:
        """Run SQL in one session; stops at the first error (exit code 3, message on stderr)."""
        cmd = [str(self.bindir / "psql"), *self._where(), "-U", "postgres", "-d", database, "-X", "-q", "-A", "-t",
               "-v", "ON_ERROR_STOP=1", "-f", "-"]  # fmt: skip
        return subprocess.run(cmd, input=sql, capture_output=True, text=True, check=False)

    def _where(self) -> list[str]:
        return ["-h", str(self.dir), "-p", str(self.port)]

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self._as, str(self.bindir / tool), *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}\n{self.log()}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def insert_sql(target: str, values: dict[str, Any]) -> str:
    """One INSERT of a row given as JSON (`jsonb_populate_record` casts each value to its column's type)."""
    cols = ", ".join(f'"{name}"' for name in values)
    doc = json.dumps(values)
    assert "$charter$" not in doc
    return (
        f"INSERT INTO {target} ({cols}) SELECT {cols} "
        f"FROM jsonb_populate_record(NULL::{target}, $charter${doc}$charter$::jsonb);\n"
    )
