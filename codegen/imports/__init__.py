"""Bring your own schemas: turn Iglu self-describing schemas and plain JSON Schema files into contracts.

The pipeline reads top-down in the file list: `convert.py` (a source body → a contract body),
`place.py` (write it under `<out>/<namespace>/<name>/<version>.json` unless a published file
is already there, then prove the collector's loader accepts it), `iglu.py` (walk an Iglu
repository), `command.py` (`charter import iglu|jsonschema`).
"""

from __future__ import annotations
