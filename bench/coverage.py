"""`python -m bench.coverage`: a testing round's coverage at full size, over 12 rounds of facts.

Issue #4: with 12 testing rounds recorded (about 1.8 million person-round facts), the
whole sub-district's coverage under 500 ms and one grid's under 50 ms on SQLite, and the
grid head's household list as fast as without those facts.

Data: the full demo (bench/data.py) copied, then 12 testing rounds over the sub-district
added in bulk with plain SQL: 11 closed through the app's own `close_campaign()`, 1 open.
The rows are what `record_sweep()` would write for the same sweeps; a probe records a few
of those sweeps through `record_sweep()` and compares row by row. SQLite: cached under
bench/data/coverage/ with its own marker (the demo's cache stays clean); a reused file is
probed again first, and made again if record_sweep() has changed. PostgreSQL: a copy of the
fresh demo database (CREATE DATABASE … TEMPLATE), loaded with COPY; both dropped.

Measure: two servers, one on the demo with the rounds and one on the bare demo. One client,
requests one after another, targets interleaved (rotated each repetition), send to last
byte; medians and p95 also as ratios of GET /ping in the same run. The same logic runs
in-process alongside, so the server's share shows. Then the plans of the page's queries,
and candidate index and query changes timed on a scratch copy.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.client
import inspect
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

try:
    import uvloop
except ImportError:  # pragma: no cover - uvicorn[standard] brings it
    uvloop = None  # type: ignore[assignment]  # runs on the stock loop then

from bench import data
from bench.data import BENCH_DIR, DATA_DIR, ROOT, SQLITE_FILE, log
from bench.load import percentile_ms

RESULTS_DIR = BENCH_DIR / "results"
COVER_DIR = DATA_DIR / "coverage"  # inside bench/data/: ignored by git, and dropped when the demo is rebuilt
BUILDING_DIR = DATA_DIR / "coverage.building"
MARKER = "coverage-complete.json"
GENERATOR = 2  # bump when the generated facts change: the cached file is rebuilt
ROUNDS, CLOSED = 12, 11
SEED = 412
PASSWORD = "gridline-demo"  # web.demo.DEMO_PASSWORD
EXPECTED_HOUSEHOLDS = 300  # the grid head's grid at full size (web.demo._grid_sizes)
TARGET_SUBDISTRICT_MS, TARGET_GRID_MS = 500.0, 50.0
UNCHANGED = 0.10  # the household list "unchanged": CPU per page within 10 %
MISSING_SHOWN = 200  # web.campaigns.routes.MISSING_SHOWN: the missing households a big place's page lists

VISIT_COLUMNS = ("campaign", "household", "path", "outcome", "note", "source", "by_user", "occurred_at", "received_at")
ANSWER_COLUMNS = ("campaign", "person", "household", "path", "item", "value", "source", "by_user", "occurred_at",
                  "received_at")
HOUSEHOLD_STATUS_COLUMNS = ("campaign", "household", "path", "outcome", "outcome_at", "self_reported")
PERSON_STATUS_COLUMNS = ("campaign", "person", "household", "path", "checked", "self_reported", "sampled", "checked_at")
FACT_TABLES = (("visit", VISIT_COLUMNS), ("answer", ANSWER_COLUMNS),
               ("household_status", HOUSEHOLD_STATUS_COLUMNS), ("person_status", PERSON_STATUS_COLUMNS))

_ns = time.perf_counter_ns


# ---- the sweeps of one round, and the rows record_sweep() leaves for them ---------------------


@dataclass
class Sweep:
    """One call of record_sweep() for a household."""

    outcome: str  # "" = answers only (a sampling site, a resident's self-report)
    source: str
    user: int | None
    occurred: datetime
    received: datetime
    answers: dict[int, dict[str, str]]


@dataclass
class Home:
    id: int
    path: str
    persons: list[int]
    head_user: int | None  # the grid head who sweeps it


def sweeps_for(rng: random.Random, home: Home, start: datetime, odds: dict[str, float], site_user: int) -> list[Sweep]:
    """What happened at one door in one round: mostly a head's visit with everyone sampled;
    some nobody home or refused (their people partly sampled at a site), some never visited,
    some self-reported (then confirmed by the head, or not yet)."""
    at = start + timedelta(seconds=rng.uniform(0, 18 * 3600))

    def sweep(outcome: str, source: str, user: int | None, when: datetime, answers: dict) -> Sweep:
        return Sweep(outcome, source, user, when, when + timedelta(seconds=rng.uniform(1, 180)), answers)

    def at_site(share: float) -> list[Sweep]:
        went = {p: {"sampled": "yes"} for p in home.persons if rng.random() < share}
        return [sweep("", "site", site_user, at + timedelta(seconds=rng.uniform(3600, 4 * 3600)), went)] if went else []

    def sampled() -> dict[int, dict[str, str]]:
        return {p: {"sampled": "no" if rng.random() < 0.01 else "yes"} for p in home.persons}

    x = rng.random()
    if (x := x - odds["nobody_home"]) < 0:
        return [sweep("nobody_home", "head", home.head_user, at, {}), *at_site(0.8)]
    if (x := x - odds["refused"]) < 0:
        return [sweep("refused", "head", home.head_user, at, {}), *at_site(0.3)]
    if (x := x - odds["unvisited"]) < 0:
        return at_site(0.6)
    if (x := x - odds["self_only"]) < 0:
        return [sweep("", "self", None, at, {p: {"sampled": "yes"} for p in home.persons})] if home.persons else []
    if (x := x - odds["self_first"]) < 0 and home.persons:
        return [sweep("", "self", None, at, {p: {"sampled": "yes"} for p in home.persons}),
                sweep("visited", "head", home.head_user, at + timedelta(seconds=rng.uniform(600, 7200)), sampled())]
    outcome = "vacant" if not home.persons and rng.random() < 0.6 else "visited"
    return [sweep(outcome, "head", home.head_user, at, sampled())]


def round_odds(rng: random.Random) -> dict[str, float]:
    # 96–99 % of households reached per round, like the 3.29 rounds' "no household missed" push.
    return {"nobody_home": rng.uniform(0.006, 0.016), "refused": rng.uniform(0.001, 0.004),
            "unvisited": rng.uniform(0.002, 0.012), "self_only": 0.002, "self_first": 0.006}


def rows_of(campaign: int, home: Home, sweeps: list[Sweep]) -> tuple[list, list, tuple | None, list]:
    """The facts appended and the status left by record_sweep() for these sweeps, in order:
    the status by the app's own rules (web/campaigns/logic.py: household_after, person_after)."""
    from web.campaigns.logic import household_after, person_after
    from web.core.facts import VERIFIED

    visits, answers = [], []
    household: tuple | None = None  # outcome, outcome_at, self_reported
    persons: dict[int, tuple] = {}  # checked, self_reported, sampled, checked_at
    verified: dict[int, dict[str, str]] = {}  # each person's answers seen in person so far
    for s in sweeps:
        if s.outcome:
            visits.append((campaign, home.id, home.path, s.outcome, "", s.source, s.user, s.occurred, s.received))
        answers += [(campaign, person, home.id, home.path, item, value, s.source, s.user, s.occurred, s.received)
                    for person, given in s.answers.items() for item, value in given.items()]
        if s.outcome or s.source == "self":
            household = household_after(household, s.outcome, s.source, s.occurred)
        for person, given in s.answers.items():
            persons[person] = person_after(persons.get(person), given, s.source, s.occurred, verified.get(person))
            if s.source in VERIFIED:
                verified.setdefault(person, {}).update(given)
    status = (campaign, home.id, home.path, *household) if household else None
    return visits, answers, status, [(campaign, p, home.id, home.path, *row) for p, row in persons.items()]


@dataclass
class World:
    """What the rounds are generated over, read from the demo."""

    subdistrict: dict
    homes: list[Home]
    commander: int
    site_user: int


@dataclass
class Round:
    number: int
    created_at: datetime
    deadline: datetime
    odds: dict[str, float]
    campaign: int = 0

    @property
    def name(self) -> str:
        return f"第{self.number}轮全员核酸检测"


def plan_rounds(clock: datetime) -> list[Round]:
    """Every other day, the 12th opened a day ago with its deadline a few hours ahead."""
    rounds = []
    open_start = clock - timedelta(hours=26)
    for n in range(1, ROUNDS + 1):
        created = open_start - timedelta(days=2 * (ROUNDS - n))
        deadline = created + (timedelta(hours=30) if n == ROUNDS else timedelta(hours=24))
        rounds.append(Round(n, created, deadline, round_odds(random.Random(SEED * 100 + n))))
    return rounds


def round_rows(world: World, rnd: Round) -> tuple[dict[str, list], dict[int, list[Sweep]]]:
    rng = random.Random(SEED * 1000 + rnd.number)
    tables: dict[str, list] = {"visit": [], "answer": [], "household_status": [], "person_status": []}
    sweeps_by_home: dict[int, list[Sweep]] = {}
    for home in world.homes:
        sweeps = sweeps_for(rng, home, rnd.created_at, rnd.odds, world.site_user)
        if not sweeps:
            continue
        sweeps_by_home[home.id] = sweeps
        visits, answers, status, persons = rows_of(rnd.campaign, home, sweeps)
        tables["visit"] += visits
        tables["answer"] += answers
        if status:
            tables["household_status"].append(status)
        tables["person_status"] += persons
    return tables, sweeps_by_home


