"""The per-contract stats behind /v1/stats and the dashboard: good, rejected and duplicate counts
per minute, violations grouped by error type and path, the latest failures and bad records;
added up across `--workers N` from each worker's raw stats."""

from __future__ import annotations

import re
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MINUTES_KEPT = 15
RECENT_FAILURES = 10  # the latest rejected events per contract, each with every failure
RECENT_DUPLICATES = 10  # kept apart, so duplicates never crowd out violations
FAILURES_PER_EVENT = 20  # an event's failures shown in /v1/stats (its bad record keeps all of them)
GROUPS_KEPT = 50  # violation groups (error type, path) per contract; the rest count under one group
OTHER_PATHS = "(other paths)"
BAD_RECORDS_KEPT = 20  # the latest bad records per contract, for the dashboard's drill-down
BAD_RECORD_LIMIT = 64 * 1024  # a bigger record is listed without its body (the sink has it whole)
_INDEX = re.compile(r"\[\d+\]")


@dataclass
class ContractStats:
    """Three buckets that add up to what was received: good, rejected (a violation of any
    kind) and duplicates. `bad` in /v1/stats is rejected + duplicates (the dead-letter records)."""

    good: int = 0
    rejected: int = 0
    duplicates: int = 0
    last_seen: float | None = None
    minutes: dict[int, list[int]] = field(default_factory=dict)  # minute → [good, rejected, duplicates]
    errors: Counter[str] = field(default_factory=Counter)  # rejected events by error type (no duplicates)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)  # "type\tpath" → count, minutes, latest
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT_FAILURES))
    recent_duplicates: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT_DUPLICATES))
    records: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=BAD_RECORDS_KEPT))


def count(
    stats: dict[str, ContractStats], key: str, outcome: str, error_type: str, n: int, now: float, minute: int
) -> None:
    """`n` events of one contract and outcome, in its totals and its minute."""
    s = stats.get(key)
    if s is None:
        s = stats[key] = ContractStats()
    bucket = s.minutes.setdefault(minute, [0, 0, 0])
    if outcome == "accepted":
        s.good += n
        bucket[0] += n
    elif outcome == "duplicate":
        s.duplicates += n
        bucket[2] += n
    else:
        s.rejected += n
        bucket[1] += n
        s.errors[error_type] += n
    s.last_seen = now
    for old in [m for m in s.minutes if m <= minute - MINUTES_KEPT]:
        del s.minutes[old]


def merged_summary(raws: list[dict[str, Any]], now: float | None = None) -> dict[str, Any]:
    """Several workers' /v1/stats as one: counts and minutes add up, the latest failures come first."""
    stats, started = _combine(raws)
    return summary_of(stats, started, now)


def merged_records(raws: list[dict[str, Any]], schema: str) -> list[dict[str, Any]]:
    """Several workers' kept bad records of one contract, newest first."""
    stats, _ = _combine(raws)
    s = stats.get(schema)
    return list(s.records) if s is not None else []


def combined_raw(raws: list[dict[str, Any]]) -> dict[str, Any]:
    """Several raw stats as one raw (what dead workers counted, kept)."""
    stats, started = _combine(raws)
    return {"started": started, "contracts": {k: raw_of(s) for k, s in stats.items()}}


def record_failure(s: ContractStats, f: dict[str, Any], minute: int) -> None:
    """One rejected or duplicate event: its group counts, the latest list, its kept bad record."""
    every = f.get("failures") or [{"path": f["path"], "keyword": f["keyword"], "message": f["message"]}]
    entry = {k: v for k, v in f.items() if k not in ("schema_key", "record")}
    entry["failures"], entry["more_failures"] = every[:FAILURES_PER_EVENT], max(len(every) - FAILURES_PER_EVENT, 0)
    if f["type"] == "duplicate":
        s.recent_duplicates.appendleft(entry)
    else:
        s.recent.appendleft(entry)
        for failure in {(x["path"], x["keyword"]): x for x in every}.values():
            _group(s, f["type"], failure, f["at"], minute)
    record = f.get("record")
    if record is not None:
        body = bytes(record).decode("utf-8", "replace") if len(record) <= BAD_RECORD_LIMIT else None
        s.records.appendleft({"at": f["at"], "id": f["id"], "type": f["type"], "record": body, "bytes": len(record)})


def _group(s: ContractStats, kind: str, failure: dict[str, Any], at: str, minute: int) -> None:
    """Violations grouped by error type and path (array indexes as [*], so items[3] and items[7] are one)."""
    path = _INDEX.sub("[*]", str(failure["path"]))
    key = f"{kind}\t{path}"
    if key not in s.groups and len(s.groups) >= GROUPS_KEPT:
        key = f"{kind}\t{OTHER_PATHS}"
    g = s.groups.setdefault(key, _new_group())
    g["count"] += 1
    g["minutes"][str(minute)] = g["minutes"].get(str(minute), 0) + 1
    for old in [m for m in g["minutes"] if int(m) <= minute - MINUTES_KEPT]:
        del g["minutes"][old]
    if at >= g["last"]:
        g.update(keyword=failure["keyword"], message=failure["message"], last=at)


