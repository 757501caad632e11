"""Gridline's benchmark: `make bench` (or `python -m bench`).

The household list of the 300-household grid at full demo size, under a concurrent
load generator, set against figures measured in the same run: the bare endpoint of
the same server (`GET /ping`) and the page's floor (the same rows fetched by one plain
SQL query plus the same template rendered, in one process, no HTTP). These 2-core
machines are noisy, so the verdicts are ratios of figures taken minutes apart, not
absolute numbers from another day.

Modules: `data` (the full demo database, built with the project's own CLI and timed),
`server` (the real app in a subprocess, signed in), `load` (the load generator),
`floor` (the in-process floor), `report` (the Markdown table), `run` (the order of it all).
"""