def campaign_row(world: World, rnd: Round) -> tuple:
    return (rnd.name, "testing_round", world.subdistrict["id"], world.subdistrict["path"], rnd.deadline, "sampled",
            "open", world.commander, rnd.created_at, None, "")


CAMPAIGN_COLUMNS = ("name", "kind", "place", "path", "deadline", "checks", "status", "created_by", "created_at",
                    "closed_at", "figures")


# ---- the database: SQLite (cached) or PostgreSQL (fresh) ------------------------------------------


@dataclass
class Build:
    """How the rounds were made; kept in the marker so a reused file still reports them."""

    engine: str
    built_at: str
    demo_built_at: str
    copy_s: float = 0.0
    load_s: float = 0.0
    vacuum_s: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    close_s: list[float] = field(default_factory=list)
    probe: str = ""
    campaigns: list[int] = field(default_factory=list)
    autovacuum: str = ""  # PostgreSQL's setting on this server
    clock: str = ""  # the rounds' times are laid out back from this
    reused: bool = False


@dataclass
class Target:
    """One database to measure: the demo with the rounds, and the bare demo beside it."""

    engine: str
    data_dir: Path
    database_url: str
    bare_dir: Path
    bare_url: str
    build: Build
    cleanup: Callable[[], None] = lambda: None

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / SQLITE_FILE

    def env(self, bare: bool = False, app: str = "") -> dict[str, str]:
        env = dict(os.environ)
        env["GRIDLINE_DATA"] = str(self.bare_dir if bare else self.data_dir)
        env["PICCOLO_CONF"] = "web.piccolo_conf"
        url = named(self.bare_url if bare else self.database_url, app)
        if url:
            env["DATABASE_URL"] = url
        else:
            env.pop("DATABASE_URL", None)
        return env