def _combine(raws: list[dict[str, Any]]) -> tuple[dict[str, ContractStats], float]:
    stats: dict[str, ContractStats] = {}
    for raw in raws:
        for key, r in raw["contracts"].items():
            s = stats.setdefault(key, ContractStats())
            s.good, s.rejected = s.good + r["good"], s.rejected + r["rejected"]
            s.duplicates += r["duplicates"]
            seen = [t for t in (s.last_seen, r["last_seen"]) if t is not None]
            s.last_seen = max(seen) if seen else None
            for minute, counts in r["minutes"].items():
                bucket = s.minutes.setdefault(int(minute), [0, 0, 0])
                for i, n in enumerate(counts):
                    bucket[i] += n
            s.errors.update(r["errors"])
            for gkey, g in r["groups"].items():
                _add_group(s.groups.setdefault(gkey, _new_group()), g)
            s.recent = _latest(s.recent, r["recent"], RECENT_FAILURES)
            s.recent_duplicates = _latest(s.recent_duplicates, r["recent_duplicates"], RECENT_DUPLICATES)
            s.records = _latest(s.records, r["records"], BAD_RECORDS_KEPT)
    return stats, min((r["started"] for r in raws), default=time.time())


def _new_group() -> dict[str, Any]:
    return {"count": 0, "minutes": {}, "keyword": "", "message": "", "last": ""}


def _add_group(into: dict[str, Any], g: dict[str, Any]) -> None:
    into["count"] += g["count"]
    for minute, n in g["minutes"].items():
        into["minutes"][minute] = into["minutes"].get(minute, 0) + n
    if g["last"] >= into["last"]:
        into.update(keyword=g["keyword"], message=g["message"], last=g["last"])


def _latest(mine: Iterable[dict[str, Any]], theirs: Iterable[dict[str, Any]], keep: int) -> deque[dict[str, Any]]:
    latest = sorted([*mine, *theirs], key=lambda f: str(f["at"]), reverse=True)
    return deque(latest[:keep], maxlen=keep)


def raw_of(s: ContractStats) -> dict[str, Any]:
    minutes = {str(m): v for m, v in s.minutes.items()}
    return {"good": s.good, "rejected": s.rejected, "duplicates": s.duplicates, "last_seen": s.last_seen,
            "minutes": minutes, "errors": dict(s.errors), "groups": s.groups, "recent": list(s.recent),
            "recent_duplicates": list(s.recent_duplicates), "records": list(s.records)}  # fmt: skip


def summary_of(stats: dict[str, ContractStats], started: float, now: float | None) -> dict[str, Any]:
    current = int((time.time() if now is None else now) // 60)
    contracts = [_summary(key, s, current) for key, s in sorted(stats.items())]
    totals = {k: sum(c[k] for c in contracts) for k in ("received", "good", "rejected", "duplicates")}
    return {"since": _iso(started), "window_minutes": MINUTES_KEPT, "totals": totals, "contracts": contracts}


def _summary(key: str, s: ContractStats, current: int) -> dict[str, Any]:
    """One contract's counts since start, last full minute, 15-minute history, violations grouped
    by error type and path (each with its per-minute trend), latest rejected events and duplicates."""
    window = range(current - MINUTES_KEPT + 1, current + 1)
    history = [(m, s.minutes.get(m, [0, 0, 0])) for m in window]
    return {
        "schema": key, "received": s.good + s.rejected + s.duplicates, "good": s.good, "rejected": s.rejected,
        "duplicates": s.duplicates, "bad": s.rejected + s.duplicates,
        "last_minute": _counts(s.minutes.get(current - 1, [0, 0, 0])),
        "last_seen": _iso(s.last_seen) if s.last_seen else None,
        "history": [{"minute": _iso(m * 60), **_counts(c)} for m, c in history],
        "top_errors": [{"type": t, "count": c} for t, c in s.errors.most_common(5)],
        "violations": [_violation(k, g, window) for k, g in sorted(s.groups.items(), key=lambda kg: -kg[1]["count"])],
        "recent_failures": list(s.recent),
        "recent_duplicates": list(s.recent_duplicates),
    }  # fmt: skip


def _counts(c: list[int]) -> dict[str, int]:
    good, rejected, duplicates = [*c, 0, 0, 0][:3]
    return {"good": good, "rejected": rejected, "duplicates": duplicates, "bad": rejected + duplicates}


def _violation(key: str, g: dict[str, Any], window: range) -> dict[str, Any]:
    kind, _, path = key.partition("\t")
    trend = [g["minutes"].get(str(m), 0) for m in window]
    return {"type": kind, "path": path, "keyword": g["keyword"], "message": g["message"], "count": g["count"],
            "last_minute": trend[-2], "window": sum(trend), "trend": trend, "last_at": g["last"]}  # fmt: skip


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
