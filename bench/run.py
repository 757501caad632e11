"""`python -m bench`: prepare the data, start the server, measure, report.

Order: database (built or reused, generation timed) → server up, signed in as the
grid head, the page checked → the floor, timed alone while the server idles → the
load runs one after another against the same server (the page, the bare endpoint,
a static file, the page gzipped, the page with one client) → a short comparison of
the two load generators → optionally the page once more under py-spy →
the report to stdout and bench/results/latest.md. The server is stopped and a
PostgreSQL database dropped on every way out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys

from bench import data
from bench.data import BENCH_DIR, log

RESULTS_DIR = BENCH_DIR / "results"
USERNAME, PASSWORD = "gridhead", "gridline-demo"  # web.demo.DEMO_USERS / DEMO_PASSWORD
EXPECTED_HOUSEHOLDS = 300  # the first grid at full size (web.demo._grid_sizes)
QUIET_CORES = 0.25


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per target (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per target, not counted (default 2)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent keep-alive clients (default 20)")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="load generator: raw asyncio streams (default, cheapest) or httpx.AsyncClient")
    parser.add_argument("--rebuild", action="store_true", help="regenerate bench/data/ (and time it) even if complete")
    parser.add_argument("--postgres", metavar="DSN",
                        help="run against PostgreSQL: a fresh database on this server (e.g. "
                             "postgresql://127.0.0.1:5432/test), loaded with the full demo, dropped at the end")
    parser.add_argument("--py-spy", action="store_true",
                        help="after the measured runs, run the page load once more with py-spy sampling the server, "
                             "and add where its time goes to the report (needs `.venv/bin/pip install py-spy`)")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="before measuring, wait up to this long for other processes to leave the CPUs "
                             f"(under {QUIET_CORES} of a core over 2 s); then measure anyway (default 0: no wait)")
    parser.add_argument("--no-client-compare", action="store_true",
                        help="skip the short raw-vs-httpx generator comparison on /ping")
    args = parser.parse_args(argv)
    if not (0 < args.seconds <= 300 and 0 <= args.warmup <= 60 and 1 <= args.clients <= 200):
        parser.error("keep it bounded: 0 < --seconds ≤ 300, 0 ≤ --warmup ≤ 60, 1 ≤ --clients ≤ 200")
    return args


def _on_signal(signum: int, _frame) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: server stopped, database dropped


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    command = list(sys.argv[1:] if argv is None else argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    os.chdir(data.ROOT)
    database = data.postgres_database(args.postgres) if args.postgres else data.sqlite_database(args.rebuild)
    try:
        text = _measure(args, command, database)
    finally:
        database.cleanup()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "latest.md").write_text(text, encoding="utf-8")
    (RESULTS_DIR / f"latest-{database.engine}.md").write_text(text, encoding="utf-8")
    print(text)
    log(f"written to {RESULTS_DIR / 'latest.md'}")


def _measure(args: argparse.Namespace, command: list[str], database: data.Database) -> str:
    # The web package reads its settings from the environment once: point it at this
    # database before anything imports it (the floor and the principal use it in-process).
    os.environ.update({k: v for k, v in database.env().items() if k in ("GRIDLINE_DATA", "PICCOLO_CONF")})
    if database.database_url:
        os.environ["DATABASE_URL"] = database.database_url
    else:
        os.environ.pop("DATABASE_URL", None)

    from datetime import UTC, datetime

    from bench.floor import find_grid, run_floor
    from bench.load import run_load
    from bench.report import Report, render
    from bench.server import Server

    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    load_before = os.getloadavg()
    engine_version = _engine_version(database)
    grid = asyncio.run(find_grid(database.engine, database.sqlite_path, database.database_url))
    quiet = _wait_quiet(args.wait_quiet) if args.wait_quiet else ""
    server = Server(database.env(), RESULTS_DIR / "server.log")
    try:
        server.start()
        token = server.sign_in(USERNAME, PASSWORD)
        cookie = {"Cookie": f"gl_session={token}"}
        page_path = f"/places/{grid['id']}"
        status, _headers, body = server.get(page_path, headers=cookie)
        html = body.decode()
        rows = html.count('<a class="row" href="/households/')
        if status != 200 or rows != EXPECTED_HOUSEHOLDS:
            raise RuntimeError(f"GET {page_path} as {USERNAME}: HTTP {status} listing {rows} households, "
                               f"not {EXPECTED_HOUSEHOLDS}")
        log(f"signed in as {USERNAME}; {page_path} ({grid['name']}) lists {rows} households, {len(body):,} bytes")
        css = re.search(r'<link rel="stylesheet" href="([^"]+)"', html)
        if css is None:
            raise RuntimeError("no stylesheet link on the page")
        css_path = css.group(1)

        log(f"floor: {args.warmup:g} s warm-up + {args.seconds:g} s, in-process")
        floor = run_floor(database.engine, database.sqlite_path, database.database_url, database.data_dir, token,
                          html, warmup=args.warmup, seconds=args.seconds)
        log(f"  {floor.rate:,.1f} renders/s, p95 {floor.percentile_ms(95):.2f} ms"
            + ("" if floor.same_as_page else "  (HTML differs from the page!)"))

        def load(name: str, path: str, headers: dict[str, str] | None = None, client: str = args.client,
                 warmup: float = args.warmup, seconds: float = args.seconds, clients: int = args.clients,
                 think: float = 0.0):
            log(f"{name}: GET {path}, {clients} clients ({client}), {warmup:g} s warm-up + {seconds:g} s")
            server.check_alive()
            result = run_load(name, server.port, path, headers=headers, clients=clients, warmup=warmup,
                              seconds=seconds, client=client, server_cpu=server.cpu_seconds, think=think)
            server.check_alive()
            if not result.requests:
                raise RuntimeError(f"{name}: no response counted ({result.errors} errors: "
                                   f"{'; '.join(result.error_samples)})")
            log(f"  {result.rate:,.1f} req/s, p95 {result.percentile_ms(95):.2f} ms, {result.errors} errors, "
                f"generator {result.generator_cpu_us_per_request:.0f} µs CPU/req")
            return result

        page = load("page", page_path, cookie)
        others = [
            load("ping", "/ping"),
            load("static css", css_path),
            load("page, gzip", page_path, {**cookie, "Accept-Encoding": "gzip"}),
            load("page, 1 client", page_path, cookie, clients=1),
            # 20 grid heads each tapping about once a second: latency as a person feels it.
            load("page, 20 clients, 1 s think", page_path, cookie, think=1.0, client="raw"),
        ]
        compare = []
        if not args.no_client_compare:
            short = min(args.seconds, 4.0)
            compare = [load(f"ping ({kind})", "/ping", client=kind, warmup=1.0, seconds=short)
                       for kind in ("raw", "httpx")]
        profile = ""
        if args.py_spy:
            from bench import spy

            profile = spy.record_page(lambda: load("page (py-spy attached)", page_path, cookie), server.pid,
                                      args.warmup + args.seconds, RESULTS_DIR)
    finally:
        server.stop()

    notes = [
        ("Rates are completions per second inside the measured window; latencies are send-to-last-byte of those "
         "responses, as the generator sees them (so they include queueing behind the other clients)."),
        ("The page row sends no Accept-Encoding, like the floor (which does not compress); “page, gzip” is what a "
         "browser gets and is shown for context."),
        ("Server CPU is the uvicorn process's user+system time (all threads) over the window, divided by the "
         "responses counted in it."),
    ]
    text = render(Report(engine=database.engine, engine_version=engine_version, command=command,
                         clients=args.clients, warmup=args.warmup, seconds=args.seconds,
                         generation=database.generation, grid=grid, floor=floor, page=page, others=others,
                         client_compare=compare, notes=notes, quiet_wait=quiet, started_at=started_at,
                         load_before=load_before))
    if profile:
        text += "\n" + profile.replace("# Where", "## Where", 1)
    return text


def _wait_quiet(limit: float) -> str:
    """Wait (at most `limit` seconds) until the machine's other processes use under QUIET_CORES."""
    import time

    from bench.load import system_busy_seconds

    started = time.monotonic()
    busy = float("nan")
    while True:
        before, cpu0 = system_busy_seconds(), time.process_time()
        time.sleep(2.0)
        busy = (system_busy_seconds() - before - (time.process_time() - cpu0)) / 2.0
        waited = time.monotonic() - started
        if busy < QUIET_CORES:
            log(f"quiet: other processes use {busy:.2f} cores (waited {waited:.0f} s)")
            return f"--wait-quiet: the machine was quiet ({busy:.2f} cores busy) after {waited:.0f} s."
        if waited >= limit:
            log(f"not quiet after {waited:.0f} s ({busy:.2f} cores busy); measuring anyway")
            return f"--wait-quiet: still {busy:.2f} cores busy with other work after {waited:.0f} s; measured anyway."
        log(f"waiting for a quiet machine: other processes use {busy:.2f} cores")


def _engine_version(database: data.Database) -> str:
    if database.engine == "sqlite":
        import sqlite3

        return sqlite3.sqlite_version
    import asyncpg

    async def version() -> str:
        connection = await asyncpg.connect(database.database_url)
        try:
            return await connection.fetchval("SHOW server_version")
        finally:
            await connection.close()

    return "PostgreSQL " + asyncio.run(version())
