"""Database engines and the one way to write.

SQLite is the default (one file in WAL mode); PostgreSQL is chosen by DATABASE_URL.
Piccolo's stock SQLite engine opens a fresh connection (and thread) for every query,
which costs more than the query itself on a list page, so the engine here keeps one
reading and one writing connection open. Every write goes through `write()`: on SQLite
it is a `BEGIN IMMEDIATE` transaction (deferred ones fail with "database is locked"
under concurrency), serialised inside the process so writers queue instead of spinning.

Why one module of ~430 lines: the SQLite engine's subclasses, the write transaction and
the plain-SQL fetch share the engine's private state; apart, each would reach into the
others.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime
import functools
import sqlite3
import string
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiosqlite
from piccolo.columns import Column, Serial
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import (
    SQLiteEngine,
    SQLiteTransaction,
    TransactionType,
    dict_factory,
)
from piccolo.querystring import QueryString

from web.settings import Settings

SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",  # safe in WAL mode; a crash loses at most the last commit
    "PRAGMA case_sensitive_like = ON",  # lets `path LIKE '/1/5/%'` use the path index
    "PRAGMA busy_timeout = 10000",
)


class _WriterConnection:
    """The one sqlite3 connection that writes, dressed for Piccolo's transaction code.

    Writes are serialised by the engine's lock anyway, and each statement of a write
    takes tens of microseconds: run them on the event loop's thread instead of paying a
    thread hop per statement (which cost more than the statements themselves)."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    async def execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        return self.raw.execute(sql, parameters)

    async def close(self) -> None:  # the writer lives as long as the engine
        return None


class _WriteTransaction(SQLiteTransaction):
    """`BEGIN IMMEDIATE` on the writer connection, one writer at a time in this process."""

    engine: "LoopSQLiteEngine"

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is not None:
            return self._parent
        await self.engine.write_lock.acquire()
        try:
            self.connection = self.engine.writer()
            await self.begin()
        except BaseException:
            self.engine.write_lock.release()
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type, exception, traceback) -> bool:
        if self._parent:
            return exception is None
        try:
            if exception:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
        finally:
            self.engine.current_transaction.reset(self.context)
            self.engine.write_lock.release()
        return exception is None


class LoopSQLiteEngine(SQLiteEngine):
    """SQLite with two long-lived connections used on the event loop's thread: one that
    reads, one that writes (WAL lets them work side by side).

    Piccolo's stock engine opens a connection, and aiosqlite a thread, per query; a pool
    of aiosqlite threads still cost more in thread hand-offs under concurrency than the
    queries themselves (measured: the household list reached half the rate it reaches
    with the queries on the loop). Queries here take microseconds to a few milliseconds;
    a query known to be long should go through `fetch_in_thread()`.
    """

    __slots__ = ("_reader", "_writer", "write_lock")

    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__(path=path, timeout=10, check_same_thread=False, **kwargs)
        self._reset()

    def _reset(self) -> None:
        self._reader: sqlite3.Connection | None = None
        self._writer: _WriterConnection | None = None
        self.write_lock = asyncio.Lock()

    def _open(self) -> sqlite3.Connection:
        raw = sqlite3.connect(**self.connection_kwargs)
        raw.row_factory = dict_factory
        for pragma in SQLITE_PRAGMAS:
            raw.execute(pragma)
        return raw

    def reader(self) -> sqlite3.Connection:
        if self._reader is None:
            self._reader = self._open()
        return self._reader

    def writer(self) -> _WriterConnection:
        if self._writer is None:
            self._writer = _WriterConnection(self._open())
        return self._writer

    async def close_pool(self) -> None:
        for raw in (self._reader, self._writer.raw if self._writer else None):
            if raw is not None:
                raw.close()
        self._reset()

    async def get_connection(self):  # Piccolo's batch() wants an aiosqlite connection of its own
        connection = await aiosqlite.connect(**self.connection_kwargs)
        connection.row_factory = dict_factory
        return connection

    def _connection_now(self) -> sqlite3.Connection:
        current = self.current_transaction.get()
        return current.connection.raw if current else self.reader()

    async def run_querystring(self, querystring: QueryString, in_pool: bool = False):
        query, args = querystring.compile_string(engine_type=self.engine_type)
        if self.log_queries:
            self.print_query(query_id=self.get_query_id(), query=str(querystring))
        return self._connection_now().execute(query, args).fetchall()

    def run_compiled(self, query: str, args: tuple[Any, ...]) -> list[dict]:
        """A query already compiled for SQLite (`db.fetch`'s plain SQL), on the connection
        of the moment."""
        if self.log_queries:
            self.print_query(query_id=self.get_query_id(), query=query)
        return self._connection_now().execute(query, args).fetchall()

    async def run_ddl(self, ddl: str, in_pool: bool = False):
        return self._connection_now().execute(ddl).fetchall()

    async def fetch_in_thread(self, query: str, args: list[Any]) -> list[dict]:
        """A long read (a whole sub-district's figures) off the event loop, on a
        connection of its own, so other requests go on meanwhile."""

        def run() -> list[dict]:
            raw = self._open()
            try:
                return raw.execute(query, args).fetchall()
            finally:
                raw.close()

        return await asyncio.to_thread(run)

    def transaction(
        self,
        transaction_type: TransactionType = TransactionType.immediate,
        allow_nested: bool = True,
    ) -> SQLiteTransaction:
        return _WriteTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)


