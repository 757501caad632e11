"""Sync ingest: a phone's outbox of 1,000 queued writes replayed against the real server,
set against raw inserts of the same rows in the same run (`python -m bench.ingest`).

The replay is what the service worker does, both ways it can: in batches of 50 through
POST /sync/batch (what it does now), and one write after another (what it falls back to
on a server without /sync/batch); each over one keep-alive connection, each write a
POST /households/{id}/persons with its own Idempotency-Key, X-Occurred-At and
X-Gridline-Owner. Each replay is sent a second time with the same keys: every write must
be answered from the idempotency record and add nothing.

"Raw" is the floor, inserted directly (sqlite3, or asyncpg with `--postgres`) into the same
database while the server idles: the rows one replayed write stores (its person and its key's record, which
commit together), each write in its own transaction; the person row alone, likewise; and
all the person rows in one transaction (the best case). These machines are noisy, so the
batched replay and the raw inserts run in alternating rounds, and the ratio reported is
the median of the rounds' own ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import data
from bench.data import ROOT, log
from bench.server import HOST, Server

BATCH = 50  # what the service worker sends at once (web.sync.batch.MAX_ENTRIES)
WARM_UP = 50


@dataclass
class Replay:
    seconds: float
    latencies: list[float]  # per request: one write, or one batch
    failures: int  # answers other than 2xx/3xx
    replayed: int  # answers marked Idempotent-Replayed
    cpu: float  # the server's CPU seconds

    def rate(self, writes: int) -> float:
        return writes / self.seconds


def _headers(server: Server, cookie: str) -> dict[str, str]:
    return {"Cookie": f"gl_session={cookie}", "Origin": server.origin, "Sec-Fetch-Site": "same-origin"}


def _entry_headers(key: str, owner: str) -> dict[str, str]:
    """What the worker keeps of a write (sw.js KEPT_REQUEST_HEADERS and x-gridline-owner)."""
    return {"content-type": "application/x-www-form-urlencoded", "hx-request": "true", "idempotency-key": key,
            "x-occurred-at": datetime.now(timezone.utc).isoformat(), "x-gridline-owner": owner}


def _body(name: str) -> str:
    return urlencode({"name": name, "relation": "other"})


def _one_by_one(server: Server, cookie: str, owner: str, household: int, writes: list[tuple[str, str]]) -> Replay:
    # The requests are made before the clock starts: what is timed is the server's side.
    path = f"/households/{household}/persons"
    requests = [(_body(name).encode(), {**_headers(server, cookie), **_entry_headers(key, owner)}) for key, name in writes]
    connection = http.client.HTTPConnection(HOST, server.port, timeout=30)
    latencies, failures, replayed = [], 0, 0
    cpu = server.cpu_seconds()
    started = time.perf_counter()
    for body, headers in requests:
        t0 = time.perf_counter()
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - t0)
        failures += not 200 <= response.status < 400
        replayed += response.getheader("idempotent-replayed") == "true"
    elapsed = time.perf_counter() - started
    connection.close()
    return Replay(elapsed, latencies, failures, replayed, server.cpu_seconds() - cpu)


def _batched(server: Server, cookie: str, owner: str, household: int, writes: list[tuple[str, str]]) -> Replay:
    """As the worker sends its outbox now: up to 50 writes per POST /sync/batch (the
    batches are made before the clock starts, as the worker's are read from its outbox)."""
    url = f"{server.origin}/households/{household}/persons"  # the worker keeps the full address
    headers = {**_headers(server, cookie), "Content-Type": "application/json"}
    batches = [json.dumps({"entries": [{"method": "POST", "url": url, "headers": _entry_headers(key, owner),
                                        "body": _body(name)} for key, name in writes[i:i + BATCH]]}).encode()
               for i in range(0, len(writes), BATCH)]
    connection = http.client.HTTPConnection(HOST, server.port, timeout=60)
    latencies, failures, replayed = [], 0, 0
    cpu = server.cpu_seconds()
    started = time.perf_counter()
    for body in batches:
        t0 = time.perf_counter()
        connection.request("POST", "/sync/batch", body=body, headers=headers)
        response = connection.getresponse()
        text = response.read()
        latencies.append(time.perf_counter() - t0)
        if response.status != 200:
            raise SystemExit(f"POST /sync/batch answered {response.status}: {text[:500]!r}")
        results = json.loads(text)["results"]
        if len(results) != BATCH and len(results) != len(writes) % BATCH:
            raise SystemExit(f"POST /sync/batch answered {len(results)} entries: {results[-1]}")
        failures += sum(not 200 <= r["status"] < 400 for r in results)
        replayed += sum(bool(r["replayed"]) for r in results)
    elapsed = time.perf_counter() - started
    connection.close()
    return Replay(elapsed, latencies, failures, replayed, server.cpu_seconds() - cpu)


# The database the server writes, seen directly: where the replay goes, what it left, and
# the raw inserts the replay is set against ("how": "same rows" is each person with an
# idempotency record like the one a replayed write leaves, the two in one transaction;
# "person" the person row alone, one transaction each; "one transaction" all person rows
# at once). The raw inserts run while the server idles (its connections hold no lock then).

_PERSON = ("household", "path", "name", "sex", "birth_year", "phone", "id_number", "relation", "tags", "note", "version",
           "created_at")
_RECORD = ("key", "owner", "method", "path", "status", "content_type", "headers", "body", "occurred_at", "received_at",
           "clock_flagged")
_FIRST_HOUSEHOLD = ("SELECT h.id, h.path FROM household h JOIN place g ON h.path LIKE g.path || '%'"
                    " WHERE g.id = (SELECT min(id) FROM place WHERE kind = 'grid') ORDER BY h.id LIMIT 1")


def _rows(household: int, path: str, names: list[str]) -> tuple[list[tuple], list[tuple]]:
    """The person rows, and the idempotency records an htmx add-person answer leaves."""
    now = datetime.now(timezone.utc)
    persons = [(household, path, name, "", None, "", "", "other", "", "", 1, now) for name in names]
    records = [(str(uuid.uuid4()), "u1", "POST", f"/households/{household}/persons", 200, "text/plain; charset=utf-8",
                json.dumps({"hx-redirect": f"/households/{household}"}), "", now, now, False) for _ in names]
    return persons, records


class SQLiteStore:
    engine = "SQLite"

    def __init__(self, path: Path) -> None:
        self.path = path

    def first_household(self) -> tuple[int, str]:
        with sqlite3.connect(self.path) as connection:
            return connection.execute(_FIRST_HOUSEHOLD).fetchone()

    def count(self, tag: str) -> int:
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) as connection:
            return connection.execute("SELECT count(*) FROM person WHERE name LIKE ?", (f"{tag}%",)).fetchone()[0]

    def raw(self, household: int, path: str, names: list[str], how: str) -> float:
        """Seconds to insert the rows with sqlite3, as `how` says."""
        connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        connection.execute("PRAGMA synchronous = NORMAL")  # as the app's connections
        persons, records = _rows(household, path, names)
        # Stored as the app's adapter stores them (text in UTC).
        persons = [(*row[:-1], str(row[-1])) for row in persons]
        records = [(*row[:8], str(row[8]), str(row[9]), row[10]) for row in records]
        person_sql = f"INSERT INTO person ({', '.join(_PERSON)}) VALUES ({', '.join('?' for _ in _PERSON)})"
        record_sql = f"INSERT INTO idempotency_record ({', '.join(_RECORD)}) VALUES ({', '.join('?' for _ in _RECORD)})"
        started = time.perf_counter()
        if how == "one transaction":
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(person_sql, persons)
            connection.execute("COMMIT")
        else:
            for person, record in zip(persons, records):
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(person_sql, person)
                if how == "same rows":
                    connection.execute(record_sql, record)
                connection.execute("COMMIT")
        elapsed = time.perf_counter() - started
        connection.close()
        return elapsed