def _schema_print() -> str:
    """The campaigns tables and migrations as they are now: a cached file made under other
    ones is rebuilt."""
    digest = hashlib.sha256()
    folder = ROOT / "web" / "campaigns"
    for path in [folder / "tables.py", *sorted((folder / "migrations").glob("*.py"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _bind(data_dir: Path, database_url: str):
    from web import db
    from web.settings import Settings

    engine = db.make_engine(Settings(data_dir=data_dir, database_url=database_url))
    db.bind(engine)
    return engine


async def _read_world(fetch: Callable[..., Awaitable[list[dict]]]) -> World:
    [sub] = await fetch("SELECT id, name, kind, path FROM place WHERE kind = 'subdistrict'")
    heads = {r["path"]: r["user"] for r in await fetch(
        "SELECT g.user, p.path FROM role_grant g JOIN place p ON p.id = g.place WHERE g.role = 'grid_head'")}
    users = {r["username"]: r["id"] for r in await fetch(
        "SELECT id, username FROM account WHERE username IN ('commander', 'volunteer')")}
    persons: dict[int, list[int]] = {}
    for row in await fetch("SELECT id, household FROM person ORDER BY id"):
        persons.setdefault(row["household"], []).append(row["id"])
    homes = []
    for row in await fetch("SELECT id, path FROM household ORDER BY id"):
        grid = "/".join(row["path"].split("/")[:4]) + "/"
        homes.append(Home(row["id"], row["path"], persons.get(row["id"], []), heads.get(grid)))
    return World(sub, homes, users["commander"], users["volunteer"])


class ProbeMismatch(RuntimeError):
    """record_sweep() writes other rows than the bulk load: rows_of() must follow it."""


async def _probe(world: World, rounds: list[Round], sweeps: dict[int, list[Sweep]],
                 stored: Callable[[int, int], Awaitable[dict[str, list]]]) -> str:
    """Record a few of round 1's sweeps through record_sweep() into a probe campaign and
    compare what it stored with the bulk rows of the same household (ids, campaign and
    arrival time aside: record_sweep stamps its own)."""
    from web import db
    from web.campaigns import logic
    from web.campaigns.tables import Campaign

    first = rounds[0]
    kinds: dict[tuple, int] = {}
    for home in world.homes:
        if home.id in sweeps:
            shape = tuple((s.outcome, s.source) for s in sweeps[home.id])
            kinds.setdefault(shape, home.id)
    async with db.write():
        rows = await Campaign.insert(Campaign(name="probe", kind="resweep", place=world.subdistrict["id"],
                                              path=world.subdistrict["path"], deadline=first.deadline,
                                              checks="sampled", created_by=world.commander,
                                              created_at=first.created_at)).returning(Campaign.id)
    probe = rows[0]["id"]
    try:
        by_id = {h.id: h for h in world.homes}
        for household in kinds.values():
            for s in sweeps[household]:
                await logic.record_sweep({"id": probe}, {"id": household, "path": by_id[household].path}, s.outcome,
                                         "", s.answers, source=s.source, user_id=s.user, occurred=s.occurred)
        problems = []
        for household in kinds.values():
            ours, theirs = await stored(first.campaign, household), await stored(probe, household)
            for table in ours:
                if ours[table] != theirs[table]:
                    problems.append(f"{table} of household {household}: bulk {ours[table]!r} ≠ "
                                    f"record_sweep {theirs[table]!r}")
        if problems:
            raise ProbeMismatch("the bulk rows differ from what record_sweep() writes:\n" + "\n".join(problems[:5]))
        return (f"{len(kinds)} kinds of door ({', '.join('+'.join(o or s for o, s in k) for k in kinds)}) recorded "
                "through record_sweep(): same rows, same stored types")
    finally:
        async with db.write():
            for table in ("visit", "answer", "household_status", "person_status"):
                await db.fetch(f"DELETE FROM {table} WHERE campaign = {{}}", probe)
            await db.fetch("DELETE FROM campaign WHERE id = {}", probe)


async def _close(campaigns: list[int]) -> list[float]:
    """The app's own close_campaign(): it counts the round and keeps its figures."""
    from web.campaigns import logic
    from web.campaigns.tables import Campaign

    took = []
    for campaign_id in campaigns:
        campaign = await Campaign.select().where(Campaign.id == campaign_id).first()
        assert campaign is not None  # made by this run
        started = time.perf_counter()
        await logic.close_campaign(campaign)
        took.append(round(time.perf_counter() - started, 3))
        log(f"  closed round {campaign['name']} in {took[-1]:.2f} s")
    return took


STORED_ORDER = {"visit": "occurred_at, id", "answer": "person, occurred_at, id", "household_status": "id",
                "person_status": "person"}


def _received_shape(value: Any) -> str:
    # record_sweep stamps its own arrival time: compare how it is stored, not its value.
    return type(value).__name__ + ":" + re.sub(r"\d", "9", str(value))[:19]


def _stored_sqlite(connection: sqlite3.Connection):
    async def stored(campaign: int, household: int) -> dict[str, list]:
        out = {}
        for table, columns in FACT_TABLES:
            rows = connection.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE campaign = ? AND household = ?"
                                      f" ORDER BY {STORED_ORDER[table]}", (campaign, household)).fetchall()
            out[table] = [tuple(_received_shape(v) if c == "received_at" else (type(v).__name__, v)
                                for c, v in zip(columns, row) if c != "campaign") for row in rows]
        return out

    return stored


async def _build_sqlite(base: data.Database) -> Build:
    """Copy the demo, add the rounds, close 11 of them; into BUILDING_DIR."""
    from web import db

    shutil.rmtree(BUILDING_DIR, ignore_errors=True)
    BUILDING_DIR.mkdir(parents=True)
    target = BUILDING_DIR / SQLITE_FILE
    build = Build("sqlite", datetime.now(UTC).isoformat(timespec="seconds"), base.generation.built_at)
    started = time.perf_counter()
    with sqlite3.connect(f"file:{base.sqlite_path}?mode=ro", uri=True) as source, sqlite3.connect(target) as copy:
        source.backup(copy)  # consistent even with a WAL beside the file
    build.copy_s = round(time.perf_counter() - started, 2)

    engine = _bind(BUILDING_DIR, "")
    await db.start(engine)
    try:
        await db.migrate()  # a demo built before the campaigns app has no tables for them
        raw = sqlite3.connect(target, isolation_level=None)
        raw.row_factory = sqlite3.Row
        raw.execute("PRAGMA synchronous = OFF")  # a scratch build: checkpointed and closed at the end
        raw.execute("PRAGMA cache_size = -524288")  # 512 MiB: the indexes of 1.8M rows stay in memory

        async def fetch(sql: str) -> list[dict]:
            return [dict(r) for r in raw.execute(sql)]

        world = await _read_world(fetch)
        clock = datetime.now(UTC)
        build.clock = clock.isoformat()
        rounds = plan_rounds(clock)
        started = time.perf_counter()
        first_sweeps: dict[int, list[Sweep]] = {}
        for rnd in rounds:
            raw.execute("BEGIN")
            made = raw.execute(
                f"INSERT INTO campaign ({', '.join(CAMPAIGN_COLUMNS)}) VALUES ({', '.join('?' * 11)})",
                campaign_row(world, rnd)).lastrowid
            assert made is not None  # an INSERT's row
            rnd.campaign = made
            tables, sweeps = round_rows(world, rnd)
            if rnd.number == 1:
                first_sweeps = sweeps
            for table, columns in FACT_TABLES:
                raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                                tables[table])
                build.rows[table] = build.rows.get(table, 0) + len(tables[table])
            raw.execute("COMMIT")
            log(f"  round {rnd.number}: {len(tables['person_status']):,} person status rows, "
                f"{len(tables['answer']):,} answers ({time.perf_counter() - started:.0f} s)")
        build.load_s = round(time.perf_counter() - started, 1)
        build.campaigns = [r.campaign for r in rounds]
        build.probe = await _probe(world, rounds, first_sweeps, _stored_sqlite(raw))
        log(f"  probe: {build.probe}")
        build.close_s = await _close(build.campaigns[:CLOSED])
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.close()
    finally:
        await db.stop(engine)
    return build


async def _reprobe(build: Build) -> str:
    """The probe again on the cached file: record_sweep() may have changed since."""
    from web import db

    engine = _bind(COVER_DIR, "")
    await db.start(engine)
    raw = sqlite3.connect(COVER_DIR / SQLITE_FILE)
    raw.row_factory = sqlite3.Row
    try:
        await db.migrate()

        async def fetch(sql: str) -> list[dict]:
            return [dict(r) for r in raw.execute(sql)]

        world = await _read_world(fetch)
        first = plan_rounds(datetime.fromisoformat(build.clock))[0]
        first.campaign = build.campaigns[0]
        _tables, sweeps = round_rows(world, first)
        return await _probe(world, [first], sweeps, _stored_sqlite(raw))
    finally:
        raw.close()
        await db.stop(engine)


def sqlite_target(rebuild: bool) -> Target:
    base = data.sqlite_database(False)
    key = {"generator": GENERATOR, "schema": _schema_print(), "demo_built_at": base.generation.built_at}
    marker = COVER_DIR / MARKER
    if not rebuild and marker.exists() and (COVER_DIR / SQLITE_FILE).exists():
        kept = json.loads(marker.read_text(encoding="utf-8"))
        build = Build(**kept["build"])
        if kept.get("key") != key or not build.clock:
            log("the cached rounds were made for another demo or schema; rebuilding")
        else:
            try:
                build.probe = asyncio.run(_reprobe(build))
            except ProbeMismatch as error:
                log(f"record_sweep() has changed since the cached rounds were made; rebuilding ({error})")
            else:
                build.reused = True
                log(f"reusing {COVER_DIR / SQLITE_FILE} (built {build.built_at}; probe passed again; "
                    "--rebuild to make it again)")
                return Target("sqlite", COVER_DIR, "", DATA_DIR, "", build)
    log("adding 12 testing rounds to a copy of the demo")
    build = asyncio.run(_build_sqlite(base))
    (BUILDING_DIR / MARKER).write_text(json.dumps({"key": key, "build": asdict(build)}, indent=2) + "\n",
                                       encoding="utf-8")
    shutil.rmtree(COVER_DIR, ignore_errors=True)
    BUILDING_DIR.rename(COVER_DIR)
    return Target("sqlite", COVER_DIR, "", DATA_DIR, "", build)


def _stored_postgres(connection):
    async def stored(campaign: int, household: int) -> dict[str, list]:
        out = {}
        for table, columns in FACT_TABLES:
            rows = await connection.fetch(f"SELECT {', '.join(columns)} FROM {table} WHERE campaign = $1 AND "
                                          f"household = $2 ORDER BY {STORED_ORDER[table]}", campaign, household)
            out[table] = [tuple(_received_shape(v) if c == "received_at" else (type(v).__name__, v)
                                for c, v in zip(columns, row) if c != "campaign") for row in rows]
        return out

    return stored


async def _build_postgres(url: str, build: Build) -> None:
    import asyncpg

    from web import db

    engine = _bind(Path(tempfile.gettempdir()), url)
    await db.start(engine)
    connection = await asyncpg.connect(url)
    try:
        await db.migrate()

        async def fetch(sql: str) -> list[dict]:
            return [dict(r) for r in await connection.fetch(sql.replace("g.user", 'g."user"'))]

        world = await _read_world(fetch)
        clock = datetime.now(UTC)
        build.clock = clock.isoformat()
        rounds = plan_rounds(clock)
        if await connection.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            # Per-row foreign-key triggers are most of COPY's time; every id was just read from here.
            await connection.execute("SET session_replication_role = replica")
        started = time.perf_counter()
        first_sweeps: dict[int, list[Sweep]] = {}
        for rnd in rounds:
            async with connection.transaction():
                rnd.campaign = await connection.fetchval(
                    f"INSERT INTO campaign ({', '.join(CAMPAIGN_COLUMNS)}) VALUES "
                    f"({', '.join(f'${i + 1}' for i in range(11))}) RETURNING id", *campaign_row(world, rnd))
                tables, sweeps = round_rows(world, rnd)
                if rnd.number == 1:
                    first_sweeps = sweeps
                for table, columns in FACT_TABLES:
                    await connection.copy_records_to_table(table, records=tables[table], columns=list(columns))
                    build.rows[table] = build.rows.get(table, 0) + len(tables[table])
            log(f"  round {rnd.number}: {len(tables['person_status']):,} person status rows, "
                f"{len(tables['answer']):,} answers ({time.perf_counter() - started:.0f} s)")
        build.load_s = round(time.perf_counter() - started, 1)
        build.campaigns = [r.campaign for r in rounds]
        await connection.execute("RESET session_replication_role")
        # What autovacuum does in time (statistics, visibility map), whether or not it runs here.
        started = time.perf_counter()
        await connection.execute("VACUUM ANALYZE")
        build.vacuum_s = round(time.perf_counter() - started, 1)
        build.probe = await _probe(world, rounds, first_sweeps, _stored_postgres(connection))
        log(f"  probe: {build.probe}")
        build.close_s = await _close(build.campaigns[:CLOSED])
        await connection.execute("VACUUM ANALYZE campaign")
    finally:
        await connection.close()
        await db.stop(engine)


def _pg_setting(url: str, name: str) -> str:
    import asyncpg

    async def read() -> str:
        connection = await asyncpg.connect(url)
        try:
            return await connection.fetchval(f"SHOW {name}")
        finally:
            await connection.close()

    return asyncio.run(read())


def postgres_target(admin_dsn: str) -> Target:
    """The fresh demo database (bench/data.py), copied as a template; the rounds go into the copy."""
    base = data.postgres_database(admin_dsn)
    bare_name = base.database_url.rsplit("/", 1)[1].split("?")[0]
    name = bare_name + "_rounds"
    url = data._with_database(admin_dsn, name)
    scratch = Path(tempfile.mkdtemp(prefix="gridline-bench-cov-"))

    def cleanup() -> None:
        log(f"dropping PostgreSQL database {name}")
        try:
            data._pg_admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            base.cleanup()

    build = Build("postgres", datetime.now(UTC).isoformat(timespec="seconds"), base.generation.built_at)
    try:
        started = time.perf_counter()
        data._pg_admin(admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{bare_name}"')
        build.copy_s = round(time.perf_counter() - started, 2)
        log(f"copied the demo database into {name} in {build.copy_s} s; adding 12 testing rounds")
        asyncio.run(_build_postgres(url, build))
        # The bare demo gets the same upkeep, so the household lists compare like with like.
        data._pg_admin(base.database_url, "VACUUM ANALYZE")
        build.autovacuum = _pg_setting(url, "autovacuum")
    except BaseException:
        cleanup()
        raise
    return Target("postgres", scratch, url, base.data_dir, base.database_url, build, cleanup)


# ---- measuring --------------------------------------------------------------------------------


def named(url: str, name: str) -> str:
    """The URL with an application_name, so this run's PostgreSQL backends can be told apart
    (asyncpg passes unknown query parameters on as server settings)."""
    return f"{url}{'&' if '?' in url else '?'}application_name={name}" if url else url


def cpu_ns(pids: list[int]) -> int:
    """CPU time of these processes, all their threads, in ns (schedstat: exact, unlike wall
    time on a machine other work shares)."""
    total = 0
    for pid in pids:
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/schedstat", "rb") as handle:
                    total += int(handle.read().split()[0])
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return total


class Backends:
    """The PostgreSQL backends of this run, by application_name (none on SQLite)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pids: dict[str, list[int]] = {}
        self.connection: Any = None

    async def refresh(self) -> None:
        if not self.url:
            return
        import asyncpg

        if self.connection is None:
            self.connection = await asyncpg.connect(self.url)
        rows = await self.connection.fetch("SELECT pid, application_name FROM pg_stat_activity"
                                           " WHERE application_name LIKE 'gl-bench-%'")
        self.pids = {}
        for row in rows:
            self.pids.setdefault(row["application_name"], []).append(row["pid"])

    def of(self, name: str) -> list[int]:
        return self.pids.get(name, [])

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()


class Client:
    """One keep-alive HTTP/1.1 connection, requests one after another."""

    def __init__(self, port: int, cookie: str = "") -> None:
        self.port = port
        self.headers = {"Cookie": f"gl_session={cookie}"} if cookie else {}
        self.connection: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.connection.request("GET", path, headers=self.headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


@dataclass
class Series:
    name: str
    what: str
    kind: str  # "http" | "logic"
    samples_ns: list[int] = field(default_factory=list)
    cpu_ns: list[int] = field(default_factory=list)  # the server's (or this process's), with its backends
    parts_ns: dict[str, list[int]] = field(default_factory=dict)  # in-process: time per step
    bytes: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def ms(self, p: float) -> float:
        return percentile_ms(sorted(self.samples_ns), p)

    def cpu_ms(self, p: float = 50) -> float:
        return percentile_ms(sorted(self.cpu_ns), p)

    def part_ms(self, part: str, p: float = 50) -> float:
        return percentile_ms(sorted(self.parts_ns.get(part, [])), p)


async def page_logic(campaign_id: int, place: dict, scope: Any, parts: dict[str, int]) -> None:
    """What the progress route asks of web.campaigns.logic, without HTTP or the template:
    the figures, the children's rollups, the rounds' chart, the sweep or missing list."""
    from web.campaigns import logic
    from web.campaigns.tables import Campaign
    from web.households.logic import households_under
    from web.places.tables import Place

    t0 = _ns()
    campaign = await Campaign.select().where(Campaign.id == campaign_id).first()
    assert campaign is not None  # made by this run
    figures = await logic.coverage_under(campaign, place["path"])
    t1 = _ns()
    kids = await Place.select().where(Place.parent == place["id"]).order_by(Place.id)
    [logic.rollup(figures, kid["path"]) for kid in kids]
    logic.rollup(figures, place["path"])
    t2 = _ns()
    if "current" in inspect.signature(logic.rounds_at).parameters:
        rounds = await logic.rounds_at(place, campaign, figures)
    else:  # before rounds_at() took the page's figures
        rounds = await logic.rounds_at(place, campaign)  # type: ignore[call-arg]  # an older checkout's signature
    t3 = _ns()
    if place["kind"] in ("grid", "microgrid"):
        await households_under(place["path"], scope)
        await logic.statuses_under(campaign_id, place["path"])
    elif hasattr(logic, "missing_under"):
        await logic.missing_under(campaign_id, place["path"], MISSING_SHOWN)
    t4 = _ns()
    parts["coverage_under"] = t1 - t0
    parts["rollups"] = t2 - t1
    parts["rounds_at"] = t3 - t2
    parts["list"] = t4 - t3
    if len(rounds) != ROUNDS:
        raise RuntimeError(f"rounds_at gave {len(rounds)} rounds, not {ROUNDS}")


INPROC = "gl-bench-inproc"  # application_name of this process's own PostgreSQL connections


def inproc_cpu(backends: Backends) -> int:
    return time.process_time_ns() + cpu_ns(backends.of(INPROC))


@dataclass
class Measured:
    series: list[Series]
    route: str  # how the progress route answered
    list_same_html: bool
    reps: int
    seconds: float
    others_cores: float  # CPU other processes used during the run, in cores
    quiet: str = ""


async def _measure(target: Target, reps: int, warmup: int, quiet: str) -> tuple[Measured, dict]:
    from web import db
    from web.accounts.auth import load_principal
    from web.settings import Settings

    from bench.load import system_busy_seconds
    from bench.server import Server

    engine = _bind(target.data_dir, named(target.database_url, INPROC))
    await db.start(engine)
    backends = Backends(target.database_url)
    servers = [Server(target.env(app="gl-bench-rounds"), RESULTS_DIR / f"coverage-server-{target.engine}.log"),
               Server(target.env(bare=True, app="gl-bench-bare"),
                      RESULTS_DIR / f"coverage-server-bare-{target.engine}.log")]
    try:
        places = await db.fetch("SELECT id, name, kind, parent, path FROM place WHERE kind IN ('subdistrict', 'grid')"
                                " ORDER BY id")
        sub = next(p for p in places if p["kind"] == "subdistrict")
        grid = next(p for p in places if p["kind"] == "grid")
        campaigns = target.build.campaigns
        open_round, closed_round = campaigns[-1], campaigns[CLOSED - 1]
        for server in servers:
            server.start()
        rounds, bare = servers
        commander = rounds.sign_in("commander", PASSWORD)
        head, bare_head = rounds.sign_in("gridhead", PASSWORD), bare.sign_in("gridhead", PASSWORD)
        principal = await load_principal(commander, Settings().session_idle_days)
        assert principal is not None, "the demo commander's session loads"
        c_rounds, c_bare = Client(rounds.port), Client(bare.port)
        c_commander, c_head = Client(rounds.port, commander), Client(rounds.port, head)
        c_bare_head = Client(bare.port, bare_head)

        list_path = f"/places/{grid['id']}"
        pages = {}
        for name, client in (("rounds", c_head), ("bare", c_bare_head)):
            status, body = client.get(list_path)
            rows = body.decode().count('<a class="row" href="/households/')
            if status != 200 or rows != EXPECTED_HOUSEHOLDS:
                raise RuntimeError(f"GET {list_path} ({name}): HTTP {status}, {rows} households listed")
            pages[name] = body
        sub_path = f"/campaigns/{open_round}/places/{sub['id']}"
        status, body = c_commander.get(sub_path)
        route = f"HTTP {status}, {len(body):,} bytes"
        http_ok = status == 200
        if not http_ok:
            log(f"GET {sub_path} as commander: {route}; measuring the logic in-process only")

        series: list[Series] = []
        steps: list[Callable[[], Awaitable[None] | None]] = []

        def http(name: str, what: str, client: Client, path: str, server: Server, app: str) -> None:
            s = Series(name, f"GET {path} ({what})", "http")

            def step() -> None:
                pids = [server.pid, *backends.of(app)]
                c0 = cpu_ns(pids)
                t0 = _ns()
                status, body = client.get(path)
                t1 = _ns()
                s.cpu_ns.append(cpu_ns(pids) - c0)
                s.samples_ns.append(t1 - t0)
                s.statuses[status] = s.statuses.get(status, 0) + 1
                s.bytes = len(body)

            series.append(s)
            steps.append(step)

        def inproc(name: str, campaign_id: int, place: dict) -> None:
            s = Series(name, f"logic of /campaigns/{campaign_id}/places/{place['id']}, in-process", "logic")

            async def step() -> None:
                parts: dict[str, int] = {}
                c0 = inproc_cpu(backends)
                t0 = _ns()
                await page_logic(campaign_id, place, principal.scope, parts)
                t1 = _ns()
                s.cpu_ns.append(inproc_cpu(backends) - c0)
                s.samples_ns.append(t1 - t0)
                for part, ns in parts.items():
                    s.parts_ns.setdefault(part, []).append(ns)

            series.append(s)
            steps.append(step)

        http("ping", "bare endpoint", c_rounds, "/ping", rounds, "gl-bench-rounds")
        http("ping, bare demo", "the server on the demo without rounds", c_bare, "/ping", bare, "gl-bench-bare")
        http("household list", "grid head, demo with 12 rounds", c_head, list_path, rounds, "gl-bench-rounds")
        http("household list, bare demo", "grid head, demo without rounds", c_bare_head, list_path, bare,
             "gl-bench-bare")
        if http_ok:
            for label, place in (("sub-district", sub), ("grid", grid)):
                http(f"coverage, {label}", "open round, commander", c_commander,
                     f"/campaigns/{open_round}/places/{place['id']}", rounds, "gl-bench-rounds")
            for label, place in (("sub-district", sub), ("grid", grid)):
                http(f"coverage, {label}, closed round", "kept figures, commander", c_commander,
                     f"/campaigns/{closed_round}/places/{place['id']}", rounds, "gl-bench-rounds")
        inproc("logic, sub-district", open_round, sub)
        inproc("logic, grid", open_round, grid)

        log(f"measuring {len(steps)} targets interleaved: {warmup} + {reps} repetitions")
        started = time.perf_counter()
        busy0 = ours0 = 0.0
        for rep in range(warmup + reps):
            await backends.refresh()
            if rep == warmup:
                for s in series:
                    for kept in (s.samples_ns, s.cpu_ns, s.parts_ns, s.statuses):
                        kept.clear()
                started = time.perf_counter()
                busy0 = system_busy_seconds()
                ours0 = time.process_time() + cpu_ns([rounds.pid, bare.pid, *backends.of(INPROC),
                                                      *backends.of("gl-bench-rounds"),
                                                      *backends.of("gl-bench-bare")]) / 1e9
            shift = rep % len(steps)
            for step in steps[shift:] + steps[:shift]:
                result = step()
                if result is not None:
                    await result
            if rep >= warmup and (rep - warmup + 1) % 20 == 0:
                log(f"  {rep - warmup + 1}/{reps} repetitions ({time.perf_counter() - started:.0f} s)")
        seconds = time.perf_counter() - started
        ours = time.process_time() + cpu_ns([rounds.pid, bare.pid, *backends.of(INPROC),
                                             *backends.of("gl-bench-rounds"), *backends.of("gl-bench-bare")]) / 1e9
        others = max(0.0, (system_busy_seconds() - busy0) - (ours - ours0)) / seconds
        for server in servers:
            server.check_alive()
        measured = Measured(series, route, pages["rounds"] == pages["bare"], reps, seconds, others, quiet)
        context = {"sub": sub, "grid": grid, "open": open_round, "closed": closed_round, "scope": principal.scope}
        return measured, context
    finally:
        for server in servers:
            server.stop()
        await backends.close()
        await db.stop(engine)


# ---- query plans ------------------------------------------------------------------------------


@dataclass
class Plan:
    where: str  # which call ran it
    raw: str  # as the app sends it, `{}` placeholders
    sql: str  # compiled for the engine
    args: list
    plan: str
    uses: str
    ms: float = float("nan")  # median of the bare query as the app runs it (wall)
    cpu_ms: float = float("nan")  # and its CPU (this process, or the PostgreSQL backend and this process)
    generic: str = ""  # PostgreSQL: the generic plan, when the plan cache chose it


async def _captured(call: Callable[[], Awaitable[Any]]) -> list[tuple[str, list]]:
    """The SQL the app's function sends, as it sends it (db.fetch and db.fetch_long spied)."""
    from web import db

    seen: list[tuple[str, list]] = []
    fetch, fetch_long = db.fetch, db.fetch_long

    async def spy(sql: str, *args: Any) -> list[dict]:
        seen.append((sql, list(args)))
        return await fetch(sql, *args)

    db.fetch = db.fetch_long = spy
    try:
        await call()
    finally:
        db.fetch, db.fetch_long = fetch, fetch_long
    return seen


def _compile(sql: str, engine: str) -> str:
    parts = sql.split("{}")
    mark = (lambda i: "?") if engine == "sqlite" else (lambda i: f"${i + 1}")
    return "".join(part + (mark(i) if i < len(parts) - 1 else "") for i, part in enumerate(parts))


def as_range(sql: str, args: list) -> tuple[str, list]:
    """`path LIKE '/1/2/%'` as `path >= '/1/2/' AND path < '/1/20'` ("/" + 1 is "0"): a plain
    range any plan can use, a generic one included (paths compare as bytes on both engines)."""
    parts = sql.split("{}")
    out, values = parts[0], []
    for i, arg in enumerate(args):
        match = re.search(r"(\w+\.)?path LIKE $", out)
        if match and isinstance(arg, str) and arg.endswith("/%"):
            column = (match.group(1) or "") + "path"
            out = out[:match.start()] + f"{column} >= {{}} AND {column} < {{}}"
            values += [arg[:-1], arg[:-2] + "0"]
        else:
            out += "{}"
            values.append(arg)
        out += parts[i + 1]
    return out, values


def _uses_sqlite(plan: str) -> str:
    said = []
    for line in plan.splitlines():
        if match := re.match(r"(SEARCH|SCAN) (\w+) USING (COVERING )?INDEX (\w+)", line):
            how = "covering" if match.group(3) else "+ a table lookup per row"
            said.append(f"{match.group(4)} ({how}{', searched' if match.group(1) == 'SEARCH' else ', scanned whole'})")
        elif match := re.match(r"SCAN (\w+)", line):
            said.append(f"{match.group(1)}: full scan")
        elif "TEMP B-TREE" in line:
            said.append(line.strip().lower().replace("use ", ""))
    return "; ".join(said)


def _uses_postgres(plan: str) -> str:
    said: list[str] = []
    node: list[str] = []  # the conditions of the scan node being read

    def close() -> None:
        if said and node:
            if any("Index Cond" in c and "path >=" in c.replace("(path)::text", "path") for c in node):
                said[-1] += " (path as an index range)"
            elif any("path" in c for c in node):
                said[-1] += " (path only as a row filter)"
        node.clear()

    for line in plan.splitlines():
        if match := re.search(r"(Index Only Scan|Index Scan|Bitmap Index Scan|Bitmap Heap Scan|Seq Scan)"
                              r"(?: using (\w+))? on (\w+)", line):
            close()
            said.append(f"{match.group(1)} {match.group(2) or match.group(3)}")
        elif "->" in line:
            close()
        elif re.search(r"(Index Cond|Recheck Cond|Filter):", line):
            node.append(line)
        elif "Sort Method: external" in line:
            said.append("sort spilled to disk")
    close()
    heap = sum(int(n) for n in re.findall(r"Heap Fetches: (\d+)", plan))
    if "Index Only Scan" in plan:
        said.append(f"{heap:,} heap fetches")
    if jit := re.search(r"Timing: .*Total ([0-9.]+) ms", plan):
        said.append(f"JIT {float(jit.group(1)):.0f} ms")
    return "; ".join(s for s in said if not s.startswith("Bitmap Heap Scan") or "filter" in s)


def _literal(value: Any) -> str:
    return str(value) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"


async def _generic_plan(connection, sql: str, args: list) -> str:
    """EXPLAIN ANALYZE of the generic plan: a named prepared statement, planned blind to its
    values (EXPLAIN with bound values would show a custom plan)."""
    await connection.execute(f"PREPARE bench_generic AS {sql}")
    try:
        await connection.execute("SET plan_cache_mode = force_generic_plan")
        rows = await connection.fetch(f"EXPLAIN (ANALYZE) EXECUTE bench_generic({', '.join(map(_literal, args))})")
        return "\n".join(r[0] for r in rows)
    finally:
        await connection.execute("RESET plan_cache_mode")
        await connection.execute("DEALLOCATE bench_generic")


async def plans(target: Target, context: dict, reps: int = 15) -> list[Plan]:
    from web.campaigns import logic

    campaign = {"id": context["open"], "path": context["sub"]["path"], "status": "open", "figures": ""}
    calls = []
    for place, label in ((context["sub"], "sub-district"), (context["grid"], "grid")):
        async def count(p: dict = place) -> Any:
            return await logic.coverage_under(campaign, p["path"])

        for sql, args in await _captured(count):
            found_table = re.search(r"FROM (\w+)", sql)
            assert found_table is not None  # every coverage query reads a table
            table = found_table.group(1)
            calls.append((f"_count_under, {label}: {table}", sql, args))
    if hasattr(logic, "missing_under"):
        for sql, args in await _captured(lambda: logic.missing_under(context["open"], context["sub"]["path"],
                                                                    MISSING_SHOWN)):
            calls.append(("missing_under, sub-district", sql, args))
    for sql, args in await _captured(lambda: logic.statuses_under(context["open"], context["grid"]["path"])):
        calls.append(("statuses_under, grid", sql, args))
    out = []
    if target.engine == "sqlite":
        connection = _sqlite_reader(target.sqlite_path)
        for where, raw, args in calls:
            sql = _compile(raw, "sqlite")
            plan = "\n".join(r[3] for r in connection.execute("EXPLAIN QUERY PLAN " + sql, args))
            timed = _time_sqlite(connection, sql, args, reps)
            out.append(Plan(where, raw, sql, args, plan, _uses_sqlite(plan), *timed))
        connection.close()
        return out
    import asyncpg

    connection = await asyncpg.connect(target.database_url)
    try:
        for where, raw, args in calls:
            sql = _compile(raw, "postgres")
            # As the app runs it: asyncpg prepares the statement and keeps it, so from the
            # sixth run on PostgreSQL may use a generic plan, blind to the values.
            ms = await _time_postgres(connection, sql, args, reps)
            cache = await connection.fetchrow(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1", sql)
            plan = "\n".join(r[0] for r in await connection.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args))
            found = Plan(where, raw, sql, args, plan, _uses_postgres(plan), *ms)
            if cache and cache["generic_plans"]:
                found.generic = generic = await _generic_plan(connection, sql, args)
                found.uses = f"custom plan: {found.uses} — **generic plan used by the app's prepared statement " \
                             f"after {cache['custom_plans']} custom runs**: {_uses_postgres(generic)}"
            out.append(found)
    finally:
        await connection.close()
    return out


def _sqlite_reader(path: Path) -> sqlite3.Connection:
    from web.db import SQLITE_PRAGMAS

    connection = sqlite3.connect(path)
    for pragma in SQLITE_PRAGMAS:  # the app's: case_sensitive_like lets LIKE use the path indexes
        connection.execute(pragma)
    return connection


def _plan_sqlite(connection: sqlite3.Connection, sql: str, args: list) -> str:
    return "\n".join(r[3] for r in connection.execute("EXPLAIN QUERY PLAN " + sql, args))


def _time_sqlite(connection: sqlite3.Connection, sql: str, args: list, reps: int) -> tuple[float, float]:
    connection.execute(sql, args).fetchall()  # warm
    took, cpu = [], []
    for _ in range(reps):
        c0, t0 = time.process_time_ns(), _ns()
        connection.execute(sql, args).fetchall()
        took.append(_ns() - t0)
        cpu.append(time.process_time_ns() - c0)
    return statistics.median(took) / 1e6, statistics.median(cpu) / 1e6


async def _time_postgres(connection, sql: str, args: list, reps: int) -> tuple[float, float]:
    pid = [connection.get_server_pid()]
    took, cpu = [], []
    for _ in range(reps):
        c0, t0 = time.process_time_ns() + cpu_ns(pid), _ns()
        await connection.fetch(sql, *args)
        took.append(_ns() - t0)
        cpu.append(time.process_time_ns() + cpu_ns(pid) - c0)
    return statistics.median(took) / 1e6, statistics.median(cpu) / 1e6


# ---- candidate changes, tried on a scratch copy -------------------------------------------------


@dataclass
class Trial:
    change: str
    query: str
    before_ms: float
    after_ms: float
    before_cpu: float
    after_cpu: float
    note: str = ""


def _trial(change: str, query: str, before: tuple[float, float], after: tuple[float, float], note: str = "") -> Trial:
    return Trial(change, query, before[0], after[0], before[1], after[1], note)


HS_COVER = "CREATE INDEX household_status_cover ON household_status (campaign, path, outcome, self_reported)"


class LogicChanges:
    """Changes to web.campaigns.logic tried in-process by patching the loaded module (the
    file is not touched): each does what the same change to the code would do."""

    NAMES = ("reuse", "cache", "add", "reader", "range")
    LABELS = {
        "reuse": "rounds_at() reuses the figures the page already counted (no second live count)",
        "cache": "closed rounds' kept figures parsed once per process (they never change)",
        "add": "Coverage.add over a fixed tuple of field names (no dataclasses.fields() per call)",
        "reader": "fetch_long() on one long-lived connection in its thread (SQLite; not a new one per query)",
        "range": "the plain-SQL queries' `path LIKE` as a prefix range (`path >= {} AND path < {}`)",
    }

    @staticmethod
    def already(name: str) -> bool:
        """Is this change in web/campaigns/logic.py already? (it is being worked on)"""
        from web.campaigns import logic

        if name == "reuse":
            return "current" in inspect.signature(logic.rounds_at).parameters
        if name == "cache":
            return hasattr(logic, "kept_figures")
        if name == "add":
            return "fields(" not in inspect.getsource(logic.Coverage.add)
        if name == "range":
            return "path LIKE" not in inspect.getsource(logic._count_under)
        return False

    def __init__(self, on: set[str]) -> None:
        self.on = on
        self.memo: dict = {}
        self.kept: dict[int, dict] = {}
        self.saved: list[tuple[Any, str, Any]] = []
        self.connection: sqlite3.Connection | None = None

    def before_call(self) -> None:
        self.memo.clear()  # the page's own figures live as long as one request

    def __enter__(self) -> "LogicChanges":
        from web import db
        from web.campaigns import logic

        real = logic.coverage_under

        async def coverage_under(campaign: dict, prefix: str):
            key = (campaign["id"], campaign["status"], prefix)
            if "reuse" in self.on and key in self.memo:
                return self.memo[key]
            if "cache" in self.on and campaign["status"] == "closed" and campaign["figures"]:
                parsed = self.kept.get(campaign["id"])
                if parsed is None:
                    parsed = self.kept[campaign["id"]] = await real(campaign, "/")
                figures = {path: c for path, c in parsed.items() if path.startswith(prefix)}
            else:
                figures = await real(campaign, prefix)
            self.memo[key] = figures
            return figures

        self._set(logic, "coverage_under", coverage_under)
        if "add" in self.on:
            names = tuple(f.name for f in logic.fields(logic.Coverage))

            def add(this, other) -> None:
                for name in names:
                    setattr(this, name, getattr(this, name) + getattr(other, name))

            self._set(logic.Coverage, "add", add)
        if "reader" in self.on and isinstance(db.engine(), db.LoopSQLiteEngine):
            def run(engine: Any, query: str, args: list) -> list[dict]:
                if self.connection is None:
                    self.connection = engine._open()
                return self.connection.execute(query, args).fetchall()

            async def fetch_in_thread(engine: Any, query: str, args: list) -> list[dict]:
                return await asyncio.to_thread(run, engine, query, args)

            self._set(db.LoopSQLiteEngine, "fetch_in_thread", fetch_in_thread)
        if "range" in self.on:
            def ranging(real: Callable[..., Awaitable[list[dict]]]) -> Callable[..., Awaitable[list[dict]]]:
                def ranged(sql: str, *args: Any) -> Awaitable[list[dict]]:
                    sql, values = as_range(sql, list(args))
                    return real(sql, *values)

                return ranged

            for name in ("fetch", "fetch_long"):
                self._set(db, name, ranging(getattr(db, name)))
        return self

    def _set(self, owner: Any, name: str, value: Any) -> None:
        self.saved.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, value)

    def __exit__(self, *_exc) -> None:
        for owner, name, value in reversed(self.saved):
            setattr(owner, name, value)
        self.saved.clear()
        if self.connection is not None:
            self.connection.close()


async def _page_ms(context: dict, place: dict, on: set[str], reps: int, backends: Backends) -> tuple[float, float]:
    """Median wall and CPU ms of page_logic() with these changes."""
    took, cpu = [], []
    with LogicChanges(on) as changes:
        for n in range(reps + 2):
            changes.before_call()
            c0, t0 = inproc_cpu(backends), _ns()
            await page_logic(context["open"], place, context["scope"], {})
            if n >= 2:  # the first calls fill the caches being tried
                took.append(_ns() - t0)
                cpu.append(inproc_cpu(backends) - c0)
    return statistics.median(took) / 1e6, statistics.median(cpu) / 1e6


async def logic_trials(context: dict, engine: str, reps: int, backends: Backends,
                       baseline: dict[str, tuple[float, float]]) -> list[Trial]:
    """The progress page's logic (page_logic) with each change alone, then all together;
    `baseline` gets the unchanged figures per place."""
    variants = [{name} for name in LogicChanges.NAMES
                if (name != "reader" or engine == "sqlite") and not LogicChanges.already(name)]
    if len(variants) > 1:
        variants.append(set().union(*variants))
    out = []
    for place, label in ((context["sub"], "sub-district"), (context["grid"], "grid")):
        await backends.refresh()
        before = baseline[label] = await _page_ms(context, place, set(), reps, backends)
        for on in variants:
            after = await _page_ms(context, place, on, reps, backends)
            change = LogicChanges.LABELS[next(iter(on))] if len(on) == 1 else "all of the above together"
            out.append(_trial(change, f"page logic, {label}", before, after))
    return out


async def db_trials(target: Target, found: list[Plan], context: dict, reps: int, backends: Backends,
                    baseline: dict[str, tuple[float, float]]) -> list[Trial]:
    """The coverage queries as prefix ranges; the household_status index with self_reported
    (the coverage query groups by it); on PostgreSQL custom plans; then the page logic with
    the logic changes and the index together."""
    from web import db

    out: list[Trial] = []
    counts = [p for p in found if p.where.startswith(("_count_under", "missing_under", "statuses_under"))]
    hs = [p for p in found if p.where.startswith("_count_under") and "FROM household_status" in p.sql]
    every = {name for name in LogicChanges.NAMES if not LogicChanges.already(name)}
    if target.engine == "sqlite":
        scratch = Path(tempfile.mkdtemp(prefix="gridline-bench-cov-trial-"))
        try:
            copy_path = scratch / SQLITE_FILE
            with sqlite3.connect(f"file:{target.sqlite_path}?mode=ro", uri=True) as source, \
                    sqlite3.connect(copy_path) as copy:
                source.backup(copy)
            connection = _sqlite_reader(copy_path)
            for p in counts:
                raw, args = as_range(p.raw, p.args)
                sql = _compile(raw, "sqlite")
                out.append(_trial("prefix range instead of LIKE", p.where, (p.ms, p.cpu_ms),
                                  _time_sqlite(connection, sql, args, reps), _uses_sqlite(_plan_sqlite(
                                      connection, sql, args))))
            if any(r[2] == "self_reported" for r in connection.execute("PRAGMA index_info(household_status_cover)")):
                hs = []  # the migration has it already
            before = {p.where: _time_sqlite(connection, p.sql, p.args, reps) for p in hs}
            if hs:
                connection.execute("DROP INDEX household_status_cover")
                connection.execute(HS_COVER)
            for p in hs:
                out.append(_trial("household_status_cover (campaign, path, outcome, self_reported)", p.where,
                                  before[p.where], _time_sqlite(connection, p.sql, p.args, reps),
                                  _uses_sqlite(_plan_sqlite(connection, p.sql, p.args))))
            connection.commit()
            original = db.engine()
            engine = _bind(scratch, "")
            try:
                for place, label in ((context["sub"], "sub-district"), (context["grid"], "grid")):
                    after = await _page_ms(context, place, every, reps, backends)
                    out.append(_trial("all the changes above together", f"page logic, {label}",
                                      baseline[label], after))
            finally:
                await db.stop(engine)
                db.bind(original)
            # The app never runs ANALYZE: would statistics change a plan? (with the index above)
            others = [q for q in found if not q.where.startswith("_count_under") or q in hs]
            timed = {id(q): _time_sqlite(connection, q.sql, q.args, reps) for q in others}
            plans_before = {id(q): _plan_sqlite(connection, q.sql, q.args) for q in others}
            connection.execute("ANALYZE")
            connection.commit()
            for q in others:
                after, plan = _time_sqlite(connection, q.sql, q.args, reps), _plan_sqlite(connection, q.sql, q.args)
                if plan != plans_before[id(q)]:
                    out.append(_trial("ANALYZE (sqlite_stat1), after the changes above", q.where, timed[id(q)],
                                      after, _uses_sqlite(plan)))
            connection.close()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return out

    import asyncpg

    # This run's PostgreSQL database is a scratch copy already (dropped at the end).
    connection = await asyncpg.connect(target.database_url)
    try:
        await connection.execute("SET plan_cache_mode = force_custom_plan")
        for p in counts:
            after = await _time_postgres(connection, p.sql, p.args, reps)
            out.append(_trial("plan_cache_mode = force_custom_plan (a planned statement each time)", p.where,
                              (p.ms, p.cpu_ms), after))
        await connection.execute("RESET plan_cache_mode")
        for p in counts:
            raw, args = as_range(p.raw, p.args)
            sql = _compile(raw, "postgres")
            after = await _time_postgres(connection, sql, args, reps)
            cache = await connection.fetchrow(
                "SELECT generic_plans FROM pg_prepared_statements WHERE statement = $1", sql)
            out.append(_trial("prefix range instead of LIKE", p.where, (p.ms, p.cpu_ms), after,
                              f"{cache['generic_plans'] if cache else 0} runs on the generic plan"))
        if any("JIT" in p.uses for p in found):
            await connection.execute("SET jit = off")
            for p in [q for q in found if "JIT" in q.uses]:
                out.append(_trial("jit = off", p.where, (p.ms, p.cpu_ms),
                                  await _time_postgres(connection, p.sql, p.args, reps)))
            await connection.execute("RESET jit")
        if "self_reported" in (await connection.fetchval(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'household_status_cover'") or ""):
            hs = []  # the migration has it already
        before = {p.where: await _time_postgres(connection, p.sql, p.args, reps) for p in hs}
        if hs:
            await connection.execute("DROP INDEX household_status_cover")
            await connection.execute(HS_COVER)
            await connection.execute("VACUUM ANALYZE household_status")
        for p in hs:
            after = await _time_postgres(connection, p.sql, p.args, reps)
            plan = "\n".join(r[0] for r in await connection.fetch("EXPLAIN (ANALYZE) " + p.sql, *p.args))
            out.append(_trial("household_status_cover (campaign, path, outcome, self_reported)", p.where,
                              before[p.where], after, _uses_postgres(plan)))
    finally:
        await connection.close()
    for place, label in ((context["sub"], "sub-district"), (context["grid"], "grid")):
        await backends.refresh()
        after = await _page_ms(context, place, every, reps, backends)
        out.append(_trial("all the changes above together", f"page logic, {label}", baseline[label],
                          after))
    return out


# ---- the report -------------------------------------------------------------------------------


def _f(value: float, digits: int = 1) -> str:
    return "–" if value != value else f"{value:,.{digits}f}"


def render(target: Target, measured: Measured, found: list[Plan], tried: list[Trial], command: list[str],
           engine_version: str, started_at: str) -> str:
    from bench.report import _cpu_model, _git

    by = {s.name: s for s in measured.series}
    ping = by["ping"]
    p50, p95 = ping.ms(50), ping.ms(95)
    build = target.build
    sqlite = target.engine == "sqlite"
    out: list[str] = []
    w = out.append
    w(f"# Coverage of a testing round at full size, 12 rounds recorded ({target.engine})")
    w("")
    w(f"{started_at} · one client, requests one after another, {len(measured.series)} targets interleaved "
      f"(order rotated each repetition) · {measured.reps} repetitions each after a warm-up · "
      f"{measured.seconds:.0f} s in all")
    w("")
    w("| target | what | n | median ms | p95 ms | p99 ms | median ÷ ping | p95 ÷ ping p95 | CPU ms (median) | bytes |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in measured.series:
        bad = {k: v for k, v in s.statuses.items() if k != 200}
        w(f"| {s.name} | {s.what}{' **HTTP ' + str(bad) + '**' if bad else ''} | {len(s.samples_ns)} | "
          f"{_f(s.ms(50), 2)} | {_f(s.ms(95), 2)} | {_f(s.ms(99), 2)} | {_f(s.ms(50) / p50, 1)} | "
          f"{_f(s.ms(95) / p95, 1)} | {_f(s.cpu_ms(), 2)} | {f'{s.bytes:,}' if s.kind == 'http' else '–'} |")
    w("")
    w("Latency is send to last byte, as the client sees it. “CPU ms”: the server process's CPU for that request (all "
      "its threads)" + ("" if sqlite else " plus its PostgreSQL backends'") + "; for the in-process rows, this "
      "process's" + ("" if sqlite else " and its backends'") + ". CPU time does not grow when other work shares "
      "the cores, so it is what the latency would be on a quiet machine, give or take waiting for I/O.")
    if measured.others_cores > 0.25:
        w("")
        w(f"> **The machine was busy with other work during this run**: other processes used "
          f"{measured.others_cores:.2f} of {os.cpu_count()} cores on average. Wall-clock latencies are inflated "
          "and noisy; the CPU column is the steadier figure.")
    else:
        w("")
        w(f"Other processes used {measured.others_cores:.2f} cores on average during the run.")
    if measured.quiet:
        w("")
        w(measured.quiet)
    w("")
    w("## Verdicts")
    w("")
    for name, limit, fallback in (("coverage, sub-district", TARGET_SUBDISTRICT_MS, "logic, sub-district"),
                                  ("coverage, grid", TARGET_GRID_MS, "logic, grid")):
        s = by.get(name) or by[fallback]
        if sqlite:
            verdict = (f"p95 {'**PASS**' if s.ms(95) < limit else '**FAIL**'}, CPU "
                       f"{'**PASS**' if s.cpu_ms() < limit else '**FAIL**'}")
        else:
            verdict = "not judged on PostgreSQL (the target is SQLite's)"
        w(f"- {s.name} (the open round, counted live): median **{_f(s.ms(50), 0)} ms**, p95 **{_f(s.ms(95), 0)} ms**, "
          f"CPU **{_f(s.cpu_ms(), 0)} ms** (target < {limit:g} ms): {verdict}"
          + ("" if s.name == name else f" — in-process only: the route answered {measured.route}"))
    page, bare_page = by["household list"], by["household list, bare demo"]
    change, cpu_change = page.ms(50) / bare_page.ms(50) - 1, page.cpu_ms() / bare_page.cpu_ms() - 1
    steady = abs(cpu_change) <= UNCHANGED
    w(f"- Household list of the grid head's {EXPECTED_HOUSEHOLDS}-household grid, with the 12 rounds against the bare "
      f"demo (a second server, same run): median {_f(page.ms(50), 1)} vs {_f(bare_page.ms(50), 1)} ms "
      f"({change * 100:+.0f} %), p95 {_f(page.ms(95), 1)} vs {_f(bare_page.ms(95), 1)} ms, CPU "
      f"{_f(page.cpu_ms(), 2)} vs {_f(bare_page.cpu_ms(), 2)} ms ({cpu_change * 100:+.1f} %): "
      + ("**unchanged**" if steady else "**changed**") + " (CPU within ±10 %)"
      + ("; the two pages are byte-for-byte the same." if measured.list_same_html else "; the two pages differ."))
    foundation = _foundation_figure(target.engine)
    if foundation:
        w(f"  - bench/run.py's figure for the same page (bench/results/latest-{target.engine}.md, “page, 1 client”, "
          f"another run): {foundation}.")
    w(f"- Ratios to /ping (median {_f(p50, 2)} ms, CPU {_f(ping.cpu_ms(), 3)} ms): "
      + ", ".join(f"{n} ×{_f(by[n].ms(50) / p50, 0)}" for n in ("household list", "coverage, sub-district",
                                                              "coverage, grid") if n in by) + ".")
    w("")
    w("## Where the time goes (medians)")
    w("")
    w("In-process: the logic the route calls, timed step by step (`page_logic` in bench/coverage.py).")
    w("")
    w("| place | coverage_under | rollups | rounds_at | sweep / missing list | logic total | logic CPU | HTTP | "
      "HTTP CPU | the rest, CPU |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label in ("sub-district", "grid"):
        s, h = by[f"logic, {label}"], by.get(f"coverage, {label}")
        w(f"| {label} | {_f(s.part_ms('coverage_under'), 1)} | {_f(s.part_ms('rollups'), 1)} | "
          f"{_f(s.part_ms('rounds_at'), 1)} | {_f(s.part_ms('list'), 1)} | {_f(s.ms(50), 1)} | {_f(s.cpu_ms(), 1)} | "
          f"{_f(h.ms(50) if h else float('nan'), 1)} | {_f(h.cpu_ms() if h else float('nan'), 1)} | "
          f"{_f(h.cpu_ms() - s.cpu_ms() if h else float('nan'), 1)} |")
    w("")
    w("“the rest”: the server's CPU per page less the logic's: session, scope, the place and its trail, the "
      "template, HTTP.")
    w("")
    w("## Query plans")
    w("")
    w("The SQL the app sends (captured from `db.fetch`/`db.fetch_long` while the functions ran), its plan, and the "
      "bare query timed on the driver"
      + (" (the app's pragmas; no ANALYZE statistics, as the app never runs ANALYZE)." if sqlite else
         " as the app runs it: asyncpg prepares each statement and reuses it, and PostgreSQL's plan cache may "
         "switch to a generic plan from the sixth run (pg_prepared_statements says when it did). The plan shown "
         "is EXPLAIN (ANALYZE, BUFFERS) with the values bound (a custom plan), and the generic one where it was "
         "used."))
    w("")
    w("| query | plan | median ms | CPU ms |")
    w("|---|---|---:|---:|")
    for p in found:
        w(f"| {p.where} | {p.uses} | {_f(p.ms, 2)} | {_f(p.cpu_ms, 2)} |")
    w("")
    for p in found:
        w(f"<details><summary>{p.where}</summary>")
        w("")
        w("```sql")
        w(p.sql)
        w(f"-- {p.args}")
        w("```")
        w("```")
        w(p.plan)
        w("```")
        if p.generic:
            w("The generic plan the prepared statement switched to:")
            w("```")
            w(p.generic)
            w("```")
        w("</details>")
        w("")
    if tried:
        w("## Candidate changes, tried on a scratch copy")
        w("")
        w("Logic changes are tried by patching the loaded module in this process (the files are untouched); index "
          "changes on a copy of the database" + (" file." if sqlite else " (this run's database, dropped after).")
          + " “all the changes above together” is the page logic with every logic change and index tried here.")
        done = [LogicChanges.LABELS[n] for n in LogicChanges.NAMES if LogicChanges.already(n)]
        if done:
            w("")
            w("In web/campaigns/logic.py already at this run, so not tried: " + "; ".join(done) + ".")
        w("")
        w("| change | measured on | before ms | after ms | before CPU | after CPU | gain (CPU) | plan / note |")
        w("|---|---|---:|---:|---:|---:|---:|---|")
        for t in tried:
            gain = t.before_cpu / t.after_cpu if t.after_cpu else float("nan")
            w(f"| {t.change} | {t.query} | {_f(t.before_ms, 2)} | {_f(t.after_ms, 2)} | {_f(t.before_cpu, 2)} | "
              f"{_f(t.after_cpu, 2)} | {_f(gain, 2)}× | {t.note.replace('|', '/')} |")
        w("")
    w("## The data")
    w("")
    rows = build.rows
    w(f"- The full demo (bench/data.py, built {build.demo_built_at}) copied in {build.copy_s} s, then 12 testing "
      f"rounds over the sub-district: {rows.get('person_status', 0):,} person status rows, "
      f"{rows.get('answer', 0):,} answers, {rows.get('visit', 0):,} visits, {rows.get('household_status', 0):,} "
      f"household status rows, inserted in {build.load_s} s"
      + (f" (COPY, foreign-key triggers off), then VACUUM ANALYZE in {build.vacuum_s} s, and the bare demo "
         f"too: what autovacuum does in time (autovacuum is {build.autovacuum or '?'} on this server)"
         if not sqlite else " (executemany, one transaction per round)")
      + (f"; cached, built {build.built_at}." if build.reused else "; built in this run."))
    if build.close_s:
        w(f"- 11 rounds closed with the app's `close_campaign()`: {sum(build.close_s):.2f} s in all, "
          f"{_f(statistics.median(build.close_s) * 1000, 0)} ms median per round "
          f"(max {_f(max(build.close_s) * 1000, 0)} ms).")
    w(f"- Probe: {build.probe}.")
    w("- Each round (seeded): 0.6–1.6 % of households nobody home and 0.1–0.4 % refused (80 % and 30 % of their "
      "people sampled at a site instead), 0.2–1.2 % never visited (60 % sampled at a site), 0.2 % self-reported "
      "only, 0.6 % self-reported then visited, the rest visited with everyone answering “sampled” (1 % no); "
      "dwellings with nobody registered mostly recorded vacant. Rounds two days apart; the 12th opened a day ago "
      "and is still open.")
    w("")
    w("## Machine")
    w("")
    w(f"- {os.cpu_count()} cores, {_cpu_model()}; load average at the end "
      f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    w(f"- Engine: {engine_version}")
    w(f"- Code: {_git()}")
    w("")
    w("Reproduce:")
    w("")
    w("```")
    w(".venv/bin/python -m bench.coverage" + ("" if not command else " " + " ".join(command)))
    w("```")
    w("")
    return "\n".join(out)


def _foundation_figure(engine: str) -> str:
    path = RESULTS_DIR / f"latest-{engine}.md"
    if not path.exists():
        return ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("| page, 1 client |"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            return f"p50 {cells[4]} ms, p95 {cells[5]} ms, server CPU {cells[8]} ms"
    return ""


def _engine_version(target: Target) -> str:
    if target.engine == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}, WAL"
    import asyncpg

    async def version() -> str:
        connection = await asyncpg.connect(target.database_url)
        try:
            return await connection.fetchval("SHOW server_version")
        finally:
            await connection.close()

    return "PostgreSQL " + asyncio.run(version())


# ---- entry point ------------------------------------------------------------------------------


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.coverage", description=__doc__.split("\n\n")[0],
                                     allow_abbrev=False)
    parser.add_argument("--reps", type=int, default=60, help="measured repetitions of every target (default 60)")
    parser.add_argument("--warmup-reps", type=int, default=3, help="repetitions not counted, first (default 3)")
    parser.add_argument("--rebuild", action="store_true", help="make the SQLite rounds again even if cached")
    parser.add_argument("--postgres", metavar="DSN",
                        help="run against PostgreSQL: fresh databases on this server (e.g. "
                             "postgresql://127.0.0.1:5432/test), dropped at the end")
    parser.add_argument("--no-trials", action="store_true", help="skip the candidate index and logic changes")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="before measuring, wait up to this long for other processes to leave the CPUs")
    # `make bench` passes the same BENCH_ARGS to every benchmark: bench.run's own options are let by.
    args, others = parser.parse_known_args(argv)
    theirs = ("--seconds", "--warmup", "--clients", "--client", "--py-spy", "--no-client-compare")
    if unknown := [a for a in others if a.startswith("--") and a.split("=")[0] not in theirs]:
        parser.error(f"unrecognised arguments: {' '.join(unknown)}")
    if others:
        log(f"ignoring bench.run's options: {' '.join(others)}")
    if not (1 <= args.reps <= 5000 and 0 <= args.warmup_reps <= 100 and 0 <= args.wait_quiet <= 3600):
        parser.error("keep it bounded: 1 ≤ --reps ≤ 5000, 0 ≤ --warmup-reps ≤ 100, --wait-quiet ≤ 3600")
    return args


def _on_signal(signum: int, _frame) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: servers stopped, databases dropped


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    command = list(sys.argv[1:] if argv is None else argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    os.chdir(ROOT)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    target = postgres_target(args.postgres) if args.postgres else sqlite_target(args.rebuild)
    try:
        # Settings are read once per process: point them at this database first.
        os.environ.update(GRIDLINE_DATA=str(target.data_dir), PICCOLO_CONF="web.piccolo_conf")
        if target.database_url:
            os.environ["DATABASE_URL"] = target.database_url
        else:
            os.environ.pop("DATABASE_URL", None)
        version = _engine_version(target)
        quiet = ""
        if args.wait_quiet:
            from bench.run import _wait_quiet

            quiet = _wait_quiet(args.wait_quiet)
        # uvloop, as the server runs: the in-process figures compare with the server's.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop if uvloop else None) as runner:
            text = runner.run(_run(target, args, command, version, started_at, quiet))
    finally:
        target.cleanup()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"coverage-{target.engine}.md"
    path.write_text(text, encoding="utf-8")
    print(text)
    log(f"written to {path}")


async def _run(target: Target, args: argparse.Namespace, command: list[str], version: str, started_at: str,
               quiet: str) -> str:
    from web import db

    measured, context = await _measure(target, args.reps, args.warmup_reps, quiet)
    engine = _bind(target.data_dir, named(target.database_url, INPROC))
    await db.start(engine)
    backends = Backends(target.database_url)
    try:
        log("query plans")
        found = await plans(target, context)
        tried: list[Trial] = []
        if not args.no_trials:
            log("candidate changes (logic in-process, indexes on a scratch copy)")
            baseline: dict[str, tuple[float, float]] = {}
            tried = await logic_trials(context, target.engine, 15, backends, baseline)
            tried += await db_trials(target, found, context, 15, backends, baseline)
    finally:
        await backends.close()
        await db.stop(db.engine())
    return render(target, measured, found, tried, command, version, started_at)


if __name__ == "__main__":
    main()
