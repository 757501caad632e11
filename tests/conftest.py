"""Shared fixtures. Data-layer and HTTP tests run once per database engine.

SQLite always runs. PostgreSQL runs when 127.0.0.1:5432 answers (trust auth, database
`test`); elsewhere it is skipped with a message, except under CI=true, where a missing
PostgreSQL fails the run.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Settings are read once: point them at a scratch directory before the app is imported.
_SCRATCH = Path(tempfile.mkdtemp(prefix="gridline-tests-"))
os.environ["GRIDLINE_DATA"] = str(_SCRATCH / "default")
os.environ.pop("DATABASE_URL", None)

from litestar.testing import TestClient  # noqa: E402

from web import db  # noqa: E402
from web.settings import Settings  # noqa: E402

PG_ADMIN_DSN = os.environ.get("GRIDLINE_TEST_PG", "postgresql://127.0.0.1:5432/test")
ORIGIN = "http://testserver.local"
ENGINES = ("sqlite", "postgres")


def _pg_reachable() -> str | None:
    async def probe() -> None:
        import asyncpg

        connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
        await connection.close()

    try:
        asyncio.run(probe())
        return None
    except Exception as error:  # any failure means "not here"
        return f"{type(error).__name__}: {error}"


def _pg_database() -> str:
    """A fresh database for this run, made from the `test` database's server."""
    import asyncpg

    name = f"gridline_test_{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        connection = await asyncpg.connect(PG_ADMIN_DSN)
        await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')
        await connection.close()

    asyncio.run(create())
    return name


def _pg_drop(name: str) -> None:
    import asyncpg

    async def drop() -> None:
        connection = await asyncpg.connect(PG_ADMIN_DSN)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()

    asyncio.run(drop())


def engine_settings(kind: str) -> tuple[Settings, callable]:
    """Settings for a brand-new database of `kind`, and a function that removes it."""
    if kind == "sqlite":
        data = _SCRATCH / f"sqlite-{uuid.uuid4().hex[:8]}"
        return Settings(data_dir=data), lambda: None
    problem = _pg_reachable()
    if problem:
        message = f"PostgreSQL at {PG_ADMIN_DSN} is not reachable ({problem})"
        if os.environ.get("CI") == "true":
            pytest.fail(message + ": CI must test the production engine", pytrace=False)
        pytest.skip(message + "; PostgreSQL tests skipped")
    name = _pg_database()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return Settings(data_dir=_SCRATCH / f"pg-{name}", database_url=f"{base}/{name}"), lambda: _pg_drop(name)


def seed(settings: Settings, size: str = "small") -> dict:
    """Migrate a fresh database and load the demo sub-district into it."""
    from web import demo

    async def run() -> dict:
        engine = db.make_engine(settings)
        db.bind(engine)
        await db.start(engine)
        try:
            await db.migrate()
            return await demo.generate(size, settings.data_dir)
        finally:
            await db.stop(engine)

    return asyncio.run(run())


class Client(TestClient):
    """A test client that behaves like a same-origin browser by default."""

    def as_(self, token: str | None) -> "Client":
        self.cookies.clear()
        if token:
            self.cookies.set("gl_session", token)
        return self


@pytest.fixture(scope="session", params=ENGINES)
def world(request: pytest.FixtureRequest) -> Iterator[dict]:
    """One seeded database per engine for the whole run, and an app on it."""
    from web.accounts.auth import forget_sessions
    from web.app import create_app

    settings, cleanup = engine_settings(request.param)
    facts = seed(settings)
    db.bind(db.make_engine(settings))
    forget_sessions()
    app = create_app(settings)
    with Client(app, base_url=ORIGIN) as client:
        client.headers["Origin"] = ORIGIN
        yield {"engine": request.param, "client": client, "settings": settings, "facts": facts, "tokens": {}}
    cleanup()


@pytest.fixture
def client(world: dict) -> Client:
    world["client"].cookies.clear()
    world["client"].headers.pop("accept-language", None)
    return world["client"]


def sign_in(world: dict, username: str, password: str = "gridline-demo") -> str:
    """A session token for `username` (signed in once per engine and kept)."""
    tokens = world["tokens"]
    if username not in tokens:
        client: Client = world["client"]
        client.cookies.clear()
        response = client.post("/signin", data={"username": username, "password": password}, follow_redirects=False)
        assert response.status_code == 303, response.text
        tokens[username] = response.cookies["gl_session"]
        client.cookies.clear()
    return tokens[username]


@pytest.fixture
def as_user(world: dict, client: Client):
    """`as_user("gridhead")` → the client, signed in as that demo user."""

    def use(username: str | None) -> Client:
        return client.as_(sign_in(world, username) if username else None)

    return use


@pytest.fixture
def call(world: dict):
    """`call(async_fn, *args)`: run database code on the app's own event loop."""

    def run(fn, *args):
        return world["client"].blocking_portal.call(fn, *args)

    return run
