"""The checks msgspec cannot express, compiled per contract and run only where a contract uses them.

Each is a closure `check(value, path, failures)` over already type-checked data: `format` with an
own `pattern` beside it, `uniqueItems`, fractional `multipleOf`, and the walkers that reach them
inside objects and arrays. Every failure is reported, not just the first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec


@dataclass(frozen=True, slots=True)
class Failure:
    """One reason an event broke its contract, at a JSON path inside `data`."""

    path: str
    keyword: str
    message: str


Check = Callable[[Any, str, list[Failure]], None]


def all_of(checks: list[Check]) -> Check:
    def check(value: Any, path: str, out: list[Failure]) -> None:
        for c in checks:
            c(value, path, out)

    return check


def fields_check(checks: dict[str, Check]) -> Check:
    def check(value: Any, path: str, out: list[Failure]) -> None:
        if not isinstance(value, dict):
            return
        for name, c in checks.items():
            v = value.get(name)
            if v is not None:
                c(v, f"{path}.{name}", out)

    return check


def items_check(item: Check) -> Check:
    def check(value: Any, path: str, out: list[Failure]) -> None:
        if isinstance(value, list):
            for i, v in enumerate(value):
                item(v, f"{path}[{i}]", out)

    return check


def unique_check(value: Any, path: str, out: list[Failure]) -> None:
    if isinstance(value, list):
        seen = {msgspec.json.encode(v, order="sorted") for v in value}
        if len(seen) != len(value):
            out.append(Failure(path, "uniqueItems", "Expected `array` of unique items, found duplicates"))


def format_check(fmt: str, regex: re.Pattern[str]) -> Check:
    def check(value: Any, path: str, out: list[Failure]) -> None:
        if isinstance(value, str) and not regex.match(value):
            out.append(Failure(path, "format", f"Expected `str` in format {fmt!r}, got {value!r}"))

    return check


def multiple_check(step: float) -> Check:
    def check(value: Any, path: str, out: list[Failure]) -> None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            q = value / step
            if not math.isclose(q, round(q), rel_tol=0, abs_tol=1e-9):
                out.append(Failure(path, "multipleOf", f"Expected `number` that's a multiple of {step}"))

    return check
