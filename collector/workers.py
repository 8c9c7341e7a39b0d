"""Metrics that add up across `--workers N`.

uvicorn's workers are separate processes, each with its own OpenTelemetry counters, and a
scrape of /metrics reaches whichever worker accepts the connection. So with several workers
each one publishes its Prometheus text to a shared directory (on every scrape it serves and
once a second), and /metrics answers with the sum over every live worker: counters, histogram
buckets and the in-flight gauge add up; `charter_contracts_loaded` is the same in every worker
and is not summed. Another worker's numbers are at most ~1 s old.

/v1/stats (and so /ui) adds up the same way: each worker publishes its stats as JSON beside its
metrics. A worker that dies (or is replaced) leaves its counters behind: the first scrape after that
folds its last numbers into `retired.prom` (its gauges are dropped), so a counter never goes
backwards, which Prometheus would read as a reset and plot as traffic that never happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from collector.stats import combined_raw

PUBLISH_EVERY = 1.0
NOT_SUMMED = frozenset({"charter_contracts_loaded"})  # identical in every worker
RETIRED = "retired.prom"  # what dead workers counted
RETIRED_STATS = "retired.stats"
_FAMILY = re.compile(r"^# (?:HELP|TYPE) (\S+)")
_GAUGE = re.compile(r"^# TYPE (\S+) gauge$")


class SharedMetrics:
    def __init__(
        self, directory: Path, render: Callable[[], bytes], stats: Callable[[], dict[str, Any]] | None = None
    ) -> None:
        self.directory, self.render, self.stats = directory, render, stats
        self.path = directory / f"{os.getpid()}.prom"

    def publish(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(self.render())
        tmp.replace(self.path)  # readers never see half a file
        if self.stats is not None:
            tmp.write_text(json.dumps(self.stats()))
            tmp.replace(self.path.with_suffix(".stats"))

    async def run(self) -> None:
        while True:
            self.publish()
            await asyncio.sleep(PUBLISH_EVERY)

    def remove(self) -> None:
        for path in (self.path, self.path.with_suffix(".stats")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def collect(self) -> bytes:
        """This worker's numbers now, plus every other live worker's latest and the dead ones', summed."""
        self.publish()
        self._retire_dead()
        texts = [p.read_text() for p in sorted(self.directory.glob("*.prom")) if p.name == RETIRED or _alive(p)]
        return merge(texts).encode()

    def collect_stats(self) -> list[dict[str, Any]]:
        """Every worker's stats (and the dead ones'), for /v1/stats to add up."""
        self.publish()
        self._retire_dead()
        paths = [p for p in sorted(self.directory.glob("*.stats")) if p.name == RETIRED_STATS or _alive(p)]
        return [json.loads(p.read_text()) for p in paths]

    def _retire_dead(self) -> None:
        for path in self.directory.glob("*.prom"):
            if path.name != RETIRED and not _alive(path):
                self._retire(path)

    def _retire(self, path: Path) -> None:
        """Fold a dead worker's last counters into RETIRED, once, whichever worker gets there first."""
        mine = path.with_suffix(f".retiring-{os.getpid()}")
        try:
            path.rename(mine)  # atomic: only one worker retires each file
        except FileNotFoundError:
            return
        retired = self.directory / RETIRED
        with (self.directory / "retired.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            before = [retired.read_text()] if retired.exists() else []
            tmp = retired.with_suffix(".tmp-retired")
            tmp.write_text(merge([*before, counters_only(mine.read_text())]))
            tmp.replace(retired)
            self._retire_stats(path.with_suffix(".stats"))
        mine.unlink()

    def _retire_stats(self, path: Path) -> None:
        """Under the lock: the dead worker's stats join RETIRED_STATS."""
        if not path.exists():
            return
        retired = self.directory / RETIRED_STATS
        raws = [json.loads(p.read_text()) for p in (retired, path) if p.exists()]
        tmp = retired.with_suffix(".tmp-retired")
        tmp.write_text(json.dumps(combined_raw(raws)))
        tmp.replace(retired)
        path.unlink()


def merge(texts: list[str]) -> str:
    """Sum Prometheus text expositions sample by sample (same name and labels)."""
    headers: dict[str, list[str]] = {}
    samples: dict[str, dict[str, float]] = {}
    for text in texts:
        family = ""
        for line in text.splitlines():
            m = _FAMILY.match(line)
            if m is not None:
                family = m[1]
                if len(headers.setdefault(family, [])) < 2:
                    headers[family].append(line)
                samples.setdefault(family, {})
            elif line.strip():
                key, _, value = line.rpartition(" ")
                bucket = samples.setdefault(family, {})
                if family in NOT_SUMMED:
                    bucket[key] = max(bucket.get(key, float("-inf")), float(value))
                else:
                    bucket[key] = bucket.get(key, 0.0) + float(value)
    out: list[str] = []
    for family, lines in headers.items():
        out += lines
        out += [f"{key} {_number(v)}" for key, v in samples[family].items()]
    return "\n".join(out) + "\n"


def counters_only(text: str) -> str:
    """The text without its gauge families (a dead worker holds nothing in flight)."""
    gauges = {m[1] for line in text.splitlines() if (m := _GAUGE.match(line))}
    out, family = [], ""
    for line in text.splitlines():
        m = _FAMILY.match(line)
        family = m[1] if m else family
        if family not in gauges:
            out.append(line)
    return "\n".join(out) + "\n"


def _number(v: float) -> str:
    return f"{v:.1f}" if v.is_integer() else repr(v)


def _alive(path: Path) -> bool:
    """A worker's file counts while its process lives (a crashed worker's numbers go with it)."""
    try:
        os.kill(int(path.stem), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
