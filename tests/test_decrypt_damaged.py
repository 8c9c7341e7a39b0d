"""`charter decrypt` on a file with a damaged line: the line is reported and skipped, the rest decrypted."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from collector.keys import load_keys
from collector.keys_cli import decrypt
from collector.privacy import Privacy, pii_field
from tests.conftest import TEST_KEYS

CARD = "4111111111111111"


def envelope(n: int) -> bytes:
    data = Privacy(load_keys(TEST_KEYS)).protect({"cc": CARD}, (pii_field("$.cc", "encrypt"),))
    return json.dumps({"id": f"e{n}", "data": data}).encode() + b"\n"


def test_damaged_lines_are_skipped_and_reported_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "good-20261201T000000Z-0001.jsonl"
    torn = envelope(2)[:30]  # what a full disk used to leave: half a line, then the next record glued on
    path.write_bytes(envelope(1) + torn + envelope(3) + b"\xff\xfe not utf-8\n" + envelope(4))
    result = CliRunner().invoke(decrypt, [str(path), "--keys", str(TEST_KEYS)])
    assert result.exit_code == 1, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["id"] for e in out] == ["e1", "e4"]
    assert all(e["data"]["cc"] == CARD for e in out)
    assert f"{path}:2: damaged line skipped" in result.stderr
    assert f"{path}:3: damaged line skipped" in result.stderr
    assert "2 damaged line(s) skipped" in result.stderr


def test_an_undamaged_file_decrypts_with_exit_0(tmp_path: Path) -> None:
    path = tmp_path / "good.jsonl"
    path.write_bytes(envelope(1) + b"\n" + envelope(2))
    result = CliRunner().invoke(decrypt, [str(path), "--keys", str(TEST_KEYS)])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["data"]["cc"] for line in result.stdout.splitlines()] == [CARD, CARD]