def make_engine(settings: Settings) -> Engine:
    if settings.engine_kind == "postgres":
        return PostgresEngine(config={"dsn": settings.database_url})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.sqlite_path
    # WAL is a property of the file: set it once, before anything else opens it.
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode = WAL")
    return LoopSQLiteEngine(path=str(path))


class Keyed:
    """Mixed into every table: Piccolo adds the `id` primary key itself; this names it for
    the type checker."""

    id: Serial


def all_tables() -> list[type]:
    """Every table of every Piccolo app (the registry in web/piccolo_conf.py is the list)."""
    from web.piccolo_conf import APP_REGISTRY

    return [table for config in APP_REGISTRY.app_configs.values() for table in config.table_classes]


_engine: Engine | None = None


def bind(engine: Engine) -> None:
    """Point every table at `engine` (the app, the CLI and each test engine call this)."""
    global _engine
    from piccolo.apps.migrations.tables import Migration

    _engine = engine
    # Piccolo's own record of applied migrations caches its engine too.
    tables: list[Any] = [*all_tables(), Migration]
    for table in tables:
        table._meta.db = engine


def engine() -> Engine:
    assert _engine is not None, "web.db.bind() has not been called"
    return _engine


def current_or_default() -> Engine:
    """The bound engine; Piccolo's CLI and migration runner find it through piccolo_conf."""
    if _engine is None:
        from web.settings import get_settings

        bind(make_engine(get_settings()))
    return engine()


async def start(engine_: Engine) -> None:
    if isinstance(engine_, PostgresEngine):
        await engine_.start_connection_pool(min_size=2, max_size=10)


async def stop(engine_: Engine) -> None:
    if isinstance(engine_, PostgresEngine):
        await engine_.close_connection_pool()
    elif isinstance(engine_, LoopSQLiteEngine):
        await engine_.close_pool()


_after_commit: contextvars.ContextVar[list[Callable[[], None]] | None] = contextvars.ContextVar(
    "after_commit", default=None
)


class WriteGroup:
    """Several writes sent together (a phone's batch) in one transaction, each write a
    savepoint of its own: a write that fails rolls back alone, as it would alone.

    After-commit callbacks of a released write wait for the group's commit; `pending`
    tells the caller to end the group there (so that what comes next meets exactly what
    it would meet had that write been sent alone and committed)."""

    def __init__(self, transaction: Any) -> None:
        self.transaction = transaction
        self.callbacks: list[Callable[[], None]] = []
        self.savepoint_open = False

    @property
    def pending(self) -> bool:
        return bool(self.callbacks)

    async def savepoint(self) -> None:
        """A savepoint for the next write. The previous write's is released only now, on
        PostgreSQL in the same statement: a round trip a write fewer (the group's COMMIT
        releases the last one). One name does: a write inside a write joins it, so
        savepoints never nest."""
        connection = self.transaction.connection
        if not self.savepoint_open:
            await connection.execute("SAVEPOINT gridline_write")
        elif isinstance(connection, _WriterConnection):  # SQLite: one statement a call, no round trip
            await connection.execute("RELEASE SAVEPOINT gridline_write")
            await connection.execute("SAVEPOINT gridline_write")
        else:
            await connection.execute("RELEASE SAVEPOINT gridline_write; SAVEPOINT gridline_write")
        self.savepoint_open = True

    async def undo(self) -> None:
        """Roll back the current write alone (its savepoint stays, released by the next)."""
        await self.transaction.connection.execute("ROLLBACK TO SAVEPOINT gridline_write")


_group: contextvars.ContextVar[WriteGroup | None] = contextvars.ContextVar("write_group", default=None)


@contextlib.asynccontextmanager
async def grouped() -> AsyncIterator[WriteGroup]:
    """One transaction around several independent writes (see `WriteGroup`). Reads inside
    it see the group's earlier writes, as they would once committed one by one."""
    if _after_commit.get() is not None or _group.get() is not None:
        raise RuntimeError("a group of writes cannot be opened inside a write")
    async with engine().transaction() as transaction:
        group = WriteGroup(transaction)
        token = _group.set(group)
        try:
            yield group
        finally:
            _group.reset(token)
    for callback in group.callbacks:
        callback()


@contextlib.asynccontextmanager
async def write() -> AsyncIterator[None]:
    """The one way to write: a transaction that commits everything inside it or nothing.
    Inside another write it joins that one (the idempotency record and its write commit
    together). Inside a group (`grouped()`) it is a savepoint of the group's transaction."""
    if _after_commit.get() is not None:
        async with engine().transaction():
            yield
        return
    token = _after_commit.set([])
    try:
        group = _group.get()
        if group is None:
            async with engine().transaction():
                yield
            for callback in _after_commit.get() or []:
                callback()
            return
        await group.savepoint()
        try:
            yield
        except BaseException:
            await group.undo()
            raise
        group.callbacks.extend(_after_commit.get() or [])
    finally:
        _after_commit.reset(token)


