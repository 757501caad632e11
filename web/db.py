"""Database engines and the one way to write.

SQLite is the default (one file in WAL mode); PostgreSQL is chosen by DATABASE_URL.
Piccolo's stock SQLite engine opens a fresh connection (and thread) for every query,
which costs more than the query itself on a list page, so the engine here keeps a
small pool of open connections. Every write goes through `write()`: on SQLite it is a
`BEGIN IMMEDIATE` transaction (deferred ones fail with "database is locked" under
concurrency), serialised inside the process so writers queue instead of spinning.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import aiosqlite
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


class _PooledTransaction(SQLiteTransaction):
    """A transaction that borrows a pooled connection and gives it back afterwards."""

    async def get_connection(self):
        return await self.engine.acquire()

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
            self.engine.release(self.connection)
            self.engine.current_transaction.reset(self.context)
        return exception is None


class PooledSQLiteEngine(SQLiteEngine):
    __slots__ = ("_pool", "_pool_size", "_opened", "write_lock")

    def __init__(self, path: str, pool_size: int = 4, **kwargs: Any) -> None:
        super().__init__(path=path, timeout=10, check_same_thread=False, **kwargs)
        self._pool_size = pool_size
        self._reset()

    def _reset(self) -> None:
        self._pool: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._opened: list[aiosqlite.Connection] = []
        self.write_lock = asyncio.Lock()

    async def _connect(self) -> aiosqlite.Connection:
        connection = await aiosqlite.connect(**self.connection_kwargs)
        connection.row_factory = dict_factory  # type: ignore[assignment]
        for pragma in SQLITE_PRAGMAS:
            await connection.execute(pragma)
        return connection

    async def acquire(self) -> aiosqlite.Connection:
        if self._pool.empty() and len(self._opened) < self._pool_size:
            connection = await self._connect()
            self._opened.append(connection)
            return connection
        return await self._pool.get()

    def release(self, connection: aiosqlite.Connection) -> None:
        self._pool.put_nowait(connection)

    async def close_pool(self) -> None:
        for connection in self._opened:
            with contextlib.suppress(Exception):
                await connection.close()
        self._reset()

    async def get_connection(self):  # used by Piccolo's batch(); a private connection
        return await self._connect()

    @staticmethod
    async def _execute(connection: aiosqlite.Connection, query: str, args: list[Any] | None) -> list[dict]:
        async with connection.execute(query, args or []) as cursor:
            return await cursor.fetchall()  # type: ignore[return-value]

    async def run_querystring(self, querystring: QueryString, in_pool: bool = False):
        query, args = querystring.compile_string(engine_type=self.engine_type)
        if self.log_queries:
            self.print_query(query_id=self.get_query_id(), query=str(querystring))
        current = self.current_transaction.get()
        if current:
            return await self._execute(current.connection, query, args)
        connection = await self.acquire()
        try:
            return await self._execute(connection, query, args)
        finally:
            self.release(connection)

    async def run_ddl(self, ddl: str, in_pool: bool = False):
        current = self.current_transaction.get()
        if current:
            return await self._execute(current.connection, ddl, None)
        connection = await self.acquire()
        try:
            return await self._execute(connection, ddl, None)
        finally:
            self.release(connection)

    def transaction(
        self,
        transaction_type: TransactionType = TransactionType.immediate,
        allow_nested: bool = True,
    ) -> SQLiteTransaction:
        return _PooledTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)


def make_engine(settings: Settings) -> Engine:
    if settings.engine_kind == "postgres":
        return PostgresEngine(config={"dsn": settings.database_url})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.sqlite_path
    # WAL is a property of the file: set it once, before anything else opens it.
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode = WAL")
    return PooledSQLiteEngine(path=str(path))


def all_tables() -> list[type]:
    from web.accounts.tables import (
        HouseholdLink,
        Organisation,
        RoleGrant,
        Session,
        SignInAttempt,
        User,
    )
    from web.audit.tables import AuditEntry
    from web.households.tables import Household, Person
    from web.places.tables import Place
    from web.sync.tables import Claim, Conflict, IdempotencyRecord

    return [Place, Organisation, User, RoleGrant, Household, Person, Session, HouseholdLink, SignInAttempt, AuditEntry,
            IdempotencyRecord, Conflict, Claim]


_engine: Engine | None = None


def bind(engine: Engine) -> None:
    """Point every table at `engine` (the app, the CLI and each test engine call this)."""
    global _engine
    from piccolo.apps.migrations.tables import Migration

    _engine = engine
    # Piccolo's own record of applied migrations caches its engine too.
    for table in [*all_tables(), Migration]:
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
    elif isinstance(engine_, PooledSQLiteEngine):
        await engine_.close_pool()


@contextlib.asynccontextmanager
async def write() -> AsyncIterator[None]:
    """The one way to write: a transaction that commits everything inside it or nothing."""
    engine_ = engine()
    if isinstance(engine_, PooledSQLiteEngine):
        if engine_.current_transaction.get():
            yield  # already inside a write: join it
            return
        async with engine_.write_lock:
            async with engine_.transaction():
                yield
    else:
        async with engine_.transaction():
            yield


async def fetch(sql: str, *args: Any) -> list[dict]:
    """Plain SQL for the few queries Piccolo's builder cannot express; `{}` placeholders."""
    return await engine().run_querystring(QueryString(sql, *args))


async def migrate() -> None:
    """Bring the bound database up to the newest migration of every app (idempotent)."""
    import contextlib as _contextlib
    import io

    from piccolo.apps.migrations.commands.forwards import run_forwards

    with _contextlib.redirect_stdout(io.StringIO()):  # Piccolo prints a line per migration
        result = await run_forwards(app_name="all")
    if not result.success:
        raise RuntimeError(f"migrations failed: {result.message}")
