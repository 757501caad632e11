"""`python -m bench.profile`: where a household-list request spends its time, in-process.

Uses the benchmark's SQLite database (bench/data/, made by `python -m bench`). Signs in
as the grid head through the app itself, then calls the app as an ASGI callable (no
HTTP, no uvicorn) for GET /places/{grid}, sequentially, under cProfile; then profiles
the floor's template render alone. Prints the time per request, the time by package
(own time of the functions in each), and the top functions.

cProfile sees the event loop's thread only: SQLite work done in aiosqlite's threads
shows up as time the loop waits (in `select`/`poll`, under "event loop wait").
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode

from bench.data import DATA_DIR, MARKER, ROOT, SQLITE_FILE

GROUPS = (  # (label, substring of the code's file path); first match wins
    ("web (the app)", str(ROOT / "web")),
    ("templates (compiled Jinja)", "components/"),
    ("jinja2", "/jinja2/"),
    ("markupsafe", "/markupsafe/"),
    ("babel / gettext", "/babel/"),
    ("gettext", "gettext.py"),
    ("piccolo", "/piccolo/"),
    ("aiosqlite", "/aiosqlite/"),
    ("litestar", "/litestar"),
    ("msgspec", "msgspec"),
    ("asyncio", "/asyncio/"),
    ("uvloop", "uvloop"),
    ("hashlib", "hashlib"),
)


def _group(filename: str, function: str) -> str:
    if filename == "~":
        if "select" in function or "poll" in function:
            return "event loop wait (select/poll)"
        if "sqlite3" in function:
            return "sqlite3 (C)"
        return "builtins (C): " + function.split(" of ")[0].strip("<>{}")[:40]
    for label, marker in GROUPS:
        if marker in filename:
            return label
    return "other Python: " + Path(filename).name


def by_group(stats: pstats.Stats) -> list[tuple[str, float]]:
    totals: dict[str, float] = defaultdict(float)
    for (filename, _line, function), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        totals[_group(filename, function)] += tottime
    return sorted(totals.items(), key=lambda item: -item[1])


def _print_profile(title: str, profile: cProfile.Profile, count: int, top: int) -> None:
    stats = pstats.Stats(profile)
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"\n## {title}: {count} calls, {total / count * 1e3:.2f} ms profiled time per call\n")
    print("| where (own time) | ms per call | share |")
    print("|---|---:|---:|")
    groups = by_group(stats)
    for label, seconds in groups[:16]:
        print(f"| {label} | {seconds / count * 1e3:.2f} | {seconds / total * 100:.0f} % |")
    print(f"\nTop {top} functions by own time:\n")
    print("| function | calls per request | own ms per request | cumulative ms per request |")
    print("|---|---:|---:|---:|")
    rows = sorted(stats.stats.items(), key=lambda item: -item[1][2])  # type: ignore[attr-defined]
    for (filename, line, function), (_cc, ncalls, tottime, cumtime, _callers) in rows[:top]:
        where = f"{Path(filename).name}:{line} {function}" if filename != "~" else function
        where = where.replace(str(ROOT) + "/", "").replace("|", "\\|")
        print(f"| `{where}` | {ncalls / count:.0f} | {tottime / count * 1e3:.3f} | {cumtime / count * 1e3:.3f} |")


class _Call:
    """One ASGI request/response against the app, no network."""

    def __init__(self, app, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> None:
        self.app, self.body = app, body
        path_part, _, query = path.partition("?")
        self.scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path_part, "raw_path": path_part.encode(), "query_string": query.encode(), "root_path": "",
            "headers": [(b"host", b"127.0.0.1:8000"), *headers], "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000), "state": {},
        }
        self.status = 0
        self.response_headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []

    async def receive(self):
        body, self.body = self.body, b""
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(self, message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.response_headers = message.get("headers", [])
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))

    async def __call__(self) -> _Call:
        await self.app(dict(self.scope), self.receive, self.send)
        return self


async def _capture_context(app, path: str, headers) -> dict:
    """The template and context the route hands to render_html, captured from one request."""
    from web.core import render as render_module

    captured: dict = {}
    real = render_module.render_html

    def capture(template, context, block=None):
        captured.update(template=template, context=dict(context), block=block)
        return real(template, context, block)

    render_module.render_html = capture
    try:
        await _Call(app, "GET", path, headers)()
    finally:
        render_module.render_html = real
    return captured


async def _cost(label: str, call, n: int) -> tuple[str, float, float]:
    """Wall and CPU (this process, all threads: aiosqlite's included) per call."""
    for _ in range(max(3, n // 10)):
        await call()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        await call()
    return label, (time.perf_counter() - wall0) / n * 1e3, (time.process_time() - cpu0) / n * 1e3


async def _breakdown(app, path: str, headers, grid: dict, captured: dict, n: int) -> None:
    """CPU per call of each piece of the page, measured alone, sequentially (CPU time
    suffers less than wall time when other processes share the machine)."""
    from bench.floor import _SQLite
    from web.core.render import render_html
    from web.core.scope import get_or_404
    from web.households.logic import households_under
    from web.places import logic
    from web.places.tables import Place

    principal = captured["context"]["principal"]
    scope = principal.scope
    prefix = grid["path"]
    floor_db = _SQLite(DATA_DIR / SQLITE_FILE)
    await floor_db.open()

    async def render() -> None:
        render_html(captured["template"], captured["context"])

    async def ping() -> None:
        await _Call(app, "GET", "/ping", [])()

    async def page() -> None:
        await _Call(app, "GET", path, headers)()

    pieces = [
        ("GET /ping through the app (ASGI, no HTTP)", ping),
        (f"GET {path} through the app (ASGI, no HTTP)", page),
        ("  get_or_404(Place) with the scope filter", lambda: get_or_404(Place, grid["id"], scope)),
        ("  tallies_under (2 grouped counts; a grid page may count from its rows instead)",
         lambda: logic.tallies_under(prefix)),
        ("  children: Place.select(parent=…)", lambda: Place.select().where(Place.parent == grid["id"]).order_by(Place.id)),
        ("  ancestors", lambda: logic.ancestors(prefix)),
        ("  households_under (2 queries, Piccolo)", lambda: households_under(prefix, scope, "")),
        ("  render_html(place.html) with the route's context", render),
        ("floor query: 1 plain SQL via aiosqlite", lambda: floor_db.households(prefix)),
    ]
    print(f"\n## Cost of each piece, alone, sequential ({n} calls each)\n")
    print("| piece | wall ms per call | CPU ms per call |")
    print("|---|---:|---:|")
    try:
        for label, call in pieces:
            label, wall, cpu = await _cost(label, call, n)
            print(f"| {label} | {wall:.2f} | {cpu:.2f} |")
    finally:
        await floor_db.close()


async def _profile_page(requests: int, top: int) -> None:
    from web.app import create_app
    from web.settings import get_settings

    app = create_app(get_settings())
    for hook in app.on_startup:
        await hook()  # type: ignore[call-arg]  # the app's hooks take no argument
    try:
        origin = [(b"origin", b"http://127.0.0.1:8000"), (b"content-type", b"application/x-www-form-urlencoded")]
        signin = await _Call(app, "POST", "/signin", origin,
                             urlencode({"username": "gridhead", "password": "gridline-demo", "next": "/"}).encode())()
        cookie = next(v.decode() for k, v in signin.response_headers
                      if k.lower() == b"set-cookie" and v.startswith(b"gl_session="))
        headers = [(b"cookie", cookie.split(";")[0].encode())]
        from bench.floor import find_grid

        grid = await find_grid("sqlite", DATA_DIR / SQLITE_FILE, "")
        path = f"/places/{grid['id']}"
        first = await _Call(app, "GET", path, headers)()
        body = b"".join(first.chunks)
        listed = body.count(b'href="/households/')
        if first.status != 200 or listed != 300:
            raise SystemExit(f"GET {path}: HTTP {first.status}, {listed} households listed")
        for _ in range(20):  # warm caches
            await _Call(app, "GET", path, headers)()
        captured = await _capture_context(app, path, headers)
        await _breakdown(app, path, headers, grid, captured, requests)

        profile = cProfile.Profile()
        profile.enable()
        for _ in range(requests):
            await _Call(app, "GET", path, headers)()
        profile.disable()
        _print_profile(f"GET {path} under cProfile", profile, requests, top)

        # The template alone, with the page's own context, for comparison.
        from web.core.render import render_html as real

        profile = cProfile.Profile()
        profile.enable()
        for _ in range(requests):
            real(captured["template"], captured["context"])
        profile.disable()
        _print_profile("pages/place.html render alone under cProfile", profile, requests, top)
    finally:
        for hook in app.on_shutdown:
            await hook()  # type: ignore[call-arg]  # the app's hooks take no argument


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="profiled requests (default 200)")
    parser.add_argument("--top", type=int, default=25, help="functions listed (default 25)")
    args = parser.parse_args(argv)
    if not (DATA_DIR / MARKER).exists():
        raise SystemExit("bench/data/ is not built yet: run `python -m bench` first")
    os.chdir(ROOT)
    os.environ["GRIDLINE_DATA"] = str(DATA_DIR)
    os.environ["PICCOLO_CONF"] = "web.piccolo_conf"
    os.environ.pop("DATABASE_URL", None)
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        runner.run(_profile_page(args.requests, args.top))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
