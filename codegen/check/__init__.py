"""`charter check`: lint contracts and prove every version bump is classified correctly.

The pipeline, one module a stage: `documents` (read contract files, never failing) → `lint`
(each file, plus the loader's own refusal) → `compat` with `constraints` and `metadata` (diff
two versions into classified changes; `modes` says which break) → `versions` (bump rules
between the versions in the tree) → `gitref` and `published` (what changed against a git
ref) → `report` (text, json, github, markdown). `run` ties them together; `command` is the
click command the `charter` group attaches.
"""
