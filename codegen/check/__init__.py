"""`charter check`: lint contracts and prove every version bump is classified correctly.

The pipeline, one module a stage: `documents` (read contract files, never failing) → `lint`
(each file, plus the loader's own refusal; `typos` for misspelt keywords) → `compat` with
`constraints` and `metadata` (diff two versions into classified changes, each settled by
`settle` with the containment `proof`; `walk` knows where subschemas are; `modes` says which
changes break) → `versions` (bump rules between the versions in the tree, under the older
version's mode) → `gitref` and `published` (what changed against a git
ref) → `report` (text, json, github, markdown). `run` ties them together; `command` is the
click command the `charter` group attaches.
"""
