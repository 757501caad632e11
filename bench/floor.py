"""The page's floor: the least work that yields the same bytes, timed alone in one process.

Per iteration: ONE plain SQL query through the engine's own driver (aiosqlite, as the
app uses, or asyncpg) fetching the grid's households in walking order, each with its
person count, plus the same template rendered with a context shaped like the route's
`PlacePage`. The counts the page shows for the grid and its micro-grids are summed
from those same rows. The place itself, its trail and the names of its micro-grids
are place metadata that do not change between requests: read once, before timing.
The signed-in principal is loaded once through the app's own `load_principal`, and
the rest of the context (language, user key, …) is captured once from the app's own
`render()`, so only the page part is built per iteration, as the route builds it.

Before timing, the floor's HTML is compared with the page the server sent: the floor
is only a floor if it renders the same page.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import percentile_ms, system_busy_seconds

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None  # type: ignore[assignment]  # runs on the stock loop then

_ns = time.perf_counter_ns

# Households under the grid's path, in walking order, with their head counts: the
# columns of web.households.logic.LIST_COLUMNS (what the list shows), plus the path
# (for the grid's and micro-grids' tallies). A correlated count through the
# person.household index was the fastest of the plain forms tried on SQLite
# (a grouped LEFT JOIN made SQLite walk the sort_key index over all 50,000 rows).
HOUSEHOLDS_SQL = (
    "SELECT h.id, h.kind, h.building, h.unit, h.floor, h.room, h.premises_kind, h.premises_name,"
    " h.address, h.door_code, h.path,"
    " (SELECT count(*) FROM person p WHERE p.household = h.id) AS persons"
    " FROM household h WHERE h.path LIKE {} ORDER BY h.sort_key"
)


class _SQLite:
    driver = "aiosqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.connection: Any = None

    async def open(self) -> None:
        import aiosqlite

        from web.db import SQLITE_PRAGMAS

        self.connection = await aiosqlite.connect(str(self.path))
        self.connection.row_factory = sqlite3.Row
        for pragma in SQLITE_PRAGMAS:  # the app's (case_sensitive_like lets LIKE use the path index)
            await self.connection.execute(pragma)
        self.households_sql = HOUSEHOLDS_SQL.format("?")

    async def fetch(self, sql: str, *args: Any) -> list[dict]:
        async with self.connection.execute(sql.replace("{}", "?"), args) as cursor:
            return [dict(row) for row in await cursor.fetchall()]

    async def households(self, prefix: str) -> list[dict]:
        async with self.connection.execute(self.households_sql, (prefix + "%",)) as cursor:
            return [dict(row) for row in await cursor.fetchall()]

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()


class _Postgres:
    driver = "asyncpg"

    def __init__(self, url: str) -> None:
        self.url = url
        self.connection: Any = None

    async def open(self) -> None:
        import asyncpg

        self.connection = await asyncpg.connect(self.url)
        self.households_sql = HOUSEHOLDS_SQL.format("$1")

    async def fetch(self, sql: str, *args: Any) -> list[dict]:
        parts = sql.split("{}")
        sql = "".join(part + (f"${i + 1}" if i < len(parts) - 1 else "") for i, part in enumerate(parts))
        return [dict(row) for row in await self.connection.fetch(sql, *args)]

    async def households(self, prefix: str) -> list[dict]:
        return [dict(row) for row in await self.connection.fetch(self.households_sql, prefix + "%")]

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()


def driver_for(engine: str, sqlite_path: Path, database_url: str):
    return _Postgres(database_url) if engine == "postgres" else _SQLite(sqlite_path)


async def grid_head_grid(database) -> dict:
    """The grid-head's grid: the first place of kind grid (demo.py grants it to `gridhead`)."""
    rows = await database.fetch("SELECT id, name, kind, parent, path, area FROM place WHERE kind = {} ORDER BY id LIMIT 1",
                                "grid")
    if not rows:
        raise RuntimeError("no place of kind grid: is the demo loaded?")
    return rows[0]


async def find_grid(engine: str, sqlite_path: Path, database_url: str) -> dict:
    database = driver_for(engine, sqlite_path, database_url)
    await database.open()
    try:
        return await grid_head_grid(database)
    finally:
        await database.close()


@dataclass
class FloorResult:
    driver: str
    seconds: float
    latencies_ns: list[int]  # sorted
    query_ns: int = 0  # summed over the measured iterations
    render_ns: int = 0
    cpu_s: float = 0.0
    system_cpu_s: float = 0.0  # every process on the machine during the window
    html_bytes: int = 0
    households: int = 0
    same_as_page: bool = False
    difference: str = ""

    @property
    def iterations(self) -> int:
        return len(self.latencies_ns)

    @property
    def rate(self) -> float:
        return self.iterations / self.seconds if self.seconds else 0.0

    def percentile_ms(self, p: float) -> float:
        return percentile_ms(self.latencies_ns, p)

    @property
    def query_ms(self) -> float:
        return self.query_ns / self.iterations / 1e6 if self.iterations else float("nan")

    @property
    def render_ms(self) -> float:
        return self.render_ns / self.iterations / 1e6 if self.iterations else float("nan")

    @property
    def others_cpu_share(self) -> float:
        """CPU used by other processes during the window, in cores."""
        return max(0.0, self.system_cpu_s - self.cpu_s) / self.seconds if self.seconds else float("nan")

    @property
    def cpu_ms_per_iteration(self) -> float:
        return self.cpu_s / self.iterations * 1e3 if self.iterations else float("nan")


