import os

from piccolo.conf.apps import AppConfig

from web.sync.tables import ChoreRun, Claim, Conflict, IdempotencyRecord

APP_CONFIG = AppConfig(
    app_name="sync",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[IdempotencyRecord, Conflict, Claim, ChoreRun],
    migration_dependencies=["web.accounts.piccolo_app"],
    commands=[],
)