class PostgresStore:
    engine = "PostgreSQL"

    def __init__(self, url: str) -> None:
        self.url = url

    def _run(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
        import asyncpg

        async def run() -> Any:
            connection = await asyncpg.connect(self.url)
            try:
                return await work(connection)
            finally:
                await connection.close()

        return asyncio.run(run())

    def first_household(self) -> tuple[int, str]:
        async def work(connection: Any) -> tuple[int, str]:
            row = await connection.fetchrow(_FIRST_HOUSEHOLD)
            return row["id"], row["path"]

        return self._run(work)

    def count(self, tag: str) -> int:
        async def work(connection: Any) -> int:
            return await connection.fetchval("SELECT count(*) FROM person WHERE name LIKE $1", f"{tag}%")

        return self._run(work)

    def raw(self, household: int, path: str, names: list[str], how: str) -> float:
        """Seconds to insert the rows with asyncpg, as `how` says (the connection is made
        before the clock starts)."""
        persons, records = _rows(household, path, names)
        person_sql = (f"INSERT INTO person ({', '.join(_PERSON)})"
                      f" VALUES ({', '.join(f'${i + 1}' for i in range(len(_PERSON)))})")
        record_sql = (f"INSERT INTO idempotency_record ({', '.join(_RECORD)})"
                      f" VALUES ({', '.join(f'${i + 1}' for i in range(len(_RECORD)))})")

        async def work(connection: Any) -> float:
            started = time.perf_counter()
            if how == "one transaction":
                async with connection.transaction():
                    await connection.executemany(person_sql, persons)
            else:
                for person, record in zip(persons, records):
                    async with connection.transaction():
                        await connection.execute(person_sql, *person)
                        if how == "same rows":
                            await connection.execute(record_sql, *record)
            return time.perf_counter() - started

        return self._run(work)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _owner(server: Server, cookie: str) -> str:
    """The user key the worker stamps on each write (X-Gridline-Owner)."""
    status, _, text = server.get("/sync/manifest", headers=_headers(server, cookie))
    if status != 200:
        raise SystemExit(f"GET /sync/manifest answered {status}")
    return json.loads(text)["user"]


@dataclass
class Round:
    batched: Replay
    raw_same: float  # writes/s: person + key record, one transaction each
    raw_person: float  # writes/s: the person row alone, one transaction each

    def ratios(self, n: int) -> tuple[float, float]:
        rate = self.batched.rate(n)
        return self.raw_same / rate, self.raw_person / rate


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of batched replay and raw inserts")
    parser.add_argument("--postgres", metavar="DSN", help="run on PostgreSQL instead: a fresh database on this server"
                        " (e.g. postgresql://127.0.0.1:5432/test), loaded with the small demo, dropped at the end")
    args = parser.parse_args(argv)
    n, rounds_wanted = args.writes, args.rounds
    if not 50 <= n <= 20_000 or not 1 <= rounds_wanted <= 15:
        parser.error("keep it bounded: 50 ≤ --writes ≤ 20000, 1 ≤ --rounds ≤ 15")
    if args.postgres:
        database = data.postgres_database(args.postgres, size="small")
        env, workdir, cleanup = database.env(), database.data_dir, database.cleanup
        store: SQLiteStore | PostgresStore = PostgresStore(database.database_url)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="gridline-ingest-"))
        env = {**os.environ, "GRIDLINE_DATA": str(workdir)}
        env.pop("DATABASE_URL", None)

        def cleanup() -> None:
            shutil.rmtree(workdir, ignore_errors=True)

    try:
        if not args.postgres:
            subprocess.run([sys.executable, "-m", "web", "demo"], cwd=ROOT, env=env, check=True,
                           stdout=subprocess.DEVNULL)
            store = SQLiteStore(workdir / "gridline.sqlite3")
        household, path = store.first_household()
        server = Server(env, workdir / "server.log")
        server.start()
        run = uuid.uuid4().hex[:6]

        def writes(prefix: str, count: int) -> list[tuple[str, str]]:
            return [(str(uuid.uuid4()), f"{prefix}{run}-{i}") for i in range(count)]

        def raw(label: str, how: str) -> float:
            return n / store.raw(household, path, [f"{label}{run}-{i}" for i in range(n)], how)

        try:
            cookie = server.sign_in("gridhead", "gridline-demo")
            owner = _owner(server, cookie)
            # Warm caches and both code paths with writes of their own, not counted.
            _one_by_one(server, cookie, owner, household, writes("预热", WARM_UP))
            _batched(server, cookie, owner, household, writes("预热批", WARM_UP))
            single_writes = writes("逐条", n)
            single = _one_by_one(server, cookie, owner, household, single_writes)
            single_again = _one_by_one(server, cookie, owner, household, single_writes)
            # The server idles while the raw inserts run (its connections hold no lock then).
            rounds, first_batch = [], writes("成批0", n)
            for r in range(rounds_wanted):
                batch_writes = first_batch if r == 0 else writes(f"成批{r}", n)
                batched = _batched(server, cookie, owner, household, batch_writes)
                rounds.append(Round(batched, raw(f"原始{r}", "same rows"), raw(f"单行{r}", "person")))
            batched_again = _batched(server, cookie, owner, household, first_batch)
            raw_all = raw("整批", "one transaction")
            single_applied = store.count(f"逐条{run}-")
            batch_applied = [store.count(f"成批{r}{run}-") for r in range(rounds_wanted)]
        finally:
            server.stop()

        same_ratio = _median([r.ratios(n)[0] for r in rounds])
        person_ratio = _median([r.ratios(n)[1] for r in rounds])
        rate = _median([r.batched.rate(n) for r in rounds])
        cpu = _median([r.batched.cpu / n for r in rounds])
        raw_same, raw_person = _median([r.raw_same for r in rounds]), _median([r.raw_person for r in rounds])
        one_rate = single.rate(n)
        met = rate >= 1000 and same_ratio <= 5

        def row(what: str, replay: Replay, per: str) -> str:
            return (f"| {what} | {replay.rate(n):,.0f} | {replay.cpu / n * 1000:.2f} | {per} {_p(replay.latencies, .5):.1f} /"
                    f" {_p(replay.latencies, .95):.1f} |")

        lines = [
            f"# Sync ingest: {n:,} queued writes replayed against the real server ({store.engine})",
            "",
            f"{datetime.now(timezone.utc).isoformat(timespec='seconds')} · one keep-alive connection per replay;"
            f" {rounds_wanted} rounds, each a batched replay of {n:,} new writes followed by raw inserts of as many,"
            " on the same database file",
            "",
            "| round | batched writes/s | server CPU ms per write | raw, same rows (person + key record)/s"
            " | raw, person row only/s | same rows ÷ batched | person only ÷ batched |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            *(f"| {i + 1} | {r.batched.rate(n):,.0f} | {r.batched.cpu / n * 1000:.2f} | {r.raw_same:,.0f} |"
              f" {r.raw_person:,.0f} | {r.ratios(n)[0]:.1f}× | {r.ratios(n)[1]:.1f}× |" for i, r in enumerate(rounds)),
            f"| **median** | **{rate:,.0f}** | **{cpu * 1000:.2f}** | {raw_same:,.0f} | {raw_person:,.0f} |"
            f" **{same_ratio:.1f}×** | {person_ratio:.1f}× |",
            "",
            "| what | writes/s | server CPU ms per write | p50 / p95 ms |",
            "|---|---:|---:|---|",
            row(f"batches of {BATCH}: POST /sync/batch (new keys), round 1", rounds[0].batched, "per batch"),
            row("the same batches again (answered from the idempotency record)", batched_again, "per batch"),
            row("one by one: POST /households/{id}/persons (new keys)", single, "per write"),
            row("the same writes again, one by one", single_again, "per write"),
            f"| raw INSERT of the person rows, all in one transaction | {raw_all:,.0f} | | |",
            "",
            f"- Applied exactly once: {', '.join(map(str, batch_applied))} persons from {n} batched writes per round"
            f" (round 1 sent twice: {batched_again.replayed} of {n} answered as replays the second time),"
            f" {single_applied} from {n} one-by-one writes sent twice ({single_again.replayed} replays); refused:"
            f" {sum(r.batched.failures for r in rounds) + batched_again.failures + single.failures + single_again.failures}.",
            f"- Batched replay: {rate:,.0f} writes/s (target ≥ 1,000), {same_ratio:.1f}× slower than raw inserts of the"
            f" same rows, one write's rows per transaction (target: within 5×): **{'PASS' if met else 'FAIL'}**."
            f" Against the person row alone: {person_ratio:.1f}×. Batches are {rate / one_rate:.1f}× the one-by-one"
            f" rate ({one_rate:,.0f} writes/s).",
            f"- Server CPU per batched write {cpu * 1000:.2f} ms (one by one {single.cpu / n * 1000:.2f} ms):"
            f" on one core the batched replay cannot pass {1 / cpu:,.0f} writes/s however quiet the machine.",
        ]
        report = "\n".join(lines)
        results = ROOT / "bench" / "results"
        results.mkdir(parents=True, exist_ok=True)
        name = "ingest-postgres.md" if args.postgres else "ingest.md"
        (results / name).write_text(report + "\n", encoding="utf-8")
        print(report)
        problems = []
        for label, applied in [*((f"batched round {i + 1}", a) for i, a in enumerate(batch_applied)),
                               ("one-by-one", single_applied)]:
            if applied != n:
                problems.append(f"{label}: expected {n} new persons, found {applied}")
        for label, again in (("batched", batched_again), ("one-by-one", single_again)):
            if again.replayed != n:
                problems.append(f"{label}: {n - again.replayed} of the repeated writes were not answered as replays")
        if sum(r.batched.failures for r in rounds) + batched_again.failures + single.failures + single_again.failures:
            problems.append("some writes were refused")
        if problems:
            raise SystemExit("; ".join(problems))
        return report
    finally:
        cleanup()


if __name__ == "__main__":
    log("sync ingest benchmark")
    main()
