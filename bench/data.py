"""The full-size demo database the benchmark reads, built with the project's own CLI.

SQLite: one file under bench/data/, reused between runs once complete (a marker file
written after a successful build says so; `--rebuild` starts over). The build goes to
bench/data.building/ and is renamed into place only when it succeeded, so an
interrupted build is never mistaken for a complete one.

PostgreSQL: a fresh database on the given server for each run, loaded the same way,
dropped at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "data"
BUILDING_DIR = BENCH_DIR / "data.building"
MARKER = "bench-complete.json"
SQLITE_FILE = "gridline.sqlite3"  # web.settings.Settings.sqlite_path
# A full demo takes about a minute; past this something is wrong, and the run stops.
GENERATION_TIMEOUT_S = 900


@dataclass
class Generation:
    wall_seconds: float  # the whole `python -m web demo --size full` command, interpreter start included
    demo_seconds: float | None  # what the demo generator itself reports
    summary: str  # the CLI's own line: communities, grids, households, persons
    households: int
    persons: int
    built_at: str
    reused: bool = False


@dataclass
class Database:
    engine: str  # "sqlite" | "postgres"
    data_dir: Path
    database_url: str
    generation: Generation
    cleanup: Callable[[], None] = field(default=lambda: None, repr=False)

    def env(self) -> dict[str, str]:
        """Environment for any process that must use this database (CLI, server)."""
        env = dict(os.environ)
        env["GRIDLINE_DATA"] = str(self.data_dir)
        env["PICCOLO_CONF"] = "web.piccolo_conf"
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        else:
            env.pop("DATABASE_URL", None)
        return env

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / SQLITE_FILE


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _generate(data_dir: Path, database_url: str, size: str = "full") -> Generation:
    """Run the project's CLI in a subprocess and time it."""
    env = dict(os.environ)
    env.update(GRIDLINE_DATA=str(data_dir), PICCOLO_CONF="web.piccolo_conf")
    if database_url:
        env["DATABASE_URL"] = database_url
    else:
        env.pop("DATABASE_URL", None)
    command = [sys.executable, "-m", "web", "demo", "--size", size]
    log(f"generating the {size} demo: {' '.join(command[1:])} (GRIDLINE_DATA={data_dir})")
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=GENERATION_TIMEOUT_S,
                          check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"demo generation failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    demo_seconds = None
    if match := re.search(r"in ([0-9.]+) s", summary):
        demo_seconds = float(match.group(1))
    households = int(m.group(1)) if (m := re.search(r"(\d+) households", summary)) else 0
    persons = int(m.group(1)) if (m := re.search(r"(\d+) persons", summary)) else 0
    log(f"generated in {wall:.1f} s: {summary}")
    return Generation(wall_seconds=round(wall, 1), demo_seconds=demo_seconds, summary=summary,
                      households=households, persons=persons,
                      built_at=datetime.now(UTC).isoformat(timespec="seconds"))


def _sqlite_counts(path: Path) -> tuple[int, int]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        households = connection.execute("SELECT count(*) FROM household").fetchone()[0]
        persons = connection.execute("SELECT count(*) FROM person").fetchone()[0]
    return households, persons


def sqlite_database(rebuild: bool) -> Database:
    marker = DATA_DIR / MARKER
    if not rebuild and marker.exists() and (DATA_DIR / SQLITE_FILE).exists():
        generation = Generation(**json.loads(marker.read_text(encoding="utf-8")))
        try:
            counts = _sqlite_counts(DATA_DIR / SQLITE_FILE)
        except sqlite3.Error as error:
            log(f"the kept database cannot be read ({error}); rebuilding")
        else:
            if counts == (generation.households, generation.persons):
                generation.reused = True
                log(f"reusing {DATA_DIR / SQLITE_FILE} (built {generation.built_at} in {generation.wall_seconds} s;"
                    " --rebuild to regenerate and time it again)")
                return Database("sqlite", DATA_DIR, "", generation)
            log(f"the kept database holds {counts}, not {(generation.households, generation.persons)}; rebuilding")
    shutil.rmtree(BUILDING_DIR, ignore_errors=True)
    BUILDING_DIR.mkdir(parents=True)
    generation = _generate(BUILDING_DIR, "")
    counts = _sqlite_counts(BUILDING_DIR / SQLITE_FILE)
    if counts != (generation.households, generation.persons):
        raise RuntimeError(f"the demo reported {generation.summary!r} but the file holds {counts}")
    (BUILDING_DIR / MARKER).write_text(json.dumps(asdict(generation), indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(DATA_DIR, ignore_errors=True)
    BUILDING_DIR.rename(DATA_DIR)
    return Database("sqlite", DATA_DIR, "", generation)


def _with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _pg_admin(dsn: str, statement: str) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(dsn, timeout=10)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


def postgres_database(admin_dsn: str, size: str = "full") -> Database:
    """A fresh database on the server of `admin_dsn`, loaded with the demo of `size`; dropped by cleanup()."""
    host = urlsplit(admin_dsn).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"--postgres must point at this machine (127.0.0.1), not {host!r}")
    name = f"gridline_bench_{uuid.uuid4().hex[:10]}"
    scratch = Path(tempfile.mkdtemp(prefix="gridline-bench-pg-"))
    log(f"creating PostgreSQL database {name}")
    _pg_admin(admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')

    def cleanup() -> None:
        log(f"dropping PostgreSQL database {name}")
        try:
            _pg_admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    url = _with_database(admin_dsn, name)
    try:
        generation = _generate(scratch, url, size)
    except BaseException:
        cleanup()
        raise
    return Database("postgres", scratch, url, generation, cleanup)
