import os

from piccolo.conf.apps import AppConfig

from web.places.tables import Place

APP_CONFIG = AppConfig(
    app_name="places",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[Place],
    migration_dependencies=[],
    commands=[],
)
