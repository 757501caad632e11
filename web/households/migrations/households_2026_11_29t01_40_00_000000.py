"""Byte-order collation for `path` on PostgreSQL (hand-written).

Materialized paths ("/1/5/23/") are compared and prefix-matched as bytes. Under a
language collation PostgreSQL would neither use the path index for
`LIKE '/1/5/%'` nor order "/" before digits, so the columns get COLLATE "C".
SQLite compares bytes already (and PRAGMA case_sensitive_like lets LIKE use the index).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-29T01:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "C collation on path (PostgreSQL)"

TABLES = ("place", "household", "person")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="households", description=DESCRIPTION)

    async def collate(name: str):
        from web.households.tables import Household

        engine = Household._meta.db
        if engine.engine_type in ("postgres", "cockroach"):
            for table in TABLES:
                await engine.run_ddl(f'ALTER TABLE {table} ALTER COLUMN path TYPE varchar(200) COLLATE "{name}"')

    async def to_c():
        await collate("C")

    async def to_default():
        await collate("default")

    manager.add_raw(to_c)
    manager.add_raw_backwards(to_default)
    return manager
