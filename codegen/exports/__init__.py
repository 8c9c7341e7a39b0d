"""Artifacts exported from the contracts: dbt sources, warehouse DDL, AsyncAPI and the HTML catalog.

Each exporter is a pure function `render(registry, ...) -> {relative path: text}`; `command.py`
writes the files. Output is byte-identical for the same contracts (no timestamps, no paths
outside the schemas directory), so the artifacts can be committed and checked for drift.
"""

from __future__ import annotations


class ExportError(Exception):
    """Contracts that load but cannot be exported as asked; the message names the contract and the fix."""
