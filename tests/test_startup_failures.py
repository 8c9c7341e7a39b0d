"""Start-up failures are one line with the cause and the fix, and exit 2: never "ready" and then a traceback."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from tests.integration.conftest import ROOT, SCHEMAS, TEST_KEYS, _charter_command, free_port


def charter(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_charter_command(), *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_a_busy_port_stops_serve_in_one_line_before_anything_says_ready() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = charter("serve", "--port", str(port), "--schemas", str(SCHEMAS), "--keys", str(TEST_KEYS))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [f"error: cannot listen on 127.0.0.1:{port}: Address already in use; "
                                        "stop what uses it, or choose another --port"]  # fmt: skip


def test_decrypt_of_a_topic_without_a_broker_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    done = charter("decrypt", "payments", "--keys", str(TEST_KEYS), "--kafka-bootstrap", f"127.0.0.1:{port}")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"error: cannot connect to Kafka: nothing listens at 127.0.0.1:{port} "
                                        "(connection refused); start it, or give its address with --kafka-bootstrap"]  # fmt: skip


def test_decrypt_of_a_topic_name_without_kafka_bootstrap_says_to_add_it(tmp_path: Path) -> None:
    done = charter("decrypt", "payments", "--keys", str(TEST_KEYS), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: payments: no such file; to read the Kafka topic payments, add --kafka-bootstrap HOST:PORT"
    ]


def test_a_data_dir_that_cannot_be_written_stops_serve_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    port = free_port()
    done = charter("serve", "--port", str(port), "--schemas", str(SCHEMAS), "--keys", str(TEST_KEYS),
                   "--data-dir", str(blocker / "data"))  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"error: cannot write to --data-dir {blocker / 'data'}: Not a directory; "
                                        "create it writable, or choose another --data-dir"]  # fmt: skip