def after_commit(callback: Callable[[], None]) -> None:
    """Run `callback` once the outermost write has committed (at once outside a write):
    e.g. forget cached sessions only when their revocation is really stored."""
    pending = _after_commit.get()
    if pending is None:
        callback()
    else:
        pending.append(callback)


async def fetch_long(sql: str, *args: Any) -> list[dict]:
    """`fetch()` for a query known to take long (a whole sub-district's figures): on
    SQLite it runs off the event loop so other requests go on meanwhile, except inside a
    write, whose connection alone sees the write's rows."""
    engine_ = engine()
    if isinstance(engine_, LoopSQLiteEngine) and engine_.current_transaction.get() is None:
        query, query_args = QueryString(sql, *args).compile_string(engine_type=engine_.engine_type)
        return await engine_.fetch_in_thread(query, query_args)
    return await fetch(sql, *args)


async def fetch(sql: str, *args: Any) -> list[dict]:
    """Plain SQL for the few queries Piccolo's builder cannot express, and for the few
    that run so often its builder's cost shows; `{}` placeholders. Rows are plain dicts
    on every engine (asyncpg would give read-only records)."""
    engine_ = engine()
    if isinstance(engine_, LoopSQLiteEngine):
        compiled = _compiled(sql, len(args), "sqlite")
        if compiled is not None and _plain(args):
            return engine_.run_compiled(compiled, args)
    elif isinstance(engine_, PostgresEngine) and not engine_.log_queries:
        # As Piccolo's engine runs a query (in the transaction of the moment, else on a
        # pooled connection), without compiling the same text again for every call.
        compiled = _compiled(sql, len(args), "postgres")
        if compiled is not None and _plain(args):
            current = engine_.current_transaction.get()
            if current is not None:
                return [dict(row) for row in await current.connection.fetch(compiled, *args)]
            if engine_.pool is not None:
                async with engine_.pool.acquire() as connection:
                    return [dict(row) for row in await connection.fetch(compiled, *args)]
    rows = await engine_.run_querystring(QueryString(sql, *args))
    return [row if isinstance(row, dict) else dict(row) for row in rows or []]


# Argument types that are plain values to a query, never SQL of their own: checked by
# type first, because `isinstance` against Piccolo's abstract QueryString and Column
# costs microseconds an argument, and a replayed write passes some thirty arguments.
_PLAIN_TYPES = frozenset({str, int, float, bool, bytes, type(None), datetime.datetime, datetime.date})


def _plain(args: tuple[Any, ...]) -> bool:
    """No argument is a QueryString or a Column (only those are SQL, not values)."""
    return _PLAIN_TYPES.issuperset(map(type, args)) or not any(
        isinstance(arg, (QueryString, Column)) for arg in args
    )


@functools.lru_cache(maxsize=512)
def _compiled(sql: str, count: int, engine_type: str) -> str | None:
    """`sql` with its `{}` placeholders as Piccolo's QueryString compiles them for plain
    values (`?` for SQLite, `$1`, `$2`… for PostgreSQL); None for anything else (escaped
    braces, a count that does not match): the QueryString then does what it does with it."""
    if "{{" in sql or "}}" in sql:
        return None
    parts = list(string.Formatter().parse(sql))
    if sum(field is not None for _text, field, _spec, _conv in parts) != count:
        return None
    if any(field or spec or conv for _text, field, spec, conv in parts):  # "{0}", "{x}", "{:…}": not ours
        return None
    compiled, number = [], 0
    for text, field, _spec, _conv in parts:
        compiled.append(text)
        if field is not None:
            number += 1
            compiled.append("?" if engine_type == "sqlite" else f"${number}")
    return "".join(compiled)


# Key of the PostgreSQL advisory lock migrations run under ("gridline" as a number).
MIGRATION_LOCK = 0x6772_6964_6C69_6E65 >> 1


async def migrate() -> None:
    """Bring the bound database up to the newest migration of every app (idempotent)."""
    import contextlib as _contextlib
    import io

    from piccolo.apps.migrations.commands.forwards import run_forwards

    engine_ = engine()
    lock = None
    if isinstance(engine_, PostgresEngine):
        # Several instances start at once: one migrates, the others wait here and then
        # find nothing left to do. (On SQLite, one process: each migration is BEGIN IMMEDIATE.)
        lock = await engine_.get_new_connection()
        await lock.execute("SELECT pg_advisory_lock({})".format(MIGRATION_LOCK))
    try:
        with _contextlib.redirect_stdout(io.StringIO()):  # Piccolo prints a line per migration
            result = await run_forwards(app_name="all")
    finally:
        if lock is not None:
            await lock.execute("SELECT pg_advisory_unlock({})".format(MIGRATION_LOCK))
            await lock.close()
    if not result.success:
        raise RuntimeError(f"migrations failed: {result.message}")