def _route_context(principal: Any, path: str, page: Any) -> tuple[str, dict]:
    """The template and context the app's own `render()` builds for GET `path` by
    `principal` (language, user key and whatever else it adds), captured once so the
    floor renders with exactly the route's context and only the page part changes."""
    from litestar import Request

    from web.core import render as render_module

    scope = {
        "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http", "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1), "root_path": "", "path": path, "raw_path": path.encode(), "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")], "user": principal, "state": {}, "path_params": {},
    }
    captured: dict[str, Any] = {}
    real = render_module.render_html

    def capture(template: str, context: Any, block: str | None = None) -> str:
        captured.update(template=template, context=dict(context), block=block)
        return real(template, context, block)

    render_module.render_html = capture
    try:
        render_module.render(Request(scope), "pages/place.html", page, partial="households")  # type: ignore[arg-type]  # a plain dict is the scope Litestar reads
    finally:
        render_module.render_html = real
    if captured.get("block") is not None:
        raise RuntimeError("render() chose a partial for a plain GET")
    context = dict(captured["context"])
    context.pop("page")
    return captured["template"], context


def _difference(a: str, b: str) -> str:
    at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return (f"first difference at character {at} (floor {len(a)} chars, page {len(b)} chars): "
            f"floor …{a[max(0, at - 60):at + 60]!r}… page …{b[max(0, at - 60):at + 60]!r}…")


async def _floor(engine: str, sqlite_path: Path, database_url: str, data_dir: Path, token: str, page_html: str,
                 warmup: float, seconds: float) -> FloorResult:
    from web import db
    from web.accounts.auth import load_principal
    from web.core.render import install_domains, render_html
    from web.places.logic import Tally, rollup
    from web.places.routes import PlacePage
    from web.places.tables import CHILD_KIND
    from web.settings import Settings

    install_domains()  # the nav and label filters, as the app sets them up
    # The principal exactly as the server sees it, through the app's own code (not timed).
    settings = Settings(data_dir=data_dir, database_url=database_url)
    app_engine = db.make_engine(settings)
    db.bind(app_engine)
    await db.start(app_engine)
    try:
        principal = await load_principal(token, settings.session_idle_days)
    finally:
        await db.stop(app_engine)
    if principal is None:
        raise RuntimeError("the session cookie does not load a principal")

    database = driver_for(engine, sqlite_path, database_url)
    await database.open()
    try:
        # Place metadata, read once.
        place = await grid_head_grid(database)
        prefix = place["path"]
        ids = [int(part) for part in prefix.strip("/").split("/") if part]
        above = await database.fetch(
            "SELECT id, name, kind, path FROM place WHERE id IN (" + ", ".join(str(i) for i in ids) + ")")
        trail = [p for p in sorted(above, key=lambda r: len(r["path"])) if principal.scope.covers_path(p["path"])]
        kids = await database.fetch("SELECT id, name, kind, parent, path, area FROM place WHERE parent = {} ORDER BY id",
                                    place["id"])
        child_kind = CHILD_KIND.get(place["kind"])
        can_add_child = bool(child_kind) and principal.can("manage_places", prefix)
        can_import = principal.can("import_register", prefix)
        can_add_household = principal.can("manage_households", prefix)

        def render(rows: list[dict]) -> str:
            tallies: dict[str, list[int]] = {}
            for row in rows:
                tally = tallies.get(row["path"])
                if tally is None:
                    tally = tallies[row["path"]] = [0, 0]
                tally[0] += 1
                tally[1] += row["persons"]
            by_path = {path: Tally(h, p) for path, (h, p) in tallies.items()}
            children = [{**kid, "tally": rollup(by_path, kid["path"])} for kid in kids]
            page = PlacePage(place=place, trail=trail, children=children, tally=rollup(by_path, prefix),
                             households=rows, search="", child_kind=child_kind, can_add_child=can_add_child,
                             can_import=can_import, can_add_household=can_add_household)
            return render_html(template, {**base_context, "page": page})

        rows = await database.households(prefix)
        template, base_context = _route_context(principal, f"/places/{place['id']}", PlacePage(
            place=place, trail=trail, children=[], tally=Tally(), households=rows, child_kind=child_kind))
        html = render(rows)
        result = FloorResult(driver=database.driver, seconds=seconds, latencies_ns=[], html_bytes=len(html.encode()),
                             households=len(rows), same_as_page=html == page_html)
        if not result.same_as_page:
            result.difference = _difference(html, page_html)

        # Timed alone: warm-up, then the measured window.
        latencies: list[int] = []
        query_ns = render_ns = 0
        start = _ns() + int(warmup * 1e9)
        stop = start + int(seconds * 1e9)
        cpu0 = t_start = None
        system0 = 0.0
        while True:
            t0 = _ns()
            if t0 >= stop:
                break
            if cpu0 is None and t0 >= start:
                system0, cpu0, t_start = system_busy_seconds(), time.process_time(), t0
            rows = await database.households(prefix)
            t1 = _ns()
            render(rows)
            t2 = _ns()
            if t0 >= start:
                latencies.append(t2 - t0)
                query_ns += t1 - t0
                render_ns += t2 - t1
        result.system_cpu_s = system_busy_seconds() - system0
        result.cpu_s = time.process_time() - (cpu0 or 0.0)
        result.seconds = (_ns() - (t_start or start)) / 1e9
        result.latencies_ns = sorted(latencies)
        result.query_ns, result.render_ns = query_ns, render_ns
        return result
    finally:
        await database.close()


def run_floor(engine: str, sqlite_path: Path, database_url: str, data_dir: Path, token: str, page_html: str,
              warmup: float = 2.0, seconds: float = 10.0) -> FloorResult:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop if uvloop else None) as runner:
        return runner.run(_floor(engine, sqlite_path, database_url, data_dir, token, page_html, warmup, seconds))
