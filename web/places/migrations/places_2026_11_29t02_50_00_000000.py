"""Index on place.parent (hand-written: children of a place are asked for on every
place page; Piccolo's auto alter_column does not work on SQLite)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-29T02:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index on place.parent"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="places", description=DESCRIPTION)

    async def create():
        from web.places.tables import Place

        await Place._meta.db.run_ddl("CREATE INDEX IF NOT EXISTS place_parent ON place (parent)")

    async def drop():
        from web.places.tables import Place

        await Place._meta.db.run_ddl("DROP INDEX IF EXISTS place_parent")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
